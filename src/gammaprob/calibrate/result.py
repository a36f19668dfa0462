"""The result of a simulation-based calibration run: ranks, tests, coverage and plots."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .ranks import chi2_test, coverage, ecdf_bands, ecdf_test

__all__ = ["LEVELS", "SBCResult"]

#: Central credible-interval levels of the coverage report.
LEVELS = (0.5, 0.68, 0.9, 0.95)


@dataclass
class SBCResult:
    """Ranks of the true values among thinned posterior draws, per variable.

    Attributes
    ----------
    ranks : dict of str to numpy.ndarray
        Rank (``0..n_draws``) of the truth in each replication, by scalar variable name.
    inside : dict of str to dict of float to numpy.ndarray
        Whether the truth lay in the central interval of each level in :data:`LEVELS`.
    n_draws : int
        Thinned posterior draws per replication (``L``).
    diagnostics : dict of str to numpy.ndarray
        Per replication: ``rhat_max``, ``ess_bulk_min``, ``n_divergent``, ``enough_ess``.
    """

    ranks: dict
    inside: dict
    n_draws: int
    diagnostics: dict = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: list, *, n_draws: int) -> SBCResult:
        """Assemble the per-replication records of :func:`~gammaprob.calibrate.run_sbc`."""
        names = list(records[0]["ranks"])
        ranks = {k: np.array([r["ranks"][k] for r in records], dtype=np.int64) for k in names}
        inside = {
            k: {lv: np.array([r["inside"][k][lv] for r in records]) for lv in LEVELS} for k in names
        }
        keys = records[0]["diagnostics"]
        diagnostics = {k: np.array([r["diagnostics"][k] for r in records]) for k in keys}
        return cls(ranks=ranks, inside=inside, n_draws=n_draws, diagnostics=diagnostics)

    @classmethod
    def concatenate(cls, results: list[SBCResult]) -> SBCResult:
        """Join runs of the same model (e.g. chunks with different ``random_seed``).

        Raises
        ------
        ValueError
            For no result, or results with other variables or another ``n_draws``.
        """
        if not results:
            raise ValueError("concatenate needs at least one SBCResult")
        first = results[0]
        for other in results[1:]:
            if set(other.ranks) != set(first.ranks) or other.n_draws != first.n_draws:
                raise ValueError(
                    f"cannot join SBC results of variables {sorted(other.ranks)} with L = "
                    f"{other.n_draws} to {sorted(first.ranks)} with L = {first.n_draws}"
                )
        ranks = {k: np.concatenate([r.ranks[k] for r in results]) for k in first.ranks}
        inside = {
            k: {lv: np.concatenate([r.inside[k][lv] for r in results]) for lv in LEVELS}
            for k in first.ranks
        }
        diagnostics = {
            k: np.concatenate([r.diagnostics[k] for r in results]) for k in first.diagnostics
        }
        return cls(ranks=ranks, inside=inside, n_draws=first.n_draws, diagnostics=diagnostics)

    @property
    def n_replications(self) -> int:
        """Number of replications ``N``."""
        return int(next(iter(self.ranks.values())).size)

    def rank_tests(self, *, n_sim: int = 2000, seed: int = 0) -> dict:
        """Uniformity p-values per variable: ``ecdf`` (simultaneous bands) and ``chi2``.

        ``ecdf_corrected`` is the ECDF p-value times the number of variables (Bonferroni,
        capped at 1): compare it with the test level.
        """
        n = len(self.ranks)
        out = {}
        for name, ranks in self.ranks.items():
            p = ecdf_test(ranks, self.n_draws, n_sim=n_sim, seed=seed)
            out[name] = {
                "ecdf": p,
                "ecdf_corrected": min(1.0, p * n),
                "chi2": chi2_test(ranks, self.n_draws),
            }
        return out

    def coverage(self, *, band: float = 0.95) -> dict:
        """Nominal vs empirical coverage of the central intervals, per variable and level."""
        return {
            name: {f"{lv:.2f}": coverage(self.inside[name][lv], lv, band=band) for lv in LEVELS}
            for name in self.ranks
        }

    def summary(self) -> dict:
        """Plain numbers (for YAML): sizes, tests, coverage and diagnostics."""
        d = self.diagnostics
        return {
            "n_replications": self.n_replications,
            "n_draws": self.n_draws,
            "rank_tests": self.rank_tests(),
            "coverage": self.coverage(),
            "diagnostics": {
                "rhat_max": float(np.max(d["rhat_max"])),
                "ess_bulk_min": float(np.min(d["ess_bulk_min"])),
                "divergences": int(np.sum(d["n_divergent"])),
                "replications_below_ess": int(np.sum(~d["enough_ess"].astype(bool))),
            },
        }

    def _axes(self, axes):
        import matplotlib.pyplot as plt

        n = len(self.ranks)
        if axes is None:
            _, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.8), squeeze=False)
            axes = axes[0]
        axes = np.atleast_1d(axes)
        if axes.size != n:
            raise ValueError(f"need {n} axes (one per variable), got {axes.size}")
        return axes

    def plot_ranks(self, axes=None, *, n_bins: int = 20, band: float = 0.99):
        """Rank histograms with the ``band`` binomial range of a uniform histogram.

        Returns
        -------
        numpy.ndarray of matplotlib.axes.Axes
        """
        from scipy.stats import binom

        axes = self._axes(axes)
        n = self.n_replications
        edges = np.linspace(-0.5, self.n_draws + 0.5, n_bins + 1)
        p = 1.0 / n_bins
        lo, hi = binom.interval(band, n, p)
        for ax, (name, ranks) in zip(axes, self.ranks.items(), strict=True):
            ax.axhspan(lo, hi, color="0.85", label=f"{band:.0%} uniform")
            ax.hist(ranks, bins=edges, histtype="step", color="C0")
            ax.set_xlabel("rank")
            ax.set_title(name, fontsize=9)
        axes[0].set_ylabel("replications")
        return axes

    def plot_ecdf(self, axes=None, *, alpha: float = 0.05):
        """ECDF of the fractional ranks minus the uniform CDF, with simultaneous bands.

        Returns
        -------
        numpy.ndarray of matplotlib.axes.Axes
        """
        axes = self._axes(axes)
        z, lower, upper = ecdf_bands(self.n_replications, self.n_draws, alpha=alpha)
        for ax, (name, ranks) in zip(axes, self.ranks.items(), strict=True):
            ecdf = np.array([(ranks < k).mean() for k in np.round(z * (self.n_draws + 1))])
            ax.fill_between(z, lower - z, upper - z, step="mid", color="0.85")
            ax.step(z, ecdf - z, where="mid", color="C0")
            ax.axhline(0, color="0.5", lw=0.5)
            ax.set_xlabel("fractional rank")
            ax.set_title(name, fontsize=9)
        axes[0].set_ylabel(f"ECDF - uniform ({1 - alpha:.0%} band)")
        return axes
