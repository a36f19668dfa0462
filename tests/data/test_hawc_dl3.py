"""HAWC's public DL3 release: one observation split by fHit bin and energy estimator."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammaprob.data import DataStore
from gammaprob.maps import Map
from gammaprob.utils.errors import DataNotFoundError

pytestmark = pytest.mark.requires_data

HAWC = "$GAMMAPY_DATA/hawc/crab_events_pass4"
OBS_ID = 103000133


@pytest.mark.parametrize("estimator", ["NN", "GP"])
@pytest.mark.parametrize("fhit_bin", [5, 6, 7, 8, 9])
def test_each_fhit_bin_reads(fhit_bin, estimator):
    store = DataStore.from_hawc(HAWC, fhit_bin=fhit_bin, estimator=estimator)
    assert store.obs_ids == [OBS_ID]
    obs = store.obs(OBS_ID)
    # exact-case columns: the file also has lower-case 'ra'/'dec' without units
    assert obs.events.energy.unit == u.TeV and len(obs.events.table) > 0
    radec = obs.events.radec
    assert np.all(np.abs(radec.ra.deg - 83.63) < 6) and np.all(np.abs(radec.dec.deg - 22.01) < 6)
    assert f"fHitbin{fhit_bin}{estimator}" in str(store.hdu_index.location(OBS_ID, "events").path)
    for name in ("aeff", "psf", "edisp", "bkg"):
        assert isinstance(getattr(obs, name), Map)
    assert obs.psf.geom.axes.names == ["rad", "energy"]  # PSF per reconstructed energy
    assert obs.edisp.geom.axes.names == ["energy", "energy_true"]


def test_bins_and_estimators_differ():
    nn5 = DataStore.from_hawc(HAWC, 5, "NN").obs(OBS_ID).events
    gp5 = DataStore.from_hawc(HAWC, 5, "GP").obs(OBS_ID).events
    nn6 = DataStore.from_hawc(HAWC, 6, "NN").obs(OBS_ID).events
    assert len(nn5.table) != len(nn6.table)
    assert not np.array_equal(nn5.energy, gp5.energy[: len(nn5.table)])


def test_bad_selections_are_clear_errors():
    with pytest.raises(DataNotFoundError, match=r"has no table 12; its tables are HDUs \[1, 2"):
        DataStore.from_hawc(HAWC, fhit_bin=12)
    with pytest.raises(ValueError, match="estimator must be one of"):
        DataStore.from_hawc(HAWC, fhit_bin=5, estimator="XX")
    # bins 1-4 are listed by the index but their files are not in the public data
    store = DataStore.from_hawc(HAWC, fhit_bin=2)
    with pytest.raises(DataNotFoundError, match=r"hdu-index-table-NN-Crab.fits.gz\[2\]"):
        store.obs(OBS_ID)


@pytest.mark.requires_gammapy
@pytest.mark.parametrize("fhit_bin", [5, 8])
def test_same_events_and_irfs_as_gammapy(fhit_bin, gammapy_data):
    from gammapy.data import DataStore as GPDataStore
    from gammapy.data import HDUIndexTable, ObservationTable, utils

    folder = gammapy_data / "hawc" / "crab_events_pass4"
    hdu_table = HDUIndexTable.read(folder / "hdu-index-table-NN-Crab.fits.gz", hdu=fhit_bin)
    obs_table = ObservationTable.read(folder / "obs-index-table-NN-Crab.fits.gz")
    utils.CHECK_OVERLAPPING_TI = False
    try:
        gp = GPDataStore(hdu_table=hdu_table, obs_table=obs_table).get_observations()[0]
        gp_energy = gp.events.energy
        gp_radec = gp.events.radec
        gp_aeff, gp_bkg = gp.aeff.quantity, gp.bkg.quantity
        gp_psf, gp_edisp = gp.psf.psf_map.quantity, gp.edisp.edisp_map.quantity
    finally:
        utils.CHECK_OVERLAPPING_TI = True
    ours = DataStore.from_hawc(folder, fhit_bin=fhit_bin).obs(OBS_ID)
    np.testing.assert_array_equal(ours.events.energy.to_value(u.TeV), gp_energy.to_value(u.TeV))
    np.testing.assert_array_equal(ours.events.radec.ra.deg, gp_radec.ra.deg)
    for mine, theirs in (
        (ours.aeff, gp_aeff),
        (ours.bkg, gp_bkg),
        (ours.psf, gp_psf),
        (ours.edisp, gp_edisp),
    ):
        np.testing.assert_array_equal(mine.quantity.to_value(theirs.unit), theirs.value)
