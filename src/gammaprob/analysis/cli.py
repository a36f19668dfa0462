"""The ``gammaprob`` command line."""

from __future__ import annotations

import json

import click

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
def demo() -> None:
    """Run the default analysis (works with no data present)."""
    report = environment_report()
    _print_report(report)


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
