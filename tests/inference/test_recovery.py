"""Posteriors of simulated datasets cover the known truth (fast: small datasets, short chains)."""

from __future__ import annotations

import numpy as np
import pytest

from gammaprob.inference import build_model, check_convergence, fit_laplace, sample
from gammaprob.inference.build import model_metadata
from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral
from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset

TRUTH = {"index": 2.6, "amplitude": 4e-12}


def _model(name="src", datasets_names=None):
    pl = spectral.PowerLaw(
        index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1")
    )
    for key, value in TRUTH.items():
        pl.parameters[key].value = value
    return SkyModel(pl, name=name, datasets_names=datasets_names)


def _z(result, name, truth):
    draws = np.asarray(result["posterior"][name].values).ravel()
    return (np.mean(draws) - truth) / np.std(draws)


@pytest.mark.sampling
def test_joint_onoff_and_known_background_recover_truth():
    """Two datasets share one source: latent on/off background plus a Cash dataset."""
    model = _model()
    a = simulate_spectrum_dataset(
        model, parametric_spectrum_dataset(name="a", n_bins=6, n_bins_true=12), rng=1, alpha=0.2
    )
    b = simulate_spectrum_dataset(
        model,
        parametric_spectrum_dataset(name="b", n_bins=6, n_bins_true=12, resolution=0.2),
        rng=2,
    )
    result = sample(
        build_model([a, b], model, onoff="latent"),
        draws=1000,  # sample()'s defaults: shorter runs of the latent OFF rates near zero
        tune=1000,  # give R-hat noise of ~0.02 and an occasional divergence while tuning
        chains=2,
        random_seed=5,
        progressbar=False,
        check=False,
    )
    report = check_convergence(result, warn=False)
    assert report.n_divergent == 0, str(report)
    import arviz as az

    source = result["posterior"].to_dataset()[["src::index", "src::amplitude"]]
    assert float(az.rhat(source).to_array().max()) < 1.02
    assert abs(_z(result, "src::index", TRUTH["index"])) < 3
    assert abs(_z(result, "src::amplitude", TRUTH["amplitude"])) < 3
    assert set(result["log_likelihood"].data_vars) == {"a::counts", "a::counts_off", "b::counts"}


def test_laplace_on_wstat_covers_truth():
    """The quick-look path (profiled WStat, Gaussian at the mode) also recovers the truth."""
    model = _model()
    ds = simulate_spectrum_dataset(
        model, parametric_spectrum_dataset(name="w", n_bins=8, n_bins_true=16), rng=3, alpha=0.2
    )
    with pytest.warns(UserWarning, match="profiled WStat"):
        pm_model = build_model(ds, model, onoff="wstat")
    laplace = fit_laplace(pm_model, draws=4000, random_seed=1)
    for name in ("src::index", "src::amplitude"):
        assert abs(_z(laplace, name, TRUTH[name.split("::")[1]])) < 3
    # a few percent on the amplitude from ~1e3 ON counts
    rel = np.std(laplace["posterior"]["src::amplitude"].values) / TRUTH["amplitude"]
    assert 0.01 < rel < 0.2


@pytest.mark.sampling
def test_marginal_onoff_equals_latent_posterior():
    """Integrating the OFF rates out gives the latent model's posterior, with one term per dataset."""
    model = _model()
    ds = simulate_spectrum_dataset(
        model, parametric_spectrum_dataset(name="m", n_bins=6, n_bins_true=12), rng=4, alpha=0.2
    )
    marginal = build_model(ds, model)  # the default
    assert model_metadata(marginal)["onoff"] == "marginal"
    assert [rv.name for rv in marginal.observed_RVs] == ["m::counts"]
    assert "m::mu_off" not in marginal.named_vars
    runs = {
        kind: sample(
            build_model(ds, model, onoff=kind),
            sampler="nutpie",
            draws=1000,
            tune=1000,
            chains=2,
            random_seed=6,
            progressbar=False,
        )
        for kind in ("latent", "marginal")
    }
    for name in ("src::index", "src::amplitude"):
        a, b = (np.asarray(runs[k]["posterior"][name].values).ravel() for k in runs)
        assert abs(np.median(a) - np.median(b)) < 0.15 * np.std(a)
        assert np.std(b) == pytest.approx(np.std(a), rel=0.1)
    assert set(runs["marginal"]["log_likelihood"].data_vars) == {"m::counts"}
    with pytest.raises(ValueError, match="background_prior applies to onoff='latent' only"):
        build_model(ds, model, background_prior=lambda n, c: None)
