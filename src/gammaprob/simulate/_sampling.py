"""Numerical building blocks of the event sampler: draws inside bins and cells, frames.

Everything here is numpy and works on whole arrays of events at once.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord, SkyOffsetFrame

__all__ = [
    "as_rng",
    "bin_integral_loglog",
    "draw_cells",
    "inverse_cdf",
    "log_grid",
    "offset_frame_cells",
    "sample_in_bins",
    "sample_in_cells",
]


def as_rng(random_state) -> np.random.Generator:
    """Return a numpy Generator from a Generator, an int seed or None."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, int | np.integer):
        return np.random.default_rng(random_state)
    raise TypeError(
        f"random_state must be a numpy Generator, an int seed or None, got "
        f"{type(random_state).__name__}"
    )


def log_grid(lo: float, hi: float, per_decade: int) -> np.ndarray:
    """Log-spaced edges from ``lo`` to ``hi`` with at least ``per_decade`` bins per decade."""
    if not (0 < lo < hi):
        raise ValueError(f"energy range must satisfy 0 < lo < hi, got {lo}, {hi}")
    if per_decade < 1:
        raise ValueError(f"bins per decade must be >= 1, got {per_decade}")
    n = max(1, int(np.ceil(np.log10(hi / lo) * per_decade)))
    return np.geomspace(lo, hi, n + 1)


def _slopes(y_lo, y_hi, x_lo, x_hi):
    """Local power-law index ``g`` (``y ∝ x^-g``) where both node values are > 0."""
    positive = (y_lo > 0) & (y_hi > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = -np.log(np.where(positive, y_hi / np.where(positive, y_lo, 1.0), 1.0)) / np.log(
            x_hi / x_lo
        )
    return positive, g


def bin_integral_loglog(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Integral over each bin of a density given at the edges, power law between them.

    Between two positive node values the density is the power law through them (exact for
    a power-law spectrum times a power-law area); where a node value is zero it is linear.

    Parameters
    ----------
    y : numpy.ndarray
        Density at the edges along axis 0, shape ``(n + 1, ...)`` (>= 0).
    x : numpy.ndarray
        Edges, shape ``(n + 1,)`` (> 0, increasing).

    Returns
    -------
    numpy.ndarray
        Integrals, shape ``(n, ...)``.
    """
    shape = (-1,) + (1,) * (y.ndim - 1)
    x_lo, x_hi = x[:-1].reshape(shape), x[1:].reshape(shape)
    y_lo, y_hi = y[:-1], y[1:]
    positive, g = _slopes(y_lo, y_hi, x_lo, x_hi)
    ratio = x_hi / x_lo
    one = np.abs(1.0 - g) < 1e-8
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        power = y_lo * x_lo * np.where(one, np.log(ratio), (ratio ** (1 - g) - 1) / (1 - g))
    linear = 0.5 * (y_lo + y_hi) * (x_hi - x_lo)
    return np.where(positive, power, linear)


def sample_in_bins(rng: np.random.Generator, x_lo, x_hi, y_lo, y_hi) -> np.ndarray:
    """Draw one value per event inside its bin from the density of :func:`bin_integral_loglog`.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    x_lo, x_hi : numpy.ndarray
        Bin edges of each event (> 0).
    y_lo, y_hi : numpy.ndarray
        Density at those edges (>= 0, not both 0).

    Returns
    -------
    numpy.ndarray
        Values in ``[x_lo, x_hi]``.
    """
    q = rng.random(np.shape(x_lo))
    positive, g = _slopes(y_lo, y_hi, x_lo, x_hi)
    ratio = x_hi / x_lo
    one = np.abs(1.0 - g) < 1e-8
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = np.where(one, 1.0, 1.0 - g)
        power = np.where(one, x_lo * ratio**q, x_lo * (1.0 + q * (ratio**a - 1.0)) ** (1.0 / a))
        # linear density y_lo + (y_hi - y_lo) t on t in [0, 1]
        dy = y_hi - y_lo
        total = 0.5 * (y_lo + y_hi)
        flat = np.abs(dy) <= 1e-12 * np.maximum(y_lo, y_hi)
        t = np.where(
            flat,
            q,
            (-y_lo + np.sqrt(np.maximum(y_lo**2 + 2.0 * dy * q * total, 0.0)))
            / np.where(flat, 1.0, dy),
        )
    linear = x_lo + np.clip(t, 0.0, 1.0) * (x_hi - x_lo)
    return np.clip(np.where(positive, power, linear), x_lo, x_hi)


def draw_cells(rng: np.random.Generator, weights: np.ndarray) -> tuple[int, np.ndarray]:
    """Poisson number of events for expected ``weights.sum()``, and a flat cell index each.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    weights : numpy.ndarray
        Expected events per cell (>= 0), any shape.

    Returns
    -------
    n : int
        Number of events.
    index : numpy.ndarray
        Flat index into ``weights`` of each event, shape ``(n,)``.
    """
    flat = np.ravel(weights)
    if np.any(~np.isfinite(flat)) or np.any(flat < 0):
        raise ValueError("expected events per cell must be finite and >= 0")
    cumulative = np.cumsum(flat)
    total = float(cumulative[-1]) if cumulative.size else 0.0
    n = int(rng.poisson(total)) if total > 0 else 0
    if n == 0:
        return 0, np.zeros(0, dtype=np.int64)
    index = np.searchsorted(cumulative, rng.random(n) * total, side="right")
    return n, np.minimum(index, flat.size - 1)


def inverse_cdf(rng: np.random.Generator, grid: np.ndarray, cdf: np.ndarray, groups: np.ndarray):
    """Draw values from tabulated cumulative distributions, one table per group.

    The cumulative distribution is linear between grid points (a density constant inside
    each grid cell) and normalised by its last value.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    grid : numpy.ndarray
        Grid, shape ``(n_grid,)``, increasing.
    cdf : numpy.ndarray
        Non-decreasing cumulative values, shape ``(n_groups, n_grid)``, last value > 0.
    groups : numpy.ndarray
        Group index of each event.

    Returns
    -------
    numpy.ndarray
        One value per event.
    """
    out = np.empty(groups.shape)
    q = rng.random(groups.shape)
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(cdf.shape[0] + 1))
    for g in range(cdf.shape[0]):
        members = order[bounds[g] : bounds[g + 1]]
        if members.size:
            row = cdf[g]
            out[members] = np.interp(q[members] * row[-1], row, grid)
    return out


def offset_frame_cells(half_size: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Square grid of cell edges (deg) in an offset frame, centred on 0."""
    n = max(1, int(np.ceil(2 * half_size / step)))
    edges = np.linspace(-half_size, half_size, n + 1)
    return edges, edges.copy()


def cell_solid_angle(lon_edges: np.ndarray, lat_edges: np.ndarray) -> np.ndarray:
    """Exact solid angle (sr) of lon/lat cells, shape ``(n_lat, n_lon)``."""
    dlon = np.deg2rad(np.diff(lon_edges))
    dsin = np.diff(np.sin(np.deg2rad(lat_edges)))
    return dsin[:, None] * dlon[None, :]


def sample_in_cells(
    rng: np.random.Generator, lon_lo, lon_hi, lat_lo, lat_hi
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform positions (per unit solid angle) inside lon/lat cells (deg)."""
    lon = lon_lo + rng.random(np.shape(lon_lo)) * (lon_hi - lon_lo)
    s_lo, s_hi = np.sin(np.deg2rad(lat_lo)), np.sin(np.deg2rad(lat_hi))
    lat = np.rad2deg(np.arcsin(s_lo + rng.random(np.shape(lat_lo)) * (s_hi - s_lo)))
    return lon, lat


def to_sky(center: SkyCoord, lon: np.ndarray, lat: np.ndarray) -> SkyCoord:
    """Offset-frame coordinates (deg) around ``center`` to ICRS."""
    frame = SkyOffsetFrame(origin=center.icrs)
    return SkyCoord(lon * u.deg, lat * u.deg, frame=frame).icrs
