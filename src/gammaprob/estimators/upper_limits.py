"""Credible (Bayesian) upper limits, always reported with their level and prior.

Two entry points, the foundation of the posterior estimators:

- :func:`credible_upper_limit` takes posterior draws of a quantity (a flux norm, an
  amplitude, ...) and returns their ``ul_prob`` quantile;
- :func:`poisson_signal_upper_limit` is the classic one-bin case worked analytically: ``n``
  counts observed over a known background ``b``, signal ``s >= 0``, a flat or Jeffreys prior.

A credible upper limit answers "given the data and this prior, the signal is below UL with
probability ``ul_prob``". It depends on the prior, so the prior travels with the number in
``meta``. It is not a frequentist limit: e.g. for ``n = 0`` the flat-prior 95 % limit is
``-ln 0.05 = 2.996`` counts whatever the background, while a profile-likelihood limit shrinks
as the background grows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate, optimize, special

__all__ = [
    "POISSON_PRIORS",
    "CredibleUpperLimit",
    "credible_upper_limit",
    "poisson_signal_posterior_cdf",
    "poisson_signal_upper_limit",
]

#: Priors on the signal of :func:`poisson_signal_upper_limit`: name -> (exponent ``a`` of
#: ``(s + b)^a``, description).
POISSON_PRIORS = {
    "flat": (0.0, "flat prior on the signal s >= 0: p(s) = const"),
    "jeffreys": (
        -0.5,
        "Jeffreys prior for a Poisson mean with known background: p(s) ~ (s + b)^-1/2, s >= 0",
    ),
}

_UNDERFLOW = 1e-250


def _check_prob(ul_prob: float) -> float:
    value = float(ul_prob)
    if not 0 < value < 1:
        raise ValueError(f"ul_prob must be in (0, 1), got {ul_prob!r}")
    return value


@dataclass(frozen=True)
class CredibleUpperLimit:
    """An upper limit with its credible level and the prior it depends on.

    Parameters
    ----------
    value : numpy.ndarray or `~astropy.units.Quantity`
        The limit(s).
    ul_prob : float
        Posterior probability below the limit.
    meta : dict
        ``prior`` (description), ``method`` and method details (``n_draws``...).
    """

    value: Any
    ul_prob: float
    meta: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        value = np.asarray(self.value)
        shown = f"{float(value):.6g}" if value.ndim == 0 else f"array{value.shape}"
        unit = getattr(self.value, "unit", "")
        return (
            f"CredibleUpperLimit({shown} {unit}".rstrip()
            + f", ul_prob={self.ul_prob:g}, prior={self.meta.get('prior')!r}, "
            f"method={self.meta.get('method')!r})"
        )


def _prior_meta(prior: Any) -> Any:
    if prior is None:
        raise ValueError(
            "prior must be given (a description or an object with to_dict): a credible limit "
            "depends on it and is reported with it"
        )
    if hasattr(prior, "to_dict"):
        return prior.to_dict()
    if isinstance(prior, (str, dict)):
        return prior
    return repr(prior)


def credible_upper_limit(
    draws: Any,
    prior: Any,
    ul_prob: float = 0.95,
    sample_axes: int | tuple[int, ...] | None = 0,
    min_tail_draws: int = 20,
) -> CredibleUpperLimit:
    """Upper limit as the ``ul_prob`` quantile of posterior draws.

    Parameters
    ----------
    draws : array_like, `~astropy.units.Quantity` or `xarray.DataArray`
        Posterior draws. For a DataArray the ``chain`` and ``draw`` dimensions are the
        sample dimensions (``sample_axes`` is ignored); otherwise ``sample_axes`` gives them.
    prior : str, dict or object with ``to_dict``
        The prior of the quantity (recorded in ``meta["prior"]``; required).
    ul_prob : float
        Credible level, in (0, 1) (default 0.95). Always passed explicitly downstream.
    sample_axes : int, tuple of int or None
        Axes holding the draws (None: all).
    min_tail_draws : int
        Minimum number of draws expected above the quantile, ``n_draws (1 - ul_prob)``;
        fewer raise a ValueError because the quantile would be dominated by noise.

    Returns
    -------
    CredibleUpperLimit
        ``value`` has the non-sample shape (and the unit of ``draws``); ``meta`` holds
        ``prior``, ``method = "posterior quantile"``, ``quantile_method = "linear"`` and
        ``n_draws``.
    """
    ul_prob = _check_prob(ul_prob)
    prior_meta = _prior_meta(prior)
    unit = None
    if hasattr(draws, "dims") and hasattr(draws, "values"):
        dims = [d for d in ("chain", "draw") if d in draws.dims]
        if not dims:
            raise ValueError(f"DataArray draws need 'chain' and/or 'draw' dims, got {draws.dims}")
        data = np.asarray(draws.values, dtype=np.float64)
        sample_axes = tuple(draws.dims.index(d) for d in dims)
    else:
        if isinstance(draws, u.Quantity):
            unit = draws.unit
            draws = draws.value
        data = np.asarray(draws, dtype=np.float64)
    if data.size == 0:
        raise ValueError("draws is empty")
    if np.any(~np.isfinite(data)):
        raise ValueError("draws contain NaN or inf")
    axes = tuple(range(data.ndim)) if sample_axes is None else np.atleast_1d(sample_axes)
    axes = tuple(int(a) % data.ndim for a in axes)
    n_draws = int(np.prod([data.shape[a] for a in axes]))
    if n_draws * (1 - ul_prob) < min_tail_draws:
        raise ValueError(
            f"{n_draws} draws leave {n_draws * (1 - ul_prob):.1f} above the {ul_prob:g} quantile; "
            f"need at least {min_tail_draws} (draw more or lower min_tail_draws)"
        )
    value = np.quantile(data, ul_prob, axis=axes, method="linear")
    if unit is not None:
        value = value * unit
    meta = {
        "prior": prior_meta,
        "method": "posterior quantile",
        "quantile_method": "linear",
        "n_draws": n_draws,
    }
    return CredibleUpperLimit(value, ul_prob, meta)


# ---- one Poisson bin with known background -------------------------------------------------


def _poisson_inputs(n_on, background, prior):
    if prior not in POISSON_PRIORS:
        raise ValueError(f"prior must be one of {sorted(POISSON_PRIORS)}, got {prior!r}")
    n_on = np.asarray(n_on, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    if np.any(~np.isfinite(n_on)) or np.any(n_on < 0) or np.any(n_on != np.round(n_on)):
        raise ValueError(f"n_on must be non-negative integers, got {n_on!r}")
    if np.any(~np.isfinite(background)) or np.any(background < 0):
        raise ValueError(f"background must be finite and non-negative, got {background!r}")
    n_on, background = np.broadcast_arrays(n_on, background)
    shape = n_on + 1 + POISSON_PRIORS[prior][0]  # posterior of mu = s + b is Gamma(shape, 1)
    return n_on, background, shape


def _tail_ratio_numeric(k: float, b: float, s: float) -> float:
    """``P(S > s)`` for density ``~ (1 + t/b)^(k-1) exp(-t)`` on t >= 0 (no underflow)."""

    def w(t):
        return np.exp((k - 1) * np.log1p(t / b) - t)

    total = integrate.quad(w, 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    tail = integrate.quad(w, s, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    return tail / total


def poisson_signal_posterior_cdf(
    signal: ArrayLike, n_on: ArrayLike, background: ArrayLike, prior: str = "flat"
) -> np.ndarray:
    r"""Posterior CDF of the signal ``s`` for ``n_on ~ Poisson(s + b)``, ``b`` known, ``s >= 0``.

    With prior ``(s + b)^a`` (``a = 0`` flat, ``-1/2`` Jeffreys) the posterior of
    ``mu = s + b`` is a Gamma(``k = n_on + 1 + a``, 1) density truncated to ``mu >= b``:

    .. math:: P(S \le s) = 1 - Q(k, s + b) / Q(k, b)

    with ``Q`` the regularised upper incomplete gamma function.

    Parameters
    ----------
    signal : array_like
        Signal counts (non-negative).
    n_on : array_like
        Observed counts.
    background : array_like
        Known background counts.
    prior : {"flat", "jeffreys"}
        Prior on the signal.

    Returns
    -------
    numpy.ndarray
        Probability that the signal is at most ``signal``.
    """
    n_on, background, k = _poisson_inputs(n_on, background, prior)
    signal = np.asarray(signal, dtype=np.float64)
    if np.any(signal < 0):
        raise ValueError("signal must be non-negative")
    q_b = special.gammaincc(k, background)
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf = 1 - special.gammaincc(k, signal + background) / q_b
    tiny = np.broadcast_to(q_b < _UNDERFLOW, cdf.shape)
    if np.any(tiny):
        kk, bb, ss = np.broadcast_arrays(k, background, signal)
        cdf = np.array(cdf, copy=True)
        for idx in np.ndindex(tiny.shape):
            if not tiny[idx]:
                continue
            cdf[idx] = 1 - _tail_ratio_numeric(kk[idx], bb[idx], ss[idx])
    return cdf


def poisson_signal_upper_limit(
    n_on: ArrayLike, background: ArrayLike, ul_prob: float = 0.95, prior: str = "flat"
) -> CredibleUpperLimit:
    r"""One-sided Bayesian upper limit on a Poisson signal over a known background.

    Solves :func:`poisson_signal_posterior_cdf` ``= ul_prob``:
    ``s_UL = Q^{-1}(k, (1 - ul_prob) Q(k, b)) - b`` with ``k = n_on + 1`` (flat prior) or
    ``n_on + 1/2`` (Jeffreys). Where ``Q(k, b)`` underflows (background far above the
    counts) the posterior is integrated numerically in a scaled form instead.

    Parameters
    ----------
    n_on : array_like
        Observed counts (non-negative integers).
    background : array_like
        Known expected background counts (non-negative).
    ul_prob : float
        Credible level (default 0.95).
    prior : {"flat", "jeffreys"}
        Prior on the signal (see :data:`POISSON_PRIORS`).

    Returns
    -------
    CredibleUpperLimit
        ``value``: limit on the signal counts (broadcast shape of the inputs); ``meta``:
        ``prior`` (description), ``prior_name``, ``method``.
    """
    ul_prob = _check_prob(ul_prob)
    n_on, background, k = _poisson_inputs(n_on, background, prior)
    q_b = special.gammaincc(k, background)
    value = special.gammainccinv(k, (1 - ul_prob) * q_b) - background
    tiny = q_b < _UNDERFLOW
    if np.any(tiny):
        value = np.array(value, copy=True)
        for idx in np.ndindex(tiny.shape):
            if not tiny[idx]:
                continue
            kk, bb = float(k[idx]), float(background[idx])

            def f(s, kk=kk, bb=bb):
                return _tail_ratio_numeric(kk, bb, s) - (1 - ul_prob)

            upper = -np.log(1 - ul_prob) * 10 + 10
            value[idx] = optimize.brentq(f, 0, upper, xtol=1e-12, rtol=1e-12)
    meta = {
        "prior": POISSON_PRIORS[prior][1],
        "prior_name": prior,
        "method": "analytic posterior (incomplete gamma), Poisson counts over known background",
    }
    return CredibleUpperLimit(value if value.ndim else float(value), ul_prob, meta)
