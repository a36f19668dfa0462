"""Map-type IRFs (HAWC): IRF maps interpolated onto a dataset geometry, scaled by transits.

HAWC's DL3 release (and other ground arrays that observe by source transits) stores its IRFs
as sky maps: an effective-area map (``cm2 s`` per transit, axis ``energy_true``), a
background-counts map per transit (axis ``energy``), a PSF map per *reconstructed* energy
(axes ``rad``, ``energy``) and energy-dispersion kernels (axes ``energy``, ``energy_true``).
Reducing an observation interpolates these maps onto the dataset's geometry (multilinear in
the pixel coordinates of the IRF map, energy and radius axes in their ``interp`` space; zero
outside the IRF map, within half a pixel of its border the outermost pixel centre's value) and
multiplies exposure and background by the number of transits, as gammapy's HAWC tutorial does.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from gammaprob.maps import Map

__all__ = ["interp_irf_map", "is_map_irf", "transit_number"]


def is_map_irf(irf) -> bool:
    """Return True when an observation's IRF is stored as a sky map (HAWC)."""
    return isinstance(irf, Map)


def interp_irf_map(irf: Map, geom, *, what: str, preserve_counts: bool = False) -> np.ndarray:
    """Values of an IRF map at the pixel centres of ``geom``.

    Parameters
    ----------
    irf : Map
        IRF map of the observation; its non-spatial axes are matched to ``geom``'s by name.
    geom : Geom
        Target geometry (its non-spatial axes must all be in ``irf``).
    what : str
        Name of the IRF, for error messages.
    preserve_counts : bool
        Counts per pixel (background): the map is divided by its pixel solid angle before
        the interpolation and multiplied by the target's after it, so counts per sr are
        interpolated. Needs identical energy axes (counts in other energy bins would
        need an integral, not an interpolation).

    Returns
    -------
    numpy.ndarray
        Values of shape ``geom.data_shape`` in the unit of ``irf``; zero outside the IRF map.
    """
    missing = [name for name in geom.axes.names if name not in irf.geom.axes.names]
    if missing or len(geom.axes.names) != len(irf.geom.axes.names):
        raise ValueError(
            f"{what} map has axes {irf.geom.axes.names}; the dataset needs {geom.axes.names}"
        )
    data = np.asarray(irf.data, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise ValueError(
            f"{what} map has {int(np.sum(~np.isfinite(data)))} non-finite values; an IRF map "
            "must be finite everywhere"
        )
    source = irf
    if preserve_counts:
        for name in geom.axes.names:
            if not geom.axes[name].is_aligned(irf.geom.axes[name]):
                raise ValueError(
                    f"{what} map (counts per bin) has axis {name!r} with edges "
                    f"{irf.geom.axes[name].edges}; the dataset's must be the same, got "
                    f"{geom.axes[name].edges} (choose the dataset's energy axis as the map's)"
                )
        per_deg2 = data / irf.geom.solid_angle().to_value(u.deg**2)
        source = Map(irf.geom, data=per_deg2, unit=irf.unit)
    values = source.interp_by_coord(geom.get_coord(), fill_value=0.0).value
    values = np.broadcast_to(values, geom.data_shape).astype(np.float64, copy=True)
    if preserve_counts:
        values *= geom.solid_angle().to_value(u.deg**2)
    return values


def transit_number(transits, position) -> float:
    """Return the number of source transits by which per-transit IRF maps are multiplied.

    Parameters
    ----------
    transits : float or Map
        The number, or a sky map of the number of transits (HAWC's ``TransitsMap``), read at
        ``position`` (the pixel containing it, as gammapy's HAWC tutorial does).
    position : `~astropy.coordinates.SkyCoord`
        Where a transit map is read (the dataset's centre).

    Returns
    -------
    float
        Number of transits (> 0).
    """
    if isinstance(transits, Map):
        if transits.geom.axes.names:
            raise ValueError(
                f"the transit map must be a sky image, has axes {transits.geom.axes.names}"
            )
        value = float(np.ravel(transits.get_by_coord({"skycoord": position}).value)[0])
        where = f"the transit map at ({position.icrs.ra.deg:.4f}, {position.icrs.dec.deg:.4f})"
    else:
        value, where = transits, "transits"
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"transits must be a number or a Map, got {transits!r}")
        value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{where}: the number of transits must be positive, got {value}")
    return value
