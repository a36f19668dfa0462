import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

from gammaprob.data import FixedPointing, PointingTable
from gammaprob.utils.errors import FormatError

HEADER = {
    "GEOLON": 16.5002222222222,
    "GEOLAT": -23.2717777777778,
    "ALTITUDE": 1835.0,
    "MJDREFI": 51910,
    "MJDREFF": 0.000742870370370241,
    "TIMESYS": "TT",
}
LOCATION = EarthLocation.from_geodetic(
    16.5002222222222 * u.deg, -23.2717777777778 * u.deg, 1835 * u.m
)
TIME = Time("2010-01-01T22:00:00", scale="utc")


def test_fixed_radec_modes():
    # every OBS_MODE except DRIFT means a fixed sky position (GADF 0.2 practice)
    for mode in ("POINTING", "WOBBLE", "wobble", "ON"):
        p = FixedPointing.from_header({**HEADER, "OBS_MODE": mode, "RA_PNT": 83.6, "DEC_PNT": 22.0})
        assert p.mode == "POINTING"
        assert p.get_icrs().ra.deg == pytest.approx(83.6)
    p = FixedPointing.from_header({**HEADER, "RA_PNT": 83.6, "DEC_PNT": 22.0})
    altaz = p.get_altaz(TIME)
    expected = SkyCoord(83.6, 22.0, unit="deg").transform_to(AltAz(obstime=TIME, location=LOCATION))
    assert altaz.separation(expected).to_value(u.arcsec) < 1e-6


def test_fixed_altaz_drift_mode():
    header = {**HEADER, "OBS_MODE": "DRIFT", "ALT_PNT": 70.0, "AZ_PNT": 180.0}
    p = FixedPointing.from_header(header)
    assert p.mode == "DRIFT" and p.fixed_icrs is None
    icrs = p.get_icrs(TIME)
    back = icrs.transform_to(AltAz(obstime=TIME, location=LOCATION))
    assert back.alt.deg == pytest.approx(70.0, abs=1e-8)
    assert back.az.deg == pytest.approx(180.0, abs=1e-8)
    # drifting: an hour later the sky position moved by ~15 deg in RA
    later = p.get_icrs(TIME + 1 * u.h)
    assert abs((later.ra - icrs.ra).wrap_at(180 * u.deg).deg) == pytest.approx(15.04, abs=0.05)
    with pytest.raises(ValueError, match=r"time is required"):
        p.get_icrs()


def test_fixed_missing_keywords():
    with pytest.raises(FormatError, match=r"column 'ALT_PNT'"):
        FixedPointing.from_header({"OBS_MODE": "DRIFT", "AZ_PNT": 0.0}, path="f.fits")
    with pytest.raises(FormatError, match=r"column 'DEC_PNT'"):
        FixedPointing.from_header({"RA_PNT": 1.0})


def test_location_strings():
    # SWGO writes angles and altitude as strings with units
    header = {
        "OBS_MODE": "DRIFT",
        "ALT_PNT": 90,
        "AZ_PNT": 0,
        "GEOLON": "-67d40m35.37387601s",
        "GEOLAT": "-22d56m22.36923399s",
        "ALTITUDE": "4779.999999998931 m",
    }
    p = FixedPointing.from_header(header)
    assert p.location.lon.deg == pytest.approx(-(67 + 40 / 60 + 35.37387601 / 3600))
    assert p.location.height.to_value(u.m) == pytest.approx(4780, abs=1e-3)
    zenith = p.get_icrs(TIME)
    # the zenith's declination is the site latitude, up to precession since J2000 (~0.06 deg)
    assert zenith.dec.deg == pytest.approx(p.location.lat.deg, abs=0.1)


def _pointing_table(times, ra, dec):
    table = Table()
    table["TIME"] = np.asarray(times, dtype=float) * u.s
    table["RA_PNT"] = np.asarray(ra, dtype=float) * u.deg
    table["DEC_PNT"] = np.asarray(dec, dtype=float) * u.deg
    table.meta.update(HEADER)
    return table


def test_pointing_table_interpolation(tmp_path):
    # along the equator the Cartesian interpolation is exactly the linear one in RA
    table = _pointing_table([0, 100, 200], [10, 11, 12], [0, 0, 0])
    hdu = fits.table_to_hdu(table)
    hdu.name = "POINTING"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "p.fits")
    pt = PointingTable.read(tmp_path / "p.fits")
    ref = Time(51910, 0.000742870370370241, format="mjd", scale="tt")
    pos = pt.get_icrs(ref + [50, 150] * u.s)
    np.testing.assert_allclose(pos.ra.deg, [10.5, 11.5], atol=1e-9)
    np.testing.assert_allclose(pos.dec.deg, 0, atol=1e-9)
    with pytest.raises(ValueError, match=r"outside the pointing table"):
        pt.get_icrs(ref + 300 * u.s)
    assert "3 rows" in repr(pt)


def test_pointing_table_not_monotonic():
    with pytest.raises(FormatError, match=r"column 'TIME'.*increasing"):
        PointingTable(_pointing_table([0, 100, 50], [1, 2, 3], [0, 0, 0]))


@pytest.mark.requires_data
def test_pointing_table_sample(gammapy_data):
    path = gammapy_data / "tests" / "pointing_table.fits.gz"
    pt = PointingTable.read(path)
    assert len(pt) == 100
    t = pt.time
    mid = t[10] + 0.5 * (t[11] - t[10])
    pos = pt.get_icrs(mid)
    ra, dec = np.asarray(pt.table["RA_PNT"]), np.asarray(pt.table["DEC_PNT"])
    assert pos.ra.deg == pytest.approx(0.5 * (ra[10] + ra[11]), abs=1e-6)
    assert pos.dec.deg == pytest.approx(0.5 * (dec[10] + dec[11]), abs=1e-6)
    # the nodes themselves are reproduced
    np.testing.assert_allclose(pt.get_icrs(t[:5]).ra.deg, ra[:5], atol=1e-9)
    altaz = pt.get_altaz(t[20])
    assert altaz.alt.deg == pytest.approx(float(pt.table["ALT_PNT"][20]), abs=1e-9)
