"""Sources and backgrounds: :class:`SkyModel` and :class:`FoVBackgroundModel`.

Variable names
--------------
Building a model (inside a ``pm.Model``) names each free parameter
``"<model name>::<parameter>"``, e.g. ``"crab::index"``, ``"crab::lon_0"``,
``"hess-23523-bkg::norm"``. When the spectral, spatial and temporal components of one
source share a parameter name (e.g. the ``sigma`` of a Gaussian line and of a Gaussian
morphology), the spatial/temporal one is named ``"<model>::spatial::<parameter>"`` /
``"<model>::temporal::<parameter>"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import astropy.units as u
import numpy as np

from .component import Component
from .parameter import Parameter, Parameters, ParameterSpec
from .spectral.base import SpectralModel
from .spectral.powerlaw import PowerLawNorm

__all__ = ["FoVBackgroundModel", "SkyModel"]

_KINDS = ("spectral", "spatial", "temporal")


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name or "::" in name:
        raise ValueError(f"{what} name must be a non-empty string without '::', got {name!r}")
    return name


def _check_datasets(names: Any) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"datasets_names must be strings, got {names!r}")
    return names


class SkyModel:
    """A source: spectral x spatial x temporal components.

    Parameters
    ----------
    spectral : SpectralModel
        Spectrum (dN/dE in cm-2 s-1 TeV-1).
    spatial : Component, optional
        Morphology (a spatial component); None for spectrum-only analyses.
    temporal : Component, optional
        Light curve (a temporal component); None means constant in time.
    name : str
        Unique name; prefix of the PyMC variable names.
    datasets_names : list of str, optional
        Datasets this source contributes to (None: all).
    meta : mapping, optional
        Free-form provenance (e.g. the catalog, row and prior policy a model came from);
        written to YAML under ``meta`` when not empty.
    """

    tag = "SkyModel"

    def __init__(
        self,
        spectral: SpectralModel,
        spatial: Component | None = None,
        temporal: Component | None = None,
        name: str = "",
        datasets_names: list[str] | str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(spectral, SpectralModel):
            raise TypeError(f"SkyModel.spectral must be a SpectralModel, got {spectral!r}")
        for kind, comp in (("spatial", spatial), ("temporal", temporal)):
            if comp is not None and getattr(comp, "kind", None) != kind:
                raise TypeError(f"SkyModel.{kind} must be a {kind} component, got {comp!r}")
        self.name = _check_name(name, "SkyModel")
        self.spectral = spectral
        self.spatial = spatial
        self.temporal = temporal
        self.datasets_names = _check_datasets(datasets_names)
        self.meta: dict[str, Any] = dict(meta or {})

    @property
    def components(self) -> dict[str, Component]:
        """The components present, by kind."""
        return {k: getattr(self, k) for k in _KINDS if getattr(self, k) is not None}

    def _prefixes(self) -> dict[str, str]:
        """Relative variable-name prefix per component ('' or 'spatial::', 'temporal::')."""
        seen: set[str] = set()
        prefixes = {}
        for kind, comp in self.components.items():
            names = set(comp.parameters)
            prefixes[kind] = f"{kind}::" if names & seen else ""
            seen |= names
        return prefixes

    @property
    def parameters(self) -> Parameters:
        """All parameters, keyed by their variable name without the source prefix."""
        prefixes = self._prefixes()
        return Parameters(
            {
                f"{prefixes[kind]}{name}": p
                for kind, comp in self.components.items()
                for name, p in comp.parameters.items()
            }
        )

    def build(self) -> dict[str, Any]:
        """Build all components' parameters in the current ``pm.Model``.

        Returns
        -------
        dict
            ``{"spectral": params, "spatial": params, "temporal": params}`` (present
            components only), each to pass to that component's ``evaluate_with``.
        """
        prefixes = self._prefixes()
        out = {}
        for kind, comp in self.components.items():
            prefix = f"{self.name}::{prefixes[kind][:-2]}" if prefixes[kind] else self.name
            out[kind] = comp.build(prefix)
        return out

    def to_dict(self, links: Mapping[int, str] | None = None) -> dict[str, Any]:
        """YAML-friendly dict (gammapy-compatible layout)."""
        out: dict[str, Any] = {"name": self.name, "type": self.tag}
        for kind, comp in self.components.items():
            out[kind] = comp.to_dict(links)
        if self.datasets_names is not None:
            out["datasets_names"] = list(self.datasets_names)
        if self.meta:
            out["meta"] = dict(self.meta)
        return out

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        links: dict[str, Parameter] | None = None,
        dialect: str = "gammaprob",
    ) -> SkyModel:
        """Create from :meth:`to_dict` output or a gammapy ``SkyModel`` entry."""
        import importlib

        from .component import get_component

        extra = sorted(set(data) - {"name", "type", "datasets_names", "meta", *_KINDS})
        if extra:
            raise ValueError(f"SkyModel {data.get('name')!r}: unknown keys {extra}")
        if "spectral" not in data:
            raise ValueError(f"SkyModel {data.get('name')!r} has no 'spectral' component")
        links = {} if links is None else links
        comps: dict[str, Any] = {}
        for kind in _KINDS:
            if kind in data:
                entry = data[kind]
                if kind != "spectral":  # register the spatial/temporal classes on first use
                    importlib.import_module(f"gammaprob.modeling.{kind}")
                base = get_component(entry.get("type"), kind)
                comps[kind] = base.from_dict(entry, links, dialect)
        return cls(
            **comps,
            name=data.get("name", ""),
            datasets_names=data.get("datasets_names"),
            meta=data.get("meta"),
        )

    def __repr__(self) -> str:
        parts = [f"name={self.name!r}"] + [f"{k}={c!r}" for k, c in self.components.items()]
        if self.datasets_names is not None:
            parts.append(f"datasets_names={self.datasets_names}")
        return f"SkyModel({', '.join(parts)})"


GRADIENT_SPECS = {
    name: ParameterSpec(
        name,
        "deg-1",
        0.0,
        (-math.inf, math.inf),
        None,
        "linear",
        f"log-linear background gradient along {axis} (per degree)",
    )
    for name, axis in (("gradient_lon", "longitude"), ("gradient_lat", "latitude"))
}


class FoVBackgroundModel:
    r"""Field-of-view background correction of one dataset.

    The background template ``b`` of the dataset becomes

    .. math::
        b'_{e,p} = s(E_e)\,\exp(g_{lon}\,\Delta x_p + g_{lat}\,\Delta y_p)\, b_{e,p},

    with ``s`` the spectral correction (default ``norm (E/E0)^-tilt``) and, when a gradient
    is given, :math:`\Delta x_p = \mathrm{wrap}(lon_p - lon_0) \cos(lat_0)` and
    :math:`\Delta y_p = lat_p - lat_0` (deg) the offsets of pixel ``p`` from ``centre``
    (default: the centre pixel of the map). The exponential keeps the background positive;
    for small gradients it is the linear gradient ``1 + g . Delta`` to first order.

    Parameters
    ----------
    dataset_name : str
        The dataset whose background template it scales.
    norm, tilt, reference
        Parameters of the default :class:`~gammaprob.modeling.spectral.PowerLawNorm`
        (``norm`` free with LogNormal(0, 0.5), ``tilt`` fixed at 0, reference 1 TeV).
    spectral : SpectralModel, optional
        Any dimensionless spectral correction instead of the power-law norm.
    gradient_lon, gradient_lat : float, Quantity, Prior or Parameter, optional
        Spatial gradient of the log background in deg-1 (e.g. ``Normal(0, 0.05,
        unit="deg-1")``); None (default) for no spatial term. Give both or neither.
    centre : tuple of float, optional
        ``(lon_0, lat_0)`` in deg (the dataset's frame) of the gradient's origin.
    """

    tag = "FoVBackgroundModel"

    def __init__(
        self,
        dataset_name: str,
        norm: Any = None,
        tilt: Any = None,
        reference: Any = None,
        spectral: SpectralModel | None = None,
        *,
        gradient_lon: Any = None,
        gradient_lat: Any = None,
        centre: tuple[float, float] | None = None,
    ) -> None:
        self.dataset_name = _check_name(dataset_name, "dataset")
        given = {"norm": norm, "tilt": tilt, "reference": reference}
        given = {k: v for k, v in given.items() if v is not None}
        if spectral is None:
            spectral = PowerLawNorm(**given)
        elif given:
            raise TypeError("give either spectral= or norm/tilt/reference, not both")
        if (
            not isinstance(spectral, SpectralModel)
            or spectral.output_unit != u.dimensionless_unscaled
        ):
            raise TypeError(f"background spectral must be dimensionless, got {spectral!r}")
        self.spectral = spectral
        if (gradient_lon is None) != (gradient_lat is None):
            raise ValueError(
                f"FoVBackgroundModel {dataset_name!r}: give both gradient_lon and gradient_lat "
                "(deg-1) or neither"
            )
        self.gradient: dict[str, Parameter] = {}
        if gradient_lon is not None:
            self.gradient = {
                "gradient_lon": GRADIENT_SPECS["gradient_lon"].make(gradient_lon),
                "gradient_lat": GRADIENT_SPECS["gradient_lat"].make(gradient_lat),
            }
        if centre is not None:
            lon_0, lat_0 = (float(c) for c in centre)
            if not (math.isfinite(lon_0) and -90.0 <= lat_0 <= 90.0):
                raise ValueError(
                    f"FoVBackgroundModel {dataset_name!r}: centre must be (lon, lat) in deg "
                    f"with |lat| <= 90, got {centre!r}"
                )
            centre = (lon_0, lat_0)
        self.centre = centre

    @property
    def name(self) -> str:
        """``"<dataset_name>-bkg"`` (gammapy's convention)."""
        return f"{self.dataset_name}-bkg"

    @property
    def datasets_names(self) -> list[str]:
        """The one dataset this model applies to."""
        return [self.dataset_name]

    @property
    def has_gradient(self) -> bool:
        """True when the model has a spatial gradient term."""
        return bool(self.gradient)

    @property
    def parameters(self) -> Parameters:
        """Parameters of the spectral correction (and the gradient)."""
        return Parameters({**self.spectral.parameters, **self.gradient})

    def build(self) -> dict[str, Any]:
        """Build the parameters in the current ``pm.Model`` (``"<name>::norm"``, ...)."""
        from .parameter import build_parameter

        out: dict[str, Any] = {"spectral": self.spectral.build(self.name)}
        if self.gradient:
            out["gradient"] = {
                k: build_parameter(p, f"{self.name}::{k}") for k, p in self.gradient.items()
            }
        return out

    def values(self) -> dict[str, Any]:
        """Numeric parameter values, laid out as :meth:`build` returns them."""
        out: dict[str, Any] = {"spectral": self.spectral.values()}
        if self.gradient:
            out["gradient"] = {k: np.float64(p.value) for k, p in self.gradient.items()}
        return out

    def spatial_factor(self, lon: Any, lat: Any, gradient: Any, centre: Any = None) -> Any:
        """Spatial factor ``exp(g . Delta)`` of the background at pixels ``lon``, ``lat``.

        Parameters
        ----------
        lon, lat : numpy.ndarray
            Pixel centres (deg).
        gradient : Mapping
            ``{"gradient_lon": value, "gradient_lat": value}`` (deg-1; floats or tensors).
        centre : tuple of float, optional
            Origin used when the model has none (deg).

        Returns
        -------
        numpy.ndarray or tensor
            The factor per pixel (1 everywhere without a gradient).
        """
        from gammaprob.utils.xp import namespace

        centre = self.centre if self.centre is not None else centre
        if centre is None:
            raise ValueError(f"{self.name}: the gradient needs a centre (lon, lat)")
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        dx = ((lon - centre[0] + 180.0) % 360.0 - 180.0) * np.cos(np.deg2rad(centre[1]))
        dy = lat - centre[1]
        g_lon, g_lat = gradient["gradient_lon"], gradient["gradient_lat"]
        xp = namespace(g_lon, g_lat)
        return xp.exp(g_lon * dx + g_lat * dy)

    def to_dict(self, links: Mapping[int, str] | None = None) -> dict[str, Any]:
        """YAML-friendly dict (gammapy-compatible layout; ``gradient`` is ours)."""
        from .component import parameter_to_dict

        out: dict[str, Any] = {
            "type": self.tag,
            "datasets_names": [self.dataset_name],
            "spectral": self.spectral.to_dict(links),
        }
        if self.gradient:
            out["gradient"] = {
                "parameters": [
                    parameter_to_dict(k, p, (links or {}).get(id(p)))
                    for k, p in self.gradient.items()
                ]
            }
            if self.centre is not None:
                out["gradient"]["centre"] = list(self.centre)
        return out

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        links: dict[str, Parameter] | None = None,
        dialect: str = "gammaprob",
    ) -> FoVBackgroundModel:
        """Create from :meth:`to_dict` output or a gammapy entry (old and new layouts)."""
        from .component import parameter_from_dict

        known = {"name", "type", "datasets_names", "spectral", "parameters", "gradient"}
        extra = sorted(set(data) - known)
        if extra:
            raise ValueError(f"FoVBackgroundModel: unknown keys {extra}")
        names = _check_datasets(data.get("datasets_names"))
        if not names or len(names) != 1:
            raise ValueError(
                f"FoVBackgroundModel needs exactly one entry in datasets_names, got {names!r}"
            )
        links = {} if links is None else links
        if "spectral" in data:
            spectral = SpectralModel.from_dict(data["spectral"], links, dialect)
        else:  # gammapy < 1.0: parameters of a power-law norm directly on the model
            entry = {"type": "PowerLawNorm", "parameters": data.get("parameters", [])}
            spectral = SpectralModel.from_dict(entry, links, dialect)
        gradient: dict[str, Any] = {}
        centre = None
        if "gradient" in data:
            block = dict(data["gradient"])
            unknown = sorted(set(block) - {"parameters", "centre"})
            if unknown:
                raise ValueError(f"FoVBackgroundModel gradient: unknown keys {unknown}")
            for entry in block.get("parameters", []):
                spec = GRADIENT_SPECS.get(entry.get("name"))
                if spec is None:
                    raise ValueError(
                        f"FoVBackgroundModel gradient: unknown parameter {entry.get('name')!r}; "
                        f"parameters are {list(GRADIENT_SPECS)}"
                    )
                gradient[spec.name] = parameter_from_dict(
                    entry, spec, links, where="FoVBackgroundModel gradient", dialect=dialect
                )
            centre = block.get("centre")
        return cls(names[0], spectral=spectral, centre=centre, **gradient)

    def __repr__(self) -> str:
        grad = ", gradient" if self.gradient else ""
        return f"FoVBackgroundModel({self.dataset_name!r}, {self.spectral!r}{grad})"
