"""Non-spatial map axes in FITS tables: gammapy ``BANDS``, OGIP ``EBOUNDS``, Fermi ``ENERGIES``.

Layouts read:

- **BANDS** (gammapy/GADF maps): one row per channel (first axis varies fastest), header
  keywords ``AXCOLSn`` (``"E_MIN,E_MAX"`` or ``"<NAME>_MIN,<NAME>_MAX"`` for edges, a single
  column for centre nodes or labels) and ``INTERPn``; time axes add ``MJDREFI``, ``MJDREFF``,
  ``TIMESYS``.
- **EBOUNDS** (OGIP, Fermi counts cubes): ``E_MIN``, ``E_MAX`` → reconstructed ``energy`` edges.
- **ENERGIES** (Fermi exposure/model cubes): ``Energy`` or ``ENERGY`` centre nodes →
  ``energy_true``. Fermi tools write this column without a unit; MeV is then assumed (the
  Fermi convention), every other missing unit is an error.

Writing produces the BANDS layout, read back exactly (float64 columns).
"""

from __future__ import annotations

import os

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

from gammaprob.utils.errors import FormatError

from .axes import MapAxes, MapAxis
from .axes_label import LabelMapAxis
from .axes_time import TimeMapAxis

__all__ = ["axes_from_bands_hdu", "axes_to_bands_hdu", "axes_to_header"]

_ENERGY_NAMES = ("energy", "energy_true")


def _column_quantity(
    hdu: fits.BinTableHDU, name: str, path, default_unit: str | None = None
) -> u.Quantity:
    names = {n.upper(): n for n in hdu.columns.names}
    if name.upper() not in names:
        raise FormatError(
            f"column is missing; the table has {hdu.columns.names}",
            path=path,
            hdu=hdu.name,
            column=name,
        )
    col = hdu.columns[names[name.upper()]]
    text = (col.unit or "").strip()
    if not text and default_unit is not None:
        text = default_unit
    try:
        unit = u.Unit(text, parse_strict="raise")
    except ValueError as exc:
        raise FormatError(f"unknown unit {text!r}", path=path, hdu=hdu.name, column=name) from exc
    return u.Quantity(np.asarray(hdu.data[names[name.upper()]], dtype=float), unit)


def _make_axis(nodes, node_type, interp, name, path, hdu, column) -> MapAxis:
    try:
        return MapAxis(nodes, node_type=node_type, interp=interp, name=name)
    except ValueError as exc:
        raise FormatError(f"invalid axis: {exc}", path=path, hdu=hdu, column=column) from exc


def _edges_from_unique(lo: u.Quantity, hi: u.Quantity, path, hdu, column) -> u.Quantity:
    lo_u, hi_u = np.unique(lo.value), np.unique(hi.to_value(lo.unit))
    if lo_u.size != hi_u.size or (
        lo_u.size > 1 and not np.allclose(lo_u[1:], hi_u[:-1], rtol=1e-6, atol=0)
    ):
        raise FormatError(
            "bin bounds are not contiguous and increasing (each bin must start where the previous one ends)",
            path=path,
            hdu=hdu,
            column=column,
        )
    return u.Quantity(np.append(lo_u, hi_u[-1]), lo.unit)


def _ordered_unique(values: np.ndarray) -> list:
    seen: dict = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def _gadf_axis(hdu: fits.BinTableHDU, idx: int, path):
    header = hdu.header
    colnames = [c.strip() for c in header[f"AXCOLS{idx}"].split(",")]
    first = colnames[0].upper()
    if first in ("E_MIN", "ENERGY"):
        name = "energy"
    else:
        name = first.removesuffix("_MIN").lower()
        if name == "theta":  # older gammapy PSF maps
            name = "rad"
    interp = header.get(f"INTERP{idx}") or ("log" if name in _ENERGY_NAMES else "lin")
    if len(colnames) == 1:
        column = hdu.data[colnames[0]]
        if column.dtype.kind in "US":
            return LabelMapAxis(
                _ordered_unique(np.char.strip(np.asarray(column, dtype=str))),
                name=colnames[0].lower(),
            )
        nodes = _column_quantity(hdu, colnames[0], path)
        nodes = u.Quantity(np.unique(nodes.value), nodes.unit)
        return _make_axis(nodes, "center", interp, name, path, hdu.name, colnames[0])
    if len(colnames) != 2:
        raise FormatError(
            f"AXCOLS{idx} must name one or two columns, got {colnames}", path=path, hdu=hdu.name
        )
    lo = _column_quantity(hdu, colnames[0], path)
    hi = _column_quantity(hdu, colnames[1], path)
    if "MJDREFI" in header and lo.unit.is_equivalent(u.s):
        scale = str(header.get("TIMESYS", "tt")).lower()
        reference = Time(
            int(header["MJDREFI"]), float(header.get("MJDREFF", 0.0)), format="mjd", scale=scale
        )
        lo_u, hi_u = np.unique(lo.value), np.unique(hi.to_value(lo.unit))
        try:
            return TimeMapAxis(lo_u * lo.unit, hi_u * lo.unit, reference, name=name)
        except ValueError as exc:
            raise FormatError(
                f"invalid time axis: {exc}", path=path, hdu=hdu.name, column=colnames[0]
            ) from exc
    edges = _edges_from_unique(lo, hi, path, hdu.name, colnames[0])
    return _make_axis(edges, "edges", interp, name, path, hdu.name, colnames[0])


def axes_from_bands_hdu(hdu: fits.BinTableHDU, path: str | os.PathLike | None = None) -> MapAxes:
    """Read the non-spatial axes of a map from its bands table.

    Parameters
    ----------
    hdu : `~astropy.io.fits.BinTableHDU`
        ``BANDS``-style table (with ``AXCOLSn`` keywords), ``EBOUNDS`` or ``ENERGIES``.
    path : str or path-like, optional
        File name, for error messages.

    Returns
    -------
    MapAxes
        The axes, in ``AXCOLS1, AXCOLS2, ...`` order.

    Raises
    ------
    FormatError
        Missing columns or units, non-monotonic or non-contiguous bins, unknown layout.
    """
    header = hdu.header
    if "AXCOLS1" in header:
        axes, idx = [], 1
        while f"AXCOLS{idx}" in header:
            axes.append(_gadf_axis(hdu, idx, path))
            idx += 1
        return MapAxes(axes)
    names = [n.upper() for n in hdu.columns.names]
    if "E_MIN" in names and "E_MAX" in names:
        lo = _column_quantity(hdu, "E_MIN", path)
        hi = _column_quantity(hdu, "E_MAX", path).to(lo.unit)
        if lo.size > 1 and not np.allclose(lo.value[1:], hi.value[:-1], rtol=1e-6, atol=0):
            raise FormatError(
                "E_MIN/E_MAX bins are not contiguous", path=path, hdu=hdu.name, column="E_MIN"
            )
        edges = u.Quantity(np.append(lo.value, hi.value[-1]), lo.unit)
        return MapAxes([_make_axis(edges, "edges", "log", "energy", path, hdu.name, "E_MIN")])
    if "ENERGY" in names:
        nodes = _column_quantity(hdu, "ENERGY", path, default_unit="MeV")
        return MapAxes(
            [_make_axis(nodes, "center", "log", "energy_true", path, hdu.name, "ENERGY")]
        )
    raise FormatError(
        "not a bands table: expected AXCOLSn keywords, E_MIN/E_MAX or ENERGY columns",
        path=path,
        hdu=hdu.name,
    )


def _axis_columns(axis) -> list[tuple[str, np.ndarray, u.UnitBase | None]]:
    """(column name, per-bin values, unit) for one axis; the AXCOLS columns come first."""
    upper = axis.name.upper()
    if not upper:
        raise ValueError("every axis of a map written to FITS needs a name")
    if isinstance(axis, LabelMapAxis):
        return [(upper, np.asarray(axis.center), None)]
    if isinstance(axis, TimeMapAxis):
        return [
            (f"{upper}_MIN", axis.edges_min.value, axis.unit),
            (f"{upper}_MAX", axis.edges_max.value, axis.unit),
        ]
    center_name = "ENERGY" if axis.name == "energy" else upper
    lo_name, hi_name = (
        ("E_MIN", "E_MAX") if axis.name == "energy" else (f"{upper}_MIN", f"{upper}_MAX")
    )
    center = (center_name, axis.center.value, axis.unit)
    if axis.node_type == "center":
        if axis.nbin == 1:
            return [center]
        return [
            center,
            (lo_name, axis.edges_min.value, axis.unit),
            (hi_name, axis.edges_max.value, axis.unit),
        ]
    return [
        (lo_name, axis.edges_min.value, axis.unit),
        (hi_name, axis.edges_max.value, axis.unit),
        center,
    ]


def _axcols(axis) -> str:
    columns = _axis_columns(axis)
    if isinstance(axis, LabelMapAxis) or getattr(axis, "node_type", "") == "center":
        return columns[0][0]
    return f"{columns[0][0]},{columns[1][0]}"


def axes_to_header(axes: MapAxes) -> fits.Header:
    """``AXCOLSn`` / ``INTERPn`` (and time reference) keywords describing ``axes``."""
    header = fits.Header()
    for idx, axis in enumerate(axes, start=1):
        header[f"AXCOLS{idx}"] = _axcols(axis)
        header[f"INTERP{idx}"] = axis.interp
        if isinstance(axis, TimeMapAxis):
            ref = axis.reference_time
            mjd_int = int(np.floor(ref.mjd))
            header["MJDREFI"] = mjd_int
            header["MJDREFF"] = float(
                (ref - Time(mjd_int, format="mjd", scale=ref.scale)).to_value(u.d)
            )
            header["TIMESYS"] = ref.scale
    return header


def axes_to_bands_hdu(axes: MapAxes, name: str = "BANDS") -> fits.BinTableHDU:
    """Write ``axes`` as a BANDS table (one row per channel, first axis fastest).

    Parameters
    ----------
    axes : MapAxes
        Non-spatial axes.
    name : str
        Extension name.

    Returns
    -------
    `~astropy.io.fits.BinTableHDU`
        The table, with ``AXCOLSn``/``INTERPn`` keywords.
    """
    axes = MapAxes(axes)
    shape = axes.shape
    # idx[i] runs over axis i with axis 0 fastest (C order on the reversed shape).
    grids = np.meshgrid(*(np.arange(n) for n in shape[::-1]), indexing="ij")[::-1]
    table = Table()
    table["CHANNEL"] = np.arange(int(np.prod(shape)), dtype=np.int64)
    for axis, grid in zip(axes, grids, strict=True):
        for colname, values, unit in _axis_columns(axis):
            column = np.asarray(values)[grid.ravel()]
            table[colname] = column if unit is None else u.Quantity(column, unit)
    hdu = fits.BinTableHDU(table, name=name)
    hdu.header.update(axes_to_header(axes))
    return hdu
