from __future__ import annotations

import gzip

import numpy as np
import pytest
from astropy.io import fits

from gammaprob.utils.errors import DataNotFoundError, FormatError
from gammaprob.utils.fits import get_hdu, open_fits, read_column_unit
from gammaprob.utils.io import atomic_path, check_overwrite
from gammaprob.utils.paths import gammapy_data_path, resolve_data_path
from gammaprob.utils.xp import namespace


def _table_file(path, unit="TeV"):
    col = fits.Column(name="ENERGY", format="D", unit=unit, array=np.array([1.0, 2.0]))
    hdu = fits.BinTableHDU.from_columns([col], name="EVENTS")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def test_format_error_names_file_hdu_column():
    err = FormatError("expected a unit", path="a.fits", hdu="EVENTS", column="ENERGY")
    assert str(err) == "file 'a.fits', HDU 'EVENTS', column 'ENERGY': expected a unit"
    assert isinstance(err, ValueError)


def test_open_fits_truncated_file(tmp_path):
    path = _table_file(tmp_path / "events.fits")
    data = path.read_bytes()
    bad = tmp_path / "truncated.fits.gz"
    bad.write_bytes(gzip.compress(data)[:-200])
    with pytest.raises(FormatError, match=r"truncated\.fits\.gz"):
        open_fits(bad)


def test_open_fits_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.fits"):
        open_fits(tmp_path / "nope.fits")


def test_get_hdu_and_column_unit(tmp_path):
    path = _table_file(tmp_path / "events.fits")
    with open_fits(path) as hdul:
        hdu = get_hdu(hdul, "EVENTS", path)
        assert read_column_unit(hdu, "ENERGY", path=path).to_string() == "TeV"
        with pytest.raises(FormatError, match=r"HDU 'GTI'.*\['PRIMARY', 'EVENTS'\]"):
            get_hdu(hdul, "GTI", path)
        with pytest.raises(FormatError, match="column 'TIME': required column is missing"):
            read_column_unit(hdu, "TIME", path=path)


def test_column_unit_missing_and_unknown(tmp_path):
    path = _table_file(tmp_path / "nounit.fits", unit=None)
    with open_fits(path) as hdul:
        with pytest.raises(FormatError, match="no unit"):
            read_column_unit(hdul[1], "ENERGY", path=path)
        assert read_column_unit(hdul[1], "ENERGY", default="TeV").to_string() == "TeV"
    path = _table_file(tmp_path / "badunit.fits", unit="furlong/fortnight2")
    with open_fits(path) as hdul, pytest.raises(FormatError, match="unknown unit"):
        read_column_unit(hdul[1], "ENERGY", path=path)


def test_atomic_path_never_destroys(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        check_overwrite(target, overwrite=False)
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target, overwrite=True) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_path(target, overwrite=True) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_gammapy_data_path(monkeypatch, tmp_path):
    monkeypatch.delenv("GAMMAPY_DATA", raising=False)
    assert gammapy_data_path(required=False) is None
    with pytest.raises(DataNotFoundError, match="GAMMAPY_DATA is not set"):
        gammapy_data_path()
    monkeypatch.setenv("GAMMAPY_DATA", str(tmp_path))
    assert gammapy_data_path() == tmp_path
    assert resolve_data_path("$GAMMAPY_DATA/hess") == tmp_path / "hess"


def test_namespace_numpy_and_pytensor_agree():
    import pytensor
    import pytensor.tensor as pt

    def log_parabola(e, alpha, beta):
        xp = namespace(e, alpha, beta)
        return xp.exp(-alpha * xp.log(e) - beta * xp.log(e) ** 2) * xp.erf(e)

    e = np.geomspace(0.1, 10, 7)
    expected = log_parabola(e, 2.3, 0.1)
    x = pt.vector("x")
    f = pytensor.function([x], log_parabola(x, 2.3, 0.1))
    np.testing.assert_allclose(f(e), expected, rtol=1e-13)


def test_open_fits_truncated_inside_header(tmp_path):
    path = _table_file(tmp_path / "events.fits")
    bad = tmp_path / "cut_header.fits"
    bad.write_bytes(path.read_bytes()[: 2880 + 400])  # primary header + part of the table header
    with pytest.raises(FormatError, match=r"(?s)cut_header\.fits.*truncated or corrupt"):
        open_fits(bad)


def test_pytensor_namespace_keeps_python_floats_in_double_precision():
    from gammaprob.utils.xp import pytensor_namespace

    xp = pytensor_namespace()
    value = xp.log(4.0)
    assert value.dtype == "float64"
    assert float(value.eval()) == np.log(4.0)
    assert xp.asarray(0.1).dtype == "float64"
