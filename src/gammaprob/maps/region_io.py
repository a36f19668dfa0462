"""Region maps and sky regions in FITS tables.

``REGION`` table (OGIP PHA files, gammapy region maps): one row per shape, columns
``SHAPE``, ``X``, ``Y``, ``R``, ``ROTANG`` (and ``COMPONENT``) in pixel units of a celestial
WCS given by the table header keywords, written and parsed by the ``regions`` package's FITS
region serialiser (pixel values as ``regions`` writes them, 0-based). Only unions of shapes
can be stored. A region map (gammapy ``RegionNDMap`` "gadf" layout) is three tables:

- ``<hdu>``: ``CHANNEL`` and ``DATA`` (one value per channel, first axis fastest; ``TUNIT``
  gives the unit), with ``BANDSHDU``;
- ``<hdu>_BANDS``: the axes (BANDS layout of :mod:`gammaprob.maps.bands`);
- ``<hdu>_REGION``: the ``REGION`` table.
"""

from __future__ import annotations

import os
import warnings

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table
from astropy.wcs import WCS
from regions import Regions, SkyRegion

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import get_hdu

from .axes import MapAxes
from .bands import axes_from_bands_hdu, axes_to_bands_hdu, axes_to_header
from .map import Map
from .region import RegionGeom
from .region_utils import flatten_union

__all__ = [
    "region_map_from_hdulist",
    "region_map_to_hdus",
    "region_table_hdu",
    "regions_from_hdu",
]


def region_table_hdu(region: SkyRegion, wcs: WCS, name: str = "REGION") -> fits.BinTableHDU:
    """Write a (union of) sky region(s) as a FITS ``REGION`` table.

    Parameters
    ----------
    region : regions.SkyRegion
        The region; compound regions must be unions.
    wcs : `~astropy.wcs.WCS`
        Celestial WCS of the pixel shapes (its keywords go into the table header).
    name : str
        Extension name.

    Returns
    -------
    `~astropy.io.fits.BinTableHDU`
        The table.
    """
    shapes = [reg.to_pixel(wcs) for reg in flatten_union(region)]
    table = Regions(shapes).serialize(format="fits")
    hdu = fits.BinTableHDU(table, name=name)
    header = wcs.to_header()
    for key in ("EXTNAME", "EXTVER"):
        header.remove(key, ignore_missing=True)
    hdu.header.update(header)
    if wcs.array_shape is not None:
        hdu.header["WCSSHAPE"] = f"({wcs.array_shape[1]},{wcs.array_shape[0]})"
    return hdu


def regions_from_hdu(
    hdu: fits.BinTableHDU, path: str | os.PathLike | None = None
) -> tuple[list[SkyRegion], WCS]:
    """Read the sky regions of a FITS ``REGION`` table.

    Parameters
    ----------
    hdu : `~astropy.io.fits.BinTableHDU`
        Table with SHAPE/X/Y/R/ROTANG columns and celestial WCS keywords.
    path : str or path-like, optional
        File name, for error messages.

    Returns
    -------
    regions : list of regions.SkyRegion
        The shapes (excluded shapes are an error).
    wcs : `~astropy.wcs.WCS`
        The table's WCS.
    """
    header = hdu.header
    if "CTYPE1" not in header or "CTYPE2" not in header:
        raise FormatError(
            "REGION table has no WCS keywords (CTYPE1/CTYPE2, CRVAL, CDELT, CRPIX)",
            path=path,
            hdu=hdu.name,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=fits.verify.VerifyWarning)
        wcs = WCS(header, naxis=2, fix=False)
    if not wcs.has_celestial:
        raise FormatError(
            "REGION table WCS is not celestial", path=path, hdu=hdu.name, column="CTYPE1"
        )
    if "WCSSHAPE" in header:
        nx, ny = (int(v) for v in str(header["WCSSHAPE"]).strip("() ").split(","))
        wcs.array_shape = (ny, nx)
    table = QTable.read(hdu)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            shapes = list(Regions.parse(table, format="fits"))
        except Exception as exc:  # the regions parser raises several types
            raise FormatError(
                f"cannot parse the REGION table: {exc}", path=path, hdu=hdu.name
            ) from exc
    if caught:
        raise FormatError(
            f"cannot parse the REGION table: {caught[0].message}", path=path, hdu=hdu.name
        )
    if not shapes:
        raise FormatError("REGION table has no rows", path=path, hdu=hdu.name)
    regions = []
    for shape in shapes:
        if shape.meta.get("include", True) in (0, False):
            raise FormatError(
                "excluded shapes ('!circle') are not supported",
                path=path,
                hdu=hdu.name,
                column="SHAPE",
            )
        regions.append(shape.to_sky(wcs))
    return regions, wcs


def region_map_to_hdus(m: Map, hdu: str = "SKYMAP", hdu_bands: str | None = None) -> list:
    """Convert a region map to its data, bands and region tables.

    Parameters
    ----------
    m : Map
        Map with a :class:`RegionGeom`.
    hdu : str
        Data table name (``"PRIMARY"`` becomes ``"SKYMAP"``).
    hdu_bands : str, optional
        Bands table name (default ``"<hdu>_BANDS"``).

    Returns
    -------
    list of HDUs
        ``[data, (bands,) region]``.
    """
    geom = m.geom
    if not isinstance(geom, RegionGeom):
        raise TypeError(f"expected a map with a RegionGeom, got {type(geom).__name__}")
    name = "SKYMAP" if hdu.upper() == "PRIMARY" else hdu.upper()
    hdu_bands = hdu_bands or f"{name}_BANDS"
    values = np.asarray(m.data).reshape(-1)
    is_bool = values.dtype == bool
    table = Table()
    table["CHANNEL"] = np.arange(values.size, dtype=np.int64)
    table["DATA"] = values.astype(np.uint8) if is_bool else values
    table["DATA"].unit = m.unit  # a plain column with TUNIT keeps integer dtypes
    data_hdu = fits.BinTableHDU(table, name=name)
    data_hdu.header.update(axes_to_header(geom.axes))
    if is_bool:
        data_hdu.header["MAPDTYPE"] = "bool"
    hdus = [data_hdu]
    if len(geom.axes):
        data_hdu.header["BANDSHDU"] = hdu_bands
        hdus.append(axes_to_bands_hdu(geom.axes, name=hdu_bands))
    data_hdu.header["REGHDU"] = f"{name}_REGION"
    hdus.append(geom.to_region_hdu(name=f"{name}_REGION"))
    return hdus


def region_map_from_hdulist(
    hdulist: fits.HDUList, hdu: str = "SKYMAP", path: str | os.PathLike | None = None
) -> Map:
    """Read a region map written by :func:`region_map_to_hdus` (or gammapy's "gadf" layout).

    Parameters
    ----------
    hdulist : `~astropy.io.fits.HDUList`
        Open file.
    hdu : str
        Data table name.
    path : str or path-like, optional
        File name, for error messages.

    Returns
    -------
    Map
        The map.
    """
    data_hdu = get_hdu(hdulist, hdu, path)
    header = data_hdu.header
    bands_name = str(header.get("BANDSHDU", f"{hdu}_BANDS")).strip()
    axes = (
        axes_from_bands_hdu(get_hdu(hdulist, bands_name, path), path)
        if bands_name in hdulist
        else MapAxes()
    )
    region_name = str(header.get("REGHDU", f"{hdu}_REGION")).strip()
    geom = RegionGeom.from_region_hdu(get_hdu(hdulist, region_name, path), axes=axes, path=path)
    table = Table.read(data_hdu)
    if "DATA" not in table.colnames:
        raise FormatError(
            "region map table has no DATA column", path=path, hdu=data_hdu.name, column="DATA"
        )
    column = table["DATA"]
    values = np.asarray(column)
    if values.size != int(np.prod(geom.data_shape)):
        raise FormatError(
            f"DATA has {values.size} values, expected {int(np.prod(geom.data_shape))} for axes {axes.names}",
            path=path,
            hdu=data_hdu.name,
            column="DATA",
        )
    values = values.astype(values.dtype.newbyteorder("="))
    if str(header.get("MAPDTYPE", "")).strip() == "bool":
        values = values.astype(bool)
    unit = column.unit if column.unit is not None else u.one
    return Map(geom, data=values.reshape(geom.data_shape), unit=unit)
