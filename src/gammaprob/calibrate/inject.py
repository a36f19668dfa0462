"""Put simulated observations (prior-predictive draws) back into copies of the datasets.

The prior predictive of the model :func:`gammaprob.inference.build_model` makes from the user's
datasets draws every observed term (``"<dataset>::counts"``, and ``"<dataset>::counts_off"``
for ``onoff="latent"``) in the layout of the likelihood: the reconstructed-energy bins inside
the safe mask of a spectrum dataset. Each replication rebuilds the model from datasets holding
the drawn counts, so every constant the likelihood derives from the data (the marginal on/off
tables, for example) is derived from the simulated data, never the template's.
"""

from __future__ import annotations

import numpy as np

from ..utils.errors import GammaprobError

__all__ = ["SBCError", "observed_names", "with_simulated_data"]


class SBCError(GammaprobError, ValueError):
    """A model or dataset that simulation-based calibration cannot use as it is."""


def _spectrum_mask(dataset) -> np.ndarray:
    from ..forward import SpectrumResponse

    return np.asarray(SpectrumResponse.from_dataset(dataset).mask, bool)


def observed_names(dataset) -> tuple[str, ...]:
    """Observed terms a dataset adds to the model that SBC can replace, by dataset type.

    Raises
    ------
    SBCError
        For map and flux-point datasets (not supported yet).
    """
    from ..datasets import SpectrumDataset, SpectrumDatasetOnOff

    if isinstance(dataset, SpectrumDatasetOnOff):
        return (f"{dataset.name}::counts", f"{dataset.name}::counts_off")
    if isinstance(dataset, SpectrumDataset):
        return (f"{dataset.name}::counts",)
    raise SBCError(
        f"dataset {getattr(dataset, 'name', dataset)!r} of type {type(dataset).__name__}: "
        "simulation-based calibration supports spectrum datasets (SpectrumDataset, "
        "SpectrumDatasetOnOff); map and flux-point datasets are not supported yet"
    )


def with_simulated_data(datasets: list, draws: dict) -> list:
    """Return copies of ``datasets`` whose observed counts are the drawn ones.

    Parameters
    ----------
    datasets : list
        Spectrum datasets (the templates).
    draws : dict
        Prior-predictive draw of each observed term by name (values in the safe-mask bins).

    Returns
    -------
    list
        New datasets; bins outside the safe mask keep the template's counts (no likelihood
        term uses them).

    Raises
    ------
    SBCError
        When a dataset's ON counts are missing from ``draws`` or a draw has the wrong size.
    """
    out = []
    for ds in datasets:
        names = observed_names(ds)
        mask = _spectrum_mask(ds)
        changes = {}
        for name, field in zip(names, ("counts", "counts_off"), strict=False):
            if name not in draws:
                if field == "counts":
                    raise SBCError(f"no simulated values of the observed term {name!r}")
                continue  # marginal on/off: OFF counts are data the ON draw is conditioned on
            value = np.asarray(draws[name])
            if value.shape != (int(mask.sum()),):
                raise SBCError(
                    f"simulated {name!r} has shape {value.shape}, expected ({int(mask.sum())},) "
                    "(the bins inside the safe mask)"
                )
            full = np.array(getattr(ds, field), dtype=np.int64).reshape(-1)
            full[mask] = np.round(value).astype(np.int64)
            changes[field] = full
        out.append(ds.replace(**changes))
    return out
