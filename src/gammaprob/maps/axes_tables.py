"""Axes in tables: GADF DL3 IRF ``<PREFIX>_LO/_HI`` columns and OGIP ``EBOUNDS``/``ENERGIES``.

The :class:`~gammaprob.maps.MapAxis` methods ``to_table_columns``, ``from_table_columns``,
``to_table`` and ``from_table`` call these functions.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

from gammaprob.utils.errors import FormatError

from .axes import MapAxis

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "GADF_DL3_COLUMN_PREFIX",
    "axis_from_bounds",
    "axis_from_ogip_table",
    "axis_from_table_columns",
    "axis_to_ogip_table",
    "axis_to_table_columns",
]

#: GADF DL3 IRF column prefix (``<PREFIX>_LO`` / ``<PREFIX>_HI``) of each standard axis.
GADF_DL3_COLUMN_PREFIX = {
    "energy": "ENERG",
    "energy_true": "ENERG",
    "migra": "MIGRA",
    "offset": "THETA",
    "rad": "RAD",
    "fov_lon": "DETX",
    "fov_lat": "DETY",
}
_GADF_DL3_NAME_FROM_PREFIX = {
    "ENERG": "energy_true",
    "ETRUE": "energy_true",
    "MIGRA": "migra",
    "THETA": "offset",
    "RAD": "rad",
    "DETX": "fov_lon",
    "DETY": "fov_lat",
}
_DEFAULT_INTERP = {"energy": "log", "energy_true": "log"}


def axis_to_table_columns(
    axis: MapAxis, format: str = "gadf-dl3", column_prefix: str | None = None
) -> dict:
    """Return the ``<PREFIX>_LO`` / ``<PREFIX>_HI`` columns of a GADF DL3 IRF table.

    Parameters
    ----------
    format : {"gadf-dl3"}
        Table convention.
    column_prefix : str, optional
        Column prefix (default from the axis name: ``ENERG``, ``MIGRA``, ``THETA``, ``RAD``,
        ``DETX``, ``DETY``).

    Returns
    -------
    dict of str to `~astropy.units.Quantity`
        ``{"<PREFIX>_LO": edges_min, "<PREFIX>_HI": edges_max}`` as 1D arrays. A GADF IRF
        HDU stores each as one table row (wrap with ``[value]`` for a one-row table).
        Centre-node axes are written with ``_LO == _HI == nodes``.
    """
    if format != "gadf-dl3":
        raise ValueError(f"to_table_columns: unknown format {format!r}; expected 'gadf-dl3'")
    prefix = column_prefix or GADF_DL3_COLUMN_PREFIX.get(axis.name)
    if prefix is None:
        raise ValueError(f"axis {axis.name!r} has no GADF DL3 column prefix; pass column_prefix=")
    if axis.node_type == "center":
        lo = hi = axis.nodes
    else:
        lo, hi = axis.edges_min, axis.edges_max
    return {f"{prefix}_LO": lo, f"{prefix}_HI": hi}


def axis_from_table_columns(
    table: Table,
    column_prefix: str,
    format: str = "gadf-dl3",
    name: str | None = None,
    interp: str | None = None,
) -> MapAxis:
    """Read an axis from ``<PREFIX>_LO`` / ``<PREFIX>_HI`` columns of a GADF DL3 IRF table.

    Both the GADF layout (one row holding vector columns) and plain one-value-per-row
    columns are accepted. Equal ``_LO`` and ``_HI`` give a centre-node axis.

    Parameters
    ----------
    table : `~astropy.table.Table`
        The IRF table (e.g. ``Table.read(path, hdu="EFFECTIVE AREA")``).
    column_prefix : str
        ``ENERG``, ``ETRUE``, ``MIGRA``, ``THETA``, ``RAD``, ``DETX``, ``DETY``, ...
    format : {"gadf-dl3"}
        Table convention.
    name : str, optional
        Axis name (default from the prefix; ``ENERG`` gives ``energy_true``, or ``energy``
        when the table meta has ``HDUCLAS2`` = ``BKG`` or ``RAD_MAX``).
    interp : str, optional
        Interpolation (default ``log`` for energies, ``lin`` otherwise).

    Returns
    -------
    MapAxis
        The axis.

    Raises
    ------
    FormatError
        Missing columns, missing unit on a standard axis, non-contiguous or non-monotonic
        bins.
    """
    if format != "gadf-dl3":
        raise ValueError(f"from_table_columns: unknown format {format!r}; expected 'gadf-dl3'")
    prefix = column_prefix.upper()
    if name is None:
        name = _GADF_DL3_NAME_FROM_PREFIX.get(prefix, prefix.lower())
        # backgrounds and RAD_MAX tables are binned in reconstructed energy
        if prefix == "ENERG" and str(table.meta.get("HDUCLAS2", "")).strip() in (
            "BKG",
            "RAD_MAX",
        ):
            name = "energy"
    interp = interp or _DEFAULT_INTERP.get(name, "lin")
    hdu = table.meta.get("EXTNAME")
    lo = _read_table_column(table, f"{prefix}_LO", hdu)
    hi = _read_table_column(table, f"{prefix}_HI", hdu)
    if lo.shape != hi.shape:
        raise FormatError(
            f"{prefix}_LO and {prefix}_HI have different lengths {lo.shape}, {hi.shape}",
            hdu=hdu,
        )
    hi = hi.to(lo.unit)
    if np.allclose(lo.value, hi.value, rtol=1e-10, atol=0):
        return _axis_or_format_error(lo, "center", interp, name, hdu, f"{prefix}_LO")
    edges = _edges_from_lo_hi(lo, hi, hdu, f"{prefix}_LO/{prefix}_HI")
    return _axis_or_format_error(edges, "edges", interp, name, hdu, f"{prefix}_LO")


def axis_to_ogip_table(axis: MapAxis, format: str = "ogip") -> Table:
    """Write an energy axis as an OGIP ``EBOUNDS`` or ``ENERGIES`` table.

    Parameters
    ----------
    format : {"ogip", "ogip-arf"}
        ``"ogip"``: ``EBOUNDS`` with ``CHANNEL``, ``E_MIN``, ``E_MAX`` (keV);
        ``"ogip-arf"``: ``ENERGIES``/``SPECRESP``-style ``ENERG_LO``, ``ENERG_HI`` (keV).

    Returns
    -------
    `~astropy.table.Table`
        Table with ``EXTNAME`` in its meta.
    """
    if not axis.unit.is_equivalent(u.keV):
        raise ValueError(
            f"to_table: OGIP tables need an energy axis, {axis.name!r} has unit {axis.unit}"
        )
    from astropy.table import Table

    lo, hi = axis.edges_min.to(u.keV), axis.edges_max.to(u.keV)
    if format == "ogip":
        table = Table({"CHANNEL": np.arange(axis.nbin, dtype=np.int16), "E_MIN": lo, "E_MAX": hi})
        table.meta["EXTNAME"] = "EBOUNDS"
    elif format == "ogip-arf":
        table = Table({"ENERG_LO": lo, "ENERG_HI": hi})
        table.meta["EXTNAME"] = "ENERGIES"
    else:
        raise ValueError(f"to_table: unknown format {format!r}; expected 'ogip' or 'ogip-arf'")
    return table


def axis_from_ogip_table(table: Table, format: str = "ogip", name: str | None = None) -> MapAxis:
    """Read an energy axis from an OGIP ``EBOUNDS`` or ``ENERGIES`` table.

    Parameters
    ----------
    table : `~astropy.table.Table`
        The table (``E_MIN``/``E_MAX`` for ``"ogip"``, ``ENERG_LO``/``ENERG_HI`` for
        ``"ogip-arf"``).
    format : {"ogip", "ogip-arf"}
        Table convention.
    name : str, optional
        Axis name (default ``energy`` for ``ogip``, ``energy_true`` for ``ogip-arf``).

    Returns
    -------
    MapAxis
        Log-interpolated energy axis in the table's unit.
    """
    hdu = table.meta.get("EXTNAME")
    if format == "ogip":
        columns, default_name = ("E_MIN", "E_MAX"), "energy"
    elif format == "ogip-arf":
        columns, default_name = ("ENERG_LO", "ENERG_HI"), "energy_true"
    else:
        raise ValueError(f"from_table: unknown format {format!r}; expected 'ogip' or 'ogip-arf'")
    lo = _read_table_column(table, columns[0], hdu)
    hi = _read_table_column(table, columns[1], hdu)
    return axis_from_bounds(lo, hi, name or default_name, hdu=hdu, columns=columns)


def axis_from_bounds(
    lo: u.Quantity,
    hi: u.Quantity,
    name: str,
    interp: str = "log",
    *,
    path: str | os.PathLike | None = None,
    hdu: str | None = None,
    columns: tuple[str, str] = ("E_MIN", "E_MAX"),
) -> MapAxis:
    """Build an edges axis from the lower and upper bounds of contiguous bins.

    Parameters
    ----------
    lo, hi : `~astropy.units.Quantity`
        Lower and upper bin bounds (1D, same length, equivalent units); the axis has the unit
        of ``lo``.
    name : str
        Axis name.
    interp : str
        Interpolation of the axis.
    path, hdu : optional
        Where the bounds were read, for error messages.
    columns : tuple of str
        Names of the bound columns, for error messages.

    Returns
    -------
    MapAxis
        The axis.

    Raises
    ------
    FormatError
        Different lengths or incompatible units of the bounds, no bins, non-contiguous bins,
        or edges that do not make an axis (not increasing, not positive for ``log``).
    """
    column = f"{columns[0]}/{columns[1]}"
    if lo.shape != hi.shape:
        raise FormatError(
            f"the bounds have different lengths {lo.shape}, {hi.shape}",
            path=path,
            hdu=hdu,
            column=column,
        )
    try:
        hi = hi.to(lo.unit)
    except u.UnitConversionError as exc:
        raise FormatError(str(exc), path=path, hdu=hdu, column=column) from exc
    edges = _edges_from_lo_hi(lo, hi, hdu, column, path=path)
    return _axis_or_format_error(edges, "edges", interp, name, hdu, columns[0], path=path)


def _read_table_column(table: Table, column: str, hdu: str | None) -> u.Quantity:
    """Return a table column as a 1D Quantity (the first row of a vector column)."""
    names = {name.upper(): name for name in table.colnames}
    if column.upper() not in names:
        raise FormatError(
            f"required column is missing; the table has {table.colnames}", hdu=hdu, column=column
        )
    col = table[names[column.upper()]]
    values = np.asarray(col, dtype=float)
    if values.ndim == 2 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 1:
        raise FormatError(
            f"expected a 1D column or one row of a vector column, got shape {values.shape}",
            hdu=hdu,
            column=column,
        )
    unit = col.unit if col.unit is not None else u.one
    return u.Quantity(values, unit)


def _edges_from_lo_hi(
    lo: u.Quantity, hi: u.Quantity, hdu: str | None, column: str, path=None
) -> u.Quantity:
    """Join contiguous lower/upper bin bounds into edges; non-contiguous bins are an error."""
    if lo.size == 0:
        raise FormatError("the axis has no bins", path=path, hdu=hdu, column=column)
    if lo.size > 1 and not np.allclose(lo.value[1:], hi.value[:-1], rtol=1e-6, atol=0):
        bad = int(np.argmax(~np.isclose(lo.value[1:], hi.value[:-1], rtol=1e-6, atol=0)))
        raise FormatError(
            f"bins are not contiguous: upper bound {hi.value[bad]} of bin {bad} != lower bound "
            f"{lo.value[bad + 1]} of bin {bad + 1}",
            path=path,
            hdu=hdu,
            column=column,
        )
    return u.Quantity(np.append(lo.value, hi.value[-1]), lo.unit)


def _axis_or_format_error(nodes, node_type, interp, name, hdu, column, path=None) -> MapAxis:
    try:
        return MapAxis(nodes, node_type=node_type, interp=interp, name=name)
    except ValueError as exc:
        raise FormatError(str(exc), path=path, hdu=hdu, column=column) from exc
