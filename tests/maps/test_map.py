import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from numpy.testing import assert_allclose, assert_array_equal

from gammaprob.maps import Map, MapAxis, WcsGeom

CENTER = SkyCoord(83.633, 22.014, unit="deg")


@pytest.fixture
def geom():
    energy = MapAxis.from_energy_bounds(1 * u.TeV, 100 * u.TeV, 4)
    return WcsGeom.create(skydir=CENTER, width=(2.0, 1.0), binsz=0.1, proj="CAR", axes=[energy])


def test_construction_and_validation(geom):
    m = Map.from_geom(geom, unit="cm-2 s-1")
    assert m.data.shape == (4, 10, 20)
    assert m.unit == u.Unit("cm-2 s-1")
    assert m.quantity.unit == m.unit
    with pytest.raises(ValueError, match=r"data shape \(10, 20\) does not match"):
        Map(geom, data=np.zeros((10, 20)))
    with pytest.raises(ValueError, match="unknown unit"):
        Map(geom, unit="furlongs per blorp")
    m2 = Map(geom, data=np.ones(geom.data_shape) * u.m)
    assert m2.unit == u.m
    assert "Map(shape=(4, 10, 20)" in repr(m2) and "sum=800" in repr(m2)


def test_arithmetic_with_units(geom, rng):
    a = Map(geom, data=rng.uniform(1, 2, geom.data_shape), unit="m")
    b = Map(geom, data=rng.uniform(1, 2, geom.data_shape), unit="cm")
    total = a + b
    assert total.unit == u.m
    assert_allclose(total.data, a.data + b.data / 100)
    prod = a * b
    assert prod.unit == u.Unit("m cm")
    assert_allclose((a / (2 * u.s)).data, a.data / 2)
    assert (a / (2 * u.s)).unit == u.Unit("m / s")
    assert_allclose((3 * a).data, 3 * a.data)
    assert_allclose((1 / a).data, 1 / a.data)
    assert_allclose((a**2).data, a.data**2)
    assert_allclose((-a).data, -a.data)
    with pytest.raises(u.UnitConversionError):
        _ = a + (1 * u.s)
    # image times cube broadcasts over the energy axis
    image = Map(geom.to_image(), data=np.full(geom.to_image().data_shape, 2.0), unit="sr")
    cube = a * image
    assert cube.geom == geom and cube.unit == u.Unit("m sr")
    assert_allclose(cube.data, 2 * a.data)
    assert_allclose(((2 * u.s) * a).data, 2 * a.data)
    assert ((2 * u.s) * a).unit == u.Unit("m s")
    assert isinstance(np.ones(geom.data_shape) * a, Map)
    other_axis = geom.to_image().to_cube([geom.axes["energy"].copy(name="energy_true")])
    with pytest.raises(ValueError, match="different axes"):
        _ = a * Map.from_geom(other_axis)
    mask = a > 1.5 * u.m
    assert mask.data.dtype == bool
    assert_array_equal((~mask).data, a.data <= 1.5)
    assert_array_equal((mask & (a < 1.8 * u.m)).data, (a.data > 1.5) & (a.data < 1.8))


def test_different_geometries_refused(geom):
    a = Map.from_geom(geom)
    other = Map.from_geom(WcsGeom.create(skydir=CENTER, width=(2.0, 1.0), binsz=0.05))
    with pytest.raises(ValueError, match="different spatial geometries"):
        _ = a + other


def test_reductions(geom, rng):
    data = rng.poisson(3.0, geom.data_shape).astype(float)
    m = Map(geom, data=data, unit="")
    summed = m.sum_over_axes()
    assert summed.geom.axes["energy"].nbin == 1
    assert_allclose(summed.data[0], data.sum(axis=0))
    dropped = m.sum_over_axes(keepdims=False)
    assert dropped.geom.is_image
    assert_allclose(dropped.data, data.sum(axis=0))
    peak = m.reduce("energy", np.maximum)
    assert_allclose(peak.data, data.max(axis=0))
    weighted = m.reduce("energy", weights=np.array([1, 0, 0, 1])[:, None, None])
    assert_allclose(weighted.data, data[0] + data[3])


def test_get_and_interp_by_coord_power_law(geom):
    # values ~ E^-2 at the bin centres: log-log interpolation is exact for a power law
    energy = geom.axes["energy"].center
    lon_idx = np.arange(20)[None, None, :]
    data = (energy.value[:, None, None] ** -2.0) * (1.0 + lon_idx) * np.ones(geom.data_shape)
    m = Map(geom, data=data, unit="cm-2 s-1 TeV-1")
    coord = m.geom.pix_to_coord((np.array([3.0, 7.0]), np.array([4.0, 5.0]), np.array([0.0, 0.0])))
    e_test = [2.0, 30.0] * u.TeV
    coords = {"lon": coord.lon, "lat": coord.lat, "energy": e_test}
    values = m.interp_by_coord(coords, values_scale="log")
    assert values.unit == m.unit
    assert_allclose(values.value, [4 * 2.0**-2, 8 * 30.0**-2], rtol=1e-10)
    # nearest-bin lookup returns the bin value
    nearest = m.get_by_coord(coords)
    idx = geom.axes["energy"].coord_to_idx(e_test)
    assert_allclose(nearest.value, [4 * energy.value[idx[0]] ** -2, 8 * energy.value[idx[1]] ** -2])
    outside = {"lon": [100.0], "lat": [22.0], "energy": [2] * u.TeV}
    assert np.isnan(m.get_by_coord(outside).value[0])
    assert m.interp_by_coord(outside, fill_value=-1).value[0] == -1


def test_interp_bilinear_is_exact_for_linear_field(geom):
    image = geom.to_image()
    pix_x, pix_y = np.meshgrid(np.arange(20.0), np.arange(10.0))
    m = Map(image, data=3 * pix_x - 2 * pix_y + 1)
    x = np.array([0.0, 2.25, 10.5, 18.9])
    y = np.array([0.0, 1.75, 5.5, 8.1])
    coord = image.pix_to_coord((x, y))
    assert_allclose(m.interp_by_coord(coord).value, 3 * x - 2 * y + 1, rtol=1e-9)


def test_fill_by_coord_matches_histogramdd(geom, rng):
    n = 5000
    lon = rng.uniform(82.4, 84.8, n)
    lat = rng.uniform(21.4, 22.6, n)
    energy = 10 ** rng.uniform(-0.2, 2.2, n) * u.TeV
    m = Map.from_geom(geom)
    m.fill_by_coord({"skycoord": SkyCoord(lon, lat, unit="deg"), "energy": energy})
    # independent histogram in pixel space
    x, y, e = geom.coord_to_pix({"lon": lon, "lat": lat, "energy": energy})
    edges = [np.arange(5) - 0.5, np.arange(11) - 0.5, np.arange(21) - 0.5]
    expected, _ = np.histogramdd(np.stack([e, y, x], axis=-1), bins=edges)
    assert_array_equal(m.data, expected)
    assert m.data.sum() < n  # events outside the map or energy range are dropped
    weighted = Map.from_geom(geom)
    weighted.fill_by_coord(
        {"skycoord": SkyCoord(lon, lat, unit="deg"), "energy": energy}, weights=2.0
    )
    assert_array_equal(weighted.data, 2 * expected)


def test_slicing_and_images(geom, rng):
    m = Map(geom, data=rng.normal(size=geom.data_shape), unit="s")
    sub = m.slice_by_idx({"energy": slice(1, 3)})
    assert sub.geom.axes["energy"].nbin == 2
    assert_allclose(sub.geom.axes["energy"].edges.value, geom.axes["energy"].edges.value[1:4])
    assert_array_equal(sub.data, m.data[1:3])
    image = m.get_image_by_idx((2,))
    assert image.geom.is_image
    assert_allclose(image.data, m.data[2])
    assert len(list(m.iter_images())) == 4


def test_cutout_values(geom, rng):
    m = Map(geom, data=rng.normal(size=geom.data_shape), unit="s")
    cut = m.cutout(CENTER, width=0.5)
    assert cut.data.shape == (4, 5, 5)
    idx = geom.coord_to_idx(cut.geom.get_coord())
    assert_array_equal(cut.data, m.data[idx[2], idx[1], idx[0]])
    partial = m.cutout(SkyCoord(84.6, 22.014, unit="deg"), width=0.6, mode="partial")
    assert partial.data.shape == (4, 6, 6)
    assert np.isnan(partial.data).any() and np.isfinite(partial.data).any()


def test_smooth_preserves_flux_and_width():
    geom = WcsGeom.create(skydir=CENTER, width=4, binsz=0.02, proj="TAN")
    m = Map.from_geom(geom)
    m.data[100, 100] = 1.0
    smooth = m.smooth(0.1 * u.deg)
    assert_allclose(smooth.data.sum(), 1.0, rtol=1e-6)
    _, x = np.mgrid[:200, :200]
    var = (smooth.data * (x - 100) ** 2).sum()
    assert_allclose(np.sqrt(var), 5.0, rtol=1e-3)  # sigma = 0.1 deg = 5 pixels
    disk = m.smooth(0.1 * u.deg, kernel="disk")
    assert_allclose(disk.data.sum(), 1.0, rtol=1e-12)
    assert disk.data[100, 105] > 0 and disk.data[100, 106] == 0
    with pytest.raises(ValueError, match="kernel"):
        m.smooth(0.1, kernel="lorentz")


def test_resample_counts(geom, rng):
    m = Map(geom, data=rng.poisson(2.0, geom.data_shape).astype(float))
    down = m.downsample(2)
    assert down.data.shape == (4, 5, 10)
    assert_allclose(down.data.sum(), m.data.sum())
    assert_allclose(down.data[0, 0, 0], m.data[0, :2, :2].sum())
    up = down.upsample(2)
    assert up.geom == geom
    assert_allclose(up.data.sum(), m.data.sum())


def test_copy_and_unit_conversion(geom):
    m = Map(geom, data=np.ones(geom.data_shape), unit="m2 s")
    c = m.copy()
    c.data[0, 0, 0] = 5
    assert m.data[0, 0, 0] == 1
    assert_allclose(m.to_unit("cm2 s").data, 1e4)
    with pytest.raises(TypeError, match="unknown"):
        m.copy(units="s")


def test_time_and_label_axes_in_a_map():
    from astropy.time import Time

    from gammaprob.maps import LabelMapAxis, TimeMapAxis

    ref = Time(55000, format="mjd", scale="tt")
    time = TimeMapAxis([0, 2] * u.d, [1, 3] * u.d, ref)
    label = LabelMapAxis(["hess", "magic", "lst"], name="dataset")
    geom = WcsGeom.create(width=1, binsz=0.5, axes=[time, label])
    assert geom.data_shape == (3, 2, 2, 2)
    coord = geom.get_coord()
    assert coord["time"].shape == geom.data_shape
    assert_allclose(coord["time"][0, :, 0, 0].mjd, [55000.5, 55002.5])
    assert coord["dataset"][2, 0, 0, 0] == "lst"
    m = Map.from_geom(geom)
    events = {
        "lon": [0.1, 0.1, 0.1],
        "lat": [0.1, 0.1, 0.1],
        "time": Time([55000.5, 55001.5, 55002.9], format="mjd", scale="tt"),  # 2nd in the gap
        "dataset": ["magic", "lst", "hess"],
    }
    m.fill_by_coord(events)
    assert m.data.sum() == 2
    # lon increases to the left: (0.1, 0.1) deg is pixel x=0, y=1
    assert m.data[1, 0, 1, 0] == 1
    assert m.data[0, 1, 1, 0] == 1
    assert_allclose(m.get_by_coord(events).value, [1, np.nan, 1])
