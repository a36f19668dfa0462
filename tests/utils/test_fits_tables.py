import gzip

import numpy as np
import pytest
from astropy.io import fits

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits_tables import read_tables


def _vla(rows, dtype):
    return np.array([np.asarray(r, dtype=dtype) for r in rows], dtype=object)


def _write_table(path, extra_columns=(), header_cards=()):
    rng = np.random.default_rng(3)
    n = 5
    columns = [
        fits.Column("CHANNEL", "I", array=np.arange(n, dtype=np.int16)),
        fits.Column("COUNTS", "J", array=np.array([0, 3, 70000, 2, 1], dtype=np.int32)),
        fits.Column("BIG", "K", array=np.array([1, -2, 2**40, 4, 5], dtype=np.int64)),
        fits.Column("FLAG", "B", array=np.array([0, 1, 255, 3, 4], dtype=np.uint8)),
        fits.Column("E_MIN", "E", unit="keV", array=rng.uniform(1, 2, n).astype(np.float32)),
        fits.Column("E_MAX", "D", unit="TeV", array=rng.uniform(1, 2, n)),
        fits.Column("VEC", "3D", array=rng.normal(size=(n, 3))),
        fits.Column(
            "MATRIX", "PE()", array=_vla([[0.5, 0.25], [], [1.0], [0.1] * 4, [0.2]], np.float32)
        ),
        fits.Column("F_CHAN", "PI()", array=_vla([[1, 3], [], [2], [0], [4]], np.int16)),
        fits.Column("N_CHAN", "PJ()", array=_vla([[1, 1], [], [1], [4], [1]], np.int32)),
        *extra_columns,
    ]
    hdu = fits.BinTableHDU.from_columns(columns, name="SPECTRUM")
    hdu.header["TELESCOP"] = "it's  "
    hdu.header["POISSERR"] = True
    hdu.header["EXPOSURE"] = 1234.5
    hdu.header["OBS_ID"] = 42
    hdu.header.append(("OBS_ID", 43), useblanks=False)  # repeated keyword: first wins
    hdu.header["COMMENT"] = "a comment"
    hdu.header["HISTORY"] = "a history"
    for card in header_cards:
        hdu.header.append(card)
    empty = fits.ImageHDU(name="EMPTY")
    second = fits.BinTableHDU.from_columns(
        [fits.Column("X", "D", array=[1.0, 2.0])], name="spectrum"
    )  # astropy writes EXTNAME upper case: the first HDU of a name is returned
    fits.HDUList([fits.PrimaryHDU(), hdu, empty, second]).writeto(path)
    return path


def test_tables_equal_astropy_columns_and_header(tmp_path):
    path = _write_table(tmp_path / "t.fits")
    table = read_tables(path)["SPECTRUM"]
    with fits.open(path) as hdulist:
        expected = hdulist["SPECTRUM"]
        assert table.names == expected.columns.names and table.nrows == 5
        for column in expected.columns:
            values = table.data[column.name]
            if column.format.startswith("P"):
                for row, ref in zip(values, expected.data[column.name], strict=True):
                    np.testing.assert_array_equal(row, ref)
            else:
                np.testing.assert_array_equal(values, expected.data[column.name])
            assert table.units[column.name] == (column.unit or "")
    assert table.header["TELESCOP"] == "it's" and table.header["OBS_ID"] == 42
    assert table.header["POISSERR"] is True and "COMMENT" not in table.header
    assert table.column("counts")[2] == 70000
    assert [len(row) for row in table.column("MATRIX")] == [2, 0, 1, 4, 1]
    assert table.column("VEC").shape == (5, 3)
    assert str(table.unit("E_MAX")) == "TeV"
    assert "X" not in table.names  # the first HDU of a name wins


def test_read_tables_gzip_and_mapping(tmp_path):
    plain = _write_table(tmp_path / "t.fits")
    packed = tmp_path / "t.fits.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    tables = read_tables(packed)
    assert tables.hdu_names == ["PRIMARY", "SPECTRUM", "EMPTY", "SPECTRUM"]
    assert "spectrum" in tables and "EMPTY" not in tables and len(tables) == 1
    np.testing.assert_array_equal(tables.table("SPECTRUM").column("BIG")[2], 2**40)
    assert "SPECTRUM" in repr(tables) and "nrows=5" in repr(tables["SPECTRUM"])
    assert tables.astropy_hdu("SPECTRUM").header["EXPOSURE"] == 1234.5


def test_truncated_and_corrupt_files(tmp_path):
    path = _write_table(tmp_path / "t.fits")
    raw = path.read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(raw[:-2880])
    with pytest.raises(FormatError, match=r"cut\.fits.*truncated or corrupt"):
        read_tables(cut)
    odd = tmp_path / "odd.fits"
    odd.write_bytes(raw[:-100])
    with pytest.raises(FormatError, match=r"odd\.fits.*not a whole number of 2880-byte"):
        read_tables(odd)
    with pytest.raises(FileNotFoundError, match="nope"):
        read_tables(tmp_path / "nope.fits")


def test_errors_name_hdu_and_column(tmp_path):
    tables = read_tables(_write_table(tmp_path / "t.fits"))
    with pytest.raises(FormatError, match=r"HDU 'GTI'.*\['PRIMARY', 'SPECTRUM', 'EMPTY'"):
        tables.table("GTI")
    table = tables["SPECTRUM"]
    with pytest.raises(FormatError, match="column 'RATE': required column is missing"):
        table.column("RATE")
    with pytest.raises(FormatError, match=r"column 'COUNTS'.*no unit"):
        table.unit("COUNTS")
    assert str(table.unit("COUNTS", default="ct")) == "ct"
