"""Which posterior variables are the models' parameters (and which are nuisances or latents)."""

from __future__ import annotations

import json

__all__ = ["physical_parameters"]

_LATENT_SUFFIXES = ("_scaled", "_ln")


def _from_model_yaml(result, names: list[str]) -> list[str] | None:
    """Variable names of the free model parameters, by rebuilding the recorded models."""
    text = result.attrs.get("model_yaml")
    if not text:
        return None
    import pymc as pm

    from ..inference import models_from_result
    from ..modeling import built_parameters

    models = models_from_result(result)
    with pm.Model() as model:
        models.build()
    free = [name for name, param in built_parameters(model).items() if param.is_free]
    return [name for name in names if name in free]


def _dataset_names(result) -> set[str]:
    text = result.attrs.get("datasets")
    if not text:
        return set()
    try:
        datasets = json.loads(str(text))
    except ValueError:
        return set()
    return set(datasets) if isinstance(datasets, dict) else set()


def _by_name(result, names: list[str]) -> list[str]:
    """Fallback without a model record: drop dataset nuisances and sampler latents."""
    datasets = _dataset_names(result)
    present = set(names)
    out = []
    for name in names:
        if "::" in name and name.split("::", 1)[0] in datasets:
            continue  # e.g. "<dataset>::mu_off"
        if any(name.endswith(s) and name[: -len(s)] in present for s in _LATENT_SUFFIXES):
            continue  # "<param>_scaled" / "<param>_ln" next to the physical "<param>"
        out.append(name)
    return out


def physical_parameters(result) -> list[str]:
    """Return the posterior variables that hold the models' free parameters in physical units.

    For a result of :func:`gammaprob.inference.sample` on a model made by
    :func:`gammaprob.inference.build_model`, these are the variables
    ``"<source>::<param>"`` of the free parameters of the sky models recorded in the result's
    ``model_yaml`` attribute (the models are rebuilt to find their exact variable names).
    Excluded are the per-bin nuisances of the datasets (``"<dataset>::mu_off"``) and the
    latent variables the sampler moves (``"<param>_scaled"``, ``"<param>_ln"``). A result
    without a model record (e.g. a model with user tensors, or a tree made by hand) keeps
    every posterior variable except those of the datasets named in its ``datasets`` attribute
    and latents whose physical variable is also present.

    Parameters
    ----------
    result : xarray.DataTree
        Inference result with a ``posterior`` group.

    Returns
    -------
    list of str
        The variable names, in the order of the posterior group.
    """
    if "posterior" not in result.children:
        raise ValueError("the result has no 'posterior' group")
    names = [str(name) for name in result["posterior"].data_vars]
    found = _from_model_yaml(result, names)
    return _by_name(result, names) if found is None else found
