from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pymc as pm
import pytensor
import pytest
import scipy.stats as st

from gammaprob.modeling import (
    HalfNormal,
    LogNormal,
    LogUniform,
    Normal,
    Parameter,
    TruncatedNormal,
    Uniform,
    built_parameters,
)
from gammaprob.modeling import spectral as S

DNDE = u.Unit("cm-2 s-1 TeV-1")


def test_fixed_free_and_default_values():
    pl = S.PowerLaw(index=2.3, amplitude=2e-11 * u.Unit("cm-2 s-1 GeV-1"))
    assert pl.index.status == "fixed" and pl.index.value == 2.3
    assert pl.amplitude.value == pytest.approx(2e-8)  # converted to TeV-1
    assert pl.reference.status == "fixed" and pl.reference.value == 1.0
    free = S.PowerLaw()  # omitted parameters get the spec's default prior
    assert free.index.is_free and free.amplitude.is_free and not free.reference.is_free
    assert list(free.parameters.free) == ["index", "amplitude"]


def test_prior_given_in_other_units_is_converted():
    pl = S.PowerLaw(amplitude=LogUniform(1e-15, 1e-13, unit="cm-2 s-1 GeV-1"))
    assert pl.amplitude.prior.lower == pytest.approx(1e-12)
    assert pl.amplitude.prior.upper == pytest.approx(1e-10)
    # the reference value moves inside the prior when it was outside
    assert 1e-12 <= pl.amplitude.value <= 1e-10


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="outside its physical bounds"):
        S.PowerLaw(amplitude=-1e-12 * DNDE)
    with pytest.raises(ValueError, match=r"support \[-inf, inf\].*physical bounds"):
        S.PowerLaw(amplitude=Normal(1e-12, 1e-13, unit=DNDE))
    with pytest.raises(u.UnitConversionError, match="expects a quantity in 'TeV'"):
        S.PowerLaw(reference=1 * u.m)
    with pytest.raises(u.UnitConversionError, match="not convertible"):
        S.PowerLaw(amplitude=LogUniform(1e-12, 1e-10, unit="cm-2 s-1"))
    with pytest.raises(TypeError, match=r"no parameter\(s\) \['indx'\]"):
        S.PowerLaw(indx=2.0)
    with pytest.raises(TypeError, match="expected a number"):
        S.PowerLaw(index=[1, 2])
    with pytest.raises(ValueError, match="scaling must be"):
        Parameter("x", 1.0, scaling="sqrt")


def test_build_names_and_latent_scaling():
    pl = S.PowerLaw(
        index=Normal(2.5, 0.5),
        amplitude=LogUniform(1e-13, 1e-9, unit=DNDE),
    )
    with pm.Model() as model:
        params = pl.build("crab")
    assert params["reference"] == 1.0 and isinstance(params["reference"], np.float64)
    names = {v.name for v in model.free_RVs}
    assert names == {"crab::index", "crab::amplitude_ln"}
    assert [d.name for d in model.deterministics] == ["crab::amplitude"]
    # the latent variable is O(1): uniform in ln(amplitude / 1e-11)
    latent = model["crab::amplitude_ln"]
    lo, hi = latent.owner.inputs[-2:]
    assert (lo.eval(), hi.eval()) == pytest.approx((math.log(1e-2), math.log(1e2)))
    assert built_parameters(model) == {
        "crab::index": pl.index,
        "crab::amplitude": pl.amplitude,
        "crab::reference": pl.reference,
    }
    draws = pm.draw(model["crab::amplitude"], 4000, random_seed=2)
    assert st.kstest(draws, st.loguniform(1e-13, 1e-9).cdf).pvalue > 1e-3


@pytest.mark.parametrize(
    "prior",
    [HalfNormal(1e-11, unit=DNDE), LogNormal(math.log(1e-11), 1.0, unit=DNDE)],
    ids=["HalfNormal", "LogNormal"],
)
def test_log_scaling_samples_o1_latent_with_same_physical_prior(prior):
    pl = S.PowerLaw(index=2.0, amplitude=prior)
    with pm.Model() as model:
        pl.build("src")
    latent = model["src::amplitude_scaled"]
    assert [v.name for v in model.free_RVs] == ["src::amplitude_scaled"]
    median = np.median(pm.draw(latent, 2000, random_seed=1))
    assert 0.3 < median < 3.0  # O(1), although the amplitude is ~1e-11
    draws = pm.draw(model["src::amplitude"], 4000, random_seed=3)
    ref = (
        st.halfnorm(scale=1e-11) if isinstance(prior, HalfNormal) else st.lognorm(1.0, scale=1e-11)
    )
    assert st.kstest(draws, ref.cdf).pvalue > 1e-3


def test_numeric_scale_factor():
    p = Parameter(
        "x", 0.0, "TeV", bounds=(0, math.inf), prior=Uniform(1e3, 3e3, unit="GeV"), scaling=1e-3
    )
    assert p.latent_scale() == 1e-3 and p.prior.lower == 1.0
    with pm.Model() as model:
        from gammaprob.modeling import build_parameter

        x = build_parameter(p, "s::x")
    assert model["s::x_scaled"].owner.inputs[-2].eval() == pytest.approx(1000.0)
    assert pm.draw(x, 100, random_seed=1).max() <= 3.0


def test_linked_parameter_is_one_variable():
    index = Parameter("index", 2.0, prior=Normal(2.5, 0.3))
    a = S.PowerLaw(index=index)
    b = S.LogParabola(alpha=index)
    assert a.index is b.alpha
    with pm.Model() as model:
        pa = a.build("a")
        pb = b.build("b")
    assert pa["index"] is pb["alpha"]
    assert [v.name for v in model.free_RVs].count("a::index") == 1
    assert "b::alpha" not in model.named_vars
    with pytest.raises(u.UnitConversionError, match="cannot link"):
        S.PowerLaw(reference=index)


def test_user_tensor_as_parameter_hierarchical():
    with pm.Model() as model:
        mu = pm.Normal("mu_index", 2.5, 0.5)
        sources = [S.PowerLaw(index=mu + pm.Normal(f"d{i}", 0, 0.1)) for i in range(2)]
        built = [s.build(f"s{i}") for i, s in enumerate(sources)]
    assert sources[0].index.status == "tensor"
    assert {v.name for v in model.free_RVs} >= {"mu_index", "d0", "d1", "s0::amplitude_ln"}
    f = pytensor.function(
        [model["mu_index"], model["d0"]], built[0]["index"], on_unused_input="ignore"
    )
    assert f(2.0, 0.25) == pytest.approx(2.25)
    with pytest.raises(ValueError, match="cannot be written to YAML"):
        sources[0].to_dict()


def test_parameter_reprs():
    pl = S.PowerLaw(index=2.0, amplitude=LogUniform(1e-13, 1e-9, unit=DNDE))
    assert repr(pl) == (
        "PowerLaw(index=2, amplitude~LogUniform(lower=1e-13, upper=1e-09, "
        "unit='cm-2 s-1 TeV-1'), reference=1 TeV)"
    )
    assert "free" in repr(pl.parameters)
    assert repr(pl.index) == "Parameter('index', value=2)"


def test_truncated_prior_on_positive_parameter_is_accepted():
    ec = S.ExpCutoffPowerLaw(lambda_=TruncatedNormal(0.1, 0.5, 0.0, math.inf, unit="TeV-1"))
    assert ec.lambda_.is_free
    with pm.Model() as model:
        ec.build("x")
    assert "x::lambda_" in model.named_vars


def test_describe_priors_table():
    from gammaprob.modeling import describe_priors

    table = describe_priors(S.PowerLaw(index=Normal(2.5, 0.5)), quantiles=(0.05, 0.95))
    assert list(table["name"]) == ["index", "amplitude", "reference"]
    assert list(table["status"]) == ["free", "free", "fixed"]
    row = table[0]
    assert row["q_low"] == pytest.approx(st.norm(2.5, 0.5).ppf(0.05), abs=0.02)
    assert row["q_high"] == pytest.approx(st.norm(2.5, 0.5).ppf(0.95), abs=0.02)
    assert np.isnan(table[2]["q_low"]) and table[2]["unit"] == "TeV"
    assert table.meta["quantiles"] == [0.05, 0.95]


def test_components_pickle_and_copy():
    import pickle

    model = S.PowerLaw(index=Normal(2.0, 1.0)) * S.PowerLawNorm(norm=1.5, tilt=0.1)
    clone = pickle.loads(pickle.dumps(model))
    energy = [0.5, 5.0] * u.TeV
    np.testing.assert_array_equal(clone(energy).value, model(energy).value)
    # both children have a 'reference': names are prefixed
    assert list(model.parameters)[:2] == ["model1.index", "model1.amplitude"]
    assert clone.model1.index.prior == model.model1.index.prior
    copy = model.copy()
    assert copy.model1.index is not model.model1.index
    assert copy.model1.index.prior == model.model1.index.prior


def test_parameter_without_value_or_prior_says_what_to_do():
    from gammaprob.modeling import spectral

    for missing in (None, float("nan")):
        with pytest.raises(ValueError, match=r"has no value.*and no prior: give a number"):
            spectral.PowerLaw(index=missing)


def test_reference_value_of_free_and_tensor_parameters_is_bounds_checked():
    p = Parameter("x", 1.0, bounds=(0.0, 10.0), prior=Uniform(0.0, 5.0))
    p.value = 4.0  # a reference value inside the bounds is fine
    assert p.value == 4.0 and p.is_free
    with pytest.raises(ValueError, match=r"'x': reference value \(the parameter is free\) -1"):
        p.value = -1.0
    with pytest.raises(ValueError, match=r"reference value must be a number, got NaN"):
        p.value = float("nan")
    assert p.value == 4.0
    with pytest.raises(ValueError, match="outside its physical bounds"):
        Parameter("x", 1.0, bounds=(0.0, 10.0), prior=Uniform(0.0, 5.0), reference=11.0)
    t = Parameter("t", pytensor.tensor.dscalar("t"), bounds=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"reference value \(the parameter is tensor\) 2"):
        t.value = 2.0


def test_parameter_changed_after_build_makes_the_model_stale():
    from gammaprob.modeling.parameter import StaleModelError, check_built_parameters

    pl = S.PowerLaw(index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit=DNDE))
    with pm.Model() as model:
        pl.build("crab")
    check_built_parameters(model)  # nothing changed
    pl.index.value = 2.4  # a free parameter's reference value is not part of the model
    check_built_parameters(model)
    pl.index.set(Normal(3.0, 0.2))
    with pytest.raises(
        StaleModelError, match=r"'crab::index' \(free now\) changed after .*build_model"
    ):
        check_built_parameters(model)
    # building the same (changed) parameter into that model again refuses too
    with model, pytest.raises(StaleModelError, match="'crab::index'"):
        pl.build("crab")
    # a fixed value changed: the constant folded into the graph is stale
    pl.index.set(Normal(2.5, 0.5))
    pl2 = S.PowerLaw(index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit=DNDE))
    with pm.Model() as model2:
        pl2.build("src")
    pl2.reference.value = 2.0
    pl2.amplitude.set(1e-11)
    with pytest.raises(StaleModelError, match=r"'src::amplitude' \(fixed now\), 'src::reference'"):
        check_built_parameters(model2)
    # a new model built after the change is fine and uses the new values
    with pm.Model() as model3:
        params = pl2.build("src")
    check_built_parameters(model3)
    assert params["reference"] == 2.0


def test_describe_priors_prints_the_prior_and_four_digits():
    import pickle
    import re

    from gammaprob.modeling import describe_priors

    pl = S.PowerLaw(index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit=DNDE))
    table = describe_priors(pl)
    text = str(table)
    assert "..." not in text
    assert "Normal(mu=2.5, sigma=0.5)" in text
    assert "LogUniform(lower=1e-13, upper=1e-09)" in text
    # q_low of Normal(2.5, 0.5) at 5 %: 1.689 printed, full precision kept in the column
    q_low = table["q_low"][0]
    assert f"{q_low:.4g}" in text and repr(float(q_low)) not in text
    assert q_low == pytest.approx(st.norm(2.5, 0.5).ppf(0.05), abs=0.02)
    numbers = re.findall(r"\d\.\d+", text)
    assert numbers and max(len(n.split(".")[1]) for n in numbers) <= 3
    assert str(pickle.loads(pickle.dumps(table))) == text
