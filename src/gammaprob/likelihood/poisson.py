"""Poisson (Cash) likelihood: one observed ``pm.Poisson`` per dataset."""

from __future__ import annotations

import numpy as np

__all__ = ["poisson_term"]


def poisson_term(name: str, npred, counts: np.ndarray):
    """Add the observed Poisson term ``"<name>::counts"`` to the current PyMC model.

    Its log-probability is ``sum(n log mu - mu - log n!)``; the Cash statistic of gammapy is
    ``-2`` times that plus ``2 sum log n!``, so both have the same minimum and differences.

    Parameters
    ----------
    name : str
        Dataset name.
    npred : pytensor.tensor.TensorVariable
        Predicted counts (signal + background) per bin.
    counts : numpy.ndarray
        Observed counts per bin (non-negative integers).

    Returns
    -------
    pytensor.tensor.TensorVariable
        The observed random variable (usable for prior/posterior predictive sampling).
    """
    import pymc as pm

    return pm.Poisson(f"{name}::counts", mu=npred, observed=np.asarray(counts, dtype=np.int64))
