"""Composite spectra: arithmetic combination of two models, and a scaled model.

``a + b`` and ``a * b`` on spectral models build a :class:`CompoundSpectral`. Parameters of
the children keep their own names when these are distinct (``PowerLaw() * EBLAbsorption()``
gives ``index, amplitude, ..., redshift, alpha_norm``); when names collide they are prefixed
``model1.`` / ``model2.`` and built as ``"<source>::model1::<name>"``.
"""

from __future__ import annotations

import operator as _op
from typing import Any

import astropy.units as u

from ..component import register
from ..parameter import Parameter, Parameters, ParameterSpec
from ..prior import LogNormal
from .base import SpectralModel

__all__ = ["CompoundSpectral", "ScaledSpectral", "wrapper_parameters"]

_OPERATORS = {"add": _op.add, "sub": _op.sub, "mul": _op.mul, "truediv": _op.truediv}


@register("Compound", kind="spectral", aliases=("CompoundSpectralModel", "compound"))
class CompoundSpectral(SpectralModel):
    """``operator(model1, model2)`` evaluated point-wise.

    Parameters
    ----------
    model1, model2 : SpectralModel
        Operands.
    operator : {"add", "sub", "mul", "truediv"}
        Combination (gammapy's operator names).
    """

    parameter_specs = ()

    def __init__(self, model1: SpectralModel, model2: SpectralModel, operator: str) -> None:
        if operator not in _OPERATORS:
            raise ValueError(f"operator must be one of {sorted(_OPERATORS)}, got {operator!r}")
        for m in (model1, model2):
            if not isinstance(m, SpectralModel):
                raise TypeError(f"CompoundSpectral operands must be SpectralModels, got {m!r}")
        self.model1, self.model2, self.operator = model1, model2, operator
        unit1, unit2 = model1.output_unit, model2.output_unit
        self.output_unit = _OPERATORS[operator](u.Quantity(1, unit1), u.Quantity(1, unit2)).unit
        if operator in ("add", "sub") and unit1 != unit2:
            raise u.UnitConversionError(f"cannot {operator} spectra in {unit1} and {unit2}")
        self._parameters = {}

    @property
    def _children(self) -> dict[str, SpectralModel]:
        return {"model1": self.model1, "model2": self.model2}

    def _collide(self) -> bool:
        names1 = set(self.model1.parameters)
        return bool(names1 & set(self.model2.parameters))

    @property
    def parameters(self) -> Parameters:  # noqa: D102
        collide = self._collide()
        items: dict[str, Parameter] = {}
        for key, child in self._children.items():
            for name, p in child.parameters.items():
                items[f"{key}.{name}" if collide else name] = p
        return Parameters(items)

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_") and name not in ("model1", "model2", "operator"):
            params = self.parameters
            if name in params:
                return params[name]
        raise AttributeError(f"CompoundSpectral has no attribute or parameter {name!r}")

    def values(self, overrides: Any = None) -> dict[str, Any]:  # noqa: D102
        return {key: child.values(overrides) for key, child in self._children.items()}

    def build(self, prefix: str) -> dict[str, Any]:  # noqa: D102
        collide = self._collide()
        return {
            key: child.build(f"{prefix}::{key}" if collide else prefix)
            for key, child in self._children.items()
        }

    def evaluate(self, energy: Any, model1: Any, model2: Any) -> Any:
        """Evaluate the combination (energy in TeV; ``model1/2``: the children's parameters)."""
        v1 = self.model1.evaluate_with(energy, params=model1)
        v2 = self.model2.evaluate_with(energy, params=model2)
        return _OPERATORS[self.operator](v1, v2)

    def integrate(self, lo: Any, hi: Any, model1: Any, model2: Any) -> Any:
        """Sum/difference of the children's integrals, else quadrature of the product."""
        if self.operator in ("add", "sub"):
            i1 = self.model1.integrate_with(lo, hi, model1)
            i2 = self.model2.integrate_with(lo, hi, model2)
            return _OPERATORS[self.operator](i1, i2)
        return super().integrate(lo, hi, model1=model1, model2=model2)

    def to_dict(self, links: Any = None) -> dict[str, Any]:  # noqa: D102
        return {
            "type": self.tag,
            "model1": self.model1.to_dict(links),
            "model2": self.model2.to_dict(links),
            "operator": self.operator,
        }

    @classmethod
    def _from_dict(cls, data: Any, links: dict[str, Parameter], dialect: str) -> SpectralModel:
        return cls(
            SpectralModel.from_dict(data["model1"], links, dialect),
            SpectralModel.from_dict(data["model2"], links, dialect),
            data.get("operator", "mul"),
        )

    def copy(self) -> CompoundSpectral:  # noqa: D102
        return CompoundSpectral(self.model1.copy(), self.model2.copy(), self.operator)

    def __repr__(self) -> str:
        return f"CompoundSpectral({self.model1!r} {self.operator} {self.model2!r})"


def wrapper_parameters(wrapper: SpectralModel, own: str) -> Parameters:
    """Parameters of a component wrapping ``wrapper.model``: its own ``own`` one, then the inner.

    Parameters
    ----------
    wrapper : SpectralModel
        A component with a ``model`` attribute and one parameter of its own.
    own : str
        Name of the wrapper's own parameter, which the inner model must not use.

    Returns
    -------
    gammaprob.modeling.parameter.Parameters
        ``{own: ..., **inner parameters}``.
    """
    inner = dict(wrapper.model.parameters)
    if own in inner:
        raise ValueError(
            f"{type(wrapper).__name__} cannot wrap a model that has a {own!r} parameter"
        )
    return Parameters({own: wrapper._parameters[own], **inner})


@register("Scaled", kind="spectral", aliases=("ScaleSpectralModel", "scale"))
class ScaledSpectral(SpectralModel):
    """Another spectral model times a dimensionless ``norm``.

    Parameters
    ----------
    model : SpectralModel
        Wrapped model.
    norm : float, Prior, Parameter or tensor
        Scale factor (default 1 with a LogNormal(0, 0.5) prior).
    """

    parameter_specs = (
        ParameterSpec("norm", "", 1.0, (0.0, float("inf")), LogNormal(0.0, 0.5), "linear", "scale"),
    )

    def __init__(self, model: SpectralModel, norm: Any = None) -> None:
        if not isinstance(model, SpectralModel):
            raise TypeError(f"ScaledSpectral wraps a SpectralModel, got {model!r}")
        self.model = model
        self.output_unit = model.output_unit
        super().__init__(**({} if norm is None else {"norm": norm}))

    @property
    def parameters(self) -> Parameters:  # noqa: D102
        return wrapper_parameters(self, "norm")

    def values(self, overrides: Any = None) -> dict[str, Any]:  # noqa: D102
        return {**super().values(overrides), "model": self.model.values(overrides)}

    def build(self, prefix: str) -> dict[str, Any]:  # noqa: D102
        return {**super().build(prefix), "model": self.model.build(prefix)}

    def evaluate(self, energy: Any, norm: Any, model: Any) -> Any:
        """``norm`` times the wrapped model (energy in TeV)."""
        return norm * self.model.evaluate_with(energy, params=model)

    def integrate(self, lo: Any, hi: Any, norm: Any, model: Any) -> Any:
        """``norm`` times the wrapped model's integral."""
        return norm * self.model.integrate_with(lo, hi, model)

    def to_dict(self, links: Any = None) -> dict[str, Any]:  # noqa: D102
        out = super().to_dict(links)
        out["model"] = self.model.to_dict(links)
        return out

    @classmethod
    def _from_dict(cls, data: Any, links: dict[str, Parameter], dialect: str) -> SpectralModel:
        from ..component import parameter_from_dict

        model = SpectralModel.from_dict(data["model"], links, dialect)
        entries = {e.get("name"): e for e in data.get("parameters", [])}
        unknown = sorted(set(entries) - {"norm"})
        if unknown:
            raise ValueError(f"{cls.tag}: unknown parameter(s) {unknown}; parameters are ['norm']")
        if "norm" not in entries:
            return cls(model)
        norm = parameter_from_dict(
            entries["norm"], cls.parameter_specs[0], links, where=cls.tag, dialect=dialect
        )
        return cls(model, norm)

    def copy(self) -> ScaledSpectral:  # noqa: D102
        return ScaledSpectral(self.model.copy(), self._parameters["norm"].copy())
