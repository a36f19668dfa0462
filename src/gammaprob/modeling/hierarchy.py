r"""Hierarchical (multilevel) priors: a population of parameters with free location and scale.

One parameter per run, instrument or source, drawn from a population whose location and scale
are themselves free. A :class:`Hierarchy` declares the population and its hyperpriors; each member parameter gets
the prior ``hierarchy.member(label)`` (or all at once, ``hierarchy.priors(labels)``)::

    from gammaprob.modeling import FoVBackgroundModel, Hierarchy, HalfNormal, LogNormal

    runs = Hierarchy("bkg_norm", location=LogNormal(0.0, 0.1), scale=HalfNormal(0.1),
                     population="lognormal")
    backgrounds = [FoVBackgroundModel(name, norm=runs.member(name)) for name in run_names]

Populations (``x_i`` the member values, ``eta_i ~ Normal(0, 1)`` independent):

* ``"normal"``: :math:`x_i = \mu + \sigma\,\eta_i`, i.e. :math:`x_i \sim N(\mu, \sigma)`;
  ``location`` (:math:`\mu`) and ``scale`` (:math:`\sigma > 0`) are in the member's unit.
* ``"lognormal"``: :math:`x_i = m\,\exp(\sigma\,\eta_i)`, i.e. :math:`\ln x_i \sim
  N(\ln m, \sigma)`, for positive parameters (norms, scale factors); ``location`` is the
  population median :math:`m > 0` (member unit), ``scale`` the dimensionless log-width.

The parameterisation is non-centred by default: the sampler sees the standard-normal offsets
``"<member variable>_offset"`` and the hyper-parameters ``"<hierarchy>::location"`` and
``"<hierarchy>::scale"``, and each member value is a deterministic, so that the funnel of a
centred hierarchy with few or weakly informative members does not stall NUTS.
``centred=True`` samples ``x_i`` directly (better when every member is tightly measured).

**Sampling.** :func:`~gammaprob.inference.sample` raises the NUTS target acceptance rate to
:data:`HIERARCHY_TARGET_ACCEPT` (0.99 instead of 0.9) when the model holds a hierarchy (an explicit
``target_accept`` wins; the value used is in the provenance). Measured on the ``hierarchy_1d``
coverage case (four power laws, indices from one normal population): the divergences sit where
the population is wide and each member's index is pinned by its data and strongly correlated
with its amplitude (correlation -0.95 to -0.99 at a 1 TeV reference, decorrelation energy near
0.16 TeV), i.e. the curved ridge ``index_i = location + scale * offset_i``, not the funnel at
``scale -> 0``; the smaller step size of a higher target removes them (replication 0: 15 -> 0,
replication 2: 54 -> 0 divergences of 4000 draws, same seeds). It also keeps
:data:`HIERARCHY_DRAWS` (2000 instead of 1000) draws per chain by default: the population
scale is the slowest variable (bulk ESS 540-780 of 4000 draws where every other variable has
more than 1000, in the ``hierarchy_1d`` replications and in the joint-Crab cross-calibration
of ``notebooks/systematics_hierarchy.ipynb``), so with 1000 draws its R-hat exceeds 1.01 in
about one run in five (joint Crab: 2 of 7 runs of seeds 0-3, one on CI, max 1.0102; with
2000 draws 0 of 7 runs, seeds 0-6, max 1.0062). An explicit ``draws`` wins.

A hierarchy needs at least two members: with one, the population scale is not identified
(its posterior is its prior) and ``location`` and the member are one parameter; both
:meth:`Hierarchy.priors` and :func:`~gammaprob.inference.build_model` (through
:func:`check_hierarchies`) refuse that with a clear error.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import astropy.units as u
import numpy as np

from .prior import Prior, prior_from_dict

__all__ = [
    "HIERARCHY_DRAWS",
    "HIERARCHY_TARGET_ACCEPT",
    "POPULATIONS",
    "HierarchicalPrior",
    "Hierarchy",
    "check_hierarchies",
    "hierarchies_in",
]

#: Population families of a :class:`Hierarchy`.
POPULATIONS = ("normal", "lognormal")

#: NUTS target acceptance rate :func:`~gammaprob.inference.sample` uses for a model holding a
#: hierarchy (see the module docstring)
HIERARCHY_TARGET_ACCEPT = 0.99

#: Draws kept per chain that :func:`~gammaprob.inference.sample` takes by default for a model
#: holding a hierarchy (see the module docstring)
HIERARCHY_DRAWS = 2000

# PyMC models -> names of the hierarchies whose members were created in them
_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# hierarchies read from YAML, interned by their specification so that members read from one
# file share one object (and so one set of hyper-parameters in a model)
_INTERNED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or "::" in name:
        raise ValueError(f"hierarchy name must be a non-empty string without '::', got {name!r}")
    return name


class Hierarchy:
    """A population of parameters with free location and scale (see the module docstring).

    Parameters
    ----------
    name : str
        Prefix of the hyper-parameter variables ``"<name>::location"``, ``"<name>::scale"``.
    location : Prior
        Hyperprior of the population location: the mean (``"normal"``) or the median
        (``"lognormal"``; its support must be positive), in ``unit``.
    scale : Prior
        Hyperprior of the population width: a standard deviation in ``unit`` (``"normal"``)
        or a dimensionless log-width (``"lognormal"``); its support must be non-negative
        (e.g. ``HalfNormal``).
    population : {"normal", "lognormal"}
        Population family (default ``"normal"``).
    centred : bool
        Sample the members directly instead of standard-normal offsets (default False:
        non-centred).
    unit : str or astropy unit, optional
        Unit of the members (default: that of ``location``).

    Raises
    ------
    ValueError
        Unknown population, or hyperprior supports outside what the population needs.
    """

    def __init__(
        self,
        name: str,
        location: Prior,
        scale: Prior,
        *,
        population: str = "normal",
        centred: bool = False,
        unit: str | u.UnitBase | None = None,
    ) -> None:
        from .parameter import Parameter

        self.name = _check_name(name)
        if population not in POPULATIONS:
            raise ValueError(
                f"hierarchy {name!r}: population must be one of {POPULATIONS}, got {population!r}"
            )
        for what, prior in (("location", location), ("scale", scale)):
            if not isinstance(prior, Prior) or isinstance(prior, HierarchicalPrior):
                raise TypeError(
                    f"hierarchy {name!r}: {what} must be an ordinary Prior (e.g. Normal, "
                    f"HalfNormal), got {prior!r}"
                )
        self.population = population
        self.centred = bool(centred)
        self.unit_string = location.unit_string if unit is None else str(u.Unit(unit))
        self.unit = u.Unit(self.unit_string)
        scale_unit = self.unit_string if population == "normal" else ""
        positive = (0.0, math.inf)
        try:
            self.location = Parameter(
                "location",
                unit=self.unit_string,
                prior=location,
                bounds=positive if population == "lognormal" else (-math.inf, math.inf),
            )
            self.scale = Parameter("scale", unit=scale_unit, prior=scale, bounds=positive)
        except (ValueError, u.UnitConversionError) as exc:
            raise type(exc)(f"hierarchy {name!r}: {exc}") from exc

    # -- members ------------------------------------------------------------------------------
    def member(self, label: str) -> HierarchicalPrior:
        """Return the prior of one member (label: e.g. the run or instrument name)."""
        return HierarchicalPrior(self, str(label))

    def priors(self, labels: Iterable[str]) -> dict[str, HierarchicalPrior]:
        """Return ``{label: prior}`` for several members at once.

        Raises
        ------
        ValueError
            Fewer than two labels, or a label given twice.
        """
        labels = [str(label) for label in labels]
        if len(set(labels)) != len(labels):
            raise ValueError(f"hierarchy {self.name!r}: member labels must be unique, got {labels}")
        if len(labels) < 2:
            raise ValueError(_single_member_message(self.name, labels))
        return {label: self.member(label) for label in labels}

    # -- graph --------------------------------------------------------------------------------
    def hyper(self, model: Any = None) -> tuple[Any, Any]:
        """Return the ``(location, scale)`` variables in ``model``, creating them once."""
        import pymc as pm

        from .parameter import build_parameter

        location = build_parameter(self.location, f"{self.name}::location", model)
        scale = build_parameter(self.scale, f"{self.name}::scale", model)
        _MODELS.setdefault(pm.modelcontext(model), set()).add(self.name)
        return location, scale

    def spec(self) -> dict[str, Any]:
        """YAML-friendly description of the population (without members)."""
        return {
            "hierarchy": self.name,
            "population": self.population,
            "centred": self.centred,
            "location": self.location.prior.to_dict(),
            "scale": self.scale.prior.to_dict(),
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], unit: str = "") -> Hierarchy:
        """Return the hierarchy of a :meth:`spec` (the same object for equal specifications)."""
        key = (
            spec["hierarchy"],
            spec.get("population", "normal"),
            bool(spec.get("centred", False)),
            repr(sorted(dict(spec["location"]).items())),
            repr(sorted(dict(spec["scale"]).items())),
            unit,
        )
        found = _INTERNED.get(key)
        if found is None:
            found = cls(
                spec["hierarchy"],
                prior_from_dict(dict(spec["location"])),
                prior_from_dict(dict(spec["scale"])),
                population=spec.get("population", "normal"),
                centred=bool(spec.get("centred", False)),
                unit=unit or None,
            )
            _INTERNED[key] = found
        return found

    def __repr__(self) -> str:
        return (
            f"Hierarchy({self.name!r}, location={self.location.prior!r}, "
            f"scale={self.scale.prior!r}, population={self.population!r}"
            + (", centred=True" if self.centred else "")
            + ")"
        )


class HierarchicalPrior(Prior):
    """Prior of one member of a :class:`Hierarchy` (create it with :meth:`Hierarchy.member`).

    Parameters
    ----------
    hierarchy : Hierarchy or str
        The population (a name only when read from YAML: then the population ``spec`` keys
        ``population``, ``centred``, ``location`` and ``scale`` are given too).
    member : str
        Label of the member (e.g. the run); for reports and YAML.
    factor : float
        The member variable is ``factor`` times the population draw (unit conversions and
        latent rescaling; 1 normally).
    unit : str, optional
        Unit of the member (default: the hierarchy's).
    """

    #: ``to_pymc`` returns an unnamed expression; the caller names it (a Deterministic)
    returns_expression = True

    def __init__(
        self,
        hierarchy: Hierarchy | str,
        member: str = "",
        *,
        factor: float = 1.0,
        unit: str | u.UnitBase | None = None,
        **spec: Any,
    ) -> None:
        if isinstance(hierarchy, str):
            base_unit = str(spec.pop("base_unit", "") or "")
            hierarchy = Hierarchy.from_spec({"hierarchy": hierarchy, **spec}, unit=base_unit)
        elif spec:
            raise TypeError(f"HierarchicalPrior got unexpected keywords {sorted(spec)}")
        if not isinstance(hierarchy, Hierarchy):
            raise TypeError(f"expected a Hierarchy, got {hierarchy!r}")
        factor = float(factor)
        if not (factor > 0 and math.isfinite(factor)):
            raise ValueError(f"HierarchicalPrior factor must be positive and finite, got {factor}")
        unit_string = hierarchy.unit_string if unit is None else str(u.Unit(unit))
        object.__setattr__(self, "hierarchy", hierarchy)
        object.__setattr__(self, "member", str(member))
        object.__setattr__(self, "factor", factor)
        object.__setattr__(self, "unit_string", unit_string)
        object.__setattr__(self, "unit", u.Unit(unit_string))

    # -- description --------------------------------------------------------------------------
    @property
    def hyper(self) -> dict[str, float]:  # noqa: D102
        return {"factor": self.factor}

    def support(self) -> tuple[float, float]:  # noqa: D102
        if self.hierarchy.population == "lognormal":
            return (0.0, math.inf)
        return (-math.inf, math.inf)

    def typical(self) -> float:  # noqa: D102
        h = self.hierarchy
        loc = abs(h.location.prior.typical())
        if h.population == "normal":
            loc = max(loc, h.scale.prior.typical())
        return self.factor * loc

    def __repr__(self) -> str:
        extra = "" if self.factor == 1.0 else f", factor={self.factor!r}"
        return f"HierarchicalPrior({self.hierarchy.name!r}, member={self.member!r}{extra})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, HierarchicalPrior)
            and other.hierarchy is self.hierarchy
            and other.member == self.member
            and other.factor == self.factor
            and other.unit == self.unit
        )

    def __hash__(self) -> int:
        return hash((id(self.hierarchy), self.member, self.factor, self.unit))

    # -- transformations ----------------------------------------------------------------------
    def rescaled(self, factor: float, unit: str | u.UnitBase | None = None) -> HierarchicalPrior:
        """Return the prior of ``factor * x`` (``factor > 0``)."""
        if not factor > 0:
            raise ValueError(f"rescaling factor must be positive, got {factor}")
        return HierarchicalPrior(
            self.hierarchy,
            self.member,
            factor=self.factor * factor,
            unit=self.unit_string if unit is None else unit,
        )

    def to_unit(self, unit: str | u.UnitBase) -> HierarchicalPrior:  # noqa: D102
        try:
            factor = self.unit.to(u.Unit(unit))
        except u.UnitConversionError as exc:
            raise u.UnitConversionError(
                f"hierarchy {self.hierarchy.name!r} has unit {self.unit.to_string()!r}, not "
                f"convertible to {u.Unit(unit).to_string()!r}"
            ) from exc
        return self.rescaled(factor, unit=unit)

    # -- numeric ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Draws from the population predictive (hyper-parameters drawn with each member)."""
        h = self.hierarchy
        loc = h.location.prior.sample(rng, size)
        scale = h.scale.prior.sample(rng, size)
        eta = rng.standard_normal(size)
        if h.population == "lognormal":
            return self.factor * loc * np.exp(scale * eta)
        return self.factor * (loc + scale * eta)

    def to_pymc(self, name: str):
        """Create the member's variables; return its value (an unnamed expression).

        Non-centred: ``name + "_offset"`` ~ Normal(0, 1); centred: ``name + "_centred"`` from
        the population itself. The hyper-parameters are created on first use in the model.
        """
        import pymc as pm
        import pytensor.tensor as pt

        h = self.hierarchy
        location, scale = h.hyper()
        factor = np.float64(self.factor)
        if h.centred:
            if h.population == "lognormal":
                value = pm.LogNormal(f"{name}_centred", mu=pt.log(location), sigma=scale)
            else:
                value = pm.Normal(f"{name}_centred", mu=location, sigma=scale)
        else:
            eta = pm.Normal(f"{name}_offset", np.float64(0.0), np.float64(1.0))
            if h.population == "lognormal":
                value = location * pt.exp(scale * eta)
            else:
                value = location + scale * eta
        return factor * value

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        out: dict[str, Any] = {"type": "HierarchicalPrior", "member": self.member}
        out.update(self.hierarchy.spec())
        out["base_unit"] = self.hierarchy.unit_string
        out["factor"] = self.factor
        out["unit"] = self.unit_string
        return out


def _single_member_message(name: str, members: list[str]) -> str:
    return (
        f"hierarchy {name!r} has {len(members)} member(s) {members}: a population needs at "
        "least two members (with one, its scale is not identified and its location is the "
        "member itself); give that parameter an ordinary prior instead"
    )


def hierarchies_in(model: Any) -> list[str]:
    """Return the names of the hierarchies whose members are variables of ``model``.

    Parameters
    ----------
    model : pymc.Model
        A model (built by :func:`~gammaprob.inference.build_model` or by hand).

    Returns
    -------
    list of str
        Sorted hierarchy names (empty when the model holds none).
    """
    return sorted(_MODELS.get(model, ()))


def check_hierarchies(parameters: Mapping[str, Any]) -> dict[str, list[str]]:
    """Check that every hierarchy among ``parameters`` has at least two members.

    Parameters
    ----------
    parameters : Mapping
        ``{variable name: Parameter}`` (e.g. ``Models.parameters``); a parameter object that
        appears under several names (linked) counts once.

    Returns
    -------
    dict
        ``{hierarchy name: [member variable names]}``.

    Raises
    ------
    ValueError
        A hierarchy with a single member, or two different hierarchies with one name.
    """
    found: dict[str, tuple[Hierarchy, dict[int, str]]] = {}
    for name, param in parameters.items():
        prior = getattr(param, "prior", None)
        if not isinstance(prior, HierarchicalPrior):
            continue
        h = prior.hierarchy
        entry = found.setdefault(h.name, (h, {}))
        if entry[0] is not h:
            raise ValueError(
                f"two different hierarchies are named {h.name!r} ({entry[0]!r} and {h!r}); "
                "hierarchy names must be unique"
            )
        entry[1].setdefault(id(param), name)
    out = {}
    for hname, (_, members) in found.items():
        names = list(members.values())
        if len(names) < 2:
            raise ValueError(_single_member_message(hname, names))
        out[hname] = names
    return out
