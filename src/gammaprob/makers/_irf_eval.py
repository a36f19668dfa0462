"""Pure array functions that project DL3 IRFs onto a sky geometry.

Canonical units inside: energies in TeV, angles in deg, solid angles in sr, times in s,
exposure in m2 s. The functions take and return plain float64 arrays.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord, SkyOffsetFrame

__all__ = [
    "background_counts",
    "exposure_values",
    "fill_missing_energy",
    "fov_coordinates",
    "has_reversed_fov_lon",
    "observation_times",
    "trapz_loglog",
]

_MEV_PER_TEV = 1e6


def observation_times(observation) -> tuple[float, float]:
    """Return ``(ontime, livetime)`` in s of an observation.

    ``ontime`` is the sum of the GTIs; ``livetime = ontime * (1 - dead-time fraction)``
    (``DEADC`` of the events header), which is how gammapy defines them.

    Parameters
    ----------
    observation : gammaprob.data.Observation
        The observation.

    Returns
    -------
    tuple of float
        Ontime and livetime in seconds.
    """
    ontime = float(observation.gti.time_sum.to_value(u.s))
    dead = observation.meta.deadtime_fraction
    livetime = float(observation.livetime.to_value(u.s)) if dead is None else ontime * (1.0 - dead)
    return ontime, livetime


def has_reversed_fov_lon(observation) -> bool:
    """Whether the background IRF of an observation has its ``fov_lon`` axis reversed.

    The H.E.S.S. DR1 files (written by ``SASH FITS::EventListWriter``, ``HDUVERS = 0.2``) store
    the FoV background with the opposite longitude sign to the GADF convention; gammapy
    flips it for these files, and so do we.

    Parameters
    ----------
    observation : gammaprob.data.Observation
        The observation (its events header is read).

    Returns
    -------
    bool
        True for the old H.E.S.S. layout.
    """
    events = observation.events
    if events is None:
        return False
    header = events.meta
    creator = str(header.get("CREATOR", "")).strip()
    version = str(header.get("HDUVERS", "")).strip()
    return creator == "SASH FITS::EventListWriter" and version == "0.2"


def fov_coordinates(skycoord: SkyCoord, pointing: SkyCoord) -> tuple[np.ndarray, np.ndarray]:
    """Field-of-view coordinates (deg) of sky positions, RADEC-aligned.

    ``fov_lat`` points north, ``fov_lon`` points towards decreasing right ascension (the
    GADF convention: longitudes of the sky-offset frame with the sign reversed).

    Parameters
    ----------
    skycoord : `~astropy.coordinates.SkyCoord`
        Positions.
    pointing : `~astropy.coordinates.SkyCoord`
        Origin of the field of view.

    Returns
    -------
    fov_lon, fov_lat : numpy.ndarray
        FoV longitude and latitude in deg.
    """
    frame = SkyOffsetFrame(origin=pointing.icrs)
    offset = skycoord.icrs.transform_to(frame)
    lon = offset.lon.wrap_at(180 * u.deg).to_value(u.deg)
    return -lon, offset.lat.to_value(u.deg)


def exposure_values(
    aeff, offset: np.ndarray, energy_true: np.ndarray, livetime: float
) -> np.ndarray:
    """Exposure ``A_eff(E_true, offset) * livetime`` in m2 s.

    Parameters
    ----------
    aeff : gammaprob.irf.EffectiveArea2D
        Effective area.
    offset : numpy.ndarray
        Offsets in deg (any shape ``S``).
    energy_true : numpy.ndarray
        True energies in TeV, shape ``(n,)``.
    livetime : float
        Livetime in s.

    Returns
    -------
    numpy.ndarray
        Exposure, shape ``(n,) + S``.
    """
    offset = np.asarray(offset, float)
    energy = np.asarray(energy_true, float).reshape((-1,) + (1,) * offset.ndim)
    area = aeff.evaluate(energy_true=energy * u.TeV, offset=offset * u.deg).to_value(u.m**2)
    return area * livetime


def trapz_loglog(y: np.ndarray, x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Integrate tabulated values bin by bin assuming a power law between the nodes.

    Between nodes ``x0 < x1`` with values ``y0, y1`` the function is taken as
    ``y0 (x / x0)^-k`` with ``k = -ln(y1/y0) / ln(x1/x0)``; an interval with a zero value at
    either end integrates to zero (as in gammapy, where the power law becomes infinitely steep).

    Parameters
    ----------
    y : numpy.ndarray
        Values at the nodes.
    x : numpy.ndarray
        Positive nodes, broadcastable to ``y``.
    axis : int
        Axis of the nodes.

    Returns
    -------
    numpy.ndarray
        Integrals over the ``n - 1`` intervals along ``axis``.
    """
    y = np.moveaxis(np.asarray(y, float), axis, 0)
    x = np.moveaxis(
        np.broadcast_to(np.asarray(x, float), np.broadcast_shapes(np.shape(x), np.shape(y))),
        axis,
        0,
    )
    x0, x1, y0, y1 = x[:-1], x[1:], y[:-1], y[1:]
    ratio = np.log(x1 / x0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        index = -np.log(y1 / y0) / ratio
        one_minus = 1.0 - index
        general = y0 * x0 / one_minus * np.expm1(one_minus * ratio)
        flat = y0 * x0 * ratio
    result = np.where(np.abs(one_minus) < 1e-10, flat, general)
    result = np.where((y0 > 0) & (y1 > 0), result, 0.0)
    return np.moveaxis(result, 0, axis)


def fill_missing_energy(bkg):
    """Fill empty (zero) background nodes by log interpolation along the energy axis.

    Only nodes with non-zero neighbours on both sides along energy are filled (no
    extrapolation); this is what gammapy does before projecting a background IRF.

    Parameters
    ----------
    bkg : gammaprob.irf.Background2D or Background3D
        Background rate model.

    Returns
    -------
    Background2D or Background3D
        A new model (the input itself if nothing was filled).
    """
    data = np.array(bkg.data, dtype=float)
    mask = data == 0.0
    if not mask.any():
        return bkg
    moved = np.moveaxis(data, 0, -1).reshape(-1, data.shape[0])
    moved_mask = np.moveaxis(mask, 0, -1).reshape(-1, data.shape[0])
    xp = np.arange(data.shape[0])
    for row, row_mask in zip(moved, moved_mask, strict=True):
        if row_mask.any() and not row_mask.all():
            good = ~row_mask
            values = np.interp(xp[row_mask], xp[good], np.log(row[good]), left=np.nan, right=np.nan)
            filled = np.where(np.isnan(values), 0.0, np.exp(values))
            row[row_mask] = filled
    data = np.moveaxis(moved.reshape(np.moveaxis(data, 0, -1).shape), -1, 0)
    return type(bkg)(
        bkg.axes,
        data,
        meta=bkg.meta,
        is_pointlike=bkg.is_pointlike,
        fov_alignment=bkg.fov_alignment,
    )


def pad_offset(bkg):
    """Extend a 2D background by one offset bin on each side, repeating the edge values.

    This avoids extrapolating the radial profile at the table edges (gammapy's default).

    Parameters
    ----------
    bkg : gammaprob.irf.Background2D
        Radially symmetric background.

    Returns
    -------
    Background2D
        Padded model.
    """
    from gammaprob.maps import MapAxis

    axis = bkg.axes["offset"]
    edges = axis.edges.to_value(u.deg)
    lo, hi = edges[0] - (edges[1] - edges[0]), edges[-1] + (edges[-1] - edges[-2])
    padded = MapAxis.from_edges(np.r_[lo, edges, hi], unit="deg", name="offset", interp=axis.interp)
    data = np.pad(np.asarray(bkg.data, float), [(0, 0), (1, 1)], mode="edge")
    return type(bkg)(
        [bkg.axes["energy"], padded],
        data,
        meta=bkg.meta,
        is_pointlike=bkg.is_pointlike,
        fov_alignment=bkg.fov_alignment,
    )


def background_counts(
    bkg,
    skycoord: SkyCoord,
    pointing: SkyCoord,
    energy_edges: np.ndarray,
    solid_angle: np.ndarray,
    ontime: float,
    reverse_lon: bool = False,
) -> np.ndarray:
    """Predicted background counts per reconstructed-energy bin and sky pixel.

    The rate is evaluated at the energy edges, integrated over each bin with
    :func:`trapz_loglog`, and multiplied by the pixel solid angle and the ontime.

    Parameters
    ----------
    bkg : gammaprob.irf.Background2D or Background3D
        Background rate (s-1 MeV-1 sr-1), RADEC-aligned.
    skycoord : `~astropy.coordinates.SkyCoord`
        Pixel centres, shape ``S``.
    pointing : `~astropy.coordinates.SkyCoord`
        Pointing position.
    energy_edges : numpy.ndarray
        Reconstructed energy edges in TeV, shape ``(n + 1,)``.
    solid_angle : numpy.ndarray
        Pixel solid angles in sr, broadcastable to ``S``.
    ontime : float
        Observation time (dead time included) in s.
    reverse_lon : bool
        Evaluate a 3D background at ``-fov_lon`` (see :func:`has_reversed_fov_lon`).

    Returns
    -------
    numpy.ndarray
        Counts, shape ``(n,) + S``.
    """
    if str(bkg.fov_alignment) != "RADEC":
        raise ValueError(
            f"background models aligned with {bkg.fov_alignment!s} are not supported; "
            "only RADEC-aligned backgrounds can be projected"
        )
    ndim = len(skycoord.shape)
    energy = np.asarray(energy_edges, float).reshape((-1,) + (1,) * ndim) * u.TeV
    if "offset" in bkg.axes.names:
        offset = skycoord.separation(pointing).to_value(u.deg)
        rate = bkg.evaluate(energy=energy, offset=offset * u.deg)
    else:
        lon, lat = fov_coordinates(skycoord, pointing)
        if reverse_lon:
            lon = -lon
        rate = bkg.evaluate(energy=energy, fov_lon=lon * u.deg, fov_lat=lat * u.deg)
    rate = rate.to_value("s-1 MeV-1 sr-1") * _MEV_PER_TEV
    integral = trapz_loglog(rate, energy.to_value(u.TeV), axis=0)
    return integral * np.asarray(solid_angle, float) * ontime
