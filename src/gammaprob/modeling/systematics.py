r"""Instrument systematics as priors: energy scale, effective area, background and PSF.

A :class:`Systematics` names a group of datasets (one run, or all runs of one instrument) and
switches on the nuisances that apply to them, each with a documented default prior or one of
the user's (a :class:`~gammaprob.modeling.HierarchicalPrior` for run-wise or cross-instrument
populations)::

    from gammaprob.modeling import Systematics

    systematics = [
        Systematics(["hess-23523", "hess-23526"], name="hess",
                    energy_scale=True, effective_area=True),       # the default priors
        Systematics("magic-5029747", energy_scale=energy_scale_prior(0.15)),
    ]
    model = build_model(datasets, models, systematics=systematics)

What each nuisance does (all differentiable; they are sampled with the source parameters):

``energy_scale`` (``"<name>::energy_scale"``, :math:`z`)
    The instrument assigns :math:`E' = (1 + z) E`: every source folded with these datasets is
    seen as :math:`\phi(E/(1+z))/(1+z)` (photon number conserved, as
    :class:`~gammaprob.modeling.spectral.EnergyScale`). Any dataset kind.
``effective_area`` (``"<name>::effective_area"``, :math:`a`)
    The exposure is :math:`a` times the nominal one, so every source's predicted counts
    are :math:`a` times larger (the background templates are not affected). Any dataset kind.
``background_norm`` (``"<dataset>-bkg::norm_<i>"``)
    One norm per reconstructed-energy bin of each dataset's background template (map
    datasets with a background, through a
    :class:`~gammaprob.modeling.FoVBackgroundModel` with a
    :class:`~gammaprob.modeling.spectral.PiecewiseNorm` whose nodes are the bin centres).
``background_gradient`` (``"<dataset>-bkg::gradient_lon"``, ``"..::gradient_lat"``, deg-1)
    A log-linear spatial gradient of that background across the field,
    :math:`\exp(g_{lon}\,\Delta x + g_{lat}\,\Delta y)` with the offsets from the map centre
    (see :class:`~gammaprob.modeling.FoVBackgroundModel`). Map datasets.
``psf_scale`` (``"<name>::psf_scale"``, :math:`\sigma`)
    The PSF of the group's map datasets is :math:`\sigma` times wider,
    :math:`\mathrm{PSF}(r/\sigma)/\sigma^2` (normalised in the small-angle limit), for point
    sources (``psf_mode="exact"``); a dataset of the group with an extended source, or a
    spectrum dataset, is an error.

Default priors (:data:`DEFAULT_PRIORS`, used when a nuisance is switched on with ``True``):

=======================  =====================================  ============================
nuisance                 prior                                  meaning
=======================  =====================================  ============================
``energy_scale``         ``TruncatedNormal(0, 0.1, -0.5, 0.5)``  10 % energy scale (IACT)
``effective_area``       ``LogNormal(0, 0.1)``                  10 % on the exposure
``background_norm``      ``LogNormal(0, 0.1)`` per bin          10 % per energy bin
``background_gradient``  ``Normal(0, 0.05)`` deg-1              5 % per degree
``psf_scale``            ``LogNormal(0, 0.1)``                  10 % on the PSF width
=======================  =====================================  ============================

How they enter the model (:func:`apply_systematics`, called by
:func:`~gammaprob.inference.build_model`): a source that applies to datasets of a group is
folded there through a :class:`DatasetSystematics` wrapper of its spectrum, in a sky model
``"<source>@<group>"`` restricted to those datasets (its other parameters are the source's
own, linked); the source keeps the datasets outside every group (``datasets_names=[]`` when
none is left, so that its variables keep their names). Background nuisances become the
datasets' ``FoVBackgroundModel``. The resulting models are what the model YAML in the
provenance records, so the systematics used are written with every result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .component import register
from .parameter import Parameter, Parameters, ParameterSpec
from .prior import LogNormal, Normal, Prior
from .spectral.base import SpectralModel
from .spectral.energy_scale import energy_scale_prior

__all__ = [
    "DEFAULT_PRIORS",
    "NUISANCES",
    "DatasetSystematics",
    "Systematics",
    "apply_systematics",
]

#: Nuisances a :class:`Systematics` can switch on.
NUISANCES = (
    "energy_scale",
    "effective_area",
    "background_norm",
    "background_gradient",
    "psf_scale",
)

#: Default priors of the nuisances (see the module docstring).
DEFAULT_PRIORS: dict[str, Prior] = {
    "energy_scale": energy_scale_prior(0.1),
    "effective_area": LogNormal(0.0, 0.1),
    "background_norm": LogNormal(0.0, 0.1),
    "background_gradient": Normal(0.0, 0.05, unit="deg-1"),
    "psf_scale": LogNormal(0.0, 0.1),
}

ENERGY_SCALE_SPEC = ParameterSpec(
    "energy_scale",
    "",
    0.0,
    (-1.0, math.inf),
    None,
    "linear",
    "relative energy-scale bias: assigned energy = (1 + z) true energy",
)
EFFECTIVE_AREA_SPEC = ParameterSpec(
    "effective_area", "", 1.0, (0.0, math.inf), None, "linear", "effective-area (exposure) scale"
)
PSF_SCALE_SPEC = ParameterSpec(
    "psf_scale", "", 1.0, (0.0, math.inf), None, "linear", "PSF width scale (map datasets)"
)
_SPECS = {"energy_scale": ENERGY_SCALE_SPEC, "effective_area": EFFECTIVE_AREA_SPEC}
_SPECS["psf_scale"] = PSF_SCALE_SPEC


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name or "::" in name or "@" in name:
        raise ValueError(f"{what} must be a non-empty string without '::' or '@', got {name!r}")
    return name


@register("DatasetSystematics", kind="spectral")
class DatasetSystematics(SpectralModel):
    r"""A spectrum as seen by datasets with an energy-scale bias and an effective-area scale.

    :math:`a\,\phi(E/(1+z))/(1+z)`: the energy scale as in
    :class:`~gammaprob.modeling.spectral.EnergyScale` and :math:`a` the exposure scale.

    Parameters
    ----------
    model : SpectralModel
        The physical spectrum (shared with the source: its parameters are linked).
    energy_scale : float, Prior, Parameter or tensor
        Relative energy-scale bias :math:`z` (default 0, fixed).
    effective_area : float, Prior, Parameter or tensor
        Effective-area scale :math:`a` (default 1, fixed).
    group : str
        Name of the dataset group: its nuisances are ``"<group>::energy_scale"`` and
        ``"<group>::effective_area"``.
    source : str
        Name of the source whose spectrum this is (variable prefix of the wrapped model).
    """

    parameter_specs = (ENERGY_SCALE_SPEC, EFFECTIVE_AREA_SPEC, PSF_SCALE_SPEC)

    def __init__(
        self,
        model: SpectralModel,
        energy_scale: Any = None,
        effective_area: Any = None,
        psf_scale: Any = None,
        *,
        group: str,
        source: str,
    ) -> None:
        if not isinstance(model, SpectralModel):
            raise TypeError(f"DatasetSystematics wraps a SpectralModel, got {model!r}")
        clash = sorted(set(model.parameters) & set(_SPECS))
        if clash:
            raise ValueError(f"DatasetSystematics cannot wrap a model with parameters {clash}")
        self.model = model
        self.group = _check_name(group, "systematics group name")
        self.source = _check_name(source, "source name")
        self.output_unit = model.output_unit
        given = {
            "energy_scale": energy_scale,
            "effective_area": effective_area,
            "psf_scale": psf_scale,
        }
        super().__init__(**{k: v for k, v in given.items() if v is not None})

    @property
    def parameters(self) -> Parameters:  # noqa: D102
        return Parameters({**self._parameters, **self.model.parameters})

    def values(self, overrides: Any = None) -> dict[str, Any]:  # noqa: D102
        return {**super().values(overrides), "model": self.model.values(overrides)}

    def build(self, prefix: str) -> dict[str, Any]:  # noqa: D102
        own = super().build(self.group)
        return {**own, "model": self.model.build(self.source)}

    @property
    def has_psf_scale(self) -> bool:
        """True when the PSF width scale is free, a tensor or not 1."""
        p = self._parameters["psf_scale"]
        return p.is_free or p.is_tensor or p.value != 1.0

    def psf_scale_bound(self, quantile: float = 0.999) -> float:
        """Upper ``quantile`` of the PSF width scale (its value when fixed), for cutouts."""
        p = self._parameters["psf_scale"]
        if p.is_tensor:
            raise ValueError(
                f"{self.group}::psf_scale is a tensor: give it a Prior or a number so that "
                "the map cutouts can cover the widest PSF"
            )
        if not p.is_free:
            return float(p.value)
        upper = p.prior.support()[1]
        if math.isfinite(upper):
            return float(upper)
        draws = p.prior.sample(np.random.default_rng(0), 20001)
        return float(np.quantile(draws, quantile))

    def evaluate(
        self,
        energy: Any,
        energy_scale: Any,
        effective_area: Any,
        model: Any,
        psf_scale: Any = 1.0,
    ) -> Any:
        """Differential flux per unit assigned energy, times the exposure scale (TeV; cm-2 s-1 TeV-1).

        ``psf_scale`` does not change the spectrum (map folding reads it, see
        :mod:`gammaprob.forward.map`).
        """
        scale = 1.0 + energy_scale
        return effective_area * self.model.evaluate_with(energy / scale, params=model) / scale

    def integrate(
        self,
        lo: Any,
        hi: Any,
        energy_scale: Any,
        effective_area: Any,
        model: Any,
        psf_scale: Any = 1.0,
    ) -> Any:
        """Integral over assigned-energy bins (TeV) in cm-2 s-1.

        ``a`` times the wrapped model's integral over ``[lo, hi] / (1 + z)`` (the quadrature of
        :meth:`evaluate` when the wrapped model has no analytic integral).
        """
        if type(self.model).integrate is SpectralModel.integrate:
            return super().integrate(
                lo, hi, energy_scale=energy_scale, effective_area=effective_area, model=model
            )
        scale = 1.0 + energy_scale
        return effective_area * self.model.integrate_with(lo / scale, hi / scale, model)

    def _options_to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "source": self.source}

    def to_dict(self, links: Any = None) -> dict[str, Any]:  # noqa: D102
        out = super().to_dict(links)
        out["model"] = self.model.to_dict(links)
        return out

    @classmethod
    def _from_dict(cls, data: Any, links: dict[str, Parameter], dialect: str) -> SpectralModel:
        from .component import parameter_from_dict

        extra = sorted(set(data) - {"type", "model", "parameters", "group", "source"})
        if extra:
            raise ValueError(f"{cls.tag}: unknown keys {extra}")
        for key in ("model", "group", "source"):
            if key not in data:
                raise ValueError(f"{cls.tag}: {key!r} is missing")
        model = SpectralModel.from_dict(data["model"], links, dialect)
        specs = {s.name: s for s in cls.parameter_specs}
        params = {}
        for entry in data.get("parameters", []):
            name = entry.get("name")
            if name not in specs:
                raise ValueError(
                    f"{cls.tag}: unknown parameter {name!r}; parameters are {list(specs)}"
                )
            params[name] = parameter_from_dict(entry, specs[name], links, cls.tag, dialect)
        return cls(model, **params, group=data["group"], source=data["source"])

    def copy(self) -> DatasetSystematics:  # noqa: D102
        return DatasetSystematics(
            self.model.copy(),
            self._parameters["energy_scale"].copy(),
            self._parameters["effective_area"].copy(),
            self._parameters["psf_scale"].copy(),
            group=self.group,
            source=self.source,
        )

    def __repr__(self) -> str:
        parts = []
        for name, p in self._parameters.items():
            parts.append(f"{name}~{p.prior!r}" if p.is_free else f"{name}={p.value:.4g}")
        return f"DatasetSystematics({self.model!r}, {', '.join(parts)}, group={self.group!r})"


def _prior_or_value(value: Any, nuisance: str) -> Any:
    """Map ``True`` to the default prior, None/False to None; keep a Prior or a number."""
    if value is None or value is False:
        return None
    if value is True:
        return DEFAULT_PRIORS[nuisance]
    if isinstance(value, Prior | Parameter):
        return value
    if isinstance(value, int | float | np.floating | np.integer):
        return float(value)
    raise TypeError(
        f"systematics {nuisance!r}: expected True (default prior), a Prior, a number (fixed) "
        f"or None (off), got {value!r}"
    )


class Systematics:
    """Nuisances shared by a group of datasets (see the module docstring).

    Parameters
    ----------
    datasets_names : str or sequence of str
        The datasets of the group (e.g. all runs of one instrument).
    name : str, optional
        Group name, prefix of its variables (default: the dataset name when there is one).
    energy_scale, effective_area : bool, Prior, Parameter or float, optional
        ``True``: on with the default prior (:data:`DEFAULT_PRIORS`); a Prior: on with it;
        a number: fixed at it; None/False: off (default).
    background_norm, background_gradient : bool, Prior or float, optional
        The same, per dataset of the group (map datasets with a background template).
    psf_scale : bool, Prior, Parameter or float, optional
        PSF width scale of the group's map datasets (point sources; see the module docstring).

    Raises
    ------
    ValueError
        No dataset, no name for several datasets, or nothing switched on.
    """

    def __init__(
        self,
        datasets_names: str | Sequence[str],
        name: str | None = None,
        *,
        energy_scale: Any = None,
        effective_area: Any = None,
        background_norm: Any = None,
        background_gradient: Any = None,
        psf_scale: Any = None,
    ) -> None:
        names = [datasets_names] if isinstance(datasets_names, str) else list(datasets_names)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"Systematics needs dataset names, got {datasets_names!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"Systematics: dataset names must be unique, got {names}")
        if name is None:
            if len(names) != 1:
                raise ValueError(
                    f"Systematics of {len(names)} datasets needs a group name (name='hess', ...)"
                )
            name = names[0]
        self.name = _check_name(name, "Systematics name")
        self.datasets_names = names
        self.settings = {
            "energy_scale": _prior_or_value(energy_scale, "energy_scale"),
            "effective_area": _prior_or_value(effective_area, "effective_area"),
            "background_norm": _prior_or_value(background_norm, "background_norm"),
            "background_gradient": _prior_or_value(background_gradient, "background_gradient"),
            "psf_scale": _prior_or_value(psf_scale, "psf_scale"),
        }
        if all(v is None for v in self.settings.values()):
            raise ValueError(f"Systematics {self.name!r}: no nuisance is switched on")
        neutral = {"energy_scale": 0.0, "effective_area": 1.0, "psf_scale": 1.0}
        try:
            # the group-wide parameters, one object each (shared by every wrapped source)
            self.parameters = {
                key: _SPECS[key].make(
                    neutral[key] if self.settings[key] is None else self.settings[key]
                )
                for key in neutral
            }
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"Systematics {self.name!r}: {exc}") from exc

    @property
    def folds_sources(self) -> bool:
        """True when the group's sources are seen through :class:`DatasetSystematics`."""
        return any(self.settings[key] is not None for key in _SPECS)

    def to_dict(self) -> dict[str, Any]:
        """YAML-friendly description (for reports; the models record the result)."""
        out: dict[str, Any] = {"name": self.name, "datasets_names": list(self.datasets_names)}
        for key, value in self.settings.items():
            if isinstance(value, Prior):
                out[key] = value.to_dict()
            elif value is not None:
                out[key] = value if isinstance(value, float) else repr(value)
        return out

    def __repr__(self) -> str:
        on = {k: v for k, v in self.settings.items() if v is not None}
        return f"Systematics({self.name!r}, datasets={self.datasets_names}, {on})"


def _applies(model: Any, dataset: str) -> bool:
    names = getattr(model, "datasets_names", None)
    return names is None or dataset in names


def apply_systematics(
    models: Any,
    systematics: Sequence[Systematics] | Systematics,
    datasets: Sequence[Any],
) -> Any:
    """Return the models with the systematics folded in (what ``build_model`` fits).

    Parameters
    ----------
    models : Models or sequence
        Sky and background models.
    systematics : Systematics or sequence of Systematics
        At most one group per dataset.
    datasets : sequence
        The datasets of the analysis (names; energy axes of map datasets for the background
        norms; ``"background"`` present for the background nuisances).

    Returns
    -------
    Models
        Sources restricted to datasets outside every group, then ``"<source>@<group>"`` sky
        models, then the background models.

    Raises
    ------
    ValueError
        A group names an unknown dataset, a dataset is in two groups, a background nuisance
        on a dataset without background template or with a background model of its own.
    """
    from .models import Models
    from .skymodel import FoVBackgroundModel, SkyModel
    from .spectral.table import PiecewiseNorm

    models = models if isinstance(models, Models) else Models(list(models))
    groups = [systematics] if isinstance(systematics, Systematics) else list(systematics)
    for s in groups:
        if not isinstance(s, Systematics):
            raise TypeError(f"expected Systematics objects, got {s!r}")
    by_name = {getattr(ds, "name", None): ds for ds in datasets}
    owner: dict[str, str] = {}
    for s in groups:
        for d in s.datasets_names:
            if d not in by_name:
                raise ValueError(
                    f"Systematics {s.name!r} names unknown dataset {d!r}; datasets: "
                    f"{sorted(n for n in by_name if n)}"
                )
            if d in owner:
                raise ValueError(
                    f"dataset {d!r} is in two Systematics groups ({owner[d]!r} and {s.name!r})"
                )
            owner[d] = s.name
    if len({s.name for s in groups}) != len(groups):
        raise ValueError(f"Systematics names must be unique, got {[s.name for s in groups]}")
    from ..datasets import SpectrumDataset

    for s in groups:
        if s.settings["psf_scale"] is None:
            continue
        spectra = [d for d in s.datasets_names if isinstance(by_name[d], SpectrumDataset)]
        if spectra:
            raise ValueError(
                f"Systematics {s.name!r}: psf_scale applies to map datasets; {spectra} are "
                "spectrum datasets"
            )
    sources = [m for m in models if isinstance(m, SkyModel)]
    backgrounds = [m for m in models if not isinstance(m, SkyModel)]
    folded = {d for s in groups if s.folds_sources for d in s.datasets_names}
    kept, derived = [], []
    for m in sources:
        mine = [n for n in by_name if n and _applies(m, n)]
        rest = [n for n in mine if n not in folded]
        if len(rest) == len(mine):
            kept.append(m)
        else:
            kept.append(
                SkyModel(
                    m.spectral, m.spatial, m.temporal, name=m.name, datasets_names=rest, meta=m.meta
                )
            )
        for s in groups:
            targets = [d for d in s.datasets_names if d in mine] if s.folds_sources else []
            if not targets:
                continue
            wrapped = DatasetSystematics(m.spectral, **s.parameters, group=s.name, source=m.name)
            derived.append(
                SkyModel(
                    wrapped,
                    m.spatial,
                    m.temporal,
                    name=f"{m.name}@{s.name}",
                    datasets_names=targets,
                )
            )
    background_of = {m.datasets_names[0]: m for m in backgrounds}
    for s in groups:
        norm, gradient = s.settings["background_norm"], s.settings["background_gradient"]
        if norm is None and gradient is None:
            continue
        for d in s.datasets_names:
            ds = by_name[d]
            if isinstance(ds, SpectrumDataset):
                raise ValueError(
                    f"Systematics {s.name!r}: dataset {d!r} is a spectrum dataset; "
                    "background_norm / background_gradient apply to map datasets with a "
                    "background template"
                )
            if getattr(ds, "counts_off", None) is not None or ds.background is None:
                raise ValueError(
                    f"Systematics {s.name!r}: dataset {d!r} has no background template, so "
                    "background_norm / background_gradient do not apply (on/off datasets "
                    "take their background from the OFF counts)"
                )
            if d in background_of:
                raise ValueError(
                    f"Systematics {s.name!r}: dataset {d!r} already has a background model "
                    f"({background_of[d]!r}); remove it or switch the background nuisances off"
                )
            spectral = None
            if norm is not None:
                centres = np.asarray(ds.energy_axis.center.to_value("TeV"), dtype=float)
                import astropy.units as u

                spectral = PiecewiseNorm(centres * u.TeV, norms=[norm] * centres.size)
            kwargs: dict[str, Any] = {}
            if gradient is not None:
                kwargs = {"gradient_lon": gradient, "gradient_lat": gradient}
            if spectral is None:
                background_of[d] = FoVBackgroundModel(d, norm=1.0, **kwargs)
            else:
                background_of[d] = FoVBackgroundModel(d, spectral=spectral, **kwargs)
    return Models([*kept, *derived, *background_of.values()])
