"""Saving and loading inference results (netCDF), atomically and without overwriting."""

from __future__ import annotations

import os

import numpy as np

from ..utils.io import atomic_path

__all__ = ["load_result", "models_from_result", "save_result"]


def save_result(tree, path: str | os.PathLike, overwrite: bool = False) -> None:
    """Write an inference result to a netCDF file.

    Parameters
    ----------
    tree : xarray.DataTree
        Result of :func:`gammaprob.inference.sample` (or any DataTree).
    path : str or path-like
        Output file (``.nc``).
    overwrite : bool
        Replace an existing file.
    """
    with atomic_path(path, overwrite=overwrite) as tmp:
        tree.to_netcdf(tmp)


def load_result(path: str | os.PathLike):
    """Read a result written by :func:`save_result`.

    Parameters
    ----------
    path : str or path-like
        netCDF file.

    Returns
    -------
    xarray.DataTree
        The result, fully loaded into memory (the file is closed). Attributes are Python
        values (numbers, strings, lists), as they were saved, not numpy scalars or arrays.
    """
    import xarray as xr

    with xr.open_datatree(path) as tree:
        tree = tree.load()
    for node in tree.subtree:
        node.attrs = {key: _python_value(value) for key, value in node.attrs.items()}
    return tree


def _python_value(value):
    """Return a netCDF attribute as the Python type it was saved from.

    netCDF hands attributes back as numpy scalars (an integer seed becomes ``numpy.int64``)
    and lists as arrays, which JSON encoders and ``==`` comparisons do not treat as the
    originals; scalars become Python numbers and arrays lists.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def models_from_result(tree):
    """Rebuild the sky models (with their priors) that produced a result.

    Parameters
    ----------
    tree : xarray.DataTree
        Result of :func:`gammaprob.inference.sample` on a model made by
        :func:`gammaprob.inference.build_model`.

    Returns
    -------
    gammaprob.modeling.Models
        The models, as they were when the model was built.
    """
    from ..modeling import Models

    text = tree.attrs.get("model_yaml")
    if not text:
        raise ValueError(
            "this result records no model YAML: it was not sampled from a model made by "
            "gammaprob.inference.build_model"
        )
    return Models.from_yaml(text)
