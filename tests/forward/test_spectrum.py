"""fold_spectra: grouping by true-energy grid, model-to-dataset assignment, graph parity."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from gammaprob.forward import SpectrumResponse, build_npred_spectrum, fold_spectra


def _response(name, rng, e_true, n_reco=6, **kw):
    n_true = e_true.size - 1
    edisp = rng.uniform(0, 1, (n_true, n_reco))
    edisp[: n_true // 4] = 0.0  # true bins without response are dropped from the fold
    return SpectrumResponse.from_arrays(
        name,
        counts=rng.poisson(10, n_reco),
        exposure=rng.uniform(1e9, 1e10, n_true),
        edisp=edisp / edisp.sum(axis=1, keepdims=True).clip(1e-9),
        energy_true_edges=e_true,
        energy_edges=np.geomspace(0.5, 20, n_reco + 1),
        **kw,
    )


@pytest.fixture
def setup(rng, helpers):
    grid_a = np.geomspace(0.1, 100, 31)
    grid_b = np.geomspace(0.3, 30, 21)
    responses = [
        _response("a1", rng, grid_a),
        _response("a2", rng, grid_a, background=np.full(6, 2.5)),
        _response("b1", rng, grid_b, counts_off=np.arange(6), alpha=0.2),
    ]
    sources = [
        helpers.Source("pl", helpers.PowerLaw()),
        helpers.Source("lp", helpers.LogParabola(), datasets_names=["a2", "b1"]),
    ]
    values = {
        "pl::index": 2.3,
        "pl::amplitude": 1e-11,
        "pl::reference": 1.0,
        "lp::amplitude": 5e-12,
        "lp::reference": 1.0,
        "lp::alpha": 2.0,
        "lp::beta": 0.2,
    }
    return responses, sources, values


def _manual(response, sources, values, helpers):
    from gammaprob.forward import integrate_component

    lo, hi = response.energy_true_edges[:-1], response.energy_true_edges[1:]
    flux = np.zeros(lo.size)
    for s in sources:
        if s.datasets_names is None or response.name in s.datasets_names:
            params = {k.split("::")[1]: v for k, v in values.items() if k.startswith(s.name + "::")}
            flux += integrate_component(s.spectral_model, lo, hi, params, n_nodes=10)
    bkg = 0.0 if response.background is None else response.background
    return response.fold(flux) + bkg


def test_grouped_fold_equals_per_dataset_fold(setup, helpers):
    responses, sources, values = setup
    joint = fold_spectra(responses, sources, values)
    for r in responses:
        np.testing.assert_allclose(joint[r.name], _manual(r, sources, values, helpers), rtol=1e-12)
        np.testing.assert_allclose(
            build_npred_spectrum(r, sources, values), joint[r.name], rtol=1e-14
        )


def test_graph_equals_numpy(setup):
    responses, sources, values = setup
    index, beta = pt.dscalar("index"), pt.dscalar("beta")
    graph = fold_spectra(responses, sources, dict(values, **{"pl::index": index, "lp::beta": beta}))
    f = pytensor.function([index, beta], list(graph.values()))
    ref = fold_spectra(responses, sources, values)
    for ours, name in zip(f(2.3, 0.2), graph, strict=True):
        np.testing.assert_allclose(ours, ref[name], rtol=1e-12)


def test_model_for_unknown_dataset_and_missing_parameter(setup, helpers):
    responses, sources, values = setup
    stray = helpers.Source("x", helpers.PowerLaw(), datasets_names=["nope"])
    with pytest.raises(ValueError, match=r"unknown dataset\(s\) \['nope'\]"):
        fold_spectra(responses, [*sources, stray], values)
    with pytest.raises(KeyError, match="pl::index"):
        fold_spectra(responses, sources, {k: v for k, v in values.items() if k != "pl::index"})
    with pytest.raises(ValueError, match="unique"):
        fold_spectra([responses[0], responses[0]], sources, values)
