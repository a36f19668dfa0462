"""gamma-cat, HAWC (2HWC, 3HWC) and LHAASO (1LHAASO) catalogs.

Facts used:

* gamma-cat: spectra ``pl``, ``pl2`` (``e_max`` 1e5 TeV where missing), ``ecpl``
  (``lambda_`` = 1 / ``e_cut``, error ``e_cut_err / e_cut**2``) or ``none``; morphologies
  ``point``, ``gauss``, ``shell`` (radius 0.8 x ``morph_sigma``, width 0.2 x ``morph_sigma``)
  or ``none``; Galactic positions.
* 2HWC / 3HWC: power laws at 7 TeV, the tables store the index with its sign
  (``index = -spec_index``); a point source, or a disk of the quoted radius. 3HWC errors
  are asymmetric; the mean of the two is used as the 1-sigma error.
* 1LHAASO: up to two components per source, from WCDA (1 - 25 TeV) and KM2A (> 25 TeV):
  columns without suffix for ``Model_a``, with ``_b`` for ``Model_b``; a power law at
  ``E0``; a Gaussian of width ``r39`` or a point source where only an upper limit on the
  size is given; positions in FK5 (J2000), converted to ICRS; a component with only an
  upper limit on ``N0`` has no model.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from gammaprob.modeling import SkyModel, spatial, spectral
from gammaprob.utils.errors import FormatError

from .core import CatalogSource, ComponentSpec, NoModelError, SourceCatalog, read_fits_table

__all__ = [
    "SourceCatalog1LHAASO",
    "SourceCatalog2HWC",
    "SourceCatalog3HWC",
    "SourceCatalogGammaCat",
]

_SCALE_R95 = math.sqrt(-2.0 * math.log(0.05))  # 95 % radius / sigma of a 2D Gaussian


def _deg(value: Any) -> float:
    return float(u.Quantity(value, u.deg).to_value(u.deg))


def _galactic_errors(pos_err: Any, glat: Any) -> dict[str, float]:
    err = _deg(pos_err)
    return {"lat_0": err, "lon_0": err / math.cos(math.radians(_deg(glat)))}


def _read_ecsv(path: Path):
    from astropy.table import Table

    try:
        return Table.read(path, format="ascii.ecsv")
    except Exception as exc:  # astropy raises many types for a bad file
        raise FormatError(f"cannot read the ECSV table: {exc}", path=path) from exc


# -- gamma-cat ------------------------------------------------------------------------------------
class SourceGammaCat(CatalogSource):
    """A gamma-cat source."""

    @property
    def energy_range(self) -> u.Quantity:
        lo = float(u.Quantity(self.data["spec_erange_min"], u.TeV).value)
        hi = float(u.Quantity(self.data["spec_erange_max"], u.TeV).value)
        return u.Quantity([lo if np.isfinite(lo) else 0.1, hi if np.isfinite(hi) else 100.0], u.TeV)

    def _spectral_spec(self) -> ComponentSpec:
        d = self.data
        kind = d["spec_type"]
        if kind == "pl":
            values = {
                "amplitude": d["spec_pl_norm"],
                "index": d["spec_pl_index"],
                "reference": d["spec_pl_e_ref"],
            }
            errs = {"amplitude": d["spec_pl_norm_err"], "index": d["spec_pl_index_err"]}
            return ComponentSpec(spectral.PowerLaw, values, errs)
        if kind == "pl2":
            e_max = u.Quantity(d["spec_pl2_e_max"], u.TeV)
            if not (np.isfinite(e_max.value) and e_max.value != 0):
                e_max = 1e5 * u.TeV
            values = {
                "amplitude": d["spec_pl2_flux"],
                "index": d["spec_pl2_index"],
                "emin": d["spec_pl2_e_min"],
                "emax": e_max,
            }
            errs = {"amplitude": d["spec_pl2_flux_err"], "index": d["spec_pl2_index_err"]}
            return ComponentSpec(spectral.PowerLaw2, values, errs)
        if kind == "ecpl":
            e_cut = u.Quantity(d["spec_ecpl_e_cut"])
            values = {
                "amplitude": d["spec_ecpl_norm"],
                "index": d["spec_ecpl_index"],
                "lambda_": 1.0 / e_cut,
                "reference": d["spec_ecpl_e_ref"],
                "alpha": 1.0,
            }
            errs = {
                "amplitude": d["spec_ecpl_norm_err"],
                "index": d["spec_ecpl_index_err"],
                "lambda_": u.Quantity(d["spec_ecpl_e_cut_err"]) / e_cut**2,
            }
            return ComponentSpec(spectral.ExpCutoffPowerLaw, values, errs)
        if kind == "none":
            raise NoModelError(f"gamma-cat gives no spectral model for {self.name!r}")
        raise FormatError(
            f"unknown spec_type {kind!r}", path=self.catalog.filename, column="spec_type"
        )

    def _spatial_spec(self) -> ComponentSpec | None:
        d = self.data
        kind = d["morph_type"]
        values = {"lon_0": d["glon"], "lat_0": d["glat"]}
        errs = _galactic_errors(d["pos_err"], d["glat"])
        opts = {"frame": "galactic"}
        if kind == "point":
            return ComponentSpec(spatial.Point, values, errs, opts)
        if kind == "gauss":
            return ComponentSpec(
                spatial.Gaussian, {**values, "sigma": d["morph_sigma"]}, errs, opts
            )
        if kind == "shell":
            sigma = u.Quantity(d["morph_sigma"], u.deg)
            values.update(radius=0.8 * sigma, width=0.2 * sigma)
            return ComponentSpec(spatial.Shell, values, errs, opts)
        if kind == "none":
            return None
        raise FormatError(
            f"unknown morph_type {kind!r}", path=self.catalog.filename, column="morph_type"
        )

    @property
    def spatial_type(self) -> str:
        spec = self._spatial_spec()
        return "none" if spec is None else spec.cls.tag

    @property
    def spectral_type(self) -> str:
        return "none" if self.data["spec_type"] == "none" else super().spectral_type

    def spatial_model(self, policy=None, k=None):
        from .priors import check_policy

        spec = self._spatial_spec()
        return None if spec is None else spec.build(policy, check_policy(policy, k))[0]

    @property
    def flux_points(self):
        """gamma-cat's SED (``dnde``); columns without any finite value are dropped."""
        from astropy.table import Table

        from gammaprob.datasets.flux_points import FluxPoints

        d = self.data
        e_ref = u.Quantity(d["sed_e_ref"])
        valid = np.isfinite(e_ref.value)
        if not valid.any():
            return None
        table = Table()
        for name in ("e_ref", "e_min", "e_max", "dnde", "dnde_err", "dnde_errn", "dnde_errp",
                     "dnde_ul"):  # fmt: skip
            values = u.Quantity(d[f"sed_{name}"])[valid]
            if np.isfinite(values.value).any():
                table[name] = values
        table.meta.update({"SED_TYPE": "dnde", "SOURCE": self.name, "CATALOG": "gamma-cat"})
        return FluxPoints(table, sed_type="dnde", path=self.catalog.filename)


class SourceCatalogGammaCat(SourceCatalog):
    """gamma-cat, the open TeV source catalog.

    Names: ``common_name``, ``other_names`` and ``gamma_names``.
    """

    tag = "gamma-cat"
    description = "gamma-cat: an open catalog of TeV gamma-ray sources"
    default_filename = "$GAMMAPY_DATA/catalogs/gammacat/gammacat.fits.gz"
    source_class = SourceGammaCat
    name_column = "common_name"
    alias_columns = ("other_names", "gamma_names")

    def _read(self, path: Path):
        return read_fits_table(path, 1)

    def _make_positions(self):
        from astropy.coordinates import SkyCoord

        t = self.table
        return SkyCoord(np.asarray(t["ra"], float), np.asarray(t["dec"], float), unit="deg")


# -- HAWC -----------------------------------------------------------------------------------------
class _SourceHWC(CatalogSource):
    def _power_law(self, idx: int, err_index: Any, err_amp: Any) -> ComponentSpec:
        d = self.data
        values = {
            "reference": 7.0 * u.TeV,
            "amplitude": d[f"spec{idx}_dnde"],
            "index": -float(d[f"spec{idx}_index"]),
        }
        return ComponentSpec(spectral.PowerLaw, values, {"index": err_index, "amplitude": err_amp})

    def _morphology(self, radius: Any) -> ComponentSpec:
        d = self.data
        values = {"lon_0": d["glon"], "lat_0": d["glat"]}
        errs = _galactic_errors(d["pos_err"], d["glat"])
        if _deg(radius) == 0.0:
            return ComponentSpec(spatial.Point, values, errs, {"frame": "galactic"})
        return ComponentSpec(spatial.Disk, {**values, "r_0": radius}, errs, {"frame": "galactic"})


class Source2HWC(_SourceHWC):
    """A 2HWC source: a point-source fit, and for some sources an extended (disk) fit."""

    @property
    def has_extended(self) -> bool:
        """True when the catalog has the extended-source fit (``spec1_*``)."""
        return bool(np.isfinite(float(u.Quantity(self.data["spec1_dnde"]).value)))

    def _index(self, which: str) -> int:
        if which == "point":
            return 0
        if which == "extended":
            if not self.has_extended:
                raise ValueError(f"2HWC has no extended-source fit for {self.name!r}")
            return 1
        raise ValueError(f"which must be 'point' or 'extended', got {which!r}")

    def _spectral_spec(self, which: str = "point") -> ComponentSpec:
        i = self._index(which)
        d = self.data
        return self._power_law(i, d[f"spec{i}_index_err"], d[f"spec{i}_dnde_err"])

    def _spatial_spec(self, which: str = "point") -> ComponentSpec:
        i = self._index(which)
        return self._morphology(0.0 if i == 0 else self.data[f"spec{i}_radius"])

    def sky_model(self, policy=None, k=None, which: str = "point") -> SkyModel:
        """Return the point-source (default) or extended-source (``which="extended"``) model."""
        return self._sky_model(
            self._spectral_spec(which), self._spatial_spec(which), self.name, policy, k,
            {"fit": which},
        )  # fmt: skip


class Source3HWC(_SourceHWC):
    """A 3HWC source."""

    def _spectral_spec(self) -> ComponentSpec:
        d = self.data
        err_index = 0.5 * (float(d["spec0_index_errp"]) + abs(float(d["spec0_index_errn"])))
        err_amp = 0.5 * (u.Quantity(d["spec0_dnde_errp"]) + abs(u.Quantity(d["spec0_dnde_errn"])))
        return self._power_law(0, err_index, err_amp)

    def _spatial_spec(self) -> ComponentSpec:
        return self._morphology(self.data["spec0_radius"])


class _HWCCatalog(SourceCatalog):
    name_column = "source_name"
    energy_range = (1.0, 100.0)

    def _read(self, path: Path):
        return _read_ecsv(path)

    def _make_positions(self):
        from astropy.coordinates import SkyCoord

        t = self.table
        return SkyCoord(np.asarray(t["ra"], float), np.asarray(t["dec"], float), unit="deg")


class SourceCatalog2HWC(_HWCCatalog):
    """The 2HWC catalog (Abeysekara et al. 2017, 40 rows)."""

    tag = "2hwc"
    description = "2HWC catalog of the HAWC observatory"
    default_filename = "$GAMMAPY_DATA/catalogs/2HWC.ecsv"
    source_class = Source2HWC


class SourceCatalog3HWC(_HWCCatalog):
    """The 3HWC catalog (Albert et al. 2020, 65 rows)."""

    tag = "3hwc"
    description = "3HWC catalog of the HAWC observatory"
    default_filename = "$GAMMAPY_DATA/catalogs/3HWC.ecsv"
    source_class = Source3HWC


# -- LHAASO ---------------------------------------------------------------------------------------
#: Energy ranges of the 1LHAASO detectors (TeV).
LHAASO_ENERGY_RANGES = {"WCDA": (1.0, 25.0), "KM2A": (25.0, 1000.0)}


class Source1LHAASO(CatalogSource):
    """A 1LHAASO source with its WCDA and/or KM2A components."""

    def _suffix(self, which: str) -> str:
        if which not in LHAASO_ENERGY_RANGES:
            raise ValueError(f"which must be 'WCDA' or 'KM2A', got {which!r}")
        if which in str(self.data["Model_a"]):
            return ""
        if which in str(self.data["Model_b"]):
            return "_b"
        raise NoModelError(f"1LHAASO has no {which} component for {self.name!r}")

    def _value(self, name: str, which: str) -> tuple[Any, bool]:
        """Return a component value, or its upper limit (and True) where only that is given."""
        s = self._suffix(which)
        value = self.data[f"{name}{s}"]
        number = float(u.Quantity(value).value)
        if (not np.isfinite(number) or number == 0.0) and f"{name}_ul{s}" in self.data:
            return self.data[f"{name}_ul{s}"], True
        return value, False

    @property
    def components(self) -> list[str]:
        """The detectors with a fitted (not upper-limit) spectrum: "WCDA", "KM2A"."""
        out = []
        for which in ("WCDA", "KM2A"):
            try:
                _, is_ul = self._value("N0", which)
            except ValueError:
                continue
            if not is_ul:
                out.append(which)
        return out

    def _which(self, which: str | None) -> str:
        if which is not None:
            return which
        available = self.components
        if len(available) != 1:
            raise NoModelError(f"{self.name!r} has components {available}: choose one with which=")
        return available[0]

    def _position(self, which: str) -> tuple[float, float]:
        from astropy.coordinates import FK5, SkyCoord

        ra, _ = self._value("RAJ2000", which)
        dec, _ = self._value("DECJ2000", which)
        icrs = SkyCoord(_deg(ra), _deg(dec), unit="deg", frame=FK5(equinox="J2000")).icrs
        return float(icrs.ra.deg), float(icrs.dec.deg)

    def _spectral_spec(self, which: str | None = None) -> ComponentSpec:
        which = self._which(which)
        values = {
            "reference": self._value("E0", which)[0],
            "amplitude": self._value("N0", which)[0],
            "index": self._value("gamma", which)[0],
        }
        errs = {
            "amplitude": self._value("N0_err", which)[0],
            "index": self._value("gamma_err", which)[0],
        }
        return ComponentSpec(spectral.PowerLaw, values, errs)

    def _spatial_spec(self, which: str | None = None) -> ComponentSpec:
        which = self._which(which)
        ra, dec = self._position(which)
        pos_err = _deg(self._value("pos_err", which)[0]) / _SCALE_R95
        errs = {"lat_0": pos_err, "lon_0": pos_err / math.cos(math.radians(dec))}
        r39, is_ul = self._value("r39", which)
        values = {"lon_0": ra, "lat_0": dec}
        if is_ul:
            return ComponentSpec(spatial.Point, values, errs, {"frame": "icrs"})
        errs["sigma"] = self._value("r39_err", which)[0]
        return ComponentSpec(spatial.Gaussian, {**values, "sigma": r39}, errs, {"frame": "icrs"})

    @property
    def spectral_type(self) -> str:
        return ", ".join(f"{w}: PowerLaw" for w in self.components)

    @property
    def spatial_type(self) -> str:
        return ", ".join(f"{w}: {self._spatial_spec(w).cls.tag}" for w in self.components)

    def spectral_model(self, policy=None, k=None, which: str | None = None):
        from .priors import check_policy

        return self._spectral_spec(which).build(policy, check_policy(policy, k))[0]

    def spatial_model(self, policy=None, k=None, which: str | None = None):
        from .priors import check_policy

        return self._spatial_spec(which).build(policy, check_policy(policy, k))[0]

    def sky_model(self, policy=None, k=None, which: str | None = None) -> SkyModel:
        """Return the model of one component (``which``: "WCDA" or "KM2A"; needed when both exist).

        ``meta["energy_range"]`` records the detector's range (TeV).
        """
        which = self._which(which)
        extra = {"component": which, "energy_range": list(LHAASO_ENERGY_RANGES[which])}
        return self._sky_model(
            self._spectral_spec(which), self._spatial_spec(which), self.name, policy, k, extra
        )

    def sky_models(self, policy=None, k=None) -> list[SkyModel]:
        """One model per fitted component, named ``"<source> WCDA"`` / ``"<source> KM2A"``."""
        models = []
        for which in self.components:
            model = self.sky_model(policy, k, which)
            model.name = f"{self.name} {which}"
            models.append(model)
        return models

    @property
    def energy_range(self) -> u.Quantity:
        ranges = [LHAASO_ENERGY_RANGES[w] for w in self.components] or [(1.0, 1000.0)]
        return u.Quantity([min(r[0] for r in ranges), max(r[1] for r in ranges)], u.TeV)


class SourceCatalog1LHAASO(SourceCatalog):
    """The first LHAASO catalog (Cao et al. 2024, 90 sources; names and ``ASSO_Name``)."""

    tag = "1lhaaso"
    description = "1LHAASO catalog of the LHAASO observatory (WCDA and KM2A components)"
    default_filename = "$GAMMAPY_DATA/catalogs/1LHAASO_catalog.fits"
    source_class = Source1LHAASO
    alias_columns = ("ASSO_Name",)
    energy_range = (1.0, 1000.0)

    def _read(self, path: Path):
        return read_fits_table(path, 1)

    def _make_positions(self):
        from astropy.coordinates import FK5, SkyCoord

        t = self.table
        fk5 = SkyCoord(
            np.asarray(t["RAJ2000"], float),
            np.asarray(t["DECJ2000"], float),
            unit="deg",
            frame=FK5(equinox="J2000"),
        )
        return fk5.icrs
