import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time

from gammaprob.data import DataStore, EventList, MissingHDUWarning, Observations
from gammaprob.utils.errors import DataNotFoundError, FormatError, GammaprobError


def test_open_and_tables(synthetic_store):
    store = DataStore.from_dir(synthetic_store)
    assert store.obs_ids == [1, 2]
    assert len(store.hdu_table) == 5
    assert store.obs_table["LIVETIME"].unit == u.s
    assert "2 observations" in repr(store)
    same = DataStore.from_index_files(synthetic_store / "hdu-index.fits.gz")
    assert same.obs_ids == [1, 2]  # obs table built from the HDU index
    assert same.obs_table.colnames == ["OBS_ID"]


def test_lazy_loading_gzip_hdu_number_absolute_dir(synthetic_store):
    store = DataStore.from_dir(synthetic_store)
    obs = store.obs(1, required_irf=["aeff"])
    assert not obs.is_loaded("events") and not obs.is_loaded("aeff")
    assert "events*" in repr(obs)
    assert isinstance(obs.events, EventList) and len(obs.events) == 500  # gzipped file
    assert obs.is_loaded("events") and not obs.is_loaded("aeff")
    assert obs.gti.time_sum.to_value(u.s) == 1800  # HDU given by number
    assert obs.aeff.unit == u.m**2
    obs2 = store.obs(2, required_irf="all-optional")  # absolute FILE_DIR
    assert len(obs2.events) == 500
    assert obs2.aeff is None and obs2.psf is None


def test_missing_optional_hdu_warns(synthetic_store):
    store = DataStore.from_dir(synthetic_store)
    with pytest.warns(MissingHDUWarning) as record:
        obs = store.obs(2)
    assert len(record) == 1
    assert "observation 2: no 'aeff', 'edisp', 'psf', 'bkg' HDU" in str(record[0].message)
    assert "obs.aeff, obs.edisp, obs.psf, obs.bkg = None" in str(record[0].message)
    assert len(obs.events) == 500 and obs.aeff is None
    with pytest.warns(MissingHDUWarning):
        observations = store.get_observations()
    assert isinstance(observations, Observations) and observations.ids == [1, 2]


def test_missing_events_is_an_error(tmp_path, rng, make_obs_file, make_hdu_index):
    path = make_obs_file(tmp_path / "o.fits", rng, 7)
    make_hdu_index([(7, "gti", "gti", "", path.name, "GTI")]).write(tmp_path / "hdu-index.fits")
    store = DataStore.from_dir(tmp_path)
    with pytest.raises(GammaprobError, match=r"observation 7.*no 'events' HDU"):
        store.obs(7)
    obs = store.obs(7, required_irf="all-optional", require_events=False)
    assert obs.events is None and obs.gti.time_sum.to_value(u.s) == 1800


def test_index_to_missing_file_or_hdu(tmp_path, rng, make_obs_file, make_hdu_index):
    path = make_obs_file(tmp_path / "o.fits", rng, 7, with_aeff=False)
    rows = [
        (7, "events", "events", ".", path.name, "EVENTS"),
        (7, "gti", "gti", ".", path.name, "GTI"),
        (7, "aeff", "aeff_2d", ".", path.name, "EFFECTIVE AREA"),  # HDU not in file
        (8, "events", "events", "gone", "missing.fits", "EVENTS"),
        (8, "gti", "gti", "gone", "missing.fits", "GTI"),
    ]
    make_hdu_index(rows).write(tmp_path / "hdu-index.fits")
    store = DataStore.from_dir(tmp_path)
    obs = store.obs(7, required_irf="all-optional")
    assert len(obs.events) == 500
    with pytest.raises(FormatError, match=r"o.fits.*HDU 'EFFECTIVE AREA': HDU not found"):
        _ = obs.aeff
    with pytest.raises(DataNotFoundError, match=r"missing.fits") as err:
        store.obs(8)
    assert "'events' HDU 'EVENTS'" in str(err.value) and "hdu-index.fits" in str(err.value)
    with pytest.raises(KeyError, match=r"observation 9 is not in the HDU index"):
        store.obs(9)
    with pytest.warns(MissingHDUWarning) as record:
        kept = store.get_observations([7, 8, 9], required_irf="all-optional", skip_missing=True)
    assert kept.ids == [7]
    assert [str(w.message).split(":")[0] for w in record] == [
        "skipping observation 8",
        "skipping observation 9",
    ]


def test_base_dir_keyword(tmp_path, rng, make_obs_file, make_hdu_index):
    path = make_obs_file(tmp_path / "store" / "runs" / "o.fits", rng, 3, with_aeff=False)
    rows = [
        (3, "events", "events", "runs", path.name, "EVENTS"),
        (3, "gti", "gti", "runs", path.name, "GTI"),
    ]
    (tmp_path / "index").mkdir()
    make_hdu_index(rows, base_dir="../store").write(tmp_path / "index" / "hdu-index.fits.gz")
    store = DataStore.from_dir(tmp_path / "index")
    assert len(store.obs(3, required_irf="all-optional").events) == 500


def test_from_dir_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"does not exist"):
        DataStore.from_dir(tmp_path / "nope")
    with pytest.raises(DataNotFoundError, match=r"no HDU index"):
        DataStore.from_dir(tmp_path)
    (tmp_path / "hdu-index.fits.gz").write_bytes(b"not fits at all" * 300)
    with pytest.raises(FormatError, match=r"hdu-index.fits.gz"):
        DataStore.from_dir(tmp_path)


def test_index_missing_column(tmp_path, make_hdu_index):
    table = make_hdu_index([(1, "events", "events", ".", "a.fits", "EVENTS")])
    table.remove_column("HDU_NAME")
    table.write(tmp_path / "hdu-index.fits")
    with pytest.raises(FormatError, match=r"column 'HDU_NAME'"):
        DataStore.from_dir(tmp_path)


def test_selection(tmp_path, make_hdu_index, make_obs_index):
    ids = [10, 11, 12, 13, 14]
    rows = [(i, "events", "events", ".", f"{i}.fits", "EVENTS") for i in ids]
    make_hdu_index(rows).write(tmp_path / "hdu-index.fits")
    make_obs_index(ids).write(tmp_path / "obs-index.fits")
    store = DataStore.from_dir(tmp_path)
    table = store.obs_table
    # RA_PNT = 80, 82.5, 85, 87.5, 90 ; ZEN_PNT = 10, 20, 30, 40, 50 ; LIVETIME 1000..2000
    assert store.select(obs_ids=[13, 10]).obs_ids == [13, 10]
    assert store.select(cone=(SkyCoord(85, 22, unit="deg"), 3 * u.deg)).obs_ids == [11, 12, 13]
    assert store.select(zen_pnt=(20, 40) * u.deg).obs_ids == [11, 12]
    assert store.select(ZEN_PNT=(0.5, 0.7) * u.rad).obs_ids == [12, 13]  # 28.6..40.1 deg
    assert store.select(livetime=[1250, 1250] * u.s).obs_ids == [11]  # equal bounds: exact
    assert store.select(object="A").obs_ids == [10, 12, 14]
    assert store.select(object=["B", "C"]).obs_ids == [11, 13]
    sel = store.select(zen_pnt=(0, 45) * u.deg, livetime=(1200, 3000) * u.s)
    assert sel.obs_ids == [11, 12, 13]
    assert len(sel.hdu_table) == 3
    t0 = table.time_start[1]
    t1 = table.time_stop[3]
    assert store.select(time_range=(t0, t1)).obs_ids == [11, 12, 13]
    partial = store.select(time_range=(t0 + 100 * u.s, t1), partial_overlap=True)
    assert partial.obs_ids == [11, 12, 13]
    assert store.select(time_range=(t0 + 100 * u.s, t1)).obs_ids == [12, 13]
    with pytest.raises(KeyError, match=r"no column 'nope'"):
        store.select(nope=(0, 1))
    with pytest.raises(ValueError, match=r"units of deg"):
        store.select(zen_pnt=(0, 1) * u.s)
    with pytest.raises(KeyError, match=r"\[99\]"):
        store.select(obs_ids=[10, 99])
    assert isinstance(table.time_ref, Time)


def test_observations_collection(synthetic_store):
    store = DataStore.from_dir(synthetic_store)
    obs = store.get_observations([2, 1], required_irf="all-optional")
    assert obs.ids == [2, 1] and len(obs) == 2
    assert obs.by_id(1).obs_id == 1 and 1 in obs and 5 not in obs
    assert obs[1:].ids == [1]
    with pytest.raises(KeyError):
        obs.by_id(5)
    with pytest.raises(ValueError, match=r"unique"):
        Observations([obs[0], obs[0]])
    assert "2 observations" in repr(obs)
    np.testing.assert_array_equal([len(o.events) for o in obs], [500, 500])
    groups = store.get_observation_groups("object", required_irf="all-optional")
    assert {k: v.ids for k, v in groups.items()} == {"A": [1], "B": [2]}


@pytest.mark.parametrize(
    ("column", "change", "message"),
    [
        ("ENERG_LO", lambda v: v[:, ::-1], r"column 'ENERG_LO'"),
        ("EFFAREA", lambda v: np.where(v > 0, np.nan, v), r"column 'EFFAREA'.*NaN"),
    ],
)
def test_bad_irf_through_store(
    tmp_path, rng, make_obs_file, make_hdu_index, column, change, message
):
    """IRF format errors surface with file, HDU and column when read via the store."""
    path = make_obs_file(tmp_path / "o.fits", rng, 4)
    with fits.open(path, mode="update") as hdulist:
        data = hdulist["EFFECTIVE AREA"].data
        data[column] = change(np.array(data[column]))
    rows = [
        (4, "events", "events", ".", path.name, "EVENTS"),
        (4, "gti", "gti", ".", path.name, "GTI"),
        (4, "aeff", "aeff_2d", ".", path.name, "EFFECTIVE AREA"),
    ]
    make_hdu_index(rows).write(tmp_path / "hdu-index.fits")
    obs = DataStore.from_dir(tmp_path).obs(4, required_irf=["aeff"])
    assert len(obs.events) == 500  # the rest of the observation is fine
    with pytest.raises(FormatError, match=r"o.fits.*HDU 'EFFECTIVE AREA'.*" + message):
        _ = obs.aeff
