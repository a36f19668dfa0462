"""Binning events into maps (counts images and cubes) with ``gammaprob.maps``."""

from __future__ import annotations

from .events import EventList

__all__ = ["counts_image"]


def counts_image(events: EventList, geom):
    """Histogram event directions (and energies) on a map geometry.

    Parameters
    ----------
    events : EventList
        Events to bin.
    geom : gammaprob.maps.WcsGeom
        Geometry; an axis named ``energy`` bins reconstructed energy as well.

    Returns
    -------
    gammaprob.maps.Map
        Counts per pixel (events outside the geometry are dropped).
    """
    from gammaprob.maps import Map

    coords = {"skycoord": events.radec}
    if "energy" in geom.axes.names:
        coords["energy"] = events.energy
    counts = Map.from_geom(geom)
    counts.fill_by_coord(coords)
    return counts
