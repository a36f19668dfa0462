"""Build the PyMC model of datasets and sky models: priors, forward folding, likelihoods."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence

import numpy as np

from .model_checks import check_reference_energies

__all__ = ["build_model", "model_metadata"]

# Provenance of each model built here (model YAML, dataset names), read back by ``sample``.
_METADATA: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _as_list(datasets) -> list:
    if hasattr(datasets, "names") and hasattr(datasets, "__iter__"):
        return list(datasets)
    if isinstance(datasets, Iterable) and not hasattr(datasets, "counts"):
        return list(datasets)
    return [datasets]


def _as_models(models):
    from ..modeling import Models

    if isinstance(models, Models):
        return models
    if not isinstance(models, Sequence):
        models = [models]
    return Models(list(models))


def _responses(datasets: list) -> tuple[list, list]:
    from ..datasets import FluxPointsDataset, MapDataset, SpectrumDataset
    from ..forward import MapResponse, SpectrumResponse

    responses, flux_points = [], []
    for ds in datasets:
        if isinstance(ds, FluxPointsDataset):
            from ..likelihood.flux_points import FluxPointsData  # scipy.interpolate: on demand

            flux_points.append(FluxPointsData.from_dataset(ds))
        elif isinstance(ds, SpectrumDataset):
            responses.append(SpectrumResponse.from_dataset(ds))
        elif isinstance(ds, MapDataset):
            responses.append(MapResponse.from_dataset(ds))
        else:
            raise TypeError(
                f"dataset {getattr(ds, 'name', ds)!r} of type {type(ds).__name__} is not "
                "supported; expected SpectrumDataset(OnOff), MapDataset(OnOff) or "
                "FluxPointsDataset"
            )
    return responses, flux_points


def build_model(
    datasets,
    models,
    *,
    onoff: str = "marginal",
    background_prior=None,
    flux_points_stat: str = "chi2",
    psf_mode: str = "exact",
    systematics=None,
    model=None,
    **removed,
):
    """Build the PyMC model: one sub-model per source, one observed term per dataset.

    Free parameters become random variables named ``"<source>::<param>"`` (for example
    ``"crab::alpha"``), with amplitudes sampled on an O(1) scale and reported in physical
    units. Each spectrum or map dataset adds ``"<dataset>::counts"`` (and, for on/off data
    with ``onoff="latent"``, ``"<dataset>::mu_off"`` and ``"<dataset>::counts_off"``);
    flux-point datasets add ``"<dataset>::dnde"``. After the call the model can be extended
    by the user (``with model: ...``).

    Parameters
    ----------
    datasets : Datasets, dataset or sequence of datasets
        Spectrum (on/off), map (on/off) and flux-point datasets, with unique names.
    models : Models, SkyModel or sequence
        Sky models (and FoV background models) with priors on their free parameters.
    onoff : {"marginal", "latent", "wstat"}
        On/off treatment (:data:`gammaprob.likelihood.ONOFF_MODES`): ``"marginal"``
        (default), each bin's OFF rate integrated out analytically under the default
        Gamma(1/4, rate 1e-4) prior (generative, no nuisance dimension: the fastest to
        sample); ``"latent"``, the same model with the OFF rates sampled as latent nuisances
        ``"<dataset>::mu_off"`` (same posterior of the source parameters; needed for another
        ``background_prior``); or ``"wstat"``, the OFF rates profiled (WStat) as a
        ``pm.Potential`` (no prior/posterior predictive checks; a warning says so).
    background_prior : callable, optional
        Prior of the latent OFF expectations, ``onoff="latent"`` only (see
        :func:`gammaprob.likelihood.onoff_term`); default: a proper Gamma(1/4, rate 1e-4) on
        each bin's OFF rate (the prior the marginal integrates out).
    flux_points_stat : {"chi2", "distrib"}
        Likelihood of flux points: Gaussian on the measured values, or asymmetric errors and
        one-sided upper limits (a potential).
    psf_mode : {"exact", "kernel"}
        Map datasets: PSF at the exact pixel-source separation (default), or gammapy's
        pixelised kernel (reproduces gammapy's npred per pixel; see
        :mod:`gammaprob.forward.kernel_mode`).
    systematics : Systematics or sequence of Systematics, optional
        Instrument nuisances per dataset group (energy scale, effective area, background norm
        per energy bin and spatial gradient), see :mod:`gammaprob.modeling.systematics`; they
        are folded into the models (:func:`~gammaprob.modeling.apply_systematics`), so the
        model YAML in the provenance records them.
    model : pymc.Model, optional
        Add to this model instead of a new one.

    Returns
    -------
    pymc.Model
        The model.
    """
    _refuse_removed(removed)
    import pymc as pm

    from ..forward import build_params
    from ..likelihood import add_likelihood, check_onoff

    check_onoff(onoff)

    datasets = _as_list(datasets)
    if not datasets:
        raise ValueError("build_model needs at least one dataset")
    names = [getattr(ds, "name", None) for ds in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be unique, got {names}")
    models = _as_models(models)
    if len(models) == 0:
        raise ValueError("build_model needs at least one model")
    if systematics is not None:
        from ..modeling import apply_systematics

        models = apply_systematics(models, systematics, datasets)
    _check_free(models)
    _check_temporal(datasets, models)
    responses, flux_points = _responses(datasets)
    check_reference_energies(models, _energy_ranges(responses, flux_points))
    from ..modeling import check_hierarchies

    check_hierarchies(models.parameters)
    model = pm.Model() if model is None else model
    with model:
        params = build_params(models)
        if responses:
            add_likelihood(
                responses,
                models,
                params,
                onoff=onoff,
                background_prior=background_prior,
                psf_mode=psf_mode,
                known_datasets=names,
            )
        for data in flux_points:
            from ..likelihood.flux_points import flux_points_term

            pred = data.predict(models, params, known_datasets=names)
            flux_points_term(data.name, data, pred, stat=flux_points_stat)
    _METADATA[model] = {
        "model_yaml": _model_yaml(models),
        "datasets": {name: _dataset_source(ds) for name, ds in zip(names, datasets, strict=True)},
        "onoff": onoff,
    }
    return model


def _energy_ranges(responses: list, flux_points: list) -> dict[str, tuple[float, float]]:
    """Dataset name to the energies (TeV) it constrains: true-energy range, flux-point span."""
    ranges = {
        r.name: (float(r.energy_true_edges[0]), float(r.energy_true_edges[-1])) for r in responses
    }
    for data in flux_points:
        ranges[data.name] = (float(np.min(data.energy_ref)), float(np.max(data.energy_ref)))
    return ranges


def _refuse_removed(removed: dict) -> None:
    """Raise TypeError for keywords build_model does not take, naming renamed ones."""
    if not removed:
        return
    if "likelihood" in removed:
        raise TypeError(
            "build_model() got the keyword 'likelihood', which was renamed: use "
            f"onoff={removed['likelihood']!r} (one of 'marginal', 'latent', 'wstat'; "
            "default 'marginal')"
        )
    raise TypeError(f"build_model() got unexpected keyword argument(s) {sorted(removed)}")


def _model_yaml(models) -> str | None:
    """Return the models as YAML, or None when a parameter is a user tensor (not serialisable)."""
    if any(p.is_tensor for p in models.parameters.values()):
        return None
    return models.to_yaml()


def _check_free(models) -> None:
    params = models.parameters
    free = [name for name, p in params.items() if p.is_free or p.is_tensor]
    if not free:
        raise ValueError(
            "the models have no free parameter: give at least one parameter a prior "
            "(e.g. index=Normal(2.5, 1)) before building the model"
        )


def _check_temporal(datasets, models) -> None:
    """Refuse sources with a temporal component on map datasets (folded for spectra only)."""
    from ..datasets import MapDataset
    from ..forward._models import models_for, temporal_component

    for ds in datasets:
        if not isinstance(ds, MapDataset):
            continue
        timed = [
            m.name for m in models_for(models, ds.name, None) if temporal_component(m) is not None
        ]
        if timed:
            raise NotImplementedError(
                f"source(s) {timed} have a temporal component, which is folded for spectrum "
                f"datasets only; map dataset {ds.name!r} cannot take it (drop the temporal "
                "component or restrict the source with datasets_names)"
            )


def _dataset_source(ds) -> str | None:
    meta = getattr(ds, "meta", None) or {}
    path = meta.get("filename") or meta.get("path") if isinstance(meta, dict) else None
    if path is None:
        return None
    from .provenance import file_hash

    try:
        return f"{path} {file_hash(path)}"
    except OSError:
        return str(path)


def model_metadata(model) -> dict:
    """Provenance recorded by :func:`build_model` for ``model`` (empty for other models)."""
    return dict(_METADATA.get(model, {}))
