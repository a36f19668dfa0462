"""Reprojection between HEALPix and WCS maps.

Both directions work pixel by pixel through the HEALPix pixel that contains each WCS pixel
centre (``healpy.ang2pix``); leading non-spatial dimensions are carried along unchanged.

- HEALPix → WCS, ``preserve_counts=False`` (intensive quantities: exposure, flux per sr):
  every WCS pixel takes the value of the HEALPix pixel containing its centre (nearest).
- HEALPix → WCS, ``preserve_counts=True`` (counts): each HEALPix value is shared equally
  among the WCS pixels whose centres fall in it, so totals are kept for every HEALPix pixel
  hit by at least one WCS centre (all of them when the WCS pixels are several times smaller).
- WCS → HEALPix, ``preserve_counts=True``: each WCS value is added to the HEALPix pixel
  containing its centre (the sum is kept for the WCS pixels inside the HEALPix geometry).
- WCS → HEALPix, ``preserve_counts=False``: the mean of the WCS pixels whose centres fall in
  each HEALPix pixel; HEALPix pixels that contain no WCS centre take the WCS pixel at their
  own centre (NaN outside the WCS image).
"""

from __future__ import annotations

import numpy as np

from .hpx import HpxGeom
from .hpx_utils import lonlat_to_pix
from .map import Map
from .wcs import WcsGeom

__all__ = ["hpx_to_wcs", "hpx_to_wcs_data", "wcs_to_hpx", "wcs_to_hpx_data"]


def _wcs_centre_local_index(wcs_geom: WcsGeom, hpx_geom: HpxGeom) -> np.ndarray:
    """Local HEALPix index (-1 outside) of every WCS pixel centre, shape (ny, nx)."""
    coord = wcs_geom.to_image().get_coord(frame=hpx_geom.frame)
    ipix = lonlat_to_pix(hpx_geom.nside, coord.lon, coord.lat, hpx_geom.nest)
    return hpx_geom.global_to_local(ipix)


def _check_leading(data: np.ndarray, n_spatial: int, expected: tuple, what: str) -> tuple:
    spatial = data.shape[data.ndim - n_spatial :]
    if spatial != expected:
        raise ValueError(f"{what} has spatial shape {spatial}, expected {expected}")
    return data.shape[: data.ndim - n_spatial]


def hpx_to_wcs_data(
    data: np.ndarray,
    hpx_geom: HpxGeom,
    wcs_geom: WcsGeom,
    preserve_counts: bool = False,
    fill_value: float = np.nan,
) -> np.ndarray:
    """Reproject HEALPix data ``(..., npix)`` onto a WCS image ``(..., ny, nx)``.

    Parameters
    ----------
    data : numpy.ndarray
        Values on ``hpx_geom`` (last dimension: local pixels).
    hpx_geom : HpxGeom
        HEALPix geometry of ``data``.
    wcs_geom : WcsGeom
        Target geometry (only its spatial part is used).
    preserve_counts : bool
        Share each HEALPix value among the WCS pixels it contains (sums kept) instead of
        copying it (nearest).
    fill_value : float
        Value of WCS pixels whose centre is outside the projection or the partial sky.

    Returns
    -------
    numpy.ndarray
        Float array of shape ``data.shape[:-1] + (ny, nx)``.
    """
    data = np.asarray(data)
    leading = _check_leading(data, 1, (hpx_geom.npix,), "HEALPix data")
    local = _wcs_centre_local_index(wcs_geom, hpx_geom)
    valid = local >= 0
    values = data.astype(float).reshape(-1, hpx_geom.npix)
    if preserve_counts:
        hits = np.bincount(local[valid], minlength=hpx_geom.npix).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = values / hits
    out = np.full((values.shape[0], *local.shape), fill_value, dtype=float)
    out[:, valid] = values[:, local[valid]]
    return out.reshape(leading + local.shape)


def wcs_to_hpx_data(
    data: np.ndarray, wcs_geom: WcsGeom, hpx_geom: HpxGeom, preserve_counts: bool = True
) -> np.ndarray:
    """Reproject WCS data ``(..., ny, nx)`` onto HEALPix pixels ``(..., npix)``.

    Parameters
    ----------
    data : numpy.ndarray
        Values on ``wcs_geom``.
    wcs_geom : WcsGeom
        WCS geometry of ``data``.
    hpx_geom : HpxGeom
        Target geometry (only its spatial part is used).
    preserve_counts : bool
        Sum the WCS values falling in each HEALPix pixel (True) or average them (False).

    Returns
    -------
    numpy.ndarray
        Float array of shape ``data.shape[:-2] + (npix,)``.
    """
    data = np.asarray(data)
    leading = _check_leading(data, 2, wcs_geom.spatial_shape, "WCS data")
    local = _wcs_centre_local_index(wcs_geom, hpx_geom)
    valid = local >= 0
    values = data.astype(float).reshape(-1, *local.shape)[:, valid]
    target = local[valid]
    npix = hpx_geom.npix
    out = np.zeros((values.shape[0], npix))
    for i, row in enumerate(values):
        out[i] = np.bincount(target, weights=row, minlength=npix)
    if not preserve_counts:
        hits = np.bincount(target, minlength=npix)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = out / hits
        empty = hits == 0
        if np.any(empty):
            sky = hpx_geom.get_skycoord()[empty]
            x, y = wcs_geom.to_image().coord_to_pix(sky)
            ix, iy = wcs_geom.to_image().pix_to_idx((x, y))
            inside = (ix >= 0) & (iy >= 0)
            fill = np.full((out.shape[0], int(empty.sum())), np.nan)
            flat = data.astype(float).reshape(-1, *local.shape)
            fill[:, inside] = flat[:, iy[inside], ix[inside]]
            out[:, empty] = fill
    return out.reshape((*leading, npix))


def hpx_to_wcs(
    hpx_map: Map,
    wcs_geom: WcsGeom | None = None,
    proj: str = "AIT",
    oversample: float = 2,
    preserve_counts: bool = False,
    fill_value: float = np.nan,
) -> Map:
    """Reproject a HEALPix map onto a WCS geometry.

    Parameters
    ----------
    hpx_map : Map
        Map with an :class:`HpxGeom`.
    wcs_geom : WcsGeom, optional
        Target geometry (default ``hpx_map.geom.to_wcs_geom(proj, oversample)``); its axes
        are replaced by the map's.
    proj : str
        Projection of the default geometry.
    oversample : float
        WCS pixels per HEALPix pixel size for the default geometry.
    preserve_counts : bool
        See :func:`hpx_to_wcs_data`.
    fill_value : float
        Value outside the projection / partial sky.

    Returns
    -------
    Map
        WCS map with the same unit and axes.
    """
    geom = hpx_map.geom
    if not isinstance(geom, HpxGeom):
        raise TypeError(f"hpx_to_wcs needs a map with an HpxGeom, got {type(geom).__name__}")
    if wcs_geom is None:
        wcs_geom = geom.to_wcs_geom(proj=proj, oversample=oversample)
    else:
        wcs_geom = wcs_geom.to_image().to_cube(geom.axes)
    data = hpx_to_wcs_data(hpx_map.data, geom, wcs_geom, preserve_counts, fill_value)
    return Map(wcs_geom, data=data, unit=hpx_map.unit, meta=dict(hpx_map.meta))


def wcs_to_hpx(wcs_map: Map, hpx_geom: HpxGeom, preserve_counts: bool = True) -> Map:
    """Reproject a WCS map onto a HEALPix geometry.

    Parameters
    ----------
    wcs_map : Map
        Map with a :class:`WcsGeom`.
    hpx_geom : HpxGeom
        Target geometry; its axes are replaced by the map's.
    preserve_counts : bool
        See :func:`wcs_to_hpx_data`.

    Returns
    -------
    Map
        HEALPix map with the same unit and axes.
    """
    geom = wcs_map.geom
    if not isinstance(geom, WcsGeom):
        raise TypeError(f"wcs_to_hpx needs a map with a WcsGeom, got {type(geom).__name__}")
    hpx_geom = hpx_geom.to_image().to_cube(geom.axes)
    data = wcs_to_hpx_data(wcs_map.data, geom, hpx_geom, preserve_counts)
    return Map(hpx_geom, data=data, unit=wcs_map.unit, meta=dict(wcs_map.meta))
