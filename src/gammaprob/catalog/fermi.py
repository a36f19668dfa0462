r"""Fermi-LAT catalogs: 3FGL, 4FGL (DR1-DR4 format), 2FHL and 3FHL.

Conventions (from the catalog papers and FITS headers):

* 3FGL ``LogParabola`` uses the natural log (:class:`~gammaprob.modeling.spectral.LogParabola`);
  ``PLExpCutoff`` is :math:`(E/E_0)^{-\Gamma} e^{(E_0 - E)/E_c}`; ``PLSuperExpCutoff`` has
  ``Exp_Index``.
* 4FGL ``PLSuperExpCutoff``: DR3 and later files (``PLEC_ExpfactorS`` column) use the
  DR3 form (:class:`~gammaprob.modeling.spectral.SuperExpCutoffPowerLaw4FGLDR3`), DR1/DR2
  files the MeV ``Expfactor`` form.
* 2FHL spectra are integral-flux power laws between 50 GeV and 2 TeV.
* Position errors: the 68 % (``Pos_err_68``) or 95 % (``Conf_95_SemiMajor``) radius is
  turned into a Gaussian 1-sigma error (radius / sqrt(-2 ln(1 - p))); the longitude error
  is divided by cos(dec).
* Extended templates are read from ``$GAMMAPY_DATA/catalogs/fermi/<archive>/Templates``
  (3FGL and 2FHL: ``Extended_archive_v15``; 3FHL: ``Extended_archive_v18``; 4FGL:
  ``LAT_extended_sources_8years``, ``Extended_12years`` or ``Extended_14years`` by the
  catalog version).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import astropy.units as u
import numpy as np

from gammaprob.modeling import spatial, spectral
from gammaprob.utils.errors import FormatError
from gammaprob.utils.paths import resolve_data_path

from .core import CatalogSource, ComponentSpec, SourceCatalog, read_fits_table

__all__ = [
    "SourceCatalog2FHL",
    "SourceCatalog3FGL",
    "SourceCatalog3FHL",
    "SourceCatalog4FGL",
]

_FERMI = "$GAMMAPY_DATA/catalogs/fermi"


def _sigma_from_containment(radius: float, fraction: float) -> float:
    """1-sigma of a 2D Gaussian whose ``fraction`` containment radius is ``radius``."""
    return radius / math.sqrt(-2.0 * math.log(1.0 - fraction))


def _ul(flux: np.ndarray, errp: np.ndarray) -> np.ndarray:
    """Fermi catalogs' 2-sigma upper limit: value + 2 x positive error."""
    return flux + 2.0 * errp


class _FermiSource(CatalogSource):
    """A Fermi-LAT catalog source (shared position, morphology and flux-point code)."""

    def _deg(self, column: str) -> float:
        return float(u.Quantity(self.data[column], u.deg).to_value(u.deg))

    @property
    def is_pointlike(self) -> bool:
        """True unless the source has an entry in the extended-sources table."""
        return self._extended_row() is None

    def _extended_name(self) -> str:
        return str(self.data.get("Extended_Source_Name", "")).strip()

    def _extended_row(self) -> dict[str, Any] | None:
        name = self._extended_name()
        if name in ("", "--", "nan"):
            return None
        table = self.catalog.extended_table
        names = [str(n).strip() for n in table["Source_Name"]]
        if name not in names:
            raise FormatError(
                f"extended source {name!r} is not in the extended-sources table",
                path=self.catalog.filename,
                hdu=self.catalog.extended_hdu,
                column="Source_Name",
            )
        row = table[names.index(name)]
        return {c: row[c] for c in table.colnames}

    def _position_errors(self) -> dict[str, float]:
        d = self.data
        if "Pos_err_68" in d:
            major = minor = self._deg("Pos_err_68")
            fraction = 0.68
        else:
            major, minor = self._deg("Conf_95_SemiMajor"), self._deg("Conf_95_SemiMinor")
            fraction = 0.95
        lat_err = _sigma_from_containment(major, fraction)
        lon_err = _sigma_from_containment(minor, fraction) / math.cos(
            math.radians(self._deg("DEJ2000"))
        )
        return {"lon_0": lon_err, "lat_0": lat_err}

    def _template_path(self, row: dict[str, Any]) -> Path:
        name = str(row["Spatial_Filename"]).strip()
        folder = resolve_data_path(self.catalog.template_folder(row))
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.exists():
                return candidate
        raise FileNotFoundError(
            f"template {name!r} of {self.name!r} ({self.catalog.tag}) not found in {folder} "
            f"(tried {name} and {name}.gz)"
        )

    def _spatial_spec(self) -> ComponentSpec:
        ra, dec = self._deg("RAJ2000"), self._deg("DEJ2000")
        errors = self._position_errors()
        row = self._extended_row()
        if row is None:
            return ComponentSpec(
                spatial.Point, {"lon_0": ra, "lat_0": dec}, errors, {"frame": "icrs"}
            )
        form = str(row[self.catalog.morphology_column]).strip()
        major, minor = float(row["Model_SemiMajor"]), float(row["Model_SemiMinor"])
        shape = {
            "lon_0": ra,
            "lat_0": dec,
            "e": math.sqrt(1.0 - (minor / major) ** 2),
            "phi": float(row["Model_PosAng"]),
        }
        kind = self.catalog.morphology_kinds.get(form)
        if kind == "disk":
            return ComponentSpec(spatial.Disk, {**shape, "r_0": major}, errors, {"frame": "icrs"})
        if kind == "gauss":
            return ComponentSpec(
                spatial.Gaussian, {**shape, "sigma": major}, errors, {"frame": "icrs"}
            )
        if kind == "template":
            return ComponentSpec(_TemplateFromFile, {}, {}, {"path": self._template_path(row)})
        raise FormatError(
            f"unknown morphology {form!r} of {self.name!r}; known: {sorted(self.catalog.morphology_kinds)}",
            path=self.catalog.filename,
            hdu=self.catalog.extended_hdu,
            column=self.catalog.morphology_column,
        )

    # -- flux points -----------------------------------------------------------------------------
    def _band_columns(self) -> tuple[u.Quantity, np.ndarray, np.ndarray, np.ndarray | None, Any]:
        """Edges (TeV), flux, flux errors (n, 2), nuFnu (erg cm-2 s-1) or None, sqrt_ts."""
        raise NotImplementedError

    @property
    def flux_points(self):
        """The catalog's band fluxes as :class:`~gammaprob.datasets.flux_points.FluxPoints`.

        ``sed_type="flux"`` (cm-2 s-1) with ``flux_errn/errp``, ``is_ul`` where the lower
        error is missing, ``flux_ul`` = flux + 2 x positive error there (the catalogs'
        convention), ``e2dnde`` columns where the catalog gives nuFnu, and ``sqrt_ts``.
        """
        from astropy.table import Table

        from gammaprob.datasets.flux_points import FluxPoints

        edges, flux, err, nufnu, sqrt_ts = self._band_columns()
        errn, errp = np.abs(err[:, 0]), err[:, 1]
        is_ul = np.isnan(errn)
        table = Table()
        table["e_min"] = edges[:-1]
        table["e_max"] = edges[1:]
        table["flux"] = u.Quantity(flux, "cm-2 s-1")
        table["flux_errn"] = u.Quantity(errn, "cm-2 s-1")
        table["flux_errp"] = u.Quantity(errp, "cm-2 s-1")
        table["flux_ul"] = u.Quantity(np.where(is_ul, _ul(flux, errp), np.nan), "cm-2 s-1")
        table["is_ul"] = is_ul
        if nufnu is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                table["e2dnde"] = u.Quantity(nufnu, "erg cm-2 s-1")
                table["e2dnde_errn"] = u.Quantity(np.abs(nufnu * errn / flux), "erg cm-2 s-1")
                table["e2dnde_errp"] = u.Quantity(nufnu * errp / flux, "erg cm-2 s-1")
                e2_ul = _ul(nufnu, nufnu * errp / flux)
            table["e2dnde_ul"] = u.Quantity(np.where(is_ul, e2_ul, np.nan), "erg cm-2 s-1")
        if sqrt_ts is not None:
            table["sqrt_ts"] = np.asarray(sqrt_ts, dtype=float)
        table.meta["SED_TYPE"] = "flux"
        table.meta["SOURCE"] = self.name
        table.meta["CATALOG"] = self.catalog.tag
        return FluxPoints(table, sed_type="flux", path=self.catalog.filename)

    # -- light curves ------------------------------------------------------------------------------
    def _light_curve(self, flux_col: str, ts_col: str | None, hist: Any) -> Any:
        from astropy.table import Table

        from gammaprob.estimators.light_curve import LightCurve

        if hist is None or flux_col not in self.data:
            raise ValueError(f"the {self.catalog.tag} file has no {flux_col} light curve")
        meta = hist.meta
        mjdref = float(meta["MJDREFI"]) + float(str(meta["MJDREFF"]).replace("D", "e"))
        start = np.asarray(hist["Hist_Start"], dtype=float)
        t = mjdref + start / 86400.0
        flux = np.asarray(u.Quantity(self.data[flux_col]).to_value("cm-2 s-1"))
        err = np.asarray(u.Quantity(self.data[f"Unc_{flux_col}"]).to_value("cm-2 s-1"))
        errn, errp = np.abs(err[:, 0]), err[:, 1]
        is_ul = np.isnan(errn)
        e_lo, e_hi = (u.Quantity(e, u.TeV) for e in self.catalog.light_curve_band)
        ref = self.spectral_model().integral(e_lo, e_hi).to_value("cm-2 s-1")
        n = len(flux)
        table = Table()
        table["time_min"] = t[:-1]
        table["time_max"] = t[1:]
        table["e_min"] = u.Quantity(np.full((n, 1), e_lo.value), u.TeV)
        table["e_max"] = u.Quantity(np.full((n, 1), e_hi.value), u.TeV)
        table["e_ref"] = np.sqrt(table["e_min"] * table["e_max"])
        for name, values in (
            ("flux", flux),
            ("flux_errn", errn),
            ("flux_errp", errp),
            ("flux_ul", np.where(is_ul, _ul(flux, errp), np.nan)),
        ):
            table[name] = u.Quantity(values[:, None], "cm-2 s-1")
            table[name.replace("flux", "norm")] = values[:, None] / ref
        table["is_ul"] = is_ul[:, None]
        if ts_col is not None and ts_col in self.data:
            table["sqrt_ts"] = np.asarray(self.data[ts_col], dtype=float)[:, None]
            table["ts"] = table["sqrt_ts"] ** 2
        table.meta.update({"TIMESYS": "tt", "SOURCE": self.name, "CATALOG": self.catalog.tag})
        table.meta["NORM_REF"] = "integral flux of the catalog spectrum in the band"
        return LightCurve(table)


class _TemplateFromFile:
    """Stand-in class for :class:`ComponentSpec`: reads a Fermi template map on build.

    The templates are normalised (``normalize=True``), so their ``BUNIT`` does not matter;
    values astropy cannot parse (``'ph/cm2/s/sr'``, ``'None'``) are dropped on reading.
    """

    parameter_specs = spatial.Template.parameter_specs
    tag = "Template"

    def __new__(cls, path: Path):
        import warnings

        import astropy.units as units
        from astropy.wcs import FITSFixedWarning

        from gammaprob.maps.io import map_from_hdulist
        from gammaprob.utils.fits import open_fits

        with open_fits(path) as hdulist, warnings.catch_warnings():
            # old Fermi template headers use deprecated WCS keywords (RADECSYS)
            warnings.simplefilter("ignore", FITSFixedWarning)
            for hdu in hdulist:
                if "BUNIT" in hdu.header:
                    try:
                        units.Unit(str(hdu.header["BUNIT"]), parse_strict="raise")
                    except ValueError:
                        del hdu.header["BUNIT"]
            image = map_from_hdulist(hdulist, hdu=None, hdu_bands=None, unit=None, path=path)
        return spatial.Template(image, normalize=True, filename=str(path))


# ---------------------------------------------------------------------------------------------
class Source3FGL(_FermiSource):
    """A 3FGL source."""

    def _spectral_spec(self) -> ComponentSpec:
        d = self.data
        kind = d["SpectrumType"]
        base = {"amplitude": d["Flux_Density"], "reference": d["Pivot_Energy"]}
        errs = {"amplitude": d["Unc_Flux_Density"]}
        if kind == "PowerLaw":
            values = {**base, "index": d["Spectral_Index"]}
            errs["index"] = d["Unc_Spectral_Index"]
            return ComponentSpec(spectral.PowerLaw, values, errs)
        if kind == "PLExpCutoff":
            values = {**base, "index": d["Spectral_Index"], "ecut": d["Cutoff"]}
            errs.update(index=d["Unc_Spectral_Index"], ecut=d["Unc_Cutoff"])
            return ComponentSpec(spectral.ExpCutoffPowerLaw3FGL, values, errs)
        if kind == "LogParabola":
            values = {**base, "alpha": d["Spectral_Index"], "beta": d["beta"]}
            errs.update(alpha=d["Unc_Spectral_Index"], beta=d["Unc_beta"])
            return ComponentSpec(spectral.LogParabola, values, errs)
        if kind == "PLSuperExpCutoff":
            values = {
                **base,
                "index_1": d["Spectral_Index"],
                "index_2": d["Exp_Index"],
                "ecut": d["Cutoff"],
            }
            errs.update(
                index_1=d["Unc_Spectral_Index"], index_2=d["Unc_Exp_Index"], ecut=d["Unc_Cutoff"]
            )
            return ComponentSpec(spectral.SuperExpCutoffPowerLaw3FGL, values, errs)
        raise _bad_spectrum(self, kind)

    _edges = u.Quantity([100, 300, 1000, 3000, 10000, 100000], "MeV")
    _suffixes = ("100_300", "300_1000", "1000_3000", "3000_10000", "10000_100000")

    def _band_columns(self):
        d = self.data
        flux = np.array([u.Quantity(d[f"Flux{s}"]).to_value("cm-2 s-1") for s in self._suffixes])
        err = np.array([u.Quantity(d[f"Unc_Flux{s}"]).to_value("cm-2 s-1") for s in self._suffixes])
        nufnu = np.array(
            [u.Quantity(d[f"nuFnu{s}"]).to_value("erg cm-2 s-1") for s in self._suffixes]
        )
        sqrt_ts = [float(d[f"Sqrt_TS{s}"]) for s in self._suffixes]
        return self._edges.to(u.TeV), flux, err, nufnu, sqrt_ts

    def light_curve(self):
        """Return the catalog light curve (the ``Hist_Start`` bins), 100 MeV - 100 GeV.

        Returns
        -------
        gammaprob.estimators.LightCurve
            ``flux`` (cm-2 s-1), its errors and upper limits; ``norm`` = flux divided by
            the integral of the catalog spectrum over the band.
        """
        return self._light_curve("Flux_History", None, self.catalog.hist_table)


class Source4FGL(_FermiSource):
    """A 4FGL (DR1-DR4) source."""

    def _spectral_spec(self) -> ComponentSpec:
        d = self.data
        kind = d["SpectrumType"]
        ref = d["Pivot_Energy"]
        if kind == "PowerLaw":
            values = {"reference": ref, "amplitude": d["PL_Flux_Density"], "index": d["PL_Index"]}
            errs = {"amplitude": d["Unc_PL_Flux_Density"], "index": d["Unc_PL_Index"]}
            return ComponentSpec(spectral.PowerLaw, values, errs)
        if kind == "LogParabola":
            values = {
                "reference": ref,
                "amplitude": d["LP_Flux_Density"],
                "alpha": d["LP_Index"],
                "beta": d["LP_beta"],
            }
            errs = {
                "amplitude": d["Unc_LP_Flux_Density"],
                "alpha": d["Unc_LP_Index"],
                "beta": d["Unc_LP_beta"],
            }
            return ComponentSpec(spectral.LogParabola, values, errs)
        if kind == "PLSuperExpCutoff":
            dr3 = "PLEC_ExpfactorS" in d
            suffix = "S" if dr3 else ""
            cls = (
                spectral.SuperExpCutoffPowerLaw4FGLDR3
                if dr3
                else spectral.SuperExpCutoffPowerLaw4FGL
            )
            values = {
                "reference": ref,
                "amplitude": d["PLEC_Flux_Density"],
                "index_1": d[f"PLEC_Index{suffix}"],
                "index_2": d["PLEC_Exp_Index"],
                "expfactor": d[f"PLEC_Expfactor{suffix}"],
            }
            errs = {
                "amplitude": d["Unc_PLEC_Flux_Density"],
                "index_1": d[f"Unc_PLEC_Index{suffix}"],
                "index_2": d.get("Unc_PLEC_Exp_Index", math.nan),
                "expfactor": d[f"Unc_PLEC_Expfactor{suffix}"],
            }
            return ComponentSpec(cls, values, errs)
        raise _bad_spectrum(self, kind)

    def _band_columns(self):
        d = self.data
        edges = self.catalog.band_edges
        flux = np.asarray(u.Quantity(d["Flux_Band"]).to_value("cm-2 s-1"), dtype=float)
        err = np.asarray(u.Quantity(d["Unc_Flux_Band"]).to_value("cm-2 s-1"), dtype=float)
        nufnu = np.asarray(u.Quantity(d["nuFnu_Band"]).to_value("erg cm-2 s-1"), dtype=float)
        return edges, flux, err, nufnu, np.asarray(d["Sqrt_TS_Band"], dtype=float)

    def light_curve(self, interval: str = "1-year"):
        """Return the catalog light curve, 100 MeV - 100 GeV.

        Parameters
        ----------
        interval : {"1-year", "2-month"}
            Bins of ``Flux_History`` (``Hist_Start``) or ``Flux2_History``
            (``Hist2_Start``, DR2 and later).

        Returns
        -------
        gammaprob.estimators.LightCurve
            ``flux`` (cm-2 s-1), errors and upper limits, ``sqrt_ts``/``ts``; ``norm`` =
            flux divided by the integral of the catalog spectrum over the band.
        """
        if interval == "1-year":
            return self._light_curve("Flux_History", "Sqrt_TS_History", self.catalog.hist_table)
        if interval == "2-month":
            return self._light_curve("Flux2_History", "Sqrt_TS2_History", self.catalog.hist2_table)
        raise ValueError(f"interval must be '1-year' or '2-month', got {interval!r}")


class Source2FHL(_FermiSource):
    """A 2FHL source (integral-flux power law, 50 GeV - 2 TeV)."""

    def _extended_name(self) -> str:
        return self.name if self.name.endswith("e") else ""

    def _spectral_spec(self) -> ComponentSpec:
        d = self.data
        values = {
            "amplitude": d["Flux50"],
            "index": d["Spectral_Index"],
            "emin": 0.05 * u.TeV,
            "emax": 2.0 * u.TeV,
        }
        errs = {"amplitude": d["Unc_Flux50"], "index": d["Unc_Spectral_Index"]}
        return ComponentSpec(spectral.PowerLaw2, values, errs)

    _edges = u.Quantity([50, 171, 585, 2000], "GeV")
    _suffixes = ("50_171", "171_585", "585_2000")

    def _band_columns(self):
        d = self.data
        flux = np.array([u.Quantity(d[f"Flux{s}GeV"]).to_value("cm-2 s-1") for s in self._suffixes])
        err = np.array(
            [u.Quantity(d[f"Unc_Flux{s}GeV"]).to_value("cm-2 s-1") for s in self._suffixes]
        )
        return self._edges.to(u.TeV), flux, err, None, None


class Source3FHL(_FermiSource):
    """A 3FHL source."""

    def _spectral_spec(self) -> ComponentSpec:
        d = self.data
        kind = d["SpectrumType"]
        base = {"reference": d["Pivot_Energy"], "amplitude": d["Flux_Density"]}
        errs = {"amplitude": d["Unc_Flux_Density"]}
        if kind == "PowerLaw":
            errs["index"] = d["Unc_PowerLaw_Index"]
            return ComponentSpec(spectral.PowerLaw, {**base, "index": d["PowerLaw_Index"]}, errs)
        if kind == "LogParabola":
            values = {**base, "alpha": d["Spectral_Index"], "beta": d["beta"]}
            errs.update(alpha=d["Unc_Spectral_Index"], beta=d["Unc_beta"])
            return ComponentSpec(spectral.LogParabola, values, errs)
        raise _bad_spectrum(self, kind)

    _edges = u.Quantity([10, 20, 50, 150, 500, 2000], "GeV")

    def _band_columns(self):
        d = self.data
        flux = np.asarray(u.Quantity(d["Flux_Band"]).to_value("cm-2 s-1"), dtype=float)
        err = np.asarray(u.Quantity(d["Unc_Flux_Band"]).to_value("cm-2 s-1"), dtype=float)
        nufnu = np.asarray(u.Quantity(d["nuFnu"]).to_value("erg cm-2 s-1"), dtype=float)
        return self._edges.to(u.TeV), flux, err, nufnu, np.asarray(d["Sqrt_TS_Band"], float)


def _bad_spectrum(source: CatalogSource, kind: str) -> FormatError:
    return FormatError(
        f"unknown spectrum type {kind!r} of {source.name!r}",
        path=source.catalog.filename,
        column="SpectrumType",
    )


# ---------------------------------------------------------------------------------------------
class _FermiCatalog(SourceCatalog):
    """Shared reading of the Fermi-LAT FITS catalogs."""

    main_hdu: str = "LAT_Point_Source_Catalog"
    extended_hdu: str = "ExtendedSources"
    morphology_column: str = "Model_Form"
    morphology_kinds: ClassVar[dict[str, str]] = {
        "Disk": "disk",
        "Elliptical Disk": "disk",
        "2D Gaussian": "gauss",
        "Elliptical 2D Gaussian": "gauss",
        "Map": "template",
        "Ring": "template",
        "2D Gaussian x2": "template",
    }
    templates: str = f"{_FERMI}/Extended_archive_v15/Templates"
    hist_hdus: tuple[str, ...] = ()

    def _read(self, path: Path):
        table = read_fits_table(path, self.main_hdu)
        self.extended_table = read_fits_table(path, self.extended_hdu)
        from gammaprob.utils.fits import open_fits

        with open_fits(path) as hdulist:
            names = {h.name.upper() for h in hdulist}
        self.hist_table = read_fits_table(path, "Hist_Start") if "HIST_START" in names else None
        self.hist2_table = read_fits_table(path, "Hist2_Start") if "HIST2_START" in names else None
        for hist in (self.hist_table, self.hist2_table):
            if hist is not None and "MJDREFI" not in hist.meta and "GTI" in names:
                hist.meta.update(read_fits_table(path, "GTI").meta)
        self._hdu_names = names
        return table

    def template_folder(self, row: dict[str, Any]) -> str:
        """Folder of the extended-source templates (``$GAMMAPY_DATA`` not yet expanded)."""
        return self.templates


class SourceCatalog3FGL(_FermiCatalog):
    """Fermi-LAT 4-year source catalog (3FGL, Acero et al. 2015)."""

    tag = "3fgl"
    description = "Fermi-LAT 4-year point source catalog (3FGL)"
    default_filename = f"{_FERMI}/gll_psc_v16.fit.gz"
    source_class = Source3FGL
    alias_columns = (
        "Extended_Source_Name",
        "0FGL_Name",
        "1FGL_Name",
        "2FGL_Name",
        "1FHL_Name",
        "ASSOC_TEV",
        "ASSOC1",
        "ASSOC2",
    )
    energy_range = (1e-4, 0.1)
    light_curve_band = (1e-4, 0.1)


class SourceCatalog4FGL(_FermiCatalog):
    """Fermi-LAT 4FGL source catalog, DR1 to DR4 files (Abdollahi et al. 2020, 2022).

    The catalog file is not part of gammapy-data: give ``filename`` (e.g. ``gll_psc_v32.fit``).
    """

    tag = "4fgl"
    description = "Fermi-LAT 4FGL point source catalog (DR1-DR4 format)"
    default_filename = f"{_FERMI}/gll_psc_v32.fit.gz"
    source_class = Source4FGL
    alias_columns = (
        "Extended_Source_Name",
        "ASSOC_FGL",
        "ASSOC_FHL",
        "ASSOC_GAM1",
        "ASSOC_GAM2",
        "ASSOC_GAM3",
        "ASSOC_TEV",
        "ASSOC1",
        "ASSOC2",
    )
    energy_range = (5e-5, 1.0)
    light_curve_band = (1e-4, 0.1)

    def _read(self, path: Path):
        table = super()._read(path)
        if "ENERGYBOUNDS" not in self._hdu_names:
            raise FormatError("4FGL files need the EnergyBounds HDU", path=path, hdu="EnergyBounds")
        bounds = read_fits_table(path, "EnergyBounds")
        edges = np.unique(
            np.concatenate(
                [u.Quantity(bounds["LowerEnergy"]).to_value(u.TeV),
                 u.Quantity(bounds["UpperEnergy"]).to_value(u.TeV)]
            )
        )  # fmt: skip
        self.band_edges = u.Quantity(edges, u.TeV)
        version = "".join(ch for ch in str(table.meta.get("VERSION", "")) if ch.isdigit())
        if not version:
            raise FormatError(
                "the 4FGL header needs VERSION (it selects the template archive)",
                path=path,
                hdu=self.main_hdu,
            )
        self.version = int(version)
        return table

    def template_folder(self, row: dict[str, Any]) -> str:  # noqa: D102
        if self.version < 28:
            return f"{_FERMI}/LAT_extended_sources_8years/Templates"
        if self.version < 32:
            return f"{_FERMI}/Extended_12years/Templates"
        return f"{_FERMI}/Extended_14years/Templates"


class SourceCatalog2FHL(_FermiCatalog):
    """Fermi-LAT second catalog of hard sources above 50 GeV (2FHL, Ackermann et al. 2016)."""

    tag = "2fhl"
    description = "Fermi-LAT second catalog of sources above 50 GeV (2FHL)"
    default_filename = f"{_FERMI}/gll_psch_v09.fit.gz"
    source_class = Source2FHL
    main_hdu = "2FHL Source Catalog"
    extended_hdu = "Extended Sources"
    alias_columns = ("ASSOC", "3FGL_Name", "1FHL_Name", "TeVCat_Name")
    energy_range = (0.05, 2.0)


class SourceCatalog3FHL(_FermiCatalog):
    """Fermi-LAT third catalog of hard sources above 10 GeV (3FHL, Ajello et al. 2017)."""

    tag = "3fhl"
    description = "Fermi-LAT third catalog of sources above 10 GeV (3FHL)"
    default_filename = f"{_FERMI}/gll_psch_v13.fit.gz"
    source_class = Source3FHL
    alias_columns = ("ASSOC1", "ASSOC2", "ASSOC_TEV", "ASSOC_GAM")
    morphology_column = "Spatial_Function"
    morphology_kinds: ClassVar[dict[str, str]] = {
        "RadialDisk": "disk",
        "RadialGauss": "gauss",
        "SpatialMap": "template",
    }
    templates = f"{_FERMI}/Extended_archive_v18/Templates"
    energy_range = (0.01, 2.0)
