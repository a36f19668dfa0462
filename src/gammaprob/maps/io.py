"""Reading and writing maps in the usual gamma-ray FITS layouts.

Read:

- **WCS image/cube**: an image HDU (primary or extension) with celestial WCS keywords; the
  non-spatial axes come from the HDU named by ``hdu_bands``, else by the ``BANDSHDU``
  keyword, else (for cubes) from an ``EBOUNDS`` or ``ENERGIES`` HDU
  (see :mod:`gammaprob.maps.bands`).
- **HEALPix**: a binary table with ``PIXTYPE = 'HEALPIX'`` (delegated to
  :mod:`gammaprob.maps.hpx_io`).
- **Region map**: a ``CHANNEL``/``DATA`` table with a ``REGHDU`` keyword or a
  ``<hdu>_REGION`` table (delegated to :mod:`gammaprob.maps.region_io`).

Written files use an image HDU plus a gammapy-compatible ``BANDS`` table and round-trip
exactly (values, dtype, unit, axes, WCS). Boolean maps are stored as ``uint8`` with
``MAPDTYPE = 'bool'``.

The unit comes from ``BUNIT``. An absent or empty ``BUNIT`` means dimensionless (as FITS
readers and gammapy take it) unless the caller passes ``unit=``: Fermi tools omit it, so pass
``unit="cm2 s"`` for their exposure cubes. A dimensionless map is refused where a unit is
required (e.g. as the exposure of a :class:`~gammaprob.datasets.MapDataset`), with the advice
to read it with ``unit=``. A ``unit=`` that disagrees with a non-empty ``BUNIT`` is an error.
"""

from __future__ import annotations

import os
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import get_hdu, open_fits
from gammaprob.utils.io import atomic_path

from .axes import MapAxes
from .bands import axes_from_bands_hdu, axes_to_bands_hdu, axes_to_header
from .map import Map
from .wcs import WcsGeom

__all__ = ["map_from_hdulist", "map_to_hdulist", "map_to_hdus", "read_map", "write_map"]

_IMAGE_TYPES = (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)


def _is_healpix(hdu) -> bool:
    return (
        isinstance(hdu, fits.BinTableHDU)
        and str(hdu.header.get("PIXTYPE", "")).strip().upper() == "HEALPIX"
    )


def _is_region_table(hdu) -> bool:
    """Return True for a CHANNEL/DATA table with AXCOLS keywords (gammapy region-map layout)."""
    if not isinstance(hdu, fits.BinTableHDU):
        return False
    return "DATA" in [c.upper() for c in hdu.columns.names] and "AXCOLS1" in hdu.header


def _is_region_map(hdulist: fits.HDUList, hdu) -> bool:
    if not isinstance(hdu, fits.BinTableHDU):
        return False
    if "REGHDU" in hdu.header:
        return True
    return _is_region_table(hdu) and f"{hdu.name}_REGION" in hdulist


def _find_map_hdu(hdulist: fits.HDUList, path) -> Any:
    for hdu in hdulist:
        if isinstance(hdu, _IMAGE_TYPES) and hdu.data is not None and hdu.data.ndim >= 2:
            return hdu
        if _is_healpix(hdu) or _is_region_map(hdulist, hdu):
            return hdu
    raise FormatError(
        f"no map HDU found (an image with NAXIS >= 2, a HEALPix table or a region map table); "
        f"the file has {[h.name for h in hdulist]}",
        path=path,
    )


def _bands_hdu_name(hdulist: fits.HDUList, hdu, hdu_bands: str | None) -> str | None:
    if hdu_bands is not None:
        return hdu_bands
    if "BANDSHDU" in hdu.header:
        return str(hdu.header["BANDSHDU"]).strip()
    is_cube = (isinstance(hdu, _IMAGE_TYPES) and hdu.header.get("NAXIS", 0) >= 3) or (
        _is_healpix(hdu) and len(hdu.columns) > 1
    )
    if is_cube:
        for name in ("EBOUNDS", "ENERGIES"):
            if name in hdulist:
                return name
    return None


def _read_unit(hdu, unit: Any, path) -> u.UnitBase:
    header = hdu.header
    if "BUNIT" not in header:
        # absent: dimensionless, as for FITS readers and gammapy; where a unit is required
        # (exposure, flux) the map is refused later with the advice to pass unit=
        return u.one if unit is None else u.Unit(unit)
    text = str(header["BUNIT"]).strip()
    if not text and unit is not None:
        return u.Unit(unit)  # an empty BUNIT may be made explicit by the caller
    try:
        file_unit = u.Unit(text, parse_strict="raise")
    except ValueError as exc:
        raise FormatError(
            f"unknown unit BUNIT={text!r}", path=path, hdu=hdu.name, column="BUNIT"
        ) from exc
    if unit is not None and u.Unit(unit) != file_unit:
        raise FormatError(
            f"BUNIT={text!r} disagrees with the requested unit {str(unit)!r}",
            path=path,
            hdu=hdu.name,
            column="BUNIT",
        )
    return file_unit


def _native(data: np.ndarray) -> np.ndarray:
    return np.asarray(data).astype(data.dtype.newbyteorder("="), copy=True)


def map_from_hdulist(
    hdulist: fits.HDUList,
    hdu: str | int | None = None,
    hdu_bands: str | None = None,
    unit: Any = None,
    path: str | os.PathLike | None = None,
) -> Map:
    """Build a map from an open FITS file; see :func:`read_map`."""
    map_hdu = _find_map_hdu(hdulist, path) if hdu is None else get_hdu(hdulist, hdu, path)
    if _is_region_map(hdulist, map_hdu):
        from .region_io import region_map_from_hdulist

        return region_map_from_hdulist(hdulist, hdu=map_hdu.name, path=path)
    bands_name = _bands_hdu_name(hdulist, map_hdu, hdu_bands)
    bands_hdu = None if bands_name is None else get_hdu(hdulist, bands_name, path)
    if _is_healpix(map_hdu):
        from .hpx_io import hpx_map_from_hdu

        return hpx_map_from_hdu(map_hdu, bands_hdu, _read_unit(map_hdu, unit, path), path)
    if _is_region_table(map_hdu):
        raise FormatError(
            "this is a region map table without a REGION HDU (gammapy's RegionGeom with "
            "region=None), which gammaprob does not read",
            path=path,
            hdu=map_hdu.name,
        )
    if not isinstance(map_hdu, _IMAGE_TYPES) or map_hdu.data is None:
        raise FormatError(
            "expected an image HDU with data or a HEALPix table (PIXTYPE='HEALPIX')",
            path=path,
            hdu=map_hdu.name,
        )
    axes = MapAxes() if bands_hdu is None else axes_from_bands_hdu(bands_hdu, path)
    header = map_hdu.header
    naxis = int(header.get("NAXIS", 0))
    if naxis > 2 and bands_hdu is None:
        raise FormatError(
            f"a {naxis}-dimensional image needs a bands table (BANDSHDU keyword, EBOUNDS or "
            f"ENERGIES HDU) describing its non-spatial axes",
            path=path,
            hdu=map_hdu.name,
        )
    try:
        geom = WcsGeom.from_header(header, axes=axes)
    except (ValueError, KeyError) as exc:
        raise FormatError(f"invalid WCS: {exc}", path=path, hdu=map_hdu.name) from exc
    data = _native(map_hdu.data)
    if data.shape != geom.data_shape:
        raise FormatError(
            f"data shape {data.shape} does not match the shape {geom.data_shape} expected from "
            f"NAXIS1/NAXIS2 and the axes {axes.names} of bands HDU {bands_name!r}",
            path=path,
            hdu=map_hdu.name,
        )
    if str(header.get("MAPDTYPE", "")).strip() == "bool":
        data = data.astype(bool)
    return Map(geom, data=data, unit=_read_unit(map_hdu, unit, path))


def read_map(
    path: str | os.PathLike,
    hdu: str | int | None = None,
    hdu_bands: str | None = None,
    unit: Any = None,
) -> Map:
    """Read a map from a FITS file.

    Parameters
    ----------
    path : str or path-like
        File name (``.fits`` or ``.fits.gz``).
    hdu : str or int, optional
        Map HDU (default: the first image with NAXIS >= 2 or HEALPix table).
    hdu_bands : str, optional
        Bands HDU (default: the ``BANDSHDU`` keyword, else ``EBOUNDS``/``ENERGIES`` for cubes).
    unit : str or `~astropy.units.Unit`, optional
        Unit to use when ``BUNIT`` is absent or empty (an error if it disagrees with a
        non-empty ``BUNIT``). Without it such a map is dimensionless: pass e.g.
        ``unit="cm2 s"`` for a Fermi exposure cube, which has no ``BUNIT``.

    Returns
    -------
    Map
        The map.

    Raises
    ------
    FormatError
        Missing HDU, unknown unit, invalid or non-monotonic axes, data shape not
        matching the header; the message names the file and HDU.
    """
    with open_fits(path) as hdulist:
        return map_from_hdulist(hdulist, hdu=hdu, hdu_bands=hdu_bands, unit=unit, path=path)


def map_to_hdus(m: Map, hdu: str = "PRIMARY", hdu_bands: str | None = None) -> list:
    """Convert a map to its FITS HDUs: the map HDU and (for cubes) its bands table.

    Parameters
    ----------
    m : Map
        The map.
    hdu : str
        Name of the map HDU (``"PRIMARY"`` gives a primary image HDU; HEALPix and region
        maps are tables and go to ``"SKYMAP"`` instead).
    hdu_bands : str, optional
        Name of the bands table (default ``"BANDS"`` for a primary image, else
        ``"<hdu>_BANDS"``).

    Returns
    -------
    list of HDUs
        ``[map_hdu]`` or ``[map_hdu, bands_hdu]``.
    """
    geom = m.geom
    hdu = hdu.upper()
    if not isinstance(geom, WcsGeom):
        from .hpx import HpxGeom

        if isinstance(geom, HpxGeom):
            from .hpx_io import hpx_map_to_hdus

            return hpx_map_to_hdus(m, hdu, hdu_bands)
        from .region_io import region_map_to_hdus

        return region_map_to_hdus(m, hdu, hdu_bands)
    if hdu_bands is None:
        hdu_bands = "BANDS" if hdu == "PRIMARY" else f"{hdu}_BANDS"
    header = geom.to_header()
    header.update(axes_to_header(geom.axes))
    data = m.data
    if data.dtype == bool:
        data = data.astype(np.uint8)
        header["MAPDTYPE"] = "bool"
    header["BUNIT"] = m.unit.to_string("fits") if m.unit != u.one else ""
    hdus = []
    if len(geom.axes):
        header["BANDSHDU"] = hdu_bands
    if hdu == "PRIMARY":
        hdus.append(fits.PrimaryHDU(data=data, header=header))
    else:
        hdus.append(fits.ImageHDU(data=data, header=header, name=hdu))
    if len(geom.axes):
        hdus.append(axes_to_bands_hdu(geom.axes, name=hdu_bands))
    return hdus


def map_to_hdulist(m: Map, hdu: str = "PRIMARY", hdu_bands: str | None = None) -> fits.HDUList:
    """Return a complete HDUList (with an empty primary HDU if the map goes to an extension)."""
    hdus = map_to_hdus(m, hdu=hdu, hdu_bands=hdu_bands)
    if not isinstance(hdus[0], fits.PrimaryHDU):
        hdus.insert(0, fits.PrimaryHDU())
    return fits.HDUList(hdus)


def write_map(
    m: Map, path: str | os.PathLike, overwrite: bool = False, hdu: str = "PRIMARY"
) -> None:
    """Write a map to a FITS file, atomically.

    Parameters
    ----------
    m : Map
        The map.
    path : str or path-like
        Output file.
    overwrite : bool
        Replace an existing file.
    hdu : str
        Name of the map HDU.
    """
    with atomic_path(path, overwrite=overwrite) as tmp:
        map_to_hdulist(m, hdu=hdu).writeto(tmp)
