"""EnergyScale: the joint-Crab energy-scale nuisance ``phi(E / (1 + z)) / (1 + z)``."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest

from gammaprob.modeling import Models, SkyModel, built_parameters
from gammaprob.modeling.prior import LogUniform, Normal, TruncatedNormal
from gammaprob.modeling.spectral import (
    EnergyScale,
    LogParabola10,
    PowerLaw,
    energy_scale_prior,
)

ENERGY = np.geomspace(0.03, 30.0, 17)  # TeV
LO, HI = ENERGY[:-1], ENERGY[1:]
LP = {"amplitude": 3.8e-11, "reference": 1.0, "alpha": 2.52, "beta": 0.25}


def _lp() -> LogParabola10:
    return LogParabola10(
        amplitude=LP["amplitude"] * u.Unit("cm-2 s-1 TeV-1"), alpha=2.52, beta=0.25
    )


def _direct(energy, z):
    """The paper's formula written out independently (log10 curvature, E0 = 1 TeV)."""
    e = energy / (1.0 + z)
    x = np.log10(e / LP["reference"])
    return LP["amplitude"] * e ** (-LP["alpha"] - LP["beta"] * x) / (1.0 + z)


@pytest.mark.parametrize("z", [-0.2, 0.0, 0.13])
def test_evaluate_matches_formula(z):
    model = EnergyScale(_lp(), z=z)
    got = model(ENERGY * u.TeV).to_value("cm-2 s-1 TeV-1")
    np.testing.assert_allclose(got, _direct(ENERGY, z), rtol=1e-13, atol=0)


def test_power_law_has_the_closed_form():
    """For a power law the bias is an amplitude factor (1 + z)^(index - 1)."""
    z, index = 0.11, 2.3
    scaled = EnergyScale(PowerLaw(index=index), z=z)
    plain = PowerLaw(index=index)
    ratio = scaled(ENERGY * u.TeV) / plain(ENERGY * u.TeV)
    np.testing.assert_allclose(ratio.to_value(""), (1 + z) ** (index - 1), rtol=1e-13)
    # analytic-integral branch: integral over [lo, hi] / (1 + z)
    got = scaled.integrate_with(LO, HI)
    np.testing.assert_allclose(
        got, (1 + z) ** (index - 1) * plain.integrate_with(LO, HI), rtol=1e-12
    )


@pytest.mark.parametrize("inner", [_lp, PowerLaw])
def test_zero_bias_reproduces_the_model_exactly(inner):
    base = inner()
    model = EnergyScale(base, z=0.0)
    np.testing.assert_array_equal(model.evaluate_with(ENERGY), base.evaluate_with(ENERGY))
    np.testing.assert_array_equal(model.integrate_with(LO, HI), base.integrate_with(LO, HI))


def test_photon_number_is_conserved():
    """Integral over assigned-energy bins = integral of phi over the true-energy bins."""
    z = 0.14
    model = EnergyScale(_lp(), z=z)
    got = model.integrate_with(LO, HI)
    expected = _lp().integral(LO / (1 + z) * u.TeV, HI / (1 + z) * u.TeV).to_value("cm-2 s-1")
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    total = model.integral(0.1 * u.TeV, 10 * u.TeV).to_value("cm-2 s-1")
    direct = _lp().integral(0.1 / (1 + z) * u.TeV, 10 / (1 + z) * u.TeV).to_value("cm-2 s-1")
    assert total == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("inner", [_lp, PowerLaw])
def test_numpy_pytensor_parity(inner):
    model = EnergyScale(inner(), z=0.07)
    params = model.values()
    z = pt.dscalar("z")
    alpha_key = "alpha" if "alpha" in params["model"] else "index"
    a = pt.dscalar("a")
    symbols = {"z": z, "model": {**params["model"], alpha_key: a}}
    values = (0.07, params["model"][alpha_key])
    f = pytensor.function([z, a], model.evaluate_with(pt.as_tensor(ENERGY), params=symbols))
    np.testing.assert_allclose(f(*values), model.evaluate_with(ENERGY), rtol=1e-12, atol=0)
    g = pytensor.function([z, a], model.integrate_with(pt.as_tensor(LO), pt.as_tensor(HI), symbols))
    np.testing.assert_allclose(g(*values), model.integrate_with(LO, HI), rtol=1e-12, atol=0)


@pytest.mark.parametrize("inner", [_lp, PowerLaw])
def test_verify_grad(inner):
    model = EnergyScale(inner())
    params = model.values()
    ref = model.integrate_with(LO, HI, {"z": 0.05, "model": params["model"]})
    keys = [k for k in params["model"] if k not in ("reference", "amplitude")]
    start = [params["model"][k] for k in keys]

    def fun(z, *inner_values):
        inner_params = {**params["model"], **dict(zip(keys, inner_values, strict=True))}
        out = model.integrate_with(
            pt.as_tensor(LO), pt.as_tensor(HI), {"z": z, "model": inner_params}
        )
        return out / ref

    point = [np.asarray(0.05), *[np.asarray(v) for v in start]]
    pytensor.gradient.verify_grad(fun, point, rng=np.random.default_rng(1), eps=1e-7)

    def fun_energy(log_e):
        return model.evaluate_with(pt.exp(log_e), params={"z": 0.05, "model": params["model"]})

    pytensor.gradient.verify_grad(
        lambda x: (
            fun_energy(x)
            / model.evaluate_with(ENERGY, params={"z": 0.05, "model": params["model"]})
        ),
        [np.log(ENERGY)],
        rng=np.random.default_rng(2),
        eps=1e-7,
    )


def _shared_models():
    lp = LogParabola10(
        amplitude=LogUniform(1e-12, 1e-9, unit="cm-2 s-1 TeV-1"), alpha=Normal(2.5, 1.0)
    )
    return Models(
        [
            SkyModel(
                EnergyScale(lp, energy_scale_prior(0.05), prefix="crab"),
                name="a",
                datasets_names=["d1"],
            ),
            SkyModel(
                EnergyScale(lp, energy_scale_prior(0.15), prefix="crab"),
                name="b",
                datasets_names=["d2"],
            ),
        ]
    )


def test_shared_parameters_build_once_with_own_biases():
    models = _shared_models()
    with pm.Model() as model:
        for m in models:
            m.build()
    names = sorted(built_parameters(model))
    assert names == [
        "a::z",
        "b::z",
        "crab::alpha",
        "crab::amplitude",
        "crab::beta",
        "crab::reference",
    ]
    assert sorted(v.name for v in model.free_RVs) == [
        "a::z",
        "b::z",
        "crab::alpha",
        "crab::amplitude_ln",
        "crab::beta",
    ]
    sigma = {
        rv.name: float(rv.owner.inputs[-3].eval())
        for rv in model.free_RVs
        if rv.name.endswith("::z")
    }
    assert sigma == pytest.approx({"a::z": 0.05, "b::z": 0.15})


def test_yaml_round_trip_keeps_links_and_prefix():
    models = _shared_models()
    back = Models.from_yaml(models.to_yaml())
    a, b = back["a"].spectral, back["b"].spectral
    assert isinstance(a, EnergyScale) and a.prefix == "crab"
    assert a.model.alpha is b.model.alpha  # still one shared parameter
    assert a.z is not b.z
    assert isinstance(a.z.prior, TruncatedNormal) and a.z.prior.sigma == 0.05
    assert back.to_yaml() == models.to_yaml()


def test_bad_input():
    with pytest.raises(TypeError, match="wraps a SpectralModel"):
        EnergyScale("lp")
    with pytest.raises(ValueError, match="prefix"):
        EnergyScale(_lp(), prefix="a::b")
    with pytest.raises(ValueError, match="sigma"):
        energy_scale_prior(0.0)
    with pytest.raises(ValueError, match="bounds"):
        EnergyScale(_lp(), z=-1.5)
    with pytest.raises(ValueError, match="'z' parameter"):
        EnergyScale(EnergyScale(_lp())).parameters  # noqa: B018


def test_prior_truncation_is_negligible():
    prior = energy_scale_prior(0.15)
    lost = math.erfc(0.5 / 0.15 / math.sqrt(2))
    assert lost < 1e-3
    assert prior.support() == (-0.5, 0.5)
    assert "EnergyScale(LogParabola10" in repr(EnergyScale(_lp()))
