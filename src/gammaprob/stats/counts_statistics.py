"""Significance, excess and its error for counting experiments (quick-look statistics).

References
----------
- [LiMa1983] T.-P. Li and Y.-Q. Ma, "Analysis methods for results in gamma-ray
  astronomy", ApJ 272, 317 (1983).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .fit_statistics import _alpha, _counts, _xlogy

__all__ = ["cash_significance", "excess", "excess_error", "li_ma_significance"]


def excess(n_on: ArrayLike, n_off: ArrayLike, alpha: ArrayLike) -> np.ndarray:
    r"""Excess counts ``n_on - alpha n_off`` ([LiMa1983] eq. 2).

    Parameters
    ----------
    n_on, n_off : array_like
        Observed ON and OFF counts.
    alpha : array_like
        ON/OFF exposure ratio.

    Returns
    -------
    numpy.ndarray
        Excess counts (may be negative).
    """
    return _counts(n_on, "n_on") - _alpha(alpha) * _counts(n_off, "n_off")


def excess_error(n_on: ArrayLike, n_off: ArrayLike, alpha: ArrayLike) -> np.ndarray:
    r"""Symmetric 1-sigma error of the excess, ``sqrt(n_on + alpha^2 n_off)`` ([LiMa1983] eq. 3).

    Parameters
    ----------
    n_on, n_off : array_like
        Observed ON and OFF counts.
    alpha : array_like
        ON/OFF exposure ratio.

    Returns
    -------
    numpy.ndarray
        Error of the excess in counts.
    """
    n_on = _counts(n_on, "n_on")
    n_off = _counts(n_off, "n_off")
    return np.sqrt(n_on + _alpha(alpha) ** 2 * n_off)


def li_ma_significance(n_on: ArrayLike, n_off: ArrayLike, alpha: ArrayLike) -> np.ndarray:
    r"""Signed Li & Ma significance ([LiMa1983] eq. 17).

    .. math::

        S = \operatorname{sign}(n_{on} - \alpha n_{off}) \sqrt{2} \left[
            n_{on} \ln\!\left(\frac{1+\alpha}{\alpha} \frac{n_{on}}{n_{on}+n_{off}}\right)
          + n_{off} \ln\!\left((1+\alpha) \frac{n_{off}}{n_{on}+n_{off}}\right)\right]^{1/2}

    with ``0 ln 0 = 0``, so zero ON or OFF counts are allowed. It equals the square root
    of the WStat likelihood-ratio test statistic for zero signal.

    Parameters
    ----------
    n_on, n_off : array_like
        Observed ON and OFF counts (non-negative).
    alpha : array_like
        ON/OFF exposure ratio (positive).

    Returns
    -------
    numpy.ndarray
        Significance in Gaussian sigmas, negative for a deficit; 0 where ``n_on = n_off = 0``.
    """
    n_on = _counts(n_on, "n_on")
    n_off = _counts(n_off, "n_off")
    alpha = _alpha(alpha)
    total = n_on + n_off
    with np.errstate(divide="ignore", invalid="ignore"):
        safe_total = np.where(total > 0, total, 1.0)
        term_on = _xlogy(n_on, (1 + alpha) / alpha * n_on / safe_total)
        term_off = _xlogy(n_off, (1 + alpha) * n_off / safe_total)
    ts = np.clip(2 * (term_on + term_off), 0, None)
    return np.sign(n_on - alpha * n_off) * np.sqrt(ts)


def cash_significance(n_on: ArrayLike, mu_bkg: ArrayLike) -> np.ndarray:
    r"""Signed significance of ON counts over a perfectly known background.

    .. math::

        S = \operatorname{sign}(n_{on} - \mu_b)
            \sqrt{2 \left[n_{on} \ln(n_{on} / \mu_b) - (n_{on} - \mu_b)\right]}

    the square root of the Cash likelihood-ratio test statistic for zero signal.

    Parameters
    ----------
    n_on : array_like
        Observed counts (non-negative).
    mu_bkg : array_like
        Known background counts (positive).

    Returns
    -------
    numpy.ndarray
        Significance in Gaussian sigmas, negative for a deficit.
    """
    n_on = _counts(n_on, "n_on")
    mu_bkg = np.asarray(mu_bkg, dtype=np.float64)
    if np.any(~np.isfinite(mu_bkg)) or np.any(mu_bkg <= 0):
        raise ValueError(f"mu_bkg must be finite and positive; got {mu_bkg!r}")
    ts = np.clip(2 * (_xlogy(n_on, n_on / mu_bkg) - (n_on - mu_bkg)), 0, None)
    return np.sign(n_on - mu_bkg) * np.sqrt(ts)
