"""Flux points in the GADF SED formats and the dataset that holds them.

Formats (GADF "Flux points" page): ``dnde`` (needs ``e_ref``, ``dnde``), ``e2dnde``
(``e_ref``, ``e2dnde``), ``flux`` and ``eflux`` (``e_min``, ``e_max``, value), and
``likelihood`` (``e_min``, ``e_max``, ``e_ref``, ``ref_dnde``, ``ref_flux``, ``ref_eflux``,
``norm``, optionally the profiles ``norm_scan`` and ``stat_scan`` per point). Each value may
have ``<q>_err`` (symmetric), ``<q>_errn``/``<q>_errp`` (asymmetric), ``<q>_ul`` and the flag
``is_ul``; other columns (``ts``, ``sqrt_ts``, ``npred``, ...) are kept.

Energies are converted to TeV on reading. Without ``e_ref`` the reference energy is the
geometric mean of ``e_min`` and ``e_max`` (as gammapy does).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np

from gammaprob.utils.errors import FormatError
from gammaprob.utils.io import atomic_path

from ._checks import as_mask, frozen

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["SED_TYPES", "FluxPoints", "FluxPointsDataset"]

SED_TYPES = ("dnde", "e2dnde", "flux", "eflux", "likelihood")
REQUIRED_COLUMNS = {
    "dnde": ("e_ref", "dnde"),
    "e2dnde": ("e_ref", "e2dnde"),
    "flux": ("e_min", "e_max", "flux"),
    "eflux": ("e_min", "e_max", "eflux"),
    "likelihood": ("e_min", "e_max", "e_ref", "ref_dnde", "ref_flux", "ref_eflux", "norm"),
}
_VALUE_COLUMN = {
    "dnde": "dnde",
    "e2dnde": "e2dnde",
    "flux": "flux",
    "eflux": "eflux",
    "likelihood": "norm",
}
_UNIT = {
    "dnde": u.Unit("cm-2 s-1 TeV-1"),
    "e2dnde": u.Unit("erg cm-2 s-1"),
    "flux": u.Unit("cm-2 s-1"),
    "eflux": u.Unit("erg cm-2 s-1"),
    "likelihood": u.one,
}
_SQRT_TS_THRESHOLD_UL = 2.0


def _without_photons(unit: u.UnitBase) -> u.UnitBase:
    """Drop ``ph`` from a unit (``ph / (cm2 s)`` -> ``1 / (cm2 s)``), as GADF files use both."""
    unit = u.Unit(unit)
    if not hasattr(unit, "bases") or u.ph not in unit.bases:
        return unit
    pairs = [(b, p) for b, p in zip(unit.bases, unit.powers, strict=True) if b != u.ph]
    return u.CompositeUnit(unit.scale, [b for b, _ in pairs], [p for _, p in pairs])


def _guess_sed_type(columns: list[str]) -> str | None:
    for sed_type in ("likelihood", "dnde", "e2dnde", "flux", "eflux"):
        if set(REQUIRED_COLUMNS[sed_type]) <= set(columns):
            return sed_type
    return None


class FluxPoints:
    """A table of flux points (immutable; read with :meth:`read`).

    Parameters
    ----------
    table : `~astropy.table.Table`
        Columns as in the GADF SED format (see the module docstring).
    sed_type : {"dnde", "e2dnde", "flux", "eflux", "likelihood"}, optional
        Default: the ``SED_TYPE`` keyword, else guessed from the columns.
    path : str or path-like, optional
        Source file, for error messages.

    Raises
    ------
    FormatError
        Missing columns, units of the wrong kind, non-positive energies or ``e_min >= e_max``.
    """

    def __init__(
        self, table: Table, sed_type: str | None = None, path: str | os.PathLike | None = None
    ) -> None:
        from astropy.table import Table

        table = Table(table, copy=True)
        for column in table.colnames:
            if table[column].unit is not None:
                table[column].unit = _without_photons(table[column].unit)
        sed_type = sed_type or table.meta.get("SED_TYPE") or _guess_sed_type(table.colnames)
        if sed_type not in SED_TYPES:
            raise FormatError(
                f"unknown or missing SED type {sed_type!r}; expected one of {SED_TYPES} (SED_TYPE keyword)",
                path=path,
                column="SED_TYPE",
            )
        for column in REQUIRED_COLUMNS[sed_type]:
            if column not in table.colnames:
                raise FormatError(
                    f"a {sed_type!r} SED needs column {column!r}; the table has {table.colnames}",
                    path=path,
                    column=column,
                )
        for column in ("e_ref", "e_min", "e_max"):
            if column in table.colnames:
                table[column] = self._energy(table, column, path)
        if "e_ref" not in table.colnames:
            table["e_ref"] = np.sqrt(table["e_min"] * table["e_max"])
        if "e_min" in table.colnames and np.any(table["e_min"] >= table["e_max"]):
            raise FormatError("e_min must be below e_max in every row", path=path, column="e_min")
        self._check_units(table, sed_type, path)
        if "is_ul" in table.colnames:
            table["is_ul"] = np.asarray(table["is_ul"], dtype=bool)
        table.meta["SED_TYPE"] = sed_type
        self._table = table
        self._sed_type = sed_type

    @staticmethod
    def _energy(table: Table, column: str, path) -> u.Quantity:
        unit = table[column].unit
        if unit is None or not u.Unit(unit).is_equivalent(u.TeV):
            raise FormatError(f"expected an energy unit, got {unit!r}", path=path, column=column)
        values = u.Quantity(table[column]).to(u.TeV)
        if np.any(~np.isfinite(values.value) | (values.value <= 0)):
            raise FormatError("energies must be finite and positive", path=path, column=column)
        return values

    @staticmethod
    def _check_units(table: Table, sed_type: str, path) -> None:
        prefixes = {_VALUE_COLUMN[sed_type]} | (
            {"ref_dnde", "ref_flux", "ref_eflux"} if sed_type == "likelihood" else set()
        )
        for column in table.colnames:
            base = column
            for suffix in ("_errn", "_errp", "_err", "_ul", "_scan"):
                base = base.removesuffix(suffix)
            if base not in prefixes:
                continue
            expected = (
                _UNIT[base.removeprefix("ref_")] if base.startswith("ref_") else _UNIT[sed_type]
            )
            unit = u.Unit(table[column].unit or "")
            if not unit.is_equivalent(expected):
                raise FormatError(
                    f"unit {unit} is not convertible to {expected}", path=path, column=column
                )

    # ---- access ------------------------------------------------------------------------------
    @property
    def sed_type(self) -> str:
        """SED type of the stored values."""
        return self._sed_type

    @property
    def table(self) -> Table:
        """A copy of the table."""
        from astropy.table import Table

        return Table(self._table, copy=True)

    def __len__(self) -> int:
        return len(self._table)

    def has(self, column: str) -> bool:
        """Whether the table has ``column``."""
        return column in self._table.colnames

    def _quantity(self, column: str) -> u.Quantity:
        values = self._table[column]
        return u.Quantity(np.array(values, dtype=float), values.unit or u.one)

    @property
    def energy_ref(self) -> u.Quantity:
        """Reference energies (TeV)."""
        return self._quantity("e_ref")

    @property
    def energy_min(self) -> u.Quantity | None:
        """Lower bin edges (TeV), None if the table has none."""
        return self._quantity("e_min") if self.has("e_min") else None

    @property
    def energy_max(self) -> u.Quantity | None:
        """Upper bin edges (TeV), None if the table has none."""
        return self._quantity("e_max") if self.has("e_max") else None

    @property
    def value(self) -> u.Quantity:
        """The measured values (``dnde``, ``e2dnde``, ``flux``, ``eflux`` or ``norm``)."""
        return self._quantity(_VALUE_COLUMN[self._sed_type])

    def _error(self, side: str) -> u.Quantity | None:
        name = _VALUE_COLUMN[self._sed_type]
        for column in (f"{name}_err{side}", f"{name}_err"):
            if self.has(column):
                return self._quantity(column)
        return None

    @property
    def errn(self) -> u.Quantity | None:
        """Negative 1-sigma errors (``_errn``, else the symmetric ``_err``), or None."""
        return self._error("n")

    @property
    def errp(self) -> u.Quantity | None:
        """Positive 1-sigma errors (``_errp``, else the symmetric ``_err``), or None."""
        return self._error("p")

    @property
    def ul(self) -> u.Quantity | None:
        """Upper limits (``<q>_ul``), or None."""
        column = f"{_VALUE_COLUMN[self._sed_type]}_ul"
        return self._quantity(column) if self.has(column) else None

    @property
    def is_ul(self) -> np.ndarray:
        """Which points are upper limits.

        The ``is_ul`` column if present; else ``sqrt(ts) < 2`` where both ``ts`` and upper
        limits are given; else where an upper limit is finite; else where the value is NaN
        (gammapy's rules).
        """
        if self.has("is_ul"):
            return frozen(np.asarray(self._table["is_ul"], dtype=bool))
        ul = self.ul
        if ul is not None and (self.has("ts") or self.has("sqrt_ts")):
            sqrt_ts = (
                self._quantity("sqrt_ts").value
                if self.has("sqrt_ts")
                else np.sqrt(self._quantity("ts").value)
            )
            return frozen(sqrt_ts < _SQRT_TS_THRESHOLD_UL)
        if ul is not None:
            return frozen(np.isfinite(ul.value))
        return frozen(np.isnan(self.value.value))

    @property
    def norm_scan(self) -> np.ndarray | None:
        """Normalisation grid of the likelihood profiles ``(n_points, n_scan)``, or None."""
        return (
            frozen(np.atleast_2d(np.array(self._table["norm_scan"], dtype=float)))
            if self.has("norm_scan")
            else None
        )

    @property
    def stat_scan(self) -> np.ndarray | None:
        """``-2 log L`` on :attr:`norm_scan` ``(n_points, n_scan)``, or None."""
        return (
            frozen(np.atleast_2d(np.array(self._table["stat_scan"], dtype=float)))
            if self.has("stat_scan")
            else None
        )

    # ---- conversion --------------------------------------------------------------------------
    def _to_dnde_factor(self, sed_type: str, reference_index: float) -> np.ndarray:
        """Factor turning ``sed_type`` values into dnde at ``e_ref`` (TeV units)."""
        e_ref = self.energy_ref.to_value(u.TeV)
        if sed_type == "dnde":
            return np.ones_like(e_ref)
        if sed_type == "e2dnde":
            return 1 / e_ref**2
        if self.energy_min is None:
            raise ValueError(f"converting {sed_type!r} needs e_min and e_max")
        lo, hi = self.energy_min.to_value(u.TeV), self.energy_max.to_value(u.TeV)
        power = 1 - reference_index if sed_type == "flux" else 2 - reference_index
        integral = np.log(hi / lo) if power == 0 else (hi**power - lo**power) / power
        return e_ref**-reference_index / integral

    def plot(self, sed_type: str = "e2dnde", ax=None, **kwargs):
        """Plot the points (see :func:`gammaprob.visualization.products.plot_flux_points`)."""
        from gammaprob.visualization.products import plot_flux_points

        return plot_flux_points(self, sed_type=sed_type, ax=ax, **kwargs)

    def plot_posterior(self, sed_type: str = "e2dnde", ci_probs=(0.68, 0.95), ax=None, **kwargs):
        """Draw each bin's norm posterior as nested credible boxes with the median.

        See :func:`gammaprob.visualization.products.plot_flux_points_posterior`.
        """
        from gammaprob.visualization.products import plot_flux_points_posterior

        return plot_flux_points_posterior(
            self, sed_type=sed_type, ci_probs=ci_probs, ax=ax, **kwargs
        )

    def to_sed_type(self, sed_type: str, reference_index: float = 2.0) -> FluxPoints:
        """Convert the values, errors and upper limits to another SED type.

        ``dnde`` and ``e2dnde`` convert exactly; ``flux`` and ``eflux`` assume a power law of
        ``reference_index`` across each bin (gammapy's default reference model has index 2);
        ``likelihood`` points convert exactly with their ``ref_*`` columns.

        Parameters
        ----------
        sed_type : {"dnde", "e2dnde", "flux", "eflux"}
            Target type.
        reference_index : float
            Spectral index of the assumed power law within a bin.

        Returns
        -------
        FluxPoints
            New flux points (columns of the old value type are replaced).
        """
        if sed_type not in SED_TYPES or sed_type == "likelihood":
            raise ValueError(f"sed_type must be one of {SED_TYPES[:4]}, got {sed_type!r}")
        table = self.table
        source = _VALUE_COLUMN[self._sed_type]
        energy_unit = {"dnde": 1 / u.TeV, "e2dnde": u.TeV, "flux": u.one, "eflux": u.TeV}
        if self._sed_type == "likelihood":
            ref = self._quantity(f"ref_{sed_type}")
            factor = ref.value
            unit = ref.unit
        else:
            base = _UNIT[self._sed_type] / energy_unit[self._sed_type]
            factor = self._to_dnde_factor(self._sed_type, reference_index) / self._to_dnde_factor(
                sed_type, reference_index
            )
            unit = base * energy_unit[sed_type]
        for suffix in ("", "_err", "_errn", "_errp", "_ul", "_sensitivity"):
            column = source + suffix
            if column in table.colnames:
                raw = u.Quantity(table[column]).to(_UNIT[self._sed_type])
                values = (raw.value * factor * unit).to(_UNIT[sed_type])
                table.remove_column(column)
                table[sed_type + suffix] = values
        table.meta["SED_TYPE"] = sed_type
        return FluxPoints(table, sed_type=sed_type)

    # ---- I/O ---------------------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | os.PathLike, sed_type: str | None = None, **kwargs) -> FluxPoints:
        """Read flux points from a FITS or ECSV table.

        Parameters
        ----------
        path : str or path-like
            File name.
        sed_type : str, optional
            Override the ``SED_TYPE`` keyword.
        **kwargs
            Passed to `astropy.table.Table.read` (e.g. ``hdu=``, ``format=``).

        Returns
        -------
        FluxPoints
            The flux points.
        """
        from astropy.table import Table

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"flux points file {str(path)!r} does not exist")
        try:
            table = Table.read(path, **kwargs)
        except (OSError, ValueError) as exc:
            raise FormatError(f"cannot be read as a table ({exc})", path=path) from exc
        return cls(table, sed_type=sed_type, path=path)

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write as a FITS (``.fits``) or ECSV (``.ecsv``) table, atomically.

        Parameters
        ----------
        path : str or path-like
            File name.
        overwrite : bool
            Replace an existing file.
        """
        write_table(self._table, path, overwrite)

    def __repr__(self) -> str:
        e_ref = self.energy_ref
        return (
            f"FluxPoints(sed_type={self._sed_type!r}, n_points={len(self)}, "
            f"e_ref=[{e_ref.value.min():.4g}, {e_ref.value.max():.4g}] TeV, "
            f"upper_limits={int(self.is_ul.sum())})"
        )


def write_table(table: Table, path: str | os.PathLike, overwrite: bool) -> None:
    """Write a table atomically, as FITS or ECSV by the file suffix."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if ".fits" in suffixes:
        fmt = "fits"
    elif ".ecsv" in suffixes:
        fmt = "ascii.ecsv"
    else:
        raise ValueError(f"cannot tell the table format from {path.name!r}; use .fits or .ecsv")
    with atomic_path(path, overwrite=overwrite) as tmp:
        table.write(tmp, format=fmt)


class FluxPointsDataset:
    """Flux points used as data in a fit (immutable container, no likelihood).

    Parameters
    ----------
    name : str
        Dataset name.
    data : FluxPoints
        The measured points.
    mask_safe, mask_fit : array_like of bool, optional
        Points to trust and points selected for fitting (default: all).
    meta : dict, optional
        Free-form metadata.
    """

    kind = "FluxPointsDataset"

    def __init__(
        self, name: str, data: FluxPoints, mask_safe=None, mask_fit=None, meta: dict | None = None
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        if not isinstance(data, FluxPoints):
            raise TypeError(f"data must be FluxPoints, got {type(data).__name__}")
        n = len(data)
        what = f"FluxPointsDataset {name!r}"
        self._name = name
        self._data = data
        self._mask_safe = as_mask(
            np.ones(n, bool) if mask_safe is None else mask_safe, (n,), f"{what}: mask_safe"
        )
        self._mask_fit = as_mask(mask_fit, (n,), f"{what}: mask_fit")
        self._meta = dict(meta or {})

    name = property(lambda self: self._name, doc="Dataset name.")
    data = property(lambda self: self._data, doc="The flux points.")
    mask_safe = property(lambda self: self._mask_safe, doc="Points to trust.")
    mask_fit = property(lambda self: self._mask_fit, doc="Points selected for fitting (None: all).")
    meta = property(lambda self: dict(self._meta), doc="Metadata (a copy).")

    @property
    def mask(self) -> np.ndarray:
        """``mask_safe & mask_fit``."""
        return (
            self._mask_safe if self._mask_fit is None else frozen(self._mask_safe & self._mask_fit)
        )

    def check_fittable(self) -> None:
        """Raise a ValueError if every point is masked."""
        if not np.any(self.mask):
            raise ValueError(
                f"FluxPointsDataset {self._name!r}: all {len(self._data)} points are masked; nothing to fit"
            )

    def replace(self, **changes) -> FluxPointsDataset:
        """Return a copy with ``name``, ``data``, ``mask_safe``, ``mask_fit`` or ``meta`` replaced."""
        fields = {
            "name": self._name,
            "data": self._data,
            "mask_safe": self._mask_safe,
            "mask_fit": self._mask_fit,
            "meta": self._meta,
        }
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"unknown field(s) {sorted(unknown)}")
        fields.update(changes)
        return FluxPointsDataset(**fields)

    def slice_by_energy(
        self, energy_min=None, energy_max=None, name: str | None = None
    ) -> FluxPointsDataset:
        """Keep the points whose reference energy lies in ``[energy_min, energy_max]``."""
        e_ref = self._data.energy_ref
        keep = np.ones(len(e_ref), bool)
        if energy_min is not None:
            keep &= e_ref >= u.Quantity(energy_min) * (1 - 1e-6)
        if energy_max is not None:
            keep &= e_ref <= u.Quantity(energy_max) * (1 + 1e-6)
        if not keep.any():
            raise ValueError(
                f"FluxPointsDataset {self._name!r}: no point in [{energy_min}, {energy_max}]"
            )
        table = self._data.table[keep]
        mask_fit = None if self._mask_fit is None else self._mask_fit[keep]
        return FluxPointsDataset(
            name or self._name, FluxPoints(table), self._mask_safe[keep], mask_fit, self._meta
        )

    @classmethod
    def read(cls, path: str | os.PathLike, name: str | None = None) -> FluxPointsDataset:
        """Read flux points with optional ``mask_safe``/``mask_fit`` columns (as gammapy writes them).

        Parameters
        ----------
        path : str or path-like
            FITS or ECSV table.
        name : str, optional
            Dataset name (default: the file stem).

        Returns
        -------
        FluxPointsDataset
            The dataset.
        """
        points = FluxPoints.read(path)
        table = points.table
        masks = {}
        for key in ("mask_safe", "mask_fit"):
            if key in table.colnames:
                masks[key] = np.asarray(table[key], dtype=bool)
                table.remove_column(key)
        name = name or Path(path).name.split(".")[0]
        return cls(
            name, FluxPoints(table, sed_type=points.sed_type), meta={"filename": str(path)}, **masks
        )

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write the points with ``mask_safe`` and ``mask_fit`` columns (FITS or ECSV)."""
        table = self._data.table
        table["mask_safe"] = self._mask_safe
        table["mask_fit"] = self.mask
        write_table(table, path, overwrite)

    def __repr__(self) -> str:
        return f"FluxPointsDataset(name={self._name!r}, {self._data!r}, used={int(self.mask.sum())}/{len(self._data)})"
