import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from regions import CircleSkyRegion, PixCoord, RectanglePixelRegion

from gammaprob.maps import MapAxis, WcsGeom

CRAB = SkyCoord(83.633, 22.014, unit="deg")


def cube_geom(proj="TAN", frame="icrs"):
    energy = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, 2)
    return WcsGeom.create(
        skydir=CRAB, width=(3, 2), binsz=0.1, frame=frame, proj=proj, axes=[energy]
    )


def test_create_basic_properties():
    geom = cube_geom()
    assert geom.npix == (30, 20)
    assert geom.data_shape == (2, 20, 30)
    assert geom.spatial_shape == (20, 30)
    assert geom.projection == "TAN" and geom.frame == "icrs"
    assert_allclose(geom.pixel_scales.to_value("deg"), [0.1, 0.1])
    assert_allclose(geom.width.to_value("deg"), [3, 2])
    assert geom.center_skydir.separation(CRAB).deg < 1e-10
    assert "TAN" in repr(geom) and "energy[2]" in repr(geom)
    assert geom.to_image().data_shape == (20, 30)
    assert geom.to_image().to_cube(geom.axes) == geom


def test_galactic_skycoord_is_transformed():
    geom = WcsGeom.create(skydir=CRAB, width=2, binsz=0.5, frame="galactic")
    gal = CRAB.galactic
    assert_allclose(geom.wcs.wcs.crval, [gal.l.deg, gal.b.deg], rtol=1e-12)
    assert geom.wcs.wcs.ctype[0] == "GLON-CAR"


@pytest.mark.parametrize("proj", ["CAR", "TAN", "AIT", "SIN"])
def test_pix_to_sky_matches_astropy(proj, rng):
    geom = cube_geom(proj=proj, frame="galactic")
    wcs = WCS(geom.to_header())
    x = rng.uniform(-0.5, 29.5, 200)
    y = rng.uniform(-0.5, 19.5, 200)
    coord = geom.pix_to_coord((x, y, np.zeros(200)))
    sky = wcs.pixel_to_world(x, y)
    assert_allclose(coord.lon, sky.l.deg, rtol=0, atol=1e-10)
    assert_allclose(coord.lat, sky.b.deg, rtol=0, atol=1e-10)
    pix = geom.coord_to_pix({"skycoord": sky, "energy": np.full(200, 2.0) * u.TeV})
    assert_allclose(pix[0], x, atol=1e-8)
    assert_allclose(pix[1], y, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0, 359.9),
    st.floats(-80, 80),
    st.sampled_from(["CAR", "TAN", "ARC", "ZEA"]),
    st.floats(-2, 2),
    st.floats(-2, 2),
)
def test_sky_pix_round_trip(lon, lat, proj, dx, dy):
    geom = WcsGeom.create(skydir=(lon, lat), width=5, binsz=0.1, proj=proj)
    x0, y0 = geom.center_pix
    coord = geom.pix_to_coord((np.array([x0 + 10 * dx]), np.array([y0 + 10 * dy])))
    x, y = geom.coord_to_pix(coord)
    assert_allclose([x[0], y[0]], [x0 + 10 * dx, y0 + 10 * dy], atol=1e-7)


def test_coord_to_idx_and_contains():
    geom = cube_geom()
    coords = {
        "skycoord": SkyCoord([83.633, 83.633, 100.0], [22.014, 22.014, 22.014], unit="deg"),
        "energy": [2, 20, 2] * u.TeV,
    }
    idx = geom.coord_to_idx(coords)
    assert_array_equal(idx[0], [15, -1, -1])
    assert_array_equal(idx[2], [0, -1, -1])
    assert_array_equal(geom.contains(coords), [True, False, False])
    clipped = geom.coord_to_idx(coords, clip=True)
    assert_array_equal(clipped[2], [0, 1, 0])


def test_get_coord_shapes():
    geom = cube_geom()
    coord = geom.get_coord()
    assert coord.lon.shape == geom.data_shape
    assert_allclose(coord["energy"][:, 0, 0].value, geom.axes["energy"].center.value)
    idx = geom.get_idx()
    assert idx[0].shape == geom.data_shape
    assert_array_equal(idx[0][0, 0], np.arange(30))
    assert_array_equal(idx[2][:, 0, 0], [0, 1])


def cap_area(radius_deg):
    return 2 * np.pi * (1 - np.cos(np.deg2rad(radius_deg)))


def test_solid_angle_full_sky_and_caps():
    allsky = WcsGeom.create(binsz=1.0, frame="galactic")
    assert_allclose(allsky.solid_angle().sum().to_value("sr"), 4 * np.pi, rtol=1e-12)
    # a CAR polar band: the pixels above latitude 80 deg form the cap of radius 10 deg
    band = WcsGeom.create(npix=(1440, 40), binsz=0.25, proj="CAR", refpix=(720.5, -319.5))
    assert_allclose(band.get_coord().lat.min(), 80.125)
    assert_allclose(band.solid_angle().sum().to_value("sr"), cap_area(10), rtol=1e-5)
    # a row of pixels between two latitudes has area dlon * (sin b2 - sin b1)
    row = band.solid_angle()[0].to_value("sr")
    exact = np.deg2rad(0.25) * (np.sin(np.deg2rad(80.25)) - np.sin(np.deg2rad(80.0)))
    assert_allclose(row, exact, rtol=1e-5)


@pytest.mark.parametrize("proj", ["TAN", "ARC", "ZEA", "SIN"])
def test_solid_angle_vs_cap_in_zenithal_projections(proj):
    # pixels within r of the tangent point tile the cap up to the pixelated border
    geom = WcsGeom.create(skydir=(30, 60), width=6, binsz=0.02, proj=proj)
    omega = geom.solid_angle().to_value("sr")
    sep = geom.separation(SkyCoord(30, 60, unit="deg")).deg
    inside = omega[sep < 2.5].sum()
    border = 2 * np.pi * np.sin(np.deg2rad(2.5)) * np.deg2rad(0.02)  # one-pixel annulus
    assert abs(inside - cap_area(2.5)) < 0.05 * border
    # the sum of all pixels equals the area of the whole image footprint computed finely
    fine = geom.upsample(2).solid_angle().to_value("sr")
    assert_allclose(fine.sum(), omega.sum(), rtol=1e-7)


@pytest.mark.parametrize("skydir", [(0, 0), (83.6, 22.0), (200, -75)])
def test_solid_angle_tan_image_equals_outer_quadrilateral(skydir):
    # gnomonic (TAN) projection maps great circles to straight lines, so the whole image is
    # the spherical quadrilateral of its four outer corners: an exact, independent total
    from gammaprob.maps.solid_angle import lonlat_to_unit_vector, triangle_solid_angle

    geom = WcsGeom.create(skydir=skydir, width=(8, 5), binsz=0.05, proj="TAN")
    nx, ny = geom.npix
    corners = geom.pix_to_coord(
        (np.array([-0.5, nx - 0.5, nx - 0.5, -0.5]), np.array([-0.5, -0.5, ny - 0.5, ny - 0.5]))
    )
    a, b, c, d = lonlat_to_unit_vector(corners.lon, corners.lat)
    total = triangle_solid_angle(a, b, c) + triangle_solid_angle(a, c, d)
    assert_allclose(geom.solid_angle().sum().to_value("sr"), total, rtol=1e-11)


def test_solid_angle_small_pixel_at_reference_point():
    # CAR centred away from the equator is oblique: near the reference point a pixel is a
    # binsz x binsz square on the sky
    geom = WcsGeom.create(skydir=CRAB, width=4, binsz=0.05, proj="CAR")
    omega = geom.solid_angle().to_value("sr")
    assert omega.shape == (80, 80)
    assert_allclose(omega[40, 40], np.deg2rad(0.05) ** 2, rtol=1e-5)


def test_up_and_downsample_keep_footprint():
    geom = cube_geom()
    up = geom.upsample(2)
    assert up.npix == (60, 40)
    assert up.center_skydir.separation(geom.center_skydir).deg < 1e-10
    corner = geom.pix_to_coord((np.array([-0.5]), np.array([-0.5]), np.array([0.0])))
    corner_up = up.pix_to_coord((np.array([-0.5]), np.array([-0.5]), np.array([0.0])))
    assert_allclose(corner.lon, corner_up.lon, atol=1e-10)
    assert_allclose(corner.lat, corner_up.lat, atol=1e-10)
    assert up.downsample(2) == geom
    with pytest.raises(ValueError, match="divisible"):
        geom.downsample(4)
    assert geom.upsample(2, axis_name="energy").axes["energy"].nbin == 4


def test_cutout_is_aligned():
    geom = cube_geom()
    cut = geom.cutout(CRAB, width=1.0)
    assert cut.npix == (10, 10)
    # pixel centres of the cutout coincide with pixel centres of the parent
    coord = cut.get_coord()
    pix = geom.coord_to_pix(coord)
    assert_allclose(pix[0] - np.round(pix[0]), 0, atol=1e-8)
    assert_allclose(pix[1] - np.round(pix[1]), 0, atol=1e-8)
    trimmed = geom.cutout(SkyCoord(85.0, 22.014, unit="deg"), width=2.0)
    assert trimmed.npix[0] < 20


def test_region_mask():
    geom = WcsGeom.create(skydir=CRAB, width=2, binsz=0.02, proj="TAN")
    region = CircleSkyRegion(CRAB, 0.3 * u.deg)
    mask = geom.region_mask(region)
    sep = geom.separation(CRAB).deg
    # pixel centres well inside/outside agree with the separation
    assert mask[sep < 0.29].all()
    assert not mask[sep > 0.31].any()
    omega = geom.solid_angle().to_value("sr")
    assert_allclose(omega[mask].sum(), cap_area(0.3), rtol=2e-2)
    assert_array_equal(geom.region_mask([region], inside=False), ~mask)
    box = RectanglePixelRegion(PixCoord(10, 10), width=5, height=3)
    assert geom.region_mask(box).sum() == 15
    ds9 = "icrs; circle(83.633, 22.014, 0.3)"
    assert_array_equal(geom.region_mask(ds9), mask)


def test_from_header_round_trip():
    geom = cube_geom(proj="AIT", frame="galactic")
    header = geom.to_header()
    header["NAXIS1"], header["NAXIS2"] = geom.npix
    back = WcsGeom.from_header(header, axes=geom.axes)
    assert back == geom


def test_invalid_inputs():
    with pytest.raises(ValueError, match="frame"):
        WcsGeom.create(width=1, frame="fk4")
    with pytest.raises(ValueError, match="binsz"):
        WcsGeom.create(width=1, binsz=-0.1)
    with pytest.raises(ValueError, match="pixels"):
        WcsGeom.create(width=0.01, binsz=0.1)
