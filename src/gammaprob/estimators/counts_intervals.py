"""Profile-likelihood intervals on the excess of counting experiments (vectorised, no sampling).

These are the frequentist quick-look numbers behind :class:`~.excess_map.ExcessMapEstimator`
and :class:`~.sensitivity.SensitivityEstimator`: the excess ``s`` is scanned with the
background either known (Cash) or measured in an OFF region and profiled (WStat), and the
interval ends are where the statistic rises by ``n_sigma**2`` above its minimum.

Cash intervals are analytic (Lambert W); WStat intervals are found by a vectorised
safeguarded regula falsi (Illinois + bisection) on bracketing intervals, so a whole map is solved at once. Brackets and
conventions follow gammapy's ``CountsStatistic`` so that the numbers agree with it:

- the search range is ``n_sigma * 2 (error + 1)`` wide, ``error = sqrt(n_on + alpha^2 n_off)``;
- a lower end that is not bracketed gives ``errn = n_on`` (the excess cannot go lower);
- an upper end that is not bracketed gives NaN;
- for Cash with ``n_on = 0``: ``errn = 0``, ``errp = n_sigma^2 / 2`` and the upper limit is
  ``n_sigma^2 / 2`` (the background is ignored, so the limit is never negative).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import lambertw

from gammaprob.stats import cash, li_ma_significance, wstat

__all__ = [
    "bracketed_roots",
    "cash_errors",
    "cash_ts",
    "cash_upper_limit",
    "wstat_errors",
    "wstat_excess_matching_significance",
    "wstat_ts",
    "wstat_upper_limit",
]

_XTOL = 1e-12
_RTOL = 4 * np.finfo(float).eps


def _positive_n_sigma(n_sigma: float, name: str = "n_sigma") -> float:
    value = float(n_sigma)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite positive number of sigmas, got {n_sigma!r}")
    return value


def bracketed_roots(
    func: Callable[[np.ndarray, np.ndarray], np.ndarray],
    lower: ArrayLike,
    upper: ArrayLike,
    xtol: float = _XTOL,
    rtol: float = _RTOL,
    max_iter: int = 300,
) -> np.ndarray:
    """Elementwise root of ``func`` in ``[lower, upper]``, vectorised (Illinois + bisection).

    Each element keeps a bracket with a sign change. Steps are regula falsi with the
    Illinois modification, with a bisection step every fourth iteration (and whenever the
    secant point is not strictly inside the bracket), so the bracket width is at least
    halved every four steps. An element is done when its bracket is narrower than
    ``xtol + rtol |x|``; the returned root is the last evaluated end, so it is within that
    width of the true root. Only unfinished elements are evaluated.

    Parameters
    ----------
    func : callable
        ``func(x, index)`` with ``x`` a 1-D array of trial points for the flat element
        indices ``index``; returns the function values there. NaN counts as ``+inf``
        (the statistics used here diverge where they are undefined).
    lower, upper : array_like
        Bracket ends (same shape).
    xtol, rtol : float
        Absolute and relative tolerance on the root.
    max_iter : int
        Maximum number of steps.

    Returns
    -------
    numpy.ndarray
        Roots (shape of ``lower``); NaN where ``func`` has the same sign at both ends.
    """
    lo = np.array(lower, dtype=np.float64)
    hi = np.array(upper, dtype=np.float64)
    if lo.shape != hi.shape:
        raise ValueError(f"lower and upper must have the same shape, got {lo.shape} and {hi.shape}")
    shape = lo.shape

    def f(x, index):
        value = np.asarray(func(x, index), dtype=np.float64)
        return np.where(np.isnan(value), np.inf, value)

    everything = np.arange(lo.size)
    a, b = lo.ravel(), hi.ravel()
    fa, fb = f(a, everything), f(b, everything)
    root = np.full(lo.size, np.nan)
    root[fa == 0] = a[fa == 0]
    root[fb == 0] = b[fb == 0]
    keep = (np.sign(fa) * np.sign(fb) < 0) & np.isfinite(a) & np.isfinite(b)
    index, a, b, fa, fb = everything[keep], a[keep], b[keep], fa[keep], fb[keep]
    for step in range(max_iter):
        if index.size == 0:
            break
        mid = 0.5 * (a + b)
        if step % 4 == 3:
            x = mid
        else:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                x = b - fb * (b - a) / (fb - fa)
            inside = np.isfinite(x) & (x > np.minimum(a, b)) & (x < np.maximum(a, b))
            x = np.where(inside, x, mid)
        fx = f(x, index)
        same = np.sign(fx) == np.sign(fb)
        # the root stays between a and x: if fx has the sign of fb, a is kept (Illinois:
        # its value is halved so that it moves next time), otherwise b becomes the new a
        a = np.where(same, a, b)
        fa = np.where(same, 0.5 * fa, fb)
        b, fb = x, fx
        done = (fx == 0) | (np.abs(b - a) <= xtol + rtol * np.abs(b))
        root[index[done]] = b[done]
        left = ~done
        index, a, b, fa, fb = index[left], a[left], b[left], fa[left], fb[left]
    return root.reshape(shape)


# ---- known background (Cash) ---------------------------------------------------------------


def cash_ts(n_on: ArrayLike, mu_bkg: ArrayLike) -> np.ndarray:
    """Likelihood-ratio test statistic of the best-fit excess against zero excess (Cash).

    ``TS = C(n_on; mu_bkg) - C(n_on; n_on)``, clipped at 0, with gammapy's truncation of
    predicted counts below 1e-25.

    Parameters
    ----------
    n_on : array_like
        Observed counts.
    mu_bkg : array_like
        Known background counts.

    Returns
    -------
    numpy.ndarray
        TS (dimensionless).
    """
    n_on = np.asarray(n_on, dtype=np.float64)
    return np.clip(cash(n_on, mu_bkg) - cash(n_on, n_on), 0, None)


def _cash_branch(n_on: np.ndarray, n_sigma: float, branch: int) -> np.ndarray:
    """``mu / n_on`` where ``mu - n ln mu`` rises by ``n_sigma^2 / 2`` (Lambert W branch)."""
    c = n_sigma**2 / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        arg = -np.exp(-1.0 - c / n_on)
    return -lambertw(arg, k=branch).real


def cash_errors(
    n_on: ArrayLike, mu_bkg: ArrayLike, n_sigma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Asymmetric errors of the excess ``n_on - mu_bkg`` for a known background.

    The total expectation ``mu`` solves ``C(n_on; mu) - C(n_on; n_on) = n_sigma^2``:
    ``mu = -n_on W_k(-exp(-1 - n_sigma^2 / (2 n_on)))`` with branch 0 (below) and -1 (above).

    Parameters
    ----------
    n_on : array_like
        Observed counts.
    mu_bkg : array_like
        Known background counts (only broadcast; the errors depend on ``n_on`` alone).
    n_sigma : float
        Width in Gaussian sigmas.

    Returns
    -------
    errn, errp : numpy.ndarray
        Downward and upward errors in counts (positive). ``n_on = 0`` gives
        ``errn = 0``, ``errp = n_sigma^2 / 2``.
    """
    n_sigma = _positive_n_sigma(n_sigma)
    n_on, _ = np.broadcast_arrays(np.asarray(n_on, dtype=np.float64), mu_bkg)
    positive = n_on > 0
    safe = np.where(positive, n_on, 1.0)
    errn = np.where(positive, n_on * (1 - _cash_branch(safe, n_sigma, 0)), 0.0)
    errp = np.where(positive, n_on * (_cash_branch(safe, n_sigma, -1) - 1), n_sigma**2 / 2)
    return errn, errp


def cash_upper_limit(n_on: ArrayLike, mu_bkg: ArrayLike, n_sigma: float = 2.0) -> np.ndarray:
    """Profile-likelihood upper limit on the excess for a known background.

    ``excess + errp`` (see :func:`cash_errors`); ``n_sigma^2 / 2`` where ``n_on = 0``.

    Parameters
    ----------
    n_on : array_like
        Observed counts.
    mu_bkg : array_like
        Known background counts.
    n_sigma : float
        Level in Gaussian sigmas (the statistic rises by ``n_sigma^2``).

    Returns
    -------
    numpy.ndarray
        Upper limit on the excess counts.
    """
    n_on = np.asarray(n_on, dtype=np.float64)
    mu_bkg = np.asarray(mu_bkg, dtype=np.float64)
    _, errp = cash_errors(n_on, mu_bkg, n_sigma)
    return np.where(n_on > 0, n_on - mu_bkg + errp, errp)


# ---- measured background (WStat) -----------------------------------------------------------


def wstat_ts(n_on: ArrayLike, n_off: ArrayLike, alpha: ArrayLike) -> np.ndarray:
    """Li & Ma test statistic (square of :func:`gammaprob.stats.li_ma_significance`).

    Parameters
    ----------
    n_on, n_off : array_like
        ON and OFF counts.
    alpha : array_like
        ON/OFF exposure ratio.

    Returns
    -------
    numpy.ndarray
        TS (dimensionless).
    """
    return li_ma_significance(n_on, n_off, alpha) ** 2


def _wstat_setup(n_on, n_off, alpha, n_sigma):
    n_sigma = _positive_n_sigma(n_sigma)
    n_on, n_off, alpha = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (n_on, n_off, alpha))
    )
    excess = n_on - alpha * n_off
    error = np.sqrt(n_on + alpha**2 * n_off)
    stat_min = wstat(n_on, n_off, alpha, excess)
    half_width = 2 * n_sigma * (error + 1)

    flat = [np.ravel(v) for v in (n_on, n_off, alpha)]

    def delta(target):
        target = np.ravel(target)

        def f(mu, index):
            on, off, a = (v[index] for v in flat)
            return wstat(on, off, a, mu) - target[index]

        return f

    return n_sigma, n_on, excess, stat_min, half_width, delta


def wstat_errors(
    n_on: ArrayLike, n_off: ArrayLike, alpha: ArrayLike, n_sigma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Asymmetric profile-likelihood errors of the excess ``n_on - alpha n_off`` (WStat).

    Parameters
    ----------
    n_on, n_off : array_like
        ON and OFF counts.
    alpha : array_like
        ON/OFF exposure ratio (positive).
    n_sigma : float
        Width in Gaussian sigmas (the profiled statistic rises by ``n_sigma^2``).

    Returns
    -------
    errn, errp : numpy.ndarray
        Downward and upward errors in counts; ``errn = n_on`` where the lower end is not
        bracketed, ``errp`` NaN where the upper end is not.
    """
    n_sigma, n_on, excess, stat_min, width, delta = _wstat_setup(n_on, n_off, alpha, n_sigma)
    f = delta(stat_min + n_sigma**2)
    lower = bracketed_roots(f, excess - width, excess)
    upper = bracketed_roots(f, excess, excess + width)
    errn = np.where(np.isnan(lower), n_on, excess - lower)
    return errn, upper - excess


def wstat_upper_limit(
    n_on: ArrayLike, n_off: ArrayLike, alpha: ArrayLike, n_sigma: float = 2.0
) -> np.ndarray:
    """Profile-likelihood upper limit on the excess (WStat), NaN where not bracketed.

    Parameters
    ----------
    n_on, n_off : array_like
        ON and OFF counts.
    alpha : array_like
        ON/OFF exposure ratio (positive).
    n_sigma : float
        Level in Gaussian sigmas (the statistic rises by ``n_sigma^2``).

    Returns
    -------
    numpy.ndarray
        Upper limit on the excess counts.
    """
    n_sigma, _, excess, stat_min, width, delta = _wstat_setup(n_on, n_off, alpha, n_sigma)
    return bracketed_roots(delta(stat_min + n_sigma**2), excess, excess + width)


def wstat_excess_matching_significance(
    n_off: ArrayLike, alpha: ArrayLike, significance: float = 5.0
) -> np.ndarray:
    """Excess ``s`` whose Li & Ma significance is ``significance`` for ``n_on = s + alpha n_off``.

    The background in the ON region is ``alpha n_off`` (expected counts, need not be integer).

    Parameters
    ----------
    n_off : array_like
        OFF counts (or expected OFF counts).
    alpha : array_like
        ON/OFF exposure ratio (positive).
    significance : float
        Target significance in Gaussian sigmas (positive).

    Returns
    -------
    numpy.ndarray
        Excess counts; NaN where ``n_off = 0``.
    """
    significance = _positive_n_sigma(significance, "significance")
    n_off, alpha = np.broadcast_arrays(
        np.asarray(n_off, dtype=np.float64), np.asarray(alpha, dtype=np.float64)
    )
    if np.any(~np.isfinite(n_off)) or np.any(n_off < 0):
        raise ValueError("n_off must be finite and non-negative")
    valid = n_off > 0
    n_off_safe = np.where(valid, n_off, 1.0)
    bkg = alpha * n_off_safe

    flat_bkg, flat_off, flat_alpha = (np.ravel(v) for v in (bkg, n_off_safe, alpha))

    def f(s, index=slice(None)):
        b, off, a = flat_bkg[index], flat_off[index], flat_alpha[index]
        return li_ma_significance(s + b, off, a) - significance

    # the significance grows monotonically with s; start from about twice the Gaussian
    # answer and widen the bracket until it holds the root
    upper = significance**2 * (1 + alpha) + 2 * significance * np.sqrt(bkg * (1 + alpha)) + 1
    for _ in range(60):
        short = f(upper.ravel()).reshape(upper.shape) < 0
        if not np.any(short):
            break
        upper = np.where(short, 2 * upper, upper)
    root = bracketed_roots(f, np.zeros_like(bkg), upper)
    return np.where(valid, root, np.nan)
