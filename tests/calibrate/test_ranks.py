"""Uniformity tests of SBC ranks and the coverage report (fast, no sampling)."""

import numpy as np
import pytest

from gammaprob.calibrate import chi2_test, coverage, ecdf_bands, ecdf_test


def test_uniform_ranks_are_not_rejected():
    rng = np.random.default_rng(1)
    pvalues = [ecdf_test(rng.integers(0, 101, 200), 100, n_sim=500, seed=i) for i in range(20)]
    assert min(pvalues) > 0.01 / 20
    assert chi2_test(rng.integers(0, 101, 400), 100) > 0.001


def test_ecdf_test_pvalues_are_uniform_under_the_null():
    from scipy.stats import kstest

    rng = np.random.default_rng(2)
    pvalues = [ecdf_test(rng.integers(0, 51, 60), 50, n_sim=400, seed=i) for i in range(60)]
    assert kstest(pvalues, "uniform").pvalue > 0.001


@pytest.mark.parametrize(
    "bad",
    [
        lambda r: np.minimum(r, 80),  # posterior too wide on one side
        lambda r: r // 2,  # biased low
        lambda r: np.where(r < 50, r // 2, 100 - (100 - r) // 2),  # overdispersed: U shape
    ],
)
def test_skewed_ranks_are_rejected(bad):
    rng = np.random.default_rng(3)
    ranks = bad(rng.integers(0, 101, 200))
    assert ecdf_test(ranks, 100, n_sim=1000) < 0.01
    assert chi2_test(ranks, 100) < 0.01


def test_chi2_bins_have_exact_expectation():
    # every rank once: no deviation whatever the binning
    assert chi2_test(np.arange(101), 100, n_bins=7) == pytest.approx(1.0)


def test_bands_contain_the_uniform_cdf_and_widen_with_fewer_ranks():
    z, lo, hi = ecdf_bands(100, 99, n_sim=500)
    assert np.all(lo <= z) and np.all(z <= hi)
    _, lo_big, hi_big = ecdf_bands(1000, 99, n_sim=500)
    assert np.mean(hi - lo) > np.mean(hi_big - lo_big)


def test_bad_ranks_are_refused():
    with pytest.raises(ValueError, match=r"0\.\.10"):
        ecdf_test(np.array([0, 11]), 10)
    with pytest.raises(ValueError, match="integers"):
        chi2_test(np.array([0.5, 1.0]), 10)


def test_coverage_band():
    inside = np.r_[np.ones(90, bool), np.zeros(10, bool)]
    row = coverage(inside, 0.9)
    assert row["empirical"] == pytest.approx(0.9) and row["within"]
    assert row["lower"] < 0.9 < row["upper"]
    assert not coverage(inside, 0.5)["within"]
