"""The binary tables of small FITS files (OGIP spectra, ARFs, RMFs) as plain numpy columns.

:func:`read_tables` reads a file with ``astropy.io.fits`` (through
:func:`gammaprob.utils.fits.read_fits_bytes`: gzip and truncation checks, header problems as
errors) and returns every binary-table HDU as a :class:`TableHDU`: the header keyword values,
the column units and the columns as numpy arrays (variable-length array columns as lists of
arrays), without building astropy ``Table`` objects. A truncated or corrupt file is a
:class:`~gammaprob.utils.errors.FormatError` naming the file.

Header values are astropy's: for a repeated keyword the first card wins; commentary cards
(``COMMENT``, ``HISTORY``, blank keyword) are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FormatError
from .fits import missing_column_error, parse_unit, read_fits_bytes
from .paths import resolve_data_path

__all__ = ["FitsTables", "TableHDU", "read_tables"]

_COMMENTARY = {"COMMENT", "HISTORY", ""}


@dataclass(frozen=True, eq=False, repr=False)
class TableHDU:
    """One binary-table HDU held in memory.

    Parameters
    ----------
    name : str
        ``EXTNAME`` (``""`` when absent).
    header : dict
        Keyword values (see the module docstring for the conventions).
    units : dict
        ``{column: TUNIT text}`` (``""`` where the column has no unit), in file order.
    data : dict
        ``{column: values}``: numpy arrays of length :attr:`nrows` (2D for vector cells), or
        lists of 1D arrays for variable-length array columns.
    nrows : int
        Number of rows.
    path : pathlib.Path, optional
        File name, for error messages.
    """

    name: str
    header: dict[str, Any]
    units: dict[str, str]
    data: dict[str, Any]
    nrows: int
    path: Path | None = None

    @property
    def names(self) -> list[str]:
        """Column names in file order."""
        return list(self.data)

    def _key(self, column: str) -> str | None:
        if column in self.data:
            return column
        upper = column.upper()
        return next((name for name in self.data if name.upper() == upper), None)

    def has_column(self, column: str) -> bool:
        """Whether the table has ``column`` (case-insensitive)."""
        return self._key(column) is not None

    def column(self, column: str) -> Any:
        """Return a column (case-insensitive name).

        Raises
        ------
        FormatError
            The column is missing (the message lists the table's columns).
        """
        key = self._key(column)
        if key is None:
            raise missing_column_error(self.names, self.path, self.name, column)
        return self.data[key]

    def unit(self, column: str, default: str | None = None):
        """Parse a column's unit (``TUNITn``), as :func:`gammaprob.utils.fits.read_column_unit`.

        Parameters
        ----------
        column : str
            Column name (case-insensitive).
        default : str, optional
            Unit assumed when the column has none; without it a missing unit is an error.

        Returns
        -------
        astropy.units.UnitBase
            The unit.
        """
        key = self._key(column)
        if key is None:
            raise missing_column_error(self.names, self.path, self.name, column)
        return parse_unit(self.units[key], default, self.path, self.name, column)

    def __len__(self) -> int:
        return self.nrows

    def __repr__(self) -> str:
        return f"TableHDU(name={self.name!r}, nrows={self.nrows}, columns={self.names})"


class FitsTables(Mapping[str, TableHDU]):
    """The binary tables of one FITS file, by upper-case ``EXTNAME`` (first HDU of a name).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    hdu_names : list of str
        Names of all HDUs in file order (``PRIMARY`` first), for error messages.
    tables : dict
        ``{EXTNAME: TableHDU}``.
    hdulist : astropy.io.fits.HDUList
        The file's HDUs in memory, for :meth:`astropy_hdu`.
    """

    def __init__(
        self, path: Path, hdu_names: list[str], tables: dict[str, TableHDU], hdulist
    ) -> None:
        self.path = path
        self.hdu_names = list(hdu_names)
        self._tables = tables
        self._hdulist = hdulist

    def __getitem__(self, name: str) -> TableHDU:
        return self._tables[name.strip().upper()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().upper() in self._tables

    def table(self, name: str) -> TableHDU:
        """Return the binary table ``name`` (case-insensitive).

        Raises
        ------
        FormatError
            No binary table of that name (the message lists the file's HDUs).
        """
        if name in self:
            return self[name]
        raise FormatError(
            f"HDU not found; the file has HDUs {self.hdu_names} (binary tables: {list(self)})",
            path=self.path,
            hdu=name,
        )

    def astropy_hdu(self, name: str):
        """Return HDU ``name`` parsed by ``astropy.io.fits``, for readers built on astropy."""
        return self._hdulist[name]

    def __repr__(self) -> str:
        return f"FitsTables({self.path.name!r}, hdus={self.hdu_names})"


def read_tables(path: str | os.PathLike) -> FitsTables:
    """Read every binary-table HDU of a (possibly gzipped) FITS file.

    Parameters
    ----------
    path : str or path-like
        File name; ``$GAMMAPY_DATA``, other variables and ``~`` are expanded.

    Returns
    -------
    FitsTables
        The tables by name; no file stays open.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    FormatError
        The file is truncated, corrupt or not FITS.
    """
    path = resolve_data_path(path)
    hdulist = read_fits_bytes(path)
    names, tables = _from_astropy(hdulist, path)
    return FitsTables(path, names, tables, hdulist)


def _from_astropy(hdulist, path: Path) -> tuple[list[str], dict[str, TableHDU]]:
    from astropy.io import fits

    names = [hdu.name for hdu in hdulist]
    tables: dict[str, TableHDU] = {}
    for hdu in hdulist:
        if not isinstance(hdu, fits.BinTableHDU) or hdu.name.strip().upper() in tables:
            continue
        header: dict[str, Any] = {}
        for card in hdu.header.cards:
            if card.keyword not in _COMMENTARY and card.keyword not in header:
                header[card.keyword] = card.value
        units, data = {}, {}
        for col in hdu.columns:
            units[col.name] = col.unit or ""
            values = hdu.data[col.name]
            if col.format.startswith(("P", "Q")) or col.format[1:2] in ("P", "Q"):
                data[col.name] = [np.array(v) for v in values]
            else:
                data[col.name] = np.array(values)
        tables[hdu.name.strip().upper()] = TableHDU(
            name=hdu.name, header=header, units=units, data=data, nrows=len(hdu.data), path=path
        )
    return names, tables
