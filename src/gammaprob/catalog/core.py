"""Base classes: a source catalog (table, name and cone look-up) and one catalog source."""

from __future__ import annotations

import difflib
import logging
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import astropy.units as u
import numpy as np

from gammaprob.modeling import Component, SkyModel
from gammaprob.utils.errors import FormatError
from gammaprob.utils.paths import resolve_data_path

from .priors import apply_policy, check_policy

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    from gammaprob.datasets.flux_points import FluxPoints

__all__ = ["CatalogSource", "ComponentSpec", "NoModelError", "SourceCatalog", "read_fits_table"]


class NoModelError(ValueError):
    """The catalog gives no (complete) model for a source (e.g. a NaN index)."""


def read_fits_table(path: str | os.PathLike, hdu: str | int) -> Table:
    """Read one table HDU of a (gzipped) FITS file into an astropy Table with units.

    Errors name the file and HDU (:mod:`gammaprob.utils.fits`).
    """
    from astropy.table import Table

    from gammaprob.utils.fits import get_hdu, open_fits, parse_unit

    with open_fits(path) as hdulist:
        table_hdu = get_hdu(hdulist, hdu, path)
        table = Table(table_hdu.data, meta=dict(table_hdu.header))
        for col in table_hdu.columns:
            if col.unit:
                text = col.unit
                if text.count("/") > 1:  # Fermi: 'photon/cm**2/MeV/s' = photon / (cm2 MeV s)
                    first, *rest = text.split("/")
                    text = f"{first} / ({' '.join(rest)})"
                unit = parse_unit(text, None, path, table_hdu.name, col.name)
                table[col.name].unit = _without_photons(unit)
    return table


def _without_photons(unit: u.UnitBase) -> u.UnitBase:
    """Drop ``photon`` from a unit (``photon / (cm2 MeV s)`` -> ``1 / (cm2 MeV s)``)."""
    powers = dict(zip(unit.bases, unit.powers, strict=True)) if hasattr(unit, "bases") else {}
    power = powers.get(u.ph, 0)
    return unit / u.ph**power if power else unit


def _masked_to_nan(value: Any) -> Any:
    if value is np.ma.masked:
        return math.nan
    return value


@dataclass
class ComponentSpec:
    """A component built from catalog values: class, fixed values, errors, options.

    Parameters
    ----------
    cls : type
        Spectral or spatial component class.
    values : dict
        Catalog values by parameter name (Quantities or numbers).
    errors : dict
        Catalog 1-sigma errors by parameter name (same units as ``values``); NaN or absent
        means "no error": the parameter stays fixed under every prior policy.
    options : dict
        Other constructor arguments (``frame``, a template map, ...).
    """

    cls: type
    values: dict[str, Any]
    errors: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def build(self, policy: str | None, k: float, prefix: str = "") -> tuple[Component, dict]:
        """Create the component and apply the prior policy; return it and its record."""
        for name, value in self.values.items():
            number = u.Quantity(_masked_to_nan(value)).value
            if not np.isfinite(number):
                raise NoModelError(
                    f"the catalog value of {self.cls.tag} parameter {name!r} is {number}"
                )
        comp = self.cls(**self.options, **self.values)
        errors = {}
        for name, err in self.errors.items():
            param = comp.parameters[name]
            err = _masked_to_nan(err)
            value = err.to_value(param.unit) if isinstance(err, u.Quantity) else float(err)
            errors[name] = abs(value)
        return comp, apply_policy(comp, errors, policy, k, prefix)


class CatalogSource:
    """One source of a catalog: its table row, models, flux points and plots.

    Parameters
    ----------
    catalog : SourceCatalog
        The catalog.
    index : int
        Row index in ``catalog.table``.
    """

    def __init__(self, catalog: SourceCatalog, index: int) -> None:
        self.catalog = catalog
        self.index = int(index)
        row = catalog.table[self.index]
        self.data: dict[str, Any] = {}
        for name in catalog.table.colnames:
            value = row[name]
            unit = catalog.table[name].unit
            if isinstance(value, str | bytes | np.str_):
                value = str(value).strip()
            elif unit is not None and np.ndim(value) == 0:
                # float64 before any unit conversion: float32 columns lose digits otherwise
                value = u.Quantity(_masked_to_nan(value), unit, dtype=np.float64)
            elif unit is not None:
                value = u.Quantity(np.ma.filled(np.asarray(value, dtype=float), np.nan), unit)
            elif isinstance(value, np.floating):
                value = np.float64(value)
            else:
                value = _masked_to_nan(value)
            self.data[name] = value

    # -- description ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Source name (the catalog's name column)."""
        return str(self.data[self.catalog.name_column]).strip()

    @property
    def position(self) -> SkyCoord:
        """Position in ICRS (from the catalog's RA/Dec, or Galactic, columns)."""
        return self.catalog.positions[self.index]

    @property
    def spectral_type(self) -> str:
        """The catalog's spectral model name for this source."""
        return self._spectral_spec().cls.tag

    @property
    def spatial_type(self) -> str:
        """The spatial model name for this source."""
        return self._spatial_spec().cls.tag

    def __repr__(self) -> str:
        pos = self.position
        return (
            f"{type(self).__name__}(name={self.name!r}, catalog={self.catalog.tag!r}, "
            f"row={self.index}, ra={pos.ra.deg:.4f} deg, dec={pos.dec.deg:.4f} deg, "
            f"spectral={self.spectral_type!r}, spatial={self.spatial_type!r})"
        )

    # -- models (subclasses provide the specs) ------------------------------------------------------
    def _spectral_spec(self) -> ComponentSpec:
        raise NotImplementedError

    def _spatial_spec(self) -> ComponentSpec:
        raise NotImplementedError

    def _meta(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog.tag,
            "catalog_file": str(self.catalog.filename),
            "source": self.name,
            "row": self.index,
        }

    def spectral_model(self, policy: str | None = None, k: float | None = None):
        """Return the catalog's spectral model.

        Parameters
        ----------
        policy : {None, "catalog-errors", "broad"}
            Prior policy (:mod:`gammaprob.catalog.priors`); None fixes every parameter.
        k : float, optional
            Width factor of ``"catalog-errors"`` (default 2).
        """
        k = check_policy(policy, k)
        return self._spectral_spec().build(policy, k)[0]

    def spatial_model(self, policy: str | None = None, k: float | None = None):
        """Return the catalog's spatial model (see :meth:`spectral_model` for the arguments)."""
        k = check_policy(policy, k)
        return self._spatial_spec().build(policy, k)[0]

    def _sky_model(
        self,
        spectral: ComponentSpec,
        spatial: ComponentSpec | None,
        name: str,
        policy: str | None,
        k: float | None,
        extra: Mapping[str, Any] | None = None,
    ) -> SkyModel:
        k = check_policy(policy, k)
        try:
            spec, record = spectral.build(policy, k)
        except NoModelError as exc:
            raise NoModelError(f"{self.catalog.tag} source {self.name!r}: {exc}") from None
        priors, fixed = dict(record["priors"]), list(record["fixed"])
        spat = None
        if spatial is not None:
            shared = set(spec.parameters) & {s.name for s in spatial.cls.parameter_specs}
            prefix = "spatial::" if shared else ""
            spat, rec = spatial.build(policy, k, prefix)
            priors.update(rec["priors"])
            fixed += rec["fixed"]
        meta = self._meta()
        meta.update(extra or {})
        meta["prior_policy"] = "none (all parameters fixed)" if policy is None else policy
        if policy == "catalog-errors":
            meta["prior_k"] = k
        meta["priors"] = priors
        meta["fixed"] = fixed
        return SkyModel(spectral=spec, spatial=spat, name=name, meta=meta)

    def sky_model(self, policy: str | None = None, k: float | None = None) -> SkyModel:
        """Return the source as a :class:`~gammaprob.modeling.SkyModel` (spectrum x morphology).

        Parameters
        ----------
        policy : {None, "catalog-errors", "broad"}
            Prior policy (:mod:`gammaprob.catalog.priors`). None (default) fixes every
            parameter at the catalog value; a named policy frees the parameters the catalog
            quotes errors for. The policy and priors are recorded in ``model.meta``.
        k : float, optional
            Width factor of ``"catalog-errors"`` (default 2).

        Returns
        -------
        SkyModel
            Named after the source; ``meta`` records catalog, file, row and priors.
        """
        return self._sky_model(self._spectral_spec(), self._spatial_spec(), self.name, policy, k)

    def sky_models(self, policy: str | None = None, k: float | None = None) -> list[SkyModel]:
        """All models of the source (one, except for multi-component sources)."""
        return [self.sky_model(policy, k)]

    # -- products -------------------------------------------------------------------------------
    @property
    def flux_points(self) -> FluxPoints | None:
        """The catalog's flux points (None when the source has none)."""
        return None

    def light_curve(self, *args: Any, **kwargs: Any):
        """Return the catalog's light curve (catalogs without light curves raise)."""
        raise ValueError(f"the {self.catalog.tag} catalog has no light curves")

    def plot_spectrum(
        self,
        ax=None,
        energy_bounds: u.Quantity | None = None,
        sed_type: str = "e2dnde",
        flux_points: bool = True,
        n_points: int = 100,
        **kwargs: Any,
    ):
        """Plot the catalog spectrum (and flux points) with matplotlib.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes (default: a new figure).
        energy_bounds : Quantity, optional
            ``[e_min, e_max]`` (default: the catalog's energy range).
        sed_type : {"dnde", "e2dnde"}
            ``dnde`` in TeV-1 cm-2 s-1 or ``e2dnde`` in TeV cm-2 s-1 (the units of
            :mod:`gammaprob.visualization.units`, shared with the flux points).
        flux_points : bool
            Also draw the catalog's flux points (via
            :func:`gammaprob.visualization.products.plot_flux_points`).
        n_points : int
            Number of energies of the model curve.
        **kwargs
            Passed to ``ax.plot`` for the model curve.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        from gammaprob.visualization.products import plot_flux_points
        from gammaprob.visualization.spectra import plot_spectral_model

        if sed_type not in ("dnde", "e2dnde"):
            raise ValueError(f"sed_type must be 'dnde' or 'e2dnde', got {sed_type!r}")
        bounds = self.energy_range if energy_bounds is None else energy_bounds
        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        kwargs.setdefault("label", self.name)
        # one unit convention for the curve and the points (gammaprob.visualization.units)
        plot_spectral_model(
            self.spectral_model(), bounds, sed_type=sed_type, n_points=n_points, ax=ax, **kwargs
        )
        points = self.flux_points if flux_points else None
        if points is not None:
            plot_flux_points(points, sed_type=sed_type, ax=ax, label=f"{self.name} flux points")
        return ax

    @property
    def energy_range(self) -> u.Quantity:
        """Energy range of the catalog's spectral fit (TeV)."""
        return u.Quantity(self.catalog.energy_range, u.TeV)


class SourceCatalog:
    """A source catalog: an astropy table with name and cone look-up.

    Parameters
    ----------
    filename : str or path-like, optional
        Catalog file (``$GAMMAPY_DATA`` is expanded); default: the file in gammapy-data.
    """

    tag: ClassVar[str] = ""
    description: ClassVar[str] = ""
    default_filename: ClassVar[str] = ""
    source_class: ClassVar[type[CatalogSource]] = CatalogSource
    name_column: ClassVar[str] = "Source_Name"
    alias_columns: ClassVar[tuple[str, ...]] = ()
    #: Energy range of the spectral fits (TeV).
    energy_range: ClassVar[tuple[float, float]] = (0.1, 100.0)

    def __init__(self, filename: str | os.PathLike | None = None) -> None:
        path = resolve_data_path(filename or self.default_filename)
        if not path.exists():
            raise FileNotFoundError(f"{self.tag} catalog file not found: {path}")
        self.filename = Path(path)
        self.table = self._read(self.filename)
        if self.name_column not in self.table.colnames:
            raise FormatError(
                f"the {self.tag} catalog needs a name column; the table has {self.table.colnames}",
                path=self.filename,
                column=self.name_column,
            )
        self._names: dict[str, list[int]] | None = None
        self._positions: SkyCoord | None = None

    def _read(self, path: Path) -> Table:
        raise NotImplementedError

    # -- table access ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.table)

    def __iter__(self) -> Iterator[CatalogSource]:
        for index in range(len(self)):
            yield self.source_class(self, index)

    @property
    def names(self) -> list[str]:
        """Source names, in table order."""
        return [str(n).strip() for n in self.table[self.name_column]]

    def __repr__(self) -> str:
        cols = self.table.colnames
        shown = ", ".join(cols[:12]) + (f", ... ({len(cols) - 12} more)" if len(cols) > 12 else "")
        return (
            f"{type(self).__name__}(tag={self.tag!r}, n_sources={len(self)}, "
            f"n_columns={len(cols)}, file={str(self.filename)!r})\n"
            f"  {self.description}\n  columns: {shown}"
        )

    # -- look-up by name -------------------------------------------------------------------------
    def _name_index(self) -> dict[str, list[int]]:
        if self._names is None:
            names: dict[str, list[int]] = {}
            for column in (self.name_column, *self.alias_columns):
                if column not in self.table.colnames:
                    continue
                for index, value in enumerate(self.table[column]):
                    if value is np.ma.masked:
                        continue
                    for alias in str(value).split(","):
                        alias = alias.strip()
                        if alias and alias != "--" and index not in names.get(alias, []):
                            names.setdefault(alias, []).append(index)
            self._names = names
        return self._names

    def row_index(self, name: str) -> int:
        """Row index of a source by name or association name.

        Raises
        ------
        KeyError
            Unknown name (the message suggests close names) or an alias shared by several
            sources (the message lists them).
        """
        index = self._name_index()
        rows = index.get(str(name).strip())
        if rows is None:
            close = difflib.get_close_matches(str(name), list(index), n=5)
            hint = f"; did you mean {close}?" if close else ""
            raise KeyError(f"no source {name!r} in the {self.tag} catalog{hint}")
        if len(rows) > 1:
            names = [self.names[r] for r in rows]
            raise KeyError(f"{name!r} names several {self.tag} sources: {names}; use one of them")
        return rows[0]

    def __getitem__(self, key: str | int) -> CatalogSource:
        """Return a source by name, association name or row index."""
        if isinstance(key, str):
            return self.source_class(self, self.row_index(key))
        if isinstance(key, int | np.integer):
            n = len(self)
            if not -n <= key < n:
                raise IndexError(f"row {key} is outside the {self.tag} catalog ({n} rows)")
            return self.source_class(self, int(key) % n)
        raise TypeError(f"catalog key must be a name or a row index, got {type(key).__name__}")

    # -- look-up by position ---------------------------------------------------------------------
    @property
    def positions(self) -> SkyCoord:
        """Source positions (ICRS)."""
        if self._positions is None:
            self._positions = self._make_positions()
        return self._positions

    def _make_positions(self) -> SkyCoord:
        from astropy.coordinates import SkyCoord

        t = self.table
        return SkyCoord(
            np.asarray(t["RAJ2000"], float), np.asarray(t["DEJ2000"], float), unit="deg"
        )

    def select_cone(self, center: SkyCoord, radius: u.Quantity | float) -> list[CatalogSource]:
        """Return the sources within ``radius`` of ``center``, nearest first.

        Parameters
        ----------
        center : `~astropy.coordinates.SkyCoord`
            Cone centre (any frame).
        radius : Quantity or float
            Cone radius (an angle; a number is taken in deg).
        """
        radius = u.Quantity(radius, u.deg)
        if not radius.unit.is_equivalent(u.deg) or radius.to_value(u.deg) < 0:
            raise ValueError(f"radius must be a non-negative angle, got {radius}")
        sep = self.positions.separation(center).deg
        inside = np.flatnonzero(sep <= radius.to_value(u.deg))
        return [self.source_class(self, i) for i in inside[np.argsort(sep[inside])]]

    # -- models ------------------------------------------------------------------------------------
    def to_sky_models(self, policy: str | None = None, k: float | None = None) -> list[SkyModel]:
        """Models of every source (multi-component sources give several).

        Sources for which the catalog gives no complete model (:class:`NoModelError`,
        e.g. gamma-cat entries without a spectrum) are left out; their names are logged.
        """
        models: list[SkyModel] = []
        skipped = []
        for source in self:
            try:
                models.extend(source.sky_models(policy, k))
            except NoModelError:
                skipped.append(source.name)
        if skipped:
            log.info("%s: no model for %d sources: %s", self.tag, len(skipped), skipped)
        return models
