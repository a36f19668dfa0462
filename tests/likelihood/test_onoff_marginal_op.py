"""The fused marginal on/off Op (:class:`MarginalOnOffLogp`) against independent computations."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode
from scipy.special import gammaln, logsumexp

from gammaprob.likelihood.onoff_marginal import (
    MarginalOnOffLogp,
    marginal_logp,
    marginal_logp_graph,
    onoff_marginal_term,
)

SHAPE, RATE = 0.25, 1e-4


def _closed_form(n_on, n_off, alpha, mu, shape=SHAPE, rate=RATE):
    """log P(n_on | n_off, mu) as a scipy log-sum-exp over the n_on + 1 splits (float64)."""
    k = np.arange(n_on + 1)
    r = n_off + shape
    terms = (
        gammaln(k + r)
        - gammaln(k + 1)
        - gammaln(r)
        + k * (np.log(alpha) - np.log1p(alpha + rate))
        + r * (np.log1p(rate) - np.log1p(alpha + rate))
        - gammaln(n_on - k + 1)
    )
    if mu == 0:
        return float(terms[-1])  # only k = n_on (no signal count) survives
    return float(logsumexp(terms + (n_on - k) * np.log(mu)) - mu)


def _bins(rng, n):
    counts = rng.poisson(rng.choice([0.5, 5.0, 40.0], n))
    counts[:4] = [0, 0, 3, 250]  # empty ON bins, and one with many terms
    counts_off = rng.poisson(rng.choice([0.3, 10.0, 300.0], n))
    counts_off[:3] = [0, 7, 0]  # empty OFF bins (NegBin shape 1/4 < 1)
    alpha = rng.choice([0.01, 0.2, 1.0, 5.0], n)
    return counts, counts_off, alpha


def _functions(counts, counts_off, alpha, shape=SHAPE, rate=RATE, mode=None):
    mu = pt.dvector("mu")
    fast = marginal_logp(mu, counts, counts_off, alpha, shape, rate)
    ref = marginal_logp_graph(counts, mu, counts_off, alpha, shape, rate, int(counts.max()))
    out = [fast, ref, pytensor.grad(fast.sum(), mu), pytensor.grad(ref.sum(), mu)]
    return pytensor.function([mu], out, mode=mode)


@pytest.mark.parametrize("mode", [None, Mode(linker="py", optimizer="fast_run")])
@pytest.mark.parametrize("scale", [1e-9, 1e-2, 1.0, 30.0, 1e4, 1e8])
def test_equals_padded_graph_and_scipy_over_a_wide_range_of_rates(mode, scale):
    """numba loop and Python perform: value to 1e-12, derivative to 1e-9 relative."""
    rng = np.random.default_rng(int(np.log10(scale) + 20))
    counts, counts_off, alpha = _bins(rng, 40)
    mu = scale * rng.uniform(0.1, 3.0, counts.size)
    fast, ref, g_fast, g_ref = _functions(counts, counts_off, alpha, mode=mode)(mu)
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=0)
    scipy_ref = [_closed_form(*b) for b in zip(counts, counts_off, alpha, mu, strict=True)]
    np.testing.assert_allclose(fast, scipy_ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(g_fast, g_ref, rtol=1e-9, atol=1e-12)


def test_zero_rate_value_and_right_derivative():
    """mu = 0: the no-signal term exactly, and the one-sided derivative a_1 / a_0 - 1."""
    counts, counts_off, alpha = np.array([0, 1, 6, 2]), np.array([0, 0, 4, 9]), np.full(4, 0.3)
    f = _functions(counts, counts_off, alpha)
    fast, ref, g_fast, _ = f(np.zeros(4))
    np.testing.assert_allclose(fast, ref, rtol=1e-13)
    h = 1e-7
    right = (f(np.full(4, h))[1] - ref) / h  # forward difference of the padded graph
    np.testing.assert_allclose(g_fast, right, rtol=1e-5)
    assert g_fast[0] == -1.0  # n_on = 0: log P = log NegBin(0) - mu


def test_negative_nan_and_extreme_rates():
    counts, counts_off = np.array([2, 0, 250, 3, 40]), np.array([3, 1, 0, 2, 5])
    alpha = np.array([0.5, 0.5, 1e-100, 0.5, 0.3])
    f = _functions(counts, counts_off, alpha)
    fast, _, grad, _ = f(np.array([-1.0, np.nan, 1e60, np.inf, 1e300]))
    assert fast[0] == -np.inf and grad[0] == 0.0
    assert np.isnan(fast[1]) and np.isnan(grad[1])
    # mu a_(j+1) / a_j ~ 1e160 overflows the running product: terms recomputed from logs
    assert fast[2] == pytest.approx(_closed_form(250, 0, 1e-100, 1e60), rel=1e-14)
    assert grad[2] == pytest.approx(250 / 1e60 - 1.0, rel=1e-14)
    assert fast[3] == -np.inf and grad[3] == 0.0
    assert fast[4] == -1e300 and grad[4] == -1.0


def test_verify_grad_and_no_second_derivative():
    counts, counts_off, alpha = _bins(np.random.default_rng(5), 12)
    pytensor.gradient.verify_grad(
        lambda mu: marginal_logp(mu, counts, counts_off, alpha, SHAPE, RATE).sum(),
        [np.random.default_rng(6).uniform(0.5, 20.0, counts.size)],
        rng=np.random.default_rng(7),
    )
    mu = pt.dvector("mu")
    g = pytensor.grad(marginal_logp(mu, counts, counts_off, alpha, SHAPE, RATE).sum(), mu)
    with pytest.raises(Exception, match="second derivative"):
        pytensor.grad(g.sum(), mu)


def test_observed_counts_use_the_op_and_other_counts_the_padded_graph():
    import pymc as pm

    counts, counts_off, alpha = np.array([0, 4, 9]), np.array([2, 0, 30]), np.full(3, 0.2)
    with pm.Model() as model:
        mu = pm.HalfNormal("mu", 3.0, shape=3)
        rv = onoff_marginal_term("ds", mu, counts, counts_off, alpha)
    ops = {type(n.op) for n in pytensor.graph.traversal.applys_between([], [model.logp()])}
    assert MarginalOnOffLogp in ops
    other = pm.logp(rv, np.array([1, 2, 3]))
    assert MarginalOnOffLogp not in {
        type(n.op) for n in pytensor.graph.traversal.applys_between([], [other])
    }
    mu_val = np.array([0.4, 1.0, 2.5])
    got = other.eval({model["mu"]: mu_val})
    values = zip([1, 2, 3], counts_off, alpha, mu_val, strict=True)
    ref = [_closed_form(n, m, a, s) for n, m, a, s in values]
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_jax_rewrite_gives_the_padded_graph():
    """JAX has no numba loop: its rewrites swap the Op for an equivalent padded graph."""
    from pytensor.graph.rewriting.db import RewriteDatabaseQuery

    jax_like = Mode(linker="py", optimizer=RewriteDatabaseQuery(include=["fast_run", "jax"]))
    counts, counts_off, alpha = _bins(np.random.default_rng(9), 20)
    mu = pt.dvector("mu")
    logp = marginal_logp(mu, counts, counts_off, alpha, SHAPE, RATE)
    out = [logp, pytensor.grad(logp.sum(), mu)]
    f_jax = pytensor.function([mu], out, mode=jax_like)
    f_numba = pytensor.function([mu], out)
    ops = {type(n.op) for n in f_jax.maker.fgraph.apply_nodes}
    assert MarginalOnOffLogp not in ops
    assert MarginalOnOffLogp in {type(n.op) for n in f_numba.maker.fgraph.apply_nodes}
    x = np.random.default_rng(10).uniform(0.2, 50.0, counts.size)
    for a, b in zip(f_jax(x), f_numba(x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_predictive_draws_are_a_compiled_graph_with_the_right_mean():
    """Prior/posterior predictive ON counts: no Python callback (no object-mode warning)."""
    import pymc as pm

    counts, off, alpha = np.array([5, 0, 12]), np.array([10, 3, 0]), np.array([0.2, 0.5, 0.1])
    with pm.Model() as model:
        signal = pm.HalfNormal("s", 5.0, shape=3)
        onoff_marginal_term("d", signal, counts, off, alpha)
    # warnings are errors: a Python ``random`` ran in numba's object mode with a UserWarning
    prior = pm.sample_prior_predictive(draws=20000, model=model, random_seed=1)
    draws = np.asarray(prior.prior_predictive["d::counts"]).reshape(-1, 3)
    assert draws.dtype == np.int64
    # E[n_on] = E[s] + alpha (n_off + shape) / (1 + rate)
    expected = np.asarray(prior.prior["s"]).reshape(-1, 3).mean(axis=0)
    expected += alpha * (off + SHAPE) / (1 + RATE)
    sd = draws.std(axis=0) / np.sqrt(draws.shape[0])
    assert np.all(np.abs(draws.mean(axis=0) - expected) < 4 * sd)
