"""Uniformity tests of SBC ranks and coverage of central credible intervals.

Ranks are integers in ``0..L`` (``L`` posterior draws per replication); under a calibrated
inference they are discrete-uniform. Two tests:

* :func:`ecdf_test`: the empirical CDF of the ranks, evaluated at ``k / (L + 1)`` for
  ``k = 1..L``, against simultaneous bands (the simulation method of Säilynoja, Bürkner and
  Vehtari 2022, *Statistics and Computing* 32, 32): at each point ``N F(z_k)`` is
  ``Binomial(N, z_k)`` under uniformity; the statistic is the smallest two-sided binomial tail
  probability over all points, and its null distribution is simulated from uniform ranks, which
  gives both the band (the ``alpha`` quantile) and a p-value.
* :func:`chi2_test`: Pearson's chi-square over ``B`` groups of consecutive ranks with their
  exact expected counts.
"""

from __future__ import annotations

import numpy as np

__all__ = ["chi2_test", "coverage", "ecdf_bands", "ecdf_test"]


def _check_ranks(ranks, n_draws: int) -> np.ndarray:
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or ranks.size == 0:
        raise ValueError("ranks must be a non-empty 1D array")
    if not np.issubdtype(ranks.dtype, np.integer):
        raise ValueError(f"ranks must be integers in 0..{n_draws}, got dtype {ranks.dtype}")
    if ranks.min() < 0 or ranks.max() > n_draws:
        raise ValueError(
            f"ranks must lie in 0..{n_draws} (n_draws), got {ranks.min()}..{ranks.max()}"
        )
    return ranks.astype(np.int64)


def _grid(n_draws: int, n_points: int | None) -> np.ndarray:
    """Rank thresholds ``k`` (ECDF evaluated at ``k / (L + 1)``), at most ``n_points`` of them."""
    k = np.arange(1, n_draws + 1)
    if n_points is not None and n_points < k.size:
        k = np.unique(np.round(np.linspace(1, n_draws, n_points)).astype(np.int64))
    return k


def _min_tail(below: np.ndarray, n: int, z: np.ndarray) -> np.ndarray:
    """Smallest two-sided binomial tail probability over the grid (last axis)."""
    from scipy.stats import binom

    lower = binom.cdf(below, n, z)
    upper = binom.sf(below - 1, n, z)
    return np.min(np.minimum(1.0, 2.0 * np.minimum(lower, upper)), axis=-1)


def _null_statistics(n: int, n_draws: int, k: np.ndarray, n_sim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(n_sim)
    z = k / (n_draws + 1)
    for start in range(0, n_sim, 500):
        stop = min(n_sim, start + 500)
        sims = rng.integers(0, n_draws + 1, size=(stop - start, n))
        counts = np.apply_along_axis(np.bincount, 1, sims, minlength=n_draws + 1)
        below = np.cumsum(counts, axis=1)[:, k - 1]  # number of ranks < k
        out[start:stop] = _min_tail(below, n, z)
    return out


def ecdf_test(
    ranks, n_draws: int, *, n_points: int | None = 100, n_sim: int = 2000, seed: int = 0
) -> float:
    """P-value of the simultaneous ECDF test of discrete-uniform ranks.

    Parameters
    ----------
    ranks : array_like of int
        SBC ranks, each in ``0..n_draws``.
    n_draws : int
        Posterior draws per replication (``L``).
    n_points : int, optional
        ECDF evaluation points (default 100, spread evenly over ``1..L``; None: all ``L``).
    n_sim : int
        Uniform rank sets simulated for the null distribution (the p-value resolution is
        ``1 / n_sim``).
    seed : int
        Seed of the null simulation (the p-value is reproducible).

    Returns
    -------
    float
        Fraction of uniform rank sets whose smallest tail probability is at most the observed
        one (with the ``+1`` correction, so never 0).
    """
    ranks = _check_ranks(ranks, n_draws)
    k = _grid(n_draws, n_points)
    z = k / (n_draws + 1)
    below = np.array([(ranks < kk).sum() for kk in k])
    observed = _min_tail(below[None, :], ranks.size, z)[0]
    null = _null_statistics(ranks.size, n_draws, k, n_sim, seed)
    return float((1 + np.sum(null <= observed)) / (n_sim + 1))


def ecdf_bands(
    n: int,
    n_draws: int,
    *,
    alpha: float = 0.05,
    n_points: int | None = 100,
    n_sim: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simultaneous ``1 - alpha`` band of the ECDF of ``n`` uniform ranks.

    Returns
    -------
    z, lower, upper : numpy.ndarray
        Fractional ranks ``k / (L + 1)`` and the band of the ECDF there.
    """
    from scipy.stats import binom

    k = _grid(n_draws, n_points)
    z = k / (n_draws + 1)
    gamma = float(np.quantile(_null_statistics(n, n_draws, k, n_sim, seed), alpha))
    lower = binom.ppf(gamma / 2, n, z) / n
    upper = binom.ppf(1 - gamma / 2, n, z) / n
    return z, lower, upper


def chi2_test(ranks, n_draws: int, *, n_bins: int | None = None) -> float:
    """P-value of Pearson's chi-square test of ranks grouped into ``n_bins`` bins.

    Parameters
    ----------
    ranks : array_like of int
        SBC ranks in ``0..n_draws``.
    n_draws : int
        Posterior draws per replication (``L``).
    n_bins : int, optional
        Groups of consecutive ranks (default: ``N / 10`` rounded, between 2 and 20, at most
        ``L + 1``), with exact expected counts ``N * size / (L + 1)``.

    Returns
    -------
    float
        Chi-square p-value with ``n_bins - 1`` degrees of freedom.
    """
    from scipy.stats import chi2

    ranks = _check_ranks(ranks, n_draws)
    n = ranks.size
    if n_bins is None:
        n_bins = int(np.clip(round(n / 10), 2, 20))
    n_bins = min(int(n_bins), n_draws + 1)
    if n_bins < 2:
        raise ValueError("chi2_test needs at least 2 bins (n_draws >= 1)")
    group = (np.arange(n_draws + 1) * n_bins) // (n_draws + 1)
    size = np.bincount(group, minlength=n_bins)
    observed = np.bincount(group[ranks], minlength=n_bins)
    expected = n * size / (n_draws + 1)
    stat = float(np.sum((observed - expected) ** 2 / expected))
    return float(chi2.sf(stat, n_bins - 1))


def coverage(inside: np.ndarray, level: float, *, band: float = 0.95) -> dict:
    """Empirical coverage of one interval level with the binomial band of the nominal.

    Parameters
    ----------
    inside : numpy.ndarray of bool
        Whether the truth fell in the central ``level`` interval, per replication.
    level : float
        Nominal probability content.
    band : float
        Probability of the binomial band around the nominal coverage.

    Returns
    -------
    dict
        ``nominal``, ``empirical``, ``n``, the band ``lower``/``upper`` (fractions that
        ``n`` replications of a calibrated inference reach with probability ``band``) and
        ``within``.
    """
    from scipy.stats import binom

    inside = np.asarray(inside, bool)
    n = inside.size
    lo, hi = binom.interval(band, n, level)
    empirical = float(inside.mean())
    return {
        "nominal": float(level),
        "empirical": empirical,
        "n": int(n),
        "lower": float(lo / n),
        "upper": float(hi / n),
        "within": bool(lo / n <= empirical <= hi / n),
    }
