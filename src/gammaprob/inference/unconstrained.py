"""The model's log-posterior as a function of one flat vector in unconstrained space.

Shared by the samplers and optimisers that do not go through ``pm.sample`` (emcee,
MAP, Laplace): one compiled function for log p (and its gradient), and one that maps flat
vectors back to the model's constrained variables and deterministics.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["FlatModel", "draws_to_posterior", "flatten_model"]


@dataclasses.dataclass(frozen=True)
class FlatModel:
    """Compiled functions of the flat unconstrained vector of a PyMC model.

    Attributes
    ----------
    x0 : numpy.ndarray
        The model's initial point, flattened.
    logp : callable
        ``logp(x) -> float``: log-posterior including the Jacobians of the transforms.
    logp_dlogp : callable
        ``logp_dlogp(x) -> (float, ndarray)``: value and gradient.
    constrained : callable
        ``constrained(x) -> dict``: values of every free variable and deterministic.
    names : tuple of str
        Names of the outputs of ``constrained``.
    """

    x0: np.ndarray
    logp: object
    logp_dlogp: object
    constrained: object
    names: tuple[str, ...]


def flatten_model(model, random_seed: int | None = None) -> FlatModel:
    """Compile the log-posterior of ``model`` as a function of one flat vector.

    Parameters
    ----------
    model : pymc.Model
        The model.
    random_seed : int, optional
        Seed for the initial point (used only where it is random).

    Returns
    -------
    FlatModel
        Compiled functions.
    """
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import join_nonshared_inputs

    point = model.initial_point(random_seed=random_seed)
    value_vars = model.value_vars
    logp = model.logp(jacobian=True)
    grad = pt.grad(logp, value_vars)
    outputs = [logp, *grad]
    (logp_flat, *grad_flat), flat = join_nonshared_inputs(point, outputs, value_vars)
    dlogp_flat = pt.concatenate([g.ravel() for g in grad_flat])
    logp_fn = pytensor.function([flat], logp_flat)
    logp_dlogp_fn = pytensor.function([flat], [logp_flat, dlogp_flat])

    targets = [*model.free_RVs, *model.deterministics]
    names = tuple(v.name for v in targets)
    unobserved = model.replace_rvs_by_values(targets)
    joined, flat2 = join_nonshared_inputs(point, unobserved, value_vars)
    constrained_fn = pytensor.function([flat2], joined)
    x0 = np.concatenate([np.ravel(point[v.name]) for v in value_vars]).astype(float)

    def constrained(x):
        return dict(zip(names, constrained_fn(x), strict=True))

    return FlatModel(
        x0=x0,
        logp=lambda x: float(logp_fn(x)),
        logp_dlogp=lambda x: tuple(logp_dlogp_fn(x)),
        constrained=constrained,
        names=names,
    )


def draws_to_posterior(flat: FlatModel, samples: np.ndarray) -> dict[str, np.ndarray]:
    """Map flat samples of shape (chain, draw, n) to constrained arrays (chain, draw, ...).

    Parameters
    ----------
    flat : FlatModel
        Compiled model.
    samples : numpy.ndarray
        Unconstrained samples.

    Returns
    -------
    dict
        Variable name to array with leading (chain, draw) dimensions.
    """
    n_chain, n_draw, _ = samples.shape
    first = flat.constrained(samples[0, 0])
    out = {name: np.empty((n_chain, n_draw, *np.shape(value))) for name, value in first.items()}
    for c in range(n_chain):
        for d in range(n_draw):
            for name, value in flat.constrained(samples[c, d]).items():
                out[name][c, d] = value
    return out
