"""Joint likelihood: term names, shared parameters, gradients (verify_grad) of every parameter."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytest

from gammaprob.forward import SpectrumResponse, fold_spectra
from gammaprob.likelihood import add_likelihood, statistics, wstat_graph


def _responses(rng):
    e_true = np.geomspace(0.1, 100, 41)
    out = []
    for i, kw in enumerate([{"counts_off": None}, {"counts_off": True}, {"background": True}]):
        edisp = np.eye(40)[:, 5:35] * 0.7 + np.eye(40, k=-1)[:, 5:35] * 0.2
        extra = {}
        if kw.get("counts_off"):
            extra = {"counts_off": rng.poisson(20, 30), "alpha": 0.1}
        if kw.get("background"):
            extra = {"background": rng.uniform(0.5, 3.0, 30)}
        counts = rng.poisson(8, 30)
        counts[:3] = 0
        out.append(
            SpectrumResponse.from_arrays(
                f"ds{i}",
                counts=counts,
                exposure=np.full(40, 3e10),
                edisp=edisp,
                energy_true_edges=e_true,
                energy_edges=e_true[5:36],
                **extra,
            )
        )
    return out


def test_term_names_and_shared_parameters(rng, helpers):
    responses = _responses(rng)
    with pm.Model() as model:
        index = pm.Normal("crab::index", 2.5, 1.0)
        params = {"crab::index": index, "crab::amplitude": 1e-11, "crab::reference": 1.0}
        add_likelihood(
            responses, [helpers.Source("crab", helpers.PowerLaw())], params, onoff="latent"
        )
    names = {v.name for v in model.observed_RVs}
    assert names == {"ds0::counts", "ds1::counts", "ds1::counts_off", "ds2::counts"}
    assert [v.name for v in model.free_RVs] == ["crab::index", "ds1::mu_off"]
    # the default integrates the OFF rates out: one observed term, no nuisance
    with pm.Model() as marginal:
        index = pm.Normal("crab::index", 2.5, 1.0)
        params = {"crab::index": index, "crab::amplitude": 1e-11, "crab::reference": 1.0}
        add_likelihood(responses, [helpers.Source("crab", helpers.PowerLaw())], params)
    assert {v.name for v in marginal.observed_RVs} == {"ds0::counts", "ds1::counts", "ds2::counts"}
    assert [v.name for v in marginal.free_RVs] == ["crab::index"]
    with pytest.raises(ValueError, match=r"former name: use onoff='wstat'"), pm.Model():
        add_likelihood(responses, [], params, onoff="profile")
    with pytest.raises(TypeError, match="SpectrumResponse"), pm.Model():
        add_likelihood([object()], [], params)


def test_verify_grad_every_parameter(rng, helpers):
    responses = _responses(rng)
    sources = [
        helpers.Source("pl", helpers.PowerLaw()),
        helpers.Source("lp", helpers.LogParabola(), datasets_names=["ds1", "ds2"]),
    ]

    def total(index, log_amp, alpha, beta):
        params = {
            "pl::index": index,
            "pl::amplitude": 1e-11 * np.exp(1.0) ** log_amp,
            "pl::reference": 1.0,
            "lp::amplitude": 3e-12,
            "lp::reference": 2.0,
            "lp::alpha": alpha,
            "lp::beta": beta,
        }
        npred = fold_spectra(responses, sources, params)
        out = 0.0
        for r in responses:
            if r.is_onoff:
                out = out - 0.5 * wstat_graph(npred[r.name], r.counts, r.counts_off, r.alpha).sum()
            else:
                out = out + pm.logp(pm.Poisson.dist(mu=npred[r.name]), r.counts).sum()
        return out

    pytensor.gradient.verify_grad(
        total,
        [np.array(2.4), np.array(0.1), np.array(2.1), np.array(0.15)],
        rng=np.random.default_rng(3),
        abs_tol=1e-6,
        rel_tol=1e-5,
    )


def test_statistics_rejects_non_finite(rng, helpers):
    responses = _responses(rng)
    values = {"crab::index": 2.5, "crab::amplitude": np.nan, "crab::reference": 1.0}
    with pytest.raises(ValueError, match="not finite"):
        statistics(responses, [helpers.Source("crab", helpers.PowerLaw())], values)
