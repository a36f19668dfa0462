r"""Energy integration of spectral components over true-energy bins, inside the graph.

A component that integrates analytically (it has ``integrate(energy_min, energy_max, **params)``)
is used as is. Otherwise the flux is integrated with a fixed Gauss-Legendre rule in
``u = ln E`` on every bin:

.. math::
    \\int_{E_{lo}}^{E_{hi}} \\phi(E)\\,dE = \\int_{\\ln E_{lo}}^{\\ln E_{hi}} \\phi(e^u)\\,e^u\\,du
    \\approx \\sum_k w_k\\, \\phi(E_k).

The nodes ``E_k`` and weights ``w_k`` (which include the ``e^u`` Jacobian) are constants built
once, so the graph evaluates the component once on an ``(n_bins, n_nodes)`` array and reduces
with one weighted sum. With the default 6 nodes the rule is exact when ``phi(e^u) e^u`` is a
polynomial in ``u`` of degree 11 or less; for power laws, log-parabolas and exponential cut-offs on bins of
0.1 decade or less the relative error is below 1e-12 (see ``tests/forward/test_integration.py``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_NODES", "integrate_component", "quadrature_nodes"]

DEFAULT_NODES = 6


def quadrature_nodes(
    energy_min: np.ndarray, energy_max: np.ndarray, n_nodes: int = DEFAULT_NODES
) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights in log energy for each bin.

    Parameters
    ----------
    energy_min, energy_max : numpy.ndarray
        Bin edges in TeV, shape ``(n_bins,)``.
    n_nodes : int
        Nodes per bin.

    Returns
    -------
    nodes : numpy.ndarray
        Energies in TeV, shape ``(n_bins, n_nodes)``.
    weights : numpy.ndarray
        Weights in TeV, shape ``(n_bins, n_nodes)``; ``sum(weights * phi(nodes), axis=1)``
        approximates the bin integral of ``phi``.
    """
    if n_nodes < 1:
        raise ValueError(f"n_nodes must be >= 1, got {n_nodes}")
    lo = np.log(np.asarray(energy_min, dtype=np.float64))[:, None]
    hi = np.log(np.asarray(energy_max, dtype=np.float64))[:, None]
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    u = 0.5 * (hi + lo) + 0.5 * (hi - lo) * x[None, :]
    nodes = np.exp(u)
    weights = 0.5 * (hi - lo) * w[None, :] * nodes
    return nodes, weights


def _has_integral(component) -> bool:
    return callable(getattr(component, "integrate", None))


def integrate_component(
    component,
    energy_min: np.ndarray,
    energy_max: np.ndarray,
    params: dict,
    *,
    n_nodes: int = DEFAULT_NODES,
):
    """Flux of a spectral component integrated over energy bins (numpy or pytensor).

    Parameters
    ----------
    component
        Spectral component with a pure ``evaluate(energy, **params)`` in cm-2 s-1 TeV-1
        (energy in TeV) and, optionally, an analytic ``integrate(energy_min, energy_max,
        **params)`` in cm-2 s-1.
    energy_min, energy_max : numpy.ndarray
        Bin edges in TeV, shape ``(n_bins,)``.
    params : dict
        Parameter values (floats, arrays or pytensor tensors) by parameter name.
    n_nodes : int
        Gauss-Legendre nodes per bin when the component has no analytic integral.

    Returns
    -------
    numpy.ndarray or pytensor.tensor.TensorVariable
        Integrated flux per bin in cm-2 s-1, shape ``(n_bins,)``.
    """
    energy_min = np.asarray(energy_min, dtype=np.float64)
    energy_max = np.asarray(energy_max, dtype=np.float64)
    if _has_integral(component):
        return component.integrate(energy_min, energy_max, **params)
    nodes, weights = quadrature_nodes(energy_min, energy_max, n_nodes)
    values = component.evaluate(nodes, **params)
    return (values * weights).sum(axis=-1)
