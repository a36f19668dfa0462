"""HEALPix tables: header keywords, IMPLICIT/EXPLICIT/SPARSE round trips, the Fermi exposure cube."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from gammaprob.maps.axes import MapAxis
from gammaprob.maps.hpx import HpxGeom
from gammaprob.maps.hpx_io import hpx_map_from_hdu, hpx_map_to_hdus
from gammaprob.maps.io import read_map, write_map
from gammaprob.maps.map import Map
from gammaprob.utils.errors import FormatError

FERMI_HPX = "fermi_3fhl/fermi_3fhl_exposure_cube_hpx.fits.gz"


def _gammapy_maps():
    """Import gammapy inside the test (validation extra)."""
    import gammapy.maps

    return gammapy.maps


@pytest.fixture
def axes():
    energy = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, nbin=3)
    offset = MapAxis.from_edges([0.0, 1.0, 2.5] * u.deg, name="offset")
    return [energy, offset]


def _random_map(geom, rng, dtype=np.float32, unit="cm-2 s-1"):
    return Map(geom, data=rng.uniform(0, 10, geom.data_shape).astype(dtype), unit=unit)


@pytest.mark.parametrize(
    "geom_kwargs",
    [
        {"nside": 8, "nest": False},
        {"nside": 16, "nest": True, "frame": "galactic", "region": "DISK(30.5, -12.25, 15)"},
        {"nside": 16, "nest": False, "pixels": [5, 77, 3000, 1]},
    ],
)
@pytest.mark.parametrize("sparse", [False, True])
def test_round_trip_exact(tmp_path, rng, axes, geom_kwargs, sparse):
    geom = HpxGeom(**geom_kwargs, axes=axes)
    m = _random_map(geom, rng)
    m.data[..., 0] = 0.0  # zeros are dropped by SPARSE and must come back
    if sparse and "pixels" in geom_kwargs:
        with pytest.raises(ValueError, match="explicit pixel list"):
            hpx_map_to_hdus(m, "SKYMAP", sparse=sparse)
        return
    hdus = hpx_map_to_hdus(m, "SKYMAP", sparse=sparse)
    path = tmp_path / "hpx.fits"
    fits.HDUList([fits.PrimaryHDU(), *hdus]).writeto(path)
    back = read_map(path)
    assert back.geom == geom
    assert back.unit == m.unit
    assert back.data.dtype == np.float32
    np.testing.assert_array_equal(back.data, m.data)
    header = fits.getheader(path, "SKYMAP")
    assert header["INDXSCHM"] == ("SPARSE" if sparse else geom.indxschm)


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.int64, bool])
def test_round_trip_dtypes_via_map_write(tmp_path, rng, dtype):
    geom = HpxGeom(4, nest=True, region="DISK(0,0,60)")
    m = Map(geom, data=(rng.uniform(0, 3, geom.data_shape)).astype(dtype), unit="")
    path = tmp_path / "m.fits"
    write_map(m, path)
    back = read_map(path)
    assert back.data.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.data, m.data)
    assert back.geom == geom
    with fits.open(path) as hdulist:
        assert [h.name for h in hdulist] == ["PRIMARY", "SKYMAP"]
        np.testing.assert_array_equal(hdulist["SKYMAP"].data["PIX"], geom.pixels)


def test_explicit_table_rows_in_any_order(rng):
    geom = HpxGeom(8, nest=True, pixels=[10, 20, 30])
    header = geom.to_header()
    header["BUNIT"] = "s"
    cols = [
        fits.Column("PIX", "J", array=[30, 10, 20]),
        fits.Column("CHANNEL1", "D", array=[3.0, 1.0, 2.0]),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, header=header, name="SKYMAP")
    m = hpx_map_from_hdu(hdu, None, u.s)
    np.testing.assert_array_equal(m.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(m.geom.pixels, [10, 20, 30])


def test_healpy_vector_row_layout(tmp_path, rng):
    values = rng.normal(size=hp_npix(16)).astype(np.float64)
    header = fits.Header(
        {"PIXTYPE": "HEALPIX", "ORDERING": "RING", "NSIDE": 16, "COORDSYS": "G", "BUNIT": "K"}
    )
    col = fits.Column("TEMPERATURE", "1024D", array=values.reshape(-1, 1024))
    hdu = fits.BinTableHDU.from_columns([col], header=header)
    m = hpx_map_from_hdu(hdu, None, u.K)
    assert m.geom == HpxGeom(16, nest=False, frame="galactic")
    np.testing.assert_array_equal(m.data, values)


def hp_npix(nside):
    return 12 * nside**2


def _table(header_updates, remove=(), ncols=1, nrows=48):
    header = HpxGeom(2).to_header()
    for key in remove:
        del header[key]
    header.update(header_updates)
    cols = [fits.Column(f"CHANNEL{i + 1}", "D", array=np.zeros(nrows)) for i in range(ncols)]
    return fits.BinTableHDU.from_columns(cols, header=header, name="SKYMAP")


@pytest.mark.parametrize(
    ("updates", "remove", "match"),
    [
        ({"PIXTYPE": "WCS"}, (), "PIXTYPE"),
        ({"ORDERING": "ZIGZAG"}, (), "ORDERING"),
        ({"COORDSYS": "ECL"}, (), "COORDSYS"),
        ({}, ("COORDSYS",), "COORDSYS"),
        ({"NSIDE": 3, "ORDER": -1}, (), "NSIDE"),
        ({"NSIDE": 4}, (), "disagree"),
        ({}, ("NSIDE", "ORDER"), "NSIDE"),
        ({"INDXSCHM": "LOCAL"}, (), "INDXSCHM"),
        ({"INDXSCHM": "EXPLICIT"}, (), "PIX"),
        ({"HPX_REG": "CIRCLE(1,2,3)"}, (), "region"),
    ],
)
def test_bad_headers(updates, remove, match):
    with pytest.raises(FormatError, match=match) as info:
        hpx_map_from_hdu(_table(updates, remove), None, u.one, path="bad.fits")
    assert "bad.fits" in str(info.value) and "SKYMAP" in str(info.value)


def test_bad_tables():
    with pytest.raises(FormatError, match="rows"):
        hpx_map_from_hdu(_table({}, nrows=10), None, u.one)
    with pytest.raises(FormatError, match="data columns"):
        hpx_map_from_hdu(_table({}, ncols=2), None, u.one)
    geom = HpxGeom(2, pixels=[1, 2])
    header = geom.to_header()
    header["HPX_REG"] = "DISK(0,0,1)"  # a region that does not contain the PIX values
    cols = [fits.Column("PIX", "J", array=[1, 2]), fits.Column("CHANNEL1", "D", array=[1.0, 2.0])]
    hdu = fits.BinTableHDU.from_columns(cols, header=header, name="SKYMAP")
    with pytest.raises(FormatError, match=r"HEALPix geometry|PIX"):
        hpx_map_from_hdu(hdu, None, u.one)


@pytest.mark.requires_data
def test_fermi_exposure_cube(gammapy_data, tmp_path):
    path = gammapy_data / FERMI_HPX
    m = read_map(path, unit="cm2 s")
    geom = m.geom
    assert isinstance(geom, HpxGeom)
    assert (geom.nside, geom.nest, geom.frame, geom.is_allsky) == (64, False, "icrs", True)
    assert m.data.shape == (18, 49152)
    assert m.unit == u.Unit("cm2 s")
    axis = geom.axes["energy_true"]
    with fits.open(path) as hdulist:
        raw = hdulist["HPXEXPOSURES"].data
        energies = np.asarray(hdulist["ENERGIES"].data["Energy"], dtype=float)
        for i in range(18):
            np.testing.assert_array_equal(m.data[i], raw[f"ENERGY{i + 1}"])
    np.testing.assert_allclose(axis.center.to_value("MeV"), energies, rtol=1e-12)
    assert m.data[5, 1000] == 436262993920.0  # row 1000 of ENERGY6, read with astropy
    assert m.data[17, 49151] == 203602558976.0
    # full-sky solid angle of the file's pixels and an exact round trip of the whole cube
    assert abs(geom.solid_angle().sum().value - 4 * np.pi) < 1e-12
    out = tmp_path / "exposure.fits"
    m.write(out)
    back = read_map(out)
    assert back.geom == geom and back.unit == m.unit
    np.testing.assert_array_equal(back.data, m.data)


@pytest.mark.requires_data
def test_fermi_exposure_cube_without_bunit_is_dimensionless(gammapy_data):
    m = read_map(gammapy_data / FERMI_HPX)
    assert m.unit == u.one
    assert m.data[5, 1000] == 436262993920.0
    assert read_map(gammapy_data / FERMI_HPX, unit="cm2 s").unit == u.Unit("cm2 s")


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_fermi_exposure_cube_vs_gammapy(gammapy_data, tmp_path):
    gmaps = _gammapy_maps()
    path = gammapy_data / FERMI_HPX
    ours = read_map(path, unit="cm2 s")
    theirs = gmaps.Map.read(path)
    assert theirs.geom.nside[0] == ours.geom.nside
    assert theirs.unit == ours.unit
    np.testing.assert_array_equal(theirs.data, ours.data)
    np.testing.assert_allclose(
        theirs.geom.axes[0].center.to_value("MeV"),
        ours.geom.axes[0].center.to_value("MeV"),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        theirs.geom.axes[0].edges.to_value("MeV"),
        ours.geom.axes[0].edges.to_value("MeV"),
        rtol=1e-9,
    )
    # pixel centres
    sky = theirs.geom.get_coord().skycoord[0]
    coord = ours.geom.get_coord()
    np.testing.assert_array_equal(coord.lon[0], sky.ra.deg)
    np.testing.assert_array_equal(coord.lat[0], sky.dec.deg)
    # a partial-sky map written by gammapy reads back here
    geom = gmaps.HpxGeom.create(nside=32, nest=True, frame="galactic", region="DISK(10,20,8)")
    gm = gmaps.Map.from_geom(geom, unit="cm-2")
    gm.data = np.arange(gm.data.size, dtype=np.float32)
    gm.write(tmp_path / "gp.fits")
    mine = read_map(tmp_path / "gp.fits")
    np.testing.assert_array_equal(mine.geom.pixels, geom._ipix)
    np.testing.assert_array_equal(mine.data, gm.data)
    assert mine.unit == u.Unit("cm-2") and mine.geom.region == "DISK(10,20,8)"
    # and ours reads back in gammapy
    ours_partial = Map(
        HpxGeom(32, nest=False, frame="galactic", region="DISK(10,20,8)"),
        data=np.arange(mine.data.size, dtype=np.float32),
        unit="s",
    )
    write_map(ours_partial, tmp_path / "ours.fits")
    back = gmaps.Map.read(tmp_path / "ours.fits")
    np.testing.assert_array_equal(back.geom._ipix, ours_partial.geom.pixels)
    np.testing.assert_array_equal(back.data, ours_partial.data)
