"""Pure interpolation functions for tabulated IRFs.

Every table IRF is evaluated the same way: multilinear interpolation on a regular (but not
necessarily uniform) grid of nodes, with each axis mapped to a scale first (``"log"`` for
energies, ``"lin"`` for angles and migration) and the values optionally mapped to log space
(backgrounds). Points between the outermost node and the outer bin edge are extrapolated
linearly from the last cell; points outside the bin edges get a fill value.

These are the choices Gammapy makes (``ScaledRegularGridInterpolator`` with
``fill_value=None`` followed by masking outside the axis edges), so both libraries give the same
numbers inside the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "LOG_FLOOR",
    "cumulative_integral",
    "inside_edges",
    "interp_grid",
    "scale_forward",
]

# Values at or below this are treated as zero when interpolating in log space. The smallest
# normal float32 (1.18e-38): table IRFs are stored in float32, so no physical value is smaller.
LOG_FLOOR = float(np.finfo(np.float32).tiny)


def scale_forward(values: np.ndarray, scale: str) -> np.ndarray:
    """Map coordinates or values to the space in which interpolation is linear.

    Parameters
    ----------
    values : numpy.ndarray
        Coordinates or values (plain floats, canonical units).
    scale : {"lin", "log"}
        ``"log"`` takes the natural log (values below `LOG_FLOOR` are floored there).

    Returns
    -------
    numpy.ndarray
        Scaled values (float64).
    """
    values = np.asarray(values, dtype=float)
    if scale == "lin":
        return values
    if scale == "log":
        return np.log(np.clip(values, LOG_FLOOR, np.inf))
    raise ValueError(f"scale must be 'lin' or 'log', got {scale!r}")


def _scale_inverse(values: np.ndarray, scale: str) -> np.ndarray:
    if scale == "lin":
        return values
    out = np.exp(values)
    # Empty (floored) nodes give exactly zero rather than 1.2e-38.
    return np.where(out <= LOG_FLOOR * (1 + 1e-9), 0.0, out)


def _cell_and_weight(nodes: np.ndarray, x: np.ndarray, method: str):
    """Lower cell index and the fractional distance in it (unclipped, so it extrapolates)."""
    step = np.diff(nodes)
    last = nodes.size - 2
    if np.allclose(step, step[0], rtol=1e-4, atol=0):
        # (nearly) uniform grid in its scale: direct index, then one correction step for the
        # small non-uniformity (float32 edges); much faster than a binary search.
        guess = np.fmin(np.fmax(np.floor((x - nodes[0]) / step[0]), 0), last).astype(np.intp)
        idx = guess - (x < nodes[guess]) + (x >= nodes[guess + 1])
        idx = np.clip(idx, 0, last)
    else:
        idx = np.clip(np.searchsorted(nodes, x) - 1, 0, last)
    lo = nodes[idx]
    t = (x - lo) / (nodes[idx + 1] - lo)
    if method == "nearest":
        t = np.where(t <= 0.5, 0.0, 1.0)
    return idx, t


def interp_grid(
    nodes: Sequence[np.ndarray],
    values: np.ndarray,
    coords: Sequence[np.ndarray],
    scales: Sequence[str],
    values_scale: str = "lin",
    method: str = "linear",
) -> np.ndarray:
    """Interpolate a table on a rectilinear grid at arbitrary points.

    Parameters
    ----------
    nodes : sequence of numpy.ndarray
        Node positions of each axis, strictly increasing (canonical units, unscaled).
    values : numpy.ndarray
        Table with shape ``tuple(len(n) for n in nodes)``.
    coords : sequence of numpy.ndarray
        One coordinate array per axis (same units as ``nodes``); they are broadcast together.
    scales : sequence of {"lin", "log"}
        Scale of each axis.
    values_scale : {"lin", "log"}
        Scale in which the values are interpolated.
    method : {"linear", "nearest"}
        Multilinear interpolation or nearest node.

    Returns
    -------
    numpy.ndarray
        Interpolated values with the broadcast shape of ``coords``, clipped at zero. Axes with a
        single node are constant along that axis. Points beyond the outer nodes are extrapolated
        linearly from the outermost cell (use `inside_edges` to mask them).
    """
    if method not in ("linear", "nearest"):
        raise ValueError(f"method must be 'linear' or 'nearest', got {method!r}")
    if len(nodes) != values.ndim or len(coords) != values.ndim or len(scales) != values.ndim:
        raise ValueError(
            f"need one node array, coordinate and scale per table axis ({values.ndim}), got "
            f"{len(nodes)}, {len(coords)}, {len(scales)}"
        )
    coords = [np.asarray(c, dtype=float) for c in coords]
    shape = np.broadcast_shapes(*(c.shape for c in coords))
    table = np.ascontiguousarray(scale_forward(values, values_scale)).ravel()
    strides = np.cumprod((*values.shape[1:], 1)[::-1])[::-1]

    flat = np.zeros(shape, dtype=np.intp)
    weights, offsets = [], [0]
    for axis_nodes, coord, scale, stride in zip(nodes, coords, scales, strides, strict=True):
        axis_nodes = np.asarray(axis_nodes, dtype=float)
        if axis_nodes.size == 1:  # constant along this axis
            continue
        idx, t = _cell_and_weight(
            scale_forward(axis_nodes, scale), scale_forward(coord, scale), method
        )
        flat = flat + idx * stride
        weights.append(np.broadcast_to(t, shape))
        offsets = [o + step for o in offsets for step in (0, stride)]

    corners = [table[flat + o] for o in offsets]
    # reduce pairs along the last active axis first (offsets are ordered axis by axis)
    for t in reversed(weights):
        corners = [v0 + t * (v1 - v0) for v0, v1 in zip(corners[::2], corners[1::2], strict=True)]
    result = corners[0] if weights else np.broadcast_to(table[0], shape).astype(float)
    return np.clip(_scale_inverse(result, values_scale), 0.0, np.inf)


def inside_edges(edges: np.ndarray, coord: np.ndarray) -> np.ndarray:
    """Return True where ``coord`` lies within ``[edges[0], edges[-1]]``.

    Parameters
    ----------
    edges : numpy.ndarray
        Bin edges of one axis, increasing.
    coord : numpy.ndarray
        Coordinates in the same unit.

    Returns
    -------
    numpy.ndarray of bool
        Mask with the shape of ``coord``.
    """
    coord = np.asarray(coord, dtype=float)
    return (coord >= edges[0]) & (coord <= edges[-1])


def cumulative_integral(pdf: np.ndarray, edges: np.ndarray, axis: int, radial: bool) -> np.ndarray:
    """Cumulative integral of a binned density, evaluated at every bin edge.

    Parameters
    ----------
    pdf : numpy.ndarray
        Density per unit of the axis (or per unit solid angle when ``radial``), one value per bin.
    edges : numpy.ndarray
        Bin edges of the integration axis (length ``pdf.shape[axis] + 1``).
    axis : int
        Integration axis of ``pdf``.
    radial : bool
        Include the polar Jacobian ``2 pi r`` (r at the bin centre), for radial densities.

    Returns
    -------
    numpy.ndarray
        Same shape as ``pdf`` but one longer along ``axis``; starts with 0.
    """
    width = np.diff(edges)
    shape = [1] * pdf.ndim
    shape[axis] = -1
    weights = width
    if radial:
        weights = 2 * np.pi * 0.5 * (edges[1:] + edges[:-1]) * width
    cum = np.cumsum(pdf * weights.reshape(shape), axis=axis)
    zero_shape = list(pdf.shape)
    zero_shape[axis] = 1
    return np.concatenate([np.zeros(zero_shape), cum], axis=axis)
