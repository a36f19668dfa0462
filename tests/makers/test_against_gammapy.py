"""Reduction of H.E.S.S. DR1 Crab runs compared with gammapy on the same inputs."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

from gammaprob.data import DataStore
from gammaprob.makers import (
    MapDatasetMaker,
    MapTemplate,
    ReflectedRegionsBackgroundMaker,
    SafeMaskMaker,
    SpectrumDatasetMaker,
    SpectrumTemplate,
    stack_map_datasets,
)
from gammaprob.maps import MapAxis, WcsGeom

CRAB_RUNS = [23523, 23526, 23559, 23592]
CRAB = SkyCoord(83.633, 22.014, unit="deg")
METHODS = ["aeff-max", "edisp-bias", "bkg-peak"]


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = b != 0
    assert np.array_equal(a == 0, b == 0)
    return float(np.max(np.abs(a[ok] / b[ok] - 1))) if ok.any() else 0.0


def _spectra(gammapy_data, obs_ids, position, radius=0.11):
    from gammapy.data import DataStore as GDataStore
    from gammapy.datasets import SpectrumDataset as GSpectrumDataset
    from gammapy.makers import ReflectedRegionsBackgroundMaker as GReflected
    from gammapy.makers import SafeMaskMaker as GSafe
    from gammapy.makers import SpectrumDatasetMaker as GMaker
    from gammapy.maps import MapAxis as GAxis
    from gammapy.maps import RegionGeom as GRegionGeom

    region = CircleSkyRegion(position, radius * u.deg)
    path = gammapy_data / "hess-dl3-dr1"
    g_axis = GAxis.from_energy_bounds(0.5, 40, 15, unit="TeV")
    g_true = GAxis.from_energy_bounds(0.3, 60, 30, unit="TeV", name="energy_true")
    empty = GSpectrumDataset.create(
        geom=GRegionGeom.create(region=region, axes=[g_axis]), energy_axis_true=g_true
    )
    g_maker = GMaker(
        containment_correction=True, selection=["counts", "exposure", "edisp", "background"]
    )
    g_obs = GDataStore.from_dir(path).get_observations(obs_ids)
    reference = []
    for obs in g_obs:
        ds = g_maker.run(empty.copy(name=str(obs.obs_id)), obs)
        on_off = GSafe(methods=METHODS).run(GReflected().run(ds.copy(name=ds.name), obs), obs)
        reference.append((ds, on_off))

    template = SpectrumTemplate(
        region,
        MapAxis.from_energy_bounds(0.5, 40, 15, unit="TeV"),
        MapAxis.from_energy_bounds(0.3, 60, 30, unit="TeV", name="energy_true"),
    )
    maker = SpectrumDatasetMaker(containment_correction=True)
    ours = []
    for obs in DataStore.from_dir(path).get_observations(obs_ids):
        ds = maker.run(template, obs)
        ours.append(
            (ds, SafeMaskMaker(METHODS).run(ReflectedRegionsBackgroundMaker().run(ds, obs), obs))
        )
    return reference, ours


def _check_spectra(reference, ours):
    for (g_ds, g_onoff), (ds, onoff) in zip(reference, ours, strict=True):
        assert np.array_equal(ds.counts, g_ds.counts.data.ravel())
        assert (
            _rel(ds.exposure.to_value("m2 s"), g_ds.exposure.quantity.to_value("m2 s").ravel())
            < 1e-10
        )
        assert _rel(ds.background, g_ds.background.data.ravel()) < 1e-5
        assert np.max(np.abs(ds.edisp - g_ds.edisp.get_edisp_kernel().data)) < 1e-12
        assert np.array_equal(onoff.counts_off, g_onoff.counts_off.data.ravel())
        assert _rel(onoff.alpha, g_onoff.alpha.data.ravel()) < 1e-12
        assert np.array_equal(onoff.mask_safe, g_onoff.mask_safe.data.ravel())


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_crab_spectra_equal_gammapy(gammapy_data):
    reference, ours = _spectra(gammapy_data, CRAB_RUNS, CRAB)
    _check_spectra(reference, ours)
    assert sum(d.counts.sum() for d, _ in ours) == 665
    assert sum(o.counts_off.sum() for _, o in ours) == 1444


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.parametrize(
    ("obs_ids", "position"),
    [
        ([33787, 33788], SkyCoord(329.71693826, -30.2255890, unit="deg")),  # PKS 2155-304
        ([20136, 20137], SkyCoord(228.547, -59.174, unit="deg")),  # MSH 15-52
    ],
)
def test_other_targets_equal_gammapy(gammapy_data, obs_ids, position):
    reference, ours = _spectra(gammapy_data, obs_ids, position)
    _check_spectra(reference, ours)


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_crab_stacked_map_equal_gammapy(gammapy_data):
    from gammapy.data import DataStore as GDataStore
    from gammapy.datasets import MapDataset as GMapDataset
    from gammapy.makers import MapDatasetMaker as GMaker
    from gammapy.makers import SafeMaskMaker as GSafe
    from gammapy.maps import MapAxis as GAxis
    from gammapy.maps import WcsGeom as GWcsGeom

    path = gammapy_data / "hess-dl3-dr1"
    g_geom = GWcsGeom.create(
        skydir=CRAB,
        width=2,
        binsz=0.02,
        frame="icrs",
        proj="CAR",
        axes=[GAxis.from_energy_bounds(1, 10, 10, unit="TeV")],
    )
    g_true = GAxis.from_energy_bounds(0.5, 20, 20, unit="TeV", name="energy_true")
    empty = GMapDataset.create(g_geom, energy_axis_true=g_true, name="stacked")
    stacked = empty.copy(name="stacked")
    g_maker = GMaker()
    g_safe = GSafe(methods=["aeff-max", "offset-max"], offset_max=2.5 * u.deg)
    g_single = []
    for obs in GDataStore.from_dir(path).get_observations(CRAB_RUNS):
        ds = g_safe.run(g_maker.run(empty.copy(name=str(obs.obs_id)), obs), obs)
        g_single.append(ds)
        stacked.stack(ds)

    template = MapTemplate(
        WcsGeom.create(
            skydir=CRAB,
            width=2,
            binsz=0.02,
            frame="icrs",
            proj="CAR",
            axes=[MapAxis.from_energy_bounds(1, 10, 10, unit="TeV")],
        ),
        MapAxis.from_energy_bounds(0.5, 20, 20, unit="TeV", name="energy_true"),
    )
    maker = MapDatasetMaker()
    safe = SafeMaskMaker(["aeff-max", "offset-max"], offset_max=2.5 * u.deg)
    ours = [
        safe.run(maker.run(template, obs), obs)
        for obs in DataStore.from_dir(path).get_observations(CRAB_RUNS)
    ]
    for g, d in zip(g_single, ours, strict=True):
        assert np.array_equal(d.counts.data, g.counts.data)
        assert _rel(d.exposure.data, g.exposure.data) < 1e-9
        assert _rel(d.background.data, g.background.data) < 1e-5
        assert np.array_equal(d.mask_safe.data, g.mask_safe.data)
        assert np.max(np.abs(d.edisp.irf_map.data - g.edisp.edisp_map.data)) < 1e-12
        assert _rel(d.edisp.exposure_map.data.ravel(), g.edisp.exposure_map.data.ravel()) < 1e-9
        k_ours, k_ref = d.edisp.get_edisp_kernel().pdf_matrix, g.edisp.get_edisp_kernel().data
        assert np.max(np.abs(k_ours - k_ref)) < 1e-12
        psf_ref = g.psf.psf_map.quantity.to_value("sr-1")
        assert np.max(np.abs(d.psf.irf_map.data - psf_ref)) < 1e-12 * psf_ref.max()
        containment_ref = g.psf.containment(0.1 * u.deg, template.energy_axis_true.center).ravel()
        assert np.max(np.abs(d.psf.containment(0.1 * u.deg) - containment_ref)) < 1e-12
    mine = stack_map_datasets(ours)
    assert np.array_equal(mine.counts.data, stacked.counts.data)
    assert mine.counts.data.sum() == 2479
    assert _rel(mine.exposure.data, stacked.exposure.data) < 1e-4
    assert _rel(mine.background.data, stacked.background.data) < 1e-4
    assert np.array_equal(mine.mask_safe.data, stacked.mask_safe.data)


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_crab_ring_significance_equal_gammapy(gammapy_data):
    from gammapy.data import DataStore as GDataStore
    from gammapy.datasets import MapDataset as GMapDataset
    from gammapy.estimators import ExcessMapEstimator
    from gammapy.makers import MapDatasetMaker as GMaker
    from gammapy.makers import RingBackgroundMaker as GRing
    from gammapy.maps import MapAxis as GAxis
    from gammapy.maps import WcsGeom as GWcsGeom

    from gammaprob.makers import RingBackgroundMaker
    from gammaprob.makers.ring import _convolve_images
    from gammaprob.maps import Map
    from gammaprob.stats import li_ma_significance

    path = gammapy_data / "hess-dl3-dr1"
    excluded = CircleSkyRegion(CRAB, 0.3 * u.deg)
    g_geom = GWcsGeom.create(
        skydir=CRAB,
        width=3,
        binsz=0.02,
        frame="icrs",
        proj="CAR",
        axes=[GAxis.from_energy_bounds(1, 10, 1, unit="TeV")],
    )
    empty = GMapDataset.create(
        g_geom,
        energy_axis_true=GAxis.from_energy_bounds(0.5, 20, 10, unit="TeV", name="energy_true"),
    )
    stacked = empty.copy(name="stacked")
    g_maker = GMaker(selection=["counts", "exposure", "background"])
    for obs in GDataStore.from_dir(path).get_observations(CRAB_RUNS):
        stacked.stack(g_maker.run(empty.copy(name=str(obs.obs_id)), obs))
    g_exclusion = g_geom.to_image().region_mask([excluded], inside=False)
    g_on_off = GRing(r_in="0.5 deg", width="0.3 deg", exclusion_mask=g_exclusion).run(stacked)
    estimator = ExcessMapEstimator(correlation_radius="0.1 deg", selection_optional=[])
    sig_ref = estimator.run(g_on_off)["sqrt_ts"].data

    geom = WcsGeom.create(
        skydir=CRAB,
        width=3,
        binsz=0.02,
        frame="icrs",
        proj="CAR",
        axes=[MapAxis.from_energy_bounds(1, 10, 1, unit="TeV")],
    )
    template = MapTemplate(
        geom, MapAxis.from_energy_bounds(0.5, 20, 10, unit="TeV", name="energy_true")
    )
    maker = MapDatasetMaker(selection=["counts", "background"])
    obs = DataStore.from_dir(path).get_observations(CRAB_RUNS)
    ours = stack_map_datasets([maker.run(template, o) for o in obs])
    exclusion = Map(geom.to_image(), data=~geom.to_image().region_mask([excluded]))
    on_off = RingBackgroundMaker("0.5 deg", "0.3 deg", exclusion_mask=exclusion).run(ours)
    assert np.array_equal(on_off.counts_off.data, np.rint(g_on_off.counts_off.data))
    assert _rel(on_off.acceptance_off.data, g_on_off.acceptance_off.data) < 1e-6
    assert np.array_equal(on_off.mask_safe.data, g_on_off.mask_safe.data)

    # Li & Ma significance in a 0.1 deg disc, as gammapy's ExcessMapEstimator (correlated OFF)
    from astropy.convolution import Tophat2DKernel

    kernel = Tophat2DKernel(0.1 / 0.02).array
    kernel = kernel / kernel.max()
    mask = on_off.mask_safe.data
    n_on = np.rint(_convolve_images(on_off.counts.data * mask, kernel))
    n_off = _convolve_images(on_off.counts_off.data * mask, kernel)
    alpha = _convolve_images(on_off.alpha * on_off.counts_off.data * mask, kernel) / n_off
    sig = li_ma_significance(n_on, n_off, alpha)
    assert np.isfinite(sig_ref).all()
    assert np.max(np.abs(sig - sig_ref)) < 1e-4
    big = np.abs(sig_ref) > 1
    assert np.max(np.abs(sig[big] / sig_ref[big] - 1)) < 1e-4
    assert sig_ref.max() > 30  # the Crab
