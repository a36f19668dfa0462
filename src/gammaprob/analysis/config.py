"""The analysis configuration: one validated YAML file from DL3 (or DL4/DL5) to products.

:class:`AnalysisConfig` is a tree of pydantic models. Every key is documented with its unit
and default (``AnalysisConfig.model_json_schema()`` holds the same text); unknown keys are
refused, and a bad file raises :class:`ConfigError` whose message names each faulty field and
what it accepts, for example::

    datasets[0].background.method: expected one of reflected, wobble, ring, fov (got 'rflected')

Examples
--------
>>> from gammaprob.analysis import AnalysisConfig
>>> config = AnalysisConfig.read("analysis.yaml")  # doctest: +SKIP
>>> config.sampler.draws = 500                     # doctest: +SKIP
>>> config.write("analysis-short.yaml")            # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from ..utils.errors import GammaprobError

__all__ = [
    "AnalysisConfig",
    "BackgroundConfig",
    "CatalogModelsConfig",
    "ConeConfig",
    "ConfigError",
    "DatasetConfig",
    "EnergyAxisConfig",
    "EnergyRangeConfig",
    "FluxPointsDatasetConfig",
    "FluxPointsProductConfig",
    "HawcDL3DatasetConfig",
    "LightCurveProductConfig",
    "LikelihoodConfig",
    "MapDatasetConfig",
    "MapFileDatasetConfig",
    "ModelsConfig",
    "OGIPDatasetConfig",
    "ObservationsConfig",
    "OnRegionConfig",
    "OutputsConfig",
    "PriorsConfig",
    "ProductsConfig",
    "SafeMaskConfig",
    "SamplerConfig",
    "SpectrumDatasetConfig",
    "WcsGeomConfig",
    "format_validation_error",
    "reference_markdown",
]

#: ``type`` values of a dataset block.
DATASET_TYPES = ("spectrum", "map", "hawc-dl3", "ogip", "map-file", "flux-points")
#: Background methods of DL3 reductions.
BACKGROUND_METHODS = ("reflected", "wobble", "ring", "fov")
#: Safe-mask methods (:class:`gammaprob.makers.SafeMaskMaker`).
SAFE_MASK_METHODS = (
    "aeff-default",
    "aeff-max",
    "edisp-bias",
    "offset-max",
    "bkg-peak",
)
#: Samplers (:data:`gammaprob.inference.SAMPLERS`).
SAMPLER_KINDS = ("nutpie", "pymc", "numpyro", "emcee", "smc")


class ConfigError(GammaprobError, ValueError):
    """An analysis configuration that does not validate; the message lists every problem."""


class _Block(BaseModel):
    """Base of every config block: unknown keys are refused with the allowed ones named."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            unknown = [k for k in data if k not in allowed]
            if unknown:
                parts = []
                for key in unknown:
                    close = difflib.get_close_matches(str(key), allowed, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    parts.append(f"{key!r}{hint}")
                raise ValueError(
                    f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(parts)}; "
                    f"allowed keys: {', '.join(allowed)}"
                )
        return data


def _doc(text: str, unit: str | None = None) -> str:
    return f"{text} [{unit}]" if unit else text


# ------------------------------------------------------------------ shared pieces
class EnergyRangeConfig(_Block):
    """An energy interval."""

    min: float = Field(gt=0, description=_doc("Lower end", "unit"))
    max: float = Field(gt=0, description=_doc("Upper end", "unit"))
    unit: str = Field("TeV", description="Energy unit of min and max (default TeV)")

    @field_validator("unit")
    @classmethod
    def _energy_unit(cls, value: str) -> str:
        import astropy.units as u

        try:
            unit = u.Unit(value)
        except ValueError as exc:
            raise ValueError(f"not a unit: {value!r}") from exc
        if not unit.is_equivalent(u.TeV):
            raise ValueError(f"expected an energy unit (TeV, GeV, ...), got {value!r}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> EnergyRangeConfig:
        if not self.min < self.max:
            raise ValueError(f"min must be below max, got min={self.min}, max={self.max}")
        return self

    def to_tev(self) -> tuple[float, float]:
        """``(min, max)`` in TeV."""
        import astropy.units as u

        factor = u.Unit(self.unit).to(u.TeV)
        return self.min * factor, self.max * factor


class EnergyAxisConfig(EnergyRangeConfig):
    """An energy axis with logarithmically spaced edges from min to max."""

    nbins: int = Field(gt=0, description="Number of bins (log-spaced edges)")

    def edges(self):
        """Bin edges as an astropy Quantity."""
        import astropy.units as u
        import numpy as np

        return np.geomspace(self.min, self.max, self.nbins + 1) * u.Unit(self.unit)

    def to_axis(self, name: str = "energy"):
        """Return the :class:`gammaprob.maps.MapAxis` of these edges, named ``name``."""
        from ..maps import MapAxis

        return MapAxis.from_energy_bounds(self.min, self.max, self.nbins, unit=self.unit, name=name)


class ConeConfig(_Block):
    """A circle on the sky."""

    lon: float = Field(description=_doc("Longitude of the centre (RA or l)", "deg"))
    lat: float = Field(ge=-90, le=90, description=_doc("Latitude of the centre (Dec or b)", "deg"))
    frame: Literal["icrs", "galactic"] = Field("icrs", description="Sky frame (default icrs)")
    radius: float = Field(gt=0, description=_doc("Radius", "deg"))

    def center(self):
        """Return the centre as a SkyCoord."""
        from astropy.coordinates import SkyCoord

        return SkyCoord(self.lon, self.lat, unit="deg", frame=self.frame)


class OnRegionConfig(_Block):
    """The ON region of a 1D reduction."""

    lon: float = Field(description=_doc("Longitude of the centre (RA or l)", "deg"))
    lat: float = Field(ge=-90, le=90, description=_doc("Latitude of the centre (Dec or b)", "deg"))
    frame: Literal["icrs", "galactic"] = Field("icrs", description="Sky frame (default icrs)")
    radius: float | None = Field(
        None,
        gt=0,
        description=_doc(
            "Radius of the ON circle; null (default) for point-like IRFs, whose ON size is "
            "their RAD_MAX cut",
            "deg",
        ),
    )

    def region(self):
        """Return the region: a CircleSkyRegion, or a PointSkyRegion without radius."""
        import astropy.units as u
        from astropy.coordinates import SkyCoord
        from regions import CircleSkyRegion, PointSkyRegion

        center = SkyCoord(self.lon, self.lat, unit="deg", frame=self.frame)
        if self.radius is None:
            return PointSkyRegion(center)
        return CircleSkyRegion(center, self.radius * u.deg)


class TimeRangeConfig(_Block):
    """A time interval (UTC, ISO format, e.g. ``2004-12-04T22:00:00``)."""

    start: str = Field(description="Start (UTC, ISO 8601)")
    stop: str = Field(description="Stop (UTC, ISO 8601)")

    @model_validator(mode="after")
    def _parse(self) -> TimeRangeConfig:
        from astropy.time import Time

        try:
            start, stop = Time(self.start, scale="utc"), Time(self.stop, scale="utc")
        except ValueError as exc:
            raise ValueError(f"start/stop must be ISO times: {exc}") from exc
        if not start < stop:
            raise ValueError(f"start must be before stop, got {self.start} .. {self.stop}")
        return self


class ObservationsConfig(_Block):
    """Which DL3 observations of a data store to reduce."""

    datastore: str = Field(
        description="Folder of the data store (HDU and observation index); $GAMMAPY_DATA and ~ "
        "are expanded"
    )
    obs_ids: list[int] | None = Field(
        None, description="Observation ids (default: every observation of the store)"
    )
    cone: ConeConfig | None = Field(
        None, description="Keep observations pointed inside this cone (default: no cut)"
    )
    time_range: TimeRangeConfig | None = Field(
        None, description="Keep observations inside this time range (default: no cut)"
    )
    required_irf: Literal["full-enclosure", "point-like", "all-optional"] = Field(
        "full-enclosure", description="IRFs each observation must have (default full-enclosure)"
    )


class BackgroundConfig(_Block):
    """Background estimate of a DL3 reduction."""

    method: Literal["reflected", "wobble", "ring", "fov"] = Field(
        description="reflected or wobble (1D), ring or fov (3D)"
    )
    r_in: float | None = Field(None, gt=0, description=_doc("Ring inner radius (ring)", "deg"))
    width: float | None = Field(None, gt=0, description=_doc("Ring width (ring)", "deg"))
    fov_method: Literal["scale", "fit"] = Field(
        "scale", description="FoV background normalisation (fov; default scale)"
    )
    n_off_regions: int | None = Field(
        None,
        gt=0,
        description="Number of OFF regions on the wobble circle (wobble, required there)",
    )

    @model_validator(mode="after")
    def _ring(self) -> BackgroundConfig:
        if self.method == "ring" and (self.r_in is None or self.width is None):
            raise ValueError("method 'ring' needs r_in and width (deg)")
        if self.method == "wobble" and self.n_off_regions is None:
            raise ValueError("method 'wobble' needs n_off_regions (e.g. 1 or 3)")
        return self


class SafeMaskConfig(_Block):
    """Safe energy range per observation (:class:`gammaprob.makers.SafeMaskMaker`)."""

    methods: list[Literal[SAFE_MASK_METHODS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["aeff-default"],
        description="Methods, all applied (default [aeff-default])",
    )
    aeff_percent: float = Field(
        10.0, gt=0, lt=100, description=_doc("aeff-max threshold (default 10)", "percent")
    )
    bias_percent: float = Field(
        10.0, gt=0, description=_doc("edisp-bias threshold (default 10)", "percent")
    )
    offset_max: float = Field(
        3.0, gt=0, description=_doc("offset-max: largest offset (default 3)", "deg")
    )


class WcsGeomConfig(_Block):
    """Sky geometry of a 3D reduction (a WCS map)."""

    lon: float = Field(description=_doc("Longitude of the map centre", "deg"))
    lat: float = Field(ge=-90, le=90, description=_doc("Latitude of the map centre", "deg"))
    frame: Literal["icrs", "galactic"] = Field("icrs", description="Sky frame (default icrs)")
    width: float = Field(gt=0, description=_doc("Width and height of the map", "deg"))
    binsz: float = Field(0.02, gt=0, description=_doc("Pixel size (default 0.02)", "deg"))
    projection: str = Field("CAR", description="WCS projection (default CAR)")


# ------------------------------------------------------------------ dataset blocks
class _DatasetBase(_Block):
    name: str = Field(
        min_length=1,
        description="Name of the block (dataset names derive from it; unique in the config)",
    )


class SpectrumDatasetConfig(_DatasetBase):
    """DL3 observations reduced to 1D on/off spectra (point-like or full-enclosure IRFs)."""

    type: Literal["spectrum"] = Field(description="spectrum: DL3 -> 1D on/off spectrum")
    observations: ObservationsConfig = Field(description="The DL3 observations")
    on_region: OnRegionConfig = Field(description="ON region")
    energy_axis: EnergyAxisConfig = Field(description="Reconstructed energy axis")
    energy_axis_true: EnergyAxisConfig = Field(description="True energy axis (wider)")
    containment_correction: bool = Field(
        False,
        description="Correct the exposure for the PSF containment in the ON circle "
        "(full-enclosure IRFs; default false)",
    )
    background: BackgroundConfig = Field(
        default_factory=lambda: BackgroundConfig(method="reflected"),
        description="Background method: reflected (default) or wobble",
    )
    safe_mask: SafeMaskConfig = Field(
        default_factory=SafeMaskConfig, description="Safe energy range"
    )
    exclusion_regions: list[ConeConfig] = Field(
        default_factory=list, description="Circles where no OFF region may lie (default none)"
    )
    stack: bool = Field(True, description="Stack the observations into one dataset (default true)")

    @model_validator(mode="after")
    def _one_d_background(self) -> SpectrumDatasetConfig:
        if self.background.method not in ("reflected", "wobble"):
            raise ValueError(
                f"background.method {self.background.method!r} is for 3D datasets; "
                "a spectrum takes one of reflected, wobble"
            )
        return self


class MapDatasetConfig(_DatasetBase):
    """DL3 observations reduced to 3D map datasets."""

    type: Literal["map"] = Field(description="map: DL3 -> 3D map dataset")
    observations: ObservationsConfig = Field(description="The DL3 observations")
    geom: WcsGeomConfig = Field(description="Sky geometry")
    energy_axis: EnergyAxisConfig = Field(description="Reconstructed energy axis")
    energy_axis_true: EnergyAxisConfig = Field(description="True energy axis (wider)")
    background: BackgroundConfig = Field(
        default_factory=lambda: BackgroundConfig(method="fov"),
        description="Background method: fov (default) or ring",
    )
    safe_mask: SafeMaskConfig = Field(
        default_factory=SafeMaskConfig, description="Safe energy range and offset"
    )
    exclusion_regions: list[ConeConfig] = Field(
        default_factory=list,
        description="Circles left out of the background normalisation (default none)",
    )
    stack: bool = Field(True, description="Stack the observations into one dataset (default true)")

    @model_validator(mode="after")
    def _three_d_background(self) -> MapDatasetConfig:
        if self.background.method not in ("ring", "fov"):
            raise ValueError(
                f"background.method {self.background.method!r} is for spectra; "
                "a map takes one of ring, fov"
            )
        if self.background.method == "ring" and self.stack:
            # gammaprob.makers.stack_map_datasets stacks MapDataset only: the OFF counts of
            # ring on/off maps would be lost
            raise ValueError(
                "background.method 'ring' makes on/off maps, which cannot be stacked yet: "
                "set stack: false (one dataset per observation)"
            )
        return self


class HawcDL3DatasetConfig(_DatasetBase):
    """HAWC's DL3 release: one 3D dataset per fHit bin (IRF maps per transit)."""

    type: Literal["hawc-dl3"] = Field(description="hawc-dl3: HAWC DL3 -> one 3D dataset per bin")
    datastore: str = Field(
        "$GAMMAPY_DATA/hawc/crab_events_pass4",
        description="Release folder with hdu-/obs-index-table-<estimator>-<source>.fits.gz "
        "($GAMMAPY_DATA, ~ expanded)",
    )
    source: str = Field("Crab", description="Source part of the index file names (default Crab)")
    estimator: Literal["NN", "GP"] = Field(
        "NN",
        description="Energy estimator: NN (default) or GP (they share events: never both jointly)",
    )
    fhit_bins: list[int] = Field(
        min_length=1,
        description="fHit bins, one dataset '<name>-fhit<n>' each (the public Crab data: 5-9)",
    )
    transits: float | str = Field(
        "irfs/TransitsMap_Crab.fits.gz",
        description="Number of source transits, or a transit map file (relative to datastore; "
        "read at the map centre) by which exposure and background are multiplied",
    )
    geom: WcsGeomConfig = Field(description="Sky geometry")
    energy_axis_true: EnergyAxisConfig | None = Field(
        None,
        description="True energy axis (default: the effective-area map's); the reconstructed "
        "axis is always the background map's (background counts are per bin of it)",
    )
    safe_mask: SafeMaskConfig = Field(
        default_factory=lambda: SafeMaskConfig(methods=["aeff-max"]),
        description="Safe energy range (default aeff-max at 10 percent, as gammapy's tutorial)",
    )

    @field_validator("fhit_bins")
    @classmethod
    def _bins(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError(f"fHit bins must be unique, got {value}")
        if any(b < 1 for b in value):
            raise ValueError(f"fHit bins are positive integers, got {value}")
        return value

    @field_validator("transits")
    @classmethod
    def _transits(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not value > 0:
            raise ValueError(f"the number of transits must be positive, got {value}")
        return value

    @model_validator(mode="after")
    def _safe(self) -> HawcDL3DatasetConfig:
        needs_obs = {"aeff-default", "offset-max"} & set(self.safe_mask.methods)
        if needs_obs:
            raise ValueError(
                f"safe_mask.methods {sorted(needs_obs)} need a pointing and DL3 energy "
                "thresholds, which HAWC's release has not: use aeff-max, edisp-bias, bkg-peak"
            )
        return self


class OGIPDatasetConfig(_DatasetBase):
    """DL4: on/off spectra from OGIP files (PHA with its ARF, RMF and BKG)."""

    type: Literal["ogip"] = Field(description="ogip: OGIP PHA files")
    files: list[str] = Field(min_length=1, description="PHA files ($GAMMAPY_DATA expanded)")
    energy_range: EnergyRangeConfig | None = Field(
        None,
        description="Fit only the bins entirely inside [min, max] (sets mask_fit; default: "
        "every safe bin)",
    )


class MapFileDatasetConfig(_DatasetBase):
    """DL4: a map dataset written by gammaprob or gammapy."""

    type: Literal["map-file"] = Field(description="map-file: a DL4 map dataset FITS file")
    file: str = Field(description="Map dataset file ($GAMMAPY_DATA expanded)")


class FluxPointsDatasetConfig(_DatasetBase):
    """DL5: flux points fitted with the model."""

    type: Literal["flux-points"] = Field(description="flux-points: a flux-points table")
    file: str = Field(description="Flux-points FITS or ECSV file ($GAMMAPY_DATA expanded)")
    sed_type: Literal["dnde", "e2dnde", "flux", "eflux", "likelihood"] | None = Field(
        None, description="SED type when the file does not state it (default: from the file)"
    )


DatasetConfig = Annotated[
    SpectrumDatasetConfig
    | MapDatasetConfig
    | HawcDL3DatasetConfig
    | OGIPDatasetConfig
    | MapFileDatasetConfig
    | FluxPointsDatasetConfig,
    Field(discriminator="type"),
]


# ------------------------------------------------------------------ models and priors
class CatalogModelsConfig(_Block):
    """Sources from a catalog (:func:`gammaprob.catalog.load_catalog`)."""

    catalog: str = Field(
        description="Catalog tag: 3fgl, 4fgl, 2fhl, 3fhl, hgps, gamma-cat, 2hwc, 3hwc, 1lhaaso"
    )
    file: str | None = Field(None, description="Catalog file (default: the one in $GAMMAPY_DATA)")
    sources: list[str] = Field(default_factory=list, description="Source names (default none)")
    cone: ConeConfig | None = Field(None, description="Every source inside this cone")
    policy: Literal["catalog-errors", "broad"] | None = Field(
        description="Prior policy (gammaprob.catalog.POLICIES); null: every parameter fixed"
    )
    k: float | None = Field(
        None, gt=0, description="Prior width in catalog errors (catalog-errors; default 2)"
    )

    @field_validator("catalog")
    @classmethod
    def _known(cls, value: str) -> str:
        from ..catalog import CATALOGS

        if value.lower() not in CATALOGS:
            raise ValueError(f"expected one of {', '.join(CATALOGS)} (got {value!r})")
        return value.lower()

    @model_validator(mode="after")
    def _something(self) -> CatalogModelsConfig:
        if not self.sources and self.cone is None:
            raise ValueError("give sources (names) or a cone")
        return self


class ModelsConfig(_Block):
    """Where the sky models and their priors come from (any combination)."""

    file: str | None = Field(None, description="A gammaprob models YAML file")
    library: str | None = Field(
        None, description="A file of the models/ library by stem (e.g. crab_logparabola)"
    )
    catalog: CatalogModelsConfig | None = Field(None, description="Sources from a catalog")

    @model_validator(mode="after")
    def _something(self) -> ModelsConfig:
        if self.file is None and self.library is None and self.catalog is None:
            raise ValueError("give at least one of file, library, catalog")
        return self


class SystematicsConfig(_Block):
    """Systematic nuisances of one dataset block (:class:`gammaprob.modeling.Systematics`)."""

    energy_scale: float | None = Field(
        default=None,
        gt=0,
        le=0.25,
        description="Relative energy-scale uncertainty (1 sigma, e.g. 0.15; at most 0.25): "
        "the block's datasets see every source at assigned energy (1 + z) E, with "
        "'<block>::energy_scale' = z ~ TruncatedNormal(0, sigma, -0.5, 0.5) (default: off)",
    )
    effective_area: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Relative effective-area uncertainty (log-normal width, e.g. 0.1): the "
        "block's source counts times '<block>::effective_area' = a ~ LogNormal(0, width) "
        "(default: off)",
    )

    @model_validator(mode="after")
    def _something_on(self) -> SystematicsConfig:
        if self.energy_scale is None and self.effective_area is None:
            raise ValueError("give energy_scale and/or effective_area")
        return self

    def systematics(self, block: str, datasets_names: list[str]):
        """Return the :class:`~gammaprob.modeling.Systematics` of block ``block``."""
        from ..modeling import LogNormal, Systematics
        from ..modeling.spectral import energy_scale_prior

        return Systematics(
            datasets_names,
            name=block,
            energy_scale=None
            if self.energy_scale is None
            else energy_scale_prior(self.energy_scale),
            effective_area=None
            if self.effective_area is None
            else LogNormal(0.0, self.effective_area),
        )


class PriorsConfig(_Block):
    """Changes to the priors of the models, and systematics per dataset block."""

    overrides: dict[str, float | dict[str, Any]] = Field(
        default_factory=dict,
        description="'<source>::<parameter>': a number (fixes it, in the parameter's unit) or "
        "a prior {type: Normal, mu: ..., sigma: ..., unit: ...} (default none)",
    )
    systematics: dict[str, SystematicsConfig] = Field(
        default_factory=dict, description="Per dataset block name (default none)"
    )

    @field_validator("overrides")
    @classmethod
    def _priors(cls, value: dict) -> dict:
        from ..modeling.prior import prior_from_dict

        for key, spec in value.items():
            if "::" not in key:
                raise ValueError(f"key {key!r}: expected '<source>::<parameter>'")
            if isinstance(spec, dict):
                try:
                    prior_from_dict(spec)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{key}: {exc}") from exc
        return value


class LikelihoodConfig(_Block):
    """Likelihood choices (:func:`gammaprob.inference.build_model`)."""

    onoff: Literal["marginal", "latent", "wstat"] = Field(
        "marginal",
        description="On/off data: marginal (default; OFF rates integrated out), latent "
        "(sampled) or wstat (profiled)",
    )


class SamplerConfig(_Block):
    """Posterior sampling (:func:`gammaprob.inference.sample`)."""

    kind: Literal[SAMPLER_KINDS] = Field(  # type: ignore[valid-type]
        "nutpie", description="Sampler (default nutpie)"
    )
    draws: int | None = Field(
        None,
        gt=0,
        description="Kept draws per chain (default null: 2000 with a hierarchy, else 1000)",
    )
    tune: int = Field(1000, ge=0, description="Tuning steps per chain (default 1000)")
    chains: int = Field(4, gt=0, description="Chains (default 4)")
    seed: int | None = Field(0, description="Random seed (default 0; null: not reproducible)")
    target_accept: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="NUTS target acceptance (default null: 0.99 with a hierarchy, else 0.9)",
    )


class FluxPointsProductConfig(_Block):
    """Flux points from the posterior (:class:`gammaprob.estimators.FluxPointsEstimator`)."""

    source: str = Field(description="Source name")
    energy_edges: EnergyAxisConfig = Field(description="Flux-point bins (log-spaced)")
    prob: float = Field(0.68, gt=0, lt=1, description="Credible level of the errors (0.68)")
    ul_prob: float = Field(0.95, gt=0, lt=1, description="Level of the upper limits (0.95)")


class LightCurveProductConfig(_Block):
    """A light curve from the posterior (:class:`gammaprob.estimators.LightCurveEstimator`)."""

    source: str = Field(description="Source name")
    energy_edges: EnergyAxisConfig = Field(description="Energy bins of each time bin")
    time_intervals: list[TimeRangeConfig] | None = Field(
        None,
        description="Time bins (default: one per dataset; needs stack: false, or one block "
        "per period)",
    )
    prob: float = Field(0.68, gt=0, lt=1, description="Credible level of the errors (0.68)")
    ul_prob: float = Field(0.95, gt=0, lt=1, description="Level of the upper limits (0.95)")


class ProductsConfig(_Block):
    """Products derived from the data and the posterior."""

    flux_points: FluxPointsProductConfig | None = Field(
        None, description="Flux points (default: none)"
    )
    light_curve: LightCurveProductConfig | None = Field(
        None, description="Light curve (default: none)"
    )


class OutputsConfig(_Block):
    """What is written, and where."""

    directory: str = Field(
        "gammaprob-analysis",
        description="Output folder, relative to the config file (default gammaprob-analysis)",
    )
    result: str = Field("result.nc", description="DataTree netCDF file name (result.nc)")
    report: Literal["html", "md"] | None = Field(
        "html", description="Report format (default html; null: no report)"
    )
    ci_prob: float = Field(0.68, gt=0, lt=1, description="Credible level of the report (0.68)")
    fits: bool = Field(True, description="Write products as FITS files (default true)")
    overwrite: bool = Field(False, description="Replace existing outputs (default false)")


# ------------------------------------------------------------------ the whole file
class AnalysisConfig(_Block):
    """A whole Bayesian analysis: datasets, models, priors, likelihood, sampler, products."""

    _path: Path | None = PrivateAttr(None)

    name: str = Field("analysis", min_length=1, description="Analysis name (report title)")
    datasets: list[DatasetConfig] = Field(min_length=1, description="Dataset blocks")
    models: ModelsConfig = Field(description="Sky models and priors")
    priors: PriorsConfig = Field(default_factory=PriorsConfig, description="Prior changes")
    likelihood: LikelihoodConfig = Field(
        default_factory=LikelihoodConfig, description="Likelihood choices"
    )
    sampler: SamplerConfig = Field(default_factory=SamplerConfig, description="Sampling")
    products: ProductsConfig = Field(default_factory=ProductsConfig, description="Products")
    outputs: OutputsConfig = Field(default_factory=OutputsConfig, description="Outputs")

    @model_validator(mode="after")
    def _names(self) -> AnalysisConfig:
        names = [d.name for d in self.datasets]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"datasets: block names must be unique, repeated: {duplicated}")
        unknown = sorted(set(self.priors.systematics) - set(names))
        if unknown:
            raise ValueError(
                f"priors.systematics: unknown dataset block {unknown}; blocks: {names}"
            )
        return self

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> AnalysisConfig:
        """Validate a mapping; errors become one :class:`ConfigError` listing every field."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of keys at top level, got {data!r}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"{source} is not valid:\n{format_validation_error(exc)}") from None

    @classmethod
    def from_yaml(cls, text: str, source: str = "config") -> AnalysisConfig:
        """Validate YAML text."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def read(cls, path: str | os.PathLike) -> AnalysisConfig:
        """Read and validate a YAML file; :attr:`path` remembers it."""
        path = Path(path)
        config = cls.from_yaml(path.read_text(), source=str(path))
        config._path = path
        return config

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as plain Python values (every default written out)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """Return the configuration as YAML."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write the YAML to ``path`` (atomically; not over an existing file unless asked)."""
        from ..utils.io import atomic_path

        with atomic_path(path, overwrite=overwrite) as tmp:
            Path(tmp).write_text(self.to_yaml())

    @property
    def path(self) -> Path | None:
        """The file this configuration was read from (None when built in Python)."""
        return self._path

    def output_dir(self) -> Path:
        """Return the output folder (a relative name is relative to the config file's folder)."""
        from gammaprob.utils.paths import resolve_data_path

        out = resolve_data_path(self.outputs.directory)
        if not out.is_absolute() and self.path is not None:
            out = self.path.parent / out
        return out


# ------------------------------------------------------------------ readable errors
def _location(loc: tuple) -> str:
    text = ""
    previous_index = False
    for item in loc:
        if isinstance(item, int):
            text += f"[{item}]"
            previous_index = True
            continue
        if previous_index and item in DATASET_TYPES:
            previous_index = False
            continue  # the discriminated union's tag
        previous_index = False
        text += f".{item}" if text else str(item)
    return text or "(top level)"


def _expected(ctx_expected: str) -> str:
    values = ctx_expected.replace(" or ", ", ").split(", ")
    return ", ".join(v.strip().strip("'\"") for v in values)


def format_validation_error(exc: ValidationError) -> str:
    """One readable line per problem: ``field.path: what was expected (got ...)``.

    Parameters
    ----------
    exc : pydantic.ValidationError
        The error.

    Returns
    -------
    str
        The lines, joined by newlines.
    """
    lines = []
    for error in exc.errors(include_url=False):
        where = _location(error["loc"])
        kind = error["type"]
        ctx = error.get("ctx", {})
        got = error.get("input")
        if kind == "literal_error":
            message = f"expected one of {_expected(ctx['expected'])} (got {got!r})"
        elif kind == "union_tag_invalid":
            where += ".type"
            message = f"expected one of {_expected(ctx['expected_tags'])} (got {ctx['tag']!r})"
        elif kind == "union_tag_not_found":
            where += ".type"
            message = f"required key is missing: one of {', '.join(DATASET_TYPES)}"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "value_error":
            message = str(ctx.get("error", error["msg"]))
        else:
            message = f"{error['msg'][0].lower()}{error['msg'][1:]} (got {got!r})"
        lines.append(f"{where}: {message}")
    return "\n".join(lines)


# ------------------------------------------------------------------ reference (docs)
#: Blocks of the reference, in order: (title, class).
_REFERENCE_BLOCKS = (
    ("top level", AnalysisConfig),
    ("datasets[]: type spectrum (DL3 -> 1D)", SpectrumDatasetConfig),
    ("datasets[]: type map (DL3 -> 3D)", MapDatasetConfig),
    ("datasets[]: type hawc-dl3 (HAWC DL3 -> 3D per fHit bin)", HawcDL3DatasetConfig),
    ("datasets[]: type ogip (DL4)", OGIPDatasetConfig),
    ("datasets[]: type map-file (DL4)", MapFileDatasetConfig),
    ("datasets[]: type flux-points (DL5)", FluxPointsDatasetConfig),
    ("observations", ObservationsConfig),
    ("on_region", OnRegionConfig),
    ("geom", WcsGeomConfig),
    ("energy axes (energy_axis, energy_axis_true, energy_edges)", EnergyAxisConfig),
    ("energy_range", EnergyRangeConfig),
    ("cone, exclusion_regions[]", ConeConfig),
    ("time_range", TimeRangeConfig),
    ("background", BackgroundConfig),
    ("safe_mask", SafeMaskConfig),
    ("models", ModelsConfig),
    ("models.catalog", CatalogModelsConfig),
    ("priors", PriorsConfig),
    ("priors.systematics.<block>", SystematicsConfig),
    ("likelihood", LikelihoodConfig),
    ("sampler", SamplerConfig),
    ("products", ProductsConfig),
    ("products.flux_points", FluxPointsProductConfig),
    ("products.light_curve", LightCurveProductConfig),
    ("outputs", OutputsConfig),
)


def _default_text(field) -> str:
    from pydantic_core import PydanticUndefined

    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "see its block"
        return f"`{json.dumps(value)}`"
    if field.default is PydanticUndefined:  # pragma: no cover - required handled above
        return "required"
    return f"`{json.dumps(field.default)}`"


def reference_markdown() -> str:
    """Return the configuration reference as Markdown tables (one per block).

    The tables are generated from the field descriptions, so ``docs/analysis.md``, which
    includes them, cannot drift from the code (a test compares them).
    """
    lines: list[str] = []
    for title, model in _REFERENCE_BLOCKS:
        lines += [f"#### {title}", "", model.__doc__.strip().splitlines()[0], ""]
        lines += ["| key | default | meaning [unit] |", "|---|---|---|"]
        for name, field in model.model_fields.items():
            text = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{name}` | {_default_text(field)} | {text} |")
        lines.append("")
    return "\n".join(lines)
