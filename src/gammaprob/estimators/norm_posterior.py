r"""The posterior of one flux normalisation by exact 1-D quadrature on a grid.

A flux point (or a light-curve bin, or a map pixel) measures one number: the norm ``k`` that
scales a fixed reference prediction. With the other parameters fixed, its posterior is
one-dimensional, so it is computed exactly on a grid instead of by MCMC:

.. math::
    p(k \mid D) \propto \pi(k) \prod_j L_j(k \mu_j + o_j),

with ``mu_j`` the reference signal counts, ``o_j`` fixed extra signal (other sources) in the
reconstructed bins ``j`` of the flux bin, summed over datasets. Per bin:

- known background ``b`` (Cash): ``L = Pois(n | s + b)``;
- on/off with ``onoff="marginal"`` (default): the OFF expectation ``beta`` is integrated out
  analytically under the prior ``beta^(c - 1)`` on ``[0, inf)``,
  ``L(s) = e^{-s} sum_k C(n, k) s^{n-k} alpha^k Gamma(k + m + c) / (1 + alpha)^{k + m + c}`` (up
  to a constant), with ``n``, ``m`` the ON, OFF counts; ``background_prior="jeffreys"``
  (default of the estimators) is Jeffreys' ``beta^-1/2`` (``c = 1/2``, half an OFF count per
  bin), ``background_prior="flat"`` the flat prior (``c = 1``, one OFF count per bin);
- on/off with ``onoff="wstat"``: the profiled WStat, ``L = exp(-WStat / 2)`` (what gammapy
  uses).

The grid is found in two passes (a coarse scan, then ``n_grid`` points over the region where
the log-posterior is within :data:`LOG_RANGE` of its maximum); the density is normalised with
the trapezoid rule and quantiles are read off the cumulative integral by linear interpolation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, xlogy

from gammaprob.stats import get_wstat_mu_bkg

__all__ = [
    "BACKGROUND_PRIORS",
    "LOG_RANGE",
    "ONOFF_MODES",
    "NormPosterior",
    "NormTerms",
    "norm_posterior",
    "prior_logpdf",
]

#: On/off treatments of the grid posterior (the values of ``onoff=``, first the default); the
#: OFF expectation is integrated out analytically or profiled, never sampled on a grid
ONOFF_MODES = ("marginal", "wstat")
#: Priors of the OFF expectation integrated out by ``onoff="marginal"``: name -> exponent ``c``
#: of ``beta^(c - 1)`` (first the default)
BACKGROUND_PRIORS = {"jeffreys": 0.5, "flat": 1.0}


def check_onoff_choice(onoff: str, background_prior: str) -> None:
    """Raise ValueError unless ``onoff`` and ``background_prior`` are known names.

    Parameters
    ----------
    onoff : str
        One of :data:`ONOFF_MODES`.
    background_prior : str
        One of :data:`BACKGROUND_PRIORS` (used with ``onoff="marginal"``).
    """
    if onoff not in ONOFF_MODES:
        hint = ""
        if onoff == "profile":
            hint = " ('profile' is the former name of 'wstat')"
        elif onoff in BACKGROUND_PRIORS:
            hint = f" (former value: use onoff='marginal', background_prior={onoff!r})"
        raise ValueError(f"onoff must be one of {ONOFF_MODES}, got {onoff!r}{hint}")
    if background_prior not in BACKGROUND_PRIORS:
        raise ValueError(
            f"background_prior must be one of {tuple(BACKGROUND_PRIORS)}, got {background_prior!r}"
        )


#: The fine grid covers log-posterior values within this distance of the maximum.
LOG_RANGE = 40.0
_COARSE = 257


@dataclass(frozen=True)
class NormTerms:
    """Data and reference prediction of the bins that measure one norm (all datasets together).

    Attributes
    ----------
    mu : numpy.ndarray
        Reference signal counts per bin (the prediction at ``norm = 1``).
    counts : numpy.ndarray
        ON counts per bin.
    offset : numpy.ndarray
        Fixed extra signal counts per bin (other sources), zeros if none.
    background : numpy.ndarray
        Known background counts per bin (Cash bins); zeros for on/off bins.
    counts_off, alpha : numpy.ndarray
        OFF counts and ON/OFF ratio per bin; ``alpha = 0`` marks a Cash bin.
    """

    mu: np.ndarray
    counts: np.ndarray
    offset: np.ndarray
    background: np.ndarray
    counts_off: np.ndarray
    alpha: np.ndarray

    @classmethod
    def concatenate(cls, terms: list[NormTerms]) -> NormTerms:
        """Join the bins of several datasets."""
        if not terms:
            raise ValueError("no bins measure this norm")
        return cls(
            *(np.concatenate([getattr(t, f) for t in terms]) for f in cls.__dataclass_fields__)
        )

    @property
    def onoff(self) -> np.ndarray:
        """Which bins are on/off bins."""
        return self.alpha > 0

    def background_estimate(self) -> np.ndarray:
        """Background counts per bin: known background or ``alpha n_off``."""
        return np.where(self.onoff, self.alpha * self.counts_off, self.background)


def _cash_loglike(s: np.ndarray, n: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = s + b[:, None]
    return (xlogy(n[:, None], mu) - mu).sum(axis=0)


def _marginal_onoff_loglike(
    s: np.ndarray, n: np.ndarray, m: np.ndarray, alpha: np.ndarray, c: float = 1.0
) -> np.ndarray:
    """Sum over bins of the log marginal likelihood (prior ``beta^(c-1)`` on the OFF expectation)."""
    out = np.zeros(s.shape[-1])
    for i in range(n.size):
        k = np.arange(n[i] + 1, dtype=float)[:, None]
        ni, mi, ai = float(n[i]), float(m[i]), float(alpha[i])
        log_w = (
            gammaln(ni + 1)
            - gammaln(k + 1)
            - gammaln(ni - k + 1)
            + k * math.log(ai)
            + gammaln(k + mi + c)
            - (k + mi + c) * math.log1p(ai)
        )
        terms = log_w + xlogy(ni - k, s[i][None, :])
        top = terms.max(axis=0)
        out += top + np.log(np.exp(terms - top).sum(axis=0)) - s[i]
    return out


def _profile_onoff_loglike(
    s: np.ndarray, n: np.ndarray, m: np.ndarray, alpha: np.ndarray
) -> np.ndarray:
    """Sum over bins of ``-WStat / 2`` (background profiled)."""
    n, m, a = n[:, None], m[:, None], alpha[:, None]
    beta = get_wstat_mu_bkg(n, m, a, s)
    mu_on = s + a * beta
    return (xlogy(n, mu_on) - mu_on + xlogy(m, beta) - beta).sum(axis=0)


def log_likelihood(
    norm: np.ndarray,
    terms: NormTerms,
    onoff: str = "marginal",
    background_prior: str = "jeffreys",
) -> np.ndarray:
    """Log-likelihood of ``norm`` (up to a constant) summed over the bins of ``terms``.

    Parameters
    ----------
    norm : array_like
        Norm values (>= 0 where the prediction must stay non-negative).
    terms : NormTerms
        The bins.
    onoff : {"marginal", "wstat"}
        Treatment of the OFF expectation of on/off bins: integrated out analytically or
        profiled (see the module docstring).
    background_prior : {"jeffreys", "flat"}
        Prior of the OFF expectation integrated out with ``onoff="marginal"``.

    Returns
    -------
    numpy.ndarray
        ``log L(norm)``, same shape as ``norm``.
    """
    check_onoff_choice(onoff, background_prior)
    norm = np.atleast_1d(np.asarray(norm, dtype=float))
    s = terms.mu[:, None] * norm[None, :] + terms.offset[:, None]
    on = terms.onoff
    out = np.zeros(norm.size)
    if np.any(~on):
        out += _cash_loglike(s[~on], terms.counts[~on], terms.background[~on])
    if np.any(on):
        args = (s[on], terms.counts[on], terms.counts_off[on], terms.alpha[on])
        out += (
            _profile_onoff_loglike(*args)
            if onoff == "wstat"
            else _marginal_onoff_loglike(*args, BACKGROUND_PRIORS[background_prior])
        )
    return out


def prior_logpdf(prior, norm: np.ndarray) -> np.ndarray:
    """Log prior density of the norm (up to a constant); ``-inf`` outside the support.

    Parameters
    ----------
    prior : "flat" or gammaprob Prior
        ``"flat"``: uniform on ``[0, inf)`` (improper; the posterior is proper because the
        likelihood falls off). Priors: ``Uniform``, ``LogUniform``, ``HalfNormal``,
        ``Normal``, ``TruncatedNormal``, ``LogNormal``, ``Exponential``, ``Gamma``.
    norm : numpy.ndarray
        Norm values.

    Returns
    -------
    numpy.ndarray
    """
    from scipy import stats

    norm = np.asarray(norm, dtype=float)
    if isinstance(prior, str):
        if prior != "flat":
            raise ValueError(f"norm_prior must be 'flat' or a gammaprob Prior, got {prior!r}")
        return np.where(norm >= 0, 0.0, -np.inf)
    kind = type(prior).__name__
    h = prior.hyper
    dists = {
        "Uniform": lambda: stats.uniform(h["lower"], h["upper"] - h["lower"]),
        "LogUniform": lambda: stats.loguniform(h["lower"], h["upper"]),
        "HalfNormal": lambda: stats.halfnorm(scale=h["sigma"]),
        "Normal": lambda: stats.norm(h["mu"], h["sigma"]),
        "LogNormal": lambda: stats.lognorm(h["sigma"], scale=math.exp(h["mu"])),
        "Exponential": lambda: stats.expon(scale=1 / h["lam"]),
        "Gamma": lambda: stats.gamma(h["alpha"], scale=1 / h["beta"]),
        "TruncatedNormal": lambda: stats.truncnorm(
            (h["lower"] - h["mu"]) / h["sigma"],
            (h["upper"] - h["mu"]) / h["sigma"],
            loc=h["mu"],
            scale=h["sigma"],
        ),
    }
    if kind not in dists:
        raise TypeError(f"norm_prior of type {kind} is not supported; use one of {sorted(dists)}")
    with np.errstate(divide="ignore"):
        return dists[kind]().logpdf(norm)


def _support(prior) -> tuple[float, float]:
    lo, hi = (0.0, math.inf) if isinstance(prior, str) else prior.support()
    return max(lo, 0.0), hi


@dataclass(frozen=True)
class NormPosterior:
    """The posterior of one norm on a grid, with its summaries.

    Attributes
    ----------
    grid : numpy.ndarray
        Norm values (increasing).
    pdf : numpy.ndarray
        Normalised posterior density on :attr:`grid`.
    loglike : numpy.ndarray
        Log-likelihood on :attr:`grid` (no prior), up to a constant.
    ts : float
        ``2 [max_norm log L - log L(0)]`` over ``norm >= 0`` (TS-equivalent).
    norm_best : float
        Norm maximising the likelihood (``>= 0``).
    """

    grid: np.ndarray
    pdf: np.ndarray
    loglike: np.ndarray
    ts: float
    norm_best: float

    @property
    def cdf(self) -> np.ndarray:
        """Cumulative distribution on :attr:`grid` (trapezoid rule)."""
        steps = 0.5 * (self.pdf[1:] + self.pdf[:-1]) * np.diff(self.grid)
        return np.concatenate([[0.0], np.cumsum(steps)])

    def quantile(self, q) -> np.ndarray | float:
        """Posterior quantile(s) of the norm."""
        q = np.asarray(q, dtype=float)
        if np.any((q < 0) | (q > 1)):
            raise ValueError(f"quantiles must lie in [0, 1], got {q}")
        cdf = self.cdf
        keep = np.concatenate([[True], np.diff(cdf) > 0])
        out = np.interp(q, cdf[keep], self.grid[keep])
        return float(out) if out.ndim == 0 else out

    @property
    def mean(self) -> float:
        """Posterior mean."""
        return float(np.trapezoid(self.grid * self.pdf, self.grid))

    @property
    def mode(self) -> float:
        """Posterior mode on the grid."""
        return float(self.grid[np.argmax(self.pdf)])

    def probability_above(self, value: float) -> float:
        """Posterior probability that the norm exceeds ``value``."""
        return float(1 - np.interp(value, self.grid, self.cdf, left=0.0, right=1.0))


def _scan_range(terms: NormTerms, lo: float, hi: float) -> tuple[float, float]:
    """Return a first guess of the norm range from the excess and its Gaussian error."""
    mu = terms.mu.sum()
    if not mu > 0:
        raise ValueError("the reference prediction is zero in every bin: the norm is unconstrained")
    excess = (terms.counts - terms.background_estimate() - terms.offset).sum()
    sigma = math.sqrt(
        terms.counts.sum() + (terms.alpha**2 * terms.counts_off).sum() + terms.background.sum() + 1
    )
    top = max(excess, 0.0) / mu + 20 * sigma / mu
    return lo, min(hi, top) if math.isfinite(hi) else top


def norm_posterior(
    terms: NormTerms,
    prior="flat",
    onoff: str = "marginal",
    n_grid: int = 400,
    *,
    background_prior: str = "jeffreys",
) -> NormPosterior:
    """Posterior of the norm by quadrature on an adaptive grid.

    Parameters
    ----------
    terms : NormTerms
        The bins that measure the norm.
    prior : "flat" or Prior
        Prior of the norm (see :func:`prior_logpdf`); the norm is restricted to ``>= 0``.
    onoff : {"marginal", "wstat"}
        Treatment of on/off backgrounds (see :func:`log_likelihood`).
    n_grid : int
        Points of the final grid.
    background_prior : {"jeffreys", "flat"}
        Prior of the OFF expectation integrated out with ``onoff="marginal"``.

    Returns
    -------
    NormPosterior
    """
    from scipy.optimize import minimize_scalar

    if n_grid < 50:
        raise ValueError(f"n_grid must be at least 50, got {n_grid}")
    check_onoff_choice(onoff, background_prior)

    def loglike_of(x):
        return log_likelihood(x, terms, onoff, background_prior)

    lo, hi_support = _support(prior)
    lo, hi = _scan_range(terms, lo, hi_support)

    def logpost(x):
        return prior_logpdf(prior, x) + loglike_of(x)

    for _ in range(30):  # widen until the posterior has fallen off at the upper end
        coarse = np.linspace(lo, hi, _COARSE)
        lp = logpost(coarse)
        top = np.nanmax(lp[np.isfinite(lp)]) if np.any(np.isfinite(lp)) else -np.inf
        if not np.isfinite(top):
            raise ValueError("the posterior of the norm is zero everywhere on its scan range")
        if lp[-1] < top - LOG_RANGE or hi >= hi_support:
            break
        hi = min(hi_support, lo + 2 * (hi - lo))
    inside = np.flatnonzero(lp > top - LOG_RANGE)
    g_lo = coarse[max(inside[0] - 1, 0)]
    g_hi = coarse[min(inside[-1] + 1, _COARSE - 1)]
    grid = np.linspace(g_lo, g_hi, n_grid)
    loglike = loglike_of(grid)
    lp = prior_logpdf(prior, grid) + loglike
    weights = np.exp(lp - np.max(lp))
    pdf = weights / np.trapezoid(weights, grid)
    # likelihood maximum over norm >= 0 (bounded 1-D search around the grid maximum)
    i = int(np.argmax(loglike))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
    if i == 0 and g_lo > 0:
        a = 0.0
    fit = minimize_scalar(
        lambda x: -loglike_of(np.array([x]))[0],
        bounds=(a, b),
        method="bounded",
        options={"xatol": 1e-10 * max(b, 1e-30)},
    )
    best_x, best = (fit.x, -fit.fun) if -fit.fun > loglike[i] else (grid[i], loglike[i])
    at_zero = loglike_of(np.array([0.0]))[0]
    ts = max(2 * (best - at_zero), 0.0)
    return NormPosterior(grid=grid, pdf=pdf, loglike=loglike, ts=float(ts), norm_best=float(best_x))
