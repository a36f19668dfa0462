"""On/off likelihoods: latent background (generative) or the profiled WStat.

Both describe ``n_on ~ Poisson(mu_sig + alpha mu_off)`` and ``n_off ~ Poisson(mu_off)``, with one
background expectation ``mu_off`` per bin. The generative form keeps ``mu_off`` as a latent
nuisance, so prior/posterior predictive checks and per-dataset log-likelihoods work. The WStat
form replaces ``mu_off`` by its profile-likelihood value (closed form) and adds ``-WStat/2`` as a
``pm.Potential``. Bins with ``n_on = 0`` or ``n_off = 0`` are exact in both (the split is done at
build time on the constant counts, so gradients stay finite).
"""

from __future__ import annotations

import warnings

import numpy as np

from gammaprob.stats import get_wstat_gof_terms

__all__ = ["onoff_term", "wstat_graph", "wstat_term"]


def _profile_mu_off(mu_sig, counts, counts_off, alpha):
    """Profile-likelihood OFF expectation (tensor), stable for C < 0 and n_off = 0."""
    import pytensor.tensor as pt

    a = alpha * (alpha + 1.0)
    c = alpha * (counts + counts_off) - (1.0 + alpha) * mu_sig
    off_pos = counts_off > 0
    # where n_off == 0 the discriminant is exactly C^2; +1 keeps the unused sqrt branch smooth
    d = pt.sqrt(c**2 + 4.0 * a * counts_off * mu_sig + np.where(off_pos, 0.0, 1.0))
    root_pos = (c + d) / (2.0 * a)
    root_neg = 2.0 * counts_off * mu_sig / pt.maximum(d - c, 1e-300)
    with_off = pt.where(c >= 0, root_pos, root_neg)
    without_off = pt.maximum(c, 0.0) / a
    return pt.where(off_pos, with_off, without_off) if not off_pos.all() else with_off


def wstat_graph(mu_sig, counts, counts_off, alpha):
    """WStat per bin as a pytensor graph, in gammapy's convention (with goodness-of-fit terms).

    Parameters
    ----------
    mu_sig : pytensor.tensor.TensorVariable
        Predicted signal counts per bin.
    counts, counts_off : numpy.ndarray
        ON and OFF counts (constant data).
    alpha : numpy.ndarray
        ON/OFF exposure ratio per bin (> 0).

    Returns
    -------
    pytensor.tensor.TensorVariable
        ``-2 log L`` per bin plus the model-independent terms that make it a goodness of fit.
    """
    import pytensor.tensor as pt

    counts = np.asarray(counts, dtype=np.float64)
    counts_off = np.asarray(counts_off, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)
    mu_off = _profile_mu_off(mu_sig, counts, counts_off, alpha)
    on_pos = counts > 0
    off_pos = counts_off > 0
    mu_on = mu_sig + alpha * mu_off
    term_on = counts * pt.log(pt.where(on_pos, mu_on, 1.0) if not on_pos.all() else mu_on)
    term_off = counts_off * pt.log(pt.where(off_pos, mu_off, 1.0) if not off_pos.all() else mu_off)
    gof = get_wstat_gof_terms(counts, counts_off)
    return 2.0 * (mu_sig + (1.0 + alpha) * mu_off - term_on - term_off) + gof


def wstat_term(name: str, mu_sig, counts, counts_off, alpha, *, warn: bool = True):
    """Add the profiled WStat of one dataset as ``pm.Potential("<name>::wstat")``.

    Parameters
    ----------
    name : str
        Dataset name.
    mu_sig : pytensor.tensor.TensorVariable
        Predicted signal counts per bin.
    counts, counts_off, alpha : numpy.ndarray
        ON counts, OFF counts and ON/OFF exposure ratio per bin.
    warn : bool
        Warn that predictive checks are unavailable with a potential.

    Returns
    -------
    pytensor.tensor.TensorVariable
        The potential, ``-WStat / 2`` summed over bins.
    """
    import pymc as pm

    if warn:
        warnings.warn(
            f"dataset {name!r}: the profiled WStat enters as a pm.Potential; prior and posterior "
            "predictive checks and per-dataset log-likelihoods are unavailable for it "
            "(use the default on/off likelihood with a latent background for those)",
            UserWarning,
            stacklevel=2,
        )
    return pm.Potential(
        f"{name}::wstat", -0.5 * wstat_graph(mu_sig, counts, counts_off, alpha).sum()
    )


def onoff_term(name: str, mu_sig, counts, counts_off, alpha, *, background_prior=None):
    """Add the generative on/off likelihood of one dataset to the current PyMC model.

    Creates the latent ``"<name>::mu_off"`` (expected OFF counts per bin) and the observed
    ``"<name>::counts"`` ~ Poisson(mu_sig + alpha mu_off) and ``"<name>::counts_off"`` ~
    Poisson(mu_off). At the profile value of ``mu_off`` the two terms equal ``-WStat / 2`` up to
    the constant ``sum(log n_on! + log n_off!)`` plus half the goodness-of-fit terms.

    Parameters
    ----------
    name : str
        Dataset name.
    mu_sig : pytensor.tensor.TensorVariable
        Predicted signal counts per bin.
    counts, counts_off, alpha : numpy.ndarray
        ON counts, OFF counts and ON/OFF exposure ratio per bin.
    background_prior : callable, optional
        ``background_prior(name, counts_off) -> random variable`` with the shape of the bins.
        Default: ``pm.HalfFlat`` (improper, flat in ``mu_off``, sampled in log space), which
        gives a proper posterior because ``n_off`` is observed; use a proper prior when prior
        predictive samples are needed.

    Returns
    -------
    tuple
        ``(mu_off, counts_rv, counts_off_rv)``.
    """
    import pymc as pm

    counts = np.asarray(counts, dtype=np.int64)
    counts_off = np.asarray(counts_off, dtype=np.int64)
    alpha = np.asarray(alpha, dtype=np.float64)
    rv_name = f"{name}::mu_off"
    if background_prior is None:
        start = np.maximum((counts + counts_off) / (1.0 + alpha), 0.5)
        mu_off = pm.HalfFlat(rv_name, shape=counts.shape, initval=start)
    else:
        mu_off = background_prior(rv_name, counts_off)
    on = pm.Poisson(f"{name}::counts", mu=mu_sig + alpha * mu_off, observed=counts)
    off = pm.Poisson(f"{name}::counts_off", mu=mu_off, observed=counts_off)
    return mu_off, on, off
