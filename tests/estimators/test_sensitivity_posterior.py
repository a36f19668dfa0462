"""PosteriorSensitivityEstimator: closed-form posterior against Monte Carlo and known limits."""

import astropy.units as u
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import special, stats

from gammaprob.datasets import SpectrumDataset
from gammaprob.estimators import PosteriorSensitivityEstimator, SensitivityEstimator
from gammaprob.estimators.sensitivity import (
    posterior_excess_matching_prob,
    posterior_prob_no_signal,
)
from gammaprob.maps import MapAxis

P5 = stats.norm.sf(5.0)  # 2.87e-7


@pytest.mark.parametrize("prior, c", [("flat", 1.0), ("jeffreys", 0.5)])
def test_prob_no_signal_against_monte_carlo(prior, c):
    # posterior of (mu_on, b) by direct draws: flat on mu_on -> Gamma(n_on + 1), b -> Gamma(n_off + c)
    rng = np.random.default_rng(3)
    n_on, n_off, alpha = 14, 40, 0.25
    mu_on = rng.gamma(n_on + 1, size=400_000)
    b = rng.gamma(n_off + c, size=400_000)
    mc = np.mean(mu_on - alpha * b <= 0)  # P(s <= 0), s = mu_on - alpha b
    exact = posterior_prob_no_signal(n_on, n_off, alpha, background_prior=prior)
    assert 0.01 < exact < 0.2
    assert abs(mc - exact) < 4 * np.sqrt(exact * (1 - exact) / mu_on.size)


def test_prob_no_signal_by_quadrature():
    # P(s <= 0) = int_0^inf p(b) P(mu_on <= alpha b) db with the flat-prior posteriors
    from scipy import integrate

    n_on, n_off, alpha = 7.5, 12.3, 0.4
    value, _ = integrate.quad(
        lambda b: stats.gamma.pdf(b, n_off + 1) * stats.gamma.cdf(alpha * b, n_on + 1), 0, np.inf
    )
    assert_allclose(posterior_prob_no_signal(n_on, n_off, alpha), value, rtol=1e-8)


def test_known_background_limit():
    # alpha -> 0 at fixed alpha n_off = B: P(s <= 0) -> P(Poisson(B) >= n_on + 1)
    n_on, background = np.array([3, 10, 40]), np.array([1.0, 4.0, 20.0])
    alpha = 1e-7
    limit = special.gammainc(n_on + 1, background)
    assert_allclose(limit, stats.poisson.sf(n_on, background), rtol=1e-12)
    assert_allclose(posterior_prob_no_signal(n_on, background / alpha, alpha), limit, rtol=1e-4)


def test_excess_matching_prob_solves_the_equation():
    n_off = np.array([0.0, 2.0, 50.0, 5000.0])
    alpha = np.array([0.2, 0.2, 0.2, 0.1])
    excess = posterior_excess_matching_prob(n_off, alpha, P5)
    assert np.isnan(excess[0]) and np.all(excess[1:] > 0)
    prob = posterior_prob_no_signal(excess[1:] + alpha[1:] * n_off[1:], n_off[1:], alpha[1:])
    assert_allclose(prob, P5, rtol=1e-8)
    # many counts: the posterior criterion approaches Li & Ma at 5 sigma (within 2 %)
    li_ma = SensitivityEstimator(gamma_min=0, bkg_syst_fraction=0).detection_excess(
        n_off[3:], alpha[3:]
    )
    assert_allclose(excess[3:], li_ma, rtol=0.02)


def test_asimov_detection_is_about_the_median():
    # Poisson realisations at the sensitivity excess are detected about half of the time
    rng = np.random.default_rng(7)
    n_off_mean, alpha = 500.0, 0.2
    signal = posterior_excess_matching_prob(n_off_mean, alpha, P5)
    n_on = rng.poisson(signal + alpha * n_off_mean, size=20_000)
    n_off = rng.poisson(n_off_mean, size=20_000)
    detected = np.mean(posterior_prob_no_signal(n_on, n_off, alpha) <= P5)
    assert 0.4 < detected < 0.6


@pytest.fixture
def spectrum():
    edges = [0.1, 0.3, 1, 3, 10] * u.TeV
    return SpectrumDataset(
        name="syn",
        counts=np.zeros(4),
        exposure=[1e8, 3e8, 5e8, 6e8] * u.Unit("m2 s"),
        energy_axis=MapAxis.from_edges(edges, interp="log", name="energy"),
        energy_axis_true=MapAxis.from_edges(edges, interp="log", name="energy_true"),
        background=[40000.0, 300.0, 20.0, 0.5],
    )


def test_estimator_table(spectrum):
    table = PosteriorSensitivityEstimator().run(spectrum, alpha=0.2)
    assert list(table["criterion"]) == ["bkg", "significance", "significance", "gamma"]
    bkg = np.asarray(spectrum.background)
    excess = np.asarray(table["excess"])
    prob = posterior_prob_no_signal(excess[1:3] + bkg[1:3], bkg[1:3] / 0.2, 0.2)
    assert_allclose(prob, P5, rtol=1e-8)
    # same flux conversion as the Li & Ma estimator: e2dnde / excess is common to both
    classic = SensitivityEstimator().run(spectrum, alpha=0.2)
    ratio = table["e2dnde"].quantity / classic["e2dnde"].quantity
    assert_allclose(ratio.to_value(""), excess / np.asarray(classic["excess"]), rtol=1e-12)
    assert table.meta["estimator"] == "PosteriorSensitivityEstimator"
    assert_allclose(table.meta["prob_no_signal"], P5, rtol=1e-8)
    assert_allclose(table.meta["n_sigma_equivalent"], 5.0, rtol=1e-8)


def test_errors():
    with pytest.raises(ValueError, match="detection_prob"):
        PosteriorSensitivityEstimator(detection_prob=0.3)
    with pytest.raises(ValueError, match="background_prior"):
        PosteriorSensitivityEstimator(background_prior="uniform")
    with pytest.raises(ValueError, match="n_on must be finite and non-negative"):
        posterior_prob_no_signal(-1, 3, 0.2)
    with pytest.raises(ValueError, match="alpha must be finite and positive"):
        posterior_excess_matching_prob(3, 0, P5)
    with pytest.raises(ValueError, match="prob_no_signal"):
        posterior_excess_matching_prob(3, 0.2, 1.5)
