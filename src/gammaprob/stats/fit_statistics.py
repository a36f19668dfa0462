"""Poisson fit statistics in numpy: Cash, C-stat and WStat (profiled on/off background).

All functions return the statistic per bin as ``-2 log L`` (up to model-independent
terms, see each function). They are the numpy reference for the pytensor likelihoods in
:mod:`gammaprob.likelihood` and for quick looks; they are elementwise and broadcast.

References
----------
- [Cash1979] W. Cash, "Parameter estimation in astronomy through application of the
  likelihood ratio", ApJ 228, 939 (1979).
- [XSPEC] XSPEC manual, appendix B "Statistics in XSPEC", section "Poisson data with
  Poisson background (cstat / W statistic)",
  https://heasarc.gsfc.nasa.gov/xanadu/xspec/manual/XSappendixStatistics.html
- [deNaurois2012] M. de Naurois, habilitation thesis (2012), p. 141.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gammaprob.utils.xp import namespace

__all__ = ["TRUNCATION_VALUE", "cash", "cstat", "get_wstat_gof_terms", "get_wstat_mu_bkg", "wstat"]

#: Smallest predicted count rate used in :func:`cash` and :func:`cstat` (the value gammapy uses).
TRUNCATION_VALUE = 1e-25


def _counts(value: ArrayLike, name: str) -> np.ndarray:
    """Return counts as float64 and reject negative or non-finite values."""
    array = np.asarray(value, dtype=np.float64)
    if np.any(~np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name} must be finite and non-negative (counts); got {array!r}")
    return array


def _alpha(value: ArrayLike) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if np.any(~np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(
            f"alpha must be finite and positive (on/off exposure ratio); got {array!r}"
        )
    return array


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x * log(y)`` with the convention ``0 * log(0) = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


def cash(
    n_on: ArrayLike, mu_on: ArrayLike, truncation_value: float | None = TRUNCATION_VALUE
) -> np.ndarray:
    r"""Cash statistic for Poisson counts with a known expectation [Cash1979].

    .. math:: C = 2 \left(\mu - n \log \mu\right)

    This is ``-2 log L`` of the Poisson likelihood without the model-independent
    ``log n!`` term.

    Parameters
    ----------
    n_on : array_like
        Observed counts (non-negative).
    mu_on : array_like
        Predicted counts.
    truncation_value : float or None
        Predicted counts at or below this value are replaced by it, so that a bin with
        ``mu = 0`` and ``n > 0`` gives a large finite value (as gammapy does, default
        ``1e-25``). With None there is no truncation: such a bin gives ``+inf`` and
        ``n = mu = 0`` gives 0; negative ``mu`` is then an error.

    Returns
    -------
    numpy.ndarray
        Statistic per bin (dimensionless).
    """
    n_on = _counts(n_on, "n_on")
    mu_on = np.asarray(mu_on, dtype=np.float64)
    if truncation_value is None:
        if np.any(mu_on < 0):
            raise ValueError("mu_on must be non-negative when truncation_value is None")
        with np.errstate(divide="ignore"):
            return 2 * (mu_on - _xlogy(n_on, mu_on))
    if truncation_value <= 0:
        raise ValueError(f"truncation_value must be positive or None; got {truncation_value}")
    mu_on = np.where(mu_on <= truncation_value, truncation_value, mu_on)
    return 2 * (mu_on - n_on * np.log(mu_on))


def cstat(
    n_on: ArrayLike, mu_on: ArrayLike, truncation_value: float = TRUNCATION_VALUE
) -> np.ndarray:
    r"""C statistic: the Cash statistic shifted to be a goodness of fit [Cash1979].

    .. math:: C = 2 \left[\mu - n + n (\log n - \log \mu)\right]

    Counts and predictions at or below ``truncation_value`` are replaced by it (gammapy's
    convention), so ``n = 0`` gives ``2 mu``.

    Parameters
    ----------
    n_on : array_like
        Observed counts (non-negative).
    mu_on : array_like
        Predicted counts.
    truncation_value : float
        Positive floor for ``n_on`` and ``mu_on``.

    Returns
    -------
    numpy.ndarray
        Statistic per bin (dimensionless, zero where ``mu == n``).
    """
    if truncation_value <= 0:
        raise ValueError(f"truncation_value must be positive; got {truncation_value}")
    n_on = _counts(n_on, "n_on")
    mu_on = np.asarray(mu_on, dtype=np.float64)
    n_on = np.where(n_on <= truncation_value, truncation_value, n_on)
    mu_on = np.where(mu_on <= truncation_value, truncation_value, mu_on)
    return 2 * (mu_on - n_on + n_on * (np.log(n_on) - np.log(mu_on)))


def get_wstat_mu_bkg(n_on: ArrayLike, n_off: ArrayLike, alpha: ArrayLike, mu_sig: Any) -> Any:
    r"""Profile-likelihood background expectation in the OFF region for WStat.

    The one implementation of the profiled OFF background in gammaprob: the numpy statistics,
    the pytensor WStat likelihood and the flux-point estimators all call it.

    Maximising the joint Poisson likelihood of ``n_on ~ Pois(mu_sig + alpha b)`` and
    ``n_off ~ Pois(b)`` over ``b`` gives the positive root of a quadratic [XSPEC]:

    .. math::

        C = \alpha (n_{on} + n_{off}) - (1 + \alpha)\,\mu_{sig}, \quad
        D = \sqrt{C^2 + 4 \alpha (1 + \alpha)\, n_{off}\, \mu_{sig}}, \quad
        b = \frac{C + D}{2 \alpha (1 + \alpha)}

    Numerically stable: for ``C < 0`` the algebraically equal form
    ``b = 2 n_off mu_sig / (D - C)`` is used, so no branch subtracts nearly equal numbers
    (the direct form loses all digits when ``mu_sig >> n_on + n_off``). The zero-count cases
    are those of the XSPEC definition, set exactly: ``n_on = 0`` gives
    ``b = max(n_off / (1 + alpha), -mu_sig / alpha)`` (the second for a negative excess, as
    the error and limit searches of the estimators try); ``n_off = 0`` gives
    ``b = max(0, n_on / (1 + alpha) - mu_sig / alpha)``.

    Parameters
    ----------
    n_on, n_off : array_like
        Observed ON and OFF counts (non-negative; constant data, also when ``mu_sig`` is a
        tensor).
    alpha : array_like
        ON/OFF exposure ratio (positive, dimensionless).
    mu_sig : array_like or pytensor.tensor.TensorVariable
        Predicted signal counts in the ON region (negative values are allowed: the ON
        expectation ``mu_sig + alpha b`` stays non-negative). With a pytensor variable the
        result is a graph whose gradient is finite in every bin (the branch not taken never
        divides by zero or takes the square root of zero).

    Returns
    -------
    numpy.ndarray or pytensor.tensor.TensorVariable
        Profiled background counts ``b`` in the OFF region (the ON region gets ``alpha b``),
        broadcast over the inputs.
    """
    n_on = _counts(n_on, "n_on")
    n_off = _counts(n_off, "n_off")
    alpha = _alpha(alpha)
    xp = namespace(mu_sig)
    if xp.name == "numpy":
        mu_sig = np.asarray(mu_sig, dtype=np.float64)
    a = alpha * (1.0 + alpha)
    c = alpha * (n_on + n_off) - (1.0 + alpha) * mu_sig
    off_pos = n_off > 0
    # where n_off = 0 the discriminant is exactly C^2: +1 keeps the unused sqrt away from 0
    d = xp.sqrt(c * c + 4.0 * a * n_off * mu_sig + np.where(off_pos, 0.0, 1.0))
    c_neg = c < 0
    root_pos = (c + d) / (2.0 * a)
    root_neg = 2.0 * n_off * mu_sig / xp.where(c_neg, d - c, 1.0)
    b = xp.where(c_neg, root_neg, root_pos)
    if not np.all(off_pos):
        b = xp.where(off_pos, b, xp.maximum(c, 0.0) / a)
    on_zero = n_on == 0
    if np.any(on_zero):  # the root of the quadratic there, also for a negative mu_sig
        b = xp.where(on_zero, xp.maximum(n_off / (1.0 + alpha), -mu_sig / alpha), b)
    return b


def get_wstat_gof_terms(n_on: ArrayLike, n_off: ArrayLike) -> np.ndarray:
    r"""Model-independent WStat terms that make the minimum a goodness of fit.

    .. math:: 2 \left[n_{on} (\log n_{on} - 1) + n_{off} (\log n_{off} - 1)\right]

    with ``0 log 0 = 0``.

    Parameters
    ----------
    n_on, n_off : array_like
        Observed ON and OFF counts.

    Returns
    -------
    numpy.ndarray
        Terms per bin.
    """
    n_on = _counts(n_on, "n_on")
    n_off = _counts(n_off, "n_off")
    return 2 * (_xlogy(n_on, n_on) - n_on + _xlogy(n_off, n_off) - n_off)


def wstat(
    n_on: ArrayLike,
    n_off: ArrayLike,
    alpha: ArrayLike,
    mu_sig: ArrayLike,
    mu_bkg: ArrayLike | None = None,
    extra_terms: bool = True,
) -> np.ndarray:
    r"""W statistic: Poisson ON counts with a Poisson-measured background [XSPEC].

    With ON expectation ``mu_sig + alpha b`` and OFF expectation ``b``:

    .. math::

        W = 2 \left[\mu_{sig} + (1 + \alpha) b - n_{on} \log(\mu_{sig} + \alpha b)
            - n_{off} \log b\right] + \text{gof terms}

    where ``b`` is the profiled background (:func:`get_wstat_mu_bkg`) unless given, and
    ``n log x`` is 0 where ``n = 0`` (this reproduces all zero-count cases of the XSPEC
    definition, see [deNaurois2012]). With ``extra_terms`` the model-independent
    :func:`get_wstat_gof_terms` are added, so ``W`` is zero for a perfect fit, as in
    XSPEC and gammapy.

    Parameters
    ----------
    n_on, n_off : array_like
        Observed ON and OFF counts (non-negative).
    alpha : array_like
        ON/OFF exposure ratio (positive).
    mu_sig : array_like
        Predicted signal counts in the ON region.
    mu_bkg : array_like, optional
        Background counts in the OFF region; profiled when None.
    extra_terms : bool
        Add the goodness-of-fit terms.

    Returns
    -------
    numpy.ndarray
        Statistic per bin (dimensionless).
    """
    n_on = _counts(n_on, "n_on")
    n_off = _counts(n_off, "n_off")
    alpha = _alpha(alpha)
    mu_sig = np.asarray(mu_sig, dtype=np.float64)
    if mu_bkg is None:
        mu_bkg = get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    mu_bkg = np.asarray(mu_bkg, dtype=np.float64)
    stat = 2 * (
        mu_sig
        + (1 + alpha) * mu_bkg
        - _xlogy(n_on, mu_sig + alpha * mu_bkg)
        - _xlogy(n_off, mu_bkg)
    )
    if extra_terms:
        stat = stat + get_wstat_gof_terms(n_on, n_off)
    return stat
