"""Model components and the registry that names them.

A component class declares its parameters as a tuple of
:class:`~gammaprob.modeling.parameter.ParameterSpec` and a pure static ``evaluate`` written
against :func:`gammaprob.utils.xp.namespace`, so the same formula evaluates numpy arrays and
builds pytensor graphs. Registration with :func:`register` makes the class available to YAML
(under its name and aliases, e.g. gammapy's type names) and to the registry-driven tests.

Examples
--------
A user component (works in numpy, in pytensor graphs and in YAML)::

    @register("MyCutoff", kind="spectral")
    class MyCutoff(SpectralModel):
        parameter_specs = (
            ParameterSpec("amplitude", "cm-2 s-1 TeV-1", 1e-12, (0, inf),
                          LogUniform(1e-15, 1e-9), "log"),
            ParameterSpec("ecut", "TeV", 10.0, (0, inf), LogUniform(0.1, 1e3), "log"),
        )

        @staticmethod
        def evaluate(energy, amplitude, ecut):
            xp = namespace(energy, amplitude, ecut)
            return amplitude * xp.exp(-energy / ecut)
"""

from __future__ import annotations

import copy as _copy
import difflib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar

import numpy as np

from .parameter import MISSING, Parameter, Parameters, ParameterSpec, build_parameter
from .prior import Prior, prior_from_dict
from .prior_policy import PolicyRecord

__all__ = [
    "REGISTRY",
    "Component",
    "get_component",
    "register",
    "registered",
]

KINDS = ("spectral", "spatial", "temporal", "background")

#: ``{kind: {name or alias: class}}``.
REGISTRY: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}

# gammapy YAML keys we read but do not use (gammapy's fitting machinery)
_GAMMAPY_IGNORED = {"error", "scale", "is_norm", "interp", "scale_method", "is_penalised"}

#: Prior policy in force while a gammapy models file is read (set by ``Models.from_dict``).
READ_POLICY: ContextVar[PolicyRecord | None] = ContextVar("gammaprob_read_policy", default=None)


def did_you_mean(name: object, options) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``options`` to ``name``, else ``""``."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def register(name: str, *, kind: str, aliases: tuple[str, ...] = ()) -> Callable[[type], type]:
    """Class decorator: register a component under ``name`` and ``aliases``.

    Parameters
    ----------
    name : str
        Canonical type name, written to YAML.
    kind : {"spectral", "spatial", "temporal", "background"}
        Component kind (a separate namespace per kind).
    aliases : tuple of str
        Other names accepted when reading (e.g. gammapy's ``"PowerLawSpectralModel"``).

    Raises
    ------
    ValueError
        Unknown kind, or a name already taken by another class.
    """
    if kind not in REGISTRY:
        raise ValueError(f"unknown component kind {kind!r}; expected one of {KINDS}")

    def decorator(cls: type) -> type:
        table = REGISTRY[kind]
        for key in (name, *aliases):
            other = table.get(key)
            if other is not None and other.__qualname__ != cls.__qualname__:
                raise ValueError(f"{kind} component name {key!r} is already used by {other}")
        for key in (name, *aliases):
            table[key] = cls
        cls.tag = name
        cls.aliases = tuple(aliases)
        cls.kind = kind
        return cls

    return decorator


def get_component(name: str, kind: str | None = None) -> type:
    """Return the registered class for a type name or alias.

    Parameters
    ----------
    name : str
        Type name (ours or gammapy's).
    kind : str, optional
        Restrict the lookup to one kind.

    Raises
    ------
    ValueError
        No such registered name (the message lists the known names).
    """
    kinds = [kind] if kind is not None else list(REGISTRY)
    for k in kinds:
        if name in REGISTRY.get(k, {}):
            return REGISTRY[k][name]
    known = sorted({key for k in kinds for key in REGISTRY.get(k, {})})
    what = f"{kind} " if kind else ""
    raise ValueError(
        f"unknown {what}model type {name!r}{did_you_mean(name, known)}; known types: {known}"
    )


def registered(kind: str | None = None) -> dict[str, type]:
    """Return ``{canonical name: class}`` of registered components (one entry per class)."""
    kinds = [kind] if kind is not None else list(REGISTRY)
    return {
        cls.tag: cls for k in kinds for key, cls in REGISTRY.get(k, {}).items() if key == cls.tag
    }


class Component:
    """Base class of model components.

    Subclasses set ``parameter_specs`` and a static ``evaluate``; the constructor takes one
    keyword per parameter. A keyword value may be a number or Quantity (fixed), a
    :class:`~gammaprob.modeling.prior.Prior` (free), a :class:`Parameter` (linked: the
    very object is shared) or a pytensor variable. Omitted parameters get the spec's default
    value and default prior (fixed when the spec has no prior, e.g. reference energies).

    Parameters
    ----------
    **params
        Parameter values, by name.
    """

    kind: ClassVar[str] = ""
    tag: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = ()

    def __init__(self, **params: Any) -> None:
        specs = self.specs()
        names = [s.name for s in specs]
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no parameter(s) {unknown}; parameters are {names}"
            )
        self._parameters = {s.name: s.make(params.get(s.name, MISSING)) for s in specs}

    def specs(self) -> tuple[ParameterSpec, ...]:
        """Parameter specs of this instance (the class's, unless a subclass varies them)."""
        return type(self).parameter_specs

    # -- parameters ---------------------------------------------------------------------------
    @property
    def parameters(self) -> Parameters:
        """Parameters by name (flattened ``"child.name"`` for compound components)."""
        return Parameters(self._parameters)

    def __getattr__(self, name: str) -> Parameter:
        params = self.__dict__.get("_parameters", {})
        if name in params:
            return params[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute or parameter {name!r}")

    def values(self, overrides: Mapping[int, float] | None = None) -> dict[str, Any]:
        """Numeric parameter values in canonical units (reference values for free ones).

        Parameters
        ----------
        overrides : mapping, optional
            ``{id(Parameter): value}`` replacing some values (e.g. prior draws).
        """
        overrides = overrides or {}
        # numpy float64 (not Python float): pytensor turns Python floats into float32
        # constants, which would lose precision in constant sub-expressions
        return {
            name: overrides.get(id(p), np.float64(p.value)) for name, p in self._parameters.items()
        }

    def build(self, prefix: str) -> dict[str, Any]:
        """Turn the parameters into graph values inside the current ``pm.Model``.

        Parameters
        ----------
        prefix : str
            Variable-name prefix, normally the source name: free parameters become
            ``"<prefix>::<name>"`` (see :mod:`gammaprob.modeling.parameter`).

        Returns
        -------
        dict
            ``{name: float or tensor}``, to pass to :meth:`evaluate_with`.
        """
        return {
            name: build_parameter(p, f"{prefix}::{name}") for name, p in self._parameters.items()
        }

    # -- evaluation ---------------------------------------------------------------------------
    @staticmethod
    def evaluate(*args: Any, **params: Any) -> Any:
        """Pure formula in canonical units (numpy or pytensor); defined by subclasses."""
        raise NotImplementedError

    def evaluate_with(self, *args: Any, params: Mapping[str, Any] | None = None) -> Any:
        """Evaluate with given parameter values (default: :meth:`values`).

        Parameters
        ----------
        *args
            Coordinates in canonical units (numpy arrays or tensors).
        params : mapping, optional
            Output of :meth:`build`, or numbers.
        """
        return self.evaluate(*args, **(self.values() if params is None else params))

    # -- serialisation ------------------------------------------------------------------------
    def _options_to_dict(self) -> dict[str, Any]:
        """Non-parameter settings to serialise (subclasses with options override)."""
        return {}

    @classmethod
    def _options_from_dict(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """Read constructor keywords from the non-parameter part of ``data``."""
        return {}

    def to_dict(self, links: Mapping[int, str] | None = None) -> dict[str, Any]:
        """Return a YAML-friendly dict (``type``, options, ``parameters``).

        Parameters
        ----------
        links : mapping, optional
            ``{id(Parameter): label}`` for parameters shared between components.
        """
        out: dict[str, Any] = {"type": self.tag}
        out.update(self._options_to_dict())
        out["parameters"] = [
            parameter_to_dict(name, p, (links or {}).get(id(p)))
            for name, p in self._parameters.items()
        ]
        return out

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        links: dict[str, Parameter] | None = None,
        dialect: str = "gammaprob",
    ) -> Component:
        """Create a component from :meth:`to_dict` output or a gammapy YAML entry.

        Parameters
        ----------
        data : mapping
            Component entry with ``type`` and ``parameters``.
        links : dict, optional
            ``{label: Parameter}`` shared across a model file; filled as labels are met.
        dialect : {"gammaprob", "gammapy"}
            Whose conventions a parameter without ``prior`` follows: ours (fixed) or
            gammapy's (free unless ``frozen``; an omitted ``frozen`` means the class default,
            i.e. free when the spec has a default prior).

        Raises
        ------
        ValueError
            Unknown type or parameter name, or inconsistent values.
        """
        target = get_component(data.get("type"), cls.kind or None)
        if not issubclass(target, cls):
            raise ValueError(f"type {data.get('type')!r} is not a {cls.__name__}")
        return target._from_dict(data, {} if links is None else links, dialect)

    @classmethod
    def _from_dict(
        cls, data: Mapping[str, Any], links: dict[str, Parameter], dialect: str
    ) -> Component:
        """Parse ``data`` for this very class (composite components override)."""
        options = cls._options_from_dict(data)
        instance = cls.__new__(cls)
        instance._init_options(options)
        specs = {s.name: s for s in instance.specs()}
        params: dict[str, Any] = {}
        for entry in data.get("parameters", []):
            name = entry.get("name")
            if name not in specs:
                raise ValueError(
                    f"{cls.tag}: unknown parameter {name!r}{did_you_mean(name, specs)}; "
                    f"parameters are {list(specs)}"
                )
            params[name] = parameter_from_dict(
                entry, specs[name], links, where=cls.tag, dialect=dialect
            )
        instance.__init__(**options, **params)
        return instance

    def _init_options(self, options: Mapping[str, Any]) -> None:
        """Set options needed by :meth:`specs` before parameters are read (override)."""

    # -- misc ---------------------------------------------------------------------------------
    def copy(self) -> Component:
        """Deep copy with new (unlinked) Parameter objects; tensors are shared."""
        new = _copy.copy(self)
        new._parameters = {k: p.copy() for k, p in self._parameters.items()}
        return new

    def __repr__(self) -> str:
        parts = []
        for name, p in self._parameters.items():
            if p.is_free:
                parts.append(f"{name}~{p.prior!r}")
            elif p.is_tensor:
                parts.append(f"{name}=<tensor>")
            else:
                unit = p.unit_string
                parts.append(f"{name}={p.value:.4g}" + (f" {unit}" if unit else ""))
        return f"{type(self).__name__}({', '.join(parts)})"


def parameter_to_dict(name: str, param: Parameter, link: str | None = None) -> dict[str, Any]:
    """Serialise one parameter (``name``, ``value``, ``unit``, optional ``prior``, ``link``)."""
    if param.is_tensor:
        raise ValueError(
            f"parameter {name!r} is a pytensor variable and cannot be written to YAML; "
            f"give it a Prior instead"
        )
    out: dict[str, Any] = {"name": name, "value": float(param.value), "unit": param.unit_string}
    if param.is_free:
        out["prior"] = param.prior.to_dict()
    if link is not None:
        out["link"] = link
    return out


def parameter_from_dict(
    entry: Mapping[str, Any],
    spec: ParameterSpec,
    links: dict[str, Parameter],
    where: str = "",
    dialect: str = "gammaprob",
) -> Parameter:
    """Read one parameter entry (ours or gammapy's) into a :class:`Parameter`.

    An entry with a ``prior`` block (ours, or gammapy's ``GaussianPrior``, ``UniformPrior``,
    ``LogUniformPrior``) is free with that prior. Otherwise, in our dialect it is fixed; in
    gammapy's it is free unless ``frozen`` (omitted ``frozen``: free when the spec has a
    default prior), and a free gammapy parameter gets its prior from the prior policy named
    by the reader (:mod:`gammaprob.modeling.prior_policy`); with no policy it is reported as
    missing a prior (``Models.from_dict`` then raises, listing every such parameter).
    """
    import astropy.units as u

    known = {"name", "value", "unit", "prior", "link", "frozen", "min", "max"} | _GAMMAPY_IGNORED
    extra = sorted(set(entry) - known)
    if extra:
        hints = "".join(did_you_mean(e, known) for e in extra)
        raise ValueError(f"{where}: parameter {spec.name!r} has unknown keys {extra}{hints}")
    label = entry.get("link")
    if label is not None and label in links:
        return links[label]
    unit = u.Unit(entry.get("unit", "") or "")
    value = entry.get("value", spec.default)
    try:
        quantity = u.Quantity(float(value), unit).to(spec.unit)
    except u.UnitConversionError as exc:
        raise u.UnitConversionError(
            f"{where}: parameter {spec.name!r} has unit {unit.to_string()!r}, which is not "
            f"convertible to {spec.unit!r}"
        ) from exc
    param = spec.make(quantity)
    prior_data = entry.get("prior")
    if isinstance(prior_data, Mapping):
        param.set(_read_prior(prior_data, unit, f"{where}: parameter {spec.name!r}"))
        param.value = quantity
    elif dialect == "gammapy" and not entry.get("frozen", spec.prior is None):
        record = READ_POLICY.get()
        if record is None:
            raise ValueError(
                f"{where}: parameter {spec.name!r} is free (frozen: false) in a gammapy file "
                "that gives it no prior; read the file with Models.read(..., prior_policy=...) "
                "or add a 'prior:' block"
            )
        error = _float_or_nan(entry.get("error"))
        if np.isfinite(error):
            error = u.Quantity(error, unit).to_value(spec.unit)
        prior = record.choose(where, param, error)
        if prior is not None:
            param.set(prior)
            param.value = quantity
    if label is not None:
        links[label] = param
    return param


#: gammapy prior types and (our prior, {our field: gammapy parameter}).
_GAMMAPY_PRIORS = {
    "GaussianPrior": ("Normal", {"mu": "mu", "sigma": "sigma"}),
    "UniformPrior": ("Uniform", {"lower": "min", "upper": "max"}),
    "LogUniformPrior": ("LogUniform", {"lower": "min", "upper": "max"}),
}


def _read_prior(data: Mapping[str, Any], unit, where: str) -> Prior:
    """Our ``prior:`` block, or gammapy's (values with unit '' are in the parameter's unit)."""
    import astropy.units as u

    from .prior import PRIORS

    kind = data.get("type")
    if kind in PRIORS:
        return prior_from_dict(data)
    if kind not in _GAMMAPY_PRIORS:
        options = [*PRIORS, *_GAMMAPY_PRIORS]
        raise ValueError(
            f"{where}: unknown prior type {kind!r}{did_you_mean(kind, options)}; known "
            f"types: {sorted(options)}"
        )
    ours, fields = _GAMMAPY_PRIORS[kind]
    weight = float(data.get("weight", 1))
    if weight != 1:
        raise ValueError(
            f"{where}: gammapy prior {kind} has weight {weight}; only weight 1 (a proper "
            "prior density) has a Bayesian meaning"
        )
    values = {}
    for p in data.get("parameters", []):
        p_unit = u.Unit(p.get("unit", "") or "")
        q = u.Quantity(float(p["value"]), p_unit if p_unit != u.dimensionless_unscaled else unit)
        values[p.get("name")] = q.to_value(unit)
    missing = [g for g in fields.values() if g not in values]
    if missing:
        raise ValueError(f"{where}: gammapy prior {kind} lacks parameter(s) {missing}")
    return prior_from_dict(
        {"type": ours, "unit": unit.to_string(), **{k: values[g] for k, g in fields.items()}}
    )


def _float_or_nan(value: Any) -> float:
    return np.nan if value is None else float(value)
