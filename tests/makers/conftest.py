"""Synthetic in-memory observations for the fast maker tests."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

from gammaprob.data import GTI, EventList, Observation
from gammaprob.irf import PSF3D, Background2D, EffectiveArea2D, EnergyDispersion2D
from gammaprob.maps import MapAxis

MJDREFI, MJDREFF = 51910, 0.000742870370370241
TSTART, ONTIME, DEADC = 1.0e8, 1800.0, 0.9
POINTING = SkyCoord(83.633, 21.514, unit="deg")
SOURCE = SkyCoord(83.633, 22.014, unit="deg")
AREA = 1e5  # m2, flat effective area
BKG_NORM, BKG_INDEX = 1e-6, 2.7  # s-1 MeV-1 sr-1 at 1 TeV


def make_irfs(pointlike: bool = False) -> dict:
    """Flat-area, Gaussian-PSF, Gaussian-edisp, power-law background IRFs (offset < 3 deg)."""
    e_true = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 24, name="energy_true")
    e_reco = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 24, name="energy")
    offset = MapAxis.from_edges(np.linspace(0, 3, 7) * u.deg, name="offset")
    aeff = EffectiveArea2D(
        [e_true, offset],
        np.full((24, 6), AREA),
        meta={"LO_THRES": 0.8, "HI_THRES": 50.0},
        is_pointlike=pointlike,
    )
    migra = MapAxis.from_edges(np.linspace(0.2, 5, 241), name="migra")
    edisp = EnergyDispersion2D.from_gauss(e_true, migra, offset, bias=0.0, sigma=0.1)
    rad = MapAxis.from_edges(np.linspace(0, 1, 101) * u.deg, name="rad")
    psf = PSF3D.from_gauss(e_true, offset, rad, sigma=0.1 * u.deg)
    bkg = Background2D.from_power_law(
        e_reco, offset, norm=BKG_NORM * u.Unit("s-1 MeV-1 sr-1"), index=BKG_INDEX
    )
    return {"aeff": aeff, "edisp": edisp, "psf": psf, "bkg": bkg}


def make_events(rng, n_bkg: int = 4000, n_src: int = 300, obs_id: int = 1) -> EventList:
    """Uniform background in a 3 deg disc about the pointing plus a point source at SOURCE."""
    r = 3.0 * np.sqrt(rng.uniform(0, 1, n_bkg))
    pa = rng.uniform(0, 360, n_bkg)
    bkg = POINTING.directional_offset_by(pa * u.deg, r * u.deg)
    src = SOURCE.directional_offset_by(
        rng.uniform(0, 360, n_src) * u.deg, np.abs(rng.normal(0, 0.05, n_src)) * u.deg
    )
    table = Table()
    n = n_bkg + n_src
    table["EVENT_ID"] = np.arange(n, dtype=np.int64)
    table["TIME"] = np.sort(rng.uniform(TSTART, TSTART + ONTIME, n)) * u.s
    table["RA"] = np.r_[bkg.ra.deg, src.ra.deg] * u.deg
    table["DEC"] = np.r_[bkg.dec.deg, src.dec.deg] * u.deg
    table["ENERGY"] = 10 ** rng.uniform(-1, 2, n) * u.TeV
    table.meta.update(
        {
            "OBS_ID": obs_id,
            "TSTART": TSTART,
            "TSTOP": TSTART + ONTIME,
            "MJDREFI": MJDREFI,
            "MJDREFF": MJDREFF,
            "TIMESYS": "TT",
            "TIMEUNIT": "s",
            "TIMEREF": "local",
            "ONTIME": ONTIME,
            "LIVETIME": DEADC * ONTIME,
            "DEADC": DEADC,
            "RA_PNT": POINTING.ra.deg,
            "DEC_PNT": POINTING.dec.deg,
            "OBS_MODE": "POINTING",
            "TELESCOP": "TEST",
        }
    )
    return EventList(table)


def make_gti() -> GTI:
    table = Table()
    table["START"] = [TSTART] * u.s
    table["STOP"] = [TSTART + ONTIME] * u.s
    table.meta.update({"MJDREFI": MJDREFI, "MJDREFF": MJDREFF, "TIMESYS": "TT"})
    return GTI.from_table(table)


@pytest.fixture
def rng():
    return np.random.default_rng(42)


@pytest.fixture
def make_observation(rng):
    """Factory: ``make_observation(obs_id=1, bkg=True, pointlike=False)``."""

    def make(obs_id: int = 1, bkg: bool = True, pointlike: bool = False) -> Observation:
        irfs = make_irfs(pointlike)
        if not bkg:
            irfs["bkg"] = None
        return Observation(obs_id, events=make_events(rng, obs_id=obs_id), gti=make_gti(), **irfs)

    return make
