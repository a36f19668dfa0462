"""Bad models get clear errors with advice: improper priors, no data, a bad start, divergences."""

from __future__ import annotations

import numpy as np
import pytest

from gammaprob.inference import (
    ConvergenceWarning,
    ImproperModelError,
    SamplerNotInstalledError,
    build_model,
    check_model,
    improper_variables,
    sample,
)
from gammaprob.likelihood import flat_background
from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral
from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset


def test_flat_prior_not_constrained_by_data_is_refused():
    import pymc as pm

    with pm.Model() as model:
        rate = pm.HalfFlat("rate")
        pm.Flat("offset")  # no observed term depends on it
        pm.Poisson("counts", mu=rate, observed=np.array([3, 4, 5]))
    assert improper_variables(model) == (["rate"], ["offset"])
    with pytest.raises(ImproperModelError, match=r"offset has a flat .* proper prior"):
        check_model(model)


def test_improper_priors_only_are_refused_for_the_evidence():
    import pymc as pm

    with pm.Model() as model:
        rate = pm.HalfFlat("rate")
        pm.Poisson("counts", mu=rate, observed=np.array([3, 4, 5]))
    check_model(model)  # the posterior is proper: Gamma(13, 3)
    with pytest.raises(ImproperModelError, match=r"evidence .* needs proper priors"):
        check_model(model, evidence=True)


def test_model_without_data_or_with_bad_start_is_refused():
    import pymc as pm

    with pm.Model() as empty:
        pm.Normal("x")
    with pytest.raises(ImproperModelError, match="no data"):
        check_model(empty)
    with pm.Model() as bad:
        rate = pm.Normal("rate", 0, 1)
        pm.Poisson("counts", mu=rate - 5, observed=np.array([3]))
    with pytest.raises(ImproperModelError, match="not finite at the initial point for counts"):
        check_model(bad, start=True)


def test_gammaprob_onoff_default_prior_is_proper_and_flat_one_is_named():
    pl = spectral.PowerLaw(
        index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1")
    )
    sky = SkyModel(pl, name="src")
    ds = simulate_spectrum_dataset(
        sky, parametric_spectrum_dataset(name="d", n_bins=6, n_bins_true=12), rng=0, alpha=0.2
    )
    # the default Gamma prior on the OFF rates is proper: evidence-ready
    model = build_model(ds, sky)
    check_model(model, evidence=True)
    assert improper_variables(model) == ([], [])
    # the flat prior is improper but constrained by the OFF counts
    flat = build_model(ds, sky, onoff="latent", background_prior=flat_background)
    check_model(flat)
    assert improper_variables(flat) == (["d::mu_off"], [])
    with pytest.raises(ImproperModelError, match="background_prior="):
        check_model(flat, evidence=True)


def test_no_free_parameter_is_refused():
    pl = spectral.PowerLaw(index=2.5, amplitude=1e-12)
    ds = parametric_spectrum_dataset(name="d", n_bins=6, n_bins_true=12)
    with pytest.raises(ValueError, match="give at least one parameter a prior"):
        build_model(ds, SkyModel(pl, name="src"))


def test_missing_sampler_says_how_to_install(monkeypatch):
    import pymc as pm

    from gammaprob.inference import samplers

    monkeypatch.setitem(samplers._REQUIRES, "nutpie", ("gammaprob_no_such_package",))
    with pm.Model() as model:
        pm.Normal("x")
    # nutpie is the default sampler and a dependency: its absence is a broken install
    with pytest.raises(SamplerNotInstalledError, match=r"sampler 'nutpie' needs .* dependency"):
        sample(model)
    monkeypatch.setitem(samplers._REQUIRES, "numpyro", ("gammaprob_no_such_package",))
    with pytest.raises(SamplerNotInstalledError, match=r"pip install 'gammaprob\[jax\]'"):
        sample(model, sampler="numpyro")
    with pytest.raises(ValueError, match="unknown sampler 'stan'"):
        sample(model, sampler="stan")


@pytest.mark.sampling
def test_divergences_warn_with_advice():
    import pymc as pm

    with pm.Model() as funnel:  # Neal's funnel, centred: NUTS diverges in the neck
        log_sigma = pm.Normal("log_sigma", 0, 3)
        x = pm.Normal("x", 0, pm.math.exp(log_sigma), shape=5)
        pm.Normal("y", x[0], 10.0, observed=0.0)  # a weak data term: sample() needs data
    with pytest.warns(ConvergenceWarning, match="divergent transitions.*target_accept"):
        sample(
            funnel,
            draws=200,
            tune=200,
            chains=2,
            random_seed=1,
            target_accept=0.6,
            progressbar=False,
        )


def test_sampling_a_model_whose_parameters_changed_is_refused():
    from gammaprob.modeling.parameter import StaleModelError

    pl = spectral.PowerLaw(
        index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1")
    )
    sky = SkyModel(pl, name="src")
    ds = parametric_spectrum_dataset(name="d", n_bins=6, n_bins_true=12)
    model = build_model(ds, sky)
    check_model(model)
    pl.index.set(2.0)
    with pytest.raises(StaleModelError, match=r"'src::index' \(fixed now\).*Rebuild"):
        check_model(model)
    with pytest.raises(StaleModelError, match="build_model"):
        sample(model, draws=10, tune=10, chains=1, progressbar=False)
