import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from gammaprob.data import GTI, DataStore, EventList, Observation, PointingTable
from gammaprob.utils.errors import FormatError


def _assert_same_events(a: EventList, b: EventList) -> None:
    assert a.table.colnames == b.table.colnames
    for name in a.table.colnames:
        np.testing.assert_array_equal(np.asarray(a.table[name]), np.asarray(b.table[name]))
        assert a.table[name].unit == b.table[name].unit
        assert a.table[name].dtype == b.table[name].dtype
    for key, value in a.meta.items():
        assert b.meta[key] == value, key


def test_meta(synthetic_store):
    obs = DataStore.from_dir(synthetic_store).obs(1, required_irf=["aeff"])
    meta = obs.meta
    assert not obs.is_loaded("events")  # meta and pointing come from the header only
    assert obs.pointing.mode == "POINTING" and not obs.is_loaded("events")
    assert meta.obs_id == 1
    assert meta.telescope == "TEST" and meta.instrument == "Test array"
    assert meta.target_name == "Synthetic"
    assert meta.livetime.to_value(u.s) == pytest.approx(1620)
    assert obs.livetime.to_value(u.s) == pytest.approx(1620)
    assert meta.ontime.to_value(u.s) == 1800
    assert meta.deadtime_fraction == pytest.approx(0.1)
    assert (obs.tstop - obs.tstart).to_value(u.s) == pytest.approx(1800, abs=1e-6)
    assert meta.location.height.to_value(u.m) == pytest.approx(1835)
    assert obs.pointing.mode == "POINTING"
    assert obs.get_pointing_icrs().dec.deg == pytest.approx(22.514)
    altaz = obs.get_pointing_altaz(obs.tstart)
    assert -90 <= altaz.alt.deg <= 90


def test_summary_and_peek(synthetic_store):
    obs = DataStore.from_dir(synthetic_store).obs(1, required_irf=["aeff"])
    text = obs.summary()
    assert "Observation 1" in text
    assert "livetime          : 1620.0 s" in text
    assert "dead-time fraction: 0.1000" in text
    assert "events            : 500" in text
    assert "aeff (not read yet)" in text
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = obs.peek()
    assert len(fig.axes) == 4
    assert fig.axes[1].get_xscale() == "log"
    plt.close(fig)


def test_write_read_roundtrip_exact(synthetic_store, tmp_path):
    obs = DataStore.from_dir(synthetic_store).obs(1, required_irf=["aeff"])
    path = tmp_path / "obs.fits.gz"
    obs.write(path)
    back = Observation.read(path)
    assert back.obs_id == 1
    _assert_same_events(obs.events, back.events)
    assert back.gti == obs.gti
    assert back.aeff == obs.aeff
    assert back.available() == ["events", "gti", "aeff"]
    # a second round trip is byte-identical in content
    back.write(tmp_path / "obs2.fits")
    again = Observation.read(tmp_path / "obs2.fits")
    _assert_same_events(back.events, again.events)
    assert again.gti == back.gti and again.aeff == back.aeff
    with pytest.raises(FileExistsError):
        obs.write(path)
    obs.write(path, overwrite=True)


def test_write_read_with_pointing_table(synthetic_store, tmp_path):
    store = DataStore.from_dir(synthetic_store)
    base = store.obs(2, required_irf="all-optional")
    table = Table()
    table["TIME"] = [1.0e8, 1.0e8 + 900, 1.0e8 + 1800] * u.s
    table["RA_PNT"] = [83.0, 83.5, 84.0] * u.deg
    table["DEC_PNT"] = [22.0, 22.0, 22.0] * u.deg
    table.meta.update({"MJDREFI": 51910, "MJDREFF": 0.000742870370370241, "TIMESYS": "TT"})
    obs = Observation(2, events=base.events, gti=base.gti, pointing=PointingTable(table))
    obs.write(tmp_path / "p.fits")
    back = Observation.read(tmp_path / "p.fits")
    assert isinstance(back.pointing, PointingTable)
    np.testing.assert_array_equal(back.pointing.table["RA_PNT"], table["RA_PNT"])
    mid = obs.gti.time_start[0] + 450 * u.s
    assert back.get_pointing_icrs(mid).separation(obs.get_pointing_icrs(mid)).deg < 1e-12
    with pytest.raises(ValueError, match=r"time is required"):
        back.get_pointing_icrs()


def test_read_errors(tmp_path, synthetic_store):
    obs = DataStore.from_dir(synthetic_store).obs(2, required_irf="all-optional")
    fits.HDUList([fits.PrimaryHDU(), obs.events.to_table_hdu()]).writeto(tmp_path / "nogti.fits")
    with pytest.raises(FormatError, match=r"nogti.fits.*no GTI extension"):
        Observation.read(tmp_path / "nogti.fits")
    hdus = [
        fits.PrimaryHDU(),
        obs.events.to_table_hdu(),
        obs.gti.to_table_hdu(),
        obs.gti.to_table_hdu("GTI2"),
    ]
    fits.HDUList(hdus).writeto(tmp_path / "twogti.fits")
    with pytest.raises(FormatError, match=r"more than one 'gti'"):
        Observation.read(tmp_path / "twogti.fits")


def test_observation_without_events_or_pointing():
    obs = Observation(5)
    assert obs.available() == []
    with pytest.raises(ValueError, match=r"neither pointing nor events"):
        _ = obs.pointing
    with pytest.raises(ValueError, match=r"no events header"):
        _ = obs.meta
    with pytest.raises(KeyError, match=r"unknown component"):
        obs.is_loaded("foo")
    assert obs.rad_max is None


def test_gti_from_observation_file(synthetic_store):
    store = DataStore.from_dir(synthetic_store)
    gti = store.obs(2, required_irf="all-optional").gti
    assert isinstance(gti, GTI) and gti.time_sum.to_value(u.s) == 1800
