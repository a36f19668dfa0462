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


@main.command("run")
@click.argument("config_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (outputs.overwrite).")
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
def run_command(config_file: str, overwrite: bool, progress: bool) -> None:
    """Run the analysis of CONFIG_FILE (YAML) end to end.

    Selects and reduces the observations (reusing a cached reduction whose inputs are
    unchanged), reads the models, samples the posterior, estimates the products and writes
    the result (netCDF), the products (FITS), the report and analysis.log to
    outputs.directory.
    """
    from .analysis import Analysis, AnalysisError

    config = _read_config(config_file)
    if overwrite:
        config.outputs.overwrite = True
    analysis = Analysis(config, progress=progress)
    click.echo(f"{config.name}: outputs in {analysis.output_dir}")
    try:
        written = analysis.run()
    except (FileExistsError, AnalysisError, SamplerNotInstalledError) as exc:
        raise click.ClickException(str(exc)) from exc
    for block, info in analysis.reduction.items():
        if "reused" in info:
            state = "reused (inputs unchanged)" if info["reused"] else "reduced"
            click.echo(f"  {block}: {state}")
    click.echo("Time per step: " + ", ".join(f"{k} {v:.1f} s" for k, v in analysis.timings.items()))
    click.echo("Convergence: " + str(analysis.convergence))
    for name, path in written.items():
        click.echo(f"Wrote {name}: {path}")


@main.command("config")
@click.option(
    "--template",
    "name",
    type=click.Choice(["1d", "3d", "multi"]),
    default="1d",
    show_default=True,
    help="Which annotated template.",
)
@click.option(
    "--output",
    "output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the template to this file (default: print it).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
def config_command(name: str, output: str | None, overwrite: bool) -> None:
    """Print (or write) an annotated configuration template."""
    from ..utils.io import atomic_path
    from .templates import template

    text = template(name)
    if output is None:
        click.echo(text, nl=False)
        return
    if Path(output).exists() and not overwrite:
        raise click.ClickException(f"{output} already exists; pass --overwrite to replace it")
    with atomic_path(output, overwrite=overwrite) as tmp:
        tmp.write_text(text)
    click.echo(f"Wrote {output}")


@main.command("validate")
@click.argument("config_file", type=click.Path(exists=True, dir_okay=False))
def validate_command(config_file: str) -> None:
    """Check CONFIG_FILE: every field, its allowed values, unknown keys."""
    config = _read_config(config_file)
    blocks = ", ".join(f"{d.name} ({d.type})" for d in config.datasets)
    click.echo(f"{config_file} is valid: {config.name!r}; datasets: {blocks}")


@main.command("report")
@click.argument("result_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Report file, .html or .md (default: next to the result, report.html).",
)
@click.option(
    "--ci-prob",
    type=float,
    default=0.68,
    show_default=True,
    help="Credible level of the intervals (stated in the report).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing report.")
def report_command(result_file: str, output: str | None, ci_prob: float, overwrite: bool) -> None:
    """Write the posterior report of a result (netCDF written by gammaprob)."""
    from ..inference import load_result
    from ..visualization import report

    result = load_result(result_file)
    path = Path(output) if output else Path(result_file).with_name("report.html")
    try:
        written = report(result, path, ci_prob=ci_prob, overwrite=overwrite)
    except (FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Wrote {written}")


def _read_config(path: str):
    from .config import AnalysisConfig, ConfigError

    try:
        return AnalysisConfig.read(path)
    except ConfigError as exc:
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
