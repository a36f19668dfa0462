import gzip

import numpy as np
import pytest
from astropy.io import fits

from gammaprob.irf import EffectiveArea2D, read_irf
from gammaprob.utils.errors import FormatError


def _error(h, tmp_path, hdu, match, hdu_name="EFFECTIVE AREA"):
    path = h.write_hdu(tmp_path / "bad.fits", hdu)
    with pytest.raises(FormatError, match=match) as info:
        read_irf(path, hdu_name)
    assert "bad.fits" in str(info.value)
    return info.value


def test_good_file_reads(tmp_path, irf_helpers):
    h = irf_helpers
    path = h.write_hdu(tmp_path / "good.fits", h.make_aeff_hdu())
    aeff = read_irf(path, "EFFECTIVE AREA")
    assert isinstance(aeff, EffectiveArea2D)
    np.testing.assert_allclose(aeff.data[:, 0], [1e4, 3e4, 5e4])


def test_nan_values(tmp_path, irf_helpers):
    h = irf_helpers
    data = np.ones((3, 2))
    data[1, 1] = np.nan
    err = _error(h, tmp_path, h.make_aeff_hdu(data=data), "NaN")
    assert err.column == "EFFAREA" and err.hdu == "EFFECTIVE AREA"


def test_negative_values(tmp_path, irf_helpers):
    h = irf_helpers
    err = _error(h, tmp_path, h.make_aeff_hdu(data=-np.ones((3, 2))), "negative")
    assert err.column == "EFFAREA"


def test_non_monotonic_axis(tmp_path, irf_helpers):
    h = irf_helpers
    err = _error(
        h, tmp_path, h.make_aeff_hdu(energy_edges=(0.1, 10.0, 1.0, 100.0)), "contiguous|increasing"
    )
    assert err.column.startswith("ENERG")


def test_missing_column(tmp_path, irf_helpers):
    h = irf_helpers
    hdu = h.make_aeff_hdu()
    hdu.columns.del_col("THETA_HI")
    from astropy.io import fits

    hdu = fits.BinTableHDU.from_columns(hdu.columns, header=hdu.header, name="EFFECTIVE AREA")
    err = _error(h, tmp_path, hdu, "THETA_LO/THETA_HI")
    assert err.column == "THETA_LO"


def test_wrong_and_missing_units(tmp_path, irf_helpers):
    h = irf_helpers
    err = _error(h, tmp_path, h.make_aeff_hdu(units={"EFFAREA": "s"}), "cannot be converted")
    assert err.column == "EFFAREA"
    path = h.write_hdu(tmp_path / "nounit.fits", h.make_aeff_hdu(units={"EFFAREA": None}))
    with pytest.raises(FormatError, match="no unit") as info:
        read_irf(path, "EFFECTIVE AREA")
    assert info.value.column == "EFFAREA"
    path = h.write_hdu(tmp_path / "badunit.fits", h.make_aeff_hdu(units={"THETA": "parsec"}))
    with pytest.raises(FormatError, match="cannot be converted") as info:
        read_irf(path, "EFFECTIVE AREA")
    assert info.value.column == "THETA_LO"


def test_axis_without_unit_assumes_gadf_unit(tmp_path, irf_helpers):
    h = irf_helpers
    path = h.write_hdu(tmp_path / "axis.fits", h.make_aeff_hdu(units={"ENERG": None}))
    with pytest.warns(UserWarning, match="assuming the GADF unit TeV"):
        aeff = read_irf(path, "EFFECTIVE AREA")
    assert aeff.axes["energy_true"].unit == "TeV"


def test_wrong_shape(tmp_path, irf_helpers):
    h = irf_helpers
    from astropy.io import fits

    hdu = h.make_aeff_hdu()
    cols = [c for c in hdu.columns if c.name != "EFFAREA"]
    cols.append(fits.Column("EFFAREA", "5D", unit="m2", array=[np.ones(5)]))
    bad = fits.BinTableHDU.from_columns(cols, header=hdu.header, name="EFFECTIVE AREA")
    err = _error(h, tmp_path, bad, "does not match the axes")
    assert err.column == "EFFAREA"


def test_unknown_class_and_missing_hdu(tmp_path, irf_helpers):
    h = irf_helpers
    err = _error(h, tmp_path, h.make_aeff_hdu(header={"HDUCLAS2": "SOMETHING"}), "not a known IRF")
    assert err.column == "HDUCLAS2"
    path = h.write_hdu(tmp_path / "good.fits", h.make_aeff_hdu())
    with pytest.raises(FormatError, match="HDU not found"):
        read_irf(path, "AEFF")
    with pytest.raises(FormatError, match="FOVALIGN"):
        h.write_hdu(tmp_path / "fov.fits", h.make_aeff_hdu(header={"FOVALIGN": "GALACTIC"}))
        read_irf(tmp_path / "fov.fits", "EFFECTIVE AREA")


def test_truncated_file(tmp_path, irf_helpers):
    h = irf_helpers
    path = h.write_hdu(tmp_path / "good.fits", h.make_aeff_hdu())
    raw = path.read_bytes()
    truncated = tmp_path / "trunc.fits.gz"
    truncated.write_bytes(gzip.compress(raw[: 2 * 2880 + 100]))  # inside the table data
    with pytest.raises(FormatError, match="truncated or corrupt"):
        read_irf(truncated, "EFFECTIVE AREA")
    with pytest.raises(FileNotFoundError):
        read_irf(tmp_path / "missing.fits", "EFFECTIVE AREA")


def test_small_negative_noise_is_clipped_large_is_an_error(tmp_path, irf_helpers):
    from gammaprob.irf import EffectiveArea2D

    h = irf_helpers
    data = np.full((3, 2), 1e5)
    data[1, 1] = -1e3  # 1 % of the maximum: numerical noise, as in H.E.S.S. DR1 files
    path = tmp_path / "noise.fits"
    fits.HDUList([fits.PrimaryHDU(), h.make_aeff_hdu(data=data)]).writeto(path)
    aeff = EffectiveArea2D.read(path)
    assert np.min(aeff.data) == 0.0
    assert np.max(aeff.data) == 1e5
    data[1, 1] = -1e4  # 10 %: not noise
    bad = tmp_path / "bad.fits"
    fits.HDUList([fits.PrimaryHDU(), h.make_aeff_hdu(data=data)]).writeto(bad)
    with pytest.raises(FormatError, match="more than 5% of the largest value"):
        EffectiveArea2D.read(bad)
