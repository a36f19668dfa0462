"""HEALPix sky maps on healpy: :class:`HpxGeom`.

A HEALPix geometry is an ``nside``, an ordering (NESTED or RING), a sky frame, and either
the whole sky or a partial-sky set of pixels (from an ``HPX_REG`` region string such as
``"DISK(83.6,22.0,5.0)"``, a ``regions`` sky region, or an explicit pixel list), plus
non-spatial axes. The spatial data dimension has one entry per selected pixel, in increasing
global pixel index: the *local* index ``i`` refers to global HEALPix pixel ``pixels[i]``.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from regions import CircleSkyRegion, SkyRegion

from .axes import MapAxes
from .coord import MapCoord, check_frame
from .geom import Geom
from .hpx_utils import (
    check_nside,
    disk_region,
    lonlat_to_pix,
    nside_from_pixel_size,
    parse_hpx_region,
    pix_to_lonlat,
    pixel_size,
    pixel_solid_angle,
    region_pixels,
    sky_region_pixels,
)

__all__ = ["HpxGeom"]


class HpxGeom(Geom):
    """HEALPix geometry (full or partial sky) plus non-spatial axes.

    Parameters
    ----------
    nside : int
        HEALPix nside, a power of 2 (pixel solid angle ``4 pi / (12 nside^2)`` sr).
    nest : bool
        NESTED (True) or RING (False) pixel ordering.
    frame : {"icrs", "galactic"}
        Sky frame of the HEALPix sphere.
    region : str or regions.SkyRegion, optional
        Partial sky: an ``HPX_REG`` string (``"DISK(lon,lat,radius)"``,
        ``"DISK_INC(lon,lat,radius,fact)"``, ``"HPX_PIXEL(NESTED|RING,nside,ipix)"``, angles in
        deg in ``frame``) or a sky region (pixels whose centres lie inside it). A circle is
        stored as its ``DISK`` string.
    pixels : array-like of int, optional
        Partial sky given by an explicit list of global pixel indices (sorted and made
        unique). Exclusive with ``region``.
    axes : sequence of axes or MapAxes, optional
        Non-spatial axes.

    Notes
    -----
    Differences from gammapy: one ``nside`` for all bins (no per-energy nside), and
    ``nside`` must be a power of 2 in both orderings.

    Examples
    --------
    >>> geom = HpxGeom.create(nside=16, frame="galactic", region="DISK(0, 0, 10)")
    >>> geom.npix, geom.data_shape
    (28, (28,))
    """

    def __init__(
        self,
        nside: int,
        nest: bool = True,
        frame: str = "icrs",
        region: str | SkyRegion | None = None,
        pixels: Any = None,
        axes: Any = None,
    ) -> None:
        self._nside = check_nside(nside)
        if not isinstance(nest, bool | np.bool_):
            raise TypeError(f"nest must be True (NESTED) or False (RING), got {nest!r}")
        self._nest = bool(nest)
        self._frame = check_frame(frame)
        self._axes = MapAxes(axes or [])
        if region is not None and pixels is not None:
            raise ValueError("give either region or pixels for a partial-sky HpxGeom, not both")
        if isinstance(region, CircleSkyRegion):
            center = region.center.transform_to(self._frame)
            region = disk_region(
                center.spherical.lon.deg, center.spherical.lat.deg, region.radius.to_value(u.deg)
            )
        self._region: str | None = None
        if region is None and pixels is None:
            self._pixels = None
        elif isinstance(region, str):
            self._region = region
            self._pixels = region_pixels(self._nside, self._nest, region)
        elif isinstance(region, SkyRegion):
            self._pixels = sky_region_pixels(self._nside, self._nest, self._frame, region)
        elif region is not None:
            raise TypeError(
                f"region must be an HPX_REG string or a regions.SkyRegion, got {type(region).__name__}"
            )
        else:
            self._pixels = _check_pixels(pixels, self.npix_max)
        if self._pixels is not None:
            self._pixels.flags.writeable = False
            if self._pixels.size == 0:
                raise ValueError(
                    f"the partial-sky region {region!r} contains no pixel centre at nside {self._nside}"
                )

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        nside: int | None = None,
        binsz: Any = None,
        nest: bool = True,
        frame: str = "icrs",
        region: str | SkyRegion | None = None,
        skydir: SkyCoord | tuple | None = None,
        width: Any = None,
        axes: Any = None,
    ) -> HpxGeom:
        """Create a HEALPix geometry.

        Parameters
        ----------
        nside : int, optional
            HEALPix nside (power of 2).
        binsz : float or `~astropy.units.Quantity`, optional
            Approximate pixel size in deg, used when ``nside`` is not given (the nearest
            power-of-2 nside on a log scale).
        nest : bool
            NESTED (True) or RING (False) ordering.
        frame : {"icrs", "galactic"}
            Sky frame.
        region : str or regions.SkyRegion, optional
            Partial-sky region, see :class:`HpxGeom`.
        skydir : `~astropy.coordinates.SkyCoord` or (lon, lat) in deg, optional
            Centre of a disc of diameter ``width`` (used with ``width``, without ``region``).
        width : float or `~astropy.units.Quantity`, optional
            Diameter of the disc in deg.
        axes : sequence of axes, optional
            Non-spatial axes.

        Returns
        -------
        HpxGeom
            The geometry.
        """
        if nside is None:
            if binsz is None:
                raise ValueError("HpxGeom.create needs nside or binsz")
            nside = nside_from_pixel_size(u.Quantity(binsz, u.deg).value)
        if width is not None:
            if region is not None:
                raise ValueError("give either region or skydir/width, not both")
            width = float(u.Quantity(width, u.deg).value)
            if skydir is None:
                lon, lat = 0.0, 0.0
            elif isinstance(skydir, SkyCoord):
                sc = skydir.transform_to(check_frame(frame))
                lon, lat = float(sc.spherical.lon.deg), float(sc.spherical.lat.deg)
            else:
                lon, lat = (float(v) for v in u.Quantity(skydir, u.deg).value)
            region = disk_region(lon, lat, width / 2.0)
        elif skydir is not None:
            raise ValueError("skydir needs width (the disc diameter)")
        return cls(nside, nest=nest, frame=frame, region=region, axes=axes)

    # ---- properties ---------------------------------------------------------------------------
    @property
    def nside(self) -> int:
        """HEALPix nside."""
        return self._nside

    @property
    def order(self) -> int:
        """HEALPix order, log2(nside)."""
        return self._nside.bit_length() - 1

    @property
    def nest(self) -> bool:
        """True for NESTED ordering, False for RING."""
        return self._nest

    @property
    def ordering(self) -> str:
        """``"NESTED"`` or ``"RING"``."""
        return "NESTED" if self._nest else "RING"

    @property
    def region(self) -> str | None:
        """The ``HPX_REG`` string of a partial-sky geometry (None for full sky or a pixel list)."""
        return self._region

    @property
    def is_allsky(self) -> bool:
        """True when every HEALPix pixel is in the geometry."""
        return self._pixels is None

    @property
    def npix_max(self) -> int:
        """Number of pixels on the whole sky, 12 nside^2."""
        return 12 * self._nside**2

    @property
    def npix(self) -> int:
        """Number of pixels in the geometry."""
        return self.npix_max if self._pixels is None else int(self._pixels.size)

    @property
    def pixels(self) -> np.ndarray:
        """Global pixel index of every local pixel (sorted; ``arange(npix_max)`` for full sky)."""
        if self._pixels is None:
            return np.arange(self.npix_max, dtype=np.int64)
        return self._pixels

    @property
    def spatial_shape(self) -> tuple[int]:
        """Spatial data shape ``(npix,)``."""
        return (self.npix,)

    @property
    def projection(self) -> str:
        """``"HPX"``."""
        return "HPX"

    @property
    def pixel_size(self) -> u.Quantity:
        """Approximate pixel size (square root of the pixel solid angle) in deg."""
        return u.Quantity(pixel_size(self._nside), u.deg)

    @property
    def center_skydir(self) -> SkyCoord:
        """Centre: (0, 0) for full sky, the disc centre for a DISK region, else the mean direction."""
        if self._pixels is None:
            return SkyCoord(0.0, 0.0, unit="deg", frame=self._frame)
        if self._region is not None and self._region.upper().startswith("DISK"):
            lon, lat = parse_hpx_region(self._region)[1][:2]
            return SkyCoord(lon, lat, unit="deg", frame=self._frame)
        lon, lat = pix_to_lonlat(self._nside, self._pixels, self._nest)
        vec = SkyCoord(lon, lat, unit="deg", frame=self._frame).cartesian.xyz.value.mean(axis=1)
        return SkyCoord(
            np.degrees(np.arctan2(vec[1], vec[0])) % 360.0,
            np.degrees(np.arctan2(vec[2], np.hypot(vec[0], vec[1]))),
            unit="deg",
            frame=self._frame,
        )

    @property
    def width(self) -> u.Quantity:
        """Angular diameter in deg: 360 for full sky, else twice the largest centre distance of a pixel centre plus one pixel."""
        if self._pixels is None:
            return u.Quantity(360.0, u.deg)
        radius = np.max(self.separation(self.center_skydir).to_value(u.deg))
        return u.Quantity(min(360.0, 2.0 * radius + pixel_size(self._nside)), u.deg)

    # ---- pixel indexing -----------------------------------------------------------------------
    def global_to_local(self, ipix: Any) -> np.ndarray:
        """Local index of global pixels; -1 for pixels not in the geometry.

        Parameters
        ----------
        ipix : array-like of int
            Global HEALPix indices (negative values are returned as -1).

        Returns
        -------
        numpy.ndarray of int64
            Local indices.
        """
        ipix = np.asarray(ipix, dtype=np.int64)
        valid = (ipix >= 0) & (ipix < self.npix_max)
        if self._pixels is None:
            return np.where(valid, ipix, -1)
        pos = np.searchsorted(self._pixels, ipix)
        pos_c = np.clip(pos, 0, self._pixels.size - 1)
        found = valid & (self._pixels[pos_c] == ipix)
        return np.where(found, pos_c, -1).astype(np.int64)

    def local_to_global(self, idx: Any) -> np.ndarray:
        """Global pixel index of local indices; -1 for indices out of range."""
        idx = np.asarray(idx, dtype=np.int64)
        valid = (idx >= 0) & (idx < self.npix)
        safe = np.where(valid, idx, 0)
        return np.where(valid, self.pixels[safe], -1).astype(np.int64)

    # ---- coordinates --------------------------------------------------------------------------
    def coord_to_pix(self, coords: Any) -> tuple[np.ndarray, ...]:
        """Convert coordinates to pixel coordinates ``(ipix_local, *axis_pix)``.

        Parameters
        ----------
        coords : MapCoord, dict, tuple or SkyCoord
            Sky position (lon/lat in deg in the geometry frame, or any SkyCoord) and a value
            for each non-spatial axis.

        Returns
        -------
        tuple of numpy.ndarray
            Local pixel index (as float) of the pixel containing each position, -1 where
            the position is not in the (partial-sky) geometry or not finite; then the pixel
            coordinate on each axis.
        """
        coords = MapCoord.create(coords, frame=self._frame, axis_names=self._axes.names)
        ipix = lonlat_to_pix(self._nside, coords.lon, coords.lat, self._nest)
        pix = [self.global_to_local(ipix).astype(float)]
        for axis in self._axes:
            if axis.name not in coords.axes:
                raise ValueError(f"coordinates lack a value for axis {axis.name!r}")
            pix.append(axis.coord_to_pix(coords.axes[axis.name]))
        return tuple(pix)

    def pix_to_coord(self, pix: tuple) -> MapCoord:
        """Convert pixel coordinates ``(ipix_local, *axis_pix)`` to :class:`MapCoord`.

        The spatial pixel is rounded to the nearest integer; the coordinate is the pixel
        centre (NaN for indices outside ``[0, npix)``).
        """
        if len(pix) != 1 + len(self._axes):
            raise ValueError(f"expected {1 + len(self._axes)} pixel arrays, got {len(pix)}")
        local = np.asarray(pix[0], dtype=float)
        idx = np.where(np.isfinite(local), np.floor(local + 0.5), -1).astype(np.int64)
        ipix = self.local_to_global(idx)
        valid = ipix >= 0
        lon = np.full(ipix.shape, np.nan)
        lat = np.full(ipix.shape, np.nan)
        lon[valid], lat[valid] = pix_to_lonlat(self._nside, ipix[valid], self._nest)
        axes = {
            axis.name: axis.pix_to_coord(p) for axis, p in zip(self._axes, pix[1:], strict=True)
        }
        return MapCoord(lon, lat, frame=self._frame, axes=axes)

    def pix_to_idx(self, pix: tuple, clip: bool = False) -> tuple[np.ndarray, ...]:
        """Round pixel coordinates to indices; ``-1`` outside the geometry unless ``clip``."""
        local = np.asarray(pix[0], dtype=float)
        idx = np.where(np.isfinite(local), np.floor(local + 0.5), -1)
        if clip:
            idx = np.clip(idx, 0, self.npix - 1)
        else:
            idx = np.where((idx < 0) | (idx > self.npix - 1), -1, idx)
        out = [idx.astype(np.int64)]
        for axis, p in zip(self._axes, pix[1:], strict=True):
            out.append(axis.pix_to_idx(p, clip=clip))
        return tuple(out)

    def _spatial_pix_grid(self, mode: str = "center") -> tuple[np.ndarray]:
        if mode != "center":
            raise ValueError(f"HEALPix geometries only have pixel centres, got mode={mode!r}")
        return (np.arange(self.npix, dtype=float),)

    def get_skycoord(self) -> SkyCoord:
        """Sky positions of all pixel centres, shape ``(npix,)``."""
        lon, lat = pix_to_lonlat(self._nside, self.pixels, self._nest)
        return SkyCoord(lon, lat, unit="deg", frame=self._frame)

    def separation(self, center: SkyCoord) -> u.Quantity:
        """Angular distance (deg) of every pixel centre from ``center``, shape ``(npix,)``."""
        return center.separation(self.get_skycoord()).to(u.deg)

    def contains(self, coords: Any) -> np.ndarray:
        """Return True where a sky position falls in a pixel of the geometry (and in all axes).

        Parameters
        ----------
        coords : SkyCoord, MapCoord, dict or tuple
            Positions; without axis values only the sky position is tested.
        """
        coords = MapCoord.create(coords, frame=self._frame, axis_names=self._axes.names)
        if not coords.axes and len(self._axes):
            return self.to_image().contains(coords)
        return super().contains(coords)

    # ---- solid angle --------------------------------------------------------------------------
    def solid_angle(self) -> u.Quantity:
        """Solid angle of each pixel in sr, shape ``(npix,)``: exactly ``4 pi / (12 nside^2)``."""
        return u.Quantity(np.full(self.npix, pixel_solid_angle(self._nside)), u.sr)

    # ---- derived geometries -------------------------------------------------------------------
    def _init_copy(self, **changes: Any) -> HpxGeom:
        kwargs = {
            "nside": self._nside,
            "nest": self._nest,
            "frame": self._frame,
            "region": self._region,
            "pixels": self._pixels if self._region is None else None,
            "axes": self._axes,
        }
        kwargs.update(changes)
        return HpxGeom(**kwargs)

    def to_nside(self, nside: int) -> HpxGeom:
        """Return the geometry at another nside (region strings are re-evaluated, pixel lists mapped)."""
        if self._pixels is None or self._region is not None:
            return self._init_copy(nside=nside)
        import healpy as hp

        nside = check_nside(nside)
        lon, lat = pix_to_lonlat(self._nside, self._pixels, self._nest)
        if nside <= self._nside:
            pixels = lonlat_to_pix(nside, lon, lat, self._nest)
        else:
            factor = (nside // self._nside) ** 2
            nested = self._pixels if self._nest else hp.ring2nest(self._nside, self._pixels)
            pixels = (nested[:, None] * factor + np.arange(factor)).ravel()
            if not self._nest:
                pixels = hp.nest2ring(nside, pixels)
        return self._init_copy(nside=nside, pixels=pixels)

    def to_wcs_geom(self, proj: str = "AIT", oversample: float = 2, width_pix: int | None = None):
        """Return a WCS geometry covering this HEALPix geometry (same frame and axes).

        Parameters
        ----------
        proj : str
            WCS projection, e.g. ``"AIT"`` or ``"CAR"``.
        oversample : float
            WCS pixels per HEALPix pixel size (pixel size ``pixel_size / oversample``).
        width_pix : int, optional
            Image width in pixels (default: enough to cover the geometry; the whole sky,
            360 x 180 deg, for full-sky geometries).

        Returns
        -------
        WcsGeom
            Geometry centred on :attr:`center_skydir`.
        """
        from .wcs import WcsGeom

        if not oversample > 0:
            raise ValueError(f"oversample must be positive, got {oversample!r}")
        binsz = pixel_size(self._nside) / float(oversample)
        if self.is_allsky:
            width = (360.0, 180.0)
        else:
            diameter = self.width.to_value(u.deg)
            width = (min(diameter, 360.0), min(diameter, 180.0))
        if width_pix is not None:
            width = (width_pix * binsz, width_pix * binsz)
        center = self.center_skydir
        return WcsGeom.create(
            skydir=center,
            width=width,
            binsz=binsz,
            frame=self._frame,
            proj=proj,
            axes=self._axes,
        )

    # ---- FITS header --------------------------------------------------------------------------
    @property
    def indxschm(self) -> str:
        """FITS index scheme: ``"IMPLICIT"`` (full sky) or ``"EXPLICIT"`` (with a PIX column)."""
        return "IMPLICIT" if self._pixels is None else "EXPLICIT"

    def to_header(self) -> fits.Header:
        """HEALPix keywords of a ``SKYMAP`` table (PIXTYPE, ORDERING, NSIDE, COORDSYS, ...)."""
        from .hpx_io import hpx_header

        return hpx_header(self)

    @classmethod
    def from_header(
        cls, header: fits.Header, hdu_bands: Any = None, pixels: Any = None, axes: Any = None
    ) -> HpxGeom:
        """Create the geometry from the header of a HEALPix table.

        Parameters
        ----------
        header : `~astropy.io.fits.Header`
            Header with PIXTYPE = 'HEALPIX', ORDERING, NSIDE (or ORDER), COORDSYS and
            optionally HPX_REG.
        hdu_bands : `~astropy.io.fits.BinTableHDU`, optional
            BANDS / EBOUNDS / ENERGIES table describing the non-spatial axes.
        pixels : array-like of int, optional
            The PIX column of an EXPLICIT table without ``HPX_REG``.
        axes : sequence of axes, optional
            Axes (instead of ``hdu_bands``).

        Returns
        -------
        HpxGeom
            The geometry.
        """
        from .hpx_io import geom_from_header

        return geom_from_header(header, hdu_bands=hdu_bands, pixels=pixels, axes=axes)

    # ---- comparison and display ---------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HpxGeom):
            return NotImplemented
        same_pixels = (self._pixels is None and other._pixels is None) or (
            self._pixels is not None
            and other._pixels is not None
            and np.array_equal(self._pixels, other._pixels)
        )
        return (
            self._nside == other._nside
            and self._nest == other._nest
            and self._frame == other._frame
            and same_pixels
            and self._axes == other._axes
        )

    __hash__ = None

    def __repr__(self) -> str:
        if self._pixels is None:
            sky = "full sky"
        elif self._region is not None:
            sky = f"region={self._region!r}"
        else:
            sky = "explicit pixel list"
        axes = ", ".join(f"{a.name}[{a.nbin}]" for a in self._axes) or "none"
        return (
            f"HpxGeom(nside={self._nside}, {self.ordering}, frame={self._frame!r}, {sky}, "
            f"npix={self.npix}, pixel size={pixel_size(self._nside):.4g} deg, axes: {axes}, "
            f"data_shape={self.data_shape})"
        )


def _check_pixels(pixels: Any, npix_max: int) -> np.ndarray:
    arr = np.asarray(pixels)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"pixels must be integer HEALPix indices, got dtype {arr.dtype}")
    arr = np.unique(arr.astype(np.int64).ravel())
    if arr.size and (arr[0] < 0 or arr[-1] >= npix_max):
        raise ValueError(f"pixel indices must lie in [0, {npix_max}), got [{arr[0]}, {arr[-1]}]")
    return arr
