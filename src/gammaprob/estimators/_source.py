"""Shared helpers of the posterior estimators: frozen sources and per-bin norm terms."""

from __future__ import annotations

import numpy as np

from .norm_posterior import NormTerms

__all__ = ["frozen_model", "norm_terms", "posterior_medians", "spectrum_responses"]


def posterior_medians(posterior) -> dict[str, float]:
    """Return the posterior medians of the scalar variables of a fit result.

    Parameters
    ----------
    posterior : xarray.DataTree, arviz.InferenceData, xarray.Dataset, dict or None
        Sampling result (its ``posterior`` group is used when present), or a dict of point
        values such as :func:`gammaprob.inference.find_map` returns.

    Returns
    -------
    dict
        ``{variable name: median}`` over chains and draws (scalar variables only).
    """
    if posterior is None:
        return {}
    if isinstance(posterior, dict):
        return {str(k): float(np.asarray(v)) for k, v in posterior.items() if np.ndim(v) == 0}
    group = posterior["posterior"] if "posterior" in _children(posterior) else posterior
    out = {}
    for name in group.data_vars:
        values = np.asarray(group[name].values, dtype=float)
        if values.ndim <= 2:
            out[str(name)] = float(np.median(values))
    return out


def _children(obj) -> set:
    children = getattr(obj, "children", None)
    if children is not None:
        return set(children)
    groups = getattr(obj, "groups", None)
    if callable(groups):
        return {g.strip("/") for g in groups()}
    return set()


def frozen_model(model, values: dict[str, float] | None = None):
    """Return a copy of a sky model with every parameter fixed.

    Parameters
    ----------
    model : SkyModel
        The source.
    values : dict, optional
        ``{"<source>::<param>": value}`` (e.g. posterior medians) or ``{"<param>": value}``;
        parameters not given keep their current (reference) value.

    Returns
    -------
    SkyModel
        New model whose components are copies with fixed parameters.
    """
    from gammaprob.modeling import SkyModel

    values = values or {}
    components = {}
    for kind, comp in model.components.items():
        copy = comp.copy()
        for name, param in copy.parameters.items():
            key = f"{model.name}::{name}"
            if key in values:
                value = values[key]
            elif name in values:
                value = values[name]
            else:
                value = param.value
            param.set(float(value))
        components[kind] = copy
    return SkyModel(**components, name=model.name, datasets_names=model.datasets_names)


def spectrum_responses(datasets) -> list:
    """Spectrum responses of the datasets (only spectrum datasets are supported)."""
    from gammaprob.datasets import SpectrumDataset
    from gammaprob.forward import SpectrumResponse

    out = []
    for ds in datasets:
        if not isinstance(ds, SpectrumDataset):
            raise TypeError(
                f"dataset {getattr(ds, 'name', ds)!r} of type {type(ds).__name__} is not "
                "supported; the posterior flux-point estimators take SpectrumDataset(OnOff)"
            )
        out.append(SpectrumResponse.from_dataset(ds))
    return out


def predicted(response, models) -> np.ndarray:
    """Signal counts (no background) of fixed-parameter models in the kept bins of one response."""
    from gammaprob.forward import integrate_component

    edges = response.energy_true_edges
    flux = np.zeros(edges.size - 1)
    for model in models:
        if model.datasets_names is not None and response.name not in model.datasets_names:
            continue
        flux += np.asarray(
            integrate_component(model.spectral, edges[:-1], edges[1:], model.spectral.values()),
            dtype=float,
        )
    return response.fold(flux)


def bin_owner(response, energy_edges: np.ndarray) -> np.ndarray:
    """Index of the flux bin holding each kept reconstructed bin (-1: none).

    Each requested edge is snapped to the nearest reconstructed-energy edge of the dataset (in
    log energy, as gammapy's ``slice_by_energy``); the reconstructed bins between two snapped
    edges belong to that flux bin.
    """
    log_edges = np.log(response.energy_edges)
    pix = np.interp(np.log(energy_edges), log_edges, np.arange(log_edges.size))
    idx = np.floor(pix + 0.5).astype(int)
    owner = np.full(log_edges.size - 1, -1)
    for k in range(energy_edges.size - 1):
        owner[idx[k] : idx[k + 1]] = k
    return owner[response.mask]


def norm_terms(response, mu_ref: np.ndarray, offset: np.ndarray, select: np.ndarray) -> NormTerms:
    """Return the selected kept bins of one response as :class:`NormTerms`."""
    n = int(select.sum())
    onoff = response.counts_off is not None
    return NormTerms(
        mu=mu_ref[select],
        counts=response.counts[select].astype(float),
        offset=offset[select],
        background=(
            response.background[select]
            if response.background is not None and not onoff
            else np.zeros(n)
        ),
        counts_off=response.counts_off[select].astype(float) if onoff else np.zeros(n),
        alpha=response.alpha[select] if onoff else np.zeros(n),
    )
