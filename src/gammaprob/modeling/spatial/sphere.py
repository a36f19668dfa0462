"""Spherical geometry written once for numpy arrays and pytensor tensors.

All angles are in degrees at the interface and converted to radians inside. The
functions avoid square roots and ``arctan2`` at zero separation (where their gradients
are infinite or undefined) with the "safe ``where``" pattern, so gradients with respect
to the source position are finite everywhere, including at the source centre.
"""

from __future__ import annotations

import numpy as np

from gammaprob.utils.xp import namespace

__all__ = [
    "DEG_TO_RAD",
    "SR_PER_DEG2",
    "SUPPORTED_FRAMES",
    "check_frame",
    "elliptical_offset",
    "haversine",
    "separation",
]

DEG_TO_RAD = np.pi / 180.0
#: Square degrees per steradian: a density in deg^-2 times this is a density in sr^-1.
SR_PER_DEG2 = (180.0 / np.pi) ** 2

#: Coordinate frames a spatial model can be defined in.
SUPPORTED_FRAMES = ("icrs", "galactic")


def check_frame(frame: str) -> str:
    """Return ``frame`` lower-cased, or raise for an unsupported frame.

    Parameters
    ----------
    frame : str
        Frame name, ``"icrs"`` or ``"galactic"``.

    Returns
    -------
    str
        The normalised frame name.
    """
    if not isinstance(frame, str) or frame.lower() not in SUPPORTED_FRAMES:
        raise ValueError(f"frame must be one of {SUPPORTED_FRAMES}, got {frame!r}")
    return frame.lower()


def _components(lon, lat, lon_0, lat_0, xp):
    """Local components of the direction (lon, lat) seen from the centre (lon_0, lat_0).

    Returns ``(north, east, hav)`` where ``north`` and ``east`` are the components of the
    unit vector towards (lon, lat) in the tangent plane at the centre (their quadratic sum
    is ``sin(sep)**2``) and ``hav = sin(sep / 2)**2`` is the haversine of the separation.
    """
    lon, lat = lon * DEG_TO_RAD, lat * DEG_TO_RAD
    lon_0, lat_0 = lon_0 * DEG_TO_RAD, lat_0 * DEG_TO_RAD
    dlon = lon - lon_0
    cos_lat, sin_lat = xp.cos(lat), xp.sin(lat)
    cos_lat_0, sin_lat_0 = xp.cos(lat_0), xp.sin(lat_0)
    east = cos_lat * xp.sin(dlon)
    north = cos_lat_0 * sin_lat - sin_lat_0 * cos_lat * xp.cos(dlon)
    hav = xp.square(xp.sin(0.5 * (lat - lat_0))) + cos_lat * cos_lat_0 * xp.square(
        xp.sin(0.5 * dlon)
    )
    return north, east, hav


def haversine(lon, lat, lon_0, lat_0):
    """Haversine of the angular separation, ``sin(sep / 2)**2 = (1 - cos(sep)) / 2``.

    Accurate at small separations and smooth everywhere (the preferred input for
    Gaussian-like profiles).

    Parameters
    ----------
    lon, lat : array-like or tensor
        Evaluation coordinates (deg).
    lon_0, lat_0 : array-like or tensor
        Centre coordinates (deg).

    Returns
    -------
    array or tensor
        Dimensionless haversine.
    """
    xp = namespace(lon, lat, lon_0, lat_0)
    return _components(lon, lat, lon_0, lat_0, xp)[2]


def _sep_from_hav(hav, xp):
    """Separation in radians from the haversine, with a finite gradient at zero."""
    positive = xp.asarray(hav) > 0
    hav_safe = xp.where(positive, hav, 1.0)
    sep = 2.0 * xp.arctan2(xp.sqrt(hav_safe), xp.sqrt(xp.maximum(1.0 - hav_safe, 0.0)))
    return xp.where(positive, sep, 0.0)


def separation(lon, lat, lon_0, lat_0):
    """Great-circle angular separation (deg).

    Uses the haversine with an ``arctan2`` inversion: accurate at all separations and
    with a finite (zero) gradient at zero separation.

    Parameters
    ----------
    lon, lat : array-like or tensor
        Evaluation coordinates (deg).
    lon_0, lat_0 : array-like or tensor
        Centre coordinates (deg).

    Returns
    -------
    array or tensor
        Separation in degrees, in [0, 180].
    """
    xp = namespace(lon, lat, lon_0, lat_0)
    hav = _components(lon, lat, lon_0, lat_0, xp)[2]
    return _sep_from_hav(hav, xp) / DEG_TO_RAD


def elliptical_offset(lon, lat, lon_0, lat_0, major, e, phi):
    """Separation and squared elliptical radius of (lon, lat) for an elongated model.

    The ellipse has semi-major axis ``major`` at position angle ``phi`` (from north
    through east) and eccentricity ``e``, so semi-minor axis ``major * sqrt(1 - e**2)``.
    In the direction at position angle ``phi_p`` of the evaluation point, its radius is
    ``r_eff = a b / sqrt((a sin d)^2 + (b cos d)^2)`` with ``d = phi - phi_p`` (the
    convention of gammapy's elongated models).

    Parameters
    ----------
    lon, lat : array-like or tensor
        Evaluation coordinates (deg).
    lon_0, lat_0 : array-like or tensor
        Centre coordinates (deg).
    major : array-like or tensor
        Semi-major axis (deg), > 0.
    e : array-like or tensor
        Eccentricity in [0, 1).
    phi : array-like or tensor
        Position angle of the major axis (deg), east of north.

    Returns
    -------
    hav : array or tensor
        Haversine of the separation, ``(1 - cos(sep)) / 2``.
    sep : array or tensor
        Separation (rad).
    inv_r_eff2 : array or tensor
        ``1 / r_eff**2`` (rad^-2); at zero separation it is ``1 / major**2`` (any finite
        value gives the same model value there).
    """
    xp = namespace(lon, lat, lon_0, lat_0, major, e, phi)
    north, east, hav = _components(lon, lat, lon_0, lat_0, xp)
    phi = phi * DEG_TO_RAD
    along = north * xp.cos(phi) + east * xp.sin(phi)
    across = east * xp.cos(phi) - north * xp.sin(phi)
    a2 = xp.square(major * DEG_TO_RAD)
    b2 = a2 * (1.0 - xp.square(e))
    sin2 = xp.square(along) + xp.square(across)
    positive = xp.asarray(sin2) > 0
    sin2_safe = xp.where(positive, sin2, 1.0)
    weighted = xp.square(along) / a2 + xp.square(across) / b2
    inv_r_eff2 = xp.where(positive, weighted / sin2_safe, 1.0 / a2)
    return hav, _sep_from_hav(hav, xp), inv_r_eff2
