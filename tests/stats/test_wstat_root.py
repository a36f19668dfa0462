"""The profiled OFF background of WStat: one stable implementation used everywhere."""

from decimal import Decimal, localcontext

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gammaprob.estimators.flux_points import _background_at
from gammaprob.estimators.norm_posterior import NormTerms, _profile_onoff_loglike
from gammaprob.stats import get_wstat_mu_bkg


def _naive(n_on, n_off, alpha, mu_sig):
    c = alpha * (n_on + n_off) - (1 + alpha) * mu_sig
    d = np.sqrt(c**2 + 4 * alpha * (alpha + 1) * n_off * mu_sig)
    return (c + d) / (2 * alpha * (alpha + 1))


def _exact(n_on, n_off, alpha, mu_sig) -> float:
    """The positive root in 60-digit decimal arithmetic (both forms agree at that precision)."""
    with localcontext() as ctx:
        ctx.prec = 60
        n, m, a, s = (Decimal(repr(float(v))) for v in (n_on, n_off, alpha, mu_sig))
        c = a * (n + m) - (1 + a) * s
        d = (c * c + 4 * a * (a + 1) * m * s).sqrt()
        return float((c + d) / (2 * a * (a + 1)))


# (n_on, n_off, alpha, mu_sig): C < 0 with |C| >> sqrt(4 a n_off mu) -> the direct form cancels
CANCELLING = [
    (1.0, 2.0, 1e-3, 1e9),
    (10.0, 1.0, 0.1, 1e12),
    (2.0, 1.0, 1e-5, 1e4),
]
# tiny signal, huge counts, and moderate values: the direct form is accurate there
WELL_CONDITIONED = [
    (1e9, 2e9, 0.5, 1e-6),
    (1e12, 1e12, 1.0, 1e-3),
    (20.0, 50.0, 0.2, 10.0),
    (5.0, 40.0, 0.05, 3.0),
]


@pytest.mark.parametrize(("n_on", "n_off", "alpha", "mu_sig"), WELL_CONDITIONED)
def test_root_matches_naive_formula_where_it_is_accurate(n_on, n_off, alpha, mu_sig):
    b = get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    assert_allclose(b, _naive(n_on, n_off, alpha, mu_sig), rtol=1e-13)
    assert_allclose(b, _exact(n_on, n_off, alpha, mu_sig), rtol=1e-13)


@pytest.mark.parametrize(("n_on", "n_off", "alpha", "mu_sig"), CANCELLING)
def test_root_matches_high_precision_where_naive_cancels(n_on, n_off, alpha, mu_sig):
    exact = _exact(n_on, n_off, alpha, mu_sig)
    assert_allclose(get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig), exact, rtol=1e-12)
    # the naive form is off by far more here (this is what the stable form fixes)
    assert abs(_naive(n_on, n_off, alpha, mu_sig) / exact - 1) > 1e-8


def test_root_edge_cases_exact():
    alpha = np.array([0.2, 0.2, 0.2, 0.2, 0.2])
    mu_sig = np.array([0.0, 3.0, 50.0, 0.0, 4.0])
    # n_on = 0: b = n_off / (1 + alpha), whatever the signal
    assert np.all(get_wstat_mu_bkg(0, 10, alpha, mu_sig) == 10 / 1.2)
    # n_off = 0: b = max(0, n_on / (1 + alpha) - mu_sig / alpha), exactly 0 beyond
    expected = np.maximum(0.0, 6 / 1.2 - mu_sig / 0.2)
    assert_allclose(get_wstat_mu_bkg(6, 0, alpha, mu_sig), expected, rtol=1e-14, atol=0)
    assert np.all(get_wstat_mu_bkg(6, 0, alpha, mu_sig)[mu_sig / 0.2 > 5] == 0.0)
    # both zero
    assert np.all(get_wstat_mu_bkg(0, 0, alpha, mu_sig) == 0.0)
    # no signal: b = (n_on + n_off) / (1 + alpha)
    assert_allclose(get_wstat_mu_bkg(7, 13, 0.25, 0.0), 20 / 1.25, rtol=1e-15)


def test_root_graph_equals_numpy_and_has_finite_gradient():
    import pytensor
    import pytensor.tensor as pt

    n_on = np.array([0.0, 6.0, 1.0, 10.0, 20.0, 0.0])
    n_off = np.array([10.0, 0.0, 2.0, 1.0, 50.0, 0.0])
    alpha = np.array([0.2, 0.2, 1e-3, 0.1, 0.2, 0.3])
    mu = np.array([3.0, 0.5, 1e9, 1e12, 10.0, 2.0])
    x = pt.dvector("mu")
    b = get_wstat_mu_bkg(n_on, n_off, alpha, x)
    f = pytensor.function([x], [b, pytensor.grad(b.sum(), x)])
    value, grad = f(mu)
    assert_allclose(value, get_wstat_mu_bkg(n_on, n_off, alpha, mu), rtol=1e-14, atol=0)
    assert np.all(np.isfinite(grad))
    # numerical derivative of the numpy root in the bins where it is smooth
    h = 1e-6 * mu
    num = (
        get_wstat_mu_bkg(n_on, n_off, alpha, mu + h) - get_wstat_mu_bkg(n_on, n_off, alpha, mu - h)
    ) / (2 * h)
    assert_allclose(grad, num, rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize(("n_on", "n_off", "alpha", "mu_sig"), CANCELLING)
def test_flux_point_background_uses_the_stable_root(n_on, n_off, alpha, mu_sig):
    terms = NormTerms(
        mu=np.array([mu_sig]),
        counts=np.array([n_on]),
        offset=np.array([0.0]),
        background=np.array([0.0]),
        counts_off=np.array([n_off]),
        alpha=np.array([alpha]),
    )
    exact = _exact(n_on, n_off, alpha, mu_sig)
    assert_allclose(_background_at(terms, 1.0), alpha * exact, rtol=1e-12)


def test_norm_posterior_profile_uses_the_stable_root():
    # the profiled log-likelihood is flat in b at the root, so only a root lost entirely shows:
    # here C^2 swallows 4 a n_off mu_sig, the naive root is 0 and log L = -inf
    from scipy.special import xlogy

    n_on, n_off, alpha, mu_sig = 1.0, 1.0, 1e-9, 1e8
    b = _exact(n_on, n_off, alpha, mu_sig)
    assert _naive(n_on, n_off, alpha, mu_sig) == 0.0
    mu_on = mu_sig + alpha * b
    expected = xlogy(n_on, mu_on) - mu_on + xlogy(n_off, b) - b
    got = _profile_onoff_loglike(
        np.array([[mu_sig]]), np.array([n_on]), np.array([n_off]), np.array([alpha])
    )
    assert_allclose(got, [expected], rtol=1e-15)


def test_zero_on_counts_with_a_negative_excess_is_the_quadratic_root():
    """Error and limit searches try mu_sig < 0: the ON expectation must stay >= 0 there."""
    n_off, alpha = np.array([23.0, 21.0, 5.0]), np.array([0.75, 0.72, 0.5])
    for mu_sig in (-1.0, -5.0, -20.0, 0.0, 3.0):
        c = alpha * n_off - (1 + alpha) * mu_sig
        d = np.sqrt(c**2 + 4 * alpha * (1 + alpha) * n_off * mu_sig)
        quadratic = (c + d) / (2 * alpha * (1 + alpha))
        ours = get_wstat_mu_bkg(0.0, n_off, alpha, mu_sig)
        np.testing.assert_allclose(ours, quadratic, rtol=1e-12)
        assert np.all(mu_sig + alpha * ours >= -1e-12)
