"""Reading FITS files with errors that name the file, HDU and column."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import astropy.units as u
from astropy.io import fits

from .errors import FormatError

__all__ = ["get_hdu", "open_fits", "read_column_unit"]


def open_fits(path: str | os.PathLike) -> fits.HDUList:
    """Open a (possibly gzipped) FITS file and verify that it can be read.

    Parameters
    ----------
    path : str or path-like
        File name.

    Returns
    -------
    astropy.io.fits.HDUList
        All HDUs, read into memory (the file itself is already closed).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    FormatError
        The file is not valid FITS (truncated, corrupt, wrong type).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"FITS file {str(path)!r} does not exist.")
    try:
        with warnings.catch_warnings(), path.open("rb") as handle:
            # astropy only warns about a file cut off inside a header; that is an error here.
            warnings.simplefilter("error", fits.verify.VerifyWarning)
            hdulist = fits.open(handle, memmap=False, lazy_load_hdus=False)
            for hdu in hdulist:
                # Read every header and payload now, so truncation is found here and the
                # returned HDUList no longer needs the (closed) file.
                _ = hdu.header
                _ = hdu.data
    except (OSError, ValueError, TypeError, EOFError, fits.verify.VerifyWarning) as exc:
        raise FormatError(
            f"cannot be read as FITS ({exc}); is it truncated or corrupt?", path=path
        ) from exc
    return hdulist


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
        raise FormatError(
            f"required column is missing; the table has columns {hdu.columns.names}",
            path=path,
            hdu=hdu.name,
            column=column,
        )
    col = hdu.columns[names.index(column.upper())]
    text = (col.unit or "").strip()
    if not text:
        if default is None:
            raise FormatError(
                "column has no unit (TUNIT keyword)", path=path, hdu=hdu.name, column=column
            )
        text = default
    try:
        return u.Unit(text, parse_strict="raise")
    except ValueError as exc:
        raise FormatError(f"unknown unit {text!r}", path=path, hdu=hdu.name, column=column) from exc
