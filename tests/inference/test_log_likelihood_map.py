"""Map datasets whose likelihood follows the sources: the log-likelihood group on the windows.

:func:`~gammaprob.inference.samplers.reduced_log_likelihood` sums such a dataset's per-bin
terms per energy bin with :class:`~gammaprob.likelihood.map_sparse.EnergySums` (the sources'
windows plus sufficient statistics) instead of evaluating the dense per-bin graph; the values
must be those of the dense graph summed per energy bin.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pymc as pm

from gammaprob.inference.samplers import _add_log_likelihood
from gammaprob.likelihood import add_likelihood, map_sparse
from gammaprob.likelihood.groups import energy_groups
from gammaprob.modeling import (
    FoVBackgroundModel,
    LogNormal,
    LogUniform,
    Normal,
    SkyModel,
    spatial,
    spectral,
)

N_TRUE, N_RECO, N, PIX = 4, 3, 41, 0.02


def _map_model(helpers):
    """An extended source on a following box, a point source, a FoV background; part masked."""
    from gammaprob.forward import build_params
    from gammaprob.forward.map_response import MapResponse

    arrays = helpers.grid_arrays(
        np.random.default_rng(3),
        n_true=N_TRUE,
        n_reco=N_RECO,
        n=N,
        pix=PIX,
        sigmas=[0.06, 0.05, 0.04, 0.03],
        exposure=lambda lon, lat: np.full((N_TRUE, N, N), 1e12),
        signal_counts=0.5,
    )
    arrays["background"][1, 19:21, 21:23] = 0.0  # counts without background: full terms
    arrays["counts"][1, 19:21, 21:23] = 2
    mask = np.ones((N_RECO, N, N), bool)
    mask[0, :, :5] = False
    response = MapResponse.from_arrays("syn", **arrays, mask_safe=mask, psf_energy="true")

    def power_law(index):
        return spectral.PowerLaw(
            index=Normal(index, 0.2),
            amplitude=LogUniform(1e-13, 1e-11, unit="cm-2 s-1 TeV-1"),
            reference=1.0,
        )

    models = [
        SkyModel(
            spectral=power_law(2.2),
            spatial=spatial.Gaussian(
                lon_0=Normal(0.0, 0.02, unit="deg"),
                lat_0=Normal(0.0, 0.02, unit="deg"),
                sigma=LogUniform(0.02, 0.2, unit="deg"),
                frame="galactic",
            ),
            name="ext",
        ),
        SkyModel(
            spectral=power_law(2.5),
            spatial=spatial.Point(
                lon_0=Normal(-0.15, 0.01, unit="deg"),
                lat_0=Normal(0.1, 0.01, unit="deg"),
                frame="galactic",
            ),
            name="pt",
        ),
        FoVBackgroundModel(dataset_name="syn", norm=LogNormal(0.0, 0.1), tilt=Normal(0.0, 0.1)),
    ]
    with pm.Model() as model, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        add_likelihood([response], models, build_params(models))
    return model


def _prior_tree(model, n_chain=2, n_draw=15):
    names = [rv.name for rv in model.free_RVs]
    draws = pm.draw([model[n] for n in names], n_chain * n_draw, random_seed=5)
    posterior = {
        n: d.reshape(n_chain, n_draw, *d.shape[1:]) for n, d in zip(names, draws, strict=True)
    }
    return az.from_dict({"posterior": posterior})


def test_map_log_likelihood_on_windows_equals_dense_per_bin_terms(monkeypatch, helpers):
    model = _map_model(helpers)
    labels = energy_groups(model)["syn"]
    calls = []
    energy_logp = map_sparse.energy_logp

    def spy(term):
        result = energy_logp(term)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(map_sparse, "energy_logp", spy)
    reduced, full = _prior_tree(model), _prior_tree(model)
    _add_log_likelihood(reduced, model)
    assert calls == [True]  # the windows' per-energy loop, not the dense graph
    monkeypatch.undo()
    _add_log_likelihood(full, model, pointwise=True)  # the dense per-bin graph
    small = reduced["log_likelihood"]["syn::counts"]
    big = full["log_likelihood"]["syn::counts"].values
    assert small.dims == ("chain", "draw", "syn::counts_energy")
    np.testing.assert_array_equal(small["syn::counts_energy"].values, np.arange(N_RECO))
    summed = np.stack([big[..., labels == e].sum(axis=-1) for e in range(N_RECO)], axis=-1)
    assert np.all(np.isfinite(summed)) and np.ptp(summed[..., 1]) > 1.0  # draws differ
    np.testing.assert_allclose(small.values, summed, rtol=1e-12)


def test_energy_logp_reads_the_map_term_only(helpers):
    """The windows' sums replace the map term itself, with the build-time energy labels."""
    from pymc.model.transform.conditioning import remove_value_transforms

    model = _map_model(helpers)
    umodel = remove_value_transforms(model)
    (term,) = umodel.logp(vars=umodel.observed_RVs, sum=False)
    ingredients, sums, index = map_sparse.energy_logp(term)
    np.testing.assert_array_equal(index, energy_groups(model)["syn"])
    assert isinstance(sums, map_sparse.EnergySums)
    assert len(ingredients) == 5  # g, static signal, fluxes, box bounds, one box's outputs
    assert map_sparse.energy_logp(term * 1.0) is None  # another graph: the dense path
