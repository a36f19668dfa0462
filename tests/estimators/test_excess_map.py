"""ExcessMapEstimator: brute-force checks on synthetic maps and parity with gammapy."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from numpy.testing import assert_allclose

from gammaprob.datasets import MapDataset, MapDatasetOnOff
from gammaprob.estimators import ExcessMapEstimator, PowerLawReference
from gammaprob.estimators.excess_map import disk_kernel_image, group_energy_bins
from gammaprob.maps import Map, MapAxis, WcsGeom
from gammaprob.stats import cash_significance, li_ma_significance

EDGES = [1.0, 2.0, 5.0, 10.0] * u.TeV


def _geom(npix=(30, 24), binsz=0.02, name="energy"):
    axis = MapAxis.from_edges(EDGES, interp="log", name=name)
    return WcsGeom.create(
        skydir=SkyCoord(83.63, 22.01, unit="deg"),
        width=(npix[0] * binsz, npix[1] * binsz),
        binsz=binsz,
        frame="icrs",
        proj="TAN",
        axes=[axis],
    )


def _arrays(seed=3, npix=(30, 24)):
    rng = np.random.default_rng(seed)
    geom = _geom(npix)
    shape = geom.data_shape
    ny, nx = shape[1:]
    yy, xx = np.mgrid[:ny, :nx]
    source = 2.0 * (np.hypot(yy - ny / 2, xx - nx / 2) < 4)
    bkg = 0.4 * np.array([1, 0.5, 0.2])[:, None, None] * np.ones(shape)
    acc = np.broadcast_to(rng.uniform(0.8, 1.2, (ny, nx)), shape).copy()
    acc_off = 5 * np.broadcast_to(rng.uniform(0.8, 1.2, (ny, nx)), shape)
    counts = rng.poisson(bkg * acc + source).astype(float)
    off = rng.poisson(bkg * acc_off).astype(float)
    mask = np.ones(shape, bool)
    mask[0, :4] = False
    return geom, counts, off, bkg * acc, acc, acc_off, mask


def _exposure(geom):
    geom_true = geom.to_image().to_cube(
        [MapAxis.from_edges(EDGES, interp="log", name="energy_true")]
    )
    data = 1e10 * np.linspace(1, 2, 3)[:, None, None] * np.ones(geom_true.data_shape)
    return Map(geom_true, data=data, unit="cm2 s")


@pytest.fixture(scope="module")
def cash_dataset():
    geom, counts, _, bkg, _, _, mask = _arrays()
    return MapDataset(
        name="syn",
        counts=Map(geom, data=counts),
        background=Map(geom, data=bkg),
        exposure=_exposure(geom),
        mask_safe=mask,
    )


@pytest.fixture(scope="module")
def onoff_dataset():
    geom, counts, off, _, acc, acc_off, mask = _arrays()
    return MapDatasetOnOff(
        name="onoff",
        counts=Map(geom, data=counts),
        counts_off=Map(geom, data=off),
        acceptance=Map(geom, data=acc),
        acceptance_off=Map(geom, data=acc_off),
        exposure=_exposure(geom),
        mask_safe=mask,
    )


def test_disk_kernel():
    kernel = disk_kernel_image(2.5)
    assert kernel.shape == (7, 7) and kernel.sum() == 21  # lattice points with r^2 <= 6.25
    assert disk_kernel_image(0.3).sum() == 1
    with pytest.raises(ValueError, match="positive"):
        disk_kernel_image(-1)


def test_group_energy_bins_snaps_and_checks():
    axis = MapAxis.from_edges(EDGES, interp="log", name="energy")
    starts, grouped = group_energy_bins(axis, [1.02, 4.9, 10] * u.TeV)
    assert list(starts) == [0, 2]  # 4.9 TeV snaps to the 5 TeV edge
    assert_allclose(grouped.edges.to_value("TeV"), [1, 5, 10])
    with pytest.raises(ValueError, match="empty groups"):
        group_energy_bins(axis, [1.0, 1.1, 10] * u.TeV)
    with pytest.raises(ValueError, match="outside"):
        group_energy_bins(axis, [0.5, 10] * u.TeV)


def test_cash_maps_brute_force(cash_dataset):
    est = ExcessMapEstimator(0.061 * u.deg, energy_edges=[1, 2, 10] * u.TeV, n_sigma_ul=2)
    maps = est.run(cash_dataset)
    assert maps["sqrt_ts"].data.shape == (2, 24, 30)
    counts, bkg = cash_dataset.counts.data, cash_dataset.background.data
    safe = cash_dataset.mask_safe.data
    # pixel (iy, ix) = (12, 15), group 1 = bins 1 and 2; radius 3.05 px
    yy, xx = np.mgrid[:24, :30]
    disk = (yy - 12) ** 2 + (xx - 15) ** 2 <= (0.061 / 0.02) ** 2
    n_on = (counts[1:] * safe[1:])[:, disk].sum()
    b = (bkg[1:] * safe[1:])[:, disk].sum()
    assert maps["counts"].data[1, 12, 15] == n_on
    assert_allclose(maps["background"].data[1, 12, 15], b, rtol=1e-12)
    assert_allclose(maps["npred_excess"].data[1, 12, 15], n_on - b, rtol=1e-12)
    assert_allclose(maps["sqrt_ts"].data[1, 12, 15], cash_significance(n_on, b), rtol=1e-10)
    assert maps["sqrt_ts"].data[1, 12, 15] > 5
    # masked pixels are NaN: group 0 = bin 0 whose first 4 rows are unsafe
    assert np.all(np.isnan(maps["sqrt_ts"].data[0, :4])) and np.all(np.isfinite(maps["ts"].data[1]))
    # flux = norm x reference flux; npred_ref = exposure x reference flux over the group
    ref = PowerLawReference(2.0)
    flux_ref = ref.integral(EDGES[:-1], EDGES[1:]).to_value("cm-2 s-1")
    npred_ref = (1e10 * np.linspace(1, 2, 3) * flux_ref)[1:].sum()
    assert_allclose(maps["npred_ref"].data[1, 12, 15], npred_ref, rtol=1e-12)
    flux_group = ref.integral(2 * u.TeV, 10 * u.TeV).to_value("cm-2 s-1")
    assert_allclose(maps["flux"].data[1, 12, 15], (n_on - b) / npred_ref * flux_group, rtol=1e-12)
    assert maps["flux"].unit == u.Unit("cm-2 s-1")
    assert np.all(maps["flux_ul"].data[1] > maps["flux"].data[1])
    assert "ExcessMaps(shape=(2, 24, 30)" in repr(maps) and "cash" in repr(maps)


def test_large_kernel_uses_fft_and_agrees(cash_dataset):
    maps = ExcessMapEstimator(0.35 * u.deg).run(cash_dataset)  # 17.5 px: 35 x 35 kernel
    counts, bkg = cash_dataset.counts.data, cash_dataset.background.data
    safe = cash_dataset.mask_safe.data
    yy, xx = np.mgrid[:24, :30]
    disk = (yy - 5) ** 2 + (xx - 7) ** 2 <= 17.5**2
    assert maps["counts"].data[0, 5, 7] == (counts * safe)[:, disk].sum()
    assert_allclose(maps["background"].data[0, 5, 7], (bkg * safe)[:, disk].sum(), rtol=1e-12)


def test_onoff_maps_brute_force(onoff_dataset):
    maps = ExcessMapEstimator(0.05 * u.deg).run(onoff_dataset)
    ds = onoff_dataset
    safe = ds.mask_safe.data
    yy, xx = np.mgrid[:24, :30]
    disk = (yy - 10) ** 2 + (xx - 20) ** 2 <= 2.5**2
    n_on = (ds.counts.data * safe)[:, disk].sum()
    n_off = (ds.counts_off.data * safe)[:, disk].sum()
    alpha = (ds.alpha * ds.counts_off.data * safe)[:, disk].sum() / n_off
    assert_allclose(maps["alpha"].data[0, 10, 20], alpha, rtol=1e-12)
    assert_allclose(
        maps["sqrt_ts"].data[0, 10, 20], li_ma_significance(n_on, n_off, alpha), rtol=1e-10
    )
    assert maps.meta["stat"] == "wstat" and maps.meta["correlate_off"] is True
    errn, errp = maps["excess_errn"].data, maps["excess_errp"].data
    ok = np.isfinite(errn)
    assert np.all(errn[ok] > 0) and np.all(errp[ok] > errn[ok] * 0.5)


def test_bad_inputs(cash_dataset, onoff_dataset):
    with pytest.raises(ValueError, match="positive"):
        ExcessMapEstimator(-0.1 * u.deg)
    with pytest.raises(ValueError, match="angle"):
        ExcessMapEstimator(0.1 * u.m)
    with pytest.raises(ValueError, match="n_sigma_ul"):
        ExcessMapEstimator(0.1 * u.deg, n_sigma_ul=0)
    no_bkg = cash_dataset.replace(background=None)
    with pytest.raises(ValueError, match="no background"):
        ExcessMapEstimator().run(no_bkg)
    with pytest.raises(TypeError, match="MapDataset"):
        ExcessMapEstimator().run(cash_dataset.counts)
    # mismatched geometries never reach the estimator: the dataset refuses them
    with pytest.raises(ValueError, match="geometry"):
        cash_dataset.replace(background=Map(_geom((20, 20)), data=np.ones((3, 20, 20))))
    # an on/off dataset without counts_off cannot be built
    with pytest.raises(TypeError, match="counts_off"):
        MapDatasetOnOff(
            name="x",
            counts=onoff_dataset.counts,
            acceptance=onoff_dataset.acceptance,
            acceptance_off=onoff_dataset.acceptance_off,
        )


def _float64_convolve(monkeypatch):
    """gammapy stores convolved maps as float32; reference runs use float64 (same algorithm)."""
    import scipy.signal
    from gammapy.maps import WcsNDMap

    def convolve(self, kernel, method="fft", mode="same"):
        data = np.asarray(self.data, dtype=np.float64)
        flat = data.reshape((-1, *data.shape[-2:]))
        kernel = np.asarray(kernel, dtype=np.float64)
        out = [scipy.signal.convolve(im, kernel, method=method, mode=mode) for im in flat]
        return self._init_copy(data=np.stack(out).reshape(data.shape))

    monkeypatch.setattr(WcsNDMap, "convolve", convolve)


PAIRS = [
    ("counts", "npred"),
    ("npred_excess", "npred_excess"),
    ("ts", "ts"),
    ("sqrt_ts", "sqrt_ts"),
    ("norm", "norm"),
    ("norm_err", "norm_err"),
    ("norm_errn", "norm_errn"),
    ("norm_errp", "norm_errp"),
    ("norm_ul", "norm_ul"),
    ("flux", "flux"),
    ("flux_ul", "flux_ul"),
    ("dnde", "dnde"),
    ("e2dnde", "e2dnde"),
]


def _compare(ours, theirs, rtol, atol_sigma, valid=None):
    for name, ref_name in PAIRS:
        ref = theirs[ref_name].quantity.to_value(ours[name].unit)
        value = ours[name].data
        keep = np.isfinite(ours["npred_excess"].data) if valid is None else valid
        assert np.array_equal(np.isnan(value[keep]), np.isnan(ref[keep])), name
        assert np.all(np.isnan(value[~keep])), name
        atol = atol_sigma if name in ("ts", "sqrt_ts") else 0
        assert_allclose(value[keep], ref[keep], rtol=rtol, atol=atol, equal_nan=True, err_msg=name)


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.parametrize("energy_edges", [None, [0.01, 0.08325532, 2] * u.TeV])
def test_fermi_3fhl_against_gammapy(gammapy_data, monkeypatch, energy_edges):
    from gammapy.datasets import MapDataset as GammapyMapDataset
    from gammapy.estimators import ExcessMapEstimator as GammapyEstimator

    path = gammapy_data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
    ours = ExcessMapEstimator(0.3 * u.deg, energy_edges=energy_edges).run(MapDataset.read(path))
    theirs_dataset = GammapyMapDataset.read(path)
    kwargs = {
        "correlation_radius": "0.3 deg",
        "energy_edges": energy_edges,
        "selection_optional": "all",
    }
    # as released (float32 convolution): agreement limited by float32 rounding
    theirs32 = GammapyEstimator(**kwargs).run(theirs_dataset)
    assert_allclose(ours["sqrt_ts"].data, theirs32["sqrt_ts"].data, rtol=2e-4, atol=1e-5)
    _float64_convolve(monkeypatch)
    theirs = GammapyEstimator(**kwargs).run(theirs_dataset)
    assert np.sum(np.isfinite(ours["sqrt_ts"].data)) > 1500
    _compare(ours, theirs, rtol=1e-6, atol_sigma=1e-6)


def _gammapy_onoff(dataset):
    from gammapy.datasets import MapDatasetOnOff as GammapyOnOff
    from gammapy.maps import Map as GMap
    from gammapy.maps import MapAxis as GAxis
    from gammapy.maps import WcsGeom as GGeom

    geom = dataset.geom
    axis = GAxis.from_energy_edges(EDGES)
    axis_true = GAxis.from_energy_edges(EDGES, name="energy_true")
    ggeom = GGeom(geom.wcs, npix=geom.npix, axes=[axis])
    gtrue = GGeom(geom.wcs, npix=geom.npix, axes=[axis_true])

    def gmap(m, g=ggeom, **kw):
        return GMap.from_geom(g, data=np.array(m.data), **kw)

    return GammapyOnOff(
        counts=gmap(dataset.counts),
        counts_off=gmap(dataset.counts_off),
        acceptance=gmap(dataset.acceptance),
        acceptance_off=gmap(dataset.acceptance_off),
        exposure=gmap(dataset.exposure, gtrue, unit="cm2 s"),
        mask_safe=gmap(dataset.mask_safe),
    )


@pytest.mark.requires_gammapy
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inside gammapy
def test_onoff_against_gammapy(onoff_dataset, monkeypatch):
    from gammapy.estimators import ExcessMapEstimator as GammapyEstimator

    small = onoff_dataset  # 30 x 24 px: gammapy's per-pixel root finding takes a few seconds
    _float64_convolve(monkeypatch)
    gds = _gammapy_onoff(small)
    ours = ExcessMapEstimator(0.05 * u.deg, energy_edges=[1, 5, 10] * u.TeV).run(small)
    theirs = GammapyEstimator(
        correlation_radius="0.05 deg", energy_edges=[1, 5, 10] * u.TeV, selection_optional="all"
    ).run(gds)
    _compare(ours, theirs, rtol=1e-6, atol_sigma=1e-6)
    assert_allclose(ours["alpha"].data, theirs["alpha"].data, rtol=1e-10)


@pytest.mark.requires_gammapy
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inside gammapy
def test_onoff_uncorrelated_off_against_gammapy(onoff_dataset, monkeypatch):
    from gammapy.estimators import ExcessMapEstimator as GammapyEstimator

    _float64_convolve(monkeypatch)
    ours = ExcessMapEstimator(0.05 * u.deg, correlate_off=False).run(onoff_dataset)
    theirs = GammapyEstimator(correlation_radius="0.05 deg", correlate_off=False).run(
        _gammapy_onoff(onoff_dataset)
    )
    for name, ref_name in PAIRS[:5]:
        assert_allclose(ours[name].data, theirs[ref_name].data, rtol=1e-6, atol=1e-9, err_msg=name)
