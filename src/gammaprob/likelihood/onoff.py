"""On/off likelihoods: latent background (``onoff="latent"``) or the profiled WStat (``"wstat"``).

Both describe ``n_on ~ Poisson(mu_sig + alpha mu_off)`` and ``n_off ~ Poisson(mu_off)``, with one
background expectation ``mu_off`` per bin. The generative form keeps ``mu_off`` as a latent
nuisance, so prior/posterior predictive checks and per-dataset log-likelihoods work. The WStat
form replaces ``mu_off`` by its profile-likelihood value (closed form) and adds ``-WStat/2`` as a
``pm.Potential``. Bins with ``n_on = 0`` or ``n_off = 0`` are exact in both (the split is done at
build time on the constant counts, so gradients stay finite).

The latent ``mu_off`` has by default a proper Gamma(1/4, rate 1e-4) prior per bin
(:func:`gamma_background`; why 1/4 and not Jeffreys' 1/2 or flat: ``validation/onoff_prior``).
:func:`gammaprob.likelihood.onoff_marginal.onoff_marginal_term` integrates ``mu_off`` out
analytically for any Gamma prior: one observed ON-counts variable with the same posterior and
no latent variable per bin (``onoff="marginal"``, the default of
:func:`gammaprob.inference.build_model`).
"""

from __future__ import annotations

import warnings

import numpy as np

from gammaprob.stats import get_wstat_gof_terms, get_wstat_mu_bkg

__all__ = [
    "BACKGROUND_RATE",
    "BACKGROUND_SHAPE",
    "flat_background",
    "gamma_background",
    "onoff_term",
    "wstat_graph",
    "wstat_term",
]


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
    mu_off = get_wstat_mu_bkg(counts, counts_off, alpha, mu_sig)
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
            "(use onoff='marginal', the default, or onoff='latent' for those)",
            UserWarning,
            stacklevel=2,
        )
    return pm.Potential(
        f"{name}::wstat", -0.5 * wstat_graph(mu_sig, counts, counts_off, alpha).sum()
    )


#: Shape of the default Gamma prior on each bin's OFF expectation (see :func:`gamma_background`)
BACKGROUND_SHAPE = 0.25
#: Rate (1/counts) of the default Gamma prior on each bin's OFF expectation
BACKGROUND_RATE = 1e-4


def _start(counts, counts_off, alpha) -> np.ndarray:
    """Return the initial OFF expectations: background-only estimate, at least 0.5 counts."""
    return np.maximum((counts + counts_off) / (1.0 + alpha), 0.5)


def check_gamma_prior(shape: float, rate: float, *, rate_zero: bool = False) -> None:
    """Raise ValueError unless ``shape > 0`` and ``rate > 0`` (``>= 0`` with ``rate_zero``)."""
    if not (np.isfinite(shape) and shape > 0):
        raise ValueError(f"shape must be a positive finite number, got {shape!r}")
    if not (np.isfinite(rate) and (rate >= 0 if rate_zero else rate > 0)):
        kind = "non-negative" if rate_zero else "positive"
        raise ValueError(f"rate must be a {kind} finite number (1/counts), got {rate!r}")


def _gamma(name: str, shape: float, rate: float, start: np.ndarray):
    """Gamma(shape, rate) variables; float64 constants (a Python 1e-4 would become float32)."""
    import pymc as pm

    return pm.Gamma(
        name,
        alpha=np.float64(shape),
        beta=np.float64(rate),
        shape=start.shape,
        initval=start,
    )


def gamma_background(
    name: str, counts_off, *, shape: float = BACKGROUND_SHAPE, rate: float = BACKGROUND_RATE
):
    """Proper Gamma(``shape``, ``rate``) prior on each bin's OFF expectation ``b``.

    The density is ``b^(shape - 1) exp(-rate b)``. The default (shape 1/4, rate 1e-4) is the
    default of :func:`onoff_term`: on sparse spectra each bin's posterior OFF rate is biased
    up by about ``shape`` counts, and over hundreds of bins that steepens the spectrum; shape
    1/4 keeps the credible intervals calibrated on joint-Crab-like MAGIC and VERITAS spectra
    (``validation/onoff_prior``; ``shape=0.5`` is Jeffreys' ``b^-1/2``, which cuts the bias
    of a flat prior by 40 % but leaves 68 % intervals covering 64-66 %). The cut-off ``rate``
    lies far above any measured OFF count (prior mean ``shape / rate`` = 2500 counts; its
    effect on a bin's OFF rate is a relative 1e-4). The posterior is proper in every bin,
    also with ``n_on = n_off = 0``. Other values through ``background_prior=``, e.g.
    ``functools.partial(gamma_background, shape=0.5)``.

    Parameters
    ----------
    name : str
        Name of the random variable (``"<dataset>::mu_off"``).
    counts_off : numpy.ndarray
        OFF counts per bin (sets the shape of the variable and its initial value).
    shape : float
        Gamma shape, > 0 (dimensionless).
    rate : float
        Gamma rate, > 0 (1 / counts).

    Returns
    -------
    pytensor.tensor.TensorVariable
        The latent OFF expectations (counts), sampled in log space.
    """
    check_gamma_prior(shape, rate)
    counts_off = np.asarray(counts_off, dtype=np.float64)
    return _gamma(name, shape, rate, np.maximum(counts_off, 0.5))


def flat_background(name: str, counts_off):
    """Improper flat prior (``pm.HalfFlat``) on each bin's OFF expectation (former default).

    The posterior is proper because ``n_off`` is observed, but on sparse spectra the flat
    prior acts like one extra OFF count per bin and steepens the fitted spectrum (see
    ``docs/inference.md``, "On/off background prior"); no prior predictive sampling.

    Parameters
    ----------
    name : str
        Name of the random variable (``"<dataset>::mu_off"``).
    counts_off : numpy.ndarray
        OFF counts per bin (sets the shape and the initial value).

    Returns
    -------
    pytensor.tensor.TensorVariable
        The latent OFF expectations (counts), sampled in log space.
    """
    import pymc as pm

    counts_off = np.asarray(counts_off, dtype=np.float64)
    start = np.maximum(counts_off, 0.5)
    return pm.HalfFlat(name, shape=counts_off.shape, initval=start)


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
        Default: the proper Gamma(1/4, rate 1e-4) on each OFF expectation
        (:func:`gamma_background`), which keeps the posterior proper in zero-count bins,
        allows prior predictive sampling and keeps credible intervals calibrated on sparse
        spectra, where a flat prior (:func:`flat_background`, the former default) steepens
        them; see ``docs/inference.md``, "On/off background prior".

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
        start = _start(counts, counts_off, alpha)
        mu_off = _gamma(rv_name, BACKGROUND_SHAPE, BACKGROUND_RATE, start)
    else:
        mu_off = background_prior(rv_name, counts_off)
    on = pm.Poisson(f"{name}::counts", mu=mu_sig + alpha * mu_off, observed=counts)
    off = pm.Poisson(f"{name}::counts_off", mu=mu_off, observed=counts_off)
    return mu_off, on, off
