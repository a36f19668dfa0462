"""Profile-likelihood intervals: against direct root finding and against gammapy."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import brentq

from gammaprob.estimators.counts_intervals import (
    bracketed_roots,
    cash_errors,
    cash_ts,
    cash_upper_limit,
    wstat_errors,
    wstat_excess_matching_significance,
    wstat_ts,
    wstat_upper_limit,
)
from gammaprob.stats import cash, li_ma_significance, wstat

N_ON = np.array([1.0, 3.0, 12.0, 57.0, 400.0])
N_OFF = np.array([4.0, 10.0, 30.0, 100.0, 1500.0])
ALPHA = np.array([0.2, 0.5, 0.3, 0.45, 0.25])


def test_bracketed_roots_vectorised_and_unbracketed():
    c = np.array([[2.0, 9.0], [-1.0, 1e6]])
    calls = []

    def f(x, index):
        calls.append(index.size)
        return x**3 - c.ravel()[index]

    roots = bracketed_roots(f, np.zeros((2, 2)), [[2, 4], [4, 200]])
    assert roots.shape == (2, 2)
    assert_allclose(roots.ravel()[[0, 1, 3]], np.cbrt([2.0, 9.0, 1e6]), rtol=1e-13)
    assert np.isnan(roots[1, 0])  # x^3 + 1 has no root in [0, 4]
    assert max(calls[2:]) <= 3 and len(calls) < 40  # only unfinished elements, few steps
    # NaN counts as +inf: the bracket end where f is undefined still brackets the root
    root = bracketed_roots(lambda x, i: np.where(x < 1, np.nan, 2 - x), [0.0], [3.0])
    assert_allclose(root, [2.0], rtol=1e-12)


def test_cash_errors_match_direct_root_finding():
    bkg = np.array([0.5, 2.0, 10.0, 40.0, 350.0])
    errn, errp = cash_errors(N_ON, bkg, n_sigma=1.0)
    for n, lo, hi in zip(N_ON, errn, errp, strict=True):

        def f(mu, n=n):
            return cash(n, mu) - cash(n, n) - 1.0

        assert_allclose(n - brentq(f, 1e-9, n, xtol=1e-14), lo, rtol=1e-9)
        assert_allclose(brentq(f, n, 10 * n + 10, xtol=1e-14) - n, hi, rtol=1e-9)
    ul = cash_upper_limit(N_ON, bkg, n_sigma=2.0)
    _, errp2 = cash_errors(N_ON, bkg, n_sigma=2.0)
    assert_allclose(ul, N_ON - bkg + errp2, rtol=1e-14)
    # n_on = 0: errn 0, errp and UL n_sigma^2 / 2
    errn0, errp0 = cash_errors([0.0], [3.0], n_sigma=2.0)
    assert errn0[0] == 0 and errp0[0] == 2.0
    assert cash_upper_limit([0.0], [3.0], n_sigma=2.0)[0] == 2.0


def test_cash_ts_is_square_of_signed_significance():
    bkg = np.array([0.5, 2.0, 10.0, 40.0, 350.0])
    expected = 2 * (N_ON * np.log(N_ON / bkg) - (N_ON - bkg))
    assert_allclose(cash_ts(N_ON, bkg), expected, rtol=1e-12)


def test_wstat_errors_match_direct_root_finding():
    errn, errp = wstat_errors(N_ON, N_OFF, ALPHA, n_sigma=1.0)
    ul = wstat_upper_limit(N_ON, N_OFF, ALPHA, n_sigma=2.0)
    for i in range(N_ON.size):
        n, m, a = N_ON[i], N_OFF[i], ALPHA[i]
        s_hat = n - a * m
        w_min = wstat(n, m, a, s_hat)

        def f(s, level, n=n, m=m, a=a, w_min=w_min):
            return wstat(n, m, a, s) - w_min - level

        up = brentq(f, s_hat, s_hat + 100 + 10 * n, args=(1.0,), xtol=1e-13)
        assert_allclose(up - s_hat, errp[i], rtol=1e-9)
        up2 = brentq(f, s_hat, s_hat + 100 + 10 * n, args=(4.0,), xtol=1e-13)
        assert_allclose(up2, ul[i], rtol=1e-9)
        lo = brentq(f, s_hat - 4 * np.sqrt(n + a**2 * m) - 4, s_hat, args=(1.0,), xtol=1e-13)
        assert_allclose(s_hat - lo, errn[i], rtol=1e-9)
    assert_allclose(wstat_ts(N_ON, N_OFF, ALPHA), li_ma_significance(N_ON, N_OFF, ALPHA) ** 2)


def test_excess_matching_significance_solves_li_ma():
    n_off = np.array([0.5, 20.0, 1000.0, 1e5])
    alpha = np.array([0.2, 0.1, 0.5, 0.01])
    excess = wstat_excess_matching_significance(n_off, alpha, 5.0)
    assert_allclose(li_ma_significance(excess + alpha * n_off, n_off, alpha), 5.0, rtol=1e-10)
    assert np.isnan(wstat_excess_matching_significance([0.0], [0.2], 5.0)[0])
    with pytest.raises(ValueError, match="significance"):
        wstat_excess_matching_significance(n_off, alpha, -1)


def test_bad_n_sigma():
    with pytest.raises(ValueError, match="n_sigma"):
        wstat_errors(N_ON, N_OFF, ALPHA, n_sigma=0)
    with pytest.raises(ValueError, match="n_sigma"):
        cash_errors(N_ON, N_ON, n_sigma=np.nan)


@pytest.mark.requires_gammapy
def test_against_gammapy_counts_statistic():
    from gammapy.stats import CashCountsStatistic, WStatCountsStatistic

    rng = np.random.default_rng(1)
    n_on = rng.poisson(rng.uniform(0, 50, 100)).astype(float)
    n_off = rng.poisson(rng.uniform(1, 200, 100)).astype(float) + 1
    alpha = rng.uniform(0.05, 1, 100)
    ref = WStatCountsStatistic(n_on, n_off, alpha)
    errn, errp = wstat_errors(n_on, n_off, alpha, 1.0)
    assert_allclose(errn, ref.compute_errn(1.0), rtol=1e-9)
    assert_allclose(errp, ref.compute_errp(1.0), rtol=1e-9)
    assert_allclose(
        wstat_upper_limit(n_on, n_off, alpha, 2.0), ref.compute_upper_limit(2.0), rtol=1e-9
    )
    assert_allclose(
        np.sqrt(wstat_ts(n_on, n_off, alpha)), np.abs(ref.sqrt_ts), rtol=1e-9, atol=1e-9
    )
    excess = wstat_excess_matching_significance(n_off, alpha, 5.0)
    ref_bkg = WStatCountsStatistic(alpha * n_off, n_off, alpha)
    assert_allclose(excess, ref_bkg.n_sig_matching_significance(5.0), rtol=1e-9)

    bkg = rng.uniform(0.1, 30, 100)
    ref = CashCountsStatistic(n_on, bkg)
    errn, errp = cash_errors(n_on, bkg, 1.0)
    assert_allclose(errn, ref.compute_errn(1.0), rtol=1e-12)
    assert_allclose(errp, ref.compute_errp(1.0), rtol=1e-12)
    assert_allclose(cash_upper_limit(n_on, bkg, 2.0), ref.compute_upper_limit(2.0), rtol=1e-12)
    assert_allclose(cash_ts(n_on, bkg), ref.ts, rtol=1e-12, atol=1e-12)
