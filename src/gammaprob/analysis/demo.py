"""The ``gammaprob demo`` analysis: simulate, sample, summarise, report — no data needed.

A small on/off spectrum is simulated from the built-in parametric IRFs
(:func:`gammaprob.simulate.parametric_spectrum_dataset`) with a known log-parabola, the
posterior is sampled with NUTS, and the outputs are a summary table with the truth next to
the credible interval, the convergence report, the result (netCDF) and an HTML report with the
spectrum band and the posterior-predictive check.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np

__all__ = [
    "CI_PROB",
    "DEMO_TRUTH",
    "DemoResult",
    "demo_sky_model",
    "run_demo",
    "truth_table",
]

#: Credible level of the printed table and the report (always stated).
CI_PROB = 0.68
#: The simulated source: a log-parabola (natural log) at 1 TeV, about 25 % of the Crab.
DEMO_TRUTH = {"amplitude": 1.0e-11, "alpha": 2.4, "beta": 0.12}
SOURCE = "source"
DATASET = "simulated"
OUTPUTS = ("demo_result.nc", "demo_report.html")


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes
    ----------
    result : xarray.DataTree
        Posterior, sample statistics, log-likelihood and posterior predictive.
    table : astropy.table.Table
        Truth, median and equal-tailed interval at :data:`CI_PROB` per parameter.
    convergence : gammaprob.inference.ConvergenceReport
        The convergence checks.
    paths : dict
        Written files: ``{"result": ..., "report": ...}``.
    """

    result: object
    table: object
    convergence: object
    paths: dict


def demo_sky_model():
    """Return the demo's sky model: log-parabola with weakly informative priors at the truth.

    Priors: amplitude ``LogUniform(1e-13, 1e-9)`` cm-2 s-1 TeV-1, alpha ``Normal(2.5, 0.5)``,
    beta ``Normal(0.1, 0.2)``; reference energy 1 TeV (fixed). The parameters' values are
    :data:`DEMO_TRUTH`, which the simulation uses.
    """
    from ..modeling import LogUniform, Normal, SkyModel, spectral

    spectrum = spectral.LogParabola(
        amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1"),
        reference=1 * u.TeV,
        alpha=Normal(2.5, 0.5),
        beta=Normal(0.1, 0.2),
    )
    for key, value in DEMO_TRUTH.items():
        spectrum.parameters[key].value = value
    return SkyModel(spectrum, name=SOURCE)


def truth_table(result, truth: dict[str, float], ci_prob: float):
    """Posterior median and equal-tailed credible interval next to the true values.

    Parameters
    ----------
    result : xarray.DataTree
        Result with a ``posterior`` group holding ``"<source>::<name>"`` variables.
    truth : dict
        ``{"<source>::<name>": true value}`` in the canonical unit.
    ci_prob : float
        Credible level of the interval (given explicitly).

    Returns
    -------
    astropy.table.Table
        Columns parameter, truth, median, lower, upper, covered; ``meta["ci_prob"]``.
    """
    from astropy.table import Table

    if not 0 < ci_prob < 1:
        raise ValueError(f"ci_prob must be in (0, 1), got {ci_prob}")
    rows = []
    for name, true in truth.items():
        draws = np.asarray(result["posterior"][name].values, dtype=float).ravel()
        lo, med, hi = np.quantile(draws, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2])
        rows.append((name, true, med, lo, hi, bool(lo <= true <= hi)))
    table = Table(rows=rows, names=("parameter", "truth", "median", "lower", "upper", "covered"))
    table.meta["ci_prob"] = ci_prob
    for col in ("truth", "median", "lower", "upper"):
        table[col].format = ".4g"
    return table


def _spectrum_figure(result, model, ci_prob: float):
    import matplotlib.pyplot as plt

    from ..visualization import plot_spectrum_band

    post = result["posterior"]
    values = {k: np.asarray(post[f"{SOURCE}::{k}"].values).ravel()[::4] for k in DEMO_TRUTH}
    energy = np.geomspace(0.1, 50, 80)
    spectral = model.spectral
    params = {**spectral.values(), **{k: v[:, None] for k, v in values.items()}}
    dnde = spectral.evaluate_with(energy[None, :], params=params)
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_spectrum_band(
        energy * u.TeV, dnde * u.Unit("cm-2 s-1 TeV-1"), ci_prob=ci_prob, ax=ax, label="posterior"
    )
    truth = spectral.evaluate_with(energy)
    ax.plot(energy, energy**2 * truth, "k--", label="truth")
    ax.legend()
    return fig


def _predictive_figure(result, dataset, ci_prob: float):
    import matplotlib.pyplot as plt

    from ..visualization import plot_counts_predictive

    draws = np.asarray(result["posterior_predictive"][f"{DATASET}::counts"].values)
    fig, axes = plt.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, figsize=(6, 5)
    )
    plot_counts_predictive(
        dataset.energy_axis.edges,
        np.asarray(dataset.counts),
        draws.reshape(-1, dataset.energy_axis.nbin),
        ci_prob=ci_prob,
        title=f"{dataset.name} (ON counts)",
        axes=axes,
    )
    return fig


def check_outputs(output_dir: str | os.PathLike, overwrite: bool) -> dict[str, Path]:
    """Return the demo's output paths; refuse existing files unless ``overwrite``."""
    output_dir = Path(output_dir)
    paths = {"result": output_dir / OUTPUTS[0], "report": output_dir / OUTPUTS[1]}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{', '.join(existing)} already exist(s); choose another --output folder or pass "
            "--overwrite to replace them"
        )
    return paths


def run_demo(
    output_dir: str | os.PathLike,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    sampler: str = "nutpie",
    random_seed: int | None = 0,
    livetime: u.Quantity = 1 * u.h,
    overwrite: bool = False,
    progressbar: bool = True,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Simulate an on/off spectrum, sample its posterior and write the report.

    Parameters
    ----------
    output_dir : path-like
        Folder for ``demo_result.nc`` and ``demo_report.html`` (created if needed).
    draws, tune, chains : int
        NUTS settings (per chain); the defaults are those of
        :func:`gammaprob.inference.sample`.
    sampler : str
        Any sampler of :func:`gammaprob.inference.sample` (default: its default, nutpie).
    random_seed : int, optional
        Seed of the simulation and of the sampler.
    livetime : astropy.units.Quantity
        Simulated observation time.
    overwrite : bool
        Replace existing outputs (refused otherwise, before any work is done).
    progressbar : bool
        Show the sampler's progress bar.
    echo : callable
        Where progress messages and the summary go.

    Returns
    -------
    DemoResult
        Result tree, summary table, convergence report and written paths.
    """
    import matplotlib.pyplot as plt
    import pymc as pm

    from ..inference import build_model, check_convergence, check_model, sample, save_result
    from ..simulate import parametric_spectrum_dataset, simulate_spectrum_dataset
    from ..visualization import report

    paths = check_outputs(output_dir, overwrite)
    rng = np.random.default_rng(random_seed)
    model = demo_sky_model()
    template = parametric_spectrum_dataset(name=DATASET, livetime=livetime)
    dataset = simulate_spectrum_dataset(model, template, rng=rng, alpha=0.2)
    echo(
        f"Simulated {dataset.name!r}: {int(dataset.counts.sum())} ON and "
        f"{int(dataset.counts_off.sum())} OFF counts (alpha 0.2, {livetime}) from a log-parabola "
        f"with {', '.join(f'{k}={v:g}' for k, v in DEMO_TRUTH.items())}"
    )
    pm_model = build_model(dataset, model)
    check_model(pm_model)
    echo(f"Sampling with {sampler!r}: {chains} chains x ({tune} tune + {draws} draws)")
    result = sample(
        pm_model,
        draws=draws,
        tune=tune,
        chains=chains,
        sampler=sampler,
        random_seed=random_seed,
        progressbar=progressbar,
        check=False,
    )
    with pm_model:
        pm.sample_posterior_predictive(
            result,
            var_names=[f"{DATASET}::counts"],
            extend_inferencedata=True,
            random_seed=random_seed,
            progressbar=False,
        )
    truth = {f"{SOURCE}::{k}": v for k, v in DEMO_TRUTH.items()}
    table = truth_table(result, truth, CI_PROB)
    convergence = check_convergence(result, warn=False)
    echo(f"\nPosterior median and {CI_PROB:.0%} equal-tailed credible interval:")
    echo("\n".join(table.pformat(max_lines=-1, max_width=-1)))
    echo("\nConvergence: " + str(convergence))
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    save_result(result, paths["result"], overwrite=overwrite)
    figures = {
        "Spectrum: posterior median and band, with the truth": _spectrum_figure(
            result, model, CI_PROB
        ),
        "Posterior predictive check (ON counts)": _predictive_figure(result, dataset, CI_PROB),
    }
    try:
        report(
            result,
            paths["report"],
            ci_prob=CI_PROB,
            var_names=list(truth),
            figures=figures,
            title="gammaprob demo: simulated log-parabola spectrum",
            overwrite=overwrite,
        )
    finally:
        for fig in figures.values():
            plt.close(fig)
    echo(f"\nWrote {paths['result']} and {paths['report']}")
    return DemoResult(result=result, table=table, convergence=convergence, paths=paths)
