from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pymc as pm
import pytest
import scipy.stats as st

from gammaprob.modeling.prior import (
    PRIORS,
    Cauchy,
    Exponential,
    Gamma,
    HalfNormal,
    LogNormal,
    LogUniform,
    Normal,
    StudentT,
    TruncatedNormal,
    Uniform,
    prior_from_dict,
)

EXAMPLES = [
    Uniform(-1.0, 3.0),
    LogUniform(1e-3, 10.0),
    Normal(2.0, 0.5),
    LogNormal(0.3, 0.7),
    HalfNormal(2.0),
    TruncatedNormal(1.0, 2.0, 0.0, 4.0),
    StudentT(3.0, 1.0, 0.5),
    Cauchy(0.5, 2.0),
    Exponential(0.5),
    Gamma(2.0, 3.0),
]


def scipy_dist(p):
    """Independent reference density for each family."""
    match p:
        case Uniform():
            return st.uniform(p.lower, p.upper - p.lower)
        case LogUniform():
            return st.loguniform(p.lower, p.upper)
        case Normal():
            return st.norm(p.mu, p.sigma)
        case LogNormal():
            return st.lognorm(p.sigma, scale=math.exp(p.mu))
        case HalfNormal():
            return st.halfnorm(scale=p.sigma)
        case TruncatedNormal():
            a, b = (p.lower - p.mu) / p.sigma, (p.upper - p.mu) / p.sigma
            return st.truncnorm(a, b, loc=p.mu, scale=p.sigma)
        case StudentT():
            return st.t(p.nu, p.mu, p.sigma)
        case Cauchy():
            return st.cauchy(p.alpha, p.beta)
        case Exponential():
            return st.expon(scale=1 / p.lam)
        case Gamma():
            return st.gamma(p.alpha, scale=1 / p.beta)
    raise AssertionError(p)


def test_all_families_covered():
    # a hierarchical member has no density of its own (tests/inference/test_hierarchy.py)
    assert {type(p).__name__ for p in EXAMPLES} == set(PRIORS) - {"HierarchicalPrior"}


@pytest.mark.parametrize("prior", EXAMPLES, ids=lambda p: type(p).__name__)
def test_rescaled_density_is_the_transformed_density(prior):
    factor = 7.3
    dist, scaled = scipy_dist(prior), scipy_dist(prior.rescaled(factor))
    x = dist.ppf(np.linspace(0.05, 0.95, 7))
    np.testing.assert_allclose(scaled.logpdf(factor * x), dist.logpdf(x) - math.log(factor))
    assert prior.rescaled(factor).support() == pytest.approx(
        tuple(factor * s for s in prior.support())
    )


@pytest.mark.parametrize("prior", EXAMPLES, ids=lambda p: type(p).__name__)
def test_samples_follow_the_density(prior):
    draws = prior.sample(np.random.default_rng(1), 4000)
    assert draws.shape == (4000,)
    result = st.kstest(draws, scipy_dist(prior).cdf)
    assert result.pvalue > 1e-3


@pytest.mark.parametrize("prior", EXAMPLES, ids=lambda p: type(p).__name__)
def test_pymc_variable_has_the_same_density(prior):
    dist = scipy_dist(prior)
    x = dist.ppf(np.array([0.1, 0.4, 0.8]))
    with pm.Model() as model:
        out = prior.to_pymc("x")
    if isinstance(prior, LogUniform):  # uniform latent in ln(x / sqrt(lower upper))
        latent = model["x_ln"]
        ref = prior.typical()
        logp = pm.logp(latent, np.log(x / ref)).eval()
        np.testing.assert_allclose(logp - np.log(x), dist.logpdf(x), rtol=1e-10)
        np.testing.assert_allclose(pm.draw(out, 2000, random_seed=1).min(), prior.lower, rtol=0.05)
    elif isinstance(prior, TruncatedNormal):
        # PyMC evaluates the normalising constant in single precision (offset ~1e-8);
        # shape exact, constant to 1e-7
        logp = pm.logp(out, x).eval()
        np.testing.assert_allclose(np.diff(logp), np.diff(dist.logpdf(x)), rtol=1e-10)
        np.testing.assert_allclose(logp, dist.logpdf(x), rtol=1e-7)
    else:
        np.testing.assert_allclose(pm.logp(out, x).eval(), dist.logpdf(x), rtol=1e-10)


@pytest.mark.parametrize("prior", EXAMPLES, ids=lambda p: type(p).__name__)
def test_dict_round_trip(prior):
    data = prior.to_dict()
    assert prior_from_dict(data) == prior
    assert data["type"] == type(prior).__name__


def test_quantity_hyper_parameters_and_unit_conversion():
    p = Normal(1.0 * u.TeV, 100 * u.GeV)
    assert p.unit == u.TeV and p.sigma == pytest.approx(0.1)
    q = p.to_unit("GeV")
    assert (q.mu, q.sigma) == pytest.approx((1000.0, 100.0))
    ln = LogNormal(0.0, 1.0, unit="TeV").to_unit("GeV")
    assert ln.mu == pytest.approx(math.log(1000.0)) and ln.sigma == 1.0
    assert Exponential(2.0, unit="TeV").to_unit("GeV").lam == pytest.approx(2e-3)
    assert Gamma(2.0, 4.0, unit="TeV").to_unit("GeV").beta == pytest.approx(4e-3)
    with pytest.raises(u.UnitConversionError, match="not convertible"):
        p.to_unit("cm")


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: Uniform(2.0, 1.0), "lower < upper"),
        (lambda: LogUniform(0.0, 1.0), "0 < lower"),
        (lambda: Normal(0.0, -1.0), "sigma > 0"),
        (lambda: HalfNormal(0.0), "sigma > 0"),
        (lambda: Gamma(-1.0, 1.0), "alpha > 0"),
        (lambda: Exponential(0.0), "lam > 0"),
        (lambda: StudentT(0.0, 0.0, 1.0), "nu > 0"),
        (lambda: TruncatedNormal(0.0, 1.0, 2.0, 1.0), "lower < upper"),
        (lambda: Normal(0.0, float("nan")), "finite"),
    ],
)
def test_invalid_hyper_parameters(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_bad_construction_is_explicit():
    with pytest.raises(TypeError, match="unknown hyper-parameter 'scale'"):
        Normal(mu=0.0, scale=1.0)
    with pytest.raises(TypeError, match="missing"):
        Normal(0.0)
    with pytest.raises(TypeError, match="plain number"):
        StudentT(3.0 * u.TeV, 0.0, 1.0)
    with pytest.raises(ValueError, match="unknown prior type 'Beta'"):
        prior_from_dict({"type": "Beta", "alpha": 1, "beta": 1})


def test_priors_are_immutable_and_hashable():
    p = Normal(0.0, 1.0)
    with pytest.raises(AttributeError):
        p.mu = 3.0
    assert {p, Normal(0.0, 1.0)} == {p}
    assert repr(LogUniform(1e-3, 1.0, unit="TeV")) == (
        "LogUniform(lower=0.001, upper=1.0, unit='TeV')"
    )
