"""Reading gammapy model files: priors only from the file or a named policy; did-you-mean."""

from __future__ import annotations

import logging

import pytest
import yaml

from gammaprob.modeling import LogNormal, LogUniform, Models, Normal, Uniform

GAMMAPY_FILE = """
components:
-   name: src
    type: SkyModel
    spectral:
        type: PowerLawSpectralModel
        parameters:
        -   {name: index, value: 2.4, frozen: false, error: 0.1}
        -   {name: amplitude, value: 2.0e-12, unit: cm-2 s-1 TeV-1, frozen: false,
             error: 4.0e-13}
        -   {name: reference, value: 1.0, unit: TeV, frozen: true}
    spatial:
        type: GaussianSpatialModel
        frame: icrs
        parameters:
        -   {name: lon_0, value: 83.6, unit: deg, frozen: true}
        -   {name: lat_0, value: 22.0, unit: deg, frozen: true}
        -   {name: sigma, value: 0.2, unit: deg, frozen: false}
"""


def test_free_parameters_without_priors_are_refused_and_listed():
    with pytest.raises(ValueError) as info:
        Models.from_yaml(GAMMAPY_FILE)
    text = str(info.value)
    for name in ("PowerLaw.index", "PowerLaw.amplitude", "Gaussian.sigma"):
        assert f"src: {name}" in text
    assert "prior_policy='broad'" in text


def test_broad_policy_priors_are_logged_and_recorded(caplog):
    with caplog.at_level(logging.INFO, logger="gammaprob.modeling"):
        models = Models.from_yaml(GAMMAPY_FILE, prior_policy="broad")
    src = models["src"]
    assert src.spectral.index.prior == Normal(2.4, 1.0)
    assert src.spectral.amplitude.prior == LogUniform(2e-14, 2e-10, unit="cm-2 s-1 TeV-1")
    assert src.spatial.sigma.prior == LogUniform(0.002, 20.0, unit="deg")
    assert not src.spatial.lon_0.is_free and not src.spectral.reference.is_free
    assert src.meta["prior_policy"] == "broad"
    assert src.meta["priors"]["PowerLaw.index"] == repr(Normal(2.4, 1.0))
    assert models.prior_record["priors"]["src"] == src.meta["priors"]
    assert "prior_policy='broad' gives PowerLaw.index ~ Normal" in caplog.text
    # the record survives our YAML
    again = Models.from_yaml(models.to_yaml())
    assert again["src"].meta["priors"] == src.meta["priors"]


def test_catalog_errors_policy_uses_the_file_errors_and_fixes_those_without():
    models = Models.from_yaml(GAMMAPY_FILE, prior_policy="catalog-errors", k=3)
    src = models["src"]
    index = src.spectral.index.prior
    assert isinstance(index, Normal) and (index.mu, index.sigma) == pytest.approx((2.4, 0.3))
    amplitude = src.spectral.amplitude.prior
    assert isinstance(amplitude, LogNormal)
    assert amplitude.sigma == pytest.approx(3 * 4e-13 / 2e-12)
    # sigma has no error: it stays fixed, and says so
    assert not src.spatial.sigma.is_free
    assert src.meta["fixed"] == ["Gaussian.sigma"] and src.meta["prior_k"] == 3.0


def test_unknown_policy_and_k_without_catalog_errors():
    with pytest.raises(ValueError, match="did you mean 'broad'"):
        Models.from_yaml(GAMMAPY_FILE, prior_policy="braod")
    with pytest.raises(ValueError, match="k= is used by the 'catalog-errors' prior policy only"):
        Models.from_yaml(GAMMAPY_FILE, prior_policy="broad", k=2)


def test_priors_in_the_file_need_no_policy():
    data = yaml.safe_load(GAMMAPY_FILE)
    params = data["components"][0]["spectral"]["parameters"]
    params[0]["prior"] = {
        "type": "GaussianPrior",
        "parameters": [{"name": "mu", "value": 2.3, "unit": ""}, {"name": "sigma", "value": 0.2}],
        "weight": 1,
    }
    params[1]["prior"] = {
        "type": "LogUniformPrior",
        "parameters": [{"name": "min", "value": 1e-13}, {"name": "max", "value": 1e-10}],
    }
    data["components"][0]["spatial"]["parameters"][2]["prior"] = {
        "type": "Uniform",
        "lower": 0.05,
        "upper": 0.5,
        "unit": "deg",
    }
    src = Models.from_dict(data)["src"]
    assert src.spectral.index.prior == Normal(2.3, 0.2)
    assert src.spectral.amplitude.prior == LogUniform(1e-13, 1e-10, unit="cm-2 s-1 TeV-1")
    assert src.spatial.sigma.prior == Uniform(0.05, 0.5, unit="deg")
    assert "prior_policy" not in src.meta
    params[0]["prior"]["weight"] = 2
    with pytest.raises(ValueError, match="weight 2"):
        Models.from_dict(data)
    params[0]["prior"] = {"type": "GausianPrior", "parameters": []}
    with pytest.raises(ValueError, match="did you mean 'GaussianPrior'"):
        Models.from_dict(data)


@pytest.mark.parametrize(
    ("path", "value", "hint"),
    [
        (("components", 0, "type"), "SkyModle", "did you mean 'SkyModel'"),
        (("components", 0, "spectral", "type"), "PowerLawSpectralModl", "'PowerLawSpectralModel'"),
        (("components", 0, "spatial", "type"), "GausianSpatialModel", "'GaussianSpatialModel'"),
        (("components", 0, "spectral", "parameters", 0, "name"), "indx", "did you mean 'index'"),
    ],
)
def test_did_you_mean_for_types_and_parameter_names(path, value, hint):
    data = yaml.safe_load(GAMMAPY_FILE)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=hint):
        Models.from_dict(data, prior_policy="broad")


@pytest.mark.requires_data
@pytest.mark.parametrize(
    ("name", "policy"),
    [
        ("fermi-3fhl-crab/Fermi-LAT-3FHL_models.yaml", "catalog-errors"),
        ("estimators/crab_hess_fp/models.yaml", "broad"),
    ],
)
def test_real_gammapy_files_need_a_policy(gammapy_data, name, policy):
    path = gammapy_data / name
    with pytest.raises(ValueError, match="gammaprob does not invent priors"):
        Models.read(path)
    models = Models.read(str(path), prior_policy=policy)
    free = [k for k, p in models.parameters.items() if p.is_free]
    recorded = [
        f"{m}::{p.split('.')[-1]}" for m, ps in models.prior_record["priors"].items() for p in ps
    ]
    assert free and sorted(free) == sorted(recorded)
