"""Kernel mode on a H.E.S.S. map dataset that gammapy builds and writes: npred per pixel.

gammapy reduces two Crab runs of the H.E.S.S. DL3 DR1 (MapDatasetMaker, SafeMaskMaker,
FoVBackgroundMaker) onto a 2 x 2 deg map of 0.02 deg pixels with 6 reconstructed energy bins,
stacks and writes them; gammaprob reads the file with its own reader. A point source (power
law) and a Gaussian source (log-parabola) at different positions plus a FoV background model:
with gammapy's log-parabola integral converged (see ``_converged``), npred per bin agrees with
gammapy's to < 1e-6 of each energy plane's maximum (measured <= 2.5e-7, the float32 precision
of gammapy's convolution) and the Cash totals to < 1e-6 relative (measured <= 2.5e-9).
"""

from __future__ import annotations

import numpy as np
import pytest

from gammaprob.forward import MapFold, MapResponse
from gammaprob.forward.kernel_mode import npred_map_kernel
from gammaprob.likelihood import statistics

pytestmark = [pytest.mark.requires_data, pytest.mark.requires_gammapy]

POINT = (83.633, 22.014)
GAUSS = (83.45, 22.15)
POINTS = [  # pt index, pt amplitude, gauss amplitude, alpha, beta, sigma, norm, tilt
    (2.5, 3e-11, 1e-11, 2.3, 0.1, 0.1, 1.0, 0.0),
    (2.2, 1e-11, 3e-11, 2.6, 0.2, 0.05, 1.1, 0.1),
    (2.8, 5e-11, 5e-12, 2.0, 0.05, 0.2, 0.9, -0.1),
]


@pytest.fixture(scope="module")
def hess(gammapy_data, helpers, tmp_path_factory):
    """(gammapy dataset, our response) of the stacked H.E.S.S. runs 23523 and 23526."""
    helpers.import_gammapy()
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore
    from gammapy.datasets import MapDataset as GPMapDataset
    from gammapy.makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker
    from gammapy.maps import MapAxis, WcsGeom
    from regions import CircleSkyRegion

    from gammaprob.datasets.map_dataset import MapDataset

    store = DataStore.from_dir(gammapy_data / "hess-dl3-dr1")
    centre = SkyCoord(*POINT, unit="deg")
    energy = MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=6, name="energy")
    energy_true = MapAxis.from_energy_bounds("0.5 TeV", "20 TeV", nbin=10, name="energy_true")
    geom = WcsGeom.create(skydir=centre, width=2.0, binsz=0.02, frame="icrs", axes=[energy])
    empty = GPMapDataset.create(geom, energy_axis_true=energy_true, name="hess", binsz_irf=0.2)
    exclusion = ~geom.to_image().region_mask([CircleSkyRegion(centre, 0.4 * u.deg)])
    stacked = empty.copy(name="hess")
    for obs in store.get_observations([23523, 23526]):
        dataset = MapDatasetMaker().run(empty.copy(name="run"), obs)
        dataset = SafeMaskMaker(methods=["offset-max"], offset_max="2 deg").run(dataset, obs)
        stacked.stack(FoVBackgroundMaker(method="fit", exclusion_mask=exclusion).run(dataset))
    path = tmp_path_factory.mktemp("hess") / "hess-stacked.fits.gz"
    stacked.write(path)
    written = GPMapDataset.read(path, name="hess")
    return written, MapResponse.from_dataset(MapDataset.read(path, name="hess"))


def _converged(model):
    """gammapy's log-parabola with its own integrator run to convergence (ndecade=20000).

    Its default integration (ndecade=100) is off by up to 2e-5 on these bins, ours by < 1e-9.
    """
    from gammapy.modeling.models.spectral import integrate_spectrum

    model.integral = lambda emin, emax, **_: integrate_spectrum(model, emin, emax, ndecade=20000)
    return model


def _models(point):
    from gammapy.modeling.models import (
        FoVBackgroundModel,
        GaussianSpatialModel,
        LogParabolaSpectralModel,
        PointSpatialModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    from gammaprob import modeling

    index, amp_pt, amp_g, alpha, beta, sigma, norm, tilt = point
    theirs = [
        SkyModel(
            spectral_model=PowerLawSpectralModel(
                index=index, amplitude=f"{amp_pt} cm-2 s-1 TeV-1", reference="1 TeV"
            ),
            spatial_model=PointSpatialModel(lon_0=f"{POINT[0]} deg", lat_0=f"{POINT[1]} deg"),
            name="pt",
        ),
        SkyModel(
            spectral_model=_converged(
                LogParabolaSpectralModel(
                    amplitude=f"{amp_g} cm-2 s-1 TeV-1", reference="1 TeV", alpha=alpha, beta=beta
                )
            ),
            spatial_model=GaussianSpatialModel(
                lon_0=f"{GAUSS[0]} deg", lat_0=f"{GAUSS[1]} deg", sigma=f"{sigma} deg"
            ),
            name="gauss",
        ),
    ]
    bkg = FoVBackgroundModel(dataset_name="hess")
    bkg.spectral_model.norm.value, bkg.spectral_model.tilt.value = norm, tilt
    ours = [
        modeling.SkyModel(
            spectral=modeling.spectral.PowerLaw(index=index, amplitude=amp_pt, reference=1.0),
            spatial=modeling.spatial.Point(lon_0=POINT[0], lat_0=POINT[1], frame="icrs"),
            name="pt",
        ),
        modeling.SkyModel(
            spectral=modeling.spectral.LogParabola(
                amplitude=amp_g, reference=1.0, alpha=alpha, beta=beta
            ),
            spatial=modeling.spatial.Gaussian(
                lon_0=GAUSS[0], lat_0=GAUSS[1], sigma=sigma, frame="icrs"
            ),
            name="gauss",
        ),
        modeling.FoVBackgroundModel("hess", norm=norm, tilt=tilt, reference=1.0),
    ]
    return [*theirs, bkg], ours


def _cash(npred, counts, mask):
    from scipy.special import xlogy

    mu, n = npred[mask], counts[mask]
    return float(2.0 * np.sum(mu - xlogy(n, mu)))


@pytest.mark.parametrize("point", POINTS)
def test_hess_npred_per_pixel_and_cash(hess, point):
    from gammaprob.forward import current_values

    dataset, response = hess
    theirs, ours = _models(point)
    dataset.models = theirs
    values = current_values(ours)
    ref = dataset.npred().data.reshape(response.counts.shape)
    npred = npred_map_kernel(response, ours, values)
    scale = ref.max(axis=1, keepdims=True)
    assert np.max(np.abs(npred - ref) / scale) < 1e-6
    np.testing.assert_allclose(npred.sum(axis=1), ref.sum(axis=1), rtol=1e-6)
    counts = response.counts
    assert _cash(npred, counts, response.mask) == pytest.approx(dataset.stat_sum(), rel=1e-6)
    # the public entry point gives the same statistic
    (stat,) = statistics([response], ours, values, psf_mode="kernel").values()
    assert stat == pytest.approx(dataset.stat_sum(), rel=1e-6)


def test_hess_fold_graph_equals_full_map(hess):
    """The compressed MapFold likelihood in kernel mode equals the full-map Cash statistic."""
    import pytensor
    import pytensor.tensor as pt
    from scipy.special import gammaln

    from gammaprob.forward import current_values, nominal_positions

    dataset, response = hess
    theirs, ours = _models(POINTS[1])
    values = current_values(ours)
    fold = MapFold.build(response, ours, nominal_positions(ours), psf_mode="kernel")
    assert len(fold.kernel_sources) == 2 and fold.cutout.size < response.lon.size
    mu = fold.npred(values)
    n = pt.as_tensor_variable(fold.counts.astype(float))
    logp = pytensor.function([], (n * pt.log(mu) - mu).sum(), mode="FAST_COMPILE")()
    compressed = logp - np.sum(gammaln(fold.counts + 1.0)) + fold.log_multinomial
    full = npred_map_kernel(response, ours, values)
    counts, mask = response.counts, response.mask
    expected = np.sum(counts[mask] * np.log(full[mask]) - full[mask] - gammaln(counts[mask] + 1))
    assert compressed == pytest.approx(expected, rel=1e-9)
    dataset.models = theirs
    assert -2 * (expected + np.sum(gammaln(counts[mask] + 1))) == pytest.approx(
        dataset.stat_sum(), rel=1e-6
    )


def test_hess_kernel_verify_grad(hess):
    """Gradients w.r.t. both positions, the Gaussian width and the spectra (kernel mode)."""
    import pytensor
    import pytensor.tensor as pt

    from gammaprob.forward import current_values, nominal_positions

    _, response = hess
    _, ours = _models(POINTS[0])
    values = current_values(ours)
    fold = MapFold.build(response, ours, nominal_positions(ours), psf_mode="kernel")
    n = pt.as_tensor_variable(fold.counts.astype(float))

    def logp(pt_lon, pt_lat, g_lon, g_lat, sigma, index, alpha):
        params = {
            "pt": {
                "spectral": dict(values["pt"]["spectral"], index=index),
                "spatial": dict(values["pt"]["spatial"], lon_0=pt_lon, lat_0=pt_lat),
            },
            "gauss": {
                "spectral": dict(values["gauss"]["spectral"], alpha=alpha),
                "spatial": dict(values["gauss"]["spatial"], lon_0=g_lon, lat_0=g_lat, sigma=sigma),
            },
            "hess-bkg": values["hess-bkg"],
        }
        mu = fold.npred(params)
        return (n * pt.log(mu) - mu).sum()

    point = [POINT[0] + 0.007, POINT[1] - 0.004, GAUSS[0] + 0.01, GAUSS[1] + 0.01, 0.1, 2.5, 2.3]
    pytensor.gradient.verify_grad(
        logp,
        [np.array(v) for v in point],
        rng=np.random.default_rng(7),
        eps=1e-7,
        abs_tol=1e-3,
        rel_tol=1e-4,
        mode="FAST_COMPILE",
    )


def test_hess_psf_kernel_equals_gammapy(hess):
    """Our PSF kernel (from the file read by gammaprob) equals PSFMap.get_psf_kernel's."""
    from astropy.coordinates import SkyCoord

    from gammaprob.forward.kernel_irf import KernelIRFs

    dataset, response = hess
    position = SkyCoord(*GAUSS, unit="deg")
    ours = KernelIRFs.from_dataset(response.dataset).psf_kernel(position)
    theirs = dataset.psf.get_psf_kernel(position=position, geom=dataset.exposure.geom).data
    assert ours.shape == theirs.shape
    # the PSF map is stored in float32
    assert np.max(np.abs(ours - theirs)) < 1e-6 * theirs.max()
