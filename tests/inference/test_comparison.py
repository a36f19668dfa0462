"""PSIS-LOO against exact leave-one-out, and LOO/evidence preferring the true curved spectrum."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import scipy.stats

from gammaprob.inference import (
    build_model,
    compare_evidence,
    compare_models,
    log_evidence,
    loo,
    sample,
)
from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral
from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset

A, B = 2.0, 0.5  # Gamma(shape, rate) prior on a Poisson rate
ON, OFF, OTHER = np.array([3, 7, 4, 6]), np.array([5, 2]), np.array([8, 5, 4])


def _conjugate_model():
    import pymc as pm

    with pm.Model() as model:
        rate = pm.Gamma("rate", alpha=A, beta=B)
        pm.Poisson("x::counts", mu=rate, observed=ON)
        pm.Poisson("x::counts_off", mu=rate, observed=OFF)
        pm.Poisson("y::counts", mu=rate, observed=OTHER)
    return model


def _exact_elpd(held_out: np.ndarray, everything: np.ndarray) -> float:
    """Sum of exact leave-one-out log predictive densities (negative binomial)."""
    total = 0.0
    for i, value in enumerate(everything):
        if i not in held_out:
            continue
        rest = np.delete(everything, i)
        shape, rate = A + rest.sum(), B + rest.size
        total += scipy.stats.nbinom.logpmf(value, shape, rate / (rate + 1))
    return total


@pytest.mark.sampling
def test_psis_loo_matches_exact_leave_one_out_per_dataset():
    result = sample(
        _conjugate_model(), draws=1000, tune=300, chains=2, random_seed=1, progressbar=False
    )
    out = loo(result)
    assert set(out.per_dataset) == {"x", "y"}  # counts and counts_off belong to dataset x
    everything = np.concatenate([ON, OFF, OTHER])
    exact_x = _exact_elpd(np.arange(ON.size + OFF.size), everything)
    exact_y = _exact_elpd(np.arange(ON.size + OFF.size, everything.size), everything)
    assert out.per_dataset["x"].n_data_points == ON.size + OFF.size
    assert float(out.per_dataset["x"].elpd) == pytest.approx(exact_x, abs=0.1)
    assert float(out.per_dataset["y"].elpd) == pytest.approx(exact_y, abs=0.1)
    assert float(out.total.elpd) == pytest.approx(
        float(out.per_dataset["x"].elpd) + float(out.per_dataset["y"].elpd), abs=1e-9
    )
    table = out.table()
    assert sorted(table["dataset"]) == ["total", "x", "y"]
    assert list(table["n_bad_k"]) == [0, 0, 0]


@pytest.fixture(scope="module")
def curved_runs():
    """SMC runs of a power law and a log-parabola on a strongly curved simulated spectrum."""
    lp = spectral.LogParabola(
        amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1"),
        reference=1 * u.TeV,
        alpha=Normal(2.5, 0.5),
        beta=Normal(0.1, 0.2),
    )
    for key, value in {"amplitude": 1e-11, "alpha": 2.3, "beta": 0.35}.items():
        lp.parameters[key].value = value
    truth = SkyModel(lp, name="src")
    template = parametric_spectrum_dataset(name="d", n_bins=8, n_bins_true=16)
    ds = simulate_spectrum_dataset(truth, template, rng=11)
    pl = SkyModel(
        spectral.PowerLaw(
            index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1")
        ),
        name="src",
    )
    runs = {}
    for label, model in (("power law", pl), ("log-parabola", truth)):
        runs[label] = sample(
            build_model(ds, model),
            sampler="smc",
            draws=400,
            chains=2,
            random_seed=3,
            progressbar=False,
            check=False,
        )
    return runs


@pytest.mark.sampling
def test_log_parabola_wins_by_loo_and_by_evidence(curved_runs):
    ranking = compare_models(curved_runs, warn=False)  # the power law may have a bad k
    assert ranking.index[0] == "log-parabola"
    worse = ranking.loc["power law"]
    assert -worse["elpd_diff"] > worse["dse"] > 0  # ArviZ 1: elpd_diff < 0 for worse models
    table = compare_evidence(curved_runs)
    assert list(table["model"]) == ["log-parabola", "power law"]
    assert table["log_bayes_factor"][1] > 5  # decisive, far above the SMC error
    z, err = log_evidence(curved_runs["log-parabola"])
    assert np.isfinite(z) and 0 <= err < 1


def test_bad_input_for_comparison():
    import arviz as az

    tree = az.from_dict({"posterior": {"x": np.zeros((2, 10))}})
    with pytest.raises(ValueError, match="no log_likelihood group"):
        loo(tree)
    with pytest.raises(ValueError, match="sampler='smc'"):
        log_evidence(tree)
    with pytest.raises(ValueError, match="at least two"):
        compare_models({"a": tree})
    with pytest.raises(ValueError, match="at least two"):
        compare_evidence({"a": tree})
