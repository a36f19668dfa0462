"""The Poisson term against PyMC's own Poisson log-probability."""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.stats import poisson

from gammaprob.likelihood.poisson import VectorLog, poisson_logp, poisson_term, vector_log


@pytest.mark.parametrize(
    "mode", ["NUMBA", "FAST_COMPILE", pytest.param("JAX", marks=pytest.mark.jax)]
)
def test_poisson_logp_equals_scipy_with_edge_cases(mode):
    rng = np.random.default_rng(3)
    mu0 = rng.uniform(0.05, 5.0, 5000)
    counts = rng.poisson(mu0)
    mu0[:3] = [0.0, 0.0, -1.0]
    counts[:3] = [0, 2, 1]
    mu = pt.dvector("mu")
    f = pytensor.function([mu], poisson_logp(mu, counts), mode=mode)
    # under JAX (numpyro) a rewrite puts pytensor's log in place of the numpy call
    uses_op = any(isinstance(node.op, VectorLog) for node in f.maker.fgraph.apply_nodes)
    assert uses_op == (mode != "JAX")
    out = np.asarray(f(mu0))
    expected = poisson.logpmf(counts[3:], mu0[3:])
    np.testing.assert_allclose(out[3:], expected, rtol=1e-13, atol=1e-13)
    assert out[0] == 0.0 and out[1] == -np.inf and out[2] == -np.inf
    grad = np.asarray(
        pytensor.function([mu], pt.grad(vector_log(mu).sum(), mu), mode=mode)(mu0[3:])
    )
    np.testing.assert_allclose(grad, 1.0 / mu0[3:], rtol=1e-15)


def test_poisson_term_logp_grad_and_draws_match_pymc():
    rng = np.random.default_rng(4)
    mu0 = rng.uniform(0.1, 3.0, 2000)
    counts = rng.poisson(mu0)
    models = []
    for ours in (True, False):  # 2000 bins: numpy's log
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


def test_small_terms_use_pytensor_log():
    mu = pt.dvector("mu")
    f = pytensor.function([mu], poisson_logp(mu, np.array([0, 1, 4])))
    assert not any(isinstance(node.op, VectorLog) for node in f.maker.fgraph.apply_nodes)
    np.testing.assert_allclose(
        f(np.array([0.5, 1.5, 3.0])), poisson.logpmf([0, 1, 4], [0.5, 1.5, 3.0])
    )


def test_poisson_logp_rejects_bad_counts():
    with pytest.raises(ValueError, match="non-negative integers"):
        poisson_logp(pt.dvector("mu"), np.array([1.0, 0.5]))
