"""FluxProfileEstimator: analytic posteriors on synthetic maps and parity with gammapy."""

import itertools
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from numpy.testing import assert_allclose
from regions import CircleAnnulusSkyRegion, CircleSkyRegion, RectangleSkyRegion
from scipy import special

from gammaprob.datasets import MapDataset
from gammaprob.estimators import (
    FluxProfileEstimator,
    PowerLawReference,
    make_concentric_annulus_sky_regions,
    make_orthogonal_rectangle_sky_regions,
)
from gammaprob.maps import Map, MapAxis, WcsGeom

CENTER = SkyCoord(83.63, 22.01, unit="deg")
EDGES = [1.0, 3.0, 10.0] * u.TeV


def _dataset(seed=1):
    axis = MapAxis.from_edges(EDGES, interp="log", name="energy")
    geom = WcsGeom.create(
        skydir=CENTER, width=(1.2, 1.0), binsz=0.02, frame="icrs", proj="TAN", axes=[axis]
    )
    rng = np.random.default_rng(seed)
    ny, nx = geom.spatial_shape
    yy, xx = np.mgrid[:ny, :nx]
    r2 = (yy - (ny - 1) / 2) ** 2 + (xx - (nx - 1) / 2) ** 2
    source = np.array([3.0, 1.0])[:, None, None] * np.exp(-r2 / (2 * 5.0**2))
    bkg = np.array([0.3, 0.1])[:, None, None] * np.ones(geom.data_shape)
    counts = rng.poisson(bkg + source).astype(float)
    geom_true = geom.to_image().to_cube(
        [MapAxis.from_edges(EDGES, interp="log", name="energy_true")]
    )
    exposure = rng.uniform(0.9e11, 1.1e11, geom_true.data_shape)
    mask = np.ones(geom.data_shape, bool)
    mask[1, :5] = False  # a few unsafe pixels in the second energy bin
    return MapDataset(
        name="syn",
        counts=Map(geom, data=counts),
        background=Map(geom, data=bkg),
        exposure=Map(geom_true, data=exposure, unit="cm2 s"),
        mask_safe=mask,
    )


@pytest.fixture(scope="module")
def dataset():
    return _dataset()


def _flat_quantile(q, n, b):
    """Quantile of the signal s >= 0 with posterior (s + b)^n exp(-(s + b)) (flat prior)."""
    k = n + 1
    return special.gammainccinv(k, (1 - q) * special.gammaincc(k, b)) - b


def test_analytic_posteriors(dataset):
    regions = make_concentric_annulus_sky_regions(CENTER, 0.4 * u.deg, 4)
    est = FluxProfileEstimator(regions, energy_edges=EDGES, prob=0.68, ul_prob=0.95)
    table = est.run(dataset)
    assert len(table) == 4 and table["norm"].shape == (4, 2)
    assert_allclose(table["x_ref"].to_value(u.deg), [0.05, 0.15, 0.25, 0.35])
    assert_allclose(table["x_min"].to_value(u.deg), [0.0, 0.1, 0.2, 0.3])

    geom = dataset.geom
    safe = dataset.mask_safe.data
    ref = PowerLawReference(index=2.0)
    ref_flux = ref.integral(EDGES[:-1], EDGES[1:]).to_value("cm-2 s-1")
    for i, region in enumerate(regions):
        pix = geom.region_mask(region)
        assert table["n_pixels"][i] == pix.sum()
        for g in range(2):  # one energy bin per group: a single Poisson term
            n = float((dataset.counts.data[g] * safe[g])[pix].sum())
            b = float((dataset.background.data[g] * safe[g])[pix].sum())
            mu = dataset.exposure.data[g][pix].mean() * ref_flux[g]  # identity edisp
            assert table["counts"][i, g] == n
            assert_allclose(table["background"][i, g], b, rtol=1e-12)
            assert_allclose(table["excess"][i, g], n - b, rtol=1e-12)
            assert_allclose(table["npred_ref"][i, g], mu, rtol=1e-12)
            # flat prior: p(s) ~ (s + b)^n exp(-s) on s = norm * mu >= 0
            lo, med, hi, ul = (_flat_quantile(q, n, b) / mu for q in (0.16, 0.5, 0.84, 0.95))
            assert_allclose(table["norm"][i, g], med, rtol=2e-4)
            assert_allclose(table["norm_errn"][i, g], med - lo, rtol=2e-3)
            assert_allclose(table["norm_errp"][i, g], hi - med, rtol=2e-3)
            assert_allclose(table["norm_ul"][i, g], ul, rtol=2e-4)
            if n > b:
                assert_allclose(table["norm_best"][i, g], (n - b) / mu, rtol=1e-6)
                ts = 2 * (n * np.log(n / b) - (n - b))
                assert_allclose(table["ts"][i, g], ts, rtol=1e-6)
                assert table["is_ul"][i, g] == (ts < 4)
            assert_allclose(
                table["flux_ul"][i, g].to_value("cm-2 s-1"), table["norm_ul"][i, g] * ref_flux[g]
            )
    assert table["ts"][0, 0] > 100 and not table["is_ul"][0, 0]
    assert table.meta["credible_prob"] == 0.68 and "flat" in table.meta["prior"]


def test_energy_groups_and_mask(dataset):
    regions = make_concentric_annulus_sky_regions(CENTER, 0.3 * u.deg, 2)
    table = FluxProfileEstimator(regions, energy_edges=EDGES).run(dataset)
    assert table["counts"].shape == (2, 2)
    one = FluxProfileEstimator(regions).run(dataset)
    assert_allclose(table["counts"].sum(axis=1), one["counts"][:, 0])
    assert_allclose(table["npred_ref"].sum(axis=1), one["npred_ref"][:, 0], rtol=1e-12)
    # masked pixels of the second bin are excluded from its counts
    pix = dataset.geom.region_mask(regions[1])
    expected = (dataset.counts.data[1] * dataset.mask_safe.data[1])[pix].sum()
    assert table["counts"][1, 1] == expected
    assert_allclose(table.meta["energy_edges"].to_value(u.TeV), EDGES.value)

    # a bin outside mask_fit is dropped from the single group
    base = _dataset()
    fit = np.ones(base.geom.data_shape, bool)
    fit[1] = False
    fitted = MapDataset(
        name="fit",
        counts=base.counts,
        background=base.background,
        exposure=base.exposure,
        mask_safe=base.mask_safe,
        mask_fit=fit,
    )
    only_first = FluxProfileEstimator(regions).run(fitted)
    assert_allclose(only_first["counts"][:, 0], table["counts"][:, 0])
    assert_allclose(only_first["npred_ref"][:, 0], table["npred_ref"][:, 0], rtol=1e-12)


def test_masked_region_gives_nan_row():
    """A region whose pixels are all unsafe is reported (NaN norm, zero counts), as gammapy."""
    base = _dataset()
    mask = np.asarray(base.mask_safe.data).copy()
    mask[:, :, :10] = False  # the first 10 columns (0.2 deg) are unsafe in both bins
    masked = base.replace(mask_safe=mask)
    left = masked.geom.to_image().get_coord().skycoord[25, 4]
    regions = [CircleSkyRegion(left, 0.05 * u.deg), CircleSkyRegion(CENTER, 0.1 * u.deg)]
    table = FluxProfileEstimator(regions).run(masked)
    assert np.isnan(table["norm"][0, 0]) and np.isnan(table["norm_ul"][0, 0])
    assert table["counts"][0, 0] == 0 and not table["is_ul"][0, 0]
    assert np.isfinite(table["norm"][1, 0]) and table["norm"][1, 0] > 0


def test_region_helpers():
    regions = make_concentric_annulus_sky_regions(CENTER, 1 * u.deg, 3, radius_min=0.1 * u.deg)
    assert all(isinstance(r, CircleAnnulusSkyRegion) for r in regions)
    assert_allclose([r.outer_radius.to_value(u.deg) for r in regions], [0.4, 0.7, 1.0])
    assert isinstance(make_concentric_annulus_sky_regions(CENTER, 1 * u.deg, 2)[0], CircleSkyRegion)

    geom = _dataset().geom
    start = SkyCoord(83.43, 22.01, unit="deg")
    end = SkyCoord(83.83, 22.01, unit="deg")
    rects = make_orthogonal_rectangle_sky_regions(start, end, geom.wcs, 0.2 * u.deg, nbin=4)
    assert len(rects) == 4 and all(isinstance(r, RectangleSkyRegion) for r in rects)
    sep = start.separation(end).to_value(u.deg)
    assert_allclose([r.width.to_value(u.deg) for r in rects], sep / 4)
    steps = [a.center.separation(b.center).to_value(u.deg) for a, b in itertools.pairwise(rects)]
    assert_allclose(steps, sep / 4, rtol=1e-3)
    # adjacent rectangles tile the strip: no pixel is in two of them, none is lost
    masks = np.array([geom.region_mask(r) for r in rects])
    assert masks.sum(axis=0).max() == 1
    table = FluxProfileEstimator(rects).run(_dataset())
    assert "x_min" not in table.colnames
    expected = np.concatenate([[0.0], np.cumsum(steps)])  # separation from the first centre
    assert_allclose(table["x_ref"].to_value(u.deg), expected, rtol=1e-9)
    assert_allclose(table["n_pixels"], masks.sum(axis=(1, 2)))


def test_bad_input(dataset):
    with pytest.raises(ValueError, match="empty"):
        FluxProfileEstimator([])
    with pytest.raises(TypeError, match="SkyRegion"):
        FluxProfileEstimator([CENTER])
    with pytest.raises(ValueError, match="prob"):
        FluxProfileEstimator([CircleSkyRegion(CENTER, 0.1 * u.deg)], prob=1.5)
    far = CircleSkyRegion(SkyCoord(10, 10, unit="deg"), 0.1 * u.deg)
    with pytest.raises(ValueError, match=r"regions\[1\].*not fully contained|no pixel"):
        FluxProfileEstimator([CircleSkyRegion(CENTER, 0.1 * u.deg), far]).run(dataset)
    edge = CircleSkyRegion(SkyCoord(83.63, 22.45, unit="deg"), 0.2 * u.deg)
    with pytest.raises(ValueError, match="not fully contained"):
        FluxProfileEstimator([edge]).run(dataset)
    with pytest.raises(ValueError, match="radius_min < radius_max"):
        make_concentric_annulus_sky_regions(CENTER, 0 * u.deg, 3)
    with pytest.raises(TypeError, match="MapDataset"):
        FluxProfileEstimator([CircleSkyRegion(CENTER, 0.1 * u.deg)]).run("not a dataset")


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_fermi_3fhl_against_gammapy(gammapy_data):
    from gammapy.datasets import MapDataset as GammapyMapDataset
    from gammapy.estimators import FluxProfileEstimator as GammapyEstimator
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    path = gammapy_data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
    dataset = MapDataset.read(path)
    gds = GammapyMapDataset.read(path)
    regions = make_concentric_annulus_sky_regions(dataset.geom.center_skydir, 1.0 * u.deg, 5)
    edges = [10, 2000] * u.GeV
    table = FluxProfileEstimator(regions, energy_edges=edges).run(dataset)
    with warnings.catch_warnings():  # gammapy divides by zero-valued reference columns
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = GammapyEstimator(regions=regions, energy_edges=edges).run(gds)
        gt = ref.to_table(sed_type="likelihood", format="profile")

    assert_allclose(table["counts"][:, 0], np.ravel(gt["counts"]), rtol=0, atol=0)
    for i, region in enumerate(regions):
        spec = gds.to_spectrum_dataset(region)
        spec.models = SkyModel(PowerLawSpectralModel(), name="ref")
        assert_allclose(table["background"][i, 0], spec.background.data.sum(), rtol=1e-9)
        assert_allclose(table["npred_ref"][i, 0], spec.npred_signal().data.sum(), rtol=1e-6)
    assert_allclose(
        table["excess"][:, 0], table["counts"][:, 0] - table["background"][:, 0], rtol=1e-12
    )
    ts = np.ravel(gt["ts"])
    strong = ts > 25
    assert strong.sum() >= 4
    pull = (table["norm"][:, 0] - np.ravel(gt["norm"])) / np.ravel(gt["norm_err"])
    assert np.all(np.abs(pull[strong]) < 0.3)
    # the likelihood maximum and TS are gammapy's fit (minuit tolerance ~1e-3)
    assert_allclose(table["norm_best"][:, 0], np.ravel(gt["norm"]), rtol=3e-3)
    assert_allclose(table["ts"][:, 0], ts, rtol=1e-5)


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_rectangles_against_gammapy(gammapy_data):
    from gammapy.datasets import MapDataset as GammapyMapDataset
    from gammapy.estimators import FluxProfileEstimator as GammapyEstimator
    from gammapy.utils.regions import make_orthogonal_rectangle_sky_regions as gammapy_rectangles

    path = gammapy_data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
    dataset = MapDataset.read(path)
    start = SkyCoord(183.5, -6.3, unit="deg", frame="galactic")
    end = SkyCoord(185.5, -5.3, unit="deg", frame="galactic")
    ours = make_orthogonal_rectangle_sky_regions(start, end, dataset.geom.wcs, 1 * u.deg, 5)
    theirs = gammapy_rectangles(start, end, dataset.geom.wcs, 1 * u.deg, 5)
    for a, b in zip(ours, theirs, strict=True):
        assert a.center.separation(b.center).to_value(u.deg) < 1e-10
        assert_allclose(a.width.to_value(u.deg), b.width.to_value(u.deg), rtol=1e-12)
        assert_allclose(a.angle.to_value(u.deg), b.angle.to_value(u.deg), rtol=1e-12)

    table = FluxProfileEstimator(ours).run(dataset)
    with warnings.catch_warnings():  # gammapy divides by zero-valued reference columns
        warnings.simplefilter("ignore", RuntimeWarning)
        gds = GammapyMapDataset.read(path)
        edges = dataset.energy_axis.edges[[0, -1]]
        gt = GammapyEstimator(regions=ours, energy_edges=edges).run(gds)
        gt = gt.to_table(sed_type="likelihood", format="profile")
    assert_allclose(table["counts"][:, 0], np.ravel(gt["counts"]), rtol=0, atol=0)
    # gammapy's x_ref goes through its axis nodes/edges round trip (~1e-6 deg)
    gammapy_x = np.ravel(gt["x_ref"].quantity.to_value(u.deg))
    assert_allclose(table["x_ref"].to_value(u.deg), gammapy_x, rtol=0, atol=1e-5)
    strong = np.ravel(gt["ts"]) > 25
    assert strong.sum() >= 2
    pull = (table["norm"][:, 0] - np.ravel(gt["norm"])) / np.ravel(gt["norm_err"])
    assert np.all(np.abs(pull[strong]) < 0.3)
