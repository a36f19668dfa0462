"""The ``gammaprob`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..inference.samplers import SAMPLERS, SamplerNotInstalledError
from .environment import environment_report


@click.group()
@click.version_option(package_name="gammaprob")
def main() -> None:
    """Gammaprob: Bayesian gamma-ray astronomy from DL3 to posteriors."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def info(as_json: bool) -> None:
    """Print versions, the compute backend and where data are found."""
    report = environment_report()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    _print_report(report)


@main.command()
@click.option(
    "--output",
    "output_dir",
    type=click.Path(file_okay=False),
    default="gammaprob-demo",
    show_default=True,
    help="Folder for the result (netCDF) and the HTML report.",
)
@click.option(
    "--joint-crab/--simulated",
    "joint_crab",
    default=None,
    help="Analyse the public joint-Crab spectra (needs GAMMAPY_DATA) or a simulated spectrum. "
    "Default: the joint Crab when $GAMMAPY_DATA/joint-crab exists, else the simulation.",
)
@click.option("--draws", default=1000, show_default=True, help="Draws per chain.")
@click.option("--tune", default=1000, show_default=True, help="Tuning steps per chain.")
@click.option("--chains", default=4, show_default=True, help="Number of chains.")
@click.option(
    "--sampler",
    type=click.Choice(SAMPLERS),
    default="nutpie",
    show_default=True,
    help="Sampler (see gammaprob.inference.sample).",
)
@click.option("--seed", default=0, show_default=True, help="Random seed (simulation and sampler).")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
def demo(
    output_dir: str,
    joint_crab: bool | None,
    draws: int,
    tune: int,
    chains: int,
    sampler: str,
    seed: int,
    overwrite: bool,
    progress: bool,
) -> None:
    """Run the default analysis: works on a fresh install with no data present.

    Without data: simulate an on/off spectrum from built-in parametric IRFs with a known
    log-parabola, sample the posterior, print the summary (truth next to the 68 % interval) and
    the convergence checks, and write the HTML report. With GAMMAPY_DATA set: the joint-Crab
    analysis of the five instruments' spectra (use --simulated to force the simulation).
    """
    from .demo import run_demo

    data = environment_report()["GAMMAPY_DATA"]
    has_crab = data["found"] and (Path(data["value"]) / "joint-crab" / "spectra").is_dir()
    if joint_crab is None:
        joint_crab = has_crab
        if has_crab:
            click.echo(
                "GAMMAPY_DATA found: running the joint-Crab analysis (--simulated: the demo)."
            )
        else:
            click.echo("No GAMMAPY_DATA: running the simulated demo (no data needed).")
    try:
        if joint_crab:
            if not has_crab:
                raise click.UsageError(
                    "--joint-crab needs $GAMMAPY_DATA/joint-crab/spectra; set GAMMAPY_DATA "
                    "(gammapy download datasets) or use --simulated"
                )
            _run_joint_crab(output_dir, sampler, draws, tune, chains, seed, overwrite, progress)
        else:
            run_demo(
                output_dir,
                draws=draws,
                tune=tune,
                chains=chains,
                sampler=sampler,
                random_seed=seed,
                overwrite=overwrite,
                progressbar=progress,
                echo=click.echo,
            )
    except (FileExistsError, SamplerNotInstalledError) as exc:
        raise click.ClickException(str(exc)) from exc


def _run_joint_crab(output_dir, sampler, draws, tune, chains, seed, overwrite, progress) -> None:
    from ..inference import check_convergence
    from .joint_crab import run_joint_crab

    output_dir = Path(output_dir)
    for name in ("result.nc", "report.html"):
        if (output_dir / name).exists() and not overwrite:
            raise FileExistsError(
                f"{output_dir / name} already exists; choose another --output folder or pass "
                "--overwrite to replace it"
            )
    click.echo(f"Joint Crab: {chains} chains x ({tune} tune + {draws} draws) with {sampler!r}")
    result = run_joint_crab(
        output_dir,
        sampler=sampler,
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=seed,
        progressbar=progress,
        report_format="html",
        overwrite=overwrite,
        check=False,  # the report is printed below, once
    )
    import arviz as az

    names = [v for v in result["posterior"].data_vars if not v.endswith(("::mu_off", "_ln"))]
    summary = az.summary(result, var_names=names, ci_prob=0.68, ci_kind="eti", round_to="none")
    click.echo("Posterior mean, sd and 68% equal-tailed credible interval:")
    click.echo(summary.to_string(float_format=lambda x: f"{x:.4g}"))
    click.echo("Convergence: " + str(check_convergence(result, warn=False)))
    click.echo(f"Wrote {output_dir / 'result.nc'} and {output_dir / 'report.html'}")


def _print_report(report: dict) -> None:
    click.echo(f"gammaprob {report['gammaprob']} on Python {report['python']}")
    for name, version in report["packages"].items():
        click.echo(f"  {name:<10} {version}")
    for name, version in report["optional"].items():
        click.echo(f"  {name:<10} {version or '(not installed)'}")
    click.echo(f"  pytensor   {report['pytensor_linker']}")
    data = report["GAMMAPY_DATA"]
    if data["found"]:
        click.echo(f"GAMMAPY_DATA: {data['value']}")
    else:
        click.echo("GAMMAPY_DATA: not set or not a folder (analyses of public data unavailable)")
