"""Convergence checks: ensembles by autocorrelation time; messages name the failing variables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gammaprob.inference import ConvergenceWarning, check_convergence
from gammaprob.inference.diagnostics import ENSEMBLE_MIN_TAU, is_nuisance


def _ar1(rng, phi, n_steps, n_walkers):
    """AR(1) walkers: stationary N(0, 1), integrated autocorrelation time (1 + phi)/(1 - phi)."""
    x = np.empty((n_walkers, n_steps))
    x[:, 0] = rng.standard_normal(n_walkers)
    noise = rng.standard_normal((n_walkers, n_steps)) * math.sqrt(1 - phi**2)
    for t in range(1, n_steps):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def _tree(**variables):
    import arviz as az

    return az.from_dict({"posterior": variables})


def test_ensemble_uses_autocorrelation_time_of_a_known_target():
    rng = np.random.default_rng(1)
    phi, n_steps, n_walkers = 0.8, 20000, 8
    tree = _tree(x=_ar1(rng, phi, n_steps, n_walkers))
    tree.attrs["sampler"] = "emcee"
    report = check_convergence(tree, warn=False)
    assert report.method == "ensemble"
    assert math.isnan(report.rhat_max)
    tau = (1 + phi) / (1 - phi)  # 9 steps
    assert report.tau_max == pytest.approx(tau, rel=0.15)
    assert report.ess_bulk_min == pytest.approx(n_steps * n_walkers / report.tau_max, rel=1e-12)
    assert report.n_steps == n_steps and report.ok, str(report)
    assert "not independent chains" in str(report)


def test_ensemble_shorter_than_fifty_tau_is_flagged():
    rng = np.random.default_rng(2)
    phi = 0.99  # tau = 199 steps
    tree = _tree(
        **{"crab::index": _ar1(rng, phi, 3000, 8), "crab::norm": rng.normal(size=(8, 3000))}
    )
    with pytest.warns(
        ConvergenceWarning, match=r"shorter than 50 autocorrelation times for crab::index"
    ):
        report = check_convergence(tree, ensemble=True, ess_min=10)
    assert report.failing == ("crab::index",)
    assert report.n_steps < ENSEMBLE_MIN_TAU * report.tau_max
    assert "physical parameters are affected (crab::index)" in report.problems[0]


def test_nuisance_names():
    assert is_nuisance("hess-1::mu_off") and is_nuisance("obs-1-bkg::norm")
    assert not is_nuisance("crab::amplitude") and not is_nuisance("crab::index_scaled")
    assert not is_nuisance("rate")


def test_rhat_message_names_nuisance_variables_only():
    rng = np.random.default_rng(3)
    good = rng.normal(size=(4, 500))
    mu_off = rng.normal(size=(4, 500, 3))
    mu_off[0, :, 1] += 3.0  # one chain stuck elsewhere in one OFF bin
    tree = _tree(**{"crab::alpha": good, "d::mu_off": mu_off})
    with pytest.warns(ConvergenceWarning, match=r"chains disagree for d::mu_off \("):
        report = check_convergence(tree)
    assert report.failing == ("d::mu_off",)
    assert not report.physical_affected
    assert "only nuisance parameters fail" in report.problems[0]
    assert "crab::alpha" not in report.problems[0]


def test_rhat_and_ess_messages_say_physical_parameters_are_affected():
    rng = np.random.default_rng(4)
    stuck = rng.normal(size=(4, 500))
    stuck[1] += 4.0
    sticky = np.cumsum(rng.normal(size=(4, 500)), axis=1) * 0.01 + rng.normal(size=(4, 1))
    tree = _tree(
        **{"crab::alpha": stuck, "d-bkg::norm": sticky, "crab::beta": rng.normal(size=(4, 500))}
    )
    with pytest.warns(ConvergenceWarning) as record:
        report = check_convergence(tree)
    message = str(record[0].message)
    assert "physical parameters are affected (crab::alpha" in message
    assert "crab::beta" not in message
    assert report.physical_affected
    assert set(report.failing) == {"crab::alpha", "d-bkg::norm"}


@pytest.mark.sampling
def test_emcee_result_is_checked_as_an_ensemble():
    import pymc as pm

    from gammaprob.inference import sample

    with pm.Model() as model:
        rate = pm.Gamma("rate", alpha=2.0, beta=0.5)
        pm.Poisson("counts", mu=rate, observed=np.array([3, 7, 4, 6, 5]))
    tree = sample(
        model,
        sampler="emcee",
        draws=300,
        tune=200,
        chains=16,
        random_seed=5,
        progressbar=False,
        check=False,
    )
    assert tree.attrs["ensemble"] == "emcee"
    report = check_convergence(tree, warn=False)
    assert report.method == "ensemble" and math.isnan(report.rhat_max)
    assert 1.0 < report.tau_max < 300
    assert report.ess_bulk_min == pytest.approx(300 * 16 / report.tau_max, rel=1e-12)
