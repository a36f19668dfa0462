"""How the forward layer reads sky models (duck-typed, so it depends on no model class).

A sky model is any object with a ``name`` and a spectral component (attribute ``spectral`` as
in :class:`gammaprob.modeling.SkyModel`, or ``spectral_model``), optionally a spatial component
(``spatial`` / ``spatial_model``), a temporal component (``temporal`` / ``temporal_model``,
with ``mean_norm(t_min, t_max, values)`` as :class:`gammaprob.modeling.temporal.TemporalModel`)
and ``datasets_names`` (None: applies to every dataset). A
component exposes pure ``evaluate(energy, **params)`` and ``integrate(lo, hi, **params)``; its
parameter names come from its ``parameters`` mapping or, failing that, the ``evaluate``
signature. Parameter values are nested ``{source: {kind: {param: value}}}`` (what
:func:`build_params` returns) or flat ``{"<source>::<param>": value}``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping

__all__ = [
    "build_params",
    "component_params",
    "current_values",
    "models_for",
    "spatial_component",
    "spectral_component",
    "temporal_component",
]


def _first_attr(obj, names):
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def spectral_component(model):
    """Return the spectral component of a sky model (None for a pure background model)."""
    return _first_attr(model, ("spectral", "spectral_model"))


def spatial_component(model):
    """Return the spatial component of a sky model, or None."""
    return _first_attr(model, ("spatial", "spatial_model"))


def temporal_component(model):
    """Return the temporal component of a sky model, or None."""
    return _first_attr(model, ("temporal", "temporal_model"))


_COMPONENTS = {
    "spectral": spectral_component,
    "spatial": spatial_component,
    "temporal": temporal_component,
}


def _parameter_names(component, method: str, n_positional: int) -> list[str]:
    parameters = getattr(component, "parameters", None)
    if isinstance(parameters, Mapping):
        return list(parameters)
    func = getattr(component, method)
    names = []
    for i, p in enumerate(inspect.signature(func).parameters.values()):
        if i < n_positional or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        names.append(p.name)
    return names


def component_params(
    model, kind: str, params: Mapping, *, method: str = "evaluate", n_positional: int = 1
) -> dict:
    """Collect the parameter values of one component of a sky model.

    Two layouts of ``params`` are accepted:

    - nested, as returned by :func:`build_params` / :func:`current_values` (and by
      ``SkyModel.build()``): ``{source: {kind: {param: value}}}``;
    - flat: ``{"<source>::<param>": value}`` (``"<source>::<kind>::<param>"`` also accepted).

    Parameters
    ----------
    model
        Sky model owning the component.
    kind : {"spectral", "spatial", "temporal"}
        Which component.
    params : Mapping
        Parameter values (floats or tensors).
    method : str
        Method whose keyword parameters are collected (flat layout, components without a
        ``parameters`` mapping).
    n_positional : int
        Number of leading coordinate arguments of ``method`` (energy: 1; lon, lat: 2).

    Returns
    -------
    dict
        ``{param: value}`` to pass to the component's pure functions.

    Raises
    ------
    KeyError
        Naming the missing keys.
    """
    source = model.name
    nested = params.get(source)
    if isinstance(nested, Mapping):
        if kind not in nested:
            raise KeyError(f"parameter values of {source!r} have no {kind!r} entry")
        return dict(nested[kind])
    component = _COMPONENTS[kind](model)
    out, missing = {}, []
    for name in _parameter_names(component, method, n_positional):
        for key in (f"{source}::{name}", f"{source}::{kind}::{name}"):
            if key in params:
                out[name] = params[key]
                break
        else:
            missing.append(f"{source}::{name}")
    if missing:
        raise KeyError(f"parameter values missing for {missing}; got keys {sorted(params)}")
    return out


def current_values(models: Iterable) -> dict:
    """Numeric parameter values of sky models, nested as ``{source: {kind: {param: value}}}``.

    Parameters
    ----------
    models : iterable
        Sky models whose components have ``values()`` (gammaprob modeling components).

    Returns
    -------
    dict
        Values in canonical units, usable as ``params`` of the forward functions.
    """
    out = {}
    for model in models:
        entry = {}
        for kind, get in _COMPONENTS.items():
            comp = get(model)
            if comp is not None:
                entry[kind] = dict(comp.values())
        out[model.name] = entry
    return out


def build_params(models: Iterable) -> dict:
    """Build every sky model's parameters in the current ``pm.Model`` (each model once).

    Parameters
    ----------
    models : iterable
        Sky models with a ``build()`` method (gammaprob ``SkyModel``): free parameters become
        PyMC random variables named ``"<source>::<param>"``.

    Returns
    -------
    dict
        ``{source: {kind: {param: float or tensor}}}``, usable as ``params``.
    """
    return {model.name: model.build() for model in models}


def models_for(models: Iterable, dataset_name: str, known: Iterable[str] | None) -> list:
    """Sky models that apply to one dataset.

    Parameters
    ----------
    models : iterable
        Sky models.
    dataset_name : str
        The dataset being folded.
    known : iterable of str or None
        Names of all datasets in the likelihood (to catch assignments to unknown datasets);
        None skips that check.

    Returns
    -------
    list
        The models whose ``datasets_names`` is None or contains ``dataset_name``.

    Raises
    ------
    ValueError
        When a model is assigned to a dataset name that is not in ``known``.
    """
    known = None if known is None else set(known)
    out = []
    for model in models:
        names = getattr(model, "datasets_names", None)
        if names is not None:
            names = [names] if isinstance(names, str) else list(names)
            unknown = [] if known is None else sorted(set(names) - known)
            if unknown:
                raise ValueError(
                    f"model {getattr(model, 'name', model)!r} is assigned to unknown dataset(s) "
                    f"{unknown}; known datasets: {sorted(known)}"
                )
            if dataset_name not in names:
                continue
        out.append(model)
    return out
