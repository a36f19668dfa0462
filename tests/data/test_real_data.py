"""Reading the public DL3 data of $GAMMAPY_DATA (H.E.S.S. DR1, CTA 1DC, MAGIC, test samples)."""

import astropy.units as u
import numpy as np
import pytest

from gammaprob.data import DataStore, MissingHDUWarning, Observation
from gammaprob.utils.errors import DataNotFoundError, FormatError

pytestmark = pytest.mark.requires_data


@pytest.fixture(scope="module")
def hess(gammapy_data):
    return DataStore.from_dir(gammapy_data / "hess-dl3-dr1")


def test_hess_index_tables(hess):
    table = hess.obs_table
    assert len(table) == 105
    assert len(hess.hdu_table) == 630
    types, counts = np.unique(
        np.asarray(hess.hdu_table["HDU_TYPE"]).astype(str), return_counts=True
    )
    assert dict(zip(types.tolist(), counts.tolist(), strict=True)) == dict.fromkeys(
        ("aeff", "bkg", "edisp", "events", "gti", "psf"), 105
    )
    # the composition of the release (H.E.S.S. DL3 DR1 paper, table 1)
    names, counts = np.unique(np.asarray(table["TARGET_NAME"]).astype(str), return_counts=True)
    assert dict(zip(names.tolist(), counts.tolist(), strict=True)) == {
        "Crab": 4,
        "MSH 15-52": 20,
        "Off data": 45,
        "PKS 2155-304 (flare)": 15,
        "PKS 2155-304 (steady)": 6,
        "RX J1713.7-3946": 15,
    }
    objects, counts = np.unique(np.asarray(table["OBJECT"]).astype(str), return_counts=True)
    by_object = dict(zip(objects.tolist(), counts.tolist(), strict=True))
    assert len(by_object) == 35
    assert by_object["PKS 2155-304"] == 21
    assert by_object["MSH 15-5-02"] == 17
    assert by_object["RXJ 1713.7-3946"] == 12
    assert by_object["Crab Nebula"] == 4
    assert np.sum(np.asarray(table["LIVETIME"], dtype=float)) == pytest.approx(161236.98, abs=0.05)
    assert table["LIVETIME"].unit == u.s
    crab = hess.select(object="Crab Nebula")
    assert crab.obs_ids == [23523, 23526, 23559, 23592]


def test_hess_all_observations_load(hess):
    """All 105 observations: events, GTI and the four IRFs, consistent with the index."""
    from gammaprob.irf import PSF3D, Background3D, EffectiveArea2D, EnergyDispersion2D

    table = hess.obs_table
    observations = hess.get_observations()
    assert len(observations) == 105
    livetime_events = 0.0
    for obs, row in zip(observations, table, strict=True):
        assert obs.obs_id == row["OBS_ID"]
        events = obs.events
        assert len(events) == row["EVENT_COUNT"]
        assert events.meta["OBS_ID"] == obs.obs_id
        assert obs.meta.livetime.to_value(u.s) == pytest.approx(row["LIVETIME"], rel=1e-6)
        livetime_events += obs.meta.livetime.to_value(u.s)
        assert obs.gti.time_sum.to_value(u.s) == pytest.approx(row["ONTIME"], rel=1e-6)
        assert isinstance(obs.aeff, EffectiveArea2D)
        assert isinstance(obs.edisp, EnergyDispersion2D)
        assert isinstance(obs.psf, PSF3D)
        assert isinstance(obs.bkg, Background3D)
        assert not obs.aeff.is_pointlike
    assert livetime_events == pytest.approx(
        np.sum(np.asarray(table["LIVETIME"], dtype=float)), rel=1e-6
    )


def test_hess_write_read_roundtrip(hess, tmp_path):
    obs = hess.obs(23523)
    obs.write(tmp_path / "obs_23523.fits")
    back = Observation.read(tmp_path / "obs_23523.fits")
    for name in obs.events.table.colnames:
        np.testing.assert_array_equal(back.events.table[name], obs.events.table[name])
    for key, value in obs.events.meta.items():
        assert back.events.meta[key] == value
    assert back.gti == obs.gti
    for name in ("aeff", "edisp", "psf", "bkg"):
        assert getattr(back, name) == getattr(obs, name), name
    assert back.meta == obs.meta


def test_cta_1dc(gammapy_data):
    from gammaprob.irf import Background3D, EffectiveArea2D, EnergyDispersion2D, PSF3Gauss

    store = DataStore.from_dir(gammapy_data / "cta-1dc" / "index" / "gps")
    assert store.obs_ids == [110380, 111140, 111159, 111630]
    for obs, row in zip(store.get_observations(), store.obs_table, strict=True):
        assert len(obs.events) == row["EVENT_COUNT"]
        assert obs.gti.time_sum.to_value(u.s) == pytest.approx(1800)
    obs = store.obs(110380)
    assert "DETX" in obs.events.table.colnames
    assert obs.meta.telescope == "CTA"
    assert obs.meta.livetime.to_value(u.s) == pytest.approx(1764)
    assert isinstance(obs.aeff, EffectiveArea2D)
    assert isinstance(obs.edisp, EnergyDispersion2D)
    assert isinstance(obs.psf, PSF3Gauss)
    assert isinstance(obs.bkg, Background3D)
    # files are shared between observations: locations resolve relative to the index
    loc = store.hdu_index.location(111630, "aeff")
    assert loc.path.name == "irf_file.fits" and loc.path.is_file()


def test_magic_point_like(gammapy_data):
    from gammaprob.irf import RadMax2D

    store = DataStore.from_dir(gammapy_data / "joint-crab" / "dl3" / "magic")
    obs = store.obs(5029748, required_irf="point-like")
    assert len(obs.events) == 5799
    assert obs.aeff.is_pointlike and obs.edisp.is_pointlike
    assert obs.psf is None and obs.bkg is None
    assert isinstance(obs.rad_max, RadMax2D)
    assert obs.rad_max.quantity.to_value(u.deg).ravel() == pytest.approx([0.1414213])
    meta = obs.meta
    assert meta.telescope == "MAGIC"
    assert meta.time_start.scale == "utc"
    assert meta.deadtime_fraction == pytest.approx(1 - 0.993786082490611)
    assert meta.location.lat.deg == pytest.approx(28.761795)
    # the index lists a second run whose file is not distributed
    with pytest.raises(DataNotFoundError, match=r"run_05029747_DL3.fits") as err:
        store.obs(5029747, required_irf="point-like")
    assert "'events' HDU 'EVENTS'" in str(err.value)
    with pytest.warns(MissingHDUWarning, match="skipping observation 5029747"):
        observations = store.get_observations(required_irf="point-like", skip_missing=True)
    assert observations.ids == [5029748]


def test_minimal_datastore(gammapy_data):
    store = DataStore.from_dir(gammapy_data / "tests" / "minimal_datastore")
    observations = store.get_observations()
    assert observations.ids == [23523, 23526]
    assert [len(obs.events) for obs in observations] == [7613, 7581]
    assert observations[0].psf.axes.names[0] == "energy_true"


def test_swgo_format_samples(gammapy_data):
    from gammaprob.maps import Map

    folder = gammapy_data / "tests" / "format" / "swgo"
    store = DataStore.from_dir(folder)
    groups = store.get_observation_groups("EVENT_TYPE", required_irf="all-optional")
    assert len(groups) == 6 and all(len(g) == 1 for g in groups.values())
    assert groups["Zen [30, 45] Cor [0, 58]"].ids == [2]
    obs = store.obs(0)
    # drift-mode pointing and a location given as strings with units
    assert obs.pointing.mode == "DRIFT"
    assert obs.pointing.fixed_altaz.alt.deg == 90
    assert obs.meta.location.lat.deg == pytest.approx(-(22 + 56 / 60 + 22.36923399 / 3600))
    # the event list is an empty placeholder and the GTI HDU does not exist
    with pytest.raises(FormatError, match=r"DummyEvents.*column 'EVENT_ID'.*missing"):
        _ = obs.events
    with pytest.raises(FormatError, match=r"DummyEvents.*HDU 'GTI'"):
        _ = obs.gti
    # map-based IRFs load as maps
    assert isinstance(obs.psf, Map) and "rad" in obs.psf.geom.axes.names
    assert isinstance(obs.edisp, Map)
    multi = DataStore.from_index_files(
        folder / "hdu-index-multi.fits.gz", folder / "obs-index-multi.fits.gz"
    )
    assert len(multi.obs_ids) == 12
    named = DataStore.from_dir(folder, "hdu-index-irf-name.fits.gz", "obs-index-irf-name.fits.gz")
    assert named.select(irf_name="D9_Zen[0,30]Cor[0,58]").obs_ids == [0]
