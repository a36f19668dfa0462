"""Map folding on a synthetic dataset: analytic totals, graph = numpy, finite position gradients."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.special import gammaln, xlogy

from gammaprob.forward import MapFold, MapResponse, npred_map

N_TRUE, N_RECO, N = 4, 3, 41
PIX = 0.02  # deg


@pytest.fixture
def response(rng, helpers):
    e_true = np.geomspace(0.5, 50, N_TRUE + 1)
    e_reco = np.geomspace(1.0, 20, N_RECO + 1)
    edisp = rng.uniform(0.1, 1, (N_TRUE, N_RECO))
    edisp /= edisp.sum(axis=1, keepdims=True)
    lat, lon = np.meshgrid(
        (np.arange(N) - N // 2) * PIX, (np.arange(N) - N // 2) * PIX, indexing="ij"
    )
    rad, psf = helpers.gaussian_psf_table([0.1, 0.08, 0.06, 0.05])
    solid = np.deg2rad(PIX) ** 2 * np.cos(np.deg2rad(lat))
    bkg = rng.uniform(0.5, 1.5, (N_RECO, N, N))
    signal_scale = 1e12
    counts = rng.poisson(bkg + 0.0)
    counts[:, 18:23, 18:23] += rng.poisson(30, (N_RECO, 5, 5))
    return MapResponse.from_arrays(
        "syn",
        counts=counts,
        exposure=np.full((N_TRUE, N, N), signal_scale),
        edisp=edisp,
        energy_true_edges=e_true,
        energy_edges=e_reco,
        lon=lon % 360,
        lat=lat,
        solid_angle=solid,
        psf_rad=rad,
        psf_values=psf,
        frame="galactic",
        background=bkg,
    )


def _models(helpers):
    src = helpers.Source("src", helpers.PowerLaw(), helpers.Point())
    bkg = helpers.FoVBackground("syn-bkg", ["syn"])
    values = {
        "src::index": 2.2,
        "src::amplitude": 1e-12,
        "src::reference": 1.0,
        "src::lon_0": 0.0,
        "src::lat_0": 0.0,  # exactly on a pixel centre
        "syn-bkg::norm": 1.05,
        "syn-bkg::tilt": 0.1,
        "syn-bkg::reference": 1.0,
    }
    return [src, bkg], values


def test_point_source_total_equals_flux_times_exposure(response, helpers):
    models, values = _models(helpers)
    signal = npred_map(response, models[:1], values, oversampling=8) - response.background
    flux = helpers.PowerLaw.integrate(
        response.energy_true_edges[:-1], response.energy_true_edges[1:], 2.2, 1e-12, 1.0
    )
    # the 0.8 deg map contains the 0.1 deg Gaussian PSF entirely
    np.testing.assert_allclose(signal.sum(axis=1), (flux * 1e12) @ response.edisp, rtol=2e-4)


def test_compressed_graph_equals_full_likelihood_and_gradients_are_finite(response, helpers):
    models, values = _models(helpers)
    fold = MapFold.build(response, models, {"src": (0.0, 0.0)}, position_margin=0.05)
    assert 0 < fold.cutout.size < N * N
    lon0, lat0, norm = pt.dscalar("lon0"), pt.dscalar("lat0"), pt.dscalar("norm")
    params = dict(values, **{"src::lon_0": lon0, "src::lat_0": lat0, "syn-bkg::norm": norm})
    mu = fold.npred(params)
    logp = (xlogy_pt(fold.counts, mu) - mu).sum()
    f = pytensor.function([lon0, lat0, norm], [logp, *pt.grad(logp, [lon0, lat0, norm])])
    value, *grads = f(0.0, 0.0, 1.05)
    assert np.all(np.isfinite(grads))
    full = npred_map(response, models, values)
    n = response.counts
    full_logp = np.sum(xlogy(n, full) - full - gammaln(n + 1.0))
    compressed = value - np.sum(gammaln(fold.counts + 1.0)) + fold.log_multinomial
    assert compressed == pytest.approx(full_logp, abs=1e-3)

    pytensor.gradient.verify_grad(
        lambda a, b, c: (
            xlogy_pt(
                fold.counts,
                m := fold.npred(
                    dict(values, **{"src::lon_0": a, "src::lat_0": b, "syn-bkg::norm": c})
                ),
            )
            - m
        ).sum(),
        [np.array(0.013), np.array(-0.007), np.array(1.05)],
        rng=np.random.default_rng(2),
        eps=1e-7,
        abs_tol=1e-4,
        rel_tol=1e-4,
        mode="FAST_COMPILE",
    )


def xlogy_pt(n, mu):
    return pt.as_tensor_variable(np.asarray(n, float)) * pt.log(mu)


def test_bad_input(response, helpers):
    with pytest.raises(ValueError, match="unknown dataset"):
        MapFold.build(response, [helpers.FoVBackground("x", ["other"])], {}, known_datasets=[])
    ext = helpers.Source("ext", helpers.PowerLaw(), object())
    with pytest.raises(TypeError, match="needs evaluate"):
        MapFold.build(response, [ext], {})
    with pytest.raises(ValueError, match="no bin inside its safe mask"):
        MapResponse.from_arrays(
            "m",
            counts=np.zeros((1, 2, 2)),
            exposure=np.ones((1, 2, 2)),
            edisp=np.ones((1, 1)),
            energy_true_edges=[1, 2],
            energy_edges=[1, 2],
            lon=np.zeros((2, 2)),
            lat=np.zeros((2, 2)),
            solid_angle=np.ones((2, 2)),
            psf_rad=[0, 1],
            psf_values=np.ones((1, 2)),
            mask_safe=np.zeros((1, 2, 2), bool),
        )
