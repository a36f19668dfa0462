"""Convergence diagnostics checked after every run, with advice when they are poor.

Independent chains (NUTS, SMC) are checked with rank-normalised split R-hat and bulk/tail
effective sample sizes (Vehtari et al. 2021). The walkers of an affine-invariant ensemble
(emcee) are *not* independent chains (each move uses the other walkers), so R-hat and the
per-chain ESS do not apply to them; an ensemble is checked with the integrated
autocorrelation time ``tau`` of each parameter (emcee's estimator, the autocorrelation
function averaged over walkers), ``ESS = n_steps n_walkers / tau``, and a run length of at
least :data:`ENSEMBLE_MIN_TAU` ``tau`` (the length below which emcee says the ``tau``
estimate itself cannot be trusted).

Messages name the variables that fail and say whether physical (source) parameters are
affected or only nuisance parameters: per-bin OFF-background rates (``"<ds>::mu_off"``) and
background models (``"<ds>-bkg::<param>"``).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

__all__ = [
    "ENSEMBLE_MIN_TAU",
    "ConvergenceReport",
    "ConvergenceWarning",
    "check_convergence",
    "ensemble_autocorrelation",
    "is_nuisance",
]

#: An ensemble run must be at least this many autocorrelation times long (emcee's ``tol``).
ENSEMBLE_MIN_TAU = 50.0


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
    failing : tuple of str
        Variables failing the R-hat or ESS (or, for an ensemble, autocorrelation) checks.
    method : str
        ``"chains"`` (independent chains: R-hat, bulk/tail ESS) or ``"ensemble"``
        (walkers of one ensemble: autocorrelation time; ``rhat_max`` is NaN and
        ``ess_bulk_min``/``ess_tail_min`` are both ``n_steps n_walkers / tau``).
    tau_max : float
        Largest integrated autocorrelation time in steps (ensemble only; NaN otherwise).
    n_steps : int
        Steps per walker (ensemble) or draws per chain.
    """

    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    n_divergent: int
    n_max_treedepth: int
    bfmi_min: float
    n_draws: int
    problems: tuple[str, ...]
    failing: tuple[str, ...] = ()
    method: str = "chains"
    tau_max: float = float("nan")
    n_steps: int = 0

    @property
    def physical_affected(self) -> bool:
        """True when a failing variable is a physical (source) parameter, not a nuisance."""
        return any(not is_nuisance(name) for name in self.failing)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems

    def __str__(self) -> str:
        if self.method == "ensemble":
            lines = [
                f"ensemble (walkers are not independent chains: no R-hat) | autocorrelation "
                f"time max {self.tau_max:.1f} steps | steps {self.n_steps} "
                f"(need > {ENSEMBLE_MIN_TAU:.0f} tau) | ESS min {self.ess_bulk_min:.0f} "
                f"(= steps x walkers / tau) | draws {self.n_draws}"
            ]
        else:
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


def is_nuisance(name: str) -> bool:
    """Return True for a nuisance variable: an OFF-background rate or a background-model parameter.

    Parameters
    ----------
    name : str
        Posterior variable name (``"<source or dataset>::<parameter>"``).

    Returns
    -------
    bool
        True for ``"<ds>::mu_off"`` (latent OFF rates of on/off data) and for the parameters
        of background models ``"<ds>-bkg::<param>"`` (e.g. ``"<ds>-bkg::norm"``); False for
        source parameters and anything else.
    """
    owner, _, parameter = name.partition("::")
    if not parameter:
        return False
    return parameter == "mu_off" or parameter.startswith("mu_off_") or owner.endswith("-bkg")


def _per_variable(dataset, reduce) -> dict[str, float]:
    """``{variable: reduce(finite values)}`` of an ArviZ diagnostic (one number per variable)."""
    out = {}
    for name, array in dataset.data_vars.items():
        values = np.asarray(array.values, dtype=float).ravel()
        values = values[np.isfinite(values)]
        if values.size:
            out[str(name)] = float(reduce(values))
    return out


def ensemble_autocorrelation(posterior) -> dict[str, float]:
    """Integrated autocorrelation time of every posterior variable of an ensemble run.

    Uses :func:`emcee.autocorr.integrated_time` on ``(steps, walkers)`` per component, which
    averages the autocorrelation function over walkers (as emcee recommends for an
    ensemble); a variable's value is the largest over its components. Components that do
    not vary (constants) are skipped.

    Parameters
    ----------
    posterior : xarray.Dataset
        Posterior with dimensions ``chain`` (walkers) and ``draw`` (steps).

    Returns
    -------
    dict
        ``{variable: tau}`` in steps.
    """
    from emcee.autocorr import integrated_time

    out = {}
    for name, array in posterior.data_vars.items():
        other = [d for d in array.dims if d not in ("chain", "draw")]
        values = np.asarray(array.transpose("draw", "chain", *other).values, dtype=float)
        values = values.reshape(values.shape[0], values.shape[1], -1)
        varying = [k for k in range(values.shape[2]) if np.ptp(values[:, :, k]) > 0]
        if not varying:
            continue
        tau = integrated_time(values[:, :, varying], c=5, tol=0, quiet=True)
        out[str(name)] = float(np.max(tau))
    return out


_MAX_NAMED = 8


#: How :func:`_named` orders (worst first) and formats each kind of number.
_KINDS = {"rhat": (True, ".3f"), "ess": (False, ".0f"), "tau": (True, ".1f")}


def _named(values: dict[str, float], kind: str) -> str:
    """Return ``"a (1.031), b (1.012)"``: worst first, at most :data:`_MAX_NAMED` names."""
    reverse, fmt = _KINDS[kind]
    order = sorted(values, key=lambda n: values[n], reverse=reverse)
    shown = [f"{n} ({values[n]:{fmt}})" for n in order[:_MAX_NAMED]]
    more = len(order) - _MAX_NAMED
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _affected(names) -> str:
    """Say whether physical parameters fail or only nuisance parameters."""
    physical = [n for n in names if not is_nuisance(n)]
    if physical:
        return (
            "physical parameters are affected ("
            + ", ".join(physical[:_MAX_NAMED])
            + (" ..." if len(physical) > _MAX_NAMED else "")
            + ")"
        )
    return (
        "only nuisance parameters fail (OFF-background rates, background-model parameters); "
        "the physical parameters pass"
    )


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
    ensemble: bool | None = None,
) -> ConvergenceReport:
    """Check R-hat, bulk/tail ESS, divergences, tree depth and BFMI of a sampling result.

    For an ensemble run (emcee) the walkers are not independent chains: R-hat is not
    computed and the ESS is ``n_steps n_walkers / tau`` with the integrated autocorrelation
    time ``tau`` (:func:`ensemble_autocorrelation`); the run must be longer than
    :data:`ENSEMBLE_MIN_TAU` ``tau``. Messages name the failing variables and say whether
    physical parameters are affected or only nuisance parameters (:func:`is_nuisance`).

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
    ensemble : bool, optional
        Treat the chains as walkers of one ensemble. Default: True when the result's
        ``sampler`` (or ``ensemble``) attribute says emcee.

    Returns
    -------
    ConvergenceReport
        The numbers, the failing variables and the problems found.
    """
    import arviz as az

    posterior = result["posterior"].to_dataset()
    n_chains = posterior.sizes.get("chain", 1)
    n_draws = posterior.sizes.get("draw", 0)
    if ensemble is None:
        attrs = getattr(result, "attrs", {})
        ensemble = attrs.get("sampler") == "emcee" or bool(attrs.get("ensemble"))
    problems = []
    failing: list[str] = []
    tau_max = float("nan")
    if ensemble:
        taus = ensemble_autocorrelation(posterior)
        ess_by = {n: n_draws * n_chains / t for n, t in taus.items() if t > 0}
        tau_max = max(taus.values(), default=float("nan"))
        rhat = float("nan")
        ess_bulk = ess_tail = min(ess_by.values(), default=float("nan"))
        short = {n: t for n, t in taus.items() if n_draws < ENSEMBLE_MIN_TAU * t}
        if short:
            failing += list(short)
            problems.append(
                f"ensemble run of {n_draws} steps is shorter than {ENSEMBLE_MIN_TAU:.0f} "
                f"autocorrelation times for {_named(short, 'tau')} (tau in steps), so tau "
                f"and the ESS are unreliable; {_affected(list(short))}. Run at least "
                f"{int(np.ceil(ENSEMBLE_MIN_TAU * tau_max))} steps per walker (draws=), or "
                "use NUTS."
            )
        low = {n: e for n, e in ess_by.items() if e < ess_min}
        if low:
            failing += [n for n in low if n not in failing]
            problems.append(
                f"ensemble effective sample size (steps x walkers / autocorrelation time) "
                f"too small (< {ess_min:.0f}) for {_named(low, 'ess')}; {_affected(list(low))}. "
                "Run more steps or use NUTS."
            )
    else:
        if n_chains > 1:
            rhat_by = _per_variable(az.rhat(posterior), np.max)
            rhat = max(rhat_by.values(), default=float("nan"))
        else:
            rhat_by, rhat = {}, float("nan")
            problems.append("only one chain: R-hat cannot be computed; run at least 4 chains.")
        bulk_by = _per_variable(az.ess(posterior, method="bulk"), np.min)
        tail_by = _per_variable(az.ess(posterior, method="tail"), np.min)
        ess_bulk = min(bulk_by.values(), default=float("nan"))
        ess_tail = min(tail_by.values(), default=float("nan"))
        bad_rhat = {n: v for n, v in rhat_by.items() if v > rhat_max}
        if bad_rhat:
            failing += list(bad_rhat)
            problems.append(
                f"R-hat {rhat:.3f} > {rhat_max}: chains disagree for "
                f"{_named(bad_rhat, 'rhat')}; {_affected(list(bad_rhat))}. Run longer (more "
                "tune and draws), check for multimodality, or reparametrise strongly "
                "correlated parameters."
            )
        low = {
            n: min(bulk_by.get(n, np.inf), tail_by.get(n, np.inf))
            for n in {*bulk_by, *tail_by}
            if bulk_by.get(n, np.inf) < ess_min or tail_by.get(n, np.inf) < ess_min
        }
        if low:
            failing += [n for n in sorted(low) if n not in failing]
            problems.append(
                f"effective sample size too small (bulk {ess_bulk:.0f}, tail {ess_tail:.0f} < "
                f"{ess_min:.0f}) for {_named(low, 'ess')}; {_affected(list(low))}. Draw more "
                "samples or improve the parametrisation."
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
        failing=tuple(failing),
        method="ensemble" if ensemble else "chains",
        tau_max=tau_max,
        n_steps=int(n_draws),
    )
    if warn and problems:
        warnings.warn(
            "convergence checks failed:\n" + "\n".join(f"- {p}" for p in problems),
            ConvergenceWarning,
            stacklevel=2,
        )
    return report
