"""Cross-checks against gammapy on the same H.E.S.S. DR1 files (validation extra)."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.time import Time
from regions import CircleSkyRegion, RectangleSkyRegion

from gammaprob.data import GTI, DataStore, FixedPointing, PointingTable

pytestmark = [pytest.mark.requires_data, pytest.mark.requires_gammapy]

OBS_IDS = [20136, 23523, 33787, 47802]  # MSH 15-52, Crab, RX J1713.7-3946, PKS 2155-304


@pytest.fixture(scope="module")
def stores(gammapy_data, gammapy_data_module):
    path = gammapy_data / "hess-dl3-dr1"
    return DataStore.from_dir(path), gammapy_data_module.DataStore.from_dir(path)


@pytest.mark.parametrize("obs_id", OBS_IDS)
def test_event_selection_matches_gammapy(stores, obs_id):
    ours, theirs = stores
    mine, ref = ours.obs(obs_id), theirs.obs(obs_id)
    ev, gev = mine.events, ref.events
    assert len(ev) == len(gev.table)
    center = mine.get_pointing_icrs()
    assert center.separation(ref.get_pointing_icrs(ref.tmid)).deg < 1e-12
    for band in ([0.5, 2] * u.TeV, [1, 10] * u.TeV, [3, 300] * u.TeV):
        assert len(ev.select_energy(band)) == len(gev.select_energy(band).table)
    for band in ([0, 0.5] * u.deg, [0.5, 1.5] * u.deg, [1.0, 2.5] * u.deg):
        assert len(ev.select_offset(band)) == len(gev.select_offset(band).table)
    # bounds away from event times (an event exactly on a bound is a rounding coin flip)
    t0 = mine.tstart
    for interval in ((t0 + 100.5 * u.s, t0 + 900.25 * u.s), (t0 - 1 * u.s, t0 + 1e4 * u.s)):
        assert len(ev.select_time(interval)) == len(gev.select_time(interval).table)
    box = RectangleSkyRegion(center, 2 * u.deg, 1 * u.deg)
    assert len(ev.select_region(box)) == len(gev.select_region(box).table)
    # circles: gammapy tests in a projected pixel grid, gammaprob on the sphere; the
    # selections may differ only by events within 2 arcsec of the circle's edge
    circle = CircleSkyRegion(center, 1.2 * u.deg)
    mine_ids = set(np.asarray(ev.select_region(circle).table["EVENT_ID"]).tolist())
    ref_ids = set(np.asarray(gev.select_region(circle).table["EVENT_ID"]).tolist())
    differ = np.isin(np.asarray(ev.table["EVENT_ID"]), list(mine_ids ^ ref_ids))
    edge = np.abs(ev.radec[differ].separation(center).deg - 1.2)
    assert len(edge) <= 2 and np.all(edge < 2 / 3600)
    column = ev.select_column("ENERGY", [1, 2] * u.TeV)
    assert len(column) == len(gev.select_parameter("ENERGY", [1, 2] * u.TeV).table)


@pytest.mark.parametrize("obs_id", OBS_IDS)
def test_meta_matches_gammapy(stores, obs_id):
    ours, theirs = stores
    mine, ref = ours.obs(obs_id), theirs.obs(obs_id)
    assert abs((mine.tstart - ref.tstart).to_value(u.s)) < 1e-6
    assert abs((mine.tstop - ref.tstop).to_value(u.s)) < 1e-6
    assert mine.meta.deadtime_fraction == pytest.approx(
        ref.observation_dead_time_fraction, rel=1e-12
    )
    # gammapy recomputes livetime as GTI time x DEADC; the LIVETIME keyword agrees to 1e-7
    assert mine.livetime.to_value(u.s) == pytest.approx(
        ref.observation_live_time_duration.to_value(u.s), rel=1e-7
    )
    assert mine.meta.location.lat.deg == pytest.approx(ref.observatory_earth_location.lat.deg)


def test_gti_totals_match_gammapy(stores, gammapy_data_module):
    GammapyGTI = gammapy_data_module.GTI
    ours, theirs = stores
    ids = ours.obs_ids[::5]
    mine = [ours.obs(i).gti for i in ids]
    ref = [theirs.obs(i).gti for i in ids]
    for a, b in zip(mine, ref, strict=True):
        assert a.time_sum.to_value(u.s) == pytest.approx(b.time_sum.to_value(u.s), rel=1e-12)
    stacked, ref_stacked = GTI.from_stack(mine), GammapyGTI.from_stack(ref)
    assert len(stacked) == len(ref_stacked.table) == len(ids)
    assert stacked.time_sum.to_value(u.s) == pytest.approx(
        ref_stacked.time_sum.to_value(u.s), rel=1e-12
    )
    union, ref_union = stacked.union(), ref_stacked.union()
    assert len(union) == len(ref_union.table)
    np.testing.assert_allclose(
        (union.time_start - ref_union.time_start).to_value(u.s), 0, atol=1e-6
    )
    # clip to the first 400 days of the release
    t0 = union.time_start[0]
    window = (t0, t0 + 400 * u.day)
    clipped, ref_clipped = union.select_time(window), ref_union.select_time(window)
    assert clipped.time_sum.to_value(u.s) == pytest.approx(
        ref_clipped.time_sum.to_value(u.s), rel=1e-9
    )


def test_obs_table_selection_matches_gammapy(stores):
    ours, theirs = stores
    table = theirs.obs_table
    center = SkyCoord(329.7, -30.2, unit="deg")
    ref = table.select_sky_circle(center, 5 * u.deg)
    assert ours.select(cone=(center, 5 * u.deg)).obs_ids == list(ref["OBS_ID"])
    ref = table.select_range("ZEN_PNT", [20, 40] * u.deg)
    assert ours.select(zen_pnt=(20, 40) * u.deg).obs_ids == list(ref["OBS_ID"])
    times = Time(["2004-01-01", "2006-01-01"], scale="tt")
    ref = table.select_time_range(times)
    assert ours.select(time_range=times).obs_ids == list(ref["OBS_ID"])
    assert len(ref) > 10


def test_pointing_matches_gammapy(gammapy_data, gammapy_data_module):
    FixedPointingInfo = gammapy_data_module.FixedPointingInfo
    PointingInfo = gammapy_data_module.PointingInfo

    path = gammapy_data / "tests" / "pointing_table.fits.gz"
    mine, ref = PointingTable.read(path), PointingInfo.read(path)
    t = mine.time
    times = t[0] + np.linspace(0, 0.999, 50) * (t[-1] - t[0])
    sep = mine.get_icrs(times).separation(ref.get_icrs(times))
    assert np.max(sep.to_value(u.arcsec)) < 1e-6

    location = EarthLocation.from_geodetic(16.5 * u.deg, -23.27 * u.deg, 1835 * u.m)
    drift = FixedPointing(
        altaz=SkyCoord(alt=60 * u.deg, az=30 * u.deg, frame=AltAz()), location=location
    )
    ref = FixedPointingInfo(fixed_altaz=SkyCoord(alt=60 * u.deg, az=30 * u.deg, frame=AltAz()))
    when = Time("2012-06-01T22:00:00", scale="utc") + np.arange(3) * u.h
    sep = drift.get_icrs(when).separation(ref.get_icrs(when, location))
    assert np.max(sep.to_value(u.arcsec)) < 1e-6


@pytest.mark.parametrize(
    ("folder", "obs_id"),
    [("cta-1dc/index/gps", 110380), ("joint-crab/dl3/magic", 5029748)],
)
def test_other_instruments_match_gammapy(gammapy_data, gammapy_data_module, folder, obs_id):
    """CTA 1DC (MJDREF 51544.5 TT) and MAGIC (TIMESYS UTC): times, GTI, selections."""
    mine = DataStore.from_dir(gammapy_data / folder).obs(obs_id, required_irf="all-optional")
    ref = gammapy_data_module.DataStore.from_dir(gammapy_data / folder).obs(
        obs_id, required_irf="all-optional"
    )
    ev, gev = mine.events, ref.events
    assert len(ev) == len(gev.table)
    dt = (ev.time - gev.time).to_value(u.s)
    assert np.max(np.abs(dt)) < 1e-6
    assert mine.gti.time_sum.to_value(u.s) == pytest.approx(
        ref.gti.time_sum.to_value(u.s), rel=1e-12
    )
    assert abs((mine.gti.time_start[0] - ref.gti.time_start[0]).to_value(u.s)) < 1e-6
    t0 = mine.gti.time_start[0]
    window = (t0 + 300.5 * u.s, t0 + 700.25 * u.s)
    assert len(ev.select_time(window)) == len(gev.select_time(window).table)
    band = [0.1, 1] * u.TeV
    assert len(ev.select_energy(band)) == len(gev.select_energy(band).table)
