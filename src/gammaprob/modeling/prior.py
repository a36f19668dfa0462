"""Priors: small, serialisable descriptions of what we believe before the data.

A :class:`Prior` is a specification, not a PyMC object. It carries a unit, converts to
another unit, rescales, draws numpy samples (prior predictive checks) and, when a model is
built, creates the matching PyMC random variable. Every family is closed under a positive
rescaling ``x -> f x``, which is how unit conversion and the O(1) latent scaling of
amplitudes are done without Jacobian terms.

Examples
--------
>>> import astropy.units as u
>>> p = Normal(1.0 * u.TeV, 0.1 * u.TeV)
>>> p.to_unit("GeV")
Normal(mu=1000.0, sigma=100.0, unit='GeV')
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import astropy.units as u
import numpy as np

__all__ = [
    "PRIORS",
    "Cauchy",
    "Exponential",
    "Gamma",
    "HalfNormal",
    "LogNormal",
    "LogUniform",
    "Normal",
    "Prior",
    "StudentT",
    "TruncatedNormal",
    "Uniform",
    "prior_from_dict",
]

#: Registered prior families, by type name.
PRIORS: dict[str, type[Prior]] = {}

# How each hyper-parameter changes when the variable is rescaled x -> f * x:
# "loc" multiplies by f, "inv" divides by f, "log" adds ln(f), "fixed" is unchanged.
_LOC, _INV, _LOG, _FIXED = "loc", "inv", "log", "fixed"


class Prior:
    """Base class of prior specifications.

    Subclasses list their hyper-parameters in ``_fields`` as ``(name, rescaling rule)``.
    Hyper-parameters with the ``loc`` rule may be given as Quantities; the prior unit is then
    taken from them (all converted to the first one's unit).

    Parameters
    ----------
    *args, **kwargs
        Hyper-parameters, in the order of ``_fields``.
    unit : str or `~astropy.units.Unit`, optional
        Unit of the variable the prior describes (default: dimensionless, or taken from
        Quantity arguments).
    """

    _fields: ClassVar[tuple[tuple[str, str], ...]] = ()
    _pymc_name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        PRIORS[cls.__name__] = cls

    def __init__(self, *args: Any, unit: str | u.UnitBase | None = None, **kwargs: Any) -> None:
        names = [name for name, _ in self._fields]
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes {len(names)} hyper-parameters {names}")
        values = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(
                    f"{type(self).__name__} got unknown hyper-parameter {key!r}; expected {names}"
                )
            if key in values:
                raise TypeError(f"{type(self).__name__} got {key!r} twice")
            values[key] = value
        missing = [n for n in names if n not in values]
        if missing:
            raise TypeError(f"{type(self).__name__} is missing hyper-parameter(s) {missing}")
        quantity_units = [v.unit for v in values.values() if isinstance(v, u.Quantity)]
        if unit is None:
            unit = quantity_units[0] if quantity_units else u.dimensionless_unscaled
        unit_string = unit if isinstance(unit, str) else u.Unit(unit).to_string()
        unit = u.Unit(unit)
        rules = dict(self._fields)
        for name, value in values.items():
            if isinstance(value, u.Quantity):
                if rules[name] != _LOC:
                    raise TypeError(
                        f"{type(self).__name__}.{name} must be a plain number "
                        f"(it is not in the units of the variable)"
                    )
                try:
                    value = value.to_value(unit)
                except u.UnitConversionError as exc:
                    raise u.UnitConversionError(
                        f"{type(self).__name__}.{name}={value} is not convertible to {unit}"
                    ) from exc
            value = float(value)
            if not math.isfinite(value) and name not in ("lower", "upper"):
                raise ValueError(f"{type(self).__name__}.{name} must be finite, got {value}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "unit", unit)
        object.__setattr__(self, "unit_string", unit_string)
        self._validate()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    # -- description -------------------------------------------------------------------------
    def _validate(self) -> None:
        """Check hyper-parameter values (subclasses raise ValueError)."""

    @property
    def hyper(self) -> dict[str, float]:
        """Hyper-parameters as a dict of floats (in ``unit``)."""
        return {name: getattr(self, name) for name, _ in self._fields}

    def support(self) -> tuple[float, float]:
        """Return the closed interval ``(lower, upper)`` outside which the density is zero."""
        return (-math.inf, math.inf)

    def typical(self) -> float:
        """Return a positive magnitude of typical values (used to scale latent variables)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper.items())
        unit = self.unit_string
        if unit:
            return f"{type(self).__name__}({args}, unit={unit!r})"
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.hyper == other.hyper  # type: ignore[attr-defined]
            and self.unit == other.unit  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self.hyper.items()), self.unit))

    # -- transformations -----------------------------------------------------------------------
    def rescaled(self, factor: float, unit: str | u.UnitBase | None = None) -> Prior:
        """Return the prior of ``factor * x`` (``factor > 0``).

        Parameters
        ----------
        factor : float
            Positive scale factor.
        unit : str or `~astropy.units.Unit`, optional
            Unit of the new prior (default: unchanged).
        """
        if not factor > 0:
            raise ValueError(f"rescaling factor must be positive, got {factor}")
        new = {}
        for name, rule in self._fields:
            value = getattr(self, name)
            if rule == _LOC:
                value = value * factor
            elif rule == _INV:
                value = value / factor
            elif rule == _LOG:
                value = value + math.log(factor)
            new[name] = value
        return type(self)(**new, unit=self.unit_string if unit is None else unit)

    def to_unit(self, unit: str | u.UnitBase) -> Prior:
        """Return the same prior expressed in ``unit``.

        Raises
        ------
        astropy.units.UnitConversionError
            If ``unit`` is not convertible to the prior's unit.
        """
        target = unit
        unit = u.Unit(unit)
        try:
            factor = self.unit.to(unit)
        except u.UnitConversionError as exc:
            raise u.UnitConversionError(
                f"prior {self!r} has unit {self.unit.to_string()!r}, not convertible to "
                f"{unit.to_string()!r}"
            ) from exc
        if factor == 1.0:
            return type(self)(**self.hyper, unit=target)
        return self.rescaled(factor, unit=target)

    # -- numeric ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Draw numpy samples (in ``unit``).

        Parameters
        ----------
        rng : numpy.random.Generator
            Random generator.
        size : int or tuple of int
            Output shape.
        """
        raise NotImplementedError

    def to_pymc(self, name: str):
        """Create the PyMC random variable ``name`` in the current model; return it."""
        import pymc as pm

        # numpy float64: pytensor would turn Python floats into float32 constants and
        # evaluate constant sub-expressions (e.g. -log(upper - lower)) in single precision
        hyper = {k: np.float64(v) for k, v in self.hyper.items()}
        return getattr(pm, self._pymc_name)(name, **hyper)

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return a YAML-friendly dict ``{"type": ..., <hyper-parameters>, "unit": ...}``."""
        out: dict[str, Any] = {"type": type(self).__name__}
        out.update(self.hyper)
        out["unit"] = self.unit_string
        return out


def prior_from_dict(data: dict[str, Any]) -> Prior:
    """Create a prior from :meth:`Prior.to_dict` output.

    Parameters
    ----------
    data : dict
        Must contain ``type`` (one of :data:`PRIORS`) and that family's hyper-parameters.
    """
    data = dict(data)
    kind = data.pop("type", None)
    if kind not in PRIORS:
        raise ValueError(f"unknown prior type {kind!r}; known types: {sorted(PRIORS)}")
    unit = data.pop("unit", "")
    return PRIORS[kind](**data, unit=unit)


class Uniform(Prior):
    """Uniform density on ``[lower, upper]``."""

    _fields = (("lower", _LOC), ("upper", _LOC))
    _pymc_name = "Uniform"

    def _validate(self) -> None:
        if not (
            math.isfinite(self.lower) and math.isfinite(self.upper) and self.lower < self.upper
        ):
            raise ValueError(f"Uniform needs finite lower < upper, got {self.lower}, {self.upper}")

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.lower, self.upper)

    def typical(self) -> float:  # noqa: D102
        return max(abs(self.lower), abs(self.upper))

    def sample(self, rng, size):  # noqa: D102
        return rng.uniform(self.lower, self.upper, size)


class LogUniform(Prior):
    """Density proportional to ``1/x`` on ``[lower, upper]`` (``0 < lower < upper``).

    Built as a uniform latent variable ``name + "_ln"`` in ``ln(x / sqrt(lower upper))``.
    """

    _fields = (("lower", _LOC), ("upper", _LOC))

    def _validate(self) -> None:
        if not (0 < self.lower < self.upper < math.inf):
            raise ValueError(
                f"LogUniform needs 0 < lower < upper < inf, got {self.lower}, {self.upper}"
            )

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.lower, self.upper)

    def typical(self) -> float:  # noqa: D102
        return math.sqrt(self.lower * self.upper)

    def sample(self, rng, size):  # noqa: D102
        return np.exp(rng.uniform(math.log(self.lower), math.log(self.upper), size))

    def to_pymc(self, name: str):
        """Create ``name + "_ln"`` (uniform in log) and return ``exp`` of it (not named)."""
        import pymc as pm
        import pytensor.tensor as pt

        ref = np.float64(self.typical())
        latent = pm.Uniform(
            f"{name}_ln",
            np.float64(math.log(self.lower / ref)),
            np.float64(math.log(self.upper / ref)),
        )
        return ref * pt.exp(latent)


class Normal(Prior):
    """Normal density with mean ``mu`` and standard deviation ``sigma``."""

    _fields = (("mu", _LOC), ("sigma", _LOC))
    _pymc_name = "Normal"

    def _validate(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"Normal needs sigma > 0, got {self.sigma}")

    def typical(self) -> float:  # noqa: D102
        return max(abs(self.mu), self.sigma)

    def sample(self, rng, size):  # noqa: D102
        return rng.normal(self.mu, self.sigma, size)


class LogNormal(Prior):
    """Density of ``x`` with ``ln(x / unit) ~ Normal(mu, sigma)``."""

    _fields = (("mu", _LOG), ("sigma", _FIXED))
    _pymc_name = "LogNormal"

    def _validate(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"LogNormal needs sigma > 0, got {self.sigma}")

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (0.0, math.inf)

    def typical(self) -> float:  # noqa: D102
        return math.exp(self.mu)

    def sample(self, rng, size):  # noqa: D102
        return rng.lognormal(self.mu, self.sigma, size)


class HalfNormal(Prior):
    """Normal density with scale ``sigma`` folded onto ``x >= 0``."""

    _fields = (("sigma", _LOC),)
    _pymc_name = "HalfNormal"

    def _validate(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"HalfNormal needs sigma > 0, got {self.sigma}")

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (0.0, math.inf)

    def typical(self) -> float:  # noqa: D102
        return self.sigma

    def sample(self, rng, size):  # noqa: D102
        return np.abs(rng.normal(0.0, self.sigma, size))


class TruncatedNormal(Prior):
    """Normal density ``(mu, sigma)`` restricted to ``[lower, upper]`` (either may be inf)."""

    _fields = (("mu", _LOC), ("sigma", _LOC), ("lower", _LOC), ("upper", _LOC))
    _pymc_name = "TruncatedNormal"

    def _validate(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"TruncatedNormal needs sigma > 0, got {self.sigma}")
        if not self.lower < self.upper:
            raise ValueError(f"TruncatedNormal needs lower < upper, got {self.lower}, {self.upper}")

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.lower, self.upper)

    def typical(self) -> float:  # noqa: D102
        return max(abs(self.mu), self.sigma)

    def sample(self, rng, size):  # noqa: D102
        from scipy.stats import truncnorm

        a = (self.lower - self.mu) / self.sigma
        b = (self.upper - self.mu) / self.sigma
        return truncnorm.rvs(a, b, loc=self.mu, scale=self.sigma, size=size, random_state=rng)

    def to_pymc(self, name: str):  # noqa: D102
        import pymc as pm

        lower = np.float64(self.lower) if math.isfinite(self.lower) else None
        upper = np.float64(self.upper) if math.isfinite(self.upper) else None
        mu, sigma = np.float64(self.mu), np.float64(self.sigma)
        return pm.TruncatedNormal(name, mu=mu, sigma=sigma, lower=lower, upper=upper)


class StudentT(Prior):
    """Student-t density with ``nu`` degrees of freedom, location ``mu``, scale ``sigma``."""

    _fields = (("nu", _FIXED), ("mu", _LOC), ("sigma", _LOC))
    _pymc_name = "StudentT"

    def _validate(self) -> None:
        if not (self.nu > 0 and self.sigma > 0):
            raise ValueError(f"StudentT needs nu > 0 and sigma > 0, got {self.nu}, {self.sigma}")

    def typical(self) -> float:  # noqa: D102
        return max(abs(self.mu), self.sigma)

    def sample(self, rng, size):  # noqa: D102
        return self.mu + self.sigma * rng.standard_t(self.nu, size)


class Cauchy(Prior):
    """Cauchy density with location ``alpha`` and scale ``beta`` (PyMC's names)."""

    _fields = (("alpha", _LOC), ("beta", _LOC))
    _pymc_name = "Cauchy"

    def _validate(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"Cauchy needs beta > 0, got {self.beta}")

    def typical(self) -> float:  # noqa: D102
        return max(abs(self.alpha), self.beta)

    def sample(self, rng, size):  # noqa: D102
        return self.alpha + self.beta * rng.standard_cauchy(size)


class Exponential(Prior):
    """Exponential density with rate ``lam`` (mean ``1/lam``) on ``x >= 0``."""

    _fields = (("lam", _INV),)
    _pymc_name = "Exponential"

    def _validate(self) -> None:
        if not self.lam > 0:
            raise ValueError(f"Exponential needs lam > 0, got {self.lam}")

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (0.0, math.inf)

    def typical(self) -> float:  # noqa: D102
        return 1.0 / self.lam

    def sample(self, rng, size):  # noqa: D102
        return rng.exponential(1.0 / self.lam, size)


class Gamma(Prior):
    """Gamma density with shape ``alpha`` and rate ``beta`` (mean ``alpha/beta``)."""

    _fields = (("alpha", _FIXED), ("beta", _INV))
    _pymc_name = "Gamma"

    def _validate(self) -> None:
        if not (self.alpha > 0 and self.beta > 0):
            raise ValueError(f"Gamma needs alpha > 0 and beta > 0, got {self.alpha}, {self.beta}")

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (0.0, math.inf)

    def typical(self) -> float:  # noqa: D102
        return self.alpha / self.beta

    def sample(self, rng, size):  # noqa: D102
        return rng.gamma(self.alpha, 1.0 / self.beta, size)
