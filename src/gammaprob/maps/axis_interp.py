"""Interpolation of axis coordinates: pure functions on plain float arrays.

An axis is linear in a transformed space (``"lin"``: x, ``"log"``: log x, ``"sqrt"``: sqrt x);
pixel coordinates, centres and edges of centre-node axes are computed there.
"""

from __future__ import annotations

import numpy as np

__all__ = ["edges_from_centers", "forward", "interp_extrapolate", "inverse", "pix_to_idx"]


def forward(values: np.ndarray, interp: str) -> np.ndarray:
    """Map values into the space where the axis is linear."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if interp == "log":
            return np.log(values)
        if interp == "sqrt":
            return np.sqrt(values)
    return np.asarray(values, dtype=float)


def inverse(values: np.ndarray, interp: str) -> np.ndarray:
    """Inverse of :func:`_forward`."""
    if interp == "log":
        return np.exp(values)
    if interp == "sqrt":
        # sqrt(x) < 0 has no preimage: outside the domain of the axis
        return np.where(np.asarray(values) >= 0, np.square(values), np.nan)
    return np.asarray(values, dtype=float)


def interp_extrapolate(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation of ``fp(xp)`` at ``x`` with linear extrapolation.

    ``xp`` is strictly increasing with at least two points. NaN in ``x`` gives NaN.
    """
    x = np.asarray(x, dtype=float)
    idx = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)
    x0, x1 = xp[idx], xp[idx + 1]
    f0, f1 = fp[idx], fp[idx + 1]
    return f0 + (x - x0) * (f1 - f0) / (x1 - x0)


def edges_from_centers(centers: np.ndarray, interp: str) -> np.ndarray:
    """Bin edges halfway between centres in interpolation space, extrapolated at both ends."""
    t = forward(centers, interp)
    if len(t) < 2:
        raise ValueError("an axis with a single centre node has no defined bin edges")
    mid = 0.5 * (t[1:] + t[:-1])
    first = t[0] - 0.5 * (t[1] - t[0])
    if interp == "sqrt":
        first = max(first, 0.0)  # the first edge cannot go below zero
    last = t[-1] + 0.5 * (t[-1] - t[-2])
    return inverse(np.concatenate([[first], mid, [last]]), interp)


def pix_to_idx(pix, nbin: int, clip: bool = False) -> np.ndarray:
    """Round pixel coordinates to the nearest bin index.

    Parameters
    ----------
    pix : array-like
        Pixel coordinates (bin ``i`` spans ``[i - 0.5, i + 0.5)``).
    nbin : int
        Number of bins.
    clip : bool
        Clip to ``[0, nbin - 1]`` instead of returning ``-1`` outside.

    Returns
    -------
    numpy.ndarray of int64
        Indices; ``-1`` outside (unless ``clip``) and for NaN.
    """
    pix = np.asarray(pix, dtype=float)
    nan = np.isnan(pix)
    idx = np.floor(np.where(nan, 0.0, pix) + 0.5)
    idx = np.clip(idx, 0, nbin - 1) if clip else np.where((idx < 0) | (idx > nbin - 1), -1, idx)
    return np.where(nan, -1, idx).astype(np.int64)
