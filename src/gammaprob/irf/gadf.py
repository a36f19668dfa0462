"""Reading and writing the GADF DL3 IRF table layout (one row of vector columns).

An IRF HDU stores each axis as ``<PREFIX>_LO`` / ``<PREFIX>_HI`` vector columns and each
quantity as one multi-dimensional cell. The GADF convention lists the axes in the quantity's
numpy (C) order reversed (FITS ``TDIM`` order), e.g. effective area ``[THETA, ENERG]`` in numpy.
Some producers (H.E.S.S. and CTA 1DC backgrounds, the GADF background examples) store the
opposite order; the reader accepts both when the shape tells them apart, preferring the GADF
order when it does not (the same rule Gammapy applies).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table

from gammaprob.maps.axes import MapAxes, MapAxis
from gammaprob.utils.errors import FormatError
from gammaprob.utils.io import atomic_path

_log = logging.getLogger(__name__)

#: Negative IRF values up to this fraction of the largest |value| are clipped to zero.
NEGATIVE_TOLERANCE = 0.05

__all__ = [
    "AXIS_SPEC",
    "header_meta",
    "is_pointlike",
    "read_axis",
    "read_data_column",
    "table_hdu",
    "write_table_hdu",
]

#: Axis name -> (column prefixes accepted on read, prefix written, canonical unit, interp).
AXIS_SPEC = {
    "energy_true": (("ENERG", "ETRUE"), "ENERG", u.TeV, "log"),
    "energy": (("ENERG",), "ENERG", u.TeV, "log"),
    "offset": (("THETA",), "THETA", u.deg, "lin"),
    "migra": (("MIGRA",), "MIGRA", u.one, "lin"),
    "rad": (("RAD",), "RAD", u.deg, "lin"),
    "fov_lon": (("DETX",), "DETX", u.deg, "lin"),
    "fov_lat": (("DETY",), "DETY", u.deg, "lin"),
}

# Header keywords that describe the table layout; they are rebuilt on writing.
_STRUCTURAL = ("XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "EXTNAME")
_STRUCTURAL_PREFIX = (
    "TTYPE",
    "TFORM",
    "TUNIT",
    "TDIM",
    "TNULL",
    "TSCAL",
    "TZERO",
    "TDISP",
    "NAXIS",
)


def header_meta(header: fits.Header) -> dict:
    """Return the non-structural header keywords of an IRF HDU as a plain dict.

    Parameters
    ----------
    header : astropy.io.fits.Header
        HDU header.

    Returns
    -------
    dict
        Keyword -> value (comments and layout keywords such as ``TTYPEn`` dropped).
    """
    meta = {}
    for key, value in header.items():
        if not key or key in ("COMMENT", "HISTORY") or key in _STRUCTURAL:
            continue
        if key.startswith(_STRUCTURAL_PREFIX) and key.rstrip("0123456789") in _STRUCTURAL_PREFIX:
            continue
        meta[key] = value
    return meta


def is_pointlike(header: Mapping) -> bool:
    """Return True if an IRF header declares ``HDUCLAS3 = 'POINT-LIKE'``."""
    return str(header.get("HDUCLAS3", "")).strip().upper() == "POINT-LIKE"


def _column_names(hdu) -> dict[str, str]:
    return {name.upper(): name for name in hdu.columns.names}


def _column_unit(hdu, column: str, path) -> u.UnitBase | None:
    col = hdu.columns[_column_names(hdu)[column.upper()]]
    text = (col.unit or "").strip()
    if not text:
        return None
    for fmt in ("fits", "generic", "ogip"):
        try:
            return u.Unit(text, format=fmt, parse_strict="raise")
        except ValueError:
            continue
    raise FormatError(f"unknown unit {text!r}", path=path, hdu=hdu.name, column=column)


def read_axis(hdu, name: str, path: str | os.PathLike | None = None) -> MapAxis:
    """Read one axis from the ``<PREFIX>_LO`` / ``<PREFIX>_HI`` columns of an IRF HDU.

    Parameters
    ----------
    hdu : astropy.io.fits.BinTableHDU
        IRF table.
    name : str
        Axis name, a key of `AXIS_SPEC` (``energy_true``, ``offset``, ...).
    path : str or path-like, optional
        File name for error messages.

    Returns
    -------
    gammaprob.maps.MapAxis
        The axis in its canonical unit (TeV or deg). Equal ``_LO`` and ``_HI`` columns give
        a centre-node axis.

    Raises
    ------
    FormatError
        Missing columns, wrong units, non-finite, non-monotonic or non-contiguous bins.
    """
    prefixes, _, unit, interp = AXIS_SPEC[name]
    names = _column_names(hdu)
    prefix = next((p for p in prefixes if f"{p}_LO" in names and f"{p}_HI" in names), None)
    if prefix is None:
        wanted = " or ".join(f"{p}_LO/{p}_HI" for p in prefixes)
        raise FormatError(
            f"axis {name!r} needs columns {wanted}; the table has {hdu.columns.names}",
            path=path,
            hdu=hdu.name,
            column=f"{prefixes[0]}_LO",
        )
    columns = {}
    for suffix in ("_LO", "_HI"):
        column = prefix + suffix
        values = np.asarray(hdu.data[names[column]], dtype=float)
        if values.ndim == 2 and values.shape[0] == 1:
            values = values[0]
        values = np.atleast_1d(values)
        if values.ndim != 1:
            raise FormatError(
                f"expected one row holding a 1D vector, got shape {values.shape}",
                path=path,
                hdu=hdu.name,
                column=column,
            )
        col_unit = _column_unit(hdu, column, path)
        if col_unit is None:
            if unit != u.one:
                warnings.warn(
                    f"file {str(path)!r}, HDU {hdu.name!r}, column {column!r}: no unit (TUNIT); "
                    f"assuming the GADF unit {unit}",
                    UserWarning,
                    stacklevel=3,
                )
            col_unit = unit
        if not col_unit.is_equivalent(unit):
            raise FormatError(
                f"unit {col_unit} cannot be converted to the expected {unit or 'dimensionless'}",
                path=path,
                hdu=hdu.name,
                column=column,
            )
        columns[column] = u.Quantity(values, col_unit).to(unit)
    lo, hi = columns[f"{prefix}_LO"].value, columns[f"{prefix}_HI"].value
    where = {"path": path, "hdu": hdu.name, "column": f"{prefix}_LO"}
    if lo.shape != hi.shape or lo.size == 0:
        raise FormatError(
            f"{prefix}_LO and {prefix}_HI must be non-empty and of equal length", **where
        )
    try:
        if np.array_equal(lo, hi):
            return MapAxis(lo * unit, node_type="center", interp=interp, name=name)
        # Tolerance relative to the axis span: bounds near zero differ by rounding (CTA 1DC).
        tol = 1e-6 * (np.max(np.abs(hi)) if hi.size else 1.0)
        gaps = np.abs(lo[1:] - hi[:-1])
        if np.any(gaps > tol):
            bad = int(np.argmax(gaps))
            raise FormatError(
                f"bins are not contiguous: upper bound {hi[bad]} of bin {bad} != lower bound "
                f"{lo[bad + 1]} of bin {bad + 1}",
                **where,
            )
        return MapAxis(np.append(lo, hi[-1]) * unit, node_type="edges", interp=interp, name=name)
    except ValueError as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(str(exc), **where) from exc


def read_data_column(
    hdu,
    columns: Sequence[str],
    shape: tuple[int, ...],
    unit: u.UnitBase | None,
    path: str | os.PathLike | None = None,
    unit_required: bool = True,
    allow_negative: bool = False,
) -> np.ndarray:
    """Read and validate the data cell of an IRF HDU.

    Parameters
    ----------
    hdu : astropy.io.fits.BinTableHDU
        IRF table.
    columns : sequence of str
        Accepted column names, first is the GADF name (e.g. ``("BKG", "BGD")``).
    shape : tuple of int
        Expected shape in gammaprob axis order (e.g. ``(n_energy, n_offset)``).
    unit : astropy.units.UnitBase or None
        Unit the data are converted to (None: keep the stored numbers, any unit).
    path : str or path-like, optional
        File name for error messages.
    unit_required : bool
        Raise if the column has no unit; otherwise a missing unit means ``unit``.
    allow_negative : bool
        Accept negative values. Otherwise negative values no larger in magnitude than
        ``NEGATIVE_TOLERANCE`` times the largest absolute value (numerical noise of the
        producing software; H.E.S.S. DR1 has up to 1.2 %) are set to zero and logged, and
        larger ones are an error.

    Returns
    -------
    numpy.ndarray
        Float64 array of ``shape`` in ``unit``.

    Raises
    ------
    FormatError
        Missing column or unit, unconvertible unit, wrong shape, NaN/inf or negative values.
    """
    names = _column_names(hdu)
    column = next((c for c in columns if c.upper() in names), None)
    if column is None:
        raise FormatError(
            f"required data column is missing (expected one of {list(columns)}); the table has "
            f"{hdu.columns.names}",
            path=path,
            hdu=hdu.name,
            column=columns[0],
        )
    cell = np.asarray(hdu.data[names[column.upper()]], dtype=float)
    if cell.ndim == len(shape) + 1 and cell.shape[0] == 1:
        cell = cell[0]
    if cell.T.shape == tuple(shape):
        values = cell.T
    elif cell.shape == tuple(shape):
        values = cell
    else:
        raise FormatError(
            f"data of shape {cell.shape} does not match the axes (expected {tuple(shape)[::-1]} "
            f"in numpy order)",
            path=path,
            hdu=hdu.name,
            column=column,
        )
    col_unit = _column_unit(hdu, column, path)
    if unit is None:
        col_unit = unit = u.one
    elif col_unit is None:
        if unit_required and unit != u.one:
            raise FormatError(
                f"column has no unit (TUNIT); expected a unit convertible to {unit}",
                path=path,
                hdu=hdu.name,
                column=column,
            )
        col_unit = unit
    try:
        factor = col_unit.to(unit)
    except u.UnitConversionError:
        raise FormatError(
            f"unit {col_unit} cannot be converted to the expected {unit or 'dimensionless'}",
            path=path,
            hdu=hdu.name,
            column=column,
        ) from None
    values = np.ascontiguousarray(values * factor if factor != 1 else values, dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise FormatError(
            f"{int(bad.sum())} NaN or infinite values (first at index "
            f"{tuple(int(i) for i in np.argwhere(bad)[0])})",
            path=path,
            hdu=hdu.name,
            column=column,
        )
    negative = values < 0
    if not allow_negative and negative.any():
        scale = float(np.abs(values).max())
        if -values.min() > NEGATIVE_TOLERANCE * scale:
            raise FormatError(
                f"{int(negative.sum())} negative values (minimum {values.min():.4g}, more than "
                f"{NEGATIVE_TOLERANCE:.0%} of the largest value {scale:.4g}); expected >= 0",
                path=path,
                hdu=hdu.name,
                column=column,
            )
        _log.info(
            "%s[%s] column %s: %d small negative values (min %.3g, max |value| %.3g) set to 0",
            path,
            hdu.name,
            column,
            int(negative.sum()),
            values.min(),
            scale,
        )
        values = np.where(negative, 0.0, values)
    return values


def table_hdu(
    axes: MapAxes,
    data: Mapping[str, u.Quantity],
    meta: Mapping,
    extname: str,
) -> fits.BinTableHDU:
    """Build a GADF IRF table HDU.

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes
        Axes in gammaprob order; written as ``<PREFIX>_LO/_HI`` columns in that order.
    data : mapping of str to astropy.units.Quantity
        Data columns with shape ``axes.shape``; stored transposed (GADF numpy order).
    meta : mapping
        Header keywords (``HDUCLASn``, ``RAD_MAX``, ...).
    extname : str
        HDU name.

    Returns
    -------
    astropy.io.fits.BinTableHDU
        One-row table HDU.
    """
    table = Table()
    for axis in axes:
        _, prefix, unit, _ = AXIS_SPEC[axis.name]
        if axis.node_type == "center":
            lo = hi = axis.nodes.to(unit)
        else:
            lo, hi = axis.edges_min.to(unit), axis.edges_max.to(unit)
        table[f"{prefix}_LO"] = lo[np.newaxis]
        table[f"{prefix}_HI"] = hi[np.newaxis]
    for name, values in data.items():
        table[name] = values.T[np.newaxis]
    hdu = fits.BinTableHDU(table, name=extname)
    for key, value in meta.items():
        if key.upper() not in _STRUCTURAL:
            hdu.header[key] = value
    return hdu


def write_table_hdu(
    hdu: fits.BinTableHDU, path: str | os.PathLike, overwrite: bool = False
) -> Path:
    """Write one table HDU (after an empty primary HDU) atomically.

    Parameters
    ----------
    hdu : astropy.io.fits.BinTableHDU
        The HDU.
    path : str or path-like
        Output file (``.fits`` or ``.fits.gz``).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp)
    return Path(path)
