"""Convergence diagnostics checked after every run, with advice when they are poor."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

__all__ = ["ConvergenceReport", "ConvergenceWarning", "check_convergence"]


class ConvergenceWarning(UserWarning):
    """The sampler's output fails a convergence check; results may be unreliable."""


@dataclasses.dataclass(frozen=True)
class ConvergenceReport:
    """Summary of the convergence checks of one run.

    Attributes
    ----------
    rhat_max : float
        Largest rank-normalised split R-hat over all posterior variables.
    ess_bulk_min, ess_tail_min : float
        Smallest bulk and tail effective sample sizes.
    n_divergent : int
        Number of divergent transitions after tuning (NUTS only).
    n_max_treedepth : int
        Number of draws that hit the maximum tree depth (NUTS only).
    bfmi_min : float
        Smallest Bayesian fraction of missing information over chains (NUTS only; NaN otherwise).
    n_draws : int
        Total number of draws (chains x draws).
    problems : tuple of str
        One sentence per failed check, with advice.
    """

    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    n_divergent: int
    n_max_treedepth: int
    bfmi_min: float
    n_draws: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems

    def __str__(self) -> str:
        lines = [
            f"R-hat max {self.rhat_max:.4f} | ESS bulk min {self.ess_bulk_min:.0f} | "
            f"ESS tail min {self.ess_tail_min:.0f} | divergences {self.n_divergent} | "
            f"max-treedepth hits {self.n_max_treedepth} | BFMI min {self.bfmi_min:.2f} "
            f"| draws {self.n_draws}"
        ]
        lines += [f"  ! {p}" for p in self.problems]
        return "\n".join(lines)


def _min_over(tree_result) -> float:
    values = [np.asarray(v.values, dtype=float).ravel() for v in tree_result.data_vars.values()]
    values = [v for v in values if v.size]
    if not values:
        return float("nan")
    return float(np.nanmin(np.concatenate(values)))


def _max_over(tree_result) -> float:
    values = [np.asarray(v.values, dtype=float).ravel() for v in tree_result.data_vars.values()]
    values = [v for v in values if v.size]
    if not values:
        return float("nan")
    return float(np.nanmax(np.concatenate(values)))


def _stat(sample_stats, *names):
    for name in names:
        if sample_stats is not None and name in sample_stats:
            return np.asarray(sample_stats[name].values)
    return None


def check_convergence(
    result,
    *,
    rhat_max: float = 1.01,
    ess_min: float = 400.0,
    bfmi_min: float = 0.3,
    warn: bool = True,
) -> ConvergenceReport:
    """Check R-hat, bulk/tail ESS, divergences, tree depth and BFMI of a sampling result.

    Parameters
    ----------
    result : xarray.DataTree
        Output of :func:`gammaprob.inference.sample` (needs a ``posterior`` group; NUTS
        statistics are read from ``sample_stats`` where present).
    rhat_max : float
        Largest acceptable R-hat (Vehtari et al. 2021 recommend 1.01).
    ess_min : float
        Smallest acceptable bulk and tail effective sample size.
    bfmi_min : float
        Smallest acceptable energy BFMI per chain.
    warn : bool
        Emit a :class:`ConvergenceWarning` listing the problems.

    Returns
    -------
    ConvergenceReport
        The numbers and the problems found.
    """
    import arviz as az

    posterior = result["posterior"].to_dataset()
    n_chains = posterior.sizes.get("chain", 1)
    n_draws = posterior.sizes.get("draw", 0)
    problems = []
    if n_chains > 1:
        rhat = _max_over(az.rhat(posterior))
    else:
        rhat = float("nan")
        problems.append("only one chain: R-hat cannot be computed; run at least 4 chains.")
    ess_bulk = _min_over(az.ess(posterior, method="bulk"))
    ess_tail = _min_over(az.ess(posterior, method="tail"))
    if np.isfinite(rhat) and rhat > rhat_max:
        problems.append(
            f"R-hat {rhat:.3f} > {rhat_max}: chains disagree. Run longer (more tune and draws), "
            "check for multimodality, or reparametrise strongly correlated parameters."
        )
    if ess_bulk < ess_min or ess_tail < ess_min:
        problems.append(
            f"effective sample size too small (bulk {ess_bulk:.0f}, tail {ess_tail:.0f} < "
            f"{ess_min:.0f}): draw more samples or improve the parametrisation."
        )

    stats = result["sample_stats"].to_dataset() if "sample_stats" in result.children else None
    diverging = _stat(stats, "diverging")
    n_divergent = int(np.sum(diverging)) if diverging is not None else 0
    if n_divergent:
        problems.append(
            f"{n_divergent} divergent transitions: the posterior has regions of high curvature. "
            "Increase target_accept (e.g. 0.95-0.99), use tighter or better-scaled priors, or "
            "reparametrise; do not trust the posterior tails until they are gone."
        )
    treedepth = _stat(stats, "reached_max_treedepth", "maxdepth_reached")
    n_treedepth = int(np.sum(treedepth)) if treedepth is not None else 0
    if n_treedepth > 0.01 * max(n_chains * n_draws, 1):
        problems.append(
            f"{n_treedepth} draws hit the maximum tree depth: sampling is inefficient. Rescale "
            "parameters or raise max_treedepth."
        )
    bfmi = float("nan")
    if stats is not None and "energy" in stats:
        bfmi = _min_over(az.bfmi(result))
        if bfmi < bfmi_min:
            problems.append(
                f"energy BFMI {bfmi:.2f} < {bfmi_min}: the momentum resampling explores the "
                "posterior poorly; reparametrise (e.g. non-centred hierarchical priors)."
            )
    report = ConvergenceReport(
        rhat_max=rhat,
        ess_bulk_min=ess_bulk,
        ess_tail_min=ess_tail,
        n_divergent=n_divergent,
        n_max_treedepth=n_treedepth,
        bfmi_min=bfmi,
        n_draws=int(n_chains * n_draws),
        problems=tuple(problems),
    )
    if warn and problems:
        warnings.warn(
            "convergence checks failed:\n" + "\n".join(f"- {p}" for p in problems),
            ConvergenceWarning,
            stacklevel=2,
        )
    return report
