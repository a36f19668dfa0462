"""RegionGeom and region helpers: parsing, contains, solid angles, WCS geometry and masks."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from regions import (
    CircleAnnulusSkyRegion,
    CircleSkyRegion,
    EllipseSkyRegion,
    PolygonSkyRegion,
    RectangleSkyRegion,
)

from gammaprob.maps.axes import MapAxis
from gammaprob.maps.region import RegionGeom
from gammaprob.maps.region_utils import (
    cap_solid_angle,
    parse_regions,
    region_solid_angle,
    tan_pixel_solid_angles,
)
from gammaprob.maps.solid_angle import lonlat_to_unit_vector, triangle_solid_angle

CRAB = SkyCoord(83.63, 22.01, unit="deg")


@pytest.fixture
def energy_axis():
    return MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, nbin=5)


def test_create_from_string(energy_axis):
    geom = RegionGeom.create("icrs;circle(83.63, 22.01, 0.11)", axes=[energy_axis])
    assert isinstance(geom.region, CircleSkyRegion)
    assert geom.data_shape == (5, 1, 1)
    assert geom.frame == "icrs"
    assert geom.center_skydir.separation(CRAB).deg < 1e-12
    assert geom.width.to_value("deg") == pytest.approx(0.22, rel=1e-12)
    coord = geom.get_coord()
    assert coord.lon.shape == (5, 1, 1)
    np.testing.assert_allclose(coord.lon, 83.63, rtol=1e-12)
    np.testing.assert_allclose(
        coord["energy"][:, 0, 0].to_value("TeV"), energy_axis.center.to_value("TeV")
    )
    assert "Circle" in repr(geom) and "data_shape=(5, 1, 1)" in repr(geom)


@pytest.mark.parametrize("radius", [0.01, 0.11, 1.0, 10.0, 60.0])
def test_circle_solid_angle_is_spherical_cap(radius):
    geom = RegionGeom(CircleSkyRegion(CRAB, radius * u.deg))
    expected = 2 * np.pi * (1 - np.cos(np.radians(radius)))
    omega = geom.solid_angle()
    assert omega.shape == (1, 1) and omega.unit == u.sr
    assert omega[0, 0].value == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("radius", [0.1, 0.5, 2.0])
def test_circular_ellipse_solid_angle_vs_cap(radius):
    # an ellipse with equal axes is integrated on the TAN grid; documented accuracy ~ (2/3) r^2
    ellipse = EllipseSkyRegion(CRAB, 2 * radius * u.deg, 2 * radius * u.deg)
    omega = RegionGeom(ellipse).solid_angle()[0, 0].value
    expected = cap_solid_angle(radius)
    rel = omega / expected - 1
    assert abs(rel) < np.radians(radius) ** 2
    assert abs(rel) > 0 or radius < 0.2


def test_polygon_solid_angle_vs_spherical_triangle():
    lon, lat = np.array([83.0, 86.0, 84.0]), np.array([21.0, 21.0, 25.0])
    poly = PolygonSkyRegion(SkyCoord(lon, lat, unit="deg"))
    vec = lonlat_to_unit_vector(lon, lat)
    expected = triangle_solid_angle(vec[0], vec[1], vec[2])
    assert RegionGeom(poly).solid_angle()[0, 0].value == pytest.approx(expected, rel=1e-12)
    # a concave L-shaped polygon in either orientation = two convex quadrilaterals sharing
    # the great-circle diagonal (0, 0)-(1, 1)
    lon, lat = [0, 2, 2, 1, 1, 0], [0, 0, 1, 1, 2, 2]

    def quad(lons, lats):
        v = lonlat_to_unit_vector(np.array(lons, float), np.array(lats, float))
        return triangle_solid_angle(v[0], v[1], v[2]) + triangle_solid_angle(v[0], v[2], v[3])

    expected = quad([0, 2, 2, 1], [0, 0, 1, 1]) + quad([0, 1, 1, 0], [0, 1, 2, 2])
    for order in (1, -1):
        shape = PolygonSkyRegion(SkyCoord(lon[::order], lat[::order], unit="deg"))
        assert RegionGeom(shape).solid_angle()[0, 0].value == pytest.approx(expected, rel=1e-12)


def test_rectangle_solid_angle_small():
    rect = RectangleSkyRegion(CRAB, 0.4 * u.deg, 0.2 * u.deg, angle=30 * u.deg)
    geom = RegionGeom(rect)
    omega = geom.solid_angle()[0, 0].value
    # flat area to (size in rad)^2
    assert omega == pytest.approx(np.radians(0.4) * np.radians(0.2), rel=2e-5)
    # the fraction-weighted mask on a fine TAN grid agrees
    wcs_geom = geom.to_wcs_geom(binsz=0.002)
    weights = rect.to_pixel(wcs_geom.wcs).to_mask(mode="subpixels", subpixels=10)
    image = weights.to_image(wcs_geom.spatial_shape)
    assert np.sum(image * wcs_geom.solid_angle().value) == pytest.approx(omega, rel=1e-5)


def test_several_regions_union(rng):
    a = CircleSkyRegion(CRAB, 0.5 * u.deg)
    b = CircleSkyRegion(SkyCoord(85.63, 22.01, unit="deg"), 0.3 * u.deg)
    geom = RegionGeom([a, b])
    assert len(geom.regions) == 2
    # disjoint circles: exact sum of caps
    assert geom.solid_angle()[0, 0].value == pytest.approx(
        cap_solid_angle(0.5) + cap_solid_angle(0.3), rel=1e-13
    )
    # overlapping circles: the union, from the fine grid
    c = CircleSkyRegion(SkyCoord(84.13, 22.01, unit="deg"), 0.5 * u.deg)
    union = RegionGeom([a, c], binsz_wcs=0.01 * u.deg).solid_angle()[0, 0].value
    d = CRAB.separation(c.center).rad
    r = np.radians(0.5)
    # flat-sky lens area of two equal circles at distance d
    lens = 2 * r**2 * np.arccos(d / (2 * r)) - d / 2 * np.sqrt(4 * r**2 - d**2)
    assert union == pytest.approx(2 * cap_solid_angle(0.5) - lens, rel=2e-5)
    # a circle crossed by a rectangle: planar area r^2 pi + w h - 2 (h/2 s + r^2 asin(h/2r))
    r, w, h = 0.2, 0.6, 0.1
    s = np.sqrt(r**2 - (h / 2) ** 2)
    planar = np.pi * r**2 + w * h - 2 * (h / 2 * s + r**2 * np.arcsin(h / 2 / r))
    cross = RegionGeom(
        [CircleSkyRegion(CRAB, r * u.deg), RectangleSkyRegion(CRAB, w * u.deg, h * u.deg)]
    )
    assert cross.solid_angle()[0, 0].value == pytest.approx(planar * np.radians(1) ** 2, rel=2e-5)
    # intersection (centre-in mask on a finer grid)
    assert region_solid_angle(a & c, 0.01) == pytest.approx(lens, rel=2e-4)
    # contains: union of both
    sky = SkyCoord([83.63, 85.63, 84.63, 80.0], [22.01, 22.01, 22.01, 22.01], unit="deg")
    np.testing.assert_array_equal(geom.contains(sky), [True, True, False, False])


@pytest.mark.parametrize(
    "region",
    [
        CircleSkyRegion(CRAB, 0.3 * u.deg),
        EllipseSkyRegion(CRAB, 0.6 * u.deg, 0.2 * u.deg, angle=40 * u.deg),
        RectangleSkyRegion(CRAB, 0.6 * u.deg, 0.2 * u.deg, angle=-20 * u.deg),
        PolygonSkyRegion(SkyCoord([83.3, 84.0, 83.7], [21.8, 21.9, 22.4], unit="deg")),
        CircleAnnulusSkyRegion(CRAB, 0.1 * u.deg, 0.3 * u.deg),
        CircleSkyRegion(CRAB, 0.2 * u.deg) | RectangleSkyRegion(CRAB, 0.6 * u.deg, 0.1 * u.deg),
    ],
    ids=["circle", "ellipse", "rectangle", "polygon", "annulus", "compound"],
)
def test_contains_matches_regions(region, rng):
    geom = RegionGeom(region)
    lon = 83.63 + rng.uniform(-0.5, 0.5, 3000)
    lat = 22.01 + rng.uniform(-0.5, 0.5, 3000)
    sky = SkyCoord(lon, lat, unit="deg")
    expected = region.contains(sky, geom.wcs)
    assert 50 < expected.sum() < 2950
    np.testing.assert_array_equal(geom.contains(sky), expected)
    np.testing.assert_array_equal(geom.contains((lon, lat)), expected)
    # the same points in galactic coordinates
    np.testing.assert_array_equal(geom.contains(sky.galactic), expected)
    # coord_to_pix: 0 inside, -1 outside
    x, y = geom.coord_to_pix(sky)[:2]
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(x, np.where(expected, 0.0, -1.0))


def test_region_mask_on_wcs_geom(rng):
    ellipse = EllipseSkyRegion(CRAB, 0.6 * u.deg, 0.2 * u.deg, angle=40 * u.deg)
    geom = RegionGeom(ellipse, binsz_wcs="0.02 deg")
    wcs_geom = geom.to_wcs_geom(width_min=1.0 * u.deg)
    assert wcs_geom.width.to_value("deg").min() >= 1.0
    assert wcs_geom.center_skydir.separation(CRAB).deg < 1e-9
    mask = geom.wcs_mask(wcs_geom)
    centres = wcs_geom.get_coord().skycoord
    np.testing.assert_array_equal(mask, ellipse.contains(centres, wcs_geom.wcs))
    # mask area approximates the solid angle
    area = wcs_geom.solid_angle().value[mask].sum()
    assert area == pytest.approx(geom.solid_angle()[0, 0].value, rel=0.05)
    # the default WCS geometry contains the whole region
    default = geom.to_wcs_geom()
    assert geom.wcs_mask(default).sum() > 0
    assert (
        not geom.wcs_mask(default)[[0, -1], :].any()
        and not geom.wcs_mask(default)[:, [0, -1]].any()
    )


def test_separation_to_image_to_cube(energy_axis):
    geom = RegionGeom.create("galactic;circle(184.56, -5.78, 0.2)", axes=[energy_axis])
    assert geom.frame == "galactic"
    assert geom.separation(CRAB).to_value("deg") == pytest.approx(
        CRAB.separation(geom.center_skydir).deg, abs=1e-12
    )
    assert geom.separation(CRAB).to_value("deg") < 0.05
    image = geom.to_image()
    assert image.data_shape == (1, 1)
    assert image.to_cube([energy_axis]) == geom
    assert geom.squash("energy").data_shape == (1, 1, 1)


def test_pix_coord_round_trip(energy_axis):
    geom = RegionGeom.create("icrs;circle(83.63, 22.01, 0.11)", axes=[energy_axis])
    coord = geom.pix_to_coord((np.array([0.0, 1.0]), np.array([0.0, 0.0]), np.array([2.0, 3.0])))
    assert coord.lon[0] == pytest.approx(83.63) and np.isnan(coord.lon[1])
    idx = geom.coord_to_idx((83.63, 22.01, 1 * u.TeV))
    assert tuple(int(i) for i in idx) == (0, 0, 1)  # edges 0.1, 0.398, 1.58, ... TeV
    assert geom.coord_to_idx((90.0, 22.01, 1 * u.TeV))[0] == -1


def test_tan_pixel_solid_angles_sum_to_cap():
    # a TAN grid of 91 x 91 pixels of 1 deg: pixel areas add up to the square on the sphere
    from gammaprob.maps.region_utils import local_wcs

    wcs = local_wcs(CRAB, 1.0, 91)
    omega = tan_pixel_solid_angles(wcs, (91, 91))
    half = np.radians(45.5)  # half-width in tangent-plane units (rad)
    # solid angle of the gnomonic square |x|,|y| <= a: 4 arcsin(a^2 / (1 + a^2))
    assert omega.sum() == pytest.approx(4 * np.arcsin(half**2 / (1 + half**2)), rel=1e-12)


@pytest.mark.parametrize(
    ("region", "exc", "match"),
    [
        ("icrs;circle(83.63, 22.01", ValueError, "malformed DS9"),
        ("icrs;blob(1,2,3)", ValueError, "malformed DS9"),
        ("", ValueError, "no region"),
        ([], ValueError, "at least one"),
        (42, TypeError, "DS9 string"),
        ("image;circle(10, 10, 3)", TypeError, "sky regions"),
    ],
)
def test_bad_regions(region, exc, match):
    with pytest.raises(exc, match=match):
        RegionGeom.create(region)


def test_bad_binsz_and_large_region():
    with pytest.raises(ValueError, match="binsz_wcs"):
        RegionGeom.create("icrs;circle(1,2,3)", binsz_wcs="1 s")
    with pytest.raises(ValueError, match="binsz_wcs"):
        RegionGeom.create("icrs;circle(1,2,3)", binsz_wcs=-1 * u.deg)
    with pytest.raises(ValueError, match="80 deg"):
        region_solid_angle(EllipseSkyRegion(CRAB, 170 * u.deg, 170 * u.deg), 0.1)
    assert len(parse_regions("icrs;circle(1,2,3);box(3,4,1,1,0)")) == 2


def test_polygon_pixel_fractions_exact():
    from gammaprob.maps.region_utils import _polygon_fractions, local_wcs

    wcs = local_wcs(CRAB, 0.01, 101)
    shapes = [
        RectangleSkyRegion(CRAB, 0.3 * u.deg, 0.1 * u.deg, angle=33 * u.deg),
        PolygonSkyRegion(SkyCoord([83.4, 83.8, 83.7, 83.62], [21.8, 21.9, 22.2, 22.0], unit="deg")),
    ]
    for shape in shapes:
        pixel = shape.to_pixel(wcs)
        fractions = _polygon_fractions(pixel, 101)
        assert fractions.min() >= 0 and fractions.max() <= 1
        assert fractions.sum() == pytest.approx(pixel.area, rel=1e-6)
        # subpixel sampling converges to the same fractions
        fine = pixel.to_mask(mode="subpixels", subpixels=64).to_image((101, 101))
        assert np.abs(fine - fractions).max() < 0.02


@pytest.mark.requires_gammapy
def test_solid_angles_vs_gammapy():
    gmaps = _gammapy_maps()
    regions = [
        CircleSkyRegion(CRAB, 0.3 * u.deg),
        EllipseSkyRegion(CRAB, 0.6 * u.deg, 0.2 * u.deg, angle=40 * u.deg),
        RectangleSkyRegion(CRAB, 0.6 * u.deg, 0.2 * u.deg, angle=-20 * u.deg),
    ]
    for region in regions:
        ours = RegionGeom(region).solid_angle()[0, 0].value
        theirs = gmaps.RegionGeom(region, binsz_wcs="0.01 deg").solid_angle().to_value("sr")
        # gammapy multiplies the planar pixel area by the pixel solid angle at the centre;
        # the difference is the spherical correction, ~(size in rad)^2 / 6
        assert ours == pytest.approx(theirs, rel=3e-5)
    union = CircleSkyRegion(CRAB, 0.2 * u.deg) | RectangleSkyRegion(CRAB, 0.6 * u.deg, 0.1 * u.deg)
    theirs = gmaps.RegionGeom(union, binsz_wcs="0.01 deg").solid_angle().to_value("sr")
    # gammapy counts pixel centres on a 10x finer grid (its own error ~5e-5 here)
    assert RegionGeom(union).solid_angle()[0, 0].value == pytest.approx(theirs, rel=2e-4)


def _gammapy_maps():
    """Import gammapy inside the test (validation extra)."""
    import gammapy.maps

    return gammapy.maps
