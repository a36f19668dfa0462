r"""Hand-written brightness kernels of circular profiles for the following box.

The following box (:mod:`~gammaprob.forward.following_box`) evaluates a model's surface
brightness, and the vector-Jacobian product of it, on the sub-pixel nodes of its box at every
call; by default both are compiled by PyTensor from the model's own formula. For a circular
generalised Gaussian (``e`` fixed at 0) that generic form costs ~9 transcendental functions per
node for the value and about twice as much for the product, and with the sub-pixel factor that
its narrow profile asks for (``k = 3`` at 0.02 deg pixels) it is the largest part of one
log-probability and gradient. Here the same numbers come from one loop each:

* the trigonometry of the nodes is computed once per box: with :math:`s = \sin(x/2)` and
  :math:`c = \cos(x/2)` of each node's latitude and longitude (and :math:`\cos` of its
  latitude), the half-angle differences to the centre are products,
  :math:`\sin((\phi - \phi_0)/2) = s_\phi c_{\phi_0} - c_\phi s_{\phi_0}`, and so is the
  haversine :math:`h = \sin^2(\Delta\phi/2) + \cos\phi\cos\phi_0\sin^2(\Delta\lambda/2)`;
* the squared separation :math:`\sigma^2 = 4\arcsin^2\sqrt{h}` is a power series in ``h``
  below :data:`SERIES_HAVERSINE` (no square root, no ``arctan2``), the ``arctan2`` form above;
* the value ``N exp(-z^(1/eta))``, ``z^2 = sigma^2 / r_0^2``, and its derivatives with respect
  to ``lon_0, lat_0, r_0, eta`` share the node's ``log z^2`` and exponentials (analytic
  gradient: the vector-Jacobian product is one more pass over the nodes, not a graph).

They agree with the generic form to ~1e-12 relative (rounding of the differences of angles;
``tests/forward/test_following_box.py`` checks 1e-10 on values and gradients).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["SERIES_HAVERSINE", "RadialProfile", "digamma", "radial_profile"]

_VERSION = "1"
_D2R = math.pi / 180.0
_FASTMATH = {"contract", "reassoc", "arcp", "nsz"}
#: Below this haversine (separation 3.6 deg) the squared separation is the power series.
SERIES_HAVERSINE = 1e-3
#: ``4 arcsin(sqrt(h))^2 = sum_n c_n h^n`` with ``c_n = 2 4^n / (n^2 C(2n, n))``; 6 terms
#: reach 5e-20 relative at :data:`SERIES_HAVERSINE`.
_C1, _C2, _C3, _C4, _C5, _C6 = (2.0 * 4.0**n / (n * n * math.comb(2 * n, n)) for n in range(1, 7))
#: Parameter order of the generalised Gaussian's kernels.
_GEN_GAUSS = ("lon_0", "lat_0", "r_0", "eta")


@numba.njit(cache=True)
def digamma(x: float) -> float:
    """Digamma function for ``x > 0`` (recurrence to ``x >= 10``, then the asymptotic series)."""
    shift = 0.0
    while x < 10.0:
        shift -= 1.0 / x
        x += 1.0
    y = 1.0 / (x * x)
    tail = y * (
        1.0 / 12.0
        - y
        * (
            1.0 / 120.0
            - y * (1.0 / 252.0 - y * (1.0 / 240.0 - y * (1.0 / 132.0 - y * (691.0 / 32760.0))))
        )
    )
    return shift + math.log(x) - 0.5 / x - tail


@numba.njit(fastmath=_FASTMATH, inline="always")
def _separation2(hav):
    """Squared separation (rad^2) and its derivative with respect to the haversine."""
    if hav < SERIES_HAVERSINE:
        h = hav
        value = h * (_C1 + h * (_C2 + h * (_C3 + h * (_C4 + h * (_C5 + h * _C6)))))
        slope = _C1 + h * (
            2.0 * _C2 + h * (3.0 * _C3 + h * (4.0 * _C4 + h * (5.0 * _C5 + h * 6.0 * _C6)))
        )
        return value, slope
    root, rest = math.sqrt(hav), math.sqrt(max(1.0 - hav, 0.0))
    sep = 2.0 * math.atan2(root, rest)
    return sep * sep, 2.0 * sep / (root * rest)


@numba.njit(fastmath=_FASTMATH, inline="always")
def _centre_terms(lon_0, lat_0):
    """Half-angle sines and cosines of the centre and ``cos, sin`` of its latitude."""
    half_lat, half_lon = 0.5 * lat_0 * _D2R, 0.5 * lon_0 * _D2R
    return (
        math.sin(half_lat),
        math.cos(half_lat),
        math.sin(half_lon),
        math.cos(half_lon),
        math.cos(lat_0 * _D2R),
        math.sin(lat_0 * _D2R),
    )


@numba.njit(fastmath=_FASTMATH)
def _gen_gauss_constants(r_0, eta):
    """``(1 / r_0^2 (rad^-2), 1 / (2 eta), log of the normalisation)``."""
    r = r_0 * _D2R
    return 1.0 / (r * r), 0.5 / eta, -math.log(2.0 * math.pi * r * r * eta * math.gamma(2.0 * eta))


@numba.njit(fastmath=_FASTMATH, inline="always")
def _gen_gauss_node(hav, inv_r2, power, log_norm):
    """Value, ``u = z^(1/eta)``, ``log z^2`` and ``d(sep^2)/d hav / sep^2`` at one node."""
    if hav <= 0.0:
        return math.exp(log_norm), 0.0, 0.0, 0.0
    sep2, slope = _separation2(hav)
    log_z2 = math.log(sep2 * inv_r2)
    u = math.exp(power * log_z2)
    return math.exp(log_norm - u), u, log_z2, slope / sep2


def _gen_gauss_kernels(separable: bool):
    """``(value, vjp)`` of the circular generalised Gaussian on one node layout.

    Tables: on lines, ``lon_table (2, n_lon)`` (sine and cosine of half the longitude) and
    ``lat_table (3, n_lat)`` (those of half the latitude and the cosine of the latitude), the
    value ``(n_lat, n_lon)``; on nodes, ``(2, n)`` and ``(3, n)`` and the value ``(n,)``.
    ``params`` is ``(lon_0, lat_0, r_0, eta)`` (deg, deg, deg, -).
    """

    @numba.njit(fastmath=_FASTMATH, inline="always")
    def haversine(lon_table, lat_table, i, j, centre):
        sa0, ca0, so0, co0, c0, s0 = centre
        sa, ca, cos_lat = lat_table[0, i], lat_table[1, i], lat_table[2, i]
        so, co = lon_table[0, j], lon_table[1, j]
        sh = sa * ca0 - ca * sa0  # sin((lat - lat_0) / 2)
        sl = so * co0 - co * so0  # sin((lon - lon_0) / 2)
        cos_cos = cos_lat * c0
        hav = sh * sh + cos_cos * sl * sl
        # d hav / d lat_0 and d hav / d lon_0 (rad^-1)
        ch, cl = ca * ca0 + sa * sa0, co * co0 + so * so0
        return hav, -sh * ch - cos_lat * s0 * sl * sl, -cos_cos * sl * cl

    if separable:

        @numba.njit(fastmath=_FASTMATH)
        def value(lon_table, lat_table, params):
            centre = _centre_terms(params[0], params[1])
            inv_r2, power, log_norm = _gen_gauss_constants(params[2], params[3])
            out = np.empty((lat_table.shape[1], lon_table.shape[1]))
            for i in range(out.shape[0]):
                for j in range(out.shape[1]):
                    hav = haversine(lon_table, lat_table, i, j, centre)[0]
                    out[i, j] = _gen_gauss_node(hav, inv_r2, power, log_norm)[0]
            return out

        @numba.njit(fastmath=_FASTMATH)
        def sums(lon_table, lat_table, params, adjoint):
            centre = _centre_terms(params[0], params[1])
            inv_r2, power, log_norm = _gen_gauss_constants(params[2], params[3])
            total = np.zeros(5)  # sum a b, a b u, a b u log z^2, a d/dlon_0, a d/dlat_0
            for i in range(adjoint.shape[0]):
                for j in range(adjoint.shape[1]):
                    hav, d_lat, d_lon = haversine(lon_table, lat_table, i, j, centre)
                    _accumulate(total, adjoint[i, j], hav, d_lat, d_lon, inv_r2, power, log_norm)
            return total

    else:

        @numba.njit(fastmath=_FASTMATH)
        def value(lon_table, lat_table, params):
            centre = _centre_terms(params[0], params[1])
            inv_r2, power, log_norm = _gen_gauss_constants(params[2], params[3])
            out = np.empty(lon_table.shape[1])
            for n in range(out.size):
                hav = haversine(lon_table, lat_table, n, n, centre)[0]
                out[n] = _gen_gauss_node(hav, inv_r2, power, log_norm)[0]
            return out

        @numba.njit(fastmath=_FASTMATH)
        def sums(lon_table, lat_table, params, adjoint):
            centre = _centre_terms(params[0], params[1])
            inv_r2, power, log_norm = _gen_gauss_constants(params[2], params[3])
            total = np.zeros(5)
            for n in range(adjoint.size):
                hav, d_lat, d_lon = haversine(lon_table, lat_table, n, n, centre)
                _accumulate(total, adjoint[n], hav, d_lat, d_lon, inv_r2, power, log_norm)
            return total

    @numba.njit(fastmath=_FASTMATH)
    def vjp(lon_table, lat_table, params, adjoint):
        total = sums(lon_table, lat_table, params, adjoint)
        r_0, eta = params[2], params[3]
        power = 0.5 / eta
        grad = np.empty(4)
        grad[0] = total[3] * _D2R
        grad[1] = total[4] * _D2R
        # log N = -log(2 pi) - 2 log r_0 - log eta - log Gamma(2 eta); z^2 ~ r_0^-2
        grad[2] = 2.0 * (power * total[1] - total[0]) / r_0
        grad[3] = -total[0] * (1.0 / eta + 2.0 * digamma(2.0 * eta))
        grad[3] += total[2] * power / eta
        return grad

    return value, vjp


@numba.njit(fastmath=_FASTMATH, inline="always")
def _accumulate(total, a, hav, d_lat, d_lon, inv_r2, power, log_norm):
    """Add one node's terms of the vector-Jacobian product to ``total``."""
    b, u, log_z2, slope = _gen_gauss_node(hav, inv_r2, power, log_norm)
    ab = a * b
    total[0] += ab
    if u > 0.0:
        abu = ab * u
        total[1] += abu
        total[2] += abu * log_z2
        d_hav = -power * abu * slope  # d b / d hav = -b p (u / z^2) d z^2 / d hav
        total[3] += d_hav * d_lon
        total[4] += d_hav * d_lat


class RadialProfile:
    """Brightness kernels of one model, used by the following box instead of its graph.

    Attributes
    ----------
    name : str
        Profile name (part of the box identity).
    value, vjp : numba functions
        ``value(lon_table, lat_table, theta)`` and ``vjp(lon_table, lat_table, theta,
        adjoint)`` on the free parameters ``theta`` (the box's order), the same layouts as
        the generic compiled graphs take with the node tables in place of the coordinates.
    lon_table, lat_table : numpy.ndarray
        The node tables of the static box (see :func:`radial_profile`).
    """

    def __init__(self, name, value, vjp, lon_table, lat_table):
        self.name = f"{name}-v{_VERSION}"
        self.value = value
        self.vjp = vjp
        self.lon_table = np.ascontiguousarray(lon_table)
        self.lat_table = np.ascontiguousarray(lat_table)


def _node_tables(lon_nodes: np.ndarray, lat_nodes: np.ndarray):
    """Sine and cosine of the half longitudes; those of the half latitudes and cos(latitude)."""
    half_lon, half_lat = 0.5 * np.deg2rad(lon_nodes), 0.5 * np.deg2rad(lat_nodes)
    lon_table = np.stack([np.sin(half_lon), np.cos(half_lon)])
    lat_table = np.stack([np.sin(half_lat), np.cos(half_lat), np.cos(np.deg2rad(lat_nodes))])
    return lon_table, lat_table


def radial_profile(spatial, free, fixed, lon_nodes, lat_nodes):
    """Return the :class:`RadialProfile` of ``spatial``, or None where the graph is used.

    Only a circular generalised Gaussian (``e`` fixed at 0, ``phi`` fixed) has one.

    Parameters
    ----------
    spatial : SpatialModel
        The source's spatial component.
    free : list of str
        Names of the free parameters, in the order of ``theta``.
    fixed : dict
        Values of the fixed parameters.
    lon_nodes, lat_nodes : numpy.ndarray
        The static box's node coordinates (deg) in the following box's layout: lines
        ``(W k,), (H k,)`` or nodes ``(H W, k**2)``.
    """
    from gammaprob.modeling.spatial import GeneralizedGaussian

    if type(spatial) is not GeneralizedGaussian:
        return None
    if "e" in free or "phi" in free or fixed.get("e") != 0.0:
        return None
    separable = np.ndim(lon_nodes) == 1
    lon_table, lat_table = _node_tables(np.asarray(lon_nodes), np.asarray(lat_nodes))
    if not separable:
        lon_table, lat_table = lon_table.reshape(2, -1), lat_table.reshape(3, -1)
    value_full, vjp_full = _gen_gauss_kernels(separable)
    source = np.array([free.index(n) if n in free else -1 for n in _GEN_GAUSS], dtype=np.int64)
    constant = np.array([fixed.get(n, 0.0) for n in _GEN_GAUSS], dtype=np.float64)
    picked = np.array([_GEN_GAUSS.index(n) for n in free], dtype=np.int64)

    @numba.njit
    def params_of(theta):
        params = constant.copy()
        for i in range(source.size):
            if source[i] >= 0:
                params[i] = theta[source[i]]
        return params

    @numba.njit
    def value(lon_table, lat_table, theta):
        return value_full(lon_table, lat_table, params_of(theta))

    @numba.njit
    def vjp(lon_table, lat_table, theta, adjoint):
        return vjp_full(lon_table, lat_table, params_of(theta), adjoint)[picked]

    return RadialProfile("generalized-gaussian", value, vjp, lon_table, lat_table)
