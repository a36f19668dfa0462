"""The joint-Crab pipeline: datasets, models, likelihood against gammapy, end-to-end run."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import yaml

from gammaprob.analysis import joint_crab as jc
from gammaprob.forward import SpectrumResponse, build_params
from gammaprob.likelihood import add_likelihood
from gammaprob.modeling import Models, SkyModel
from gammaprob.modeling.spectral import EnergyScale, LogParabola10

REFERENCE = Path(__file__).parents[2] / "validation" / "joint_crab" / "gammapy_reference.yaml"
N_FIT = {
    "fermi-obs0": 36,
    "magic-obs5029747": 50,
    "magic-obs5029748": 50,
    "veritas-obs54809": 45,
    "veritas-obs57993": 45,
    "fact-stacked": 36,
    "hess-obs23523": 30,
    "hess-obs23526": 32,
    "hess-obs23559": 32,
    "hess-obs23592": 30,
}


def test_published_facts():
    assert jc.INSTRUMENTS == ("fermi", "magic", "veritas", "fact", "hess")
    assert jc.ENERGY_RANGES["fermi"] == (0.03, 2.0)
    assert jc.ENERGY_RANGES["hess"] == (0.66, 30.0)
    assert jc.ENERGY_SCALE_SIGMA == {
        "fermi": 0.05,
        "magic": 0.15,
        "veritas": 0.15,
        "fact": 0.15,
        "hess": 0.15,
    }


def test_bad_input(monkeypatch, tmp_path):
    monkeypatch.delenv("GAMMAPY_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="GAMMAPY_DATA is not set"):
        jc.spectra_folder()
    with pytest.raises(FileNotFoundError, match="no joint-Crab spectra"):
        jc.spectra_folder(tmp_path)
    with pytest.raises(ValueError, match="subset of"):
        jc.load_joint_crab_datasets(["lst"], gammapy_data=tmp_path)
    with pytest.raises(ValueError, match="does not start with an instrument"):
        jc.dataset_instrument("lst-1")


def test_models_without_data():
    models = jc.joint_crab_models(False)
    assert models.names == ["crab"]
    free = [k for k, p in models["crab"].parameters.items() if p.is_free]
    assert free == ["amplitude", "alpha", "beta"]


@pytest.mark.requires_data
def test_datasets_and_models(gammapy_data):
    datasets = jc.load_joint_crab_datasets(gammapy_data=gammapy_data)
    assert {ds.name: int(ds.mask.sum()) for ds in datasets} == N_FIT
    for ds in datasets:  # every fitted bin lies inside the instrument's range
        e_min, e_max = jc.ENERGY_RANGES[jc.dataset_instrument(ds.name)]
        edges = ds.energy_axis.edges.to_value("TeV")
        assert edges[:-1][ds.mask].min() >= e_min * (1 - 1e-6)
        assert edges[1:][ds.mask].max() <= e_max * (1 + 1e-6)
    models = jc.joint_crab_models(True, datasets=datasets)
    assert models.names == [f"crab-{i}" for i in jc.INSTRUMENTS]
    assert models["crab-hess"].datasets_names == [n for n in N_FIT if n.startswith("hess")]
    inner = {id(m.spectral.model) for m in models}
    assert len(inner) == 1  # one physical spectrum shared by all instruments
    assert models["crab-fermi"].spectral.z.prior.sigma == 0.05
    back = Models.from_yaml(models.to_yaml())
    assert back["crab-magic"].spectral.model.alpha is back["crab-hess"].spectral.model.alpha


def _wstat_function(datasets, energy_scale: bool):
    """Total WStat as a function of (amplitude, alpha, beta10), z fixed at 0 when present."""
    amplitude, alpha, beta = pt.dscalar("amplitude"), pt.dscalar("alpha"), pt.dscalar("beta")
    lp = LogParabola10(amplitude=amplitude, alpha=alpha, beta=beta)
    if energy_scale:
        zero = pt.as_tensor(np.float64(0.0))
        groups = {}
        for ds in datasets:
            groups.setdefault(jc.dataset_instrument(ds.name), []).append(ds.name)
        models = [
            SkyModel(EnergyScale(lp, z=zero), name=f"crab-{k}", datasets_names=v)
            for k, v in groups.items()
        ]
    else:
        models = [SkyModel(lp, name="crab")]
    # build_model's steps, without its YAML provenance (which cannot hold tensors)
    with pm.Model() as model, pytest.warns(UserWarning, match="predictive"):
        responses = [SpectrumResponse.from_dataset(ds) for ds in datasets]
        add_likelihood(responses, models, build_params(models), onoff="wstat")
    total = -2.0 * pt.add(*model.potentials)
    return pytensor.function([amplitude, alpha, beta], total, mode="FAST_COMPILE")


@pytest.mark.requires_data
def test_wstat_at_gammapy_best_fit_equals_gammapy(gammapy_data):
    """Our total WStat at gammapy's ML parameters equals gammapy's fit statistic."""
    reference = yaml.safe_load(REFERENCE.read_text())["fits"]
    datasets = jc.load_joint_crab_datasets(gammapy_data=gammapy_data)
    ref = reference["joint"]
    args = (ref["amplitude"], ref["alpha"], ref["beta"])
    plain = float(_wstat_function(datasets, False)(*args))
    assert plain == pytest.approx(ref["stat_sum"], rel=1e-6)
    # the energy-scale model with z = 0 is the same likelihood
    scaled = float(_wstat_function(datasets, True)(*args))
    assert scaled == pytest.approx(plain, rel=1e-12)
    hess = [ds for ds in datasets if ds.name.startswith("hess")]
    ref = reference["hess"]
    stat = _wstat_function(hess, False)(ref["amplitude"], ref["alpha"], ref["beta"])
    assert float(stat) == pytest.approx(ref["stat_sum"], rel=1e-6)


@pytest.mark.requires_data
@pytest.mark.sampling
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::gammaprob.inference.ConvergenceWarning")  # short chains
def test_run_joint_crab_writes_result_and_report(gammapy_data, tmp_path, monkeypatch):
    monkeypatch.setenv("GAMMAPY_DATA", str(gammapy_data))
    result = jc.run_joint_crab(
        tmp_path / "out", instruments="fermi", draws=150, tune=150, chains=2, random_seed=1
    )
    assert (tmp_path / "out" / "result.nc").is_file()
    text = (tmp_path / "out" / "report.md").read_text()
    assert "68%" in text or "68 %" in text
    assert "fermi-obs0::counts" in result.posterior_predictive
    alpha = np.asarray(result.posterior["crab::alpha"])
    ref = yaml.safe_load(REFERENCE.read_text())["fits"]["fermi"]
    # a weakly informative prior: the posterior median sits within 1 sigma of the ML fit
    assert abs(np.median(alpha) - ref["alpha"]) < ref["alpha_err"]
    dnde = jc.spectrum_samples(result, [0.1, 1.0] * u.TeV)
    assert dnde.shape == (alpha.size, 2) and dnde.unit == u.Unit("cm-2 s-1 TeV-1")
    with pytest.raises(FileExistsError):
        jc.run_joint_crab(tmp_path / "out", instruments="fermi", draws=10, tune=10, chains=1)
