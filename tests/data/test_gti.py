import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from gammaprob.data import GTI, TimeRef
from gammaprob.utils.errors import FormatError

REF = Time(51910, 0.000742870370370241, format="mjd", scale="tt")


def make(intervals, ref=REF):
    start = np.array([a for a, _ in intervals], dtype=float) * u.s
    stop = np.array([b for _, b in intervals], dtype=float) * u.s
    return GTI(start, stop, ref)


def test_time_sum_and_delta():
    gti = make([(0, 10), (20, 50), (100, 101.5)])
    assert gti.time_sum.to_value(u.s) == 41.5
    np.testing.assert_array_equal(gti.time_delta.to_value(u.s), [10, 30, 1.5])
    assert len(gti) == 3
    # absolute start = reference + 20 s
    assert abs((gti.time_start[1] - REF).to_value(u.s) - 20) < 1e-6


def test_union_merges_overlapping_and_touching():
    gti = make([(50, 60), (0, 10), (5, 20), (20, 30), (70, 80)])
    merged = gti.union()
    np.testing.assert_array_equal(merged.met_start.to_value(u.s), [0, 50, 70])
    np.testing.assert_array_equal(merged.met_stop.to_value(u.s), [30, 60, 80])
    assert merged.time_sum.to_value(u.s) == 50
    assert gti.time_sum.to_value(u.s) == 10 + 15 + 10 + 10 + 10  # unmerged counts overlaps


def test_intersection():
    a = make([(0, 10), (20, 30)])
    b = make([(5, 25), (29, 40)])
    c = a.intersection(b)
    np.testing.assert_array_equal(c.met_start.to_value(u.s), [5, 20, 29])
    np.testing.assert_array_equal(c.met_stop.to_value(u.s), [10, 25, 30])
    assert c.time_sum.to_value(u.s) == 11
    empty = a.intersection(make([(11, 19)]))
    assert len(empty) == 0 and empty.time_sum.to_value(u.s) == 0


def test_stack_converts_reference():
    a = make([(0, 10)])
    ref_b = REF + 100 * u.s
    b = make([(0, 10)], ref=ref_b)
    stacked = a.stack(b)
    np.testing.assert_allclose(stacked.met_start.to_value(u.s), [0, 100], atol=1e-6)
    np.testing.assert_allclose(stacked.met_stop.to_value(u.s), [10, 110], atol=1e-6)
    assert GTI.from_stack([a, b, a]).time_sum.to_value(u.s) == pytest.approx(30)


def test_select_time():
    gti = make([(0, 100), (200, 300)])
    sel = gti.select_time((REF + 50 * u.s, REF + 250 * u.s))
    np.testing.assert_allclose(sel.met_start.to_value(u.s), [50, 200], atol=1e-6)
    np.testing.assert_allclose(sel.met_stop.to_value(u.s), [100, 250], atol=1e-6)


def test_from_time_intervals():
    t0 = Time("2020-01-01T00:00:00", scale="utc")
    gti = GTI.from_time_intervals([(t0, t0 + 30 * u.min), (t0 + 1 * u.h, t0 + 2 * u.h)])
    assert gti.time_sum.to_value(u.s) == pytest.approx(5400, abs=1e-6)
    assert abs((gti.time_start[0] - t0).to_value(u.s)) < 1e-6


def test_invalid_intervals():
    with pytest.raises(ValueError, match=r"ends before it starts"):
        make([(10, 5)])
    with pytest.raises(ValueError, match=r"finite"):
        make([(0, np.nan)])


def test_time_reference_from_header_and_scale(make_gti):
    # the same MET in UTC and TT references differs by TT-UTC = 32.184 s + 37 leap seconds (2020)
    t_tt = GTI.from_table(make_gti([(0, 1)], mjdrefi=58849, mjdreff=0.0, timesys="TT"))
    t_utc = GTI.from_table(make_gti([(0, 1)], mjdrefi=58849, mjdreff=0.0, timesys="UTC"))
    assert (t_utc.time_start[0] - t_tt.time_start[0]).to_value(u.s) == pytest.approx(
        69.184, abs=1e-6
    )
    assert t_utc.time_ref.scale == "utc"


def test_timeref_split_is_exact():
    ref = TimeRef(51910, 0.000742870370370241, "tt")
    again = TimeRef.from_time(ref.time)
    assert abs((again.time - ref.time).to_value(u.s)) < 1e-9
    assert TimeRef.from_time(Time(52706.0, format="mjd", scale="utc")) == TimeRef(52706, 0.0, "utc")


def test_write_read_roundtrip_exact(tmp_path):
    # a reference given as header numbers survives exactly (an arbitrary astropy Time may
    # carry more digits than a 20-character FITS card holds: sub-nanosecond differences)
    gti = make([(0.123456789, 10.5), (20, 50)], ref=TimeRef(51910, 0.000742870370370241, "tt"))
    gti.write(tmp_path / "gti.fits")
    back = GTI.read(tmp_path / "gti.fits")
    assert back == gti
    assert back.time_ref_info == gti.time_ref_info
    with pytest.raises(FileExistsError):
        gti.write(tmp_path / "gti.fits")


def test_bad_files(tmp_path, make_gti):
    table = make_gti([(0, 1)])
    del table.meta["MJDREFI"]
    fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(table)]).writeto(tmp_path / "a.fits")
    with pytest.raises(FormatError, match=r"MJDREFI") as err:
        GTI.read(tmp_path / "a.fits", hdu=1)
    assert "a.fits" in str(err.value)

    table = make_gti([(0, 1)])
    table["START"].unit = u.m
    hdu = fits.table_to_hdu(table)
    hdu.name = "GTI"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "b.fits")
    with pytest.raises(FormatError, match=r"START") as err:
        GTI.read(tmp_path / "b.fits")
    assert "not a time unit" in str(err.value) and "'GTI'" in str(err.value)

    table = make_gti([(0, 1)])
    table.remove_column("STOP")
    hdu = fits.table_to_hdu(table)
    hdu.name = "GTI"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "c.fits")
    with pytest.raises(FormatError, match=r"column 'STOP'"):
        GTI.read(tmp_path / "c.fits")


def test_repr():
    text = repr(make([(0, 10)]))
    assert "1 intervals" in text and "10.0 s" in text
