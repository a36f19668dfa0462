"""HEALPix maps in FITS binary tables (the ``SKYMAP`` layout of gammapy and the Fermi tools).

Header keywords: ``PIXTYPE = 'HEALPIX'``, ``ORDERING`` (``RING``/``NESTED``), ``NSIDE`` (or
``ORDER``), ``COORDSYS`` (``CEL``/``GAL``; Fermi exposure cubes omit it and give
``RADECSYS = 'FK5'`` instead, read as icrs), ``INDXSCHM`` and, for a partial sky given by a
region, ``HPX_REG``. Index schemes:

- ``IMPLICIT`` (or absent): one row per pixel of the full sky, in pixel order;
- ``EXPLICIT``: a ``PIX`` column gives the global pixel of each row; without ``HPX_REG`` the
  geometry is the set of listed pixels;
- ``SPARSE``: columns ``PIX``, (``CHANNEL``,) ``VALUE`` list the non-zero values only.

Data columns (all other columns, in order, e.g. ``CHANNEL1..N`` or Fermi's ``ENERGY1..N``)
hold one channel each; channel ``i`` is the data slice ``data.reshape(-1, npix)[i]`` (first
axis fastest), the order of the bands table. Healpy's full-sky layout (one column with
vector rows) is read too.
"""

from __future__ import annotations

import os
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import fits

from gammaprob.utils.errors import FormatError

from .axes import MapAxes
from .bands import axes_from_bands_hdu, axes_to_bands_hdu, axes_to_header
from .hpx import HpxGeom
from .hpx_utils import check_nside, coordsys_to_frame, frame_to_coordsys
from .map import Map

__all__ = ["geom_from_header", "hpx_header", "hpx_map_from_hdu", "hpx_map_to_hdus"]

_INDEX_COLUMNS = ("PIX", "CHANNEL", "VALUE")


def hpx_header(geom: HpxGeom) -> fits.Header:
    """Return the HEALPix keywords of a ``SKYMAP`` table for ``geom``.

    Parameters
    ----------
    geom : HpxGeom
        The geometry.

    Returns
    -------
    `~astropy.io.fits.Header`
        PIXTYPE, ORDERING, COORDSYS, INDXSCHM, ORDER, NSIDE, FIRSTPIX, LASTPIX, HPX_CONV,
        EQUINOX (icrs) and HPX_REG (region geometries).
    """
    header = fits.Header()
    header["PIXTYPE"] = "HEALPIX"
    header["ORDERING"] = geom.ordering
    header["COORDSYS"] = frame_to_coordsys(geom.frame)
    header["INDXSCHM"] = geom.indxschm
    header["ORDER"] = geom.order
    header["NSIDE"] = geom.nside
    header["FIRSTPIX"] = 0
    header["LASTPIX"] = geom.npix_max - 1
    header["HPX_CONV"] = "GADF"
    if geom.frame == "icrs":
        header["EQUINOX"] = (2000.0, "Equinox of RA & DEC specifications")
    if geom.region is not None:
        header["HPX_REG"] = geom.region
    return header


def _header_text(header: fits.Header, key: str) -> str | None:
    value = header.get(key)
    return None if value is None else str(value).strip().upper()


def geom_from_header(
    header: fits.Header,
    hdu_bands: fits.BinTableHDU | None = None,
    pixels: Any = None,
    axes: Any = None,
    path: str | os.PathLike | None = None,
) -> HpxGeom:
    """Create an :class:`HpxGeom` from the header of a HEALPix table.

    Parameters
    ----------
    header : `~astropy.io.fits.Header`
        The table header.
    hdu_bands : `~astropy.io.fits.BinTableHDU`, optional
        Bands table with the non-spatial axes (BANDS, EBOUNDS or ENERGIES).
    pixels : array-like of int, optional
        The PIX column (needed for EXPLICIT tables without ``HPX_REG``).
    axes : sequence of axes, optional
        Axes, instead of ``hdu_bands``.
    path : str or path-like, optional
        File name, for error messages.

    Returns
    -------
    HpxGeom
        The geometry.

    Raises
    ------
    FormatError
        Not a HEALPix header, unknown ORDERING or COORDSYS, missing or invalid NSIDE.
    """
    hdu = header.get("EXTNAME")

    def fail(msg: str, column: str | None = None) -> FormatError:
        return FormatError(msg, path=path, hdu=hdu, column=column)

    if _header_text(header, "PIXTYPE") != "HEALPIX":
        raise fail(f"PIXTYPE is {header.get('PIXTYPE')!r}, expected 'HEALPIX'", "PIXTYPE")
    ordering = _header_text(header, "ORDERING")
    if ordering not in ("RING", "NESTED", "NEST"):
        raise fail(
            f"unknown ORDERING {header.get('ORDERING')!r}; expected 'RING' or 'NESTED'", "ORDERING"
        )
    if "NSIDE" in header:
        nside = header["NSIDE"]
        if "ORDER" in header and int(header["ORDER"]) >= 0 and 2 ** int(header["ORDER"]) != nside:
            raise fail(f"NSIDE={nside} and ORDER={header['ORDER']} disagree", "NSIDE")
    elif "ORDER" in header:
        nside = 2 ** int(header["ORDER"])
    else:
        raise fail("neither NSIDE nor ORDER is given", "NSIDE")
    try:
        nside = check_nside(nside)
    except (TypeError, ValueError) as exc:
        raise fail(f"invalid NSIDE: {exc}", "NSIDE") from None
    if "COORDSYS" in header:
        try:
            frame = coordsys_to_frame(header["COORDSYS"])
        except ValueError as exc:
            raise fail(str(exc), "COORDSYS") from None
    elif _header_text(header, "RADECSYS") in ("FK5", "ICRS") or _header_text(header, "RADESYS") in (
        "FK5",
        "ICRS",
    ):
        frame = "icrs"  # Fermi exposure cubes: equatorial J2000, no COORDSYS
    else:
        raise fail("no COORDSYS keyword ('CEL' or 'GAL') to give the sky frame", "COORDSYS")
    region = header.get("HPX_REG", header.get("HPXREGION"))
    region = None if region is None or not str(region).strip() else str(region).strip()
    indxschm = _header_text(header, "INDXSCHM") or "IMPLICIT"
    if indxschm not in ("IMPLICIT", "EXPLICIT", "SPARSE"):
        raise fail(
            f"unknown INDXSCHM {indxschm!r}; expected IMPLICIT, EXPLICIT or SPARSE", "INDXSCHM"
        )
    if indxschm == "EXPLICIT" and region is None and pixels is None:
        raise fail("an EXPLICIT table without HPX_REG needs its PIX column", "PIX")
    if region is not None or indxschm != "EXPLICIT":
        pixels = None
    if axes is None:
        axes = MapAxes() if hdu_bands is None else axes_from_bands_hdu(hdu_bands, path)
    try:
        return HpxGeom(
            nside, nest=ordering != "RING", frame=frame, region=region, pixels=pixels, axes=axes
        )
    except (TypeError, ValueError) as exc:
        raise fail(f"invalid HEALPix geometry: {exc}") from exc


def _column(hdu: fits.BinTableHDU, name: str, path) -> np.ndarray:
    names = {n.upper(): n for n in hdu.columns.names}
    if name not in names:
        raise FormatError(
            f"required column is missing; the table has {hdu.columns.names}",
            path=path,
            hdu=hdu.name,
            column=name,
        )
    return np.asarray(hdu.data[names[name]])


def _native(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values.astype(values.dtype.newbyteorder("="), copy=False)


def hpx_map_from_hdu(
    hdu: fits.BinTableHDU,
    hdu_bands: fits.BinTableHDU | None,
    unit: Any,
    path: str | os.PathLike | None = None,
) -> Map:
    """Read a HEALPix map from its table (IMPLICIT, EXPLICIT or SPARSE).

    Parameters
    ----------
    hdu : `~astropy.io.fits.BinTableHDU`
        The HEALPix table.
    hdu_bands : `~astropy.io.fits.BinTableHDU` or None
        Bands table for maps with non-spatial axes.
    unit : str or `~astropy.units.Unit`
        Unit of the values (read from ``BUNIT`` by the caller).
    path : str or path-like, optional
        File name, for error messages.

    Returns
    -------
    Map
        The map, with the dtype of the data columns.
    """
    header = hdu.header
    indxschm = _header_text(header, "INDXSCHM") or "IMPLICIT"
    names = [n.upper() for n in hdu.columns.names]
    pixels = _column(hdu, "PIX", path) if indxschm == "EXPLICIT" and "PIX" in names else None
    geom = geom_from_header(header, hdu_bands=hdu_bands, pixels=pixels, path=path)
    nchan = int(np.prod(geom.axes.shape))
    shape2d = (nchan, geom.npix)

    if indxschm == "SPARSE":
        pix = _column(hdu, "PIX", path).astype(np.int64)
        values = _native(_column(hdu, "VALUE", path))
        chan = (
            _column(hdu, "CHANNEL", path).astype(np.int64)
            if "CHANNEL" in names
            else np.zeros(pix.size, np.int64)
        )
        local = geom.global_to_local(pix)
        if np.any(local < 0) or np.any((chan < 0) | (chan >= nchan)):
            raise FormatError(
                f"SPARSE table has PIX outside the geometry or CHANNEL outside [0, {nchan})",
                path=path,
                hdu=hdu.name,
                column="PIX",
            )
        data = np.zeros(shape2d, dtype=values.dtype)
        data[chan, local] = values
    else:
        columns = [n for n in hdu.columns.names if n.upper() != "PIX"]
        if len(columns) == 1 and nchan == 1 and np.ndim(hdu.data[columns[0]]) == 2:
            values = [_native(hdu.data[columns[0]]).ravel()]  # healpy: vector rows
        else:
            values = [_native(hdu.data[name]) for name in columns]
        if len(values) != nchan:
            raise FormatError(
                f"the table has {len(values)} data columns {columns} but the axes "
                f"{geom.axes.names} have {nchan} channels",
                path=path,
                hdu=hdu.name,
            )
        nrows = values[0].shape[0] if values else 0
        if indxschm == "EXPLICIT":
            local = geom.global_to_local(_column(hdu, "PIX", path).astype(np.int64))
            if np.any(local < 0):
                raise FormatError(
                    "PIX column lists pixels outside HPX_REG", path=path, hdu=hdu.name, column="PIX"
                )
        else:
            if nrows != geom.npix:
                raise FormatError(
                    f"IMPLICIT table has {nrows} rows, expected {geom.npix} (12 * NSIDE^2)",
                    path=path,
                    hdu=hdu.name,
                )
            local = slice(None)
        dtype = np.result_type(*values)
        data = np.zeros(shape2d, dtype=dtype)
        for i, column in enumerate(values):
            data[i, local] = column
    if str(header.get("MAPDTYPE", "")).strip() == "bool":
        data = data.astype(bool)
    return Map(geom, data=data.reshape(geom.data_shape), unit=unit)


_FORMATS = {"f4": "E", "f8": "D", "i1": "B", "u1": "B", "i2": "I", "i4": "J", "i8": "K", "b1": "L"}


def hpx_map_to_hdus(
    m: Map, hdu: str = "SKYMAP", hdu_bands: str | None = None, sparse: bool = False
) -> list:
    """Convert a HEALPix map to its table HDU and (with axes) its bands table.

    Parameters
    ----------
    m : Map
        Map with an :class:`HpxGeom`.
    hdu : str
        Table name (``"PRIMARY"`` becomes ``"SKYMAP"``: a table cannot be the primary HDU).
    hdu_bands : str, optional
        Bands table name (default ``"<hdu>_BANDS"``).
    sparse : bool
        Write ``INDXSCHM = 'SPARSE'``: only non-zero values, as ``PIX``, ``CHANNEL``, ``VALUE``
        (full-sky and ``HPX_REG`` geometries only).

    Returns
    -------
    list of HDUs
        ``[table]`` or ``[table, bands]``; columns ``CHANNEL1..N`` keep the data dtype, so
        reading the file back gives the same map exactly.
    """
    geom = m.geom
    if not isinstance(geom, HpxGeom):
        raise TypeError(f"expected a map with an HpxGeom, got {type(geom).__name__}")
    name = "SKYMAP" if hdu.upper() == "PRIMARY" else hdu.upper()
    hdu_bands = hdu_bands or f"{name}_BANDS"
    header = hpx_header(geom)
    header.update(axes_to_header(geom.axes))
    data = np.asarray(m.data)
    if data.dtype == bool:
        header["MAPDTYPE"] = "bool"
        data = data.astype(np.uint8)
    code = _FORMATS.get(data.dtype.str[1:])
    if code is None:
        raise TypeError(f"cannot write map data of dtype {data.dtype} to a HEALPix table")
    header["BUNIT"] = m.unit.to_string("fits") if m.unit != u.one else ""
    if len(geom.axes):
        header["BANDSHDU"] = hdu_bands
    pix_format = "J" if geom.npix_max < 2**31 else "K"
    data2d = data.reshape(-1, geom.npix)
    if sparse:
        if geom.indxschm == "EXPLICIT" and geom.region is None:
            raise ValueError(
                "sparse=True cannot store a geometry given by an explicit pixel list (it has no "
                "HPX_REG and would read back as full sky); write it with sparse=False"
            )
        header["INDXSCHM"] = "SPARSE"
        chan, local = np.nonzero(data2d)
        cols = [
            fits.Column("PIX", pix_format, array=geom.pixels[local]),
            fits.Column("CHANNEL", "J", array=chan),
            fits.Column("VALUE", code, array=data2d[chan, local]),
        ]
    else:
        cols = []
        if geom.indxschm == "EXPLICIT":
            cols.append(fits.Column("PIX", pix_format, array=geom.pixels))
        for i, values in enumerate(data2d, start=1):
            cols.append(fits.Column(f"CHANNEL{i}", code, array=values))
    table = fits.BinTableHDU.from_columns(cols, header=header, name=name)
    hdus = [table]
    if len(geom.axes):
        hdus.append(axes_to_bands_hdu(geom.axes, name=hdu_bands))
    return hdus
