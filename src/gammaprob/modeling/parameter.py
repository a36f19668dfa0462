"""Parameters: what a model component needs, and how each becomes a tensor.

A :class:`Parameter` holds a name, a canonical unit, physical bounds and one of

* a fixed value (number or Quantity): a constant in the graph;
* a :class:`~gammaprob.modeling.prior.Prior`: a free parameter, one PyMC random variable;
* a pytensor variable or PyMC random variable made by the user in the current ``pm.Model``
  (hierarchical or shared priors), used as is (it must be in the canonical unit).

Using the same ``Parameter`` object in two components links them: :func:`build_parameter`
creates one random variable per object and per ``pm.Model``, named after its first owner.

Naming and latent scaling
-------------------------
A free parameter built under the name ``"crab::amplitude"`` always leaves a variable of that
name in the model holding the *physical* value in the canonical unit. If the parameter is
rescaled for the sampler (``scaling`` other than ``"linear"``), that variable is a
``pm.Deterministic`` and the sampled latent variable is ``"crab::amplitude_scaled"``
(value / scale, same prior family) or, for a LogUniform prior, ``"crab::amplitude_ln"``
(uniform in ``ln(value / scale)``). ``scaling="log"`` takes the scale from the prior's typical
magnitude (e.g. the geometric mean of LogUniform bounds), so latent variables are O(1);
positive-support priors are then sampled in log space by PyMC's default transforms.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np

from gammaprob.utils.errors import GammaprobError
from gammaprob.utils.xp import is_tensor

from .prior import LogUniform, Prior

__all__ = [
    "MISSING",
    "Parameter",
    "ParameterSpec",
    "Parameters",
    "StaleModelError",
    "build_parameter",
    "built_parameters",
    "check_built_parameters",
]


class StaleModelError(GammaprobError, RuntimeError):
    """A parameter changed after a PyMC model was built from it: the model no longer matches."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: Marker for "no value given": the spec's default value and default prior are used.
MISSING: Any = _Missing()


def _check_scaling(scaling: str | float) -> str | float:
    if scaling in ("linear", "log"):
        return scaling
    if isinstance(scaling, int | float) and not isinstance(scaling, bool) and scaling > 0:
        return float(scaling)
    raise ValueError(f"scaling must be 'linear', 'log' or a positive number, got {scaling!r}")


class Parameter:
    """A model parameter: fixed value, prior, or user-supplied tensor.

    Parameters
    ----------
    name : str
        Parameter name inside its component (e.g. ``"index"``).
    value : float, Quantity, Prior or pytensor variable
        Fixed value (converted to ``unit``), a prior (free parameter), or a tensor.
    unit : str or `~astropy.units.Unit`
        Canonical unit; all values are stored and built in this unit.
    bounds : tuple of float
        Physical bounds ``(lower, upper)`` in ``unit``; fixed values and prior supports must
        lie inside.
    prior : Prior, optional
        Prior (alternative to passing it as ``value``).
    scaling : {"linear", "log"} or float
        How the sampler's latent variable is scaled (see module docstring).
    reference : float, optional
        Value used for numpy evaluation while the parameter is free or a tensor (defaults to
        the fixed value, else a typical value of the prior).
    description : str
        One-line meaning, shown in summaries.
    """

    def __init__(
        self,
        name: str,
        value: Any = 0.0,
        unit: str | u.UnitBase = "",
        *,
        bounds: tuple[float, float] = (-math.inf, math.inf),
        prior: Prior | None = None,
        scaling: str | float = "linear",
        reference: float | None = None,
        description: str = "",
    ) -> None:
        self.name = str(name)
        self.unit = u.Unit(unit)
        #: the unit as written by the spec/user (kept for readable YAML and reprs)
        self.unit_string = unit if isinstance(unit, str) else self.unit.to_string()
        lo, hi = (float(b) for b in bounds)
        if not lo < hi:
            raise ValueError(f"parameter {name!r}: bounds must satisfy lower < upper, got {bounds}")
        self.bounds = (lo, hi)
        self.scaling = _check_scaling(scaling)
        self.description = description
        self._value = math.nan
        self.prior: Prior | None = None
        self.tensor: Any = None
        if prior is not None:
            self._set_fixed(value)
            self.set(prior)
        else:
            self.set(value)
        if reference is not None:
            self._set_fixed(reference, fixed=self.prior is None and self.tensor is None)

    # -- value handling ----------------------------------------------------------------------
    def _to_float(self, value: Any) -> float:
        if value is None:
            raise ValueError(
                f"parameter {self.name!r} has no value and no prior: give a number or Quantity "
                "(fixed) or a Prior such as Normal(2.5, 1) (free)"
            )
        if isinstance(value, u.Quantity):
            try:
                value = value.to_value(self.unit)
            except u.UnitConversionError as exc:
                raise u.UnitConversionError(
                    f"parameter {self.name!r} expects a quantity in {self.unit.to_string()!r} "
                    f"(or convertible), got {value}"
                ) from exc
        elif isinstance(value, str):
            raise TypeError(f"parameter {self.name!r}: value must be a number, got {value!r}")
        try:
            value = float(np.asarray(value, dtype=float))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"parameter {self.name!r}: expected a number, Quantity, Prior or pytensor "
                f"variable, got {type(value).__name__}"
            ) from exc
        return value

    def _set_fixed(self, value: Any, fixed: bool = True) -> None:
        """Set the value (``fixed``) or the reference value (free or tensor), checking bounds."""
        value = self._to_float(value)
        if math.isnan(value):
            if fixed:
                raise ValueError(
                    f"parameter {self.name!r} has no value (NaN) and no prior: give a number "
                    "or Quantity (fixed) or a Prior such as Normal(2.5, 1) (free)"
                )
            raise ValueError(f"parameter {self.name!r}: reference value must be a number, got NaN")
        lo, hi = self.bounds
        if not (lo <= value <= hi):
            unit = f" {self.unit_string}" if self.unit_string else ""
            what = "value" if fixed else f"reference value (the parameter is {self.status})"
            raise ValueError(
                f"parameter {self.name!r}: {what} {value}{unit} is outside "
                f"its physical bounds [{lo}, {hi}]"
            )
        self._value = value

    def set(self, value: Any) -> None:
        """Set a fixed value, a prior (free) or a tensor.

        Parameters
        ----------
        value : float, Quantity, Prior or pytensor variable
            New value.

        Raises
        ------
        ValueError
            Fixed value outside the physical bounds, or prior support not inside them.
        astropy.units.UnitConversionError
            Quantity or prior in an incompatible unit.
        """
        if isinstance(value, Parameter):
            raise TypeError(
                f"parameter {self.name!r}: link parameters by passing the Parameter object to "
                f"the component constructor, not to Parameter.set"
            )
        if isinstance(value, Prior):
            prior = self._check_prior(value)
            self.prior, self.tensor = prior, None
            lo, hi = prior.support()
            if not (lo <= self._value <= hi):
                self._value = _typical_inside(prior)
            return
        if is_tensor(value):
            self.prior, self.tensor = None, value
            return
        self._set_fixed(value)
        self.prior, self.tensor = None, None

    def _check_prior(self, prior: Prior) -> Prior:
        prior = prior.to_unit(self.unit_string)
        lo, hi = prior.support()
        blo, bhi = self.bounds
        if lo < blo or hi > bhi:
            unit = f" {self.unit_string}" if self.unit_string else ""
            raise ValueError(
                f"prior {prior!r} for parameter {self.name!r} has support [{lo}, {hi}], which "
                f"is not inside the parameter's physical bounds [{blo}, {bhi}]{unit}; "
                f"choose a prior restricted to that range "
                f"(e.g. LogUniform, LogNormal, HalfNormal or TruncatedNormal for positive "
                f"parameters)"
            )
        return prior

    @property
    def value(self) -> float:
        """Numeric value in ``unit`` (the reference value when free or a tensor)."""
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        # fixed: the value; free or tensor: keep the prior/tensor, move the reference value.
        # Either way it must be a number inside the physical bounds.
        self._set_fixed(value, fixed=self.prior is None and self.tensor is None)

    @property
    def quantity(self) -> u.Quantity:
        """:attr:`value` as a Quantity."""
        return u.Quantity(self._value, self.unit)

    @property
    def is_free(self) -> bool:
        """True when the parameter has a prior."""
        return self.prior is not None

    @property
    def is_tensor(self) -> bool:
        """True when the value is a user-supplied pytensor variable."""
        return self.tensor is not None

    @property
    def status(self) -> str:
        """``"free"``, ``"fixed"`` or ``"tensor"``."""
        if self.prior is not None:
            return "free"
        return "tensor" if self.tensor is not None else "fixed"

    def latent_scale(self) -> float:
        """Factor between the physical value and the sampler's latent variable."""
        if self.scaling == "linear" or self.prior is None:
            return 1.0
        if self.scaling == "log":
            return float(self.prior.typical())
        return float(self.scaling)

    def _state(self) -> tuple:
        """Return what a built PyMC model depends on: prior, tensor and the fixed value."""
        fixed = self.prior is None and self.tensor is None
        return (self.prior, self.tensor, self._value if fixed else None)

    def _changed_since(self, state: tuple) -> bool:
        """Return True when the prior, tensor or fixed value differs from ``state``."""
        prior, tensor, value = self._state()
        return prior is not state[0] or tensor is not state[1] or value != state[2]

    def copy(self) -> Parameter:
        """Return an independent copy (priors are immutable and shared)."""
        new = Parameter.__new__(Parameter)
        new.__dict__.update(self.__dict__)
        return new

    def __repr__(self) -> str:
        unit = self.unit_string
        if self.prior is not None:
            what = f"prior={self.prior!r}"
        elif self.tensor is not None:
            what = f"tensor={self.tensor}"
        else:
            what = f"value={self._value:.6g}" + (f" {unit}" if unit else "")
        return f"Parameter({self.name!r}, {what})"


def _typical_inside(prior: Prior) -> float:
    """Return a value inside the prior support (median of 1001 fixed-seed draws)."""
    draws = prior.sample(np.random.default_rng(0), 1001)
    return float(np.median(draws))


@dataclass(frozen=True)
class ParameterSpec:
    """Declaration of one parameter of a component class.

    Parameters
    ----------
    name : str
        Keyword name in ``evaluate``.
    unit : str
        Canonical unit (the unit ``evaluate`` expects).
    default : float
        Default value (in ``unit``).
    bounds : tuple of float
        Physical bounds.
    prior : Prior or None
        Default prior; ``None`` means fixed at ``default`` unless the user gives a prior.
    scaling : {"linear", "log"} or float
        Latent scaling of the free parameter.
    description : str
        One-line meaning.
    """

    name: str
    unit: str = ""
    default: float = 0.0
    bounds: tuple[float, float] = (-math.inf, math.inf)
    prior: Prior | None = None
    scaling: str | float = "linear"
    description: str = ""

    def make(self, value: Any = MISSING) -> Parameter:
        """Create a :class:`Parameter` from this spec and a user value.

        ``MISSING`` gives the default value with the default prior; a ``Parameter`` is
        returned as is (linking) after checking its unit.
        """
        if isinstance(value, Parameter):
            if value.unit != u.Unit(self.unit):
                raise u.UnitConversionError(
                    f"cannot link parameter {value.name!r} in {value.unit.to_string()!r} to "
                    f"{self.name!r}, which needs {self.unit!r}"
                )
            return value
        param = Parameter(
            self.name,
            self.default,
            self.unit,
            bounds=self.bounds,
            scaling=self.scaling,
            description=self.description,
        )
        if value is MISSING:
            if self.prior is not None:
                param.set(self.prior)
                param._value = self.default
        else:
            param.set(value)
        return param


class Parameters(Mapping[str, Parameter]):
    """Ordered, read-only mapping of parameter name to :class:`Parameter`."""

    def __init__(self, items: Mapping[str, Parameter]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> Parameter:
        try:
            return self._items[key]
        except KeyError:
            raise KeyError(f"no parameter {key!r}; available: {list(self._items)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def free(self) -> dict[str, Parameter]:
        """Parameters with a prior."""
        return {k: p for k, p in self._items.items() if p.is_free}

    def values(self):  # type: ignore[override]
        """Parameter objects (Mapping API)."""
        return self._items.values()

    def __repr__(self) -> str:
        lines = [f"Parameters({len(self)})"]
        lines += [f"  {k:<12} {p.status:<6} {p!r}" for k, p in self._items.items()]
        return "\n".join(lines)


# pm.Model -> {id(Parameter): (name, Parameter, built value, Parameter._state() at build)}
_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _stale_message(changed: list[str]) -> str:
    return (
        f"parameter{'s' if len(changed) > 1 else ''} {', '.join(changed)} changed after the "
        "PyMC model was built from it (a new value, prior or tensor); the model still holds "
        "the old one. Rebuild it: model = gammaprob.inference.build_model(datasets, models)"
    )


def check_built_parameters(model: Any = None) -> None:
    """Raise if a parameter built into ``model`` changed since (the model would ignore it).

    Parameters
    ----------
    model : pymc.Model, optional
        The model (default: the model of the current ``with`` context).

    Raises
    ------
    StaleModelError
        Naming the variables whose parameters changed and saying to rebuild the model.
    """
    import pymc as pm

    model = pm.modelcontext(model)
    changed = [
        f"{name!r} ({param.status} now)"
        for name, param, _, state in _BUILT.get(model, {}).values()
        if param._changed_since(state)
    ]
    if changed:
        raise StaleModelError(_stale_message(changed))


def build_parameter(param: Parameter, name: str, model: Any = None) -> Any:
    """Return the graph value of ``param`` in a PyMC model, creating variables once.

    Parameters
    ----------
    param : Parameter
        The parameter.
    name : str
        Full variable name (convention ``"<source>::<parameter>"``). Ignored when the same
        parameter object was already built in this model (linked parameters).
    model : pymc.Model, optional
        Target model (default: the model of the current ``with`` context).

    Returns
    -------
    float or pytensor variable
        A numpy float64 for fixed parameters (constant-folded into the graph), the user's
        tensor, or the physical-value variable of a free parameter (canonical unit).

    Raises
    ------
    StaleModelError
        ``param`` was built in this model before and has changed since.
    """
    import pymc as pm

    model = pm.modelcontext(model)
    cache = _BUILT.setdefault(model, {})
    key = id(param)
    if key in cache:
        built_name, _, out, state = cache[key]
        if param._changed_since(state):
            raise StaleModelError(_stale_message([repr(built_name)]))
        return out
    if param.tensor is not None:
        out = param.tensor
    elif param.prior is None:
        out = np.float64(param.value)  # not a Python float: pytensor would make it float32
    else:
        with model:
            out = _build_free(param, name)
    cache[key] = (name, param, out, param._state())
    return out


def _build_free(param: Parameter, name: str) -> Any:
    import pymc as pm

    prior = param.prior
    scale = param.latent_scale()
    if isinstance(prior, LogUniform) or getattr(prior, "returns_expression", False):
        # unnamed expressions of named latents (LogUniform, hierarchical members): the latents
        # are O(1) already, so no latent rescaling
        return pm.Deterministic(name, prior.to_pymc(name))
    if scale == 1.0:
        return prior.to_pymc(name)
    latent = prior.rescaled(1.0 / scale).to_pymc(f"{name}_scaled")
    return pm.Deterministic(name, latent * np.float64(scale))


def built_parameters(model: Any = None) -> dict[str, Parameter]:
    """Return ``{variable name: Parameter}`` for the parameters built in ``model``.

    Use it to report posteriors with units: the variable holds the value in
    ``Parameter.unit``.
    """
    import pymc as pm

    model = pm.modelcontext(model)
    return {name: param for name, param, *_ in _BUILT.get(model, {}).values()}
