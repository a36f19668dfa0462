"""Likelihood profiles of flux points (``likelihood`` SED type) as piecewise quadratics.

A point's profile ``stat_scan(norm)`` (``-2 log L`` on a grid of ``norm = dnde / ref_dnde``,
taken relative to the point's best-fit ``stat``) is interpolated by the quadratic B-spline
through the scan nodes and extrapolated with its end pieces, the interpolation gammapy's
``FluxPointsDataset(stat_type="profile")`` uses (``interp1d(kind="quadratic",
fill_value="extrapolate")``). The spline is converted once to polynomial pieces, so the graph
evaluates one quadratic per point: a comparison against the breakpoints picks the piece, no
search and no Python loop; the gradient in ``norm`` is the piece's derivative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PPoly, make_interp_spline

__all__ = ["ProfileTable"]


@dataclass(frozen=True, eq=False)
class ProfileTable:
    """Quadratic pieces of the norm profiles of ``n`` points.

    Attributes
    ----------
    breaks : numpy.ndarray
        Piece boundaries ``(n, m + 1)`` in norm (increasing per row; rows padded by repeating
        the last break, which never selects the padding).
    coeffs : numpy.ndarray
        ``(3, n, m)``: on piece ``j`` of point ``i``, ``stat = c0 d^2 + c1 d + c2`` with
        ``d = norm - breaks[i, j]``.
    """

    breaks: np.ndarray
    coeffs: np.ndarray

    @classmethod
    def from_scans(cls, norm_scan, stat_scan, stat=None) -> ProfileTable:
        """Build the pieces from scans ``(n, k)`` (``k >= 3``) and best-fit ``stat`` ``(n,)``.

        Without ``stat`` the profile is taken relative to its minimum on the scan.
        """
        norm_scan = np.atleast_2d(np.asarray(norm_scan, dtype=np.float64))
        stat_scan = np.atleast_2d(np.asarray(stat_scan, dtype=np.float64))
        if norm_scan.shape != stat_scan.shape or norm_scan.shape[1] < 3:
            raise ValueError(
                f"norm_scan and stat_scan must have the same shape (n, k >= 3), got "
                f"{norm_scan.shape} and {stat_scan.shape}"
            )
        if not (np.all(np.isfinite(norm_scan)) and np.all(np.isfinite(stat_scan))):
            raise ValueError("norm_scan and stat_scan must be finite (mask the other points)")
        if np.any(np.diff(norm_scan, axis=1) <= 0):
            raise ValueError("norm_scan must be strictly increasing along each point's scan")
        stat = stat_scan.min(axis=1) if stat is None else np.asarray(stat, dtype=np.float64)
        rows = []
        for x, y, s in zip(norm_scan, stat_scan, stat, strict=True):
            poly = PPoly.from_spline(make_interp_spline(x, np.abs(y - s), k=2))
            keep = np.flatnonzero(np.diff(poly.x) > 0)  # drop the zero-length end pieces
            rows.append((np.append(poly.x[keep], poly.x[keep[-1] + 1]), poly.c[:, keep]))
        m = max(c.shape[1] for _, c in rows)
        breaks = np.stack([np.pad(b, (0, m + 1 - b.size), mode="edge") for b, _ in rows])
        coeffs = np.stack(
            [np.pad(c, ((0, 0), (0, m - c.shape[1])), mode="edge") for _, c in rows], 1
        )
        return cls(breaks=breaks, coeffs=coeffs)

    def _pieces(self, norm, xp_sum, take):
        inner = self.breaks[:, 1:-1]
        n_pieces = self.coeffs.shape[2]
        # piece index: how many inner breaks lie at or below norm (end pieces extrapolate)
        idx = xp_sum(norm[:, None] >= inner, axis=1)
        idx = idx if n_pieces > 1 else idx * 0
        rows = np.arange(self.breaks.shape[0])
        d = norm - take(self.breaks, rows, idx)
        c0, c1, c2 = (take(c, rows, idx) for c in self.coeffs)
        return (c0 * d + c1) * d + c2

    def evaluate(self, norm):
        """``-2 log L`` relative to the best fit at ``norm`` ``(n,)`` (numpy array or tensor)."""
        from gammaprob.utils.xp import is_tensor

        if not is_tensor(norm):
            return self._pieces(
                np.asarray(norm, dtype=np.float64),
                lambda a, axis: np.sum(a, axis=axis),
                lambda a, r, i: a[r, i],
            )
        import pytensor.tensor as pt

        return self._pieces(
            norm,
            lambda a, axis: pt.sum(a, axis=axis, dtype="int64"),
            lambda a, r, i: pt.as_tensor_variable(a)[r, i],
        )

    def __repr__(self) -> str:
        return f"ProfileTable({self.breaks.shape[0]} points, {self.coeffs.shape[2]} pieces each)"
