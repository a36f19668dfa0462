import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from numpy.testing import assert_array_equal

from gammaprob.maps import LabelMapAxis, Map, MapAxis, TimeMapAxis, WcsGeom
from gammaprob.maps.io import map_to_hdulist
from gammaprob.utils.errors import FormatError

CENTER = SkyCoord(266.4, -28.9, unit="deg")


def make_map(rng, axes=None, unit="cm-2 s-1", dtype=float, proj="TAN", frame="galactic"):
    if axes is None:
        axes = [MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 3)]
    geom = WcsGeom.create(
        skydir=CENTER, width=(1.2, 0.8), binsz=0.1, frame=frame, proj=proj, axes=axes
    )
    data = rng.normal(size=geom.data_shape).astype(dtype)
    return Map(geom, data=data, unit=unit)


def assert_same_map(a, b):
    assert a.geom == b.geom
    assert a.unit == b.unit
    assert a.data.dtype == b.data.dtype
    assert_array_equal(a.data, b.data)
    for x, y in zip(a.geom.axes, b.geom.axes, strict=True):
        assert type(x) is type(y)
        assert x == y


@pytest.mark.parametrize("proj", ["CAR", "TAN", "AIT"])
def test_round_trip_energy_cube(tmp_path, rng, proj):
    m = make_map(rng, proj=proj)
    path = tmp_path / "cube.fits"
    m.write(path)
    back = Map.read(path)
    assert_same_map(m, back)
    # edges are bit-exact, not only close
    assert_array_equal(back.geom.axes["energy"].edges.value, m.geom.axes["energy"].edges.value)
    assert_array_equal(back.geom.wcs.wcs.crval, m.geom.wcs.wcs.crval)


def test_round_trip_many_axis_kinds(tmp_path, rng):
    axes = [
        MapAxis.from_nodes([0.0, 0.1, 0.3, 0.6], unit="deg", name="rad"),
        MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, 2, name="energy_true"),
        LabelMapAxis(["crab", "pks", "mrk"], name="source"),
        TimeMapAxis([0, 2, 5] * u.d, [1, 3, 6] * u.d, Time(58000.25, format="mjd", scale="tt")),
    ]
    m = make_map(rng, axes=axes, unit="sr-1", dtype=np.float32)
    path = tmp_path / "many.fits.gz"
    m.write(path)
    back = Map.read(path)
    assert_same_map(m, back)
    assert back.geom.axes["rad"].node_type == "center"
    assert_array_equal(back.geom.axes["source"].center, ["crab", "pks", "mrk"])
    assert (
        abs((back.geom.axes["time"].reference_time - axes[3].reference_time).to_value("s")) < 1e-6
    )


def test_round_trip_image_bool_int(tmp_path, rng):
    mask = make_map(rng, axes=[], unit="")
    mask = mask.copy(data=mask.data > 0)
    mask.write(tmp_path / "mask.fits")
    back = Map.read(tmp_path / "mask.fits")
    assert back.data.dtype == bool
    assert_same_map(mask, back)
    counts = make_map(rng, unit="", dtype=np.int32)
    counts.write(tmp_path / "counts.fits", hdu="COUNTS")
    back = Map.read(tmp_path / "counts.fits", hdu="COUNTS")
    assert_same_map(counts, back)
    with fits.open(tmp_path / "counts.fits") as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "COUNTS", "COUNTS_BANDS"]
        assert hdul["COUNTS"].header["BANDSHDU"] == "COUNTS_BANDS"
        assert hdul["COUNTS_BANDS"].header["AXCOLS1"] == "E_MIN,E_MAX"


def test_overwrite_is_refused(tmp_path, rng):
    m = make_map(rng)
    path = tmp_path / "m.fits"
    m.write(path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        m.write(path)
    m.write(path, overwrite=True)


@pytest.fixture
def cube_file(tmp_path, rng):
    path = tmp_path / "cube.fits"
    map_to_hdulist(make_map(rng), hdu="COUNTS").writeto(path)
    return path


def rewrite(path, edit):
    with fits.open(path) as hdul:
        edit(hdul)
        hdul.writeto(path, overwrite=True)


def test_missing_hdu(cube_file):
    with pytest.raises(FormatError, match=r"cube.fits.*HDU 'EXPOSURE'.*HDU not found"):
        Map.read(cube_file, hdu="EXPOSURE")


def test_missing_bands_hdu(cube_file):
    rewrite(cube_file, lambda h: h.pop(2))
    with pytest.raises(FormatError, match=r"HDU 'COUNTS_BANDS'.*not found"):
        Map.read(cube_file, hdu="COUNTS")


def test_missing_unit_reads_as_dimensionless(cube_file):
    """An absent BUNIT is dimensionless (as FITS readers and gammapy take it), or unit=."""
    rewrite(cube_file, lambda h: h["COUNTS"].header.remove("BUNIT"))
    m = Map.read(cube_file)
    assert m.unit == u.one
    assert m.data.shape == (3, 8, 12)
    assert Map.read(cube_file, unit="cm-2 s-1").unit == u.Unit("cm-2 s-1")


def test_unknown_unit(cube_file):
    rewrite(cube_file, lambda h: h["COUNTS"].header.set("BUNIT", "blorps"))
    with pytest.raises(FormatError, match=r"COUNTS.*unknown unit BUNIT='blorps'"):
        Map.read(cube_file)


def test_unit_disagreement(cube_file):
    with pytest.raises(FormatError, match="disagrees"):
        Map.read(cube_file, unit="TeV")


def test_non_monotonic_edges(cube_file):
    def edit(hdul):
        data = hdul["COUNTS_BANDS"].data
        data["E_MIN"] = data["E_MIN"][::-1]
        data["E_MAX"] = data["E_MAX"][::-1]
        data["E_MIN"][1] = 50.0

    rewrite(cube_file, edit)
    with pytest.raises(
        FormatError, match=r"cube.fits.*COUNTS_BANDS.*E_MIN.*(contiguous|increasing)"
    ):
        Map.read(cube_file)


def test_missing_axis_unit(cube_file):
    def edit(hdul):
        hdul["COUNTS_BANDS"].columns["E_MIN"].unit = None
        hdul["COUNTS_BANDS"].columns["E_MAX"].unit = None

    rewrite(cube_file, edit)
    with pytest.raises(FormatError, match=r"COUNTS_BANDS.*needs a unit of energy"):
        Map.read(cube_file)


def test_mismatched_shape(cube_file):
    rewrite(cube_file, lambda h: h["COUNTS"].__setattr__("data", h["COUNTS"].data[:2]))
    with pytest.raises(
        FormatError, match=r"COUNTS.*data shape \(2, 8, 12\) does not match.*\(3, 8, 12\)"
    ):
        Map.read(cube_file)


def test_cube_without_bands(tmp_path):
    hdu = fits.PrimaryHDU(np.zeros((3, 4, 5)))
    hdu.header.update(WcsGeom.create(width=1, binsz=0.2).to_header())
    hdu.header["BUNIT"] = ""
    hdu.writeto(tmp_path / "nobands.fits")
    with pytest.raises(FormatError, match="needs a bands table"):
        Map.read(tmp_path / "nobands.fits")


def test_no_map_hdu(tmp_path):
    fits.HDUList(
        [fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("A", "D", array=[1.0])])]
    ).writeto(tmp_path / "table.fits")
    with pytest.raises(FormatError, match="no map HDU"):
        Map.read(tmp_path / "table.fits")


def test_healpix_and_region_maps_dispatch(tmp_path, rng):
    from regions import CircleSkyRegion

    from gammaprob.maps import HpxGeom, RegionGeom

    energy = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, 2)
    hpx = HpxGeom.create(nside=8, frame="galactic", axes=[energy])
    m = Map(hpx, data=rng.normal(size=hpx.data_shape), unit="cm2 s")
    m.write(tmp_path / "hpx.fits")
    with fits.open(tmp_path / "hpx.fits") as hdul:
        assert hdul[1].header["PIXTYPE"] == "HEALPIX"
    assert_same_map(m, Map.read(tmp_path / "hpx.fits"))

    region = RegionGeom.create(CircleSkyRegion(CENTER, 0.2 * u.deg), axes=[energy])
    m = Map(region, data=rng.normal(size=region.data_shape), unit="cm-2 s-1")
    m.write(tmp_path / "region.fits")
    back = Map.read(tmp_path / "region.fits")
    assert isinstance(back.geom, RegionGeom)
    assert back.unit == m.unit
    assert_array_equal(back.data, m.data)
