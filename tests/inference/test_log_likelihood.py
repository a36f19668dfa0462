"""The log-likelihood group: per energy bin for map datasets by default, per bin on request."""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
import pytest

from gammaprob.inference.comparison import LOOWarning, loo
from gammaprob.inference.samplers import _add_log_likelihood, sample
from gammaprob.likelihood import add_likelihood
from gammaprob.likelihood.groups import energy_groups

N_RECO = 3


def _map_model(helpers):
    rng = np.random.default_rng(0)
    response = helpers.grid_response(
        rng,
        n_true=4,
        n_reco=N_RECO,
        n=15,
        pix=0.05,
        sigmas=[0.1, 0.08, 0.06, 0.05],
        exposure=lambda lon, lat: np.full((4, *lon.shape), 1e11),
        signal_counts=0.0,
        psf_energy="true",
    )
    source = helpers.Source("src", helpers.PowerLaw(), helpers.Point())
    with pm.Model() as model:
        amplitude = pm.LogNormal("src::amplitude", mu=np.log(1e-12), sigma=0.5)
        params = {
            "src::index": 2.0,
            "src::amplitude": amplitude,
            "src::reference": 1.0,
            "src::lon_0": 0.0,
            "src::lat_0": 0.0,
        }
        add_likelihood([response], [source], params, positions={"src": (0.0, 0.0, 0.1)})
    return model


def _tree(model, n_chain=2, n_draw=40):
    import arviz as az

    draws = pm.draw(model["src::amplitude"], n_chain * n_draw, random_seed=1)
    return az.from_dict({"posterior": {"src::amplitude": draws.reshape(n_chain, n_draw)}})


def test_map_log_likelihood_is_per_energy_by_default_and_per_bin_on_request(
    helpers,
):
    model = _map_model(helpers)
    labels = energy_groups(model)["syn"]
    n_bins = labels.size
    assert n_bins > 10 * N_RECO and set(labels) == set(range(N_RECO))
    reduced, full = _tree(model), _tree(model)
    _add_log_likelihood(reduced, model)
    _add_log_likelihood(full, model, pointwise=True)
    small = reduced["log_likelihood"]["syn::counts"]
    big = full["log_likelihood"]["syn::counts"]
    assert small.shape == (2, 40, N_RECO)  # default: n_energy values per draw
    assert big.shape == (2, 40, n_bins)  # opt-in: n_bins values per draw
    # the same numbers: the per-bin values summed over the pixels of each energy bin
    summed = np.stack([big.values[..., labels == e].sum(axis=-1) for e in range(N_RECO)], axis=-1)
    np.testing.assert_allclose(small.values, summed, rtol=1e-10)
    assert reduced["log_likelihood"].attrs["granularity"].startswith("per bin; map")
    # LOO works on the reduced group: one observation per energy bin
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LOOWarning)
        assert loo(reduced).per_dataset["syn"].n_data_points == N_RECO


def test_spectral_terms_stay_per_bin_and_bad_option_is_refused():
    with pm.Model() as model:
        rate = pm.Gamma("rate", alpha=2.0, beta=0.5)
        pm.Poisson("x::counts", mu=rate, observed=np.array([3, 7, 4, 6]))
    tree = _tree_rate(model)
    _add_log_likelihood(tree, model)
    assert tree["log_likelihood"]["x::counts"].shape == (2, 30, 4)
    with pytest.raises(ValueError, match="log_likelihood must be True, False or 'pointwise'"):
        sample(model, draws=5, tune=5, chains=1, log_likelihood="bins", progressbar=False)


def _tree_rate(model):
    import arviz as az

    draws = pm.draw(model["rate"], 60, random_seed=2).reshape(2, 30)
    return az.from_dict({"posterior": {"rate": draws}})
