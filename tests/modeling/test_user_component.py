"""A user-defined component works end to end: registry, YAML, PyMC graph, inference."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pymc as pm
import pytest

from gammaprob.modeling import (
    LogUniform,
    Models,
    Normal,
    ParameterSpec,
    SkyModel,
    get_component,
    register,
)
from gammaprob.modeling.spectral import SpectralModel
from gammaprob.utils.xp import namespace


@register("TestHardCutoff", kind="spectral", aliases=("test-hard-cutoff",))
class HardCutoff(SpectralModel):
    """amplitude * E^-index * (1 + E / ecut)^-4 (a smooth hard cut-off)."""

    parameter_specs = (
        ParameterSpec("index", "", 2.0, (-math.inf, math.inf), Normal(2.0, 0.5)),
        ParameterSpec(
            "amplitude", "cm-2 s-1 TeV-1", 1e-12, (0, math.inf),
            LogUniform(1e-14, 1e-10, unit="cm-2 s-1 TeV-1"), "log",
        ),
        ParameterSpec("ecut", "TeV", 5.0, (0, math.inf), LogUniform(0.5, 50, unit="TeV"), "log"),
    )  # fmt: skip

    @staticmethod
    def evaluate(energy, index, amplitude, ecut):
        xp = namespace(energy, index, amplitude, ecut)
        return amplitude * xp.power(energy, -index) * xp.power(1.0 + energy / ecut, -4.0)


def test_registered_under_name_and_alias():
    assert get_component("TestHardCutoff") is HardCutoff
    assert get_component("test-hard-cutoff", "spectral") is HardCutoff
    with pytest.raises(ValueError, match="already used"):
        register("PowerLaw", kind="spectral")(type("Other", (SpectralModel,), {}))


def test_user_component_yaml_build_and_fit():
    truth = {"index": 2.2, "amplitude": 3e-12, "ecut": 4.0}
    model = SkyModel(HardCutoff(), name="toy")
    models = Models.from_yaml(Models([model]).to_yaml())
    spectral = models["toy"].spectral
    assert isinstance(spectral, HardCutoff) and spectral.ecut.is_free

    edges = np.geomspace(0.2, 50, 25)
    exposure = 2e14  # cm2 s (1e5 m2 x 55 h)
    expected = exposure * HardCutoff().integrate(edges[:-1], edges[1:], **truth)
    counts = np.random.default_rng(5).poisson(expected)
    with pm.Model() as pymc_model:
        params = models["toy"].build()["spectral"]
        npred = exposure * spectral.integrate_with(edges[:-1], edges[1:], params)
        pm.Poisson("toy::counts", mu=npred, observed=counts)
    start = {"toy::index": 2.0, "toy::amplitude_ln": 0.0, "toy::ecut_ln": 0.0}
    result = pm.find_MAP(
        model=pymc_model,
        initvals=start,
        progressbar=False,
        return_inferencedata=True,
        jitter=False,
    )
    fit = {k: float(v.values.squeeze()) for k, v in result["posterior"].data_vars.items()}
    assert fit["toy::index"] == pytest.approx(truth["index"], abs=0.15)
    assert fit["toy::amplitude"] == pytest.approx(truth["amplitude"], rel=0.2)
    assert fit["toy::ecut"] == pytest.approx(truth["ecut"], rel=0.4)
    assert spectral(1 * u.TeV).unit == u.Unit("cm-2 s-1 TeV-1")
