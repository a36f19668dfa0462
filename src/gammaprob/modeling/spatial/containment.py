"""Containment radii of the analytic spatial models (numpy, for cutouts and summaries).

Each function returns the radius along the major axis (deg) of the ellipse, with the
model's shape, that contains ``fraction`` of the model's flux. The profiles are the same
as in :mod:`.functions`; the flat-sky forms are used where the model is normalised on the
flat sky, the spherical form where it is normalised on the sphere.
"""

from __future__ import annotations

import numpy as np

from .sphere import DEG_TO_RAD

__all__ = [
    "disk_containment",
    "gaussian_containment",
    "generalized_gaussian_containment",
    "shell_containment",
]


def _check_fraction(fraction: float) -> float:
    fraction = float(fraction)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"containment fraction must be in [0, 1), got {fraction}")
    return fraction


def gaussian_containment(fraction: float, sigma: float, e: float = 0.0) -> float:
    """Containment radius of :func:`~.functions.gaussian` (deg).

    For ``e == 0`` the exact spherical result ``1 - cos R = -2 a ln(1 - f (1 - e^{-1/a}))``
    with ``a = 1 - cos(sigma)``; for ``e > 0`` the flat-sky ``R = sigma sqrt(-2 ln(1 - f))``.

    Parameters
    ----------
    fraction : float
        Contained fraction in [0, 1).
    sigma : float
        Width along the major axis (deg).
    e : float
        Eccentricity.

    Returns
    -------
    float
        Radius along the major axis (deg).
    """
    fraction = _check_fraction(fraction)
    if e > 0:
        return float(sigma * np.sqrt(-2.0 * np.log1p(-fraction)))
    a = 1.0 - np.cos(sigma * DEG_TO_RAD)
    one_minus_cos = -2.0 * a * np.log1p(fraction * np.expm1(-1.0 / a))
    return float(np.arccos(np.clip(1.0 - one_minus_cos, -1.0, 1.0)) / DEG_TO_RAD)


def generalized_gaussian_containment(fraction: float, r_0: float, eta: float) -> float:
    """Containment radius of :func:`~.functions.generalized_gaussian` (deg, flat sky).

    The flux within scaled radius ``z`` is the regularised incomplete gamma function
    ``P(2 eta, z^(1/eta))``, so ``R = r_0 [P^{-1}(2 eta, f)]^eta``.

    Parameters
    ----------
    fraction : float
        Contained fraction in [0, 1).
    r_0 : float
        Scale along the major axis (deg).
    eta : float
        Shape parameter.

    Returns
    -------
    float
        Radius along the major axis (deg).
    """
    import scipy.special

    fraction = _check_fraction(fraction)
    return float(r_0 * scipy.special.gammaincinv(2.0 * eta, fraction) ** eta)


def disk_containment(fraction: float, r_0: float, e: float = 0.0) -> float:
    """Containment radius of a sharp-edged :func:`~.functions.disk` (deg).

    For ``e == 0`` the spherical cap, ``1 - cos R = f (1 - cos r_0)``; for ``e > 0`` the
    flat-sky ``R = r_0 sqrt(f)``. The smooth edge is ignored (it moves the radius by less
    than ``edge_width * r_0``).

    Parameters
    ----------
    fraction : float
        Contained fraction in [0, 1).
    r_0 : float
        Semi-major axis (deg).
    e : float
        Eccentricity.

    Returns
    -------
    float
        Radius along the major axis (deg).
    """
    fraction = _check_fraction(fraction)
    if e > 0:
        return float(r_0 * np.sqrt(fraction))
    one_minus_cos = fraction * (1.0 - np.cos(r_0 * DEG_TO_RAD))
    return float(np.arccos(1.0 - one_minus_cos) / DEG_TO_RAD)


def _shell_fraction(radius: float, r_in: float, r_out: float) -> float:
    def part(r):
        return r**3 - max(r**2 - radius**2, 0.0) ** 1.5

    return (part(r_out) - part(r_in)) / (r_out**3 - r_in**3)


def shell_containment(fraction: float, r_in: float, r_out: float) -> float:
    """Containment radius of :func:`~.functions.shell` (deg, flat sky).

    The flux within ``R`` of a projected uniform shell is
    ``[g(r_out) - g(r_in)] / (r_out^3 - r_in^3)`` with ``g(r) = r^3 - (r^2 - R^2)_+^{3/2}``;
    it is inverted numerically.

    Parameters
    ----------
    fraction : float
        Contained fraction in [0, 1).
    r_in, r_out : float
        Inner and outer radius (deg).

    Returns
    -------
    float
        Radius (deg).
    """
    fraction = _check_fraction(fraction)
    if fraction == 0.0:
        return 0.0
    import scipy.optimize

    return float(
        scipy.optimize.brentq(
            lambda r: _shell_fraction(r, r_in, r_out) - fraction, 0.0, r_out, xtol=1e-14
        )
    )
