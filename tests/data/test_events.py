import gzip

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from regions import CircleSkyRegion, RectangleSkyRegion

from gammaprob.data import EventList
from gammaprob.utils.errors import FormatError


@pytest.fixture
def events(rng, make_events):
    return EventList(make_events(rng, n=3000))


def _write(tmp_path, table, name="ev.fits"):
    hdu = fits.table_to_hdu(table)
    hdu.name = "EVENTS"
    path = tmp_path / name
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def test_properties(events):
    assert len(events) == 3000
    assert events.energy.unit == u.TeV
    assert events.radec.frame.name == "icrs"
    ref = Time(51910, 0.000742870370370241, format="mjd", scale="tt")
    dt = (events.time[0] - ref).to_value(u.s)
    assert dt == pytest.approx(events.table["TIME"][0], abs=1e-6)
    assert events.pointing_radec.dec.deg == pytest.approx(22.514)
    assert events.location.lat.deg == pytest.approx(-23.2717777777778)
    assert "3000 events" in repr(events)


def test_select_energy(events):
    energy = np.asarray(events.table["ENERGY"])
    sel = events.select_energy([1, 10] * u.TeV)
    assert len(sel) == np.sum((energy >= 1) & (energy < 10))
    # other units are converted
    assert len(events.select_energy([1000, 10000] * u.GeV)) == len(sel)
    assert len(sel) > 500
    with pytest.raises(ValueError, match=r"energy_range"):
        events.select_energy([1, 10] * u.deg)


def test_select_time(events):
    t = events.time
    t0, t1 = t[100], t[900]
    sel = events.select_time((t0, t1))
    assert len(sel) == 800  # sorted distinct times: rows 100..899
    assert sel.table["EVENT_ID"][0] == events.table["EVENT_ID"][100]


def test_select_offset_and_region(events):
    center = events.pointing_radec
    sep = events.radec.separation(center).deg
    sel = events.select_offset([0.5, 1.5] * u.deg)
    assert len(sel) == np.sum((sep >= 0.5) & (sep < 1.5))
    region = CircleSkyRegion(center, 1.5 * u.deg)
    assert len(events.select_region(region)) == np.sum(sep < 1.5)
    # two regions: union
    other = CircleSkyRegion(SkyCoord(center.ra + 2 * u.deg, center.dec), 0.5 * u.deg)
    both = events.select_region([region, other])
    sep2 = events.radec.separation(other.center).deg
    assert len(both) == np.sum((sep < 1.5) | (sep2 < 0.5))
    # a box: compare with the analytic box in a local tangent plane (0.01 deg pixels)
    box = RectangleSkyRegion(center, 2 * u.deg, 1 * u.deg)
    dlon, dlat = center.spherical_offsets_to(events.radec)
    inside = (np.abs(dlon.deg) < 1) & (np.abs(dlat.deg) < 0.5)
    n_box = len(events.select_region(box))
    assert abs(n_box - inside.sum()) <= 2  # projection differences at the edge only
    with pytest.raises(TypeError, match=r"SkyRegion"):
        events.select_region("circle")


def test_select_column_and_mask(events):
    sel = events.select_column("DEC", [22, 23] * u.deg)
    dec = np.asarray(events.table["DEC"])
    assert len(sel) == np.sum((dec >= 22) & (dec < 23))
    mask = np.asarray(events.table["EVENT_ID"]) % 3 == 0
    assert len(events.select_mask(mask)) == 1000
    with pytest.raises(ValueError, match=r"shape"):
        events.select_mask(np.ones(5, dtype=bool))
    with pytest.raises(KeyError, match=r"NOPE"):
        events.select_column("NOPE", [0, 1])


def test_histograms(events):
    edges = np.geomspace(0.1, 100, 4) * u.TeV
    counts = events.energy_histogram(edges)
    assert counts.sum() == len(events)  # all events are in 0.1..100 TeV
    # log-uniform energies: three decades hold ~1000 each
    np.testing.assert_allclose(counts, 1000, rtol=0.1)
    off = events.offset_histogram([0, 1, 2] * u.deg)
    sep = events.radec.separation(events.pointing_radec).deg
    assert off[0] == np.sum(sep < 1) and off[1] == np.sum((sep >= 1) & (sep < 2))
    with pytest.raises(ValueError, match=r"increasing"):
        events.energy_histogram([10, 1] * u.TeV)


def test_stack_converts_time_reference(rng, make_events):
    a = EventList(make_events(rng, n=10))
    table = make_events(rng, n=5)
    table.meta["MJDREFI"] = 51911  # one day later
    b = EventList(table)
    stacked = EventList.from_stack([a, b])
    assert len(stacked) == 15
    # the absolute times of b are unchanged
    np.testing.assert_allclose((stacked.time[10:] - b.time).to_value(u.s), 0, atol=1e-6)
    assert stacked.table["TIME"][10] == pytest.approx(b.table["TIME"][0] + 86400, abs=1e-6)
    assert len(a.stack(b)) == 15


def test_write_read_roundtrip(tmp_path, events):
    events.write(tmp_path / "events.fits")
    back = EventList.read(tmp_path / "events.fits")
    for name in events.table.colnames:
        np.testing.assert_array_equal(back.table[name], events.table[name])
        assert back.table[name].unit == events.table[name].unit
    for key, value in events.meta.items():
        assert back.meta[key] == value
    with pytest.raises(FileExistsError):
        events.write(tmp_path / "events.fits")


def test_missing_columns(tmp_path, rng, make_events):
    table = make_events(rng, n=10)
    table.remove_column("ENERGY")
    path = _write(tmp_path, table)
    with pytest.raises(FormatError, match=r"column 'ENERGY'") as err:
        EventList.read(path)
    assert "ev.fits" in str(err.value) and "'EVENTS'" in str(err.value)


def test_wrong_and_missing_units(tmp_path, rng, make_events):
    table = make_events(rng, n=10)
    table["ENERGY"].unit = u.deg
    with pytest.raises(FormatError, match=r"column 'ENERGY'.*not convertible to TeV"):
        EventList.read(_write(tmp_path, table, "a.fits"))
    table = make_events(rng, n=10)
    table["RA"].unit = None
    with pytest.raises(FormatError, match=r"column 'RA'.*no unit"):
        EventList.read(_write(tmp_path, table, "b.fits"))
    # GeV energies are fine and converted
    table = make_events(rng, n=10)
    table["ENERGY"] = table["ENERGY"].to(u.GeV)
    ev = EventList.read(_write(tmp_path, table, "c.fits"))
    np.testing.assert_allclose(ev.energy.to_value(u.TeV), np.asarray(table["ENERGY"]) / 1000)


def test_missing_time_reference(tmp_path, rng, make_events):
    table = make_events(rng, n=10)
    del table.meta["MJDREFI"], table.meta["MJDREFF"]
    with pytest.raises(FormatError, match=r"MJDREFI"):
        EventList.read(_write(tmp_path, table))


def test_truncated_and_corrupt_file(tmp_path, rng, make_events):
    path = _write(tmp_path, make_events(rng, n=2000))
    data = path.read_bytes()
    packed = gzip.compress(data)
    (tmp_path / "trunc.fits.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(FormatError, match=r"trunc.fits.gz.*gzip stream is truncated"):
        EventList.read(tmp_path / "trunc.fits.gz")
    (tmp_path / "trunc.fits").write_bytes(data[: len(data) - 1000])
    with pytest.raises(FormatError, match=r"trunc.fits.*2880-byte FITS blocks"):
        EventList.read(tmp_path / "trunc.fits")
    # cut exactly at a block boundary inside the table
    (tmp_path / "block.fits").write_bytes(data[: 2880 * 4])
    with pytest.raises(FormatError, match=r"block.fits.*may have been truncated"):
        EventList.read(tmp_path / "block.fits")
    (tmp_path / "junk.fits").write_bytes(b"this is not a FITS file" * 200)
    with pytest.raises(FormatError, match=r"junk.fits"):
        EventList.read(tmp_path / "junk.fits")
    (tmp_path / "junk.fits.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 100)
    with pytest.raises(FormatError, match=r"junk.fits.gz.*gzip stream"):
        EventList.read(tmp_path / "junk.fits.gz")


def test_counts_image_and_cube(events):
    from astropy.wcs import WCS

    from gammaprob.maps import MapAxis, WcsGeom

    center = events.pointing_radec
    geom = WcsGeom.create(skydir=center, width=4 * u.deg, binsz=0.1, proj="TAN")
    image = events.counts_image(geom)
    assert image.data.shape == (40, 40)
    # independent: astropy WCS pixel coordinates and numpy's 2D histogram
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [center.ra.deg, center.dec.deg]
    wcs.wcs.cdelt = [-0.1, 0.1]
    wcs.wcs.crpix = [20.5, 20.5]
    x, y = wcs.world_to_pixel(events.radec)
    expected, _, _ = np.histogram2d(y, x, bins=[np.arange(41) - 0.5, np.arange(41) - 0.5])
    np.testing.assert_array_equal(image.data, expected)
    energy = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 3, name="energy")
    cube = events.counts_image(geom.to_cube([energy]))
    assert cube.data.shape == (3, 40, 40)
    np.testing.assert_array_equal(cube.data.sum(axis=0), expected)
    inside = events.select_mask((x >= -0.5) & (x < 39.5) & (y >= -0.5) & (y < 39.5))
    np.testing.assert_array_equal(cube.data.sum(axis=(1, 2)), inside.energy_histogram(energy.edges))


def test_select_polygon_region(events):
    from regions import PolygonSkyRegion

    center = events.pointing_radec
    corners = center.spherical_offsets_by([-1, 1, 1, -1] * u.deg, [-0.5, -0.5, 0.5, 0.5] * u.deg)
    polygon = PolygonSkyRegion(vertices=corners)
    box = RectangleSkyRegion(center, 2 * u.deg, 1 * u.deg)
    n_poly, n_box = len(events.select_region(polygon)), len(events.select_region(box))
    assert n_box > 100
    assert abs(n_poly - n_box) <= 3  # straight edges between offset corners vs the box
