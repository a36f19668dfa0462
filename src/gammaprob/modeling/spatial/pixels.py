"""Integration of spatial models over the pixels of a WCS grid.

:class:`PixelQuadrature` holds, for an image grid, the sub-pixel centres (in the model's
frame) and the exact solid angle of every sub-pixel. Integrating a model over each pixel is
then ``quadrature.integrate(model_values)``: a weighted sum that works for numpy arrays
and pytensor tensors alike, so the forward model can integrate a model with free
parameters over pixels inside the graph, with the nodes built once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .sphere import DEG_TO_RAD, check_frame

__all__ = ["PixelQuadrature", "wcs_and_shape"]


def wcs_and_shape(geom: Any) -> tuple[Any, tuple[int, int]]:
    """Return ``(astropy WCS, (ny, nx))`` for a map geometry or a ``(wcs, shape)`` pair.

    Parameters
    ----------
    geom : WcsGeom or tuple
        An object with ``wcs`` and ``data_shape`` attributes (the image shape is the last
        two axes), or a ``(astropy.wcs.WCS, (ny, nx))`` pair.

    Returns
    -------
    tuple
        The celestial WCS and the image shape.
    """
    if isinstance(geom, tuple) and len(geom) == 2:
        wcs, shape = geom
    elif hasattr(geom, "wcs") and hasattr(geom, "data_shape"):
        wcs, shape = geom.wcs, geom.data_shape
    else:
        raise TypeError(
            f"expected a WCS geometry (with .wcs and .data_shape) or a (wcs, shape) pair, "
            f"got {type(geom).__name__}"
        )
    shape = tuple(int(n) for n in shape)
    if len(shape) < 2:
        raise ValueError(f"a WCS image needs a 2D shape (ny, nx), got {shape}")
    return wcs.celestial, shape[-2:]


def _unit_vectors(lon, lat):
    lon, lat = lon * DEG_TO_RAD, lat * DEG_TO_RAD
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)], axis=-1)


def _triangle_area(a, b, c):
    """Solid angle of the geodesic triangle with unit-vector vertices (Van Oosterom & Strackee)."""
    numerator = np.abs(np.einsum("...i,...i", a, np.cross(b, c)))
    denominator = (
        1.0
        + np.einsum("...i,...i", a, b)
        + np.einsum("...i,...i", b, c)
        + np.einsum("...i,...i", c, a)
    )
    return 2.0 * np.arctan2(numerator, denominator)


def _world(wcs, x, y, frame):
    """Pixel coordinates to (lon, lat) in deg in ``frame`` (NaN off the projection)."""
    from astropy.wcs.utils import pixel_to_skycoord

    coord = pixel_to_skycoord(x, y, wcs, origin=0).transform_to(frame)
    sph = coord.spherical
    return sph.lon.to_value("deg"), sph.lat.to_value("deg")


@dataclass(frozen=True)
class PixelQuadrature:
    """Sub-pixel nodes and solid-angle weights for integrating over image pixels.

    Attributes
    ----------
    lon, lat : numpy.ndarray
        Sub-pixel centres (deg, in ``frame``), shape ``(ny * factor, nx * factor)``.
    weights : numpy.ndarray
        Solid angle of each sub-pixel (sr), same shape; 0 off the projection.
    shape : tuple of int
        Image shape ``(ny, nx)``.
    factor : int
        Oversampling factor per axis.
    frame : str
        Frame of ``lon, lat``.
    """

    lon: np.ndarray
    lat: np.ndarray
    weights: np.ndarray
    shape: tuple[int, int]
    factor: int
    frame: str

    @classmethod
    def from_geom(
        cls,
        geom: Any,
        frame: str = "icrs",
        factor: int = 1,
        box: tuple[slice, slice] | None = None,
    ) -> PixelQuadrature:
        """Build the quadrature for a WCS image (or a rectangular box of it).

        Parameters
        ----------
        geom : WcsGeom or tuple
            Geometry (see :func:`wcs_and_shape`).
        frame : {"icrs", "galactic"}
            Frame in which the model is evaluated.
        factor : int
            Sub-pixels per pixel and axis (1: pixel centres).
        box : tuple of slice, optional
            ``(slice_y, slice_x)`` of the pixels to cover (default: the whole image).

        Returns
        -------
        PixelQuadrature
            The nodes and weights; ``shape`` is the box shape.
        """
        frame = check_frame(frame)
        if int(factor) != factor or factor < 1:
            raise ValueError(f"oversampling factor must be a positive integer, got {factor!r}")
        factor = int(factor)
        wcs, (ny, nx) = wcs_and_shape(geom)
        sy, sx = box if box is not None else (slice(0, ny), slice(0, nx))
        y0, y1, _ = sy.indices(ny)
        x0, x1, _ = sx.indices(nx)
        if y1 <= y0 or x1 <= x0:
            raise ValueError(f"empty pixel box {box} for an image of shape {(ny, nx)}")
        # sub-pixel edges and centres, in pixel coordinates (pixel centres at integers)
        xe = x0 - 0.5 + np.arange((x1 - x0) * factor + 1) / factor
        ye = y0 - 0.5 + np.arange((y1 - y0) * factor + 1) / factor
        xc, yc = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
        lon, lat = _world(wcs, *np.meshgrid(xc, yc), frame)
        corner_lon, corner_lat = _world(wcs, *np.meshgrid(xe, ye), frame)
        vec = _unit_vectors(corner_lon, corner_lat)
        v00, v01, v10, v11 = vec[:-1, :-1], vec[:-1, 1:], vec[1:, :-1], vec[1:, 1:]
        weights = _triangle_area(v00, v01, v11) + _triangle_area(v00, v11, v10)
        off = ~(np.isfinite(weights) & np.isfinite(lon) & np.isfinite(lat))
        weights[off], lon[off], lat[off] = 0.0, 0.0, 0.0
        return cls(lon, lat, weights, (y1 - y0, x1 - x0), factor, frame)

    def integrate(self, values: Any) -> Any:
        """Integrate surface brightness over each pixel.

        Parameters
        ----------
        values : array-like or tensor
            Model values at ``(lon, lat)`` (sr^-1), shape ``(..., ny * factor, nx *
            factor)``.

        Returns
        -------
        array or tensor
            Integral over each pixel (dimensionless for sr^-1 input), shape
            ``(..., ny, nx)``.
        """
        ny, nx = self.shape
        f = self.factor
        weighted = values * self.weights
        if f == 1:
            return weighted
        lead = [weighted.shape[i] for i in range(weighted.ndim - 2)]
        return weighted.reshape((*lead, ny, f, nx, f)).sum(axis=(-3, -1))

    def __repr__(self) -> str:
        return (
            f"PixelQuadrature(shape={self.shape}, factor={self.factor}, frame={self.frame!r}, "
            f"solid_angle={self.weights.sum():.4g} sr)"
        )
