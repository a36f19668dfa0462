"""Synthetic GADF DL3 files for the fast data tests (small, made in tmp_path)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

MJDREFI = 51910
MJDREFF = 0.000742870370370241
RA_PNT, DEC_PNT = 83.633, 22.514
TSTART, TSTOP = 1.0e8, 1.0e8 + 1800.0


def events_table(rng, n=2000, obs_id=1, tstart=TSTART, tstop=TSTOP, **extra_meta) -> Table:
    """Events uniform in a 6x6 deg box around the pointing, log-uniform in 0.1..100 TeV."""
    table = Table()
    table["EVENT_ID"] = np.arange(n, dtype=np.int64)
    table["TIME"] = np.sort(rng.uniform(tstart, tstop, n)) * u.s
    cos_dec = np.cos(np.deg2rad(DEC_PNT))
    table["RA"] = (RA_PNT + rng.uniform(-3, 3, n) / cos_dec) * u.deg
    table["DEC"] = (DEC_PNT + rng.uniform(-3, 3, n)) * u.deg
    table["ENERGY"] = 10 ** rng.uniform(-1, 2, n) * u.TeV
    table.meta.update(
        {
            "HDUCLASS": "GADF",
            "HDUCLAS1": "EVENTS",
            "OBS_ID": obs_id,
            "TSTART": tstart,
            "TSTOP": tstop,
            "MJDREFI": MJDREFI,
            "MJDREFF": MJDREFF,
            "TIMESYS": "TT",
            "TIMEUNIT": "s",
            "TIMEREF": "local",
            "ONTIME": tstop - tstart,
            "LIVETIME": 0.9 * (tstop - tstart),
            "DEADC": 0.9,
            "RA_PNT": RA_PNT,
            "DEC_PNT": DEC_PNT,
            "OBS_MODE": "POINTING",
            "OBJECT": "Synthetic",
            "RA_OBJ": 83.633,
            "DEC_OBJ": 22.014,
            "TELESCOP": "TEST",
            "INSTRUME": "Test array",
            "GEOLON": 16.5002222222222,
            "GEOLAT": -23.2717777777778,
            "ALTITUDE": 1835.0,
        }
    )
    table.meta.update(extra_meta)
    return table


def gti_table(intervals, mjdrefi=MJDREFI, mjdreff=MJDREFF, timesys="TT") -> Table:
    table = Table()
    table["START"] = np.array([a for a, _ in intervals], dtype=float) * u.s
    table["STOP"] = np.array([b for _, b in intervals], dtype=float) * u.s
    table.meta.update({"MJDREFI": mjdrefi, "MJDREFF": mjdreff, "TIMESYS": timesys})
    return table


def aeff_hdu():
    from gammaprob.irf import EffectiveArea2D
    from gammaprob.maps import MapAxis

    energy = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 12, name="energy_true")
    offset = MapAxis.from_edges([0, 1, 2, 3] * u.deg, name="offset")
    return EffectiveArea2D.from_parametrization(energy, offset).to_table_hdu()


def write_obs_file(path: Path, rng, obs_id: int, with_aeff: bool = True, gz: bool = False) -> Path:
    """One-file observation: EVENTS, GTI (and an effective area)."""
    hdus = [
        fits.PrimaryHDU(),
        fits.table_to_hdu(events_table(rng, n=500, obs_id=obs_id)),
        fits.table_to_hdu(gti_table([(TSTART, TSTOP)])),
    ]
    hdus[1].name = "EVENTS"
    hdus[2].name = "GTI"
    if with_aeff:
        hdus.append(aeff_hdu())
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList(hdus).writeto(path)
    if gz:
        gz_path = path.with_name(path.name + ".gz")
        with open(path, "rb") as src, gzip.open(gz_path, "wb") as dst:
            shutil.copyfileobj(src, dst)
        path.unlink()
        return gz_path
    return path


def hdu_index_table(rows, base_dir: str | None = None) -> Table:
    table = Table(
        rows=rows, names=["OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"]
    )
    table.meta["EXTNAME"] = "HDU_INDEX"
    if base_dir is not None:
        table.meta["BASE_DIR"] = base_dir
    return table


def obs_index_table(obs_ids) -> Table:
    table = Table()
    n = len(obs_ids)
    table["OBS_ID"] = np.asarray(obs_ids, dtype=np.int64)
    table["RA_PNT"] = np.linspace(80, 90, n) * u.deg
    table["DEC_PNT"] = np.full(n, 22.0) * u.deg
    table["ZEN_PNT"] = np.linspace(10, 50, n) * u.deg
    table["LIVETIME"] = np.linspace(1000, 2000, n) * u.s
    table["TSTART"] = (TSTART + 1e4 * np.arange(n)) * u.s
    table["TSTOP"] = (TSTART + 1e4 * np.arange(n) + 1800) * u.s
    table["OBJECT"] = ["A", "B", "A", "C", "A"][:n] if n <= 5 else ["X"] * n
    table.meta.update(
        {"EXTNAME": "OBS_INDEX", "MJDREFI": MJDREFI, "MJDREFF": MJDREFF, "TIMESYS": "TT"}
    )
    return table


@pytest.fixture
def synthetic_store(tmp_path, rng):
    """A data store of two observations: one gzipped with IRF, one plain with no IRF.

    Returns the folder; files under ``data/``.
    """
    file1 = write_obs_file(tmp_path / "data" / "obs_000001.fits", rng, 1, gz=True)
    file2 = write_obs_file(tmp_path / "data" / "obs_000002.fits", rng, 2, with_aeff=False)
    rows = [
        (1, "events", "events", "data", file1.name, "EVENTS"),
        (1, "gti", "gti", "data", file1.name, "2"),  # HDU by number
        (1, "aeff", "aeff_2d", "data", file1.name, "EFFECTIVE AREA"),
        (2, "events", "events", str(file2.parent), file2.name, "EVENTS"),  # absolute dir
        (2, "gti", "gti", str(file2.parent), file2.name, "GTI"),
    ]
    hdu_index_table(rows).write(tmp_path / "hdu-index.fits.gz")
    obs_index_table([1, 2]).write(tmp_path / "obs-index.fits.gz")
    return tmp_path


@pytest.fixture
def make_events():
    return events_table


@pytest.fixture
def make_gti():
    return gti_table


@pytest.fixture
def make_obs_file():
    return write_obs_file


@pytest.fixture
def make_hdu_index():
    return hdu_index_table


@pytest.fixture
def make_obs_index():
    return obs_index_table


@pytest.fixture(scope="session")
def gammapy_data_module():
    """``gammapy.data`` (for requires_gammapy tests; validation extra)."""
    import gammapy.data

    return gammapy.data
