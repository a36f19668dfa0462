"""Map plots: WCS images on sky axes (astropy WCSAxes), HEALPix via a WCS reprojection, regions."""

from __future__ import annotations

import numpy as np

from .units import ENERGY_UNIT

__all__ = ["plot_map"]

_SKY_LABELS = {
    "icrs": ("Right Ascension", "Declination"),
    "fk5": ("Right Ascension", "Declination"),
    "galactic": ("Galactic Longitude", "Galactic Latitude"),
}


def plot_map(
    m,
    *,
    ax=None,
    add_cbar: bool = True,
    cmap: str = "viridis",
    proj: str = "AIT",
    oversample: float = 2,
    label: str | None = None,
    **kwargs,
):
    """Plot a map: a sky image for WCS and HEALPix geometries, values per bin for regions.

    Parameters
    ----------
    m : gammaprob.maps.Map
        Map to plot. WCS and HEALPix maps must be images (use ``m.sum_over_axes()`` or
        ``m.get_image_by_idx(...)`` first for cubes); a HEALPix map is reprojected onto a WCS
        in projection ``proj``. A region map with one non-spatial axis is drawn as values
        against that axis (energies in TeV); without axes its region is outlined on sky axes.
    ax : matplotlib.axes.Axes, optional
        Axes; sky images need astropy ``WCSAxes`` with the map's WCS (made when not given,
        in a figure with constrained layout so that labels are not cut).
    add_cbar : bool
        Add a colour bar labelled with the unit.
    cmap : str
        Colour map of images.
    proj, oversample : str, float
        Projection and oversampling of the WCS image of a HEALPix map.
    label : str, optional
        Colour-bar (images) or y-axis (region maps) label; default the map unit.
    **kwargs
        Passed to ``imshow`` (images) or ``plot`` (region maps).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        The map has no sky geometry (not a WcsGeom, HpxGeom or RegionGeom).
    ValueError
        An image is requested for a cube, or ``ax`` is not a WCSAxes with the map's WCS.
    """
    from gammaprob.maps import HpxGeom, RegionGeom, WcsGeom

    geom = getattr(m, "geom", None)
    if isinstance(geom, HpxGeom):
        from gammaprob.maps.hpx_wcs import hpx_to_wcs

        _require_image(m, "HEALPix")
        return _plot_image(
            hpx_to_wcs(m, proj=proj, oversample=oversample), ax, add_cbar, cmap, label, kwargs
        )
    if isinstance(geom, WcsGeom):
        _require_image(m, "WCS")
        return _plot_image(m, ax, add_cbar, cmap, label, kwargs)
    if isinstance(geom, RegionGeom):
        return _plot_region_map(m, ax, label, kwargs)
    raise TypeError(
        f"Map.plot needs a sky geometry (WcsGeom, HpxGeom or RegionGeom); this map's geometry "
        f"is {type(geom).__name__}"
    )


def _require_image(m, what: str) -> None:
    if m.geom.axes and int(np.prod([a.nbin for a in m.geom.axes])) > 1:
        names = [a.name for a in m.geom.axes]
        raise ValueError(
            f"plot of a {what} map with non-spatial axes {names}: plot one image, e.g. "
            "m.sum_over_axes(keepdims=False) or m.get_image_by_idx((i,))"
        )


def _sky_axes(ax, wcs):
    import matplotlib.pyplot as plt
    from astropy.visualization.wcsaxes import WCSAxes

    if ax is None:
        fig = plt.figure(layout="constrained")
        return fig.add_subplot(projection=wcs)
    if not isinstance(ax, WCSAxes):
        raise ValueError(
            "sky images need astropy WCSAxes: create them with "
            "fig.add_subplot(projection=m.geom.wcs)"
        )
    return ax


def _label_sky_axes(ax, frame: str) -> None:
    xlabel, ylabel = _SKY_LABELS.get(frame, ("Longitude", "Latitude"))
    lon, lat = ax.coords[0], ax.coords[1]
    lon.set_axislabel(xlabel)
    lat.set_axislabel(ylabel)
    if frame in ("icrs", "fk5"):
        lon.set_major_formatter("d.d")
    lat.set_major_formatter("d.d")


def _plot_image(m, ax, add_cbar, cmap, label, kwargs):
    data = np.asarray(m.data, dtype=float)
    data = data.reshape(data.shape[-2:])
    ax = _sky_axes(ax, m.geom.wcs)
    kwargs.setdefault("interpolation", "nearest")
    image = ax.imshow(data, origin="lower", cmap=cmap, **kwargs)
    _label_sky_axes(ax, m.geom.frame)
    if add_cbar:
        unit = m.unit.to_string()
        ax.figure.colorbar(image, ax=ax, label=label if label is not None else unit)
    return ax


def _plot_region_map(m, ax, label, kwargs):
    import matplotlib.pyplot as plt

    geom = m.geom
    if not geom.axes:
        ax = _sky_axes(ax, geom.wcs)
        for region in geom.regions if hasattr(geom, "regions") else [geom.region]:
            region.to_pixel(geom.wcs).plot(ax=ax, **kwargs)
        shape = geom.wcs.array_shape or (1, 1)
        ax.set_xlim(-0.5, shape[1] - 0.5)
        ax.set_ylim(-0.5, shape[0] - 0.5)
        _label_sky_axes(ax, geom.frame)
        return ax
    if len(geom.axes) != 1:
        raise ValueError(
            f"plot of a region map needs one non-spatial axis, got {[a.name for a in geom.axes]}"
        )
    axis = geom.axes[0]
    values = np.asarray(m.data, dtype=float).reshape(axis.nbin)
    if ax is None:
        _, ax = plt.subplots(layout="constrained")
    edges = axis.edges
    is_energy = getattr(edges, "unit", None) is not None and edges.unit.is_equivalent(ENERGY_UNIT)
    x = edges.to_value(ENERGY_UNIT) if is_energy else np.asarray(getattr(edges, "value", edges))
    ax.stairs(values, x, **kwargs)
    if getattr(axis, "interp", "lin") == "log":
        ax.set_xscale("log")
    xunit = ENERGY_UNIT.to_string() if is_energy else str(getattr(edges, "unit", ""))
    ax.set_xlabel(f"{axis.name} [{xunit}]" if xunit else axis.name)
    ax.set_ylabel(label if label is not None else (m.unit.to_string() or "value"))
    return ax
