"""The Poisson term against PyMC's own Poisson log-probability; numba's log against numpy's."""

import warnings

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.stats import poisson

from gammaprob.likelihood.poisson import poisson_logp, poisson_term

MODES = ["NUMBA", "FAST_COMPILE", pytest.param("JAX", marks=pytest.mark.jax)]


@pytest.mark.parametrize("mode", MODES)
def test_poisson_logp_equals_scipy_with_edge_cases(mode):
    rng = np.random.default_rng(3)
    mu0 = rng.uniform(0.05, 5.0, 5000)
    counts = rng.poisson(mu0)
    mu0[:3] = [0.0, 0.0, -1.0]
    counts[:3] = [0, 2, 1]
    mu = pt.dvector("mu")
    f = pytensor.function([mu], poisson_logp(mu, counts), mode=mode)
    out = np.asarray(f(mu0))
    expected = poisson.logpmf(counts[3:], mu0[3:])
    np.testing.assert_allclose(out[3:], expected, rtol=1e-13, atol=1e-13)
    assert out[0] == 0.0 and out[1] == -np.inf and out[2] == -np.inf
    grad = pt.grad(poisson_logp(mu, counts[3:]).sum(), mu)
    grad = np.asarray(pytensor.function([mu], grad, mode=mode)(mu0[3:]))
    np.testing.assert_allclose(grad, counts[3:] / mu0[3:] - 1.0, rtol=1e-13, atol=1e-13)


#: log(0) = -inf, log(x < 0) = nan, and the other IEEE edge values, as numpy gives them
EDGE = np.array([0.0, -0.0, -1.0, -1e-300, -np.inf, np.inf, np.nan, 5e-324, 1.0, 1e308])


# (JAX, for numpyro only, flushes subnormal inputs to zero on CPU: log(5e-324) = -inf there)
@pytest.mark.parametrize("mode", ["NUMBA", "FAST_COMPILE"])
def test_compiled_log_is_numpys_at_edge_values_without_exception_or_object_mode(mode):
    rng = np.random.default_rng(5)
    values = np.concatenate(
        [EDGE, rng.uniform(0.0, 10.0, 10_000), 10 ** rng.uniform(-300, 300, 10_000)]
    )
    mu = pt.dvector("mu")
    with warnings.catch_warnings():
        # numba's fallback for an Op without a numba form warns "Numba will use object mode"
        warnings.simplefilter("error")
        f = pytensor.function([mu], pt.log(mu), mode=mode)
        out = np.asarray(f(values))
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.log(values)
    edge = out[: EDGE.size]
    np.testing.assert_array_equal(edge, expected[: EDGE.size])  # nan == nan here
    assert np.signbit(edge[0]) and np.isnan(edge[2]) and np.isnan(edge[3]) and edge[7] < -744
    # the same values as numpy's log: bitwise on x86-64 glibc (measured); at most one unit in
    # the last place allowed where numpy's SIMD log rounds differently (AVX-512 builds)
    np.testing.assert_array_max_ulp(out[EDGE.size :], expected[EDGE.size :], maxulp=1)


def test_poisson_logp_at_zero_rate_in_numba_gives_minus_inf_not_an_exception():
    mu = pt.dvector("mu")
    counts = np.array([0, 3, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = pytensor.function([mu], poisson_logp(mu, counts).sum(), mode="NUMBA")
        assert f(np.array([0.0, 0.0, 1.0, 2.0])) == -np.inf
        total = f(np.array([0.0, 1.5, 1.0, 2.0]))
    np.testing.assert_allclose(
        total, poisson.logpmf(counts, [0.0, 1.5, 1.0, 2.0]).sum(), rtol=1e-14
    )


def test_poisson_term_logp_grad_and_draws_match_pymc():
    rng = np.random.default_rng(4)
    mu0 = rng.uniform(0.1, 3.0, 2000)
    counts = rng.poisson(mu0)
    models = []
    for ours in (True, False):
        with pm.Model() as model:
            scale = pm.Normal("scale", 0.0, 1.0)
            rate = pt.as_tensor_variable(mu0) * pt.exp(scale)
            if ours:
                rv = poisson_term("d", rate, counts)
            else:
                pm.Poisson("d::counts", mu=rate, observed=counts)
        models.append(model)
    values = []
    for model in models:
        logp = model.logp()
        f = pytensor.function(model.value_vars, [logp, pt.grad(logp, model.value_vars[0])])
        values.append([float(v) for v in f(np.array(0.3))])
    np.testing.assert_allclose(values[0], values[1], rtol=1e-13)
    with pm.Model():
        draws = pm.draw(poisson_term("e", pt.as_tensor_variable(mu0), counts), 200, random_seed=1)
    assert draws.dtype == np.int64 and draws.shape == (200, 2000)
    np.testing.assert_allclose(draws.mean(), mu0.mean(), rtol=0.01)
    # another value than the observed counts: PyMC's own formula
    other = np.arange(2000) % 4
    value = pm.logp(rv, other).eval({models[0]["scale"]: 0.0})
    np.testing.assert_allclose(value, poisson.logpmf(other, mu0), rtol=1e-12)


def test_poisson_logp_rejects_bad_counts():
    with pytest.raises(ValueError, match="non-negative integers"):
        poisson_logp(pt.dvector("mu"), np.array([1.0, 0.5]))
