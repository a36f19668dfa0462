"""Exact solid angles of spherical polygons given by corner coordinates."""

from __future__ import annotations

import numpy as np

__all__ = ["lonlat_to_unit_vector", "quad_solid_angle", "triangle_solid_angle"]


def lonlat_to_unit_vector(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Return unit vectors of sky positions.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        Longitude and latitude in deg (broadcastable).

    Returns
    -------
    numpy.ndarray
        Cartesian unit vectors, shape ``broadcast(lon, lat).shape + (3,)``.
    """
    lon, lat = np.deg2rad(lon), np.deg2rad(lat)
    cos_lat = np.cos(lat)
    return np.stack(
        np.broadcast_arrays(cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)), axis=-1
    )


def triangle_solid_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Solid angle of the spherical triangle with great-circle sides through unit vectors.

    Uses the Van Oosterom & Strackee (1983) formula
    ``tan(Ω/2) = |a·(b×c)| / (1 + a·b + b·c + c·a)``, exact for any triangle smaller than a
    hemisphere.

    Parameters
    ----------
    a, b, c : numpy.ndarray
        Unit vectors, shape ``(..., 3)``.

    Returns
    -------
    numpy.ndarray
        Solid angle in sr, shape ``(...)``.
    """
    triple = np.abs(np.einsum("...i,...i->...", a, np.cross(b, c)))
    denom = 1.0 + np.einsum("...i,...i->...", a, b) + np.einsum("...i,...i->...", b, c)
    denom = denom + np.einsum("...i,...i->...", c, a)
    return 2.0 * np.arctan2(triple, denom)


def quad_solid_angle(lon_edges: np.ndarray, lat_edges: np.ndarray) -> np.ndarray:
    """Solid angles of the cells of a grid of corner positions.

    Cell ``(j, i)`` has corners ``[j, i]``, ``[j, i+1]``, ``[j+1, i+1]``, ``[j+1, i]``; it is
    split along a diagonal into two spherical triangles.

    Parameters
    ----------
    lon_edges, lat_edges : numpy.ndarray
        Corner longitudes and latitudes in deg, shape ``(ny + 1, nx + 1)``.

    Returns
    -------
    numpy.ndarray
        Solid angle of each cell in sr, shape ``(ny, nx)``; NaN where a corner is NaN.
    """
    vec = lonlat_to_unit_vector(lon_edges, lat_edges)
    ll, lr = vec[:-1, :-1], vec[:-1, 1:]
    ul, ur = vec[1:, :-1], vec[1:, 1:]
    return triangle_solid_angle(ll, lr, ur) + triangle_solid_angle(ll, ur, ul)
