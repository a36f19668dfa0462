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
