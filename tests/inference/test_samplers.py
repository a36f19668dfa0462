"""Samplers and optimisers recover an analytic (conjugate Gamma-Poisson) posterior."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats

from gammaprob.inference import (
    ConvergenceWarning,
    SamplerNotInstalledError,
    check_convergence,
    find_map,
    fit_laplace,
    load_result,
    sample,
    save_result,
)

COUNTS = np.array([3, 7, 4, 6, 5, 2, 8, 5])
A, B = 2.0, 0.5  # Gamma(shape A, rate B) prior on the Poisson rate


def _model():
    import pymc as pm

    with pm.Model() as model:
        rate = pm.Gamma("rate", alpha=A, beta=B)
        pm.Poisson("counts", mu=rate, observed=COUNTS)
    return model


def _analytic():
    return scipy.stats.gamma(a=A + COUNTS.sum(), scale=1 / (B + COUNTS.size))


@pytest.mark.sampling
def test_nuts_recovers_conjugate_posterior_and_records_provenance():
    tree = sample(_model(), draws=600, tune=400, chains=2, random_seed=3, progressbar=False)
    rate = tree["posterior"]["rate"].values.ravel()
    exact = _analytic()
    assert abs(rate.mean() - exact.mean()) < 4 * exact.std() / np.sqrt(300)
    assert rate.std() == pytest.approx(exact.std(), rel=0.15)
    assert tree.attrs["sampler"] == "nutpie"  # the default
    assert json.loads(tree.attrs["sampler_settings"])["random_seed"] == 3
    assert "counts" in tree["log_likelihood"].data_vars
    report = check_convergence(tree, ess_min=100)
    assert report.ok, str(report)
    assert report.rhat_max < 1.02


@pytest.mark.sampling
def test_same_seed_reproduces_run():
    a = sample(
        _model(), draws=50, tune=50, chains=2, random_seed=11, progressbar=False, check=False
    )
    b = sample(
        _model(), draws=50, tune=50, chains=2, random_seed=11, progressbar=False, check=False
    )
    np.testing.assert_array_equal(a["posterior"]["rate"].values, b["posterior"]["rate"].values)


@pytest.mark.sampling
def test_emcee_recovers_conjugate_posterior():
    tree = sample(
        _model(),
        sampler="emcee",
        draws=400,
        tune=200,
        chains=16,
        random_seed=5,
        progressbar=False,
        check=False,
    )
    rate = tree["posterior"]["rate"].values
    assert rate.shape == (16, 400)
    exact = _analytic()
    assert rate.mean() == pytest.approx(exact.mean(), abs=3 * exact.std() / np.sqrt(500))
    assert rate.std() == pytest.approx(exact.std(), rel=0.2)


@pytest.mark.sampling
def test_smc_log_evidence_matches_analytic():
    tree = sample(
        _model(), sampler="smc", draws=1000, chains=2, random_seed=2, progressbar=False, check=False
    )
    log_z = np.asarray(tree["sample_stats"]["log_marginal_likelihood"].values, dtype=float)
    # Gamma-Poisson evidence: prod 1/n_i! * B^A/Gamma(A) * Gamma(A+S)/(B+N)^(A+S)
    from scipy.special import gammaln

    s, n = COUNTS.sum(), COUNTS.size
    exact = (
        -gammaln(COUNTS + 1).sum()
        + A * np.log(B)
        - gammaln(A)
        + gammaln(A + s)
        - (A + s) * np.log(B + n)
    )
    assert np.nanmean(log_z) == pytest.approx(exact, abs=0.1)


def test_map_and_laplace_match_the_analytic_mode():
    # The optimisation runs in log(rate), where the Gamma(shape, rate) posterior density
    # (Jacobian included) is proportional to x^shape exp(-rate x): its mode is shape / rate.
    shape, rate_param = A + COUNTS.sum(), B + COUNTS.size
    point = find_map(_model())
    assert point["rate"] == pytest.approx(shape / rate_param, rel=1e-5)
    tree = fit_laplace(_model(), draws=4000, random_seed=1)
    log_rate = np.log(tree["posterior"]["rate"].values)
    # In log space the posterior is log-gamma with variance trigamma(shape) ~ 1/shape.
    assert log_rate.std() == pytest.approx(1 / np.sqrt(shape), rel=0.05)


def test_convergence_warning_gives_advice():
    import arviz as az

    rng = np.random.default_rng(0)
    stuck = np.stack([rng.normal(0, 1, 200), rng.normal(5, 1, 200)])
    tree = az.from_dict({"posterior": {"x": stuck}})
    with pytest.warns(ConvergenceWarning, match="R-hat .* chains disagree"):
        report = check_convergence(tree)
    assert not report.ok
    assert report.rhat_max > 1.5


def test_missing_sampler_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numpyro" else real(name, *a)
    )
    with pytest.raises(SamplerNotInstalledError, match=r"pip install 'gammaprob\[jax\]'"):
        sample(_model(), sampler="numpyro")
    with pytest.raises(ValueError, match="unknown sampler 'metropolis'"):
        sample(_model(), sampler="metropolis")


def test_save_load_round_trip_never_overwrites(tmp_path):
    import arviz as az

    tree = az.from_dict({"posterior": {"x": np.arange(20.0).reshape(2, 10)}})
    tree.attrs["sampler"] = "pymc"
    path = tmp_path / "result.nc"
    save_result(tree, path)
    with pytest.raises(FileExistsError):
        save_result(tree, path)
    loaded = load_result(path)
    np.testing.assert_array_equal(loaded["posterior"]["x"].values, tree["posterior"]["x"].values)
    assert loaded.attrs["sampler"] == "pymc"


@pytest.mark.sampling
@pytest.mark.parametrize("sampler", ["nutpie", pytest.param("numpyro", marks=pytest.mark.jax)])
def test_fast_nuts_recovers_conjugate_posterior(sampler):
    tree = sample(
        _model(), sampler=sampler, draws=1000, tune=300, chains=2, random_seed=3, progressbar=False
    )
    rate = tree["posterior"]["rate"].values
    assert rate.shape == (2, 1000)
    exact = _analytic()
    assert rate.mean() == pytest.approx(exact.mean(), abs=4 * exact.std() / np.sqrt(400))
    assert rate.std() == pytest.approx(exact.std(), rel=0.15)
    assert "counts" in tree["log_likelihood"].data_vars
    np.testing.assert_array_equal(tree["observed_data"]["counts"].values, COUNTS)
    assert tree.attrs["sampler"] == sampler
    assert check_convergence(tree, warn=False).ok


def _call_logp_entry(compiled, x):
    """Call the C entry point nutpie samples with: (status, logp, gradient)."""
    import ctypes

    out, logp = np.zeros(x.size), np.zeros(())
    pointer = ctypes.POINTER(ctypes.c_double)
    status = compiled.compiled_logp_func.ctypes(
        x.size,
        x.ctypes.data_as(pointer),
        out.ctypes.data_as(pointer),
        logp.ctypes.data_as(pointer),
        compiled.user_data.ctypes.data,
    )
    return status, float(logp), out


def test_nutpie_entry_points_are_cached_and_equal_the_model_logp():
    import pymc as pm

    from gammaprob.inference.nutpie_backend import compile_nutpie

    model = _model()
    compiled = compile_nutpie(model)
    assert compiled.compiled_logp_func._cache.__class__.__name__ == "FunctionCache"
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    for value in (-0.5, 0.7, 2.1):
        status, lp, grad = _call_logp_entry(compiled, np.array([value]))
        assert status == 0
        assert lp == pytest.approx(logp({"rate_log__": value}), rel=1e-12)
        assert grad[0] == pytest.approx(dlogp({"rate_log__": value})[0], rel=1e-12)
    # a model with shared data goes through nutpie's own compilation and agrees too
    with pm.Model() as shared:
        counts = pm.Data("counts", COUNTS)
        rate = pm.Gamma("rate", alpha=A, beta=B)
        pm.Poisson("obs", mu=rate, observed=counts)
    status, lp, _ = _call_logp_entry(compile_nutpie(shared), np.array([0.7]))
    assert status == 0
    assert lp == pytest.approx(shared.compile_logp()({"rate_log__": 0.7}), rel=1e-12)
