"""The emcee affine-invariant ensemble sampler, driven by the compiled log-posterior.

The walkers of an ensemble are not independent chains (every move uses the other walkers),
so R-hat and per-chain ESS do not apply: :func:`gammaprob.inference.check_convergence` checks
an emcee result with the integrated autocorrelation time instead (the result's ``ensemble``
attribute says so).
"""

from __future__ import annotations

import numpy as np

from .unconstrained import draws_to_posterior, flatten_model

__all__ = ["sample_emcee"]


def sample_emcee(
    model,
    *,
    draws: int = 1000,
    tune: int = 1000,
    walkers: int | None = None,
    thin: int = 1,
    random_seed: int | None = None,
    progressbar: bool = True,
    init_scale: float = 1e-2,
):
    """Sample ``model`` with emcee in its unconstrained space.

    Parameters
    ----------
    model : pymc.Model
        The model.
    draws : int
        Steps kept per walker (after burn-in, before thinning).
    tune : int
        Burn-in steps per walker, discarded.
    walkers : int, optional
        Number of walkers; at least twice the number of free dimensions (default: that,
        rounded up to an even number, and at least 16).
    thin : int
        Keep every ``thin``-th step.
    random_seed : int, optional
        Seed for the initial ball and the sampler.
    progressbar : bool
        Show emcee's progress bar.
    init_scale : float
        Standard deviation of the Gaussian ball around the initial point.

    Returns
    -------
    xarray.DataTree
        Posterior with walkers as chains, ``sample_stats`` with ``lp`` and the acceptance
        fraction, and the observed data; root attribute ``ensemble = "emcee"`` (the chains
        are walkers of one ensemble, checked with the autocorrelation time).
    """
    import arviz as az
    import emcee

    flat = flatten_model(model, random_seed=random_seed)
    ndim = flat.x0.size
    minimum = max(16, 2 * ndim + (2 * ndim) % 2)
    walkers = max(walkers or 0, minimum)
    rng = np.random.default_rng(random_seed)
    start = flat.x0 + init_scale * rng.standard_normal((walkers, ndim))
    ensemble = emcee.EnsembleSampler(walkers, ndim, flat.logp)
    ensemble.random_state = np.random.RandomState(rng.integers(2**31)).get_state()
    ensemble.run_mcmc(start, tune + draws, progress=progressbar)
    chain = ensemble.get_chain(discard=tune, thin=thin)  # (draw, walker, ndim)
    log_prob = ensemble.get_log_prob(discard=tune, thin=thin)
    samples = np.swapaxes(chain, 0, 1)
    posterior = draws_to_posterior(flat, samples)
    tree = az.from_dict(
        {
            "posterior": posterior,
            "sample_stats": {"lp": np.swapaxes(log_prob, 0, 1)},
            "observed_data": _observed(model),
        }
    )
    tree.attrs["acceptance_fraction_mean"] = float(np.mean(ensemble.acceptance_fraction))
    tree.attrs["ensemble"] = "emcee"
    return tree


def _observed(model) -> dict[str, np.ndarray]:
    out = {}
    for rv in model.observed_RVs:
        data = model.rvs_to_values[rv]
        out[rv.name] = np.asarray(data.data if hasattr(data, "data") else data.eval())
    return out
