"""Extended sources on a synthetic map: analytic profile, graph = numpy, verify_grad, HAWC-like PSF."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from gammaprob.forward import ExtendedSource, MapFold, nominal_positions, npred_map
from gammaprob.modeling import LogUniform, SkyModel, Uniform, spatial, spectral

N_TRUE, N_RECO, N = 4, 3, 41
PIX = 0.02  # deg
PSF_SIGMAS = [0.06, 0.05, 0.04, 0.03]


def _response(rng, helpers, psf_energy="true", sigmas=None):
    if sigmas is None:
        sigmas = PSF_SIGMAS if psf_energy == "true" else PSF_SIGMAS[1:]
    return helpers.grid_response(
        rng,
        n_true=N_TRUE,
        n_reco=N_RECO,
        n=N,
        pix=PIX,
        sigmas=sigmas,
        exposure=lambda lon, lat: (
            np.full((N_TRUE, N, N), 1e12) * np.linspace(0.9, 1.1, N)[None, None, :]
        ),
        signal_counts=3.0,
        psf_energy=psf_energy,
    )


def _gauss(sigma=0.03, lon=0.0, lat=0.0):
    return SkyModel(
        spectral=spectral.PowerLaw(index=2.2, amplitude=1e-12, reference=1.0),
        spatial=spatial.Gaussian(lon_0=lon, lat_0=lat, sigma=sigma, frame="galactic"),
        name="ext",
    )


VALUES = {
    "ext::index": 2.2,
    "ext::amplitude": 1e-12,
    "ext::reference": 1.0,
    "ext::lon_0": 0.004,
    "ext::lat_0": -0.006,
    "ext::sigma": 0.03,
    "ext::e": 0.0,
    "ext::phi": 0.0,
}


@pytest.fixture
def response(rng, helpers):
    return _response(rng, helpers)


def test_gaussian_convolved_with_gaussian_psf_is_analytic(response, helpers):
    """Gaussian source x Gaussian PSF = Gaussian of width sqrt(s^2 + p^2) (flat sky, 0.8 deg map).

    Integrating the model over a pixel and averaging the kernel over a pixel each add the
    variance of a uniform box, ``a^2 / 12``, per axis: the discrete result is the Gaussian of
    variance ``s^2 + p^2 + 2 a^2 / 12`` sampled at pixel centres (to third order).
    """
    model = _gauss()
    signal = npred_map(response, [model], VALUES, oversampling=4, model_oversampling=4)
    signal -= response.background
    flux = helpers.PowerLaw.integrate(
        response.energy_true_edges[:-1], response.energy_true_edges[1:], 2.2, 1e-12, 1.0
    )
    lon = (response.lon + 180) % 360 - 180
    r2 = (lon - 0.004) ** 2 + (response.lat + 0.006) ** 2
    width2 = 0.03**2 + np.asarray(PSF_SIGMAS)[:, None] ** 2 + 2 * PIX**2 / 12
    profile = np.exp(-0.5 * r2 / width2) / (2 * np.pi * np.deg2rad(1) ** 2 * width2)
    exposure = response.exposure
    expected = response.edisp.T @ (flux[:, None] * profile * response.solid_angle * exposure)
    core = expected > 0.05 * expected.max()
    np.testing.assert_allclose(signal[core], expected[core], rtol=3e-3)
    np.testing.assert_allclose(signal.sum(axis=1), expected.sum(axis=1), rtol=2e-3)


def test_graph_equals_numpy_and_verify_grad_position_size(response, helpers):
    model = _gauss()
    positions = {"ext": (0.0, 0.0, 0.02)}
    fold = MapFold.build(
        response,
        [model],
        positions,
        oversampling=2,
        model_oversampling=2,
        size_quantile=0.5,
        containment=0.99,
    )
    assert len(fold.extended) == 1 and fold.cutout.size < N * N
    names = ("ext::lon_0", "ext::lat_0", "ext::sigma")
    tensors = [pt.dscalar(n) for n in names]
    mu = fold.npred(dict(VALUES, **dict(zip(names, tensors, strict=True))))
    f = pytensor.function(tensors, mu)
    ours = f(*(VALUES[n] for n in names))
    full = npred_map(
        response, [model], VALUES, oversampling=2, model_oversampling=2, containment=0.99
    )
    reference = full[:, fold.cutout].reshape(-1)[fold.inside]
    np.testing.assert_allclose(ours[: fold.inside.size], reference, rtol=1e-9)

    counts = pt.as_tensor_variable(fold.counts.astype(float))

    def logp(lon, lat, sigma):
        m = fold.npred(dict(VALUES, **{"ext::lon_0": lon, "ext::lat_0": lat, "ext::sigma": sigma}))
        return (counts * pt.log(m) - m).sum()

    helpers.verify_grad(logp, [0.004, -0.006, 0.03], seed=3)


@pytest.mark.parametrize("sigmas", [[0.05] * N_TRUE, [0.05, 0.05, 0.04, 0.04]])
def test_factored_kernels_equal_full_convolution(rng, helpers, sigmas):
    """One convolution per kernel factor (rank 1: energy-independent PSF) = all kernels."""
    response = _response(rng, helpers, sigmas=sigmas)
    model = _gauss()
    fold = MapFold.build(
        response, [model], {"ext": (0.0, 0.0, 0.02)}, oversampling=2, model_oversampling=2
    )
    (source,) = fold.extended
    weights, kernels = source.kernel_factors
    assert weights.shape == (N_TRUE, len(set(sigmas))) and kernels.shape[0] == len(set(sigmas))
    names = ("ext::lon_0", "ext::lat_0", "ext::sigma")
    tensors = [pt.dscalar(n) for n in names]
    image = source.image(dict(VALUES, **dict(zip(names, tensors, strict=True))))
    f = pytensor.function(tensors, source.convolve(image, fold.gathers[0]))
    ours = f(0.004, -0.006, 0.03)
    full, pixels = source.convolve_numpy(source.image(VALUES))
    lookup = dict(zip(pixels.tolist(), range(pixels.size), strict=True))
    expected = full[:, [lookup[p] for p in fold.cutout.tolist()]]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12 * expected.max())
    big = expected > 1e-6 * expected.max()
    np.testing.assert_allclose(ours[big], expected[big], rtol=1e-9)
    weights_out = rng.uniform(size=ours.shape)

    def total(lon, lat, sigma):
        values = dict(VALUES, **{"ext::lon_0": lon, "ext::lat_0": lat, "ext::sigma": sigma})
        return (source.convolve(source.image(values), fold.gathers[0]) * weights_out).sum()

    helpers.verify_grad(total, [0.004, -0.006, 0.03], seed=4)


def test_separable_lines_equal_sub_pixel_nodes(response):
    """CAR grid: the model on broadcast lon/lat lines = on the node list; sheared grid: nodes."""
    source = ExtendedSource.build(response, _gauss(), (0.0, 0.0), 0.02, model_oversampling=3)
    assert source.lon_line.shape == (3 * source.box_shape[1],)
    assert source.lat_line.shape == (3 * source.box_shape[0],)
    nodes = dataclasses.replace(source, lon_line=None, lat_line=None)
    np.testing.assert_allclose(source.image(VALUES), nodes.image(VALUES), rtol=1e-13)
    names = ("ext::lon_0", "ext::lat_0", "ext::sigma")
    tensors = [pt.dscalar(n) for n in names]
    params = dict(VALUES, **dict(zip(names, tensors, strict=True)))
    f = pytensor.function(tensors, [source.image(params), nodes.image(params)])
    lines, expected = f(0.011, -0.004, 0.025)
    np.testing.assert_allclose(lines, expected, rtol=1e-13, atol=1e-15 * expected.max())
    sheared = dataclasses.replace(response, lon=(response.lon + 0.3 * response.lat) % 360)
    source = ExtendedSource.build(sheared, _gauss(), (0.0, 0.0), 0.02, model_oversampling=2)
    assert source.lon_line is None and source.lat_line is None


def test_box_from_priors(response):
    model = SkyModel(
        spectral=spectral.PowerLaw(index=2.2, amplitude=1e-12, reference=1.0),
        spatial=spatial.Gaussian(
            lon_0=Uniform(-0.04, 0.04, unit="deg"),
            lat_0=Uniform(-0.04, 0.04, unit="deg"),
            sigma=LogUniform(0.01, 0.05, unit="deg"),
            frame="galactic",
        ),
        name="ext",
    )
    positions = nominal_positions([model])
    assert positions["ext"] == pytest.approx((0.0, 0.0, 0.04))
    source = ExtendedSource.build(response, model, (0.0, 0.0), 0.04, quantile=0.99)
    # box: 0.04 margin + 5 x (0.99 quantile of sigma, ~0.049) + a pixel diagonal, per side
    half = (source.box_shape[0] - 1) / 2 * PIX
    assert 0.04 + 5 * 0.048 < half < 0.04 + 5 * 0.05 + 2 * PIX
    assert source.kernel.shape[0] == N_TRUE
    np.testing.assert_allclose(source.kernel.sum(axis=(1, 2)), 1.0)


def test_psf_per_reco_energy(rng, helpers):
    """PSF after the energy dispersion: graph = numpy; totals = flux x exposure x edisp."""
    response = _response(rng, helpers, psf_energy="reco")
    point = helpers.Source("pt", helpers.PowerLaw(), helpers.Point())
    values = dict(VALUES, **{"pt::index": 2.0, "pt::amplitude": 2e-12, "pt::reference": 1.0})
    values.update({"pt::lon_0": -0.05, "pt::lat_0": 0.03})
    models = [_gauss(), point]
    fold = MapFold.build(
        response,
        models,
        {"ext": (0.0, 0.0, 0.0), "pt": (-0.05, 0.03, 0.0)},
        oversampling=2,
        model_oversampling=2,
        size_quantile=0.5,
        containment=1 - 1e-7,
    )
    ours = pytensor.function([], fold.signal_cutout(values))()
    full = npred_map(
        response, models, values, oversampling=2, model_oversampling=2, containment=1 - 1e-7
    )
    full -= response.background
    np.testing.assert_allclose(ours, full[:, fold.cutout], rtol=1e-4, atol=1e-6 * full.max())
    flux = helpers.PowerLaw.integrate(
        response.energy_true_edges[:-1], response.energy_true_edges[1:], 2.2, 1e-12, 1.0
    ) + helpers.PowerLaw.integrate(
        response.energy_true_edges[:-1], response.energy_true_edges[1:], 2.0, 2e-12, 1.0
    )
    # the exposure varies by 10% across the map: compare with its mean within 2%
    expected = (flux * response.exposure.mean(axis=1)) @ response.edisp
    np.testing.assert_allclose(full.sum(axis=1), expected, rtol=2e-2)


def test_rank_one_fold_equals_per_energy_product(rng, helpers):
    """Rank-one kernels: ``(D^T F w a) @ b x row`` = the ``(n_true, n_cutout)`` product."""
    tilt = np.arange(N_TRUE)[:, None, None] * np.linspace(-0.1, 0.1, N)[None, None, :]
    response = helpers.grid_response(  # exposure with an energy-dependent tilt: rank 2
        rng,
        n_true=N_TRUE,
        n_reco=N_RECO,
        n=N,
        pix=PIX,
        sigmas=[0.05] * N_TRUE,
        exposure=lambda lon, lat: np.full((N_TRUE, N, N), 1e12) * (1.0 + tilt),
        signal_counts=3.0,
        psf_energy="true",
    )
    fold = MapFold.build(
        response, [_gauss()], {"ext": (0.0, 0.0, 0.02)}, oversampling=2, model_oversampling=2
    )
    (source,) = fold.extended
    assert source.rank_one and fold.exposure_factors[0].shape[1] == 2
    names = ("ext::index", "ext::lon_0", "ext::lat_0", "ext::sigma")
    tensors = [pt.dscalar(n) for n in names]
    params = dict(VALUES, **dict(zip(names, tensors, strict=True)))
    ours = pytensor.function(tensors, fold.signal_cutout(params))
    flux = fold._flux(source.model, params, 16)
    exposure = response.exposure[:, fold.cutout]
    direct = pt.dot(
        response.edisp.T,
        flux[:, None] * source.convolve_following(params, fold.gathers[0]) * exposure,
    )
    reference = pytensor.function(tensors, direct)
    for point in [(2.2, 0.004, -0.006, 0.03), (2.7, -0.011, 0.009, 0.045)]:
        expected = reference(*point)
        np.testing.assert_allclose(ours(*point), expected, rtol=1e-9, atol=1e-12 * expected.max())
    weights_out = rng.uniform(size=expected.shape)

    def total(index, lon, lat, sigma):
        values = dict(VALUES, **dict(zip(names, (index, lon, lat, sigma), strict=True)))
        return (fold.signal_cutout(values) * weights_out).sum()

    helpers.verify_grad(total, [2.2, 0.004, -0.006, 0.03], seed=6)
