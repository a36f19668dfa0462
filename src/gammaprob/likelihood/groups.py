"""Which reconstructed-energy bin each element of a map dataset's observed terms belongs to.

Map datasets hold 10^4 - 10^6 likelihood bins (cutout pixels x energies). The log-likelihood
that :func:`gammaprob.inference.sample` stores for LOO is by default summed over the pixels of
each energy bin; the labels recorded here at build time say which elements to sum. Spectrum
datasets need none (their bins are energy bins).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

__all__ = ["energy_groups", "register_energy_groups"]

# pm.Model -> {dataset name: energy-bin index of each element of its observed terms}
_GROUPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def register_energy_groups(dataset: str, energy_index: np.ndarray, model: Any = None) -> None:
    """Record the energy bin of every element of the observed terms of ``dataset``.

    Parameters
    ----------
    dataset : str
        Dataset name; applies to its observed terms ``"<dataset>::counts"`` and
        ``"<dataset>::counts_off"`` (same elements).
    energy_index : numpy.ndarray
        Integer reconstructed-energy bin per element, in the order of the observed values.
    model : pymc.Model, optional
        The model (default: the model of the current ``with`` context).
    """
    import pymc as pm

    model = pm.modelcontext(model)
    index = np.array(energy_index, dtype=np.int64).ravel()
    index.setflags(write=False)
    _GROUPS.setdefault(model, {})[str(dataset)] = index


def energy_groups(model: Any) -> dict[str, np.ndarray]:
    """Return ``{dataset name: energy-bin index per observed element}`` recorded for ``model``.

    Parameters
    ----------
    model : pymc.Model
        The model.

    Returns
    -------
    dict
        Empty for models without map datasets (or not built by gammaprob).
    """
    return dict(_GROUPS.get(model, {}))
