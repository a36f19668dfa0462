"""Pure HEALPix helpers on healpy: nside checks, region strings, pixel selection.

Everything here works on plain numbers and arrays (angles in deg, solid angles in sr); the
:class:`~gammaprob.maps.hpx.HpxGeom` class adds units and axes on top. healpy (which
imports matplotlib) is imported inside the functions that call it, not with this module.

The ``HPX_REG`` region strings follow the Fermi-LAT / gammapy convention:

- ``DISK(lon, lat, radius)``: pixels whose centres lie within ``radius`` of (lon, lat);
- ``DISK_INC(lon, lat, radius, fact)``: pixels that overlap the disc (healpy
  ``inclusive=True`` with oversampling ``fact``);
- ``HPX_PIXEL(ordering, nside, ipix)``: the pixels inside one coarser HEALPix pixel.

All angles in degrees, in the frame of the geometry.
"""

from __future__ import annotations

import re

import numpy as np

from .coord import check_frame

__all__ = [
    "FRAME_TO_COORDSYS",
    "check_nside",
    "coordsys_to_frame",
    "disk_region",
    "frame_to_coordsys",
    "lonlat_to_pix",
    "nside_from_pixel_size",
    "parse_hpx_region",
    "pix_to_lonlat",
    "pixel_size",
    "pixel_solid_angle",
    "region_pixels",
    "sky_region_pixels",
]

MAX_NSIDE = 2**29
"""Largest nside healpy supports."""

FRAME_TO_COORDSYS = {"icrs": "CEL", "galactic": "GAL"}
_COORDSYS_TO_FRAME = {"CEL": "icrs", "C": "icrs", "GAL": "galactic", "G": "galactic"}

_REGION_RE = re.compile(r"^\s*([A-Z_]+)\s*\((.*)\)\s*$", re.IGNORECASE)
_REGION_NARGS = {"DISK": 3, "DISK_INC": 4, "HPX_PIXEL": 3}


def check_nside(nside) -> int:
    """Validate a HEALPix ``nside`` and return it as an int.

    Parameters
    ----------
    nside : int
        Number of divisions of each base pixel side; a power of 2 between 1 and 2**29
        (powers of two are required so that both orderings and the FITS ``ORDER`` keyword
        are defined).

    Returns
    -------
    int
        The validated nside.
    """
    if isinstance(nside, bool) or not isinstance(nside, int | np.integer):
        raise TypeError(f"nside must be an integer power of 2, got {nside!r}")
    nside = int(nside)
    if nside < 1 or nside > MAX_NSIDE or nside & (nside - 1):
        raise ValueError(f"nside must be a power of 2 between 1 and 2**29, got {nside}")
    return nside


def frame_to_coordsys(frame: str) -> str:
    """Return the FITS ``COORDSYS`` value ("CEL" or "GAL") for a frame name."""
    return FRAME_TO_COORDSYS[check_frame(frame)]


def coordsys_to_frame(coordsys: str) -> str:
    """Return the frame name for a FITS ``COORDSYS`` value ("CEL"/"C" or "GAL"/"G").

    Frame names ("icrs", "galactic") are accepted too, as some writers put them there.
    """
    text = str(coordsys).strip().upper()
    if text in _COORDSYS_TO_FRAME:
        return _COORDSYS_TO_FRAME[text]
    if text.lower() in FRAME_TO_COORDSYS:
        return text.lower()
    raise ValueError(f"unknown HEALPix COORDSYS {coordsys!r}; expected 'CEL' or 'GAL'")


def pixel_solid_angle(nside: int) -> float:
    """Solid angle of one HEALPix pixel in sr: 4 pi / (12 nside^2)."""
    return 4.0 * np.pi / (12.0 * check_nside(nside) ** 2)


def pixel_size(nside: int) -> float:
    """Approximate pixel size in deg (square root of the pixel solid angle)."""
    return float(np.degrees(np.sqrt(pixel_solid_angle(nside))))


def nside_from_pixel_size(binsz: float) -> int:
    """Return the power-of-2 nside whose pixel size (deg) is closest to ``binsz`` (log scale)."""
    binsz = float(binsz)
    if not binsz > 0:
        raise ValueError(f"binsz must be a positive angle in deg, got {binsz}")
    # pixel size ~ sqrt(4 pi / 12) rad / nside
    order = np.log2(np.degrees(np.sqrt(np.pi / 3.0)) / binsz)
    return 2 ** int(np.clip(np.round(order), 0, 29))


def pix_to_lonlat(nside: int, ipix, nest: bool) -> tuple[np.ndarray, np.ndarray]:
    """Centres of HEALPix pixels.

    Parameters
    ----------
    nside : int
        HEALPix nside.
    ipix : array_like of int
        Global pixel indices.
    nest : bool
        NESTED (True) or RING (False) ordering.

    Returns
    -------
    lon, lat : numpy.ndarray
        Longitude in [0, 360) and latitude in deg.
    """
    import healpy as hp

    lon, lat = hp.pix2ang(nside, np.asarray(ipix, dtype=np.int64), nest=nest, lonlat=True)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def lonlat_to_pix(nside: int, lon, lat, nest: bool) -> np.ndarray:
    """Global HEALPix pixel containing each (lon, lat) in deg; -1 where not finite."""
    import healpy as hp

    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    finite = np.isfinite(lon) & np.isfinite(lat)
    out = np.full(lon.shape, -1, dtype=np.int64)
    if np.any(np.abs(lat[finite]) > 90.0):
        raise ValueError("latitude must lie in [-90, 90] deg")
    out[finite] = hp.ang2pix(nside, lon[finite], lat[finite], nest=nest, lonlat=True)
    return out


def parse_hpx_region(text: str) -> tuple[str, tuple]:
    """Parse an ``HPX_REG`` string.

    Parameters
    ----------
    text : str
        ``"DISK(lon,lat,radius)"``, ``"DISK_INC(lon,lat,radius,fact)"`` or
        ``"HPX_PIXEL(ordering,nside,ipix)"`` (angles in deg).

    Returns
    -------
    kind : str
        "DISK", "DISK_INC" or "HPX_PIXEL".
    params : tuple
        (lon, lat, radius) floats; (lon, lat, radius, fact) with int fact; or
        (ordering str, nside int, ipix int).
    """
    match = _REGION_RE.match(str(text))
    if match is None:
        raise ValueError(
            f"malformed HEALPix region {text!r}; expected e.g. 'DISK(83.6,22.0,5.0)', "
            "'DISK_INC(lon,lat,radius,fact)' or 'HPX_PIXEL(NESTED,4,17)'"
        )
    kind = match.group(1).upper()
    args = [a.strip() for a in match.group(2).split(",")]
    if kind not in _REGION_NARGS:
        raise ValueError(
            f"unknown HEALPix region type {kind!r} in {text!r}; expected one of {sorted(_REGION_NARGS)}"
        )
    if len(args) != _REGION_NARGS[kind]:
        raise ValueError(f"HEALPix region {text!r} needs {_REGION_NARGS[kind]} arguments")
    try:
        if kind == "HPX_PIXEL":
            ordering = args[0].upper()
            if ordering not in ("NESTED", "RING"):
                raise ValueError(f"ordering must be NESTED or RING, got {args[0]!r}")
            params = (ordering, check_nside(int(args[1])), int(args[2]))
            if not 0 <= params[2] < 12 * params[1] ** 2:
                raise ValueError(f"pixel {params[2]} does not exist for nside {params[1]}")
        else:
            lon, lat, radius = (float(a) for a in args[:3])
            if not (-90.0 <= lat <= 90.0 and 0.0 < radius <= 180.0 and np.isfinite(lon)):
                raise ValueError("need finite lon, lat in [-90, 90] and radius in (0, 180] deg")
            params = (lon, lat, radius) if kind == "DISK" else (lon, lat, radius, int(args[3]))
    except ValueError as exc:
        raise ValueError(f"malformed HEALPix region {text!r}: {exc}") from exc
    return kind, params


def disk_region(lon: float, lat: float, radius: float) -> str:
    """Return the ``HPX_REG`` string ``DISK(lon,lat,radius)`` (deg), floats written exactly."""
    return f"DISK({float(lon)!r},{float(lat)!r},{float(radius)!r})"


def lonlat_to_vec(lon, lat) -> np.ndarray:
    """Return the unit vector(s) of (lon, lat) in deg, shape (..., 3)."""
    import healpy as hp

    return np.asarray(hp.ang2vec(lon, lat, lonlat=True), dtype=float)


def region_pixels(nside: int, nest: bool, region: str) -> np.ndarray:
    """Global pixel indices (sorted) selected by an ``HPX_REG`` string.

    Parameters
    ----------
    nside : int
        HEALPix nside.
    nest : bool
        NESTED (True) or RING (False) ordering of the returned indices.
    region : str
        See :func:`parse_hpx_region`.

    Returns
    -------
    numpy.ndarray of int64
        Sorted global pixel indices.
    """
    import healpy as hp

    kind, params = parse_hpx_region(region)
    if kind in ("DISK", "DISK_INC"):
        vec = lonlat_to_vec(params[0], params[1])
        radius = np.radians(params[2])
        if kind == "DISK":
            ipix = hp.query_disc(nside, vec, radius, inclusive=False, nest=nest)
        else:
            ipix = hp.query_disc(nside, vec, radius, inclusive=True, nest=nest, fact=params[3])
    else:
        ordering, nside_pix, ipix_pix = params
        if nside_pix > nside:
            raise ValueError(
                f"HPX_PIXEL region nside {nside_pix} is finer than the geometry nside {nside}"
            )
        nest_pix = ipix_pix if ordering == "NESTED" else int(hp.ring2nest(nside_pix, ipix_pix))
        factor = (nside // nside_pix) ** 2
        ipix = np.arange(nest_pix * factor, (nest_pix + 1) * factor, dtype=np.int64)
        if not nest:
            ipix = hp.nest2ring(nside, ipix)
    return np.sort(np.asarray(ipix, dtype=np.int64))


def sky_region_pixels(nside: int, nest: bool, frame: str, region) -> np.ndarray:
    """Global pixel indices (sorted) whose centres lie inside a ``regions`` sky region.

    Parameters
    ----------
    nside : int
        HEALPix nside.
    nest : bool
        NESTED (True) or RING (False) ordering.
    frame : {"icrs", "galactic"}
        Frame of the HEALPix sphere (the region may be in another frame).
    region : regions.SkyRegion
        The region; shapes are tested in a TAN projection about the region centre, so the
        region must lie within 80 deg of its centre.

    Returns
    -------
    numpy.ndarray of int64
        Sorted global pixel indices.
    """
    import healpy as hp
    from astropy.coordinates import SkyCoord

    from .region_utils import local_wcs, region_center, region_extent

    center = region_center(region)
    extent = region_extent(region, center)
    if extent >= 80.0:
        raise ValueError(
            f"region extends {extent:.1f} deg from its centre; at most 80 deg supported"
        )
    center_hpx = center.transform_to(check_frame(frame))
    vec = lonlat_to_vec(center_hpx.spherical.lon.deg, center_hpx.spherical.lat.deg)
    candidates = hp.query_disc(nside, vec, np.radians(extent) * (1 + 1e-9) + 1e-12, nest=nest)
    lon, lat = pix_to_lonlat(nside, candidates, nest)
    wcs = local_wcs(center, max(extent, 1e-3) / 100.0, 201)
    inside = region.contains(SkyCoord(lon, lat, unit="deg", frame=frame), wcs)
    return np.sort(np.asarray(candidates, dtype=np.int64)[np.asarray(inside, dtype=bool)])
