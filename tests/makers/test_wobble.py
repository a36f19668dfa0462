"""Wobble OFF regions and the MAGIC point-like (RAD_MAX) 1D reduction compared with gammapy."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion, PointSkyRegion

from gammaprob.data import DataStore
from gammaprob.makers import (
    ReflectedRegionsBackgroundMaker,
    SpectrumDatasetMaker,
    SpectrumTemplate,
    WobbleRegionsFinder,
)
from gammaprob.maps import Map, MapAxis, WcsGeom

from .conftest import POINTING, SOURCE

CRAB = SkyCoord(83.6331, 22.0145, unit="deg")
E_RECO = (0.05, 100, 20)
E_TRUE = (0.01, 100, 30)


# ---- geometry ---------------------------------------------------------------------------------
def test_wobble_regions_on_the_circle_at_equal_angles():
    region = CircleSkyRegion(SOURCE, 0.1 * u.deg)
    regions, _ = WobbleRegionsFinder(3).run(region, POINTING)
    assert len(regions) == 3
    centers = SkyCoord([r.center for r in regions])
    np.testing.assert_allclose(centers.separation(POINTING).deg, 0.5, rtol=1e-9)
    # position angles about the pointing: ON + 90, 180, 270 deg (counter-clockwise on the sky)
    pa_on = POINTING.position_angle(SOURCE).deg
    pa = (POINTING.position_angle(centers).deg - pa_on) % 360
    np.testing.assert_allclose(pa, [90, 180, 270], atol=1e-6)
    np.testing.assert_allclose([r.radius.to_value(u.deg) for r in regions], 0.1, rtol=1e-4)


def test_wobble_exclusion_drops_regions():
    region = CircleSkyRegion(SOURCE, 0.1 * u.deg)
    opposite, _ = WobbleRegionsFinder(1).run(region, POINTING)
    geom = WcsGeom.create(skydir=POINTING, binsz=0.02, width=3, frame="icrs")
    mask = Map.from_geom(
        geom,
        data=geom.region_mask([CircleSkyRegion(opposite[0].center, 0.05 * u.deg)], inside=False),
    )
    regions, _ = WobbleRegionsFinder(3).run(region, POINTING, exclusion_mask=mask)
    assert len(regions) == 2
    assert min(r.center.separation(opposite[0].center).deg for r in regions) > 0.5


def test_wobble_overlapping_regions_give_none():
    region = CircleSkyRegion(SOURCE, 0.3 * u.deg)
    with pytest.warns(UserWarning, match="overlap"):
        regions, _ = WobbleRegionsFinder(5).run(region, POINTING)
    assert regions == []


@pytest.mark.parametrize(
    "region",
    [PointSkyRegion(POINTING), CircleSkyRegion(POINTING, 0.1 * u.deg)],
    ids=["point", "circle"],
)
def test_wobble_target_at_pointing_is_an_error(region):
    with pytest.raises(ValueError, match="at the pointing position"):
        WobbleRegionsFinder(3).run(region, POINTING)


def test_wobble_on_region_containing_pointing_is_an_error():
    with pytest.raises(ValueError, match="contains the pointing"):
        WobbleRegionsFinder(3).run(CircleSkyRegion(SOURCE, 0.6 * u.deg), POINTING)


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_wobble_bad_n(n):
    with pytest.raises((TypeError, ValueError), match="n_off_regions"):
        WobbleRegionsFinder(n)


# ---- MAGIC DL3 with RAD_MAX: equal to gammapy ------------------------------------------------
def _gammapy_reduction(path, n_off):
    from gammapy.data import DataStore as GDataStore
    from gammapy.datasets import SpectrumDataset as GSpectrumDataset
    from gammapy.makers import ReflectedRegionsBackgroundMaker as GReflected
    from gammapy.makers import SpectrumDatasetMaker as GMaker
    from gammapy.makers import WobbleRegionsFinder as GWobble
    from gammapy.maps import MapAxis as GAxis
    from gammapy.maps import RegionGeom as GRegionGeom

    axis = GAxis.from_energy_bounds(*E_RECO[:2], E_RECO[2], unit="TeV")
    axis_true = GAxis.from_energy_bounds(*E_TRUE[:2], E_TRUE[2], unit="TeV", name="energy_true")
    empty = GSpectrumDataset.create(
        geom=GRegionGeom.create(region=PointSkyRegion(CRAB), axes=[axis]),
        energy_axis_true=axis_true,
    )
    maker = GMaker(containment_correction=False, selection=["counts", "exposure", "edisp"])
    out = {}
    for obs in GDataStore.from_dir(path).get_observations(required_irf="point-like"):
        ds = maker.run(empty.copy(name=str(obs.obs_id)), obs)
        on_off = GReflected(region_finder=GWobble(n_off_regions=n_off)).run(ds, obs)
        region = on_off.counts_off.geom.region
        regions = _flatten(region)
        out[int(obs.obs_id)] = (
            ds.counts.data.ravel(),
            on_off.counts_off.data.ravel(),
            SkyCoord([r.center for r in regions]),
        )
    return out


def _flatten(region):
    if hasattr(region, "region1"):
        return _flatten(region.region1) + _flatten(region.region2)
    return [region]


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.filterwarnings("ignore:'THETA' axis is stored as a scalar")
@pytest.mark.filterwarnings("ignore::gammaprob.data.MissingHDUWarning")
@pytest.mark.parametrize("n_off", [1, 3])
def test_magic_rad_max_wobble_equals_gammapy(gammapy_data, n_off):
    path = gammapy_data / "magic" / "rad_max" / "data"
    reference = _gammapy_reduction(path, n_off)
    template = SpectrumTemplate(
        PointSkyRegion(CRAB),
        MapAxis.from_energy_bounds(*E_RECO[:2], E_RECO[2], unit="TeV"),
        MapAxis.from_energy_bounds(*E_TRUE[:2], E_TRUE[2], unit="TeV", name="energy_true"),
    )
    store = DataStore.from_dir(path)
    maker = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"])
    background = ReflectedRegionsBackgroundMaker(region_finder=WobbleRegionsFinder(n_off))
    seen = set()
    for obs in store.get_observations(list(reference), required_irf="point-like"):
        ds = maker.run(template, obs)
        on_off = background.run(ds, obs)
        counts, counts_off, centers = reference[int(obs.obs_id)]
        ours = SkyCoord([r.center for r in on_off.meta["off_regions"]])
        assert len(ours) == n_off
        # gammapy's compound region is not in rotation order: match each centre to its nearest
        sep = ours[:, None].separation(centers[None, :]).deg
        assert np.max(np.min(sep, axis=1)) < 1e-9
        assert np.array_equal(ds.counts, counts)
        assert np.array_equal(on_off.counts_off, counts_off)
        assert counts.sum() > 500 and counts_off.sum() > 300 * n_off
        np.testing.assert_allclose(on_off.alpha, 1 / n_off)
        seen.add(int(obs.obs_id))
    assert seen == {5029747, 5029748}
