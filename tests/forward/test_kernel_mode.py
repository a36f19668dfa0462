"""Kernel mode (gammapy's discretisation) on synthetic inputs: kernels, flux, gradients."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from gammaprob.forward import MapFold, MapResponse
from gammaprob.forward.kernel_irf import KernelIRFs
from gammaprob.forward.kernel_mode import KernelSource, gather_index, kernel_irfs
from gammaprob.forward.sky_projection import SkyProjection
from gammaprob.maps import MapAxis

N, BINSZ, SIGMA = 41, 0.05, 0.1  # pixels per side, deg, Gaussian PSF sigma (deg)
LON0, LAT0 = 30.0, 10.0


def _wcs(proj="CAR", n=N, binsz=BINSZ, crval=(LON0, LAT0)):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = [f"GLON-{proj}", f"GLAT-{proj}"]
    wcs.wcs.crval = crval
    wcs.wcs.cdelt = (-binsz, binsz)
    wcs.wcs.crpix = ((n + 1) / 2, (n + 1) / 2)
    wcs.wcs.set()
    return wcs


@pytest.fixture(scope="module")
def setup():
    """A 41 x 41 galactic map, 2 true = 2 reco energies, Gaussian PSF, uniform exposure."""
    wcs = _wcs()
    yy, xx = np.mgrid[0:N, 0:N]
    lon, lat = wcs.wcs_pix2world(xx, yy, 0)
    edges = np.linspace(0.0, 1.0, 101)
    rad = 0.5 * (edges[1:] + edges[:-1])
    sigmas = np.array([SIGMA, 1.5 * SIGMA])
    values = np.exp(-0.5 * (rad / sigmas[:, None]) ** 2) / (
        2 * np.pi * np.deg2rad(sigmas[:, None]) ** 2
    )
    psf = np.broadcast_to(values[:, :, None, None], (2, rad.size, 3, 3)).copy()
    energy_true = MapAxis.from_energy_bounds(1.0, 10.0, nbin=2, unit="TeV", name="energy_true")
    irfs = KernelIRFs(
        wcs=wcs,
        shape=(N, N),
        projection=SkyProjection.from_wcs(wcs, (N, N)),
        psf_data=psf,
        psf_wcs=_wcs(n=3, binsz=1.0),
        psf_energy_axis=energy_true,
        rad_axis=MapAxis.from_edges(edges, unit="deg", name="rad"),
        kernel_energy=energy_true.center.to_value("TeV"),
        edisp_at=lambda position: np.eye(2),
    )
    solid_angle = np.deg2rad(BINSZ) ** 2 * np.cos(np.deg2rad(lat))
    response = MapResponse.from_arrays(
        "syn",
        counts=np.zeros((2, N, N), dtype=int),
        exposure=np.full((2, N, N), 1e10),
        edisp=np.eye(2),
        energy_true_edges=[1.0, np.sqrt(10.0), 10.0],
        energy_edges=[1.0, np.sqrt(10.0), 10.0],
        lon=lon,
        lat=lat,
        solid_angle=solid_angle,
        psf_rad=np.concatenate([[0.0], rad]),
        psf_values=np.concatenate([values[:, :1], values], axis=1),
        frame="galactic",
        background=np.ones((2, N, N)),
    )
    return response, irfs


def _source(helpers):
    return helpers.Source("src", helpers.PowerLaw(), helpers.Point())


def _values(lon=LON0, lat=LAT0, index=2.0):
    return {
        "src::index": index,
        "src::amplitude": 1e-12,
        "src::reference": 1.0,
        "src::lon_0": lon,
        "src::lat_0": lat,
    }


def test_projection_matches_astropy():
    rng = np.random.default_rng(1)
    for proj, crval in (("CAR", (LON0, LAT0)), ("TAN", (83.6, 22.0)), ("SIN", (266.4, -29.0))):
        wcs = _wcs(proj, crval=crval)
        transform = SkyProjection.from_wcs(wcs, (N, N))
        x, y = rng.uniform(-5, N + 5, (2, 50))
        lon, lat = wcs.wcs_pix2world(x, y, 0)
        x_ours, y_ours = transform.world_to_pixel(lon, lat)
        np.testing.assert_allclose(x_ours, x, atol=1e-9)
        np.testing.assert_allclose(y_ours, y, atol=1e-9)
    wcs = _wcs("AIT")
    with pytest.raises(ValueError, match="projections"):
        SkyProjection.from_wcs(wcs, (N, N))


def test_kernel_is_normalised_and_symmetric(setup):
    _, irfs = setup
    kernel = irfs.psf_kernel(SkyCoord(LON0, LAT0, unit="deg", frame="galactic"))
    assert kernel.shape[1] == kernel.shape[2] and kernel.shape[1] % 2 == 1
    np.testing.assert_allclose(kernel.sum(axis=(1, 2)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(kernel, kernel[:, ::-1, ::-1], rtol=1e-6, atol=1e-15)
    # the 99.9% radius of a Gaussian is 3.72 sigma: side 2 * ceil(3.72 * 0.15 / 0.05) + 1 = 23
    assert kernel.shape[1] == 23
    # the 68% radius is 1.51 sigma (containment sampled on the rad axis split 20 times)
    radius = irfs.containment_radius(
        0.68, irfs.kernel_energy, SkyCoord(LON0, LAT0, unit="deg", frame="galactic")
    )
    np.testing.assert_allclose(radius, 1.5096 * np.array([SIGMA, 1.5 * SIGMA]), atol=3e-3)


def test_point_at_pixel_centre_gives_the_kernel(setup, helpers):
    response, irfs = setup
    model = _source(helpers)
    source = KernelSource.build(response, irfs, model, (LON0, LAT0))
    flux = np.array([2.0, 3.0])
    signal = source.signal(_values(), flux).eval(mode="FAST_COMPILE").reshape(2, *source.cut_shape)
    m = (source.kernel.shape[-1] - 1) // 2
    cy, cx = (n // 2 for n in source.cut_shape)
    expected = flux[:, None, None] * 1e10 * source.kernel
    np.testing.assert_allclose(
        signal[:, cy - m : cy + m + 1, cx - m : cx + m + 1],
        expected,
        rtol=1e-10,
        atol=1e-13 * expected.max(),  # FFT round-off
    )
    # flux conservation: the kernel sums to 1 and the cutout holds it
    np.testing.assert_allclose(signal.sum(axis=(1, 2)), flux * 1e10, rtol=1e-10)


def test_point_between_pixels_is_bilinear(setup, helpers):
    response, irfs = setup
    source = KernelSource.build(response, irfs, _source(helpers), (LON0, LAT0))
    x0, y0 = irfs.projection.world_to_pixel(LON0, LAT0)
    lon, lat = irfs.wcs.wcs_pix2world([x0 + 0.25], [y0 - 0.4], 0)
    image = source.image(_values(lon[0], lat[0]))
    cy, cx = (n // 2 for n in source.cut_shape)
    np.testing.assert_allclose(
        image[cy - 1 : cy + 1, cx : cx + 2], [[0.4 * 0.75, 0.4 * 0.25], [0.6 * 0.75, 0.6 * 0.25]]
    )
    assert image.sum() == pytest.approx(1.0)
    signal = source.signal(_values(lon[0], lat[0]), np.array([1.0, 1.0])).eval(mode="FAST_COMPILE")
    np.testing.assert_allclose(signal.sum(axis=1), 1e10, rtol=1e-10)


def test_gradients_finite_and_verified(setup, helpers):
    import pytensor
    import pytensor.tensor as pt

    response, irfs = setup
    source = KernelSource.build(response, irfs, _source(helpers), (LON0, LAT0))
    weights = np.random.default_rng(2).uniform(0.5, 1.5, (2, source.pixels.size))

    def total(lon, lat, index):
        mu = source.signal(_values(lon, lat, index), pt.stack([2.0 * index, 3.0 + index]))
        return (weights * pt.log1p(mu / 1e8)).sum()

    pytensor.gradient.verify_grad(
        total,
        [np.array(LON0 + 0.013), np.array(LAT0 - 0.021), np.array(2.1)],
        rng=np.random.default_rng(3),
        eps=1e-7,
        abs_tol=1e-4,
        rel_tol=1e-4,
        mode="FAST_COMPILE",
    )
    lon, lat = pt.dscalar(), pt.dscalar()
    grad = pytensor.grad(total(lon, lat, 2.0), [lon, lat])
    at_centre = pytensor.function([lon, lat], grad, mode="FAST_COMPILE")(LON0, LAT0)
    assert np.all(np.isfinite(at_centre))


def test_mode_errors(setup, helpers):
    response, _ = setup
    with pytest.raises(ValueError, match="psf_mode"):
        kernel_irfs(response, "sharp")
    with pytest.raises(ValueError, match="from_dataset"):
        MapFold.build(response, [_source(helpers)], {"src": (LON0, LAT0)}, psf_mode="kernel")
    assert kernel_irfs(response, "exact") is None


def test_gather_index():
    np.testing.assert_array_equal(gather_index(np.array([3, 5, 7]), np.array([1, 3, 7])), [3, 0, 2])


def test_background_gradient_is_refused_not_ignored(setup, monkeypatch):
    import gammaprob.forward.kernel_mode as kernel_mode
    from gammaprob.forward.kernel_mode import npred_map_kernel
    from gammaprob.modeling import FoVBackgroundModel

    response, irfs = setup
    monkeypatch.setattr(kernel_mode, "kernel_irfs", lambda *args: irfs)
    background = FoVBackgroundModel(dataset_name="syn", gradient_lon=0.1, gradient_lat=0.0)
    with pytest.raises(ValueError, match=r"spatial gradient.*psf_mode='exact'"):
        npred_map_kernel(response, [background], {})
