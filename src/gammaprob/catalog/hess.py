"""H.E.S.S. Galactic Plane Survey catalog (HGPS, H.E.S.S. Collaboration 2018).

Facts used: positions are Galactic (``GLON``, ``GLAT``); spectra are ``PL``
(:class:`~gammaprob.modeling.spectral.PowerLaw`) or ``ECPL`` (``lambda_`` =
``Lambda_Spec_ECPL``, ``alpha`` = 1); ``Shell`` sources get radius 0.95 x ``Size`` and width
0.05 x ``Size`` (the catalog gives no width); sources made of several Gaussian components
(``2-Gaussian``, ``3-Gaussian``, or ``Gaussian`` with no size) are given as one model per
component from ``HGPS_GAUSS_COMPONENTS``, the source spectrum scaled by the component's
share of ``Flux_Map``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from gammaprob.modeling import SkyModel, spatial, spectral
from gammaprob.utils.errors import FormatError

from .core import CatalogSource, ComponentSpec, SourceCatalog, read_fits_table

__all__ = ["SourceCatalogHGPS", "SourceHGPS"]


class SourceHGPS(CatalogSource):
    """An HGPS source."""

    @property
    def is_multi_component(self) -> bool:
        """True when the source is modelled by several Gaussian components."""
        kind = self.data["Spatial_Model"]
        no_size = kind == "Gaussian" and not float(u.Quantity(self.data["Size"]).value) > 0
        return kind in ("2-Gaussian", "3-Gaussian") or no_size

    @property
    def component_ids(self) -> list[str]:
        """Gaussian component IDs (``"HGPSC 001"``, ...)."""
        text = str(self.data["Components"]).strip()
        return [] if text in ("", "--") else [c.strip() for c in text.split(",")]

    @property
    def spatial_type(self) -> str:  # noqa: D102
        if self.is_multi_component:
            return f"{len(self.component_ids)} Gaussian components"
        return super().spatial_type

    @property
    def energy_range(self) -> u.Quantity:
        """Energy range of the spectral fit (0.2 - 50 TeV where the catalog gives none)."""
        lo = float(u.Quantity(self.data["Energy_Range_Spec_Min"], u.TeV).value)
        hi = float(u.Quantity(self.data["Energy_Range_Spec_Max"], u.TeV).value)
        return u.Quantity([lo if np.isfinite(lo) else 0.2, hi if np.isfinite(hi) else 50.0], u.TeV)

    def _spectral_spec(self, which: str = "best") -> ComponentSpec:
        d = self.data
        kind = d["Spectral_Model"].lower() if which == "best" else which
        if kind == "pl":
            values = {
                "index": d["Index_Spec_PL"],
                "amplitude": d["Flux_Spec_PL_Diff_Pivot"],
                "reference": d["Energy_Spec_PL_Pivot"],
            }
            errs = {"index": d["Index_Spec_PL_Err"], "amplitude": d["Flux_Spec_PL_Diff_Pivot_Err"]}
            return ComponentSpec(spectral.PowerLaw, values, errs)
        if kind == "ecpl":
            values = {
                "index": d["Index_Spec_ECPL"],
                "amplitude": d["Flux_Spec_ECPL_Diff_Pivot"],
                "reference": d["Energy_Spec_ECPL_Pivot"],
                "lambda_": d["Lambda_Spec_ECPL"],
                "alpha": 1.0,
            }
            errs = {
                "index": d["Index_Spec_ECPL_Err"],
                "amplitude": d["Flux_Spec_ECPL_Diff_Pivot_Err"],
                "lambda_": d["Lambda_Spec_ECPL_Err"],
            }
            return ComponentSpec(spectral.ExpCutoffPowerLaw, values, errs)
        raise ValueError(f"which must be 'best', 'pl' or 'ecpl', got {which!r}")

    def _spatial_spec(self) -> ComponentSpec:
        d = self.data
        kind = d["Spatial_Model"]
        values = {"lon_0": d["GLON"], "lat_0": d["GLAT"]}
        errs = {"lon_0": d["GLON_Err"], "lat_0": d["GLAT_Err"]}
        opts = {"frame": "galactic"}
        if self.is_multi_component:
            raise ValueError(
                f"{self.name!r} is modelled by {len(self.component_ids)} Gaussian components: "
                f"use sky_models() (one model per component)"
            )
        if kind == "Point-Like":
            return ComponentSpec(spatial.Point, values, errs, opts)
        if kind == "Gaussian":
            values["sigma"] = d["Size"]
            errs["sigma"] = d["Size_Err"]
            return ComponentSpec(spatial.Gaussian, values, errs, opts)
        if kind == "Shell":
            size = u.Quantity(d["Size"], u.deg)
            values.update(radius=0.95 * size, width=0.05 * size)
            errs["radius"] = d["Size_Err"]
            return ComponentSpec(spatial.Shell, values, errs, opts)
        raise FormatError(
            f"unknown spatial model {kind!r} of {self.name!r}",
            path=self.catalog.filename,
            hdu="HGPS_SOURCES",
            column="Spatial_Model",
        )

    def spectral_model(self, policy=None, k=None, which: str = "best"):
        """Return the spectral model (``which``: "best", "pl" or "ecpl"); see the base class."""
        from .priors import check_policy

        k = check_policy(policy, k)
        return self._spectral_spec(which).build(policy, k)[0]

    def sky_model(self, policy=None, k=None, which: str = "best") -> SkyModel:
        """Return the source model (single-component sources; see :meth:`sky_models`).

        Parameters
        ----------
        policy, k
            Prior policy (see :meth:`CatalogSource.sky_model`).
        which : {"best", "pl", "ecpl"}
            Spectral model.
        """
        return self._sky_model(
            self._spectral_spec(which), self._spatial_spec(), self.name, policy, k
        )

    def components(self) -> list[dict[str, Any]]:
        """Rows of ``HGPS_GAUSS_COMPONENTS`` belonging to this source."""
        return [self.catalog.component_row(cid) for cid in self.component_ids]

    def sky_models(self, policy=None, k=None, which: str = "best") -> list[SkyModel]:
        """One model per Gaussian component (or the source model when it has one component).

        Each component model has the source spectrum with its amplitude (and amplitude
        error) multiplied by ``Flux_Map(component) / Flux_Map(source)``.
        """
        if not self.is_multi_component:
            return [self.sky_model(policy, k, which)]
        total = float(u.Quantity(self.data["Flux_Map"]).value)
        models = []
        for comp in self.components():
            share = float(u.Quantity(comp["Flux_Map"]).value) / total
            spec = self._spectral_spec(which)
            spec.values["amplitude"] = spec.values["amplitude"] * share
            spec.errors["amplitude"] = spec.errors["amplitude"] * share
            spat = ComponentSpec(
                spatial.Gaussian,
                {"lon_0": comp["GLON"], "lat_0": comp["GLAT"], "sigma": comp["Size"]},
                {"lon_0": comp["GLON_Err"], "lat_0": comp["GLAT_Err"], "sigma": comp["Size_Err"]},
                {"frame": "galactic"},
            )
            extra = {"component": comp["Component_ID"], "flux_share": share}
            models.append(self._sky_model(spec, spat, comp["Component_ID"], policy, k, extra))
        return models

    @property
    def flux_points(self):
        """The HGPS flux points (``dnde``, with ``is_ul`` and ``dnde_ul``).

        Bin edges are kept where the catalog gives them for every point, else dropped.
        """
        from astropy.table import Table

        from gammaprob.datasets.flux_points import FluxPoints

        d = self.data
        energy = u.Quantity(d["Flux_Points_Energy"])
        mask = np.isfinite(energy.value)
        if not mask.any():
            return None
        table = Table()
        table["e_ref"] = energy[mask]
        e_min = u.Quantity(d["Flux_Points_Energy_Min"])[mask]
        e_max = u.Quantity(d["Flux_Points_Energy_Max"])[mask]
        if np.all(np.isfinite(e_min.value) & np.isfinite(e_max.value)):
            # some sources lack bin edges: their points keep e_ref only
            table["e_min"], table["e_max"] = e_min, e_max
        table["dnde"] = u.Quantity(d["Flux_Points_Flux"])[mask]
        table["dnde_errn"] = u.Quantity(d["Flux_Points_Flux_Err_Lo"])[mask]
        table["dnde_errp"] = u.Quantity(d["Flux_Points_Flux_Err_Hi"])[mask]
        table["dnde_ul"] = u.Quantity(d["Flux_Points_Flux_UL"])[mask]
        table["is_ul"] = np.asarray(d["Flux_Points_Flux_Is_UL"])[mask].astype(bool)
        table.meta.update({"SED_TYPE": "dnde", "SOURCE": self.name, "CATALOG": "hgps"})
        return FluxPoints(table, sed_type="dnde", path=self.catalog.filename)


class SourceCatalogHGPS(SourceCatalog):
    """The H.E.S.S. Galactic Plane Survey catalog (78 sources, 98 Gaussian components).

    Names: ``Source_Name``, ``Identified_Object`` and the association names of
    ``HGPS_ASSOCIATIONS``.
    """

    tag = "hgps"
    description = "H.E.S.S. Galactic Plane Survey catalog (HGPS)"
    default_filename = "$GAMMAPY_DATA/catalogs/hgps_catalog_v1.fits.gz"
    source_class = SourceHGPS
    alias_columns = ("Identified_Object",)
    energy_range = (0.2, 50.0)

    def _read(self, path: Path):
        table = read_fits_table(path, "HGPS_SOURCES")
        self.table_components = read_fits_table(path, "HGPS_GAUSS_COMPONENTS")
        self.table_associations = read_fits_table(path, "HGPS_ASSOCIATIONS")
        return table

    def _name_index(self) -> dict[str, list[int]]:
        if self._names is None:
            names = super()._name_index()
            rows = {n: i for i, n in enumerate(self.names)}
            assoc = self.table_associations
            for source, alias in zip(assoc["Source_Name"], assoc["Association_Name"], strict=True):
                index = rows.get(str(source).strip())
                alias = str(alias).strip()
                if index is not None and alias and index not in names.get(alias, []):
                    names.setdefault(alias, []).append(index)
        return self._names

    def component_row(self, component_id: str) -> dict[str, Any]:
        """One row of ``HGPS_GAUSS_COMPONENTS`` by ID (``"HGPSC 001"``), units attached."""
        ids = [str(c).strip() for c in self.table_components["Component_ID"]]
        if component_id not in ids:
            raise KeyError(f"no HGPS component {component_id!r}")
        row = self.table_components[ids.index(component_id)]
        out: dict[str, Any] = {}
        for name in self.table_components.colnames:
            unit = self.table_components[name].unit
            value = row[name]
            out[name] = (
                u.Quantity(value, unit, dtype=np.float64)
                if unit is not None
                else (str(value).strip() if isinstance(value, str | np.str_) else value)
            )
        return out

    def _make_positions(self):
        from astropy.coordinates import SkyCoord

        t = self.table
        gal = SkyCoord(
            np.asarray(t["GLON"], float), np.asarray(t["GLAT"], float), unit="deg", frame="galactic"
        )
        return gal.icrs
