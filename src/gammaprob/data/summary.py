"""Quick-look summaries of an observation: a text report and a matplotlib figure."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .pointing import FixedPointing

__all__ = ["observation_summary", "plot_observation"]


def observation_summary(obs) -> str:
    """Text summary of an observation (reads its events and GTI, not its IRFs).

    Parameters
    ----------
    obs : Observation
        The observation.

    Returns
    -------
    str
        A few aligned lines: instrument, target, pointing, times, livetime, dead time,
        events, GTIs and which IRFs are present.
    """
    meta = obs.meta
    events, gti = obs.events, obs.gti
    lines = [f"Observation {obs.obs_id}"]

    def add(label: str, value) -> None:
        if value is not None:
            lines.append(f"  {label:<18s}: {value}")

    add("telescope", meta.telescope)
    add("instrument", meta.instrument)
    add("target", meta.target_name)
    pointing = obs.pointing
    if isinstance(pointing, FixedPointing) and pointing.mode == "POINTING":
        icrs = pointing.fixed_icrs
        add("pointing (ICRS)", f"ra {icrs.ra.deg:.4f} deg, dec {icrs.dec.deg:.4f} deg")
    else:
        add("pointing", repr(pointing))
    if meta.location is not None:
        loc = meta.location
        add(
            "location",
            f"lon {loc.lon.deg:.4f} deg, lat {loc.lat.deg:.4f} deg, "
            f"height {loc.height.to_value(u.m):.0f} m",
        )
    if meta.time_start is not None:
        add("start (UTC)", meta.time_start.utc.isot)
    if meta.time_stop is not None:
        add("stop (UTC)", meta.time_stop.utc.isot)
    if meta.ontime is not None:
        add("ontime", f"{meta.ontime.to_value(u.s):.1f} s")
    if meta.livetime is not None:
        add("livetime", f"{meta.livetime.to_value(u.s):.1f} s")
    if meta.deadtime_fraction is not None:
        add("dead-time fraction", f"{meta.deadtime_fraction:.4f}")
    if events is not None:
        add("events", len(events))
        if len(events):
            energy = events.energy.to_value(u.TeV)
            add("energy range", f"{energy.min():.3g} .. {energy.max():.3g} TeV")
    if gti is not None:
        add("GTIs", f"{len(gti)} intervals, {gti.time_sum.to_value(u.s):.1f} s in total")
    irfs = []
    for name in ("aeff", "edisp", "psf", "bkg", "rad_max"):
        if name in obs.available():
            irfs.append(name if obs.is_loaded(name) else f"{name} (not read yet)")
    add("IRFs", ", ".join(irfs) or "none")
    return "\n".join(lines)


def plot_observation(obs, figsize: tuple[float, float] = (12, 8)):
    """Four panels: counts around the pointing, energy and offset distributions, GTIs.

    The spatial panels cover the offsets of 99% of the events.

    Parameters
    ----------
    obs : Observation
        The observation (events and GTI are read).
    figsize : (float, float)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    events, gti = obs.events, obs.gti
    fig, axes = plt.subplots(2, 2, figsize=figsize)
    center = obs.get_pointing_icrs(obs.tstart)
    dlon, dlat = center.spherical_offsets_to(events.radec)
    offset = events.radec.separation(center).to_value(u.deg)
    # the field of view: a few stray far-away events must not squeeze the panels
    fov = float(np.percentile(offset, 99)) if len(offset) else 1.0
    ax = axes[0, 0]
    window = [[-fov, fov], [-fov, fov]]
    ax.hist2d(dlon.to_value(u.deg), dlat.to_value(u.deg), bins=80, range=window, cmap="viridis")
    ax.set(xlabel="RA offset from pointing (deg)", ylabel="Dec offset (deg)", title="Counts")
    ax.set_aspect("equal")

    energy = events.energy.to_value(u.TeV)
    edges = np.geomspace(max(energy.min(), 1e-3), energy.max(), 40) if len(energy) else [1, 10]
    ax = axes[0, 1]
    ax.hist(energy, bins=edges, histtype="step")
    ax.set(xscale="log", yscale="log", xlabel="Energy (TeV)", ylabel="Counts", title="Energy")

    ax = axes[1, 0]
    ax.hist(offset**2, bins=50, range=(0, fov**2), histtype="step")
    ax.set(xlabel="Offset² (deg²)", ylabel="Counts", title="Offset from pointing")

    ax = axes[1, 1]
    start = (gti.time_start - obs.tstart).to_value(u.s)
    stop = (gti.time_stop - obs.tstart).to_value(u.s)
    for a, b in zip(np.atleast_1d(start), np.atleast_1d(stop), strict=True):
        ax.axvspan(a, b, alpha=0.4)
    ax.hist((events.time - obs.tstart).to_value(u.s), bins=50, histtype="step")
    ax.set(xlabel="Time since start (s)", ylabel="Counts", title="GTIs and event rate")
    fig.suptitle(f"Observation {obs.obs_id}")
    fig.tight_layout()
    return fig
