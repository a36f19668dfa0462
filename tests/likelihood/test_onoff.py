"""WStat graph and the generative on/off likelihood: exact zero-count bins, finite gradients."""

from __future__ import annotations

import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.special import gammaln

from gammaprob.likelihood import onoff_term, wstat_graph, wstat_term
from gammaprob.stats import get_wstat_gof_terms, get_wstat_mu_bkg, wstat

# zero ON, zero OFF, both zero, large C < 0 (signal >> counts) and ordinary bins
COUNTS = np.array([0, 5, 0, 3, 40, 1, 0, 12])
COUNTS_OFF = np.array([4, 0, 0, 50, 10, 0, 7, 30])
ALPHA = np.array([0.2, 0.1, 0.5, 0.05, 0.3, 1.0, 0.25, 0.08])
MU_SIG = np.array([1.3, 2.0, 0.7, 80.0, 20.0, 3.5, 0.01, 9.0])


def _compile(expr, x):
    return pytensor.function([x], expr)


def test_wstat_graph_equals_numpy_including_zero_bins():
    x = pt.dvector("mu")
    f = _compile(wstat_graph(x, COUNTS, COUNTS_OFF, ALPHA), x)
    ours = f(MU_SIG)
    ref = wstat(n_on=COUNTS, n_off=COUNTS_OFF, alpha=ALPHA, mu_sig=MU_SIG)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)
    # n_on = n_off = 0: WStat is 2 mu_sig exactly
    assert ours[2] == pytest.approx(2 * MU_SIG[2], rel=1e-14)


def test_wstat_gradient_finite_and_correct_at_zero_bins():
    x = pt.dvector("mu")
    total = wstat_graph(x, COUNTS, COUNTS_OFF, ALPHA).sum()
    g = pytensor.function([x], pt.grad(total, x))(MU_SIG)
    assert np.all(np.isfinite(g))
    eps = 1e-6 * MU_SIG
    ref = [
        (
            wstat(
                n_on=COUNTS,
                n_off=COUNTS_OFF,
                alpha=ALPHA,
                mu_sig=MU_SIG + eps * (np.arange(8) == i),
            ).sum()
            - wstat(
                n_on=COUNTS,
                n_off=COUNTS_OFF,
                alpha=ALPHA,
                mu_sig=MU_SIG - eps * (np.arange(8) == i),
            ).sum()
        )
        / (2 * eps[i])
        for i in range(8)
    ]
    np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-7)
    pytensor.gradient.verify_grad(
        lambda m: wstat_graph(m, COUNTS, COUNTS_OFF, ALPHA).sum(),
        [MU_SIG],
        rng=np.random.default_rng(1),
    )


def test_wstat_potential_warns_and_adds_minus_half():
    import pymc as pm

    with pm.Model() as model:
        mu = pm.HalfFlat("mu", shape=8)
        with pytest.warns(UserWarning, match="predictive checks"):
            wstat_term("ds", mu, COUNTS, COUNTS_OFF, ALPHA)
    assert [p.name for p in model.potentials] == ["ds::wstat"]
    # the HalfFlat log-transform Jacobian is excluded by jacobian=False
    logp = model.compile_logp(jacobian=False)({"mu_log__": np.log(MU_SIG)})
    expected = -0.5 * wstat(n_on=COUNTS, n_off=COUNTS_OFF, alpha=ALPHA, mu_sig=MU_SIG).sum()
    np.testing.assert_allclose(logp, expected, rtol=1e-12)


def test_latent_background_at_profile_equals_wstat():
    """-2 log L of the two Poisson terms at the profiled mu_off equals WStat up to constants."""
    import pymc as pm

    with pm.Model() as model:
        mu_off, on, off = onoff_term("ds", MU_SIG, COUNTS, COUNTS_OFF, ALPHA)
    assert {v.name for v in model.observed_RVs} == {"ds::counts", "ds::counts_off"}
    assert mu_off.name == "ds::mu_off"
    profile = get_wstat_mu_bkg(COUNTS, COUNTS_OFF, ALPHA, MU_SIG)
    # mu_off = 0 in bins with n_off = 0 and C <= 0; evaluate the Poisson terms there by the limit
    positive = profile > 0
    assert np.all(positive[COUNTS_OFF > 0])
    logp_terms = model.compile_fn(
        [model.logp(vars=[on], sum=False)[0], model.logp(vars=[off], sum=False)[0]]
    )
    safe = np.where(positive, profile, 1e-300)
    lp_on, lp_off = logp_terms({"ds::mu_off_log__": np.log(safe)})
    lp = lp_on + lp_off
    lp_const = gammaln(COUNTS + 1.0) + gammaln(COUNTS_OFF + 1.0)
    stat = -2 * (lp + lp_const) + get_wstat_gof_terms(COUNTS, COUNTS_OFF)
    ref = wstat(n_on=COUNTS, n_off=COUNTS_OFF, alpha=ALPHA, mu_sig=MU_SIG)
    np.testing.assert_allclose(stat, ref, rtol=1e-10, atol=1e-10)


def test_latent_background_predictive_sampling():
    import pymc as pm

    with pm.Model():
        mu = pm.HalfNormal("mu", 5.0, shape=8)
        onoff_term(
            "ds",
            mu,
            COUNTS,
            COUNTS_OFF,
            ALPHA,
            background_prior=lambda name, off: pm.Gamma(name, alpha=off + 1.0, beta=1.0),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prior = pm.sample_prior_predictive(draws=20, random_seed=1)
    assert prior.prior_predictive["ds::counts"].shape == (1, 20, 8)
    assert prior.prior_predictive["ds::counts_off"].shape == (1, 20, 8)


# ---- the default background prior: proper Gamma(BACKGROUND_SHAPE, BACKGROUND_RATE) ---------
def _default_model(mu_sig, counts, counts_off, alpha, **kwargs):
    import pymc as pm

    with pm.Model() as model:
        onoff_term("ds", mu_sig, counts, counts_off, alpha, **kwargs)
    return model


def test_default_prior_is_proper_gamma():
    from scipy import stats

    from gammaprob.inference.model_checks import improper_variables
    from gammaprob.likelihood.onoff import BACKGROUND_RATE, BACKGROUND_SHAPE

    model = _default_model(MU_SIG, COUNTS, COUNTS_OFF, ALPHA)
    assert improper_variables(model) == ([], [])
    mu_off = model["ds::mu_off"]
    b = np.array([0.01, 0.3, 1.0, 4.0, 50.0, 7.0, 1e3, 2e4])
    logp = pytensor.function(
        [],
        model.logp(vars=[mu_off], sum=False, jacobian=False)[0],
        givens={model.rvs_to_values[mu_off]: np.log(b)},
    )()
    ref = stats.gamma.logpdf(b, a=BACKGROUND_SHAPE, scale=1.0 / BACKGROUND_RATE)
    np.testing.assert_allclose(logp, ref, rtol=1e-10, atol=1e-8)
    # the start point is the background-only estimate (at least 0.5 counts)
    start = np.exp(model.initial_point()["ds::mu_off_log__"])
    np.testing.assert_allclose(start, np.maximum((COUNTS + COUNTS_OFF) / (1 + ALPHA), 0.5))


def _marginal_closed_form(n_on, n_off, alpha, s, shape, rate):
    """log P(n_on, n_off | s) with b ~ Gamma(shape, rate) integrated out: a finite sum."""
    from scipy.special import gammaln, logsumexp

    k = np.arange(n_on + 1)
    terms = (
        gammaln(n_on + 1)
        - gammaln(k + 1)
        - gammaln(n_on - k + 1)
        + (n_on - k) * np.log(s)
        + k * np.log(alpha)
        + gammaln(k + n_off + shape)
        - (k + n_off + shape) * np.log1p(alpha + rate)
    )
    norm = shape * np.log(rate) - gammaln(shape) - gammaln(n_on + 1) - gammaln(n_off + 1)
    return float(logsumexp(terms) - s + norm)


def _integrate_b(density) -> float:
    """Integral over b in (0, inf); b = x^4 on (0, 1) removes an integrable b^(a-1) spike."""
    from scipy import integrate

    low = integrate.quad(lambda x: density(x**4) * 4 * x**3, 0.0, 1.0, epsabs=0, epsrel=1e-12)
    high = integrate.quad(density, 1.0, np.inf, epsabs=0, epsrel=1e-12, limit=200)
    return low[0] + high[0]


@pytest.mark.parametrize(("n_on", "n_off"), [(0, 0), (3, 0), (0, 2), (7, 5)])
def test_default_posterior_proper_and_marginal_exact(n_on, n_off):
    """Integrating the model density over the OFF rate gives the closed-form marginal (1e-8)."""
    from gammaprob.likelihood.onoff import BACKGROUND_RATE, BACKGROUND_SHAPE

    s, alpha = 1.7, 0.2
    model = _default_model(np.array([s]), np.array([n_on]), np.array([n_off]), np.array([alpha]))
    value = model.rvs_to_values[model["ds::mu_off"]]
    logp = model.compile_logp(jacobian=False)

    def density(b):
        return np.exp(logp({value.name: np.log([b])}))

    total = _integrate_b(density)
    assert np.isfinite(total) and total > 0
    ref = _marginal_closed_form(n_on, n_off, alpha, s, BACKGROUND_SHAPE, BACKGROUND_RATE)
    assert np.log(total) == pytest.approx(ref, abs=1e-8)


def test_default_prior_and_posterior_predictive():
    import pymc as pm

    counts, counts_off, alpha = np.array([0, 2, 9]), np.array([0, 0, 30]), np.full(3, 0.25)
    with pm.Model() as model:
        mu = pm.HalfNormal("mu", 5.0, shape=3)
        onoff_term("ds", mu, counts, counts_off, alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prior = pm.sample_prior_predictive(draws=200, model=model, random_seed=2)
        post = pm.sample_posterior_predictive(
            prior["prior"], model=model, random_seed=3, progressbar=False
        )
    on = np.asarray(prior["prior_predictive"]["ds::counts"])
    off = np.asarray(prior["prior_predictive"]["ds::counts_off"])
    assert on.shape == off.shape == (1, 200, 3)
    assert np.all(on >= 0) and np.all(off >= 0)
    # the prior median of Gamma(1/4, 1e-4) is 437 counts: the OFF draws are that large
    assert 150 < np.median(off) < 1500
    pp = np.asarray(post["posterior_predictive"]["ds::counts_off"])
    np.testing.assert_array_equal(pp.shape, (1, 200, 3))


@pytest.mark.sampling
def test_recovery_with_default_prior_on_sparse_spectrum():
    """Known truth: a sparse 20-bin on/off spectrum; NUTS agrees with the exact marginal."""
    import pymc as pm
    from scipy.special import logsumexp

    from gammaprob.likelihood.onoff import BACKGROUND_RATE, BACKGROUND_SHAPE

    rng = np.random.default_rng(11)
    template = 40.0 * np.exp(-np.linspace(0, 5, 20))  # signal counts at norm = 1
    alpha = np.full(20, 0.1)
    b_true = 20.0 * np.exp(-np.linspace(0, 6, 20))
    counts_off = rng.poisson(b_true)
    counts = rng.poisson(1.0 * template + alpha * b_true)
    assert np.sum(counts_off == 0) >= 5  # sparse: several empty OFF bins
    with pm.Model():
        norm = pm.Uniform("norm", 0.0, 5.0)
        onoff_term("ds", norm * template, counts, counts_off, alpha)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(
                draws=500,
                tune=500,
                chains=2,
                cores=1,
                random_seed=4,
                progressbar=False,
                compute_convergence_checks=False,
            )
    draws = np.asarray(idata["posterior"]["norm"]).ravel()
    # exact posterior of norm on a grid: the product of the closed-form marginals of the bins
    grid = np.linspace(0.4, 1.8, 701)
    logpost = np.zeros(grid.size)
    for n, m, a, t in zip(counts, counts_off, alpha, template, strict=True):
        logpost += [
            _marginal_closed_form(n, m, a, g * t, BACKGROUND_SHAPE, BACKGROUND_RATE) for g in grid
        ]
    cdf = np.cumsum(np.exp(logpost - logsumexp(logpost)))
    median, lo, hi = np.interp([0.5, 0.16, 0.84], cdf, grid)
    sigma = 0.5 * (hi - lo)
    assert abs(np.median(draws) - median) < 0.15 * sigma
    assert 0.5 * np.diff(np.quantile(draws, [0.16, 0.84]))[0] == pytest.approx(sigma, rel=0.15)
    assert abs(median - 1.0) < 3 * sigma


# ---- the analytic marginal (OFF rates integrated out) ---------------------------------------
MARG_COUNTS = np.array([0, 3, 0, 7, 12, 2])
MARG_OFF = np.array([0, 0, 2, 5, 40, 1])
MARG_ALPHA = np.array([0.2, 0.2, 0.1, 0.5, 0.07, 1.0])
MARG_MU = np.array([1.7, 0.4, 2.0, 3.0, 0.0, 0.8])  # incl. zero signal


def _marginal_model(shape=0.5, rate=0.0, mu=MARG_MU):
    import pymc as pm

    from gammaprob.likelihood.onoff_marginal import onoff_marginal_term

    with pm.Model() as model:
        rv = onoff_marginal_term(
            "ds", mu, MARG_COUNTS, MARG_OFF, MARG_ALPHA, shape=shape, rate=rate
        )
    return model, rv


@pytest.mark.parametrize(
    ("shape", "rate"), [(0.25, 1e-4), (0.5, 0.0), (1.0, 0.0), (0.1, 1e-4), (2.0, 0.3)]
)
def test_marginal_logp_equals_numerical_integral_over_b(shape, rate):
    from scipy import stats

    model, rv = _marginal_model(shape, rate)
    assert [v.name for v in model.observed_RVs] == ["ds::counts"]
    assert model.free_RVs == []
    logp = model.compile_fn(model.logp(vars=[rv], sum=False)[0])({})
    for i in range(MARG_COUNTS.size):
        n, m, a, s = MARG_COUNTS[i], MARG_OFF[i], MARG_ALPHA[i], MARG_MU[i]

        def integrand(b, n=n, m=m, a=a, s=s):  # P(n_on | s + a b) x p(b | n_off)
            return stats.poisson.pmf(n, s + a * b) * stats.gamma.pdf(
                b, m + shape, scale=1.0 / (1.0 + rate)
            )

        assert logp[i] == pytest.approx(np.log(_integrate_b(integrand)), abs=1e-8)


def test_marginal_equals_latent_model_marginal_up_to_a_constant():
    """Same posterior of mu_sig as the latent Gamma(shape, rate) model: P(n_on, n_off | s) / P(n_off)."""
    from scipy.special import gammaln

    from gammaprob.likelihood.onoff import BACKGROUND_RATE, BACKGROUND_SHAPE

    mus = [MARG_MU + 0.3, 2 * MARG_MU + 0.1, MARG_MU + 5.0]
    diffs = []
    for mu in mus:
        model, rv = _marginal_model(BACKGROUND_SHAPE, BACKGROUND_RATE, mu=mu)
        lp = model.compile_fn(model.logp(vars=[rv], sum=False)[0])({})
        joint = [
            _marginal_closed_form(n, m, a, s, BACKGROUND_SHAPE, BACKGROUND_RATE)
            for n, m, a, s in zip(MARG_COUNTS, MARG_OFF, MARG_ALPHA, mu, strict=True)
        ]
        diffs.append(np.asarray(joint) - lp)
    # the difference is log P(n_off), independent of mu_sig: negative binomial
    r, p = BACKGROUND_SHAPE, BACKGROUND_RATE / (1 + BACKGROUND_RATE)
    log_p_off = (
        gammaln(MARG_OFF + r)
        - gammaln(MARG_OFF + 1)
        - gammaln(r)
        + r * np.log(p)
        + MARG_OFF * np.log1p(-p)
    )
    for d in diffs:
        np.testing.assert_allclose(d, log_p_off, rtol=0, atol=1e-9)


def test_marginal_gradient_and_predictive():
    import pymc as pm

    from gammaprob.likelihood.onoff_marginal import marginal_logp_graph, onoff_marginal_term

    pytensor.gradient.verify_grad(
        lambda mu: marginal_logp_graph(
            MARG_COUNTS, mu, MARG_OFF, MARG_ALPHA, 0.5, 0.0, int(MARG_COUNTS.max())
        ).sum(),
        [MARG_MU + 0.05],
        rng=np.random.default_rng(3),
    )
    with pm.Model() as model:
        mu = pm.HalfNormal("mu", 3.0, shape=MARG_COUNTS.size)
        onoff_marginal_term("ds", mu, MARG_COUNTS, MARG_OFF, MARG_ALPHA)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba runs the Python random() in object mode
            prior = pm.sample_prior_predictive(draws=1000, random_seed=5)
            post = pm.sample_posterior_predictive(prior["prior"], random_seed=6, progressbar=False)
    draws = np.asarray(prior["prior_predictive"]["ds::counts"])
    assert draws.shape == (1, 1000, MARG_COUNTS.size)
    # E[n_on] = E[mu] + alpha (n_off + shape) / (1 + rate) with E[mu] = 3 sqrt(2 / pi)
    from gammaprob.likelihood.onoff import BACKGROUND_RATE, BACKGROUND_SHAPE

    b_mean = (MARG_OFF + BACKGROUND_SHAPE) / (1 + BACKGROUND_RATE)
    expected = 3.0 * np.sqrt(2 / np.pi) + MARG_ALPHA * b_mean
    err = draws.std(axis=(0, 1)) / np.sqrt(1000)
    assert np.all(np.abs(draws.mean(axis=(0, 1)) - expected) < 4.5 * err)
    assert np.asarray(post["posterior_predictive"]["ds::counts"]).shape == (1, 1000, 6)
    # logp is defined up to the largest observed ON count; beyond it is an error, not a number
    with pytest.raises(Exception, match="ON counts <= 12"):
        pm.logp(model["ds::counts"], MARG_COUNTS + 20).eval({model["mu"]: MARG_MU + 0.1})


def test_marginal_bad_input():
    from gammaprob.likelihood.onoff import gamma_background
    from gammaprob.likelihood.onoff_marginal import onoff_marginal_term

    with pytest.raises(ValueError, match="shape"):
        onoff_marginal_term("ds", MARG_MU, MARG_COUNTS, MARG_OFF, MARG_ALPHA, shape=0.0)
    with pytest.raises(ValueError, match="rate"):
        onoff_marginal_term("ds", MARG_MU, MARG_COUNTS, MARG_OFF, MARG_ALPHA, rate=-1.0)
    with pytest.raises(ValueError, match="rate"):
        gamma_background("b", MARG_OFF, rate=0.0)
    with pytest.raises(ValueError, match="shape"):
        gamma_background("b", MARG_OFF, shape=-1.0)


def test_flat_override_and_evidence_check():
    """``background_prior=flat_background`` restores the improper HalfFlat; the default is proper."""
    import pymc as pm

    from gammaprob.inference.model_checks import ImproperModelError, check_model, improper_variables
    from gammaprob.likelihood.onoff import flat_background

    flat = _default_model(MU_SIG, COUNTS, COUNTS_OFF, ALPHA, background_prior=flat_background)
    assert improper_variables(flat) == (["ds::mu_off"], [])
    with pytest.raises(ImproperModelError, match="improper prior"):
        check_model(flat, evidence=True)
    with pm.Model() as default:
        mu = pm.HalfNormal("mu", 5.0, shape=COUNTS.size)
        onoff_term("ds", mu, COUNTS, COUNTS_OFF, ALPHA)
    check_model(default, evidence=True)  # proper everywhere: SMC evidence allowed
