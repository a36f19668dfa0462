"""Sky images in a FITS World Coordinate System projection: :class:`WcsGeom`."""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import ICRS, Galactic, SkyCoord
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.wcs import WCS
from astropy.wcs.utils import (
    celestial_frame_to_wcs,
    proj_plane_pixel_scales,
    wcs_to_celestial_frame,
)

from .axes import MapAxes
from .axis_interp import pix_to_idx
from .coord import MapCoord, check_frame
from .geom import Geom
from .solid_angle import quad_solid_angle

__all__ = ["WcsGeom"]

_FRAME_NAMES = {"icrs": "icrs", "fk5": "icrs", "galactic": "galactic"}


def _pair(value: Any, what: str) -> tuple[float, float]:
    """Return a (lon, lat) pair of floats in deg from a scalar, pair, or Quantity."""
    if isinstance(value, u.Quantity):
        value = value.to_value(u.deg)
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.size == 1:
        arr = np.repeat(arr, 2)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{what} must be a positive number or a (lon, lat) pair, got {value!r}")
    return float(arr[0]), float(arr[1])


class WcsGeom(Geom):
    """Geometry of a sky image (or cube) in a WCS projection, plus non-spatial axes.

    Parameters
    ----------
    wcs : `~astropy.wcs.WCS`
        Two-dimensional celestial WCS (ICRS/FK5 or Galactic).
    npix : tuple of int
        Image size ``(nx, ny)`` (longitude, latitude pixels).
    axes : sequence of axes or MapAxes, optional
        Non-spatial axes.

    Notes
    -----
    FK5 (J2000) WCS headers are reported as frame ``"icrs"``; the two differ by less than
    0.02 arcsec. Pixel ``(0, 0)`` is the centre of the first pixel (0-based, as numpy).
    """

    def __init__(self, wcs: WCS, npix: tuple[int, int], axes: Any = None) -> None:
        if not isinstance(wcs, WCS):
            raise TypeError(f"wcs must be an astropy WCS, got {type(wcs).__name__}")
        if wcs.naxis != 2 or not wcs.has_celestial:
            wcs = wcs.celestial
            if wcs.naxis != 2:
                raise ValueError("WcsGeom needs a WCS with a celestial longitude/latitude pair")
        frame = wcs_to_celestial_frame(wcs).name
        if frame not in _FRAME_NAMES:
            raise ValueError(f"WCS frame {frame!r} is not supported; use icrs/fk5 or galactic")
        nx, ny = (int(n) for n in np.ravel(npix))
        if nx < 1 or ny < 1:
            raise ValueError(f"npix must be positive, got {npix}")
        self._wcs = wcs.deepcopy()
        self._wcs.array_shape = (ny, nx)
        self._npix = (nx, ny)
        self._frame = _FRAME_NAMES[frame]
        self._axes = MapAxes(axes or [])
        self._solid_angle_cache: u.Quantity | None = None

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        skydir: SkyCoord | tuple | None = None,
        width: Any = None,
        binsz: Any = 0.5,
        frame: str = "icrs",
        proj: str = "CAR",
        axes: Any = None,
        npix: Any = None,
        refpix: tuple[float, float] | None = None,
    ) -> WcsGeom:
        """Create a geometry centred on a sky position.

        Parameters
        ----------
        skydir : `~astropy.coordinates.SkyCoord` or (lon, lat) tuple in deg, optional
            Map centre (projection reference point); default (0, 0) in ``frame``.
        width : float, pair or `~astropy.units.Quantity`, optional
            Width (lon, lat) in deg; the pixel count is ``round(width / binsz)``.
            Without ``width`` and ``npix`` the map covers the whole sky (360 x 180 deg).
        binsz : float, pair or `~astropy.units.Quantity`
            Pixel size in deg.
        frame : {"icrs", "galactic"}
            Sky frame (a SkyCoord ``skydir`` is transformed to it).
        proj : str
            WCS projection code (``CAR``, ``TAN``, ``AIT``, ``SIN``, ``ARC``, ...).
        axes : sequence of axes, optional
            Non-spatial axes.
        npix : int or pair, optional
            Image size in pixels (overrides ``width``).
        refpix : pair of float, optional
            1-based FITS reference pixel (default: the image centre).

        Returns
        -------
        WcsGeom
            The geometry.
        """
        check_frame(frame)
        if skydir is None:
            crval = (0.0, 0.0)
        elif isinstance(skydir, SkyCoord):
            sc = skydir.transform_to(frame)
            crval = (float(sc.spherical.lon.deg), float(sc.spherical.lat.deg))
        else:
            crval = tuple(float(v) for v in u.Quantity(skydir, u.deg).value)
        binsz = _pair(binsz, "binsz")
        if npix is not None:
            nx, ny = (int(n) for n in np.broadcast_to(np.asarray(npix, dtype=int), (2,)))
        else:
            width = _pair(width if width is not None else (360.0, 180.0), "width")
            nx, ny = int(np.rint(width[0] / binsz[0])), int(np.rint(width[1] / binsz[1]))
        if nx < 1 or ny < 1:
            raise ValueError(f"the geometry would have {nx} x {ny} pixels; check width and binsz")
        frame_obj = ICRS() if frame == "icrs" else Galactic()
        wcs = celestial_frame_to_wcs(frame_obj, projection=proj)
        wcs.wcs.crpix = refpix if refpix is not None else ((nx + 1) / 2.0, (ny + 1) / 2.0)
        wcs.wcs.crval = crval
        wcs.wcs.cdelt = (-binsz[0], binsz[1])
        wcs.wcs.set()
        return cls(wcs, (nx, ny), axes=axes)

    @classmethod
    def from_header(cls, header: fits.Header, axes: Any = None) -> WcsGeom:
        """Create the spatial geometry from a FITS image header.

        Parameters
        ----------
        header : `~astropy.io.fits.Header`
            Image header (only its two celestial axes are used).
        axes : sequence of axes, optional
            Non-spatial axes (read from a BANDS/EBOUNDS HDU by :mod:`gammaprob.maps.io`).

        Returns
        -------
        WcsGeom
            The geometry.
        """
        wcs = WCS(header, naxis=2, fix=False)
        return cls(wcs, (int(header["NAXIS1"]), int(header["NAXIS2"])), axes=axes)

    def to_header(self) -> fits.Header:
        """Return the 2D WCS keywords of the spatial part (axis keywords are added on write).

        Reference values, pixels and increments are written at full float64 precision (the
        WCSLIB header writer rounds them to 14 digits), so headers round-trip exactly.
        """
        header = self._wcs.to_header()
        w = self._wcs.wcs
        for i in range(2):
            header[f"CRVAL{i + 1}"] = float(w.crval[i])
            header[f"CRPIX{i + 1}"] = float(w.crpix[i])
            if f"CDELT{i + 1}" in header:
                header[f"CDELT{i + 1}"] = float(w.cdelt[i])
            for j in range(2):
                for key, matrix in ((f"PC{i + 1}_{j + 1}", "pc"), (f"CD{i + 1}_{j + 1}", "cd")):
                    if key in header:
                        header[key] = float(getattr(w, matrix)[i, j])
        for key in ("LONPOLE", "LATPOLE"):
            if key in header:
                header[key] = float(getattr(w, key.lower()))
        return header

    # ---- properties ---------------------------------------------------------------------------
    @property
    def wcs(self) -> WCS:
        """The 2D celestial WCS (a copy; geometries are immutable)."""
        return self._wcs.deepcopy()

    @property
    def npix(self) -> tuple[int, int]:
        """Image size ``(nx, ny)``."""
        return self._npix

    @property
    def spatial_shape(self) -> tuple[int, int]:
        """Spatial data shape ``(ny, nx)``."""
        return self._npix[1], self._npix[0]

    @property
    def projection(self) -> str:
        """WCS projection code, e.g. ``"CAR"``."""
        return self._wcs.wcs.ctype[0][-3:]

    @property
    def pixel_scales(self) -> u.Quantity:
        """Absolute pixel sizes (lon, lat) at the reference pixel in deg."""
        return u.Quantity(np.abs(proj_plane_pixel_scales(self._wcs)), u.deg)

    @property
    def center_pix(self) -> tuple[float, float]:
        """Pixel coordinates ``(x, y)`` of the image centre (0-based)."""
        return (self._npix[0] - 1) / 2.0, (self._npix[1] - 1) / 2.0

    @property
    def center_skydir(self) -> SkyCoord:
        """Sky position of the image centre."""
        x, y = self.center_pix
        lon, lat = self._wcs.wcs_pix2world(x, y, 0)
        return SkyCoord(float(lon), float(lat), unit="deg", frame=self._frame)

    @property
    def width(self) -> u.Quantity:
        """Image size (lon, lat) in deg as ``npix * pixel_scales``."""
        return u.Quantity(self._npix, u.one).value * self.pixel_scales

    # ---- coordinates --------------------------------------------------------------------------
    def coord_to_pix(self, coords: Any) -> tuple[np.ndarray, ...]:
        """Convert coordinates to pixel coordinates ``(x, y, *axis_pix)`` (0-based).

        Parameters
        ----------
        coords : MapCoord, dict, tuple or SkyCoord
            Sky position (lon/lat in the geometry frame, or any SkyCoord) and a value for
            each non-spatial axis.

        Returns
        -------
        tuple of numpy.ndarray
            Pixel coordinates; NaN where a position is outside the projection.
        """
        coords = MapCoord.create(coords, frame=self._frame, axis_names=self._axes.names)
        with np.errstate(invalid="ignore"):
            x, y = self._wcs.wcs_world2pix(coords.lon, coords.lat, 0)
        pix = [np.asarray(x, dtype=float), np.asarray(y, dtype=float)]
        for axis in self._axes:
            if axis.name not in coords.axes:
                raise ValueError(f"coordinates lack a value for axis {axis.name!r}")
            pix.append(axis.coord_to_pix(coords.axes[axis.name]))
        return tuple(pix)

    def pix_to_coord(self, pix: tuple) -> MapCoord:
        """Convert pixel coordinates ``(x, y, *axis_pix)`` to :class:`MapCoord`."""
        if len(pix) != 2 + len(self._axes):
            raise ValueError(f"expected {2 + len(self._axes)} pixel arrays, got {len(pix)}")
        x, y = np.broadcast_arrays(np.asarray(pix[0], float), np.asarray(pix[1], float))
        lon, lat = self._wcs.wcs_pix2world(x, y, 0)
        axes = {
            axis.name: axis.pix_to_coord(p) for axis, p in zip(self._axes, pix[2:], strict=True)
        }
        return MapCoord(lon, lat, frame=self._frame, axes=axes)

    def pix_to_idx(self, pix: tuple, clip: bool = False) -> tuple[np.ndarray, ...]:
        """Round pixel coordinates to indices; ``-1`` outside the image unless ``clip``."""
        out = [pix_to_idx(p, n, clip) for n, p in zip(self._npix, pix[:2], strict=True)]
        out += [axis.pix_to_idx(p, clip=clip) for axis, p in zip(self._axes, pix[2:], strict=True)]
        return tuple(out)

    def _spatial_pix_grid(self, mode: str = "center") -> tuple[np.ndarray, np.ndarray]:
        nx, ny = self._npix
        if mode == "center":
            x, y = np.arange(nx, dtype=float), np.arange(ny, dtype=float)
        elif mode == "edges":
            x, y = np.arange(nx + 1) - 0.5, np.arange(ny + 1) - 0.5
        else:
            raise ValueError(f"mode must be 'center' or 'edges', got {mode!r}")
        xx, yy = np.meshgrid(x, y)
        return xx, yy

    # ---- solid angle and distances ------------------------------------------------------------
    def solid_angle(self) -> u.Quantity:
        """Solid angle of each pixel in sr, shape ``(ny, nx)``.

        Each pixel is the spherical quadrilateral through its four corners with great-circle
        sides, split into two spherical triangles whose areas are exact. Pixels whose true
        sides are not great circles (rows of constant latitude in ``CAR``) differ by about
        ``dlon**2 * tan(lat) / 12`` relative (3e-6 for 0.25 deg pixels at latitude 80 deg);
        the tiling stays exact, so an all-sky map sums to 4 pi. Pixels with a corner outside
        the projection (e.g. the corners of an
        all-sky ``AIT`` image) get solid angle 0.

        The array is computed once per geometry and shared, so it is read-only (writing raises
        ``ValueError``); copy it to change it.
        """
        if self._solid_angle_cache is None:
            xx, yy = self._spatial_pix_grid("edges")
            with np.errstate(invalid="ignore"):
                lon, lat = self._wcs.wcs_pix2world(xx, yy, 0)
            omega = np.nan_to_num(quad_solid_angle(lon, lat), nan=0.0)
            omega.setflags(write=False)
            self._solid_angle_cache = u.Quantity(omega, u.sr, copy=False)
        return self._solid_angle_cache

    # ---- derived geometries -------------------------------------------------------------------
    def _init_copy(self, **changes: Any) -> WcsGeom:
        kwargs = {"wcs": self._wcs, "npix": self._npix, "axes": self._axes}
        kwargs.update(changes)
        return WcsGeom(**kwargs)

    def _cutout2d(self, position: SkyCoord, width: Any, mode: str = "trim") -> Cutout2D:
        width = _pair(width, "width")
        scales = self.pixel_scales.to_value(u.deg)
        size = (
            max(1, int(np.rint(width[1] / scales[1]))),
            max(1, int(np.rint(width[0] / scales[0]))),
        )
        dummy = np.empty(self.spatial_shape, dtype=bool)
        return Cutout2D(dummy, position=position, size=size, wcs=self._wcs, mode=mode, copy=False)

    def cutout(self, position: SkyCoord, width: Any, mode: str = "trim") -> WcsGeom:
        """Return the geometry of a cutout centred on ``position``.

        Parameters
        ----------
        position : `~astropy.coordinates.SkyCoord`
            Cutout centre.
        width : float, pair or `~astropy.units.Quantity`
            Cutout size (lon, lat) in deg, rounded to whole pixels (at least one).
        mode : {"trim", "partial", "strict"}
            As for `~astropy.nddata.Cutout2D`: ``trim`` clips at the image border,
            ``partial`` keeps the full size (the part outside the parent image is empty),
            ``strict`` raises if the cutout is not fully inside.

        Returns
        -------
        WcsGeom
            Geometry aligned with this one (same pixel grid).
        """
        c2d = self._cutout2d(position, width, mode)
        return self._init_copy(wcs=c2d.wcs, npix=c2d.shape[::-1])

    def upsample(self, factor: int, axis_name: str | None = None) -> WcsGeom:
        """Split every spatial pixel into ``factor x factor`` (or one axis' bins by ``factor``).

        Parameters
        ----------
        factor : int
            Upsampling factor.
        axis_name : str, optional
            Upsample this non-spatial axis instead of the image.

        Returns
        -------
        WcsGeom
            Finer geometry covering the same sky.
        """
        if axis_name is not None:
            return self._init_copy(axes=self._axes.upsample(factor, axis_name))
        factor = _positive_int(factor)
        return self._resampled(factor, 1.0 / factor)

    def downsample(self, factor: int, axis_name: str | None = None) -> WcsGeom:
        """Merge ``factor x factor`` spatial pixels (or ``factor`` bins of a non-spatial axis).

        Parameters
        ----------
        factor : int
            Downsampling factor; must divide both image dimensions.
        axis_name : str, optional
            Downsample this non-spatial axis instead of the image.

        Returns
        -------
        WcsGeom
            Coarser geometry covering the same sky.
        """
        if axis_name is not None:
            return self._init_copy(axes=self._axes.downsample(factor, axis_name))
        factor = _positive_int(factor)
        if self._npix[0] % factor or self._npix[1] % factor:
            raise ValueError(f"image size {self._npix} is not divisible by factor {factor}")
        return self._resampled(1.0 / factor, float(factor))

    def _resampled(self, npix_scale: float, pix_size_scale: float) -> WcsGeom:
        wcs = self._wcs.deepcopy()
        # Keep the outer pixel edge (pixel coordinate 0.5 in 1-based FITS) fixed.
        wcs.wcs.crpix = (wcs.wcs.crpix - 0.5) * npix_scale + 0.5
        if wcs.wcs.has_cd():
            wcs.wcs.cd = wcs.wcs.cd * pix_size_scale
        else:
            wcs.wcs.cdelt = wcs.wcs.cdelt * pix_size_scale
        wcs.wcs.set()
        npix = tuple(round(n * npix_scale) for n in self._npix)
        return self._init_copy(wcs=wcs, npix=npix)

    def region_mask(self, regions: Any, inside: bool = True) -> np.ndarray:
        """Boolean image, True for pixel centres inside any of ``regions``.

        Parameters
        ----------
        regions : region, list of regions, or str
            Sky or pixel regions of the ``regions`` package (a DS9 string is parsed).
        inside : bool
            Return the mask of pixels inside (True) or outside (False) the regions.

        Returns
        -------
        numpy.ndarray of bool
            Mask of shape ``(ny, nx)``.
        """
        from regions import PixCoord, PixelRegion, Regions, SkyRegion

        if isinstance(regions, str):
            regions = Regions.parse(regions, format="ds9")
        if isinstance(regions, PixelRegion | SkyRegion):
            regions = [regions]
        xx, yy = self._spatial_pix_grid("center")
        pixcoord = PixCoord(xx, yy)
        mask = np.zeros(self.spatial_shape, dtype=bool)
        for region in regions:
            if isinstance(region, SkyRegion):
                region = region.to_pixel(self._wcs)
            elif not isinstance(region, PixelRegion):
                raise TypeError(f"expected regions, got {type(region).__name__}")
            mask |= region.contains(pixcoord)
        return mask if inside else ~mask

    # ---- comparison and display ---------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WcsGeom):
            return NotImplemented
        return (
            self._npix == other._npix
            and self._axes == other._axes
            and self._frame == other._frame
            and _same_wcs(self._wcs, other._wcs)
        )

    __hash__ = None

    def __repr__(self) -> str:
        center = self.center_skydir
        lon, lat = center.spherical.lon.deg, center.spherical.lat.deg
        scales = self.pixel_scales.to_value(u.deg)
        axes = ", ".join(f"{a.name}[{a.nbin}]" for a in self._axes) or "none"
        return (
            f"WcsGeom(npix={self._npix}, binsz=({scales[0]:.4g}, {scales[1]:.4g}) deg, "
            f"proj={self.projection!r}, frame={self._frame!r}, center=({lon:.4f}, {lat:.4f}) deg, "
            f"axes: {axes}, data_shape={self.data_shape})"
        )


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"factor must be a positive integer, got {value!r}")
    return int(value)


def _same_wcs(a: WCS, b: WCS, rtol: float = 1e-10) -> bool:
    """Compare the celestial projection parameters of two 2D WCS objects."""
    wa, wb = a.wcs, b.wcs
    if list(wa.ctype) != list(wb.ctype):
        return False
    pairs = [
        (wa.crval, wb.crval),
        (wa.crpix, wb.crpix),
        (a.pixel_scale_matrix, b.pixel_scale_matrix),
        ([wa.lonpole, wa.latpole], [wb.lonpole, wb.latpole]),
    ]
    return all(np.allclose(x, y, rtol=rtol, atol=1e-12) for x, y in pairs)
