"""Quick looks: the maximum a posteriori point and a Laplace approximation around it."""

from __future__ import annotations

import warnings

import numpy as np

from .unconstrained import draws_to_posterior, flatten_model

__all__ = ["find_map", "fit_laplace"]


def _optimise(flat):
    from scipy.optimize import minimize

    def negative(x):
        value, grad = flat.logp_dlogp(x)
        return -float(value), -np.asarray(grad, dtype=float)

    result = minimize(negative, flat.x0, jac=True, method="L-BFGS-B")
    if not result.success:
        warnings.warn(
            f"MAP optimisation did not converge ({result.message}); check priors and the "
            "starting point.",
            UserWarning,
            stacklevel=3,
        )
    return result


def find_map(model, random_seed: int | None = None) -> dict[str, np.ndarray]:
    """Return the maximum a posteriori point of ``model`` in physical parameters.

    The optimisation runs in the unconstrained space (L-BFGS-B with exact gradients), so the
    result is the mode of the posterior density of the transformed variables, which is what
    PyMC's ``find_MAP`` returns as well.

    Parameters
    ----------
    model : pymc.Model
        The model.
    random_seed : int, optional
        Seed for a random initial point.

    Returns
    -------
    dict
        Free variables and deterministics at the mode.
    """
    flat = flatten_model(model, random_seed=random_seed)
    result = _optimise(flat)
    return {name: np.asarray(value) for name, value in flat.constrained(result.x).items()}


def fit_laplace(model, draws: int = 1000, chains: int = 2, random_seed: int | None = None):
    """Approximate the posterior by a Gaussian at the mode in unconstrained space.

    Parameters
    ----------
    model : pymc.Model
        The model.
    draws : int
        Draws per chain from the approximation.
    chains : int
        Number of independent sets of draws (for a familiar layout).
    random_seed : int, optional
        Seed.

    Returns
    -------
    xarray.DataTree
        ``posterior`` drawn from the approximation (transformed back to physical
        parameters) with the mode and covariance in the root attributes.
    """
    import arviz as az

    flat = flatten_model(model, random_seed=random_seed)
    result = _optimise(flat)
    hessian = _hessian(flat, result.x)
    try:
        covariance = np.linalg.inv(-hessian)
        np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "the posterior is not locally Gaussian at the mode (Hessian not negative "
            "definite); a parameter is probably unconstrained — give it a proper prior or "
            "fix it, or use sample()."
        ) from exc
    rng = np.random.default_rng(random_seed)
    samples = rng.multivariate_normal(result.x, covariance, size=(chains, draws))
    tree = az.from_dict({"posterior": draws_to_posterior(flat, samples)})
    tree.attrs["laplace_mode_unconstrained"] = result.x.tolist()
    tree.attrs["laplace_covariance_unconstrained"] = covariance.ravel().tolist()
    return tree


def _hessian(flat, x: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Hessian of log p by central differences of the exact gradient (symmetrised)."""
    n = x.size
    hess = np.empty((n, n))
    for i in range(n):
        dx = np.zeros(n)
        dx[i] = step * max(1.0, abs(x[i]))
        g_plus = np.asarray(flat.logp_dlogp(x + dx)[1])
        g_minus = np.asarray(flat.logp_dlogp(x - dx)[1])
        hess[i] = (g_plus - g_minus) / (2 * dx[i])
    return 0.5 * (hess + hess.T)
