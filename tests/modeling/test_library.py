"""Every file of the top-level models/ library loads, builds and has the documented priors."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pymc as pm
import pytest

from gammaprob.modeling import (
    LogNormal,
    LogUniform,
    Models,
    Normal,
    describe_priors,
    prior_predictive_spectrum,
)

LIBRARY = Path(__file__).parents[2] / "models"
FILES = sorted(LIBRARY.glob("*.yaml"))


def test_library_is_not_empty():
    assert {f.name for f in FILES} >= {
        "crab_logparabola.yaml",
        "blazar_ebl_powerlaw.yaml",
        "point_gaussian_fov.yaml",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_library_file_loads_builds_and_round_trips(path):
    models = Models.read(path)
    assert Models.from_yaml(models.to_yaml()).to_yaml() == models.to_yaml()
    table = describe_priors(models)
    free = table[table["status"] == "free"]
    assert len(free) >= 2 and np.all(free["q_low"] < free["q_high"])
    with pm.Model() as model:
        models.build()
    assert len(model.free_RVs) == len(free)
    for m in models.select(type="SkyModel"):
        draws = prior_predictive_spectrum(m, [0.3, 1, 10] * u.TeV, 40, rng=0)
        assert np.all(np.isfinite(draws.value)) and np.all(draws.value > 0)


def test_crab_priors_are_as_documented():
    crab = Models.read(LIBRARY / "crab_logparabola.yaml")["crab"]
    assert crab.spectral.amplitude.prior == LogUniform(1e-12, 1e-9, unit="cm-2 s-1 TeV-1")
    assert crab.spectral.alpha.prior == Normal(2.5, 0.5)
    assert crab.spectral.beta.prior == Normal(0.1, 0.1)
    flux = crab.spectral(1 * u.TeV)
    assert flux.to_value("cm-2 s-1 TeV-1") == pytest.approx(3.85e-11)


def test_blazar_is_absorbed():
    blazar = Models.read(LIBRARY / "blazar_ebl_powerlaw.yaml")["pks2155"]
    assert blazar.spectral.redshift.value == 0.116 and not blazar.spectral.redshift.is_free
    ratio = blazar.spectral([0.1, 3] * u.TeV) / (2e-11 * np.array([0.1, 3]) ** -3.0)
    assert ratio[0].value > 0.9 and ratio[1].value < 0.3


def test_fov_background_priors():
    models = Models.read(LIBRARY / "point_gaussian_fov.yaml")
    bkg = models["dataset-1-bkg"]
    assert bkg.datasets_names == ["dataset-1"]
    assert bkg.spectral.norm.prior == LogNormal(0.0, 0.1)
    assert models["gaussian-src"].spatial.sigma.prior == LogUniform(0.01, 1.0, unit="deg")
