from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import gammaprob
from gammaprob.analysis.cli import main
from gammaprob.analysis.config import AnalysisConfig


def test_info_json_reports_versions_and_data(monkeypatch, tmp_path):
    monkeypatch.setenv("GAMMAPY_DATA", str(tmp_path))
    result = CliRunner().invoke(main, ["info", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["gammaprob"] == gammaprob.__version__
    assert report["GAMMAPY_DATA"] == {"value": str(tmp_path), "found": True}
    assert report["packages"]["pymc"].split(".")[0] >= "6"


def test_version_option():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert gammaprob.__version__ in result.output


# ------------------------------------------------------------------ config, validate, run, report


@pytest.mark.parametrize("name", ["1d", "3d", "multi"])
def test_config_template_prints_a_valid_config(name):
    result = CliRunner().invoke(main, ["config", "--template", name])
    assert result.exit_code == 0, result.output
    assert "# " in result.output  # annotated
    config = AnalysisConfig.from_yaml(result.output, source=name)
    assert config.datasets


def test_config_template_writes_a_file_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "a.yaml"
    result = CliRunner().invoke(main, ["config", "--template", "3d", "--output", str(path)])
    assert result.exit_code == 0, result.output
    assert AnalysisConfig.read(path).datasets[0].type == "map"
    result = CliRunner().invoke(main, ["config", "--output", str(path)])
    assert result.exit_code == 1
    assert "already exists" in result.output
    result = CliRunner().invoke(main, ["config", "--template", "4d"])
    assert result.exit_code == 2
    assert "'4d' is not one of '1d', '3d', 'multi'" in result.output


def test_validate_accepts_a_template_and_names_bad_fields(tmp_path):
    path = tmp_path / "a.yaml"
    CliRunner().invoke(main, ["config", "--template", "multi", "--output", str(path)])
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output and "hawc (flux-points)" in result.output
    data = yaml.safe_load(path.read_text())
    data["datasets"][0]["background"] = {"method": "rflected"}
    data["sampler"]["chians"] = 2
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert (
        "datasets[0].background.method: expected one of reflected, wobble, ring, fov "
        "(got 'rflected')"
    ) in result.output
    assert "sampler: unknown key 'chians' (did you mean 'chains'?)" in result.output


def test_run_refuses_an_invalid_config(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("datasets: []\nmodels: {library: crab_logparabola}\n")
    result = CliRunner().invoke(main, ["run", str(path), "--no-progress"])
    assert result.exit_code == 1
    assert "datasets: list should have at least 1 item" in result.output
    assert not (tmp_path / "gammaprob-analysis").exists()


def test_run_reports_a_missing_data_store(tmp_path):
    data = yaml.safe_load(CliRunner().invoke(main, ["config"]).output)
    data["datasets"][0]["observations"]["datastore"] = "nowhere"
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["run", str(path), "--no-progress"])
    assert result.exit_code == 1
    assert f"datasets[hess].observations.datastore: no folder {tmp_path / 'nowhere'}" in (
        result.output
    )


CRAB_1D = """\
name: Crab 1D, two runs
datasets:
  - name: hess
    type: spectrum
    observations: {datastore: $GAMMAPY_DATA/hess-dl3-dr1, obs_ids: [23523, 23526]}
    on_region: {lon: 83.633, lat: 22.014, radius: 0.11}
    energy_axis: {min: 0.5, max: 40, nbins: 15}
    energy_axis_true: {min: 0.3, max: 60, nbins: 30}
    containment_correction: true
    background: {method: reflected}
    safe_mask: {methods: [aeff-max, edisp-bias, bkg-peak]}
models: {library: crab_logparabola}
priors:
  overrides: {"crab::beta": 0.0}   # a power law
sampler: {draws: 500, tune: 500, chains: 2, seed: 2}
products:
  flux_points: {source: crab, energy_edges: {min: 1, max: 10, nbins: 3}}
outputs: {directory: out, report: md}
"""


@pytest.fixture(scope="module")
def crab_run(tmp_path_factory):
    """``gammaprob run`` on a 1D H.E.S.S. DR1 Crab config (2 runs, power law)."""
    folder = tmp_path_factory.mktemp("crab1d")
    path = folder / "crab.yaml"
    path.write_text(CRAB_1D)
    result = CliRunner().invoke(main, ["run", str(path), "--no-progress"])
    return folder, result


@pytest.mark.requires_data
@pytest.mark.sampling
def test_run_crab_1d_end_to_end(crab_run):
    from gammaprob.datasets import FluxPoints
    from gammaprob.inference import check_convergence, load_result

    folder, result = crab_run
    assert result.exit_code == 0, result.output
    out = folder / "out"
    for name in ("result.nc", "report.md", "analysis.log", "analysis.yaml"):
        assert (out / name).is_file(), name
    assert "hess: reduced" in result.output
    assert "Time per step: observations" in result.output
    tree = load_result(out / "result.nc")
    assert check_convergence(tree, warn=False).ok
    assert set(tree.posterior.data_vars) >= {"crab::alpha", "crab::amplitude"}
    assert "crab::beta" not in tree.posterior  # fixed by the override
    index = tree.posterior["crab::alpha"].values
    amplitude = tree.posterior["crab::amplitude"].values
    # the Crab with two H.E.S.S. runs: index 2.6 +- 0.1, 3.6e-11 +- 0.4e-11 at 1 TeV
    assert 2.3 < np.median(index) < 2.9
    assert 2.5e-11 < np.median(amplitude) < 5e-11
    # provenance: the config and the reduction's content hash
    assert AnalysisConfig.from_yaml(tree.attrs["analysis_config"]).name == "Crab 1D, two runs"
    reduction = json.loads(tree.attrs["reduction"])
    assert reduction["hess"]["reused"] is False and reduction["hess"]["key"].startswith("sha256:")
    points = FluxPoints.read(out / "flux_points_crab.fits")
    assert len(points) == 3
    log = (out / "analysis.log").read_text()
    for step in ("observations", "datasets", "models", "sampling", "products", "write"):
        assert f"step {step}: " in log


@pytest.mark.requires_data
@pytest.mark.sampling
def test_report_command_writes_a_report(crab_run):
    folder, result = crab_run
    assert result.exit_code == 0, result.output
    target = folder / "again.html"
    args = ["report", str(folder / "out" / "result.nc"), "--output", str(target)]
    result = CliRunner().invoke(main, [*args, "--ci-prob", "0.9"])
    assert result.exit_code == 0, result.output
    html = target.read_text()
    assert "crab::alpha" in html and "90" in html
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "exists" in result.output


@pytest.mark.requires_data
@pytest.mark.sampling
def test_rerun_refuses_existing_outputs_then_overwrites(crab_run):
    folder, result = crab_run
    assert result.exit_code == 0, result.output
    path = folder / "crab.yaml"
    result = CliRunner().invoke(main, ["run", str(path), "--no-progress"])
    assert result.exit_code == 1
    assert "already exists; set outputs.overwrite: true" in result.output
