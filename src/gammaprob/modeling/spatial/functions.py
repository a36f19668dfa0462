"""Spatial model formulas as pure functions of plain arrays or pytensor tensors.

Every function takes the evaluation coordinates ``lon, lat`` and the centre
``lon_0, lat_0`` in degrees, in the model's own frame, and returns a surface
brightness in sr^-1 (normalised to unit integral over the sky, except
:func:`constant`). Angular parameters are in degrees. The formulas follow gammapy's
same-named models (the reference in the tests); where gammapy uses a flat-sky
normalisation we do too, and say so.

Elongated models use eccentricity ``e`` in [0, 1) and position angle ``phi`` of the
major axis, measured from north through east (deg).
"""

from __future__ import annotations

import numpy as np

from gammaprob.utils.xp import namespace

from .sphere import DEG_TO_RAD, SR_PER_DEG2, elliptical_offset, haversine, separation

__all__ = [
    "DISK_EDGE_SCALE",
    "constant",
    "disk",
    "disk_solid_angle",
    "gaussian",
    "generalized_gaussian",
    "point_pixel_weights",
    "shell",
    "shell2",
]

#: The smooth disk edge is ``0.5 * erfc(K (z - 1) / edge_width)``; with this K it drops
#: from 95 % to 5 % over ``edge_width`` (in units of the radius): K = 2 erfinv(0.9).
DISK_EDGE_SCALE = 2.326174307353347

# Midpoint nodes for the disk solid angle (a periodic, analytic integrand: the rule
# converges exponentially; 256 nodes on a quarter period reach 1e-13 up to e = 0.999).
_N_DISK_NODES = 256
_DISK_NODES = (np.arange(_N_DISK_NODES) + 0.5) * (0.5 * np.pi / _N_DISK_NODES)


def _is_zero(value) -> bool:
    """Whether ``value`` is a number (not a tensor) equal to 0."""
    if not isinstance(value, int | float | np.number | np.ndarray) or np.ndim(value) != 0:
        return False
    return float(np.asarray(value)) == 0.0


def _safe_sqrt(x, xp):
    """``sqrt(max(x, 0))`` with a zero (not infinite) gradient where ``x <= 0``."""
    positive = xp.asarray(x) > 0
    return xp.where(positive, xp.sqrt(xp.where(positive, x, 1.0)), 0.0)


def _safe_power(x, exponent, xp):
    """``x ** exponent`` for ``x >= 0`` with a zero gradient at ``x == 0``."""
    positive = xp.asarray(x) > 0
    return xp.where(positive, xp.power(xp.where(positive, x, 1.0), exponent), 0.0)


def gaussian(lon, lat, lon_0, lat_0, sigma, e, phi):
    """Two-dimensional (elongated) Gaussian on the sphere (sr^-1).

    ``exp(-(1 - cos(sep)) / (2 (1 - cos(sigma_eff))))`` with ``sigma_eff`` the effective
    width in the direction of the point (see :func:`~.sphere.elliptical_offset`). For
    ``e == 0`` the normalisation is exact on the sphere, ``1 / (4 pi a (1 - exp(-1/a)))``
    with ``a = 1 - cos(sigma)``; for ``e > 0`` it is the flat-sky ``1 / (2 pi sigma^2
    sqrt(1 - e^2))`` (as in gammapy; the two differ by a relative O(sigma^2)). A fixed
    ``e = 0`` (a number, not a tensor) takes the circular form directly (same values to
    rounding, no position-angle terms).

    Parameters
    ----------
    lon, lat : array-like or tensor
        Coordinates (deg).
    lon_0, lat_0 : array-like or tensor
        Centre (deg).
    sigma : array-like or tensor
        Width along the major axis (deg), > 0.
    e : array-like or tensor
        Eccentricity in [0, 1).
    phi : array-like or tensor
        Position angle of the major axis (deg).

    Returns
    -------
    array or tensor
        Surface brightness (sr^-1).
    """
    xp = namespace(lon, lat, lon_0, lat_0, sigma, e, phi)
    sigma_rad = sigma * DEG_TO_RAD
    a_0 = 2.0 * xp.square(xp.sin(0.5 * sigma_rad))
    norm_sphere = 1.0 / (-4.0 * np.pi * a_0 * xp.expm1(-1.0 / a_0))
    if _is_zero(e):  # circular (fixed e = 0): the effective width is sigma in every direction
        return norm_sphere * xp.exp(-haversine(lon, lat, lon_0, lat_0) / a_0)
    hav, _, inv_r_eff2 = elliptical_offset(lon, lat, lon_0, lat_0, sigma, e, phi)
    sigma_eff = 1.0 / xp.sqrt(inv_r_eff2)
    a_eff = 2.0 * xp.square(xp.sin(0.5 * sigma_eff))
    norm_flat = 1.0 / (2.0 * np.pi * xp.square(sigma_rad) * xp.sqrt(1.0 - xp.square(e)))
    norm = xp.where(xp.asarray(e) > 0, norm_flat, norm_sphere)
    return norm * xp.exp(-hav / a_eff)


def generalized_gaussian(lon, lat, lon_0, lat_0, r_0, eta, e, phi):
    """Generalised (elongated) Gaussian, ``exp(-z**(1/eta))`` with ``z = sep / r_eff`` (sr^-1).

    ``eta = 0.5`` is a Gaussian with ``sigma = r_0 / sqrt(2)``, ``eta = 1`` a Laplace
    profile, ``eta -> 0`` a disk. Flat-sky normalisation ``1 / (2 pi r_0 b eta
    Gamma(2 eta))`` with ``b = r_0 sqrt(1 - e^2)`` (as in gammapy).

    Parameters
    ----------
    lon, lat : array-like or tensor
        Coordinates (deg).
    lon_0, lat_0 : array-like or tensor
        Centre (deg).
    r_0 : array-like or tensor
        Scale along the major axis (deg), > 0.
    eta : array-like or tensor
        Shape parameter, > 0 (gammapy bounds: [0.01, 1]).
    e : array-like or tensor
        Eccentricity in [0, 1).
    phi : array-like or tensor
        Position angle of the major axis (deg).

    Returns
    -------
    array or tensor
        Surface brightness (sr^-1).
    """
    xp = namespace(lon, lat, lon_0, lat_0, r_0, eta, e, phi)
    _, sep, inv_r_eff2 = elliptical_offset(lon, lat, lon_0, lat_0, r_0, e, phi)
    z2 = xp.square(sep) * inv_r_eff2
    r_0_rad = r_0 * DEG_TO_RAD
    minor = r_0_rad * xp.sqrt(1.0 - xp.square(e))
    norm = 1.0 / (2.0 * np.pi * minor * r_0_rad * eta * xp.gamma(2.0 * eta))
    return norm * xp.exp(-_safe_power(z2, 0.5 / eta, xp))


def disk_solid_angle(r_0, e):
    """Solid angle (sr) of a spherical elliptical disk (an elliptical cone).

    ``Omega = 4 int_0^{pi/2} (1 - sqrt(1 - s(x))) dx`` with
    ``s = sin^2(a) sin^2(b) / (sin^2(a) sin^2(x) + sin^2(b) cos^2(x))``, ``a = r_0`` and
    ``b = r_0 sqrt(1 - e^2)``; for ``e = 0`` it is ``2 pi (1 - cos r_0)``. Evaluated with a
    fixed midpoint rule (exponentially convergent for this periodic integrand) in the
    cancellation-free form ``s / (1 + sqrt(1 - s))``.

    Parameters
    ----------
    r_0 : array-like or tensor
        Semi-major axis (deg), in (0, 90].
    e : array-like or tensor
        Eccentricity in [0, 1).

    Returns
    -------
    array or tensor
        Solid angle (sr).
    """
    xp = namespace(r_0, e)
    r_0 = xp.asarray(r_0)
    e = xp.asarray(e)
    a = r_0 * DEG_TO_RAD
    b = a * xp.sqrt(1.0 - xp.square(e))
    sa2 = xp.square(xp.sin(a))[..., None]
    sb2 = xp.square(xp.sin(b))[..., None]
    s = sa2 * sb2 / (sa2 * np.sin(_DISK_NODES) ** 2 + sb2 * np.cos(_DISK_NODES) ** 2)
    integrand = s / (1.0 + xp.sqrt(1.0 - s))
    return 4.0 * (0.5 * np.pi / _N_DISK_NODES) * xp.sum(integrand, axis=-1)


def disk(lon, lat, lon_0, lat_0, r_0, e, phi, edge_width):
    """Uniform (elongated) disk with a smooth edge (sr^-1).

    ``0.5 * erfc(K (sep / r_eff - 1) / edge_width) / Omega(r_0, e)``, where ``K`` is
    :data:`DISK_EDGE_SCALE` (the edge falls from 95 % to 5 % over ``edge_width * r_eff``)
    and ``Omega`` is :func:`disk_solid_angle` of the sharp disk (as in gammapy, so the
    integral exceeds 1 by a relative ``edge_width^2 / (2 K^2)``, 1e-5 for the default
    0.01). ``edge_width == 0`` gives a sharp disk.

    Parameters
    ----------
    lon, lat : array-like or tensor
        Coordinates (deg).
    lon_0, lat_0 : array-like or tensor
        Centre (deg).
    r_0 : array-like or tensor
        Semi-major axis (deg), > 0.
    e : array-like or tensor
        Eccentricity in [0, 1).
    phi : array-like or tensor
        Position angle of the major axis (deg).
    edge_width : array-like or tensor
        Edge width as a fraction of the radius, in [0, 1].

    Returns
    -------
    array or tensor
        Surface brightness (sr^-1).
    """
    xp = namespace(lon, lat, lon_0, lat_0, r_0, e, phi, edge_width)
    _, sep, inv_r_eff2 = elliptical_offset(lon, lat, lon_0, lat_0, r_0, e, phi)
    z = _safe_sqrt(xp.square(sep) * inv_r_eff2, xp)
    smooth = xp.asarray(edge_width) > 0
    width_safe = xp.where(smooth, edge_width, 1.0)
    soft = 0.5 * xp.erfc(DISK_EDGE_SCALE * (z - 1.0) / width_safe)
    sharp = xp.where(z < 1.0, 1.0, xp.where(z > 1.0, 0.0, 0.5))
    return xp.where(smooth, soft, sharp) / disk_solid_angle(r_0, e)


def shell(lon, lat, lon_0, lat_0, radius, width):
    """Projected, uniformly emitting spherical shell (sr^-1).

    Between the inner radius ``r_in = radius`` and ``r_out = radius + width`` the
    emissivity is constant; the projection is ``sqrt(r_out^2 - sep^2) - sqrt(r_in^2 -
    sep^2)`` (second term only inside ``r_in``), normalised on the flat sky by
    ``3 / (2 pi (r_out^3 - r_in^3))`` (as in gammapy).

    Parameters
    ----------
    lon, lat : array-like or tensor
        Coordinates (deg).
    lon_0, lat_0 : array-like or tensor
        Centre (deg).
    radius : array-like or tensor
        Inner radius (deg), >= 0.
    width : array-like or tensor
        Shell width (deg), > 0.

    Returns
    -------
    array or tensor
        Surface brightness (sr^-1).
    """
    xp = namespace(lon, lat, lon_0, lat_0, radius, width)
    sep = separation(lon, lat, lon_0, lat_0)
    r_out = radius + width
    norm = 3.0 / (2.0 * np.pi * (r_out**3 - radius**3))
    # (r - sep)(r + sep) rather than r^2 - sep^2: no cancellation near the edges
    outer = _safe_sqrt((r_out - sep) * (r_out + sep), xp)
    value = outer - _safe_sqrt((radius - sep) * (radius + sep), xp)
    return norm * value * SR_PER_DEG2


def shell2(lon, lat, lon_0, lat_0, r_0, eta):
    """Shell parametrised by its outer radius ``r_0`` and relative width ``eta`` (sr^-1).

    Identical to :func:`shell` with ``radius = (1 - eta) r_0`` and ``width = eta r_0``.

    Parameters
    ----------
    lon, lat : array-like or tensor
        Coordinates (deg).
    lon_0, lat_0 : array-like or tensor
        Centre (deg).
    r_0 : array-like or tensor
        Outer radius (deg), > 0.
    eta : array-like or tensor
        Width relative to ``r_0``, in (0, 1].

    Returns
    -------
    array or tensor
        Surface brightness (sr^-1).
    """
    return shell(lon, lat, lon_0, lat_0, (1.0 - eta) * r_0, eta * r_0)


def constant(lon, lat, value):
    """Isotropic surface brightness ``value`` (sr^-1), broadcast to the coordinates.

    Parameters
    ----------
    lon, lat : array-like or tensor
        Coordinates (deg); only their shape is used.
    value : array-like or tensor
        Surface brightness (sr^-1).

    Returns
    -------
    array or tensor
        ``value`` with the broadcast shape of ``lon`` and ``lat``.
    """
    xp = namespace(lon, lat, value)
    return value * xp.ones_like(lon + lat)


def point_pixel_weights(x, y, x_0, y_0):
    """Bilinear weights that share a point source among its four nearest pixels.

    The weights sum to one (for a source at least a pixel inside the grid) and preserve
    the centroid, so the pixel-integrated flux of a point source is exact in total and
    position. Pixel coordinates follow the WCS convention (pixel centres at integers).

    Parameters
    ----------
    x, y : array-like or tensor
        Pixel-centre coordinates of the grid.
    x_0, y_0 : array-like or tensor
        Pixel coordinates of the source.

    Returns
    -------
    array or tensor
        Fraction of the source flux in each pixel (dimensionless).
    """
    xp = namespace(x, y, x_0, y_0)
    wx = xp.maximum(1.0 - xp.abs(x - x_0), 0.0)
    wy = xp.maximum(1.0 - xp.abs(y - y_0), 0.0)
    return wx * wy
