"""Piecewise-linear interpolation on a fixed grid, for numpy arrays and pytensor tensors.

The grid (nodes) is a constant numpy array; the query points and the node values may be
tensors. The result is differentiable in both (the bin index itself is piecewise constant).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gammaprob.utils.xp import is_tensor, namespace

__all__ = ["bin_index", "interp1d", "interp2d_grid"]


def bin_index(nodes: np.ndarray, x: Any) -> Any:
    """Index ``i`` of the grid cell ``[nodes[i], nodes[i+1]]`` holding ``x`` (clipped).

    Points outside the grid get the first or last cell, so the interpolation formula
    extrapolates linearly.

    Parameters
    ----------
    nodes : numpy.ndarray
        Increasing grid, at least two nodes.
    x : array or tensor
        Query points.
    """
    nodes = np.asarray(nodes, dtype=float)
    if is_tensor(x):
        import pytensor.tensor as pt

        idx = pt.extra_ops.searchsorted(pt.as_tensor_variable(nodes), x, side="right") - 1
        return pt.clip(idx, 0, nodes.size - 2)
    return np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, nodes.size - 2)


def _take(values: Any, idx: Any, axis: int = 0) -> Any:
    if is_tensor(values) or is_tensor(idx):
        import pytensor.tensor as pt

        return pt.take(pt.as_tensor_variable(values), idx, axis=axis)
    return np.take(values, idx, axis=axis)


def interp1d(x: Any, nodes: np.ndarray, values: Any, extrapolate: str = "linear") -> Any:
    """Linear interpolation of ``values`` given at ``nodes``.

    Parameters
    ----------
    x : array or tensor
        Query points (any shape).
    nodes : numpy.ndarray
        Increasing grid of shape ``(n,)``, ``n >= 2``.
    values : array or tensor
        Values at the nodes, shape ``(n,)``.
    extrapolate : {"linear", "constant"}
        Beyond the grid: continue the end segments, or hold the end values (``np.interp``).
    """
    nodes = np.asarray(nodes, dtype=float)
    xp = namespace(x, values)
    if extrapolate == "constant" and xp.name == "numpy":
        return np.interp(x, nodes, values)
    if extrapolate == "constant":
        x = xp.clip(x, nodes[0], nodes[-1])
    elif extrapolate != "linear":
        raise ValueError(f"extrapolate must be 'linear' or 'constant', got {extrapolate!r}")
    idx = bin_index(nodes, x)
    x0 = _take(nodes, idx)
    x1 = _take(nodes, idx + 1)
    w = (x - x0) / (x1 - x0)
    return _take(values, idx) * (1.0 - w) + _take(values, idx + 1) * w


def interp2d_grid(
    x: Any, y: Any, x_nodes: np.ndarray, y_nodes: np.ndarray, values: np.ndarray
) -> Any:
    """Bilinear interpolation on a rectilinear grid, linear extrapolation beyond it.

    Parameters
    ----------
    x, y : array or tensor
        Query coordinates (broadcast together).
    x_nodes, y_nodes : numpy.ndarray
        Increasing grids of shapes ``(nx,)`` and ``(ny,)``.
    values : numpy.ndarray
        Table of shape ``(nx, ny)``.
    """
    values = np.asarray(values, dtype=float)
    ix = bin_index(x_nodes, x)
    iy = bin_index(y_nodes, y)
    x0, x1 = _take(x_nodes, ix), _take(x_nodes, ix + 1)
    y0, y1 = _take(y_nodes, iy), _take(y_nodes, iy + 1)
    wx = (x - x0) / (x1 - x0)
    wy = (y - y0) / (y1 - y0)
    flat = values.ravel()
    ny = values.shape[1]
    if is_tensor(ix) or is_tensor(iy):
        import pytensor.tensor as pt

        flat = pt.as_tensor_variable(flat)

    def corner(i: Any, j: Any) -> Any:
        return _take(flat, i * ny + j)

    return (
        corner(ix, iy) * (1 - wx) * (1 - wy)
        + corner(ix + 1, iy) * wx * (1 - wy)
        + corner(ix, iy + 1) * (1 - wx) * wy
        + corner(ix + 1, iy + 1) * wx * wy
    )
