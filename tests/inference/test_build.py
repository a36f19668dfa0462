"""build_model on real spectra: names, user random variables, bad input."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammaprob.inference import build_model, model_metadata
from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral


def _dataset(gammapy_data):
    from gammaprob.datasets import read_ogip

    return read_ogip(gammapy_data / "joint-crab/spectra/hess/pha_obs23523.fits")


@pytest.mark.requires_data
def test_names_metadata_and_user_random_variable(gammapy_data):
    import pymc as pm

    dataset = _dataset(gammapy_data)
    with pm.Model() as model:
        index = pm.Normal("hyper_index", 2.5, 0.3)  # a user's own variable as a parameter
        crab = SkyModel(
            spectral=spectral.PowerLaw(
                index=index,
                amplitude=LogUniform(1e-12, 1e-9, unit="cm-2 s-1 TeV-1"),
                reference=1 * u.TeV,
            ),
            name="crab",
        )
    build_model([dataset], [crab], model=model)
    names = set(model.named_vars)
    assert {"hyper_index", "crab::amplitude", "23523::counts"} <= names
    # the default on/off treatment integrates the OFF rates out: no nuisance, one observed term
    assert not {"crab::index", "23523::counts_off", "23523::mu_off"} & names
    assert [rv.name for rv in model.observed_RVs] == ["23523::counts"]
    logp = model.compile_logp()(model.initial_point())
    assert np.isfinite(logp)
    meta = model_metadata(model)
    assert meta["model_yaml"] is None  # a user's tensor cannot be written as YAML
    assert list(meta["datasets"]) == ["23523"]
    assert meta["onoff"] == "marginal"


@pytest.mark.requires_data
def test_onoff_choice_has_one_name(gammapy_data):
    """``onoff=`` picks the on/off treatment; the former ``likelihood=`` is refused by name."""
    from gammaprob.likelihood import ONOFF_MODES

    dataset = _dataset(gammapy_data)
    crab = SkyModel(spectral=spectral.PowerLaw(index=Normal(2.5, 1), amplitude=1e-11), name="crab")
    assert ONOFF_MODES[0] == "marginal"
    latent = build_model([dataset], [crab], onoff="latent")
    assert {"23523::mu_off", "23523::counts_off"} <= set(latent.named_vars)
    assert model_metadata(latent)["onoff"] == "latent"
    with pytest.raises(TypeError, match=r"'likelihood', which was renamed: use onoff='latent'"):
        build_model([dataset], [crab], likelihood="latent")
    with pytest.raises(TypeError, match="unexpected keyword"):
        build_model([dataset], [crab], onof="latent")
    with pytest.raises(ValueError, match=r"former name: use onoff='wstat'"):
        build_model([dataset], [crab], onoff="profile")


@pytest.mark.requires_data
def test_bad_input_is_explained(gammapy_data):
    dataset = _dataset(gammapy_data)
    fixed = SkyModel(spectral=spectral.PowerLaw(index=2.5, amplitude=1e-11), name="crab")
    with pytest.raises(ValueError, match="no free parameter"):
        build_model([dataset], [fixed])
    free = SkyModel(
        spectral=spectral.PowerLaw(index=Normal(2.5, 1), amplitude=1e-11),
        name="crab",
        datasets_names=["not-there"],
    )
    with pytest.raises(ValueError, match="unknown dataset"):
        build_model([dataset], [free])
    with pytest.raises(ValueError, match="unique"):
        build_model([dataset, dataset], [free])
    with pytest.raises(TypeError, match="not supported"):
        build_model([object()], [free])


@pytest.mark.requires_data
def test_model_restricted_to_flux_points_beside_spectra(gammapy_data):
    """A model may name a flux-point dataset in ``datasets_names`` next to spectra."""
    from gammaprob.datasets import FluxPointsDataset

    spectrum = _dataset(gammapy_data)
    points = FluxPointsDataset.read(gammapy_data / "hawc/crab_flux/HAWC19_flux_points.fits")
    points = FluxPointsDataset("hawc", points.data)
    hess = SkyModel(
        spectral=spectral.PowerLaw(index=Normal(2.5, 1), amplitude=3e-11, reference=1 * u.TeV),
        name="crab-hess",
        datasets_names=["23523"],
    )
    hawc = SkyModel(
        spectral=spectral.PowerLaw(index=Normal(2.5, 1), amplitude=3e-11, reference=1 * u.TeV),
        name="crab",
        datasets_names=["hawc"],
    )
    model = build_model([spectrum, points], [hess, hawc])
    assert {"23523::counts", "hawc::dnde"} <= set(model.named_vars)
    assert np.isfinite(model.compile_logp()(model.initial_point()))
    # a name that is in no dataset is still refused
    hawc = SkyModel(spectral=hawc.spectral, name="crab", datasets_names=["hawc", "lhaaso"])
    with pytest.raises(ValueError, match=r"unknown dataset\(s\) \['lhaaso'\]"):
        build_model([spectrum, points], [hess, hawc])
