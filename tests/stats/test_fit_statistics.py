import numpy as np
import pytest
from numpy.testing import assert_allclose

from gammaprob.stats import cash, cstat, get_wstat_gof_terms, get_wstat_mu_bkg, wstat


def _poisson_logpmf(n, mu):
    from scipy.stats import poisson

    return poisson.logpmf(n, mu)


def test_cash_matches_poisson_loglike():
    n = np.array([0, 1, 5, 30])
    mu = np.array([0.3, 2.0, 4.5, 28.0])
    # -2 log L differs from cash only by the model-independent 2 log n!
    from scipy.special import gammaln

    expected = -2 * _poisson_logpmf(n, mu) - 2 * gammaln(n + 1)
    assert_allclose(cash(n, mu), expected, rtol=1e-13)


def test_cash_truncation_and_exact_mode():
    assert_allclose(cash(3, 0.0), 2 * (1e-25 - 3 * np.log(1e-25)), rtol=1e-14)
    assert cash(3, 0.0, truncation_value=None) == np.inf
    assert cash(0, 0.0, truncation_value=None) == 0.0
    with pytest.raises(ValueError, match="mu_on must be non-negative"):
        cash(1, -1.0, truncation_value=None)
    with pytest.raises(ValueError, match="n_on must be finite and non-negative"):
        cash(-1, 1.0)


def test_cstat_is_zero_at_perfect_fit():
    n = np.array([1.0, 7.0, 100.0])
    assert_allclose(cstat(n, n), 0.0, atol=1e-12)
    assert_allclose(cstat(0, 2.5), 5.0, rtol=1e-12)


def test_wstat_mu_bkg_zero_count_cases():
    alpha = 0.2
    # n_on = 0: b = n_off / (1 + alpha), whatever mu_sig
    assert_allclose(get_wstat_mu_bkg(0, 10, alpha, [0.0, 3.0, 50.0]), 10 / 1.2, rtol=1e-14)
    # n_off = 0: b = max(0, n_on / (1 + alpha) - mu_sig / alpha)
    mu_sig = np.array([0.0, 0.5, 2.0, 10.0])
    expected = np.maximum(0, 6 / 1.2 - mu_sig / alpha)
    assert_allclose(get_wstat_mu_bkg(6, 0, alpha, mu_sig), expected, rtol=1e-14, atol=1e-300)


def test_wstat_profile_is_the_maximum():
    # the profiled b maximises the joint Poisson likelihood: check against a fine scan
    n_on, n_off, alpha, mu_sig = 17, 40, 0.3, 4.2
    b_hat = get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    grid = np.linspace(b_hat * 0.9, b_hat * 1.1, 20001)
    stat = wstat(n_on, n_off, alpha, mu_sig, mu_bkg=grid)
    assert abs(grid[np.argmin(stat)] - b_hat) < 2e-5 * b_hat
    assert_allclose(wstat(n_on, n_off, alpha, mu_sig), stat.min(), rtol=1e-9)


def test_wstat_xspec_zero_count_formulas():
    # XSPEC appendix "Poisson data with Poisson background": rates m (source) with times
    # t_s, t_b; our mu_sig = t_s m and alpha = t_s / t_b. XSPEC's W includes the gof terms.
    ts, tb = 2.0, 8.0
    alpha = ts / tb
    # S_i = 0: W = 2 [t_s m - B log(t_b / (t_s + t_b))]
    m, b_off = 1.5, 8.0
    expected = 2 * (ts * m - b_off * np.log(tb / (ts + tb)))
    assert_allclose(wstat(0, b_off, alpha, ts * m), expected, rtol=1e-13)
    # B_i = 0 and m < S / (t_s + t_b): W = -2 [t_b m + S log(t_s / (t_s + t_b))]
    s = 12.0
    m = 0.1 * s / (ts + tb)
    expected = -2 * (tb * m + s * np.log(ts / (ts + tb)))
    assert_allclose(wstat(s, 0, alpha, ts * m), expected, rtol=1e-12)
    # B_i = 0 and m >= S / (t_s + t_b): W = 2 [t_s m + S (log S - log(t_s m) - 1)]
    m = 2 * s / (ts + tb)
    expected = 2 * (ts * m + s * (np.log(s) - np.log(ts * m) - 1))
    assert_allclose(wstat(s, 0, alpha, ts * m), expected, rtol=1e-13)


def test_wstat_all_zero_and_perfect_fit():
    assert wstat(0, 0, 0.1, 0.0) == 0.0
    assert_allclose(wstat(0, 0, 0.1, 2.0), 4.0, rtol=1e-14)
    # mu_sig = n_on - alpha n_off gives b = n_off: W = 0
    assert_allclose(wstat(20, 50, 0.2, 10.0), 0.0, atol=1e-12)


def test_wstat_stable_root_for_large_signal():
    # C << 0: the direct formula loses all digits, the stable one keeps them
    n_on, n_off, alpha, mu_sig = 1.0, 2.0, 1e-3, 1e9
    b = get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    # first-order expansion: b ≈ n_off / (1 + alpha) (the ON term is negligible)
    assert_allclose(b, n_off / (1 + alpha), rtol=1e-6)
    assert b > 0


def test_bad_alpha_and_counts():
    with pytest.raises(ValueError, match="alpha must be finite and positive"):
        wstat(1, 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="n_off must be finite"):
        wstat(1, np.nan, 0.1, 1.0)
    with pytest.raises(ValueError, match="n_on"):
        get_wstat_gof_terms(-1, 1)


@pytest.mark.requires_gammapy
def test_against_gammapy(rng):
    from gammapy.stats import fit_statistics as gp

    n_on = rng.poisson(rng.uniform(0, 30, 2000)).astype(float)
    n_off = rng.poisson(rng.uniform(0, 80, 2000)).astype(float)
    alpha = rng.uniform(0.05, 2, 2000)
    mu_sig = rng.uniform(0, 20, 2000)
    mu_sig[:50] = 0.0
    assert_allclose(cash(n_on, mu_sig), gp.cash(n_on, mu_sig), rtol=1e-12)
    assert_allclose(cstat(n_on, mu_sig + 0.1), gp.cstat(n_on, mu_sig + 0.1), rtol=1e-12, atol=1e-12)
    ours_b = get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    theirs_b = gp.get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    assert_allclose(ours_b, theirs_b, rtol=1e-12, atol=1e-12)
    ours = wstat(n_on, n_off, alpha, mu_sig)
    theirs = gp.wstat(n_on, n_off, alpha, mu_sig)
    assert_allclose(ours, theirs, rtol=1e-12, atol=1e-10)
    assert_allclose(
        wstat(n_on, n_off, alpha, mu_sig, extra_terms=False),
        gp.wstat(n_on, n_off, alpha, mu_sig, extra_terms=False),
        rtol=1e-12,
    )
