"""Reading FITS files with errors that name the file, HDU and column."""

from __future__ import annotations

import functools
import gzip
import io
import os
import threading
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import astropy.units as u

from .errors import FormatError
from .paths import resolve_data_path

if TYPE_CHECKING:
    from astropy.io import fits

__all__ = [
    "BLOCK",
    "WARNINGS_LOCK",
    "get_hdu",
    "missing_column_error",
    "open_fits",
    "parse_unit",
    "read_column_unit",
    "read_fits_bytes",
    "read_raw_fits",
]


BLOCK = 2880
"""FITS files are a whole number of 2880-byte blocks."""

WARNINGS_LOCK = threading.RLock()
"""Held around every ``warnings.catch_warnings`` block of the FITS readers.

``catch_warnings`` saves and restores the process-wide warning filters; two threads that
enter and leave such blocks interleaved would restore each other's filters (leaving, e.g.,
astropy warnings turned into errors for the whole process). Holding this lock makes the
blocks of the readers nest properly under Dask's threaded scheduler.
"""


def read_raw_fits(path: str | os.PathLike) -> tuple[Path, bytes]:
    """Read a (possibly gzipped) FITS file's bytes after checking it is complete.

    The file is decompressed once (astropy would silently read a truncated gzip stream as a
    shorter file) and its size must be a whole number of FITS blocks.

    Parameters
    ----------
    path : str or path-like
        File name; ``$GAMMAPY_DATA``, other variables and ``~`` are expanded.

    Returns
    -------
    path : pathlib.Path
        The expanded file name.
    raw : bytes
        The (decompressed) content.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    FormatError
        The gzip stream is corrupt, or the size is not a whole number of FITS blocks.
    """
    path = resolve_data_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FITS file {str(path)!r} does not exist.")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise FormatError(
                f"the gzip stream is truncated or corrupt ({exc})", path=path
            ) from exc
    if len(raw) == 0 or len(raw) % BLOCK:
        raise FormatError(
            f"{len(raw)} bytes is not a whole number of 2880-byte FITS blocks; the file is "
            "truncated or corrupt, or not FITS",
            path=path,
        )
    return path, raw


def read_fits_bytes(path: str | os.PathLike, lazy: bool = False) -> fits.HDUList:
    """Read a (possibly gzipped) FITS file into memory after checking it is complete.

    See :func:`read_raw_fits` for the checks on the bytes; header problems that astropy only
    warns about are errors too.

    Parameters
    ----------
    path : str or path-like
        File name; ``$GAMMAPY_DATA``, other variables and ``~`` are expanded.
    lazy : bool
        Parse HDUs on first access (fast for reading one HDU of a multi-HDU file); otherwise
        every header and payload is read now.

    Returns
    -------
    astropy.io.fits.HDUList
        The HDUs, held in memory (no file stays open).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    FormatError
        The file is truncated, corrupt or not FITS.
    """
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    path, raw = read_raw_fits(path)
    try:
        with WARNINGS_LOCK, warnings.catch_warnings():
            # astropy only warns about a file cut off inside a header; that is an error here.
            warnings.simplefilter("error", AstropyUserWarning)
            warnings.simplefilter("error", fits.verify.VerifyWarning)
            hdulist = fits.open(io.BytesIO(raw), memmap=False, lazy_load_hdus=lazy)
            if not lazy:
                for hdu in hdulist:
                    _ = hdu.header
                    _ = hdu.data
    except (OSError, ValueError, TypeError, EOFError, AstropyUserWarning) as exc:
        raise FormatError(
            f"cannot be read as FITS ({exc}); is it truncated or corrupt?", path=path
        ) from exc
    return hdulist


def open_fits(path: str | os.PathLike) -> fits.HDUList:
    """Open a (possibly gzipped) FITS file, checked to be complete, with every HDU read.

    Parameters
    ----------
    path : str or path-like
        File name.

    Returns
    -------
    astropy.io.fits.HDUList
        All HDUs, read into memory (no file stays open); usable as a context manager.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    FormatError
        The file is not valid FITS (truncated, corrupt, wrong type).
    """
    return read_fits_bytes(path, lazy=False)


def get_hdu(hdulist: fits.HDUList, hdu: str | int, path: str | os.PathLike | None = None):
    """Return one HDU by name or index with a clear error when it is missing.

    Parameters
    ----------
    hdulist : astropy.io.fits.HDUList
        Open file.
    hdu : str or int
        HDU name (case-insensitive) or index.
    path : str or path-like, optional
        File name, for the error message.

    Returns
    -------
    astropy.io.fits hdu
        The requested HDU.
    """
    try:
        return hdulist[hdu]
    except (KeyError, IndexError):
        names = [h.name for h in hdulist]
        raise FormatError(f"HDU not found; the file has HDUs {names}", path=path, hdu=hdu) from None


def read_column_unit(
    hdu, column: str, default: str | None = None, path: str | os.PathLike | None = None
) -> u.UnitBase:
    """Parse the unit of a table column (``TUNITn``).

    Parameters
    ----------
    hdu : astropy.io.fits.BinTableHDU
        Table HDU.
    column : str
        Column name.
    default : str, optional
        Unit to assume when the column has none; without it a missing unit is an error.
    path : str or path-like, optional
        File name, for the error message.

    Returns
    -------
    astropy.units.UnitBase
        The column's unit.
    """
    names = [name.upper() for name in hdu.columns.names]
    if column.upper() not in names:
        raise missing_column_error(hdu.columns.names, path, hdu.name, column)
    col = hdu.columns[names.index(column.upper())]
    return parse_unit(col.unit, default, path, hdu.name, column)


def missing_column_error(
    names: list[str], path: str | os.PathLike | None, hdu: str | int | None, column: str
) -> FormatError:
    """Return the error for a required ``column`` missing from a table with ``names``."""
    return FormatError(
        f"required column is missing; the table has columns {list(names)}",
        path=path,
        hdu=hdu,
        column=column,
    )


def parse_unit(
    text: str | None,
    default: str | None = None,
    path: str | os.PathLike | None = None,
    hdu: str | int | None = None,
    column: str | None = None,
) -> u.UnitBase:
    """Parse a ``TUNITn`` text strictly.

    Parameters
    ----------
    text : str or None
        The unit text; empty or None means no unit.
    default : str, optional
        Unit to assume when there is none; without it a missing unit is an error.
    path, hdu, column : optional
        Where the unit comes from, for the error message.

    Returns
    -------
    astropy.units.UnitBase
        The unit.

    Raises
    ------
    FormatError
        No unit and no default, or a unit astropy does not know.
    """
    text = (text or "").strip()
    if not text:
        if default is None:
            raise FormatError(
                "column has no unit (TUNIT keyword)", path=path, hdu=hdu, column=column
            )
        text = default
    try:
        return _unit(text)
    except ValueError as exc:
        raise FormatError(f"unknown unit {text!r}", path=path, hdu=hdu, column=column) from exc


@functools.lru_cache(maxsize=256)
def _unit(text: str) -> u.UnitBase:
    """Parse a unit string strictly (units are immutable, so the result is cached)."""
    return u.Unit(text, parse_strict="raise")
