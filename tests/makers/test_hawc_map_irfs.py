"""HAWC DL3 (map-type IRFs per transit) reduced by MapDatasetMaker, compared with gammapy."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from gammaprob.data import DataStore
from gammaprob.makers import MapDatasetMaker, MapTemplate
from gammaprob.maps import Map, MapAxis, WcsGeom

OBS_ID = 103000133
CENTER = SkyCoord(83.63, 22.01, unit="deg")
EDGES = [1.00, 1.78, 3.16, 5.62, 10.0, 17.8, 31.6, 56.2, 100, 177, 316] * u.TeV
FOLDER = "hawc/crab_events_pass4"


def _template(fhit_bin: int) -> MapTemplate:
    energy = MapAxis.from_edges(EDGES, name="energy", interp="log")
    energy_true = MapAxis.from_energy_bounds(1e-3, 1e4, nbin=140, unit="TeV", name="energy_true")
    geom = WcsGeom.create(skydir=CENTER, width=2 * u.deg, binsz=0.05, axes=[energy])
    return MapTemplate(geom, energy_true, name=f"fhit{fhit_bin}")


def _gammapy_dataset(folder, fhit_bin: int):
    """The reduction of gammapy's HAWC tutorial on the same geometry."""
    from gammapy.data import DataStore as GPDataStore
    from gammapy.data import HDUIndexTable, ObservationTable, utils
    from gammapy.datasets import MapDataset as GPMapDataset
    from gammapy.makers import MapDatasetMaker as GPMaker
    from gammapy.maps import Map as GPMap
    from gammapy.maps import MapAxis as GPMapAxis
    from gammapy.maps import WcsGeom as GPWcsGeom

    energy = GPMapAxis.from_edges(EDGES, name="energy", interp="log")
    energy_true = GPMapAxis.from_energy_bounds(1e-3, 1e4, nbin=140, unit="TeV", name="energy_true")
    geom = GPWcsGeom.create(skydir=CENTER, width=2 * u.deg, axes=[energy], binsz=0.05)
    hdu_table = HDUIndexTable.read(folder / "hdu-index-table-NN-Crab.fits.gz", hdu=fhit_bin)
    obs_table = ObservationTable.read(folder / "obs-index-table-NN-Crab.fits.gz")
    utils.CHECK_OVERLAPPING_TI = False
    try:
        obs = GPDataStore(hdu_table=hdu_table, obs_table=obs_table).get_observations()[0]
        empty = GPMapDataset.create(geom, energy_axis_true=energy_true, name="gp", reco_psf=True)
        selection = ["counts", "background", "exposure", "edisp", "psf"]
        dataset = GPMaker(selection=selection).run(empty, obs)
    finally:
        utils.CHECK_OVERLAPPING_TI = True
    transits = GPMap.read(folder / "irfs/TransitsMap_Crab.fits.gz")
    n_transits = transits.get_by_coord(geom.center_skydir)
    dataset.background.data *= n_transits
    dataset.exposure.data *= n_transits
    return dataset


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.parametrize("fhit_bin", [5, 8])
def test_hawc_reduction_equals_gammapy_tutorial(gammapy_data, fhit_bin):
    folder = gammapy_data / FOLDER
    obs = DataStore.from_hawc(folder, fhit_bin=fhit_bin).obs(OBS_ID)
    transits = Map.read(folder / "irfs/TransitsMap_Crab.fits.gz")
    ours = MapDatasetMaker(transits=transits).run(_template(fhit_bin), obs)
    theirs = _gammapy_dataset(folder, fhit_bin)

    np.testing.assert_array_equal(ours.counts.data, theirs.counts.data)
    assert ours.counts.data.sum() > 0
    exposure = theirs.exposure.quantity.to_value("m2 s")
    # atol: gammapy's interpolator leaves round-off (~1e-18) where the maps are zero
    np.testing.assert_allclose(
        ours.exposure.quantity.to_value("m2 s"), exposure, rtol=1e-6, atol=1e-12 * exposure.max()
    )
    background = theirs.background.data
    np.testing.assert_allclose(
        ours.background.data, background, rtol=1e-6, atol=1e-12 * background.max()
    )
    # PSF per reconstructed energy and kernels on the coarse IRF geometry, as gammapy's
    assert ours.psf.irf_map.geom.axes.names == ["rad", "energy"]
    np.testing.assert_allclose(
        ours.psf.irf_map.quantity.to_value("sr-1"),
        theirs.psf.psf_map.quantity.to_value("sr-1"),
        rtol=1e-6,
        atol=0,
    )
    np.testing.assert_allclose(ours.edisp.irf_map.data, theirs.edisp.edisp_map.data, atol=1e-9)


@pytest.mark.requires_data
def test_hawc_reduction_needs_transits_and_matching_background_axis(gammapy_data):
    folder = gammapy_data / FOLDER
    obs = DataStore.from_hawc(folder, fhit_bin=8).obs(OBS_ID)
    with pytest.raises(ValueError, match=r"IRF maps per transit \(HAWC\).*transits="):
        MapDatasetMaker(selection=["exposure"]).run(_template(8), obs)
    # a number of transits scales exposure and background linearly
    sel = ["exposure", "background", "edisp"]
    one = MapDatasetMaker(selection=sel, transits=1).run(_template(8), obs)
    two = MapDatasetMaker(selection=sel, transits=2.0).run(_template(8), obs)
    np.testing.assert_allclose(two.exposure.data, 2 * one.exposure.data, rtol=1e-12)
    np.testing.assert_allclose(two.background.data, 2 * one.background.data, rtol=1e-12)
    # background counts per bin cannot be interpolated to other energy bins
    energy = MapAxis.from_energy_bounds(1 * u.TeV, 316 * u.TeV, 6, name="energy")
    geom = WcsGeom.create(skydir=CENTER, width=1 * u.deg, binsz=0.1, axes=[energy])
    template = MapTemplate(geom, _template(8).energy_axis_true)
    with pytest.raises(ValueError, match=r"background map .* axis 'energy'"):
        MapDatasetMaker(selection=["background"], transits=1).run(template, obs)
    with pytest.raises(ValueError, match="must be positive"):
        MapDatasetMaker(transits=0)
