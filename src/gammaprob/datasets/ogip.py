"""OGIP spectral files: PHA (type I), ARF, RMF and background PHA, read and written.

References: OGIP/92-007 (PHA), CAL/GEN/92-002 (ARF, RMF), and the GADF page on OGIP
files. RMFs are read and written by :class:`gammaprob.irf.EDispKernel`; the other files are read
with :func:`gammaprob.utils.fits_tables.read_tables` (astropy.io.fits, no Table objects).
What gammaprob does with each PHA column:

- ``COUNTS`` (required; ``RATE`` spectra are rejected), checked to be non-negative integers.
- ``QUALITY`` (column or keyword): ``0`` is good, anything else excludes the channel from the
  safe mask. Without ``QUALITY`` the ``LO_THRES``/``HI_THRES`` keywords (TeV, as gammapy
  writes them) give the safe range; without both, every channel is safe.
- ``BACKSCAL`` (column or keyword, default 1): the ON/OFF acceptance, ``alpha =
  BACKSCAL_on / BACKSCAL_off``.
- ``AREASCAL`` (column or keyword, default 1): must be 1 in the ON spectrum (a per-channel
  area scaling is not supported); in the background spectrum it multiplies the OFF
  acceptance, as OGIP defines.
- ``EXPOSURE`` keyword: the livetime. A background file with a different ``EXPOSURE`` scales
  the OFF acceptance by ``EXPOSURE_off / EXPOSURE_on`` (gammapy ignores the background
  exposure; the joint-Crab files have equal exposures, so both agree there).
- ``GROUPING`` is ignored: gammaprob fits the ungrouped channels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np

from gammaprob.maps.axes import MapAxis
from gammaprob.maps.axes_tables import axis_from_bounds
from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits_tables import FitsTables, TableHDU, read_tables

if TYPE_CHECKING:
    from astropy.io import fits

__all__ = [
    "arf_hdulist",
    "pha_hdulist",
    "read_arf",
    "read_pha",
    "read_rmf",
    "rmf_hdulist",
]


def _column_or_keyword(hdu: TableHDU, name: str, default: float, dtype=np.float64) -> np.ndarray:
    """Per-channel values from a column, else a header keyword, else ``default``."""
    if hdu.has_column(name):
        return np.asarray(hdu.column(name), dtype=dtype).reshape(-1)
    return np.full(hdu.nrows, hdu.header.get(name, default), dtype=dtype)


def _bound(hdu: TableHDU, column: str, unit: u.UnitBase) -> u.Quantity:
    """One bound column as a 1D Quantity (a single-row vector column is accepted)."""
    values = hdu.column(column)
    if isinstance(values, list):
        raise FormatError(
            "a bin bound must not be a variable-length array",
            path=hdu.path,
            hdu=hdu.name,
            column=column,
        )
    values = np.asarray(values, dtype=float)
    if values.ndim == 2 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 1:
        raise FormatError(
            f"expected a 1D column or one row of a vector column, got shape {values.shape}",
            path=hdu.path,
            hdu=hdu.name,
            column=column,
        )
    return u.Quantity(values, unit)


def _energy_axis(
    hdu: TableHDU, lo: str, hi: str, name: str, default_unit: str | None = None
) -> MapAxis:
    """Log energy axis from the ``lo``/``hi`` bound columns, in the unit of ``lo``."""
    units = []
    for column in (lo, hi):
        unit = hdu.unit(column, default=default_unit)
        if not unit.is_equivalent(u.TeV):
            raise FormatError(
                f"unit {unit} is not an energy unit", path=hdu.path, hdu=hdu.name, column=column
            )
        units.append(unit)
    return axis_from_bounds(
        _bound(hdu, lo, units[0]),
        _bound(hdu, hi, units[1]),
        name,
        path=hdu.path,
        hdu=hdu.name,
        columns=(lo, hi),
    )


def read_pha(path: str | os.PathLike) -> dict[str, Any]:
    """Read a type I OGIP PHA spectrum (ON counts or background counts).

    Parameters
    ----------
    path : str or path-like
        PHA file with a ``SPECTRUM`` and an ``EBOUNDS`` HDU.

    Returns
    -------
    dict
        ``counts`` (float64), ``quality`` (int), ``backscal``, ``areascal`` (per channel),
        ``livetime`` (Quantity, s), ``energy_axis`` (reconstructed energy, ``EBOUNDS``),
        ``header`` (the ``SPECTRUM`` header as a dict, without commentary cards), ``gti``
        (a ``GTI`` or None) and ``path``.

    Raises
    ------
    FormatError
        Type II files, rate spectra, non-integer or negative counts, a missing or non-positive
        ``EXPOSURE``, or a channel count differing from ``EBOUNDS``.
    """
    path = Path(path)
    tables = read_tables(path)
    hdu = tables.table("SPECTRUM")
    header = dict(hdu.header)
    names = [name.upper() for name in hdu.names]
    if "COUNTS" not in names:
        extra = " (RATE spectra are not supported)" if "RATE" in names else ""
        raise FormatError(
            f"no COUNTS column{extra}; the table has {hdu.names}",
            path=path,
            hdu="SPECTRUM",
            column="COUNTS",
        )
    raw = hdu.column("COUNTS")
    type_ii = str(header.get("HDUCLAS4", "TYPE:I")).strip().upper() == "TYPE:II"
    if isinstance(raw, list) or np.ndim(raw) != 1 or type_ii:
        raise FormatError(
            "type II PHA files (several spectra per file) are not supported",
            path=path,
            hdu="SPECTRUM",
            column="COUNTS",
        )
    counts = np.asarray(raw).astype(np.float64)
    bad = ~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts))
    if np.any(bad):
        first = int(np.argmax(bad))
        raise FormatError(
            f"counts must be non-negative integers; {int(bad.sum())} channel(s) are not "
            f"(first: channel {first} = {counts[first]!r})",
            path=path,
            hdu="SPECTRUM",
            column="COUNTS",
        )
    livetime = header.get("EXPOSURE")
    if (
        isinstance(livetime, bool)
        or not isinstance(livetime, int | float)
        or not np.isfinite(livetime)
        or livetime <= 0
    ):
        raise FormatError(
            f"EXPOSURE keyword must be a positive livetime in s, got {livetime!r}",
            path=path,
            hdu="SPECTRUM",
            column="EXPOSURE",
        )
    energy_axis = _energy_axis(tables.table("EBOUNDS"), "E_MIN", "E_MAX", "energy")
    if energy_axis.nbin != counts.size:
        raise FormatError(
            f"{counts.size} channels but EBOUNDS has {energy_axis.nbin} bins",
            path=path,
            hdu="EBOUNDS",
        )
    scales = {}
    for column in ("BACKSCAL", "AREASCAL"):
        values = _column_or_keyword(hdu, column, 1.0)
        if np.any(~np.isfinite(values) | (values <= 0)):
            raise FormatError(
                f"{column} must be finite and positive",
                path=path,
                hdu="SPECTRUM",
                column=column,
            )
        scales[column] = values
    return {
        "counts": counts,
        "quality": _column_or_keyword(hdu, "QUALITY", 0, dtype=np.int64),
        "has_quality": "QUALITY" in names or "QUALITY" in header,
        "backscal": scales["BACKSCAL"],
        "areascal": scales["AREASCAL"],
        "livetime": float(livetime) * u.s,
        "energy_axis": energy_axis,
        "header": header,
        "gti": _read_gti(tables, path),
        "path": path,
    }


def _read_gti(tables: FitsTables, path: Path):
    """Read the ``GTI`` HDU of a PHA file as a :class:`~gammaprob.data.GTI` (None without)."""
    if "GTI" not in tables:
        return None
    from gammaprob.data.gti import GTI

    return GTI.from_hdu(tables.astropy_hdu("GTI"), path=path)


def read_arf(path: str | os.PathLike) -> tuple[MapAxis, u.Quantity]:
    """Read an OGIP ARF (``SPECRESP`` HDU).

    Parameters
    ----------
    path : str or path-like
        ARF file.

    Returns
    -------
    energy_axis_true : MapAxis
        True-energy axis from ``ENERG_LO``/``ENERG_HI``.
    aeff : `~astropy.units.Quantity`
        Effective area per true-energy bin (``SPECRESP``, cm2 unless the file says otherwise).
    """
    path = Path(path)
    hdu = read_tables(path).table("SPECRESP")
    unit = hdu.unit("SPECRESP", default="cm2")
    axis = _energy_axis(hdu, "ENERG_LO", "ENERG_HI", "energy_true")
    aeff = np.asarray(hdu.column("SPECRESP"), dtype=np.float64)
    if aeff.shape != (axis.nbin,) or np.any(~np.isfinite(aeff) | (aeff < 0)):
        raise FormatError(
            f"effective area must be finite and non-negative, one value per true-energy bin "
            f"({axis.nbin}), got shape {aeff.shape}",
            path=path,
            hdu="SPECRESP",
            column="SPECRESP",
        )
    if not unit.is_equivalent(u.m**2):
        raise FormatError(
            f"unit {unit} is not an area", path=path, hdu="SPECRESP", column="SPECRESP"
        )
    return axis, u.Quantity(aeff, unit)


def read_rmf(path: str | os.PathLike) -> tuple[MapAxis, MapAxis, np.ndarray]:
    """Read an OGIP RMF with :meth:`gammaprob.irf.EDispKernel.read`.

    Parameters
    ----------
    path : str or path-like
        RMF file (``MATRIX`` or ``SPECRESP MATRIX`` HDU plus ``EBOUNDS``).

    Returns
    -------
    energy_axis_true : MapAxis
        True-energy axis from ``ENERG_LO``/``ENERG_HI`` (TeV).
    energy_axis : MapAxis
        Reconstructed-energy axis from ``EBOUNDS`` (TeV).
    matrix : numpy.ndarray
        Redistribution probabilities, shape ``(n_true, n_reco)``.
    """
    from gammaprob.irf import EDispKernel

    kernel = EDispKernel.read(path)
    return kernel.energy_axis_true, kernel.energy_axis, np.array(kernel.pdf_matrix)


# ---- writing ------------------------------------------------------------------------------------


def _ebounds_hdu(axis: MapAxis) -> fits.BinTableHDU:
    from astropy.io import fits

    hdu = fits.BinTableHDU(axis.to_table(format="ogip"), name="EBOUNDS")
    hdu.header.update(
        {
            "HDUCLASS": "OGIP",
            "HDUCLAS1": "RESPONSE",
            "HDUCLAS2": "EBOUNDS",
            "HDUVERS": "1.2.0",
            "CHANTYPE": "PHA",
            "DETCHANS": axis.nbin,
        }
    )
    return hdu


def pha_hdulist(
    counts: np.ndarray,
    quality: np.ndarray,
    backscal: np.ndarray,
    energy_axis: MapAxis,
    livetime: u.Quantity,
    keywords: dict[str, Any],
    gti=None,
) -> fits.HDUList:
    """Build a type I PHA file (``SPECTRUM`` + ``EBOUNDS`` [+ ``GTI``]).

    Parameters
    ----------
    counts, quality, backscal : numpy.ndarray
        Per-channel counts, OGIP quality flags and BACKSCAL.
    energy_axis : MapAxis
        Reconstructed-energy axis (written in keV).
    livetime : `~astropy.units.Quantity`
        ``EXPOSURE`` keyword.
    keywords : dict
        Further header keywords (``HDUCLAS2``, ``OBS_ID``, file links, thresholds).
    gti : GTI, optional
        Appended as a ``GTI`` HDU.

    Returns
    -------
    astropy.io.fits.HDUList
        The file content.
    """
    from astropy.io import fits

    n = energy_axis.nbin
    columns = [
        fits.Column("CHANNEL", "J", array=np.arange(n, dtype=np.int32)),
        fits.Column("COUNTS", "J", array=np.asarray(counts, dtype=np.int32)),
        fits.Column("QUALITY", "I", array=np.asarray(quality, dtype=np.int16)),
        fits.Column("BACKSCAL", "D", array=np.asarray(backscal, dtype=np.float64)),
        fits.Column("AREASCAL", "D", array=np.ones(n)),
    ]
    spectrum = fits.BinTableHDU.from_columns(columns, name="SPECTRUM")
    spectrum.header["TLMIN1"] = 0
    spectrum.header.update(
        {
            "HDUCLASS": "OGIP",
            "HDUCLAS1": "SPECTRUM",
            "HDUCLAS3": "COUNT",
            "HDUCLAS4": "TYPE:I",
            "HDUVERS": "1.2.1",
            "CHANTYPE": "PHA",
            "DETCHANS": n,
            "POISSERR": True,
            "FILTER": "None",
            "CORRFILE": "",
            "CORRSCAL": "",
            "EXPOSURE": livetime.to_value(u.s),
        }
    )
    spectrum.header.update(keywords)
    hdus = [fits.PrimaryHDU(), spectrum, _ebounds_hdu(energy_axis)]
    if gti is not None:
        hdus.append(gti.to_table_hdu())
    return fits.HDUList(hdus)


def arf_hdulist(energy_axis_true: MapAxis, aeff: u.Quantity) -> fits.HDUList:
    """Build an ARF file (``SPECRESP`` HDU; energies in keV, area in cm2, float64).

    Parameters
    ----------
    energy_axis_true : MapAxis
        True-energy axis.
    aeff : `~astropy.units.Quantity`
        Effective area per true-energy bin.

    Returns
    -------
    astropy.io.fits.HDUList
        The file content.
    """
    from astropy.io import fits

    columns = [
        fits.Column("ENERG_LO", "D", unit="keV", array=energy_axis_true.edges_min.to_value(u.keV)),
        fits.Column("ENERG_HI", "D", unit="keV", array=energy_axis_true.edges_max.to_value(u.keV)),
        fits.Column("SPECRESP", "D", unit="cm2", array=aeff.to_value(u.cm**2)),
    ]
    hdu = fits.BinTableHDU.from_columns(columns, name="SPECRESP")
    hdu.header.update(
        {"HDUCLASS": "OGIP", "HDUCLAS1": "RESPONSE", "HDUCLAS2": "SPECRESP", "HDUVERS": "1.1.0"}
    )
    return fits.HDUList([fits.PrimaryHDU(), hdu])


def rmf_hdulist(
    energy_axis_true: MapAxis, energy_axis: MapAxis, matrix: np.ndarray
) -> fits.HDUList:
    """Build an RMF file with :meth:`gammaprob.irf.EDispKernel.to_hdulist` (float64 matrix).

    Parameters
    ----------
    energy_axis_true, energy_axis : MapAxis
        True- and reconstructed-energy axes.
    matrix : numpy.ndarray
        Probabilities, shape ``(n_true, n_reco)``.

    Returns
    -------
    astropy.io.fits.HDUList
        The file content.
    """
    from gammaprob.irf.edisp_kernel import EDispKernel

    return EDispKernel(energy_axis_true, energy_axis, matrix).to_hdulist()
