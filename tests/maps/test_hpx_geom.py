"""HpxGeom: pixel <-> sky against healpy, solid angles, partial sky, derived geometries."""

from __future__ import annotations

import astropy.units as u
import healpy as hp
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion, PolygonSkyRegion, RectangleSkyRegion

from gammaprob.maps.axes import MapAxis
from gammaprob.maps.hpx import HpxGeom
from gammaprob.maps.hpx_utils import (
    check_nside,
    coordsys_to_frame,
    nside_from_pixel_size,
    parse_hpx_region,
    region_pixels,
)


@pytest.fixture
def energy_axis():
    return MapAxis.from_energy_bounds(1 * u.TeV, 100 * u.TeV, nbin=4)


@pytest.mark.parametrize("nest", [True, False])
@pytest.mark.parametrize("frame", ["icrs", "galactic"])
def test_pix_to_coord_matches_healpy(nest, frame):
    geom = HpxGeom(32, nest=nest, frame=frame)
    ipix = np.arange(geom.npix)
    coord = geom.pix_to_coord((ipix,))
    lon, lat = hp.pix2ang(32, ipix, nest=nest, lonlat=True)
    assert coord.frame == frame
    np.testing.assert_array_equal(coord.lon, lon)
    np.testing.assert_array_equal(coord.lat, lat)


@pytest.mark.parametrize("nest", [True, False])
def test_coord_to_pix_matches_healpy(nest, rng):
    geom = HpxGeom(64, nest=nest, frame="galactic")
    lon = rng.uniform(0, 360, 2000)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 2000)))
    (pix,) = geom.coord_to_pix((lon, lat))
    expected = hp.ang2pix(64, lon, lat, nest=nest, lonlat=True)
    np.testing.assert_array_equal(pix, expected)
    # A SkyCoord in another frame is transformed first.
    sky = SkyCoord(lon, lat, unit="deg", frame="galactic").icrs
    np.testing.assert_array_equal(geom.coord_to_pix(sky)[0], expected)


def test_round_trip_pix_coord_pix_exact():
    geom = HpxGeom(128, nest=False, region="DISK(120.0, -30.0, 8.0)")
    idx = np.arange(geom.npix)
    coord = geom.pix_to_coord((idx,))
    np.testing.assert_array_equal(geom.coord_to_pix(coord)[0], idx)


@pytest.mark.parametrize("nside", [1, 2, 64, 512])
def test_full_sky_solid_angle_is_4pi(nside):
    geom = HpxGeom(nside)
    omega = geom.solid_angle()
    assert omega.unit == u.sr
    assert omega.shape == (12 * nside**2,)
    assert abs(omega.sum().value - 4 * np.pi) < 1e-12
    np.testing.assert_allclose(omega.value, hp.nside2pixarea(nside), rtol=1e-14)


@pytest.mark.parametrize("nest", [True, False])
def test_disk_region_matches_query_disc(nest):
    geom = HpxGeom.create(nside=64, nest=nest, frame="galactic", region="DISK(10.0, 20.0, 7.5)")
    vec = hp.ang2vec(10.0, 20.0, lonlat=True)
    expected = np.sort(hp.query_disc(64, vec, np.radians(7.5), nest=nest))
    np.testing.assert_array_equal(geom.pixels, expected)
    assert geom.npix == expected.size == geom.data_shape[-1]
    assert not geom.is_allsky
    # every pixel centre lies within the radius
    assert geom.separation(SkyCoord(10, 20, unit="deg", frame="galactic")).max() <= 7.5 * u.deg


def test_disk_inc_and_hpx_pixel_regions():
    inc = region_pixels(16, True, "DISK_INC(0, 0, 5, 4)")
    expected = np.sort(
        hp.query_disc(
            16, hp.ang2vec(0, 0, lonlat=True), np.radians(5), inclusive=True, nest=True, fact=4
        )
    )
    np.testing.assert_array_equal(inc, expected)
    # the 16 nside-16 pixels inside nside-4 NESTED pixel 7
    sub = region_pixels(16, True, "HPX_PIXEL(NESTED, 4, 7)")
    np.testing.assert_array_equal(sub, np.arange(7 * 16, 8 * 16))
    assert np.all(hp.ring2nest(4, hp.ang2pix(4, *hp.pix2ang(16, sub, nest=True), nest=False)) == 7)
    ring = region_pixels(16, False, f"HPX_PIXEL(RING, 4, {hp.nest2ring(4, 7)})")
    np.testing.assert_array_equal(np.sort(hp.ring2nest(16, ring)), sub)


def test_create_with_skydir_and_width():
    geom = HpxGeom.create(
        binsz=0.5, skydir=SkyCoord(83.6, 22.0, unit="deg"), width=4 * u.deg, frame="icrs"
    )
    assert geom.nside == nside_from_pixel_size(0.5) == 128
    assert geom.region == "DISK(83.6,22.0,2.0)"
    assert geom.center_skydir.separation(SkyCoord(83.6, 22.0, unit="deg")).deg < 1e-12


def test_sky_region_partial_sky():
    center = SkyCoord(83.6, 22.0, unit="deg")
    circle = HpxGeom(256, region=CircleSkyRegion(center, 2 * u.deg), frame="galactic")
    gal = center.galactic
    expected = np.sort(
        hp.query_disc(
            256, hp.ang2vec(gal.l.deg, gal.b.deg, lonlat=True), np.radians(2.0), nest=True
        )
    )
    np.testing.assert_array_equal(circle.pixels, expected)
    assert circle.region.startswith("DISK(")

    rect = RectangleSkyRegion(center, 3 * u.deg, 2 * u.deg)
    geom = HpxGeom(256, region=rect)
    lon, lat = hp.pix2ang(256, geom.pixels, nest=True, lonlat=True)
    wcs = geom.to_wcs_geom(proj="TAN").wcs
    assert np.all(rect.contains(SkyCoord(lon, lat, unit="deg"), wcs))
    # solid angle of the selection close to the rectangle area (pixelisation error)
    area = (3 * u.deg * 2 * u.deg).to_value(u.sr)
    assert geom.solid_angle().sum().value == pytest.approx(area, rel=0.05)
    # neighbours of the selection that are not selected lie outside
    all_lon, all_lat = hp.pix2ang(256, np.arange(hp.nside2npix(256)), nest=True, lonlat=True)
    near = SkyCoord(all_lon, all_lat, unit="deg").separation(center).deg < 3
    inside = rect.contains(SkyCoord(all_lon[near], all_lat[near], unit="deg"), wcs)
    np.testing.assert_array_equal(np.flatnonzero(near)[inside], geom.pixels)


def test_polygon_partial_sky():
    poly = PolygonSkyRegion(SkyCoord([10, 14, 12], [0, 0, 4], unit="deg", frame="galactic"))
    geom = HpxGeom(128, frame="galactic", region=poly)
    assert geom.npix > 0 and geom.region is None
    assert np.all(poly.contains(geom.get_skycoord(), geom.to_wcs_geom(proj="TAN").wcs))


def test_explicit_pixels_and_local_global():
    geom = HpxGeom(8, nest=True, pixels=[700, 3, 3, 41])
    np.testing.assert_array_equal(geom.pixels, [3, 41, 700])
    np.testing.assert_array_equal(geom.global_to_local([41, 5, 700, -1, 768]), [1, -1, 2, -1, -1])
    np.testing.assert_array_equal(geom.local_to_global([0, 2, 3, -1]), [3, 700, -1, -1])
    coord = geom.pix_to_coord((np.array([0.0, 2.0, 5.0]),))
    assert np.isnan(coord.lon[2])
    lon, lat = hp.pix2ang(8, 700, nest=True, lonlat=True)
    assert (coord.lon[1], coord.lat[1]) == (lon, lat)
    # positions outside the pixel set map to -1
    (pix,) = geom.coord_to_pix((lon + np.array([0.0, 90.0]), lat))
    np.testing.assert_array_equal(pix, [2, -1])


def test_axes_data_shape_get_coord_and_contains(energy_axis):
    geom = HpxGeom(16, nest=False, frame="galactic", axes=[energy_axis])
    assert geom.data_shape == (4, 3072)
    coord = geom.get_coord()
    assert coord.lon.shape == (4, 3072)
    np.testing.assert_allclose(
        coord["energy"][:, 0].to_value("TeV"), energy_axis.center.to_value("TeV")
    )
    idx = geom.coord_to_idx((coord.lon, coord.lat, coord["energy"]))
    np.testing.assert_array_equal(idx[0], np.broadcast_to(np.arange(3072), (4, 3072)))
    np.testing.assert_array_equal(idx[1], np.broadcast_to(np.arange(4)[:, None], (4, 3072)))
    sky = SkyCoord([0, 90], [0, 89], unit="deg", frame="galactic")
    np.testing.assert_array_equal(geom.contains(sky), [True, True])
    assert not geom.contains((0.0, 0.0, 1000 * u.TeV))
    partial = HpxGeom(16, region="DISK(0,0,10)", frame="galactic")
    np.testing.assert_array_equal(partial.contains(sky), [True, False])


def test_to_image_to_cube_and_nside(energy_axis):
    geom = HpxGeom(32, region="DISK(30, 40, 6)", axes=[energy_axis])
    image = geom.to_image()
    assert image.data_shape == (geom.npix,)
    assert image.to_cube([energy_axis]) == geom
    assert geom.to_nside(64) == HpxGeom(64, region="DISK(30, 40, 6)", axes=[energy_axis])
    explicit = HpxGeom(8, nest=False, pixels=[0, 100])
    finer = explicit.to_nside(16)
    assert finer.npix == 8
    coarse = finer.to_nside(8)
    np.testing.assert_array_equal(coarse.pixels, [0, 100])


def test_to_wcs_geom(energy_axis):
    allsky = HpxGeom(64, axes=[energy_axis], frame="galactic")
    wcs = allsky.to_wcs_geom(proj="CAR", oversample=2)
    assert wcs.projection == "CAR" and wcs.frame == "galactic"
    assert wcs.axes == allsky.axes
    binsz = np.degrees(np.sqrt(hp.nside2pixarea(64))) / 2
    np.testing.assert_allclose(wcs.pixel_scales.to_value("deg"), binsz, rtol=1e-12)
    assert wcs.npix == (round(360 / binsz), round(180 / binsz))
    partial = HpxGeom(64, region="DISK(100, 30, 5)")
    wcs = partial.to_wcs_geom(proj="TAN", oversample=4)
    # every HEALPix pixel centre falls inside the WCS image
    x, y = wcs.coord_to_pix(partial.get_skycoord())
    nx, ny = wcs.npix
    assert np.all((x > -0.5) & (x < nx - 0.5) & (y > -0.5) & (y < ny - 0.5))


def test_header_keywords():
    header = HpxGeom(64, nest=False, frame="galactic", region="DISK(1,2,3)").to_header()
    assert header["PIXTYPE"] == "HEALPIX"
    assert header["ORDERING"] == "RING"
    assert header["NSIDE"] == 64 and header["ORDER"] == 6
    assert header["COORDSYS"] == "GAL"
    assert header["INDXSCHM"] == "EXPLICIT"
    assert header["HPX_REG"] == "DISK(1,2,3)"
    assert header["LASTPIX"] == 12 * 64**2 - 1
    full = HpxGeom(4).to_header()
    assert full["INDXSCHM"] == "IMPLICIT" and full["COORDSYS"] == "CEL" and "HPX_REG" not in full
    assert HpxGeom.from_header(full) == HpxGeom(4)


def test_repr_and_equality():
    geom = HpxGeom(16, region="DISK(0,0,10)", frame="galactic")
    text = repr(geom)
    assert (
        "nside=16" in text
        and "NESTED" in text
        and "DISK(0,0,10)" in text
        and f"npix={geom.npix}" in text
    )
    assert geom == HpxGeom(16, region="DISK(0,0,10)", frame="galactic")
    assert geom != HpxGeom(16, region="DISK(0,0,10)", frame="icrs")
    assert geom != HpxGeom(16, nest=False, region="DISK(0,0,10)", frame="galactic")
    assert geom != HpxGeom(16, frame="galactic")


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"nside": 3}, ValueError, "power of 2"),
        ({"nside": 0}, ValueError, "power of 2"),
        ({"nside": 2**30}, ValueError, "power of 2"),
        ({"nside": 4.0}, TypeError, "integer"),
        ({"nside": 4, "frame": "fk4"}, ValueError, "frame"),
        ({"nside": 4, "nest": "RING"}, TypeError, "nest"),
        ({"nside": 4, "region": "BOX(1,2,3)"}, ValueError, "unknown HEALPix region type"),
        ({"nside": 4, "region": "DISK(1,2)"}, ValueError, "3 arguments"),
        ({"nside": 4, "region": "DISK(1,2,abc)"}, ValueError, "malformed"),
        ({"nside": 4, "region": "DISK(1,95,3)"}, ValueError, "lat"),
        ({"nside": 4, "region": "disk 1 2 3"}, ValueError, "malformed"),
        ({"nside": 4, "region": "HPX_PIXEL(BOTH,2,1)"}, ValueError, "ordering"),
        ({"nside": 4, "region": "HPX_PIXEL(NESTED,8,1)"}, ValueError, "finer"),
        ({"nside": 4, "pixels": [0, 192]}, ValueError, r"\[0, 192\)"),
        ({"nside": 4, "pixels": [0.5]}, TypeError, "integer"),
        ({"nside": 4, "pixels": [1], "region": "DISK(0,0,1)"}, ValueError, "not both"),
        ({"nside": 4, "region": "DISK(0,0,0.001)"}, ValueError, "no pixel"),
    ],
)
def test_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        HpxGeom(**kwargs)


def test_helpers_bad_input():
    with pytest.raises(ValueError, match="COORDSYS"):
        coordsys_to_frame("ECLIPTIC")
    assert coordsys_to_frame("G") == "galactic" and coordsys_to_frame("CEL") == "icrs"
    with pytest.raises(ValueError, match="binsz"):
        nside_from_pixel_size(-1)
    with pytest.raises(ValueError, match="does not exist"):
        parse_hpx_region("HPX_PIXEL(NESTED,2,48)")
    assert check_nside(np.int64(8)) == 8
    with pytest.raises(ValueError, match="nside or binsz"):
        HpxGeom.create()


@pytest.mark.requires_gammapy
def test_geometry_vs_gammapy():
    gmaps = _gammapy_maps()
    for nest in (True, False):
        theirs = gmaps.HpxGeom.create(
            nside=64, nest=nest, frame="galactic", region="DISK(10,20,7.5)"
        )
        ours = HpxGeom(64, nest=nest, frame="galactic", region="DISK(10,20,7.5)")
        np.testing.assert_array_equal(theirs._ipix, ours.pixels)
        sky = theirs.get_coord().skycoord
        coord = ours.get_coord()
        np.testing.assert_array_equal(coord.lon, sky.l.deg)
        np.testing.assert_array_equal(coord.lat, sky.b.deg)
        # gammapy returns one value for all pixels
        theirs_omega = theirs.solid_angle().to_value("sr")
        assert theirs_omega.shape == (1,)
        np.testing.assert_allclose(ours.solid_angle().value, theirs_omega[0], rtol=1e-14)
        assert ours.to_header()["HPX_REG"] == theirs.to_header()["HPX_REG"]


def _gammapy_maps():
    """Import gammapy inside the test (validation extra)."""
    import gammapy.maps

    return gammapy.maps
