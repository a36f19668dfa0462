"""Credible upper limits: analytic Poisson limits vs numerical integration, draws quantiles."""

import astropy.units as u
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, optimize
from scipy.stats import chi2

from gammaprob.estimators import (
    credible_upper_limit,
    poisson_signal_posterior_cdf,
    poisson_signal_upper_limit,
)


def _numeric_ul(n, b, prob, a):
    """Independent: integrate (s+b)^(n+a) exp(-s) on a scaled form and solve the CDF."""

    def w(s):
        return np.exp((n + a) * np.log(s + b) - s - ((n + a) * np.log(max(n + a, b, 1.0))))

    total = integrate.quad(w, 0, np.inf, epsrel=1e-12, epsabs=0, limit=200)[0]
    return optimize.brentq(
        lambda x: integrate.quad(w, 0, x, epsrel=1e-12, epsabs=0, limit=200)[0] / total - prob,
        0,
        200 + 10 * n,
        xtol=1e-12,
    )


@pytest.mark.parametrize("prior,a", [("flat", 0.0), ("jeffreys", -0.5)])
@pytest.mark.parametrize("n,b", [(0, 3.0), (3, 0.5), (10, 4.0), (25, 30.0), (2, 40.0)])
def test_poisson_ul_matches_numerical_integration(prior, a, n, b):
    ul = poisson_signal_upper_limit(n, b, 0.95, prior)
    assert_allclose(ul.value, _numeric_ul(n, b, 0.95, a), rtol=1e-7)
    assert_allclose(poisson_signal_posterior_cdf(ul.value, n, b, prior), 0.95, rtol=1e-10)
    assert ul.meta["prior_name"] == prior and "prior" in ul.meta["prior"]


def test_poisson_ul_known_values():
    # flat prior, b = 0: Helene (1983) 95 % limits 3.00, 4.74, 16.96 for n = 0, 1, 10
    values = poisson_signal_upper_limit([0, 1, 10], 0.0, 0.95).value
    assert_allclose(values, [2.9957, 4.7439, 16.9622], atol=1e-4)
    # Jeffreys, n = 0, b = 0: the posterior is Gamma(1/2), i.e. chi2(1) / 2
    assert_allclose(
        poisson_signal_upper_limit(0, 0.0, 0.95, "jeffreys").value,
        chi2.ppf(0.95, 1) / 2,
        rtol=1e-10,
    )
    # n = 0, flat: -ln(1 - p) whatever the background, also where Q(k, b) underflows
    assert_allclose(
        poisson_signal_upper_limit(0, [0.0, 5.0, 900.0], 0.9).value, -np.log(0.1), rtol=1e-9
    )
    # the underflow branch (numerical) joins the analytic one
    assert_allclose(
        poisson_signal_upper_limit(3, 800.0).value, _numeric_ul(3, 800.0, 0.95, 0.0), rtol=1e-6
    )


def test_poisson_ul_bad_input():
    with pytest.raises(ValueError, match="prior"):
        poisson_signal_upper_limit(1, 1.0, prior="uniform-ish")
    with pytest.raises(ValueError, match="integers"):
        poisson_signal_upper_limit(1.5, 1.0)
    with pytest.raises(ValueError, match="background"):
        poisson_signal_upper_limit(1, -1.0)
    with pytest.raises(ValueError, match="ul_prob"):
        poisson_signal_upper_limit(1, 1.0, ul_prob=1.0)


def test_credible_upper_limit_from_draws():
    rng = np.random.default_rng(42)
    draws = rng.normal(1.0, 2.0, size=(4, 5000, 3)) * u.Unit("cm-2 s-1")
    ul = credible_upper_limit(
        draws, prior={"type": "uniform", "lower": 0}, ul_prob=0.95, sample_axes=(0, 1)
    )
    assert ul.value.shape == (3,) and ul.value.unit == u.Unit("cm-2 s-1")
    # 20000 draws: standard error of the 95 % quantile of N(1, 2) is about 0.03
    assert_allclose(ul.value.value, 1.0 + 2.0 * 1.6448536, atol=0.1)
    assert_allclose(ul.value.value, np.quantile(draws.value, 0.95, axis=(0, 1)), rtol=1e-14)
    assert ul.meta["prior"] == {"type": "uniform", "lower": 0} and ul.meta["n_draws"] == 20000
    assert "ul_prob=0.95" in repr(ul)


def test_credible_upper_limit_xarray_and_errors():
    import xarray as xr  # a dependency of arviz, always installed

    rng = np.random.default_rng(1)
    da = xr.DataArray(rng.exponential(size=(2, 2000, 2)), dims=("chain", "draw", "bin"))
    ul = credible_upper_limit(da, prior="log-uniform", ul_prob=0.9)
    assert_allclose(ul.value, np.quantile(da.values, 0.9, axis=(0, 1)))
    with pytest.raises(ValueError, match="prior must be given"):
        credible_upper_limit(da, prior=None)
    with pytest.raises(ValueError, match="need at least"):
        credible_upper_limit(np.arange(100.0), prior="flat", ul_prob=0.95)
    with pytest.raises(ValueError, match="NaN"):
        credible_upper_limit(np.full(1000, np.nan), prior="flat")
