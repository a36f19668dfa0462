"""``gammaprob demo``: simulate, sample, summarise and report, through the command line."""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner

from gammaprob.analysis.cli import main
from gammaprob.analysis.demo import DEMO_TRUTH, demo_sky_model, truth_table


@pytest.mark.sampling
# PyMC's NUTS meets an overflowing energy in early tuning and counts it as a divergence.
@pytest.mark.filterwarnings("ignore:overflow encountered in dot:RuntimeWarning")
def test_demo_runs_and_writes_report(tmp_path, monkeypatch):
    monkeypatch.delenv("GAMMAPY_DATA", raising=False)
    out = tmp_path / "demo"
    args = ["demo", "--output", str(out), "--draws", "100", "--tune", "100", "--chains", "2"]
    args += ["--sampler", "pymc", "--no-progress", "--seed", "3"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "No GAMMAPY_DATA: running the simulated demo" in result.output
    assert "68% equal-tailed credible interval" in result.output
    assert "R-hat max" in result.output
    for name, value in DEMO_TRUTH.items():
        row = re.search(rf"source::{name}\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", result.output)
        truth, median, lower, upper = map(float, row.groups())
        assert truth == pytest.approx(value)
        assert lower < median < upper
        width = upper - lower
        assert abs(median - truth) < 3 * width  # ~4.4 sigma: the posterior covers the truth
    html = (out / "demo_report.html").read_text()
    assert "68%" in html and "Posterior predictive check" in html and "Spectrum" in html
    assert (out / "demo_result.nc").stat().st_size > 0
    # never overwrite without --overwrite, and say how
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0
    assert "already exist" in again.output and "--overwrite" in again.output


def test_demo_refuses_existing_outputs_before_any_work(tmp_path):
    (tmp_path / "demo_report.html").write_text("keep me")
    result = CliRunner().invoke(main, ["demo", "--simulated", "--output", str(tmp_path)])
    assert result.exit_code == 1
    assert "--overwrite" in result.output
    assert (tmp_path / "demo_report.html").read_text() == "keep me"


def test_demo_missing_sampler_and_missing_data_say_what_to_do(tmp_path, monkeypatch):
    from gammaprob.inference import samplers

    monkeypatch.setitem(samplers._REQUIRES, "nutpie", ("gammaprob_no_such_package",))
    result = CliRunner().invoke(
        main, ["demo", "--simulated", "--sampler", "nutpie", "--output", str(tmp_path / "x")]
    )
    assert result.exit_code == 1
    assert "pip install gammaprob_no_such_package (a dependency of gammaprob" in result.output
    monkeypatch.delenv("GAMMAPY_DATA", raising=False)
    result = CliRunner().invoke(main, ["demo", "--joint-crab", "--output", str(tmp_path / "y")])
    assert result.exit_code == 2
    assert "GAMMAPY_DATA" in result.output and "--simulated" in result.output


def test_defaults_are_those_of_sample_and_truth_table():
    import inspect

    import arviz as az

    from gammaprob.analysis.demo import run_demo
    from gammaprob.analysis.joint_crab import run_joint_crab
    from gammaprob.inference import sample

    defaults = {
        k: v.default for k, v in inspect.signature(sample).parameters.items() if k != "model"
    }
    assert defaults["sampler"] == "nutpie"
    # draws=None: 1000 per chain for a model without a hierarchy (the demo and the joint Crab)
    assert defaults["draws"] is None
    defaults["draws"] = 1000
    for runner in (run_demo, run_joint_crab):
        params = inspect.signature(runner).parameters
        for key in ("sampler", "draws", "tune", "chains"):
            assert params[key].default == defaults[key], (runner.__name__, key)
    assert inspect.signature(run_joint_crab).parameters["onoff"].default == "marginal"
    cli = {p.name: p.default for p in main.commands["demo"].params}
    assert (cli["sampler"], cli["draws"], cli["tune"], cli["chains"]) == ("nutpie", 1000, 1000, 4)
    rng = np.random.default_rng(0)
    tree = az.from_dict({"posterior": {"source::alpha": rng.normal(2.4, 0.1, (2, 5000))}})
    table = truth_table(tree, {"source::alpha": 2.4}, ci_prob=0.68)
    assert table.meta["ci_prob"] == 0.68
    assert table["lower"][0] == pytest.approx(2.3, abs=0.01)
    assert table["upper"][0] == pytest.approx(2.5, abs=0.01)
    assert bool(table["covered"][0])
    with pytest.raises(ValueError, match="ci_prob"):
        truth_table(tree, {"source::alpha": 2.4}, ci_prob=68)
    model = demo_sky_model()
    assert model.spectral.parameters["beta"].value == DEMO_TRUTH["beta"]
    assert model.spectral.parameters["alpha"].is_free


def test_gammapy_data_makes_joint_crab_the_default(tmp_path, monkeypatch):
    """With $GAMMAPY_DATA/joint-crab/spectra present, plain ``demo`` runs the joint Crab."""
    import arviz as az

    from gammaprob.analysis import joint_crab

    (tmp_path / "data" / "joint-crab" / "spectra").mkdir(parents=True)
    monkeypatch.setenv("GAMMAPY_DATA", str(tmp_path / "data"))
    calls = []

    def fake_run(output_dir, **kwargs):
        calls.append(kwargs)
        rng = np.random.default_rng(1)
        return az.from_dict({"posterior": {"crab::alpha": rng.normal(2.5, 0.1, (4, 200))}})

    monkeypatch.setattr(joint_crab, "run_joint_crab", fake_run)
    out = tmp_path / "crab"
    result = CliRunner().invoke(
        main, ["demo", "--output", str(out), "--draws", "200", "--sampler", "pymc", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "running the joint-Crab analysis" in result.output
    assert "crab::alpha" in result.output and "68%" in result.output
    assert calls == [
        {
            "sampler": "pymc",
            "draws": 200,
            "tune": 1000,
            "chains": 4,
            "random_seed": 5,
            "progressbar": True,
            "report_format": "html",
            "overwrite": False,
            "check": False,  # the convergence report is printed once, by the command
        }
    ]
    assert result.output.count("R-hat max") == 1
