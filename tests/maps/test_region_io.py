"""FITS REGION tables and region maps: exact round trips, the OGIP file of PKS 2155-304, gammapy."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from regions import CircleSkyRegion, EllipseSkyRegion, PolygonSkyRegion, RectangleSkyRegion

from gammaprob.maps.axes import MapAxis
from gammaprob.maps.map import Map
from gammaprob.maps.region import RegionGeom
from gammaprob.maps.region_io import region_map_from_hdulist, region_map_to_hdus, regions_from_hdu
from gammaprob.utils.errors import FormatError

PKS2155 = "PKS2155-steady/pks2155-304_steady.fits.gz"
CRAB = SkyCoord(83.63, 22.01, unit="deg")


def _gammapy_maps():
    """Import gammapy inside the test (validation extra)."""
    import gammapy.maps

    return gammapy.maps


@pytest.fixture
def axes():
    energy = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, nbin=4)
    offset = MapAxis.from_edges([0.0, 0.5, 1.0] * u.deg, name="offset")
    return [energy, offset]


REGIONS = [
    CircleSkyRegion(CRAB, 0.11 * u.deg),
    [
        CircleSkyRegion(CRAB, 0.2 * u.deg),
        EllipseSkyRegion(
            SkyCoord(84.5, 22.5, unit="deg"), 0.4 * u.deg, 0.2 * u.deg, angle=25 * u.deg
        ),
        RectangleSkyRegion(
            SkyCoord(82.5, 21.5, unit="deg"), 0.3 * u.deg, 0.6 * u.deg, angle=-10 * u.deg
        ),
        PolygonSkyRegion(SkyCoord([83.0, 83.5, 83.2], [23.0, 23.1, 23.6], unit="deg")),
    ],
    CircleSkyRegion(SkyCoord(184.56, -5.78, unit="deg", frame="galactic"), 1.5 * u.deg),
]


@pytest.mark.parametrize("region", REGIONS, ids=["circle", "four-shapes", "galactic"])
def test_region_table_round_trip(region):
    geom = RegionGeom(region)
    hdu = geom.to_region_hdu()
    assert hdu.name == "REGION"
    assert {"SHAPE", "X", "Y"} <= set(hdu.columns.names)
    assert "CTYPE1" in hdu.header and "CRVAL1" in hdu.header
    back = RegionGeom.from_region_hdu(hdu)
    assert back == geom
    assert back.frame == geom.frame
    for a, b in zip(back.regions, geom.regions, strict=True):
        assert type(a) is type(b)
        if hasattr(a, "center"):
            assert a.center.separation(b.center).deg < 1e-9
    np.testing.assert_allclose(back.solid_angle().value, geom.solid_angle().value, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, bool])
def test_region_map_round_trip_exact(tmp_path, rng, axes, dtype):
    geom = RegionGeom(REGIONS[1], axes=axes)
    m = Map(
        geom,
        data=rng.uniform(0, 5, geom.data_shape).astype(dtype),
        unit="" if dtype is bool else "cm-2 s-1",
    )
    path = tmp_path / "region_map.fits"
    fits.HDUList([fits.PrimaryHDU(), *region_map_to_hdus(m)]).writeto(path)
    with fits.open(path) as hdulist:
        assert [h.name for h in hdulist] == ["PRIMARY", "SKYMAP", "SKYMAP_BANDS", "SKYMAP_REGION"]
        back = region_map_from_hdulist(hdulist, path=path)
    assert back.geom == geom
    assert back.unit == m.unit
    assert back.data.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.data, m.data)


def test_region_map_without_axes(tmp_path):
    geom = RegionGeom.create("galactic;circle(0, 0, 1)")
    m = Map(geom, data=np.array([[7.5]]), unit="sr-1")
    hdus = region_map_to_hdus(m, hdu="ON")
    assert [h.name for h in hdus] == ["ON", "ON_REGION"]
    back = region_map_from_hdulist(fits.HDUList([fits.PrimaryHDU(), *hdus]), hdu="ON")
    assert back.geom == geom and back.data[0, 0] == 7.5 and back.unit == u.Unit("sr-1")


def test_bad_region_tables():
    hdu = RegionGeom.create("icrs;circle(1, 2, 0.5)").to_region_hdu()
    no_wcs = hdu.copy()
    for key in ("CTYPE1", "CTYPE2"):
        del no_wcs.header[key]
    with pytest.raises(FormatError, match="WCS"):
        regions_from_hdu(no_wcs, path="x.fits")
    bad = hdu.copy()
    bad.data["SHAPE"] = "blob"
    with pytest.raises(FormatError, match="REGION table"):
        regions_from_hdu(bad, path="x.fits")
    with pytest.raises(ValueError, match="unions"):
        RegionGeom(
            CircleSkyRegion(CRAB, 1 * u.deg) & CircleSkyRegion(CRAB, 0.5 * u.deg)
        ).to_region_hdu()


@pytest.mark.requires_data
def test_read_ogip_region_table(gammapy_data):
    with fits.open(gammapy_data / PKS2155) as hdulist:
        raw = Table.read(hdulist["REGION"])
        header = hdulist["REGION"].header
        geom = RegionGeom.from_region_hdu(hdulist["REGION"])
    region = geom.region
    assert isinstance(region, CircleSkyRegion)
    assert geom.frame == "icrs"
    # the table holds one circle at the WCS reference point (0-based pixel CRPIX - 1)
    assert raw["X"][0] == pytest.approx(header["CRPIX1"] - 1, abs=1e-9)
    assert region.center.separation(SkyCoord(329.72, -30.22, unit="deg")).deg < 1e-9
    # radius in pixels times the pixel size (regions converts with a finite-difference pixel
    # scale, 1e-6 relative off CDELT; gammapy reads the same 395.9996 arcsec)
    assert region.radius.to_value("deg") == pytest.approx(
        raw["R"][0] * abs(header["CDELT2"]), rel=1e-5
    )
    assert geom.solid_angle()[0, 0].value == pytest.approx(
        2 * np.pi * (1 - np.cos(np.radians(0.11))), rel=1e-5
    )


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_region_io_vs_gammapy(gammapy_data, tmp_path):
    gmaps = _gammapy_maps()
    with fits.open(gammapy_data / PKS2155) as hdulist:
        theirs = gmaps.RegionGeom.from_hdulist(hdulist, format="ogip")
        ours = RegionGeom.from_region_hdu(hdulist["REGION"])
    assert ours.center_skydir.separation(theirs.center_skydir).deg < 1e-9
    assert ours.region.radius.to_value("deg") == pytest.approx(
        theirs.region.radius.to_value("deg"), rel=1e-12
    )
    assert ours.solid_angle()[0, 0].value == pytest.approx(
        theirs.solid_angle().to_value("sr"), rel=1e-4
    )
    # gammapy region map (gadf layout) read here
    axis = gmaps.MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=3)
    gm = gmaps.RegionNDMap.create("icrs;circle(83.63, 22.01, 0.11)", axes=[axis], unit="cm-2")
    gm.data = np.arange(3.0).reshape(gm.data.shape)
    gm.write(tmp_path / "gp.fits")
    with fits.open(tmp_path / "gp.fits") as hdulist:
        mine = region_map_from_hdulist(hdulist, path=tmp_path / "gp.fits")
    np.testing.assert_array_equal(mine.data, gm.data)
    assert mine.unit == u.Unit("cm-2")
    np.testing.assert_allclose(
        mine.geom.axes["energy"].edges.to_value("TeV"), axis.edges.to_value("TeV"), rtol=1e-12
    )
    assert mine.geom.center_skydir.separation(CRAB).deg < 1e-9
    assert mine.geom.region.radius.to_value("deg") == pytest.approx(0.11, rel=1e-9)
    # and ours read by gammapy
    m = Map(
        RegionGeom.create(
            "icrs;circle(83.63, 22.01, 0.11)",
            axes=[MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, nbin=3)],
        ),
        data=np.arange(3.0).reshape(3, 1, 1),
        unit="s",
    )
    fits.HDUList([fits.PrimaryHDU(), *region_map_to_hdus(m)]).writeto(tmp_path / "ours.fits")
    back = gmaps.RegionNDMap.read(tmp_path / "ours.fits", format="gadf")
    np.testing.assert_array_equal(back.data, m.data)
    assert back.unit == u.s
    assert back.geom.region.center.separation(CRAB).deg < 1e-9


def test_region_map_through_map_read_write(tmp_path, axes):
    from gammaprob.maps.io import read_map, write_map

    geom = RegionGeom.create("galactic;circle(184.56, -5.78, 0.3)", axes=axes)
    m = Map(geom, data=np.arange(8.0).reshape(geom.data_shape), unit="TeV-1")
    write_map(m, tmp_path / "m.fits")
    back = read_map(tmp_path / "m.fits")
    assert isinstance(back.geom, RegionGeom)
    assert back.geom == geom and back.unit == m.unit
    np.testing.assert_array_equal(back.data, m.data)
