import numpy as np
import pytest
from numpy.testing import assert_allclose

from gammaprob.stats import cash_significance, excess, excess_error, li_ma_significance, wstat


def test_li_ma_eq17_by_hand():
    n_on, n_off, alpha = 130.0, 505.0, 0.2
    t1 = n_on * np.log((1 + alpha) / alpha * n_on / (n_on + n_off))
    t2 = n_off * np.log((1 + alpha) * n_off / (n_on + n_off))
    assert_allclose(li_ma_significance(n_on, n_off, alpha), np.sqrt(2 * (t1 + t2)), rtol=1e-14)
    # a deficit gets a negative sign
    assert li_ma_significance(80, 505, 0.2) < 0


def test_li_ma_equals_wstat_likelihood_ratio():
    n_on, n_off, alpha = np.array([3.0, 25.0, 0.0, 9.0]), np.array([10.0, 40.0, 12.0, 0.0]), 0.5
    ts = wstat(n_on, n_off, alpha, 0.0) - wstat(
        n_on, n_off, alpha, np.maximum(n_on - alpha * n_off, 0)
    )
    expected = np.sign(n_on - alpha * n_off) * np.sqrt(ts)
    # bins with an excess: the unconstrained and constrained maxima agree
    sel = n_on - alpha * n_off > 0
    assert_allclose(li_ma_significance(n_on, n_off, alpha)[sel], expected[sel], rtol=1e-12)
    # n_on = 0: S = -sqrt(2 n_off ln(1 + alpha))
    assert_allclose(li_ma_significance(0, 12, alpha), -np.sqrt(2 * 12 * np.log(1.5)), rtol=1e-14)
    assert li_ma_significance(0, 0, alpha) == 0.0


def test_excess_and_error():
    assert_allclose(excess(130, 505, 0.2), 29.0)
    assert_allclose(excess_error(130, 505, 0.2), np.sqrt(130 + 0.04 * 505))
    with pytest.raises(ValueError, match="alpha"):
        excess(1, 1, -0.1)


def test_cash_significance():
    assert_allclose(cash_significance(10, 4), np.sqrt(2 * (10 * np.log(2.5) - 6)), rtol=1e-14)
    assert_allclose(cash_significance(0, 4), -np.sqrt(8), rtol=1e-14)
    with pytest.raises(ValueError, match="mu_bkg"):
        cash_significance(1, 0)


@pytest.mark.requires_gammapy
def test_against_gammapy(rng):
    from gammapy.stats import CashCountsStatistic, WStatCountsStatistic

    n_on = rng.poisson(rng.uniform(0, 50, 1000)).astype(float)
    n_off = rng.poisson(rng.uniform(0, 100, 1000)).astype(float)
    alpha = rng.uniform(0.05, 1.0, 1000)
    theirs = WStatCountsStatistic(n_on, n_off, alpha)
    ours = li_ma_significance(n_on, n_off, alpha)
    # gammapy takes the square root of a difference of two statistics: absolute accuracy ~1e-7
    assert_allclose(ours, theirs.sqrt_ts, rtol=1e-9, atol=1e-6)
    assert_allclose(excess(n_on, n_off, alpha), theirs.n_sig, rtol=1e-14)
    assert_allclose(excess_error(n_on, n_off, alpha), theirs.error, rtol=1e-14)
    mu_bkg = rng.uniform(0.5, 40, 1000)
    assert_allclose(
        cash_significance(n_on, mu_bkg),
        CashCountsStatistic(n_on, mu_bkg).sqrt_ts,
        rtol=1e-9,
        atol=1e-6,
    )
