"""Maps over one sky region (spectra, light curves): :class:`RegionGeom`.

The spatial part is a single "pixel" of arbitrary shape: one region of the ``regions``
package (circle, ellipse, rectangle, polygon, annulus, compound), or the union of several.
Data therefore have shape ``axes.shape[::-1] + (1, 1)``. A local TAN WCS about the region
centre (pixel size ``binsz_wcs``) is attached: it is used to test containment of shapes
other than circles, to compute solid angles, and to store the region in a FITS ``REGION``
table (pixel shapes + WCS keywords, the OGIP/gammapy layout).
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from regions import CircleSkyRegion, CompoundSkyRegion, SkyRegion

from .axes import MapAxes
from .coord import MapCoord
from .geom import Geom
from .region_utils import (
    cap_solid_angle,
    local_wcs,
    parse_regions,
    region_center,
    region_extent,
    region_solid_angle,
    regions_union,
)

__all__ = ["RegionGeom"]

_FRAME_NAMES = {"icrs": "icrs", "fk5": "icrs", "galactic": "galactic"}


class RegionGeom(Geom):
    """Geometry of a sky region (a single spatial bin) plus non-spatial axes.

    Parameters
    ----------
    region : str, regions.SkyRegion or list of them
        DS9 string (e.g. ``"icrs;circle(83.63, 22.01, 0.11)"``), sky region, or several
        (their union).
    axes : sequence of axes or MapAxes, optional
        Non-spatial axes.
    binsz_wcs : str, float or `~astropy.units.Quantity`
        Pixel size (deg) of the local TAN WCS used for containment of non-circular shapes,
        solid angles and :meth:`to_wcs_geom`.
    wcs : `~astropy.wcs.WCS`, optional
        Use this WCS instead of building one (e.g. the WCS of a stored ``REGION`` table).

    Examples
    --------
    >>> geom = RegionGeom.create("icrs;circle(83.63, 22.01, 0.11)")
    >>> geom.data_shape
    (1, 1)
    >>> round(float(geom.solid_angle()[0, 0].to_value("sr")), 10)
    1.15795e-05
    """

    def __init__(
        self,
        region: Any,
        axes: Any = None,
        binsz_wcs: Any = "0.01 deg",
        wcs: WCS | None = None,
    ) -> None:
        self._regions = parse_regions(region)
        self._region = regions_union(self._regions)
        self._axes = MapAxes(axes or [])
        binsz = u.Quantity(binsz_wcs)
        try:
            self._binsz_wcs = float(binsz.to_value(u.deg))
        except u.UnitConversionError as exc:
            raise ValueError(f"binsz_wcs must be an angle, got {binsz_wcs!r}") from exc
        if not self._binsz_wcs > 0:
            raise ValueError(f"binsz_wcs must be positive, got {binsz_wcs!r}")
        center = region_center(self._region)
        frame = center.frame.name
        if frame not in _FRAME_NAMES:
            raise ValueError(f"region frame {frame!r} is not supported; use icrs, fk5 or galactic")
        self._frame = _FRAME_NAMES[frame]
        self._center = center.transform_to(self._frame)
        self._extent = region_extent(self._region, center)
        if wcs is None:
            npix = 2 * int(np.ceil(self._extent / self._binsz_wcs)) + 1
            wcs = local_wcs(self._center, self._binsz_wcs, npix)
        elif not isinstance(wcs, WCS):
            raise TypeError(f"wcs must be an astropy WCS, got {type(wcs).__name__}")
        self._wcs = wcs

    @classmethod
    def create(cls, region: Any, axes: Any = None, binsz_wcs: Any = "0.01 deg") -> RegionGeom:
        """Create a region geometry; see :class:`RegionGeom` for the parameters."""
        return cls(region, axes=axes, binsz_wcs=binsz_wcs)

    # ---- properties ---------------------------------------------------------------------------
    @property
    def region(self) -> SkyRegion:
        """The region (a CompoundSkyRegion union when several were given)."""
        return self._region

    @property
    def regions(self) -> list[SkyRegion]:
        """The regions as given (their union is :attr:`region`)."""
        return list(self._regions)

    @property
    def spatial_shape(self) -> tuple[int, int]:
        """Spatial data shape, always ``(1, 1)``."""
        return (1, 1)

    @property
    def center_skydir(self) -> SkyCoord:
        """Region centre (for a compound region, the centre of its bounding box)."""
        return self._center

    @property
    def binsz_wcs(self) -> u.Quantity:
        """Pixel size of the local WCS in deg."""
        return u.Quantity(self._binsz_wcs, u.deg)

    @property
    def wcs(self) -> WCS:
        """The local WCS (a copy)."""
        return self._wcs.deepcopy()

    @property
    def width(self) -> u.Quantity:
        """Angular diameter in deg: twice the largest distance of a region point from the centre."""
        return u.Quantity(2.0 * self._extent, u.deg)

    # ---- coordinates --------------------------------------------------------------------------
    def contains(self, coords: Any) -> np.ndarray:
        """Return True where a sky position lies in the region (and, given axis values, in all axes).

        Parameters
        ----------
        coords : SkyCoord, MapCoord, dict or tuple
            Positions (plain lon/lat in deg in :attr:`frame`).

        Returns
        -------
        numpy.ndarray of bool
            Mask with the shape of the coordinates.
        """
        coords = MapCoord.create(coords, frame=self._frame, axis_names=self._axes.names)
        inside = self._contains_sky(coords)
        for axis in self._axes:
            if axis.name in coords.axes:
                inside = inside & (axis.coord_to_idx(coords.axes[axis.name]) >= 0)
        return inside

    def _contains_sky(self, coords: MapCoord) -> np.ndarray:
        lon, lat = np.broadcast_arrays(coords.lon, coords.lat)
        finite = np.isfinite(lon) & np.isfinite(lat)
        out = np.zeros(lon.shape, dtype=bool)
        if np.any(finite):
            sky = SkyCoord(lon[finite], lat[finite], unit="deg", frame=coords.frame)
            out[finite] = np.asarray(self._region.contains(sky, self._wcs), dtype=bool)
        return out

    def coord_to_pix(self, coords: Any) -> tuple[np.ndarray, ...]:
        """Pixel coordinates ``(x, y, *axis_pix)``: ``x = y = 0`` inside the region, -1 outside."""
        coords = MapCoord.create(coords, frame=self._frame, axis_names=self._axes.names)
        inside = self._contains_sky(coords)
        spatial = np.where(inside, 0.0, -1.0)
        pix = [spatial, spatial.copy()]
        for axis in self._axes:
            if axis.name not in coords.axes:
                raise ValueError(f"coordinates lack a value for axis {axis.name!r}")
            pix.append(axis.coord_to_pix(coords.axes[axis.name]))
        return tuple(pix)

    def pix_to_coord(self, pix: tuple) -> MapCoord:
        """Region centre for spatial pixel (0, 0) (NaN for other pixels), axis coordinates."""
        if len(pix) != 2 + len(self._axes):
            raise ValueError(f"expected {2 + len(self._axes)} pixel arrays, got {len(pix)}")
        x, y = np.broadcast_arrays(np.asarray(pix[0], float), np.asarray(pix[1], float))
        valid = (np.floor(x + 0.5) == 0) & (np.floor(y + 0.5) == 0)
        lon = np.where(valid, self._center.spherical.lon.deg, np.nan)
        lat = np.where(valid, self._center.spherical.lat.deg, np.nan)
        axes = {
            axis.name: axis.pix_to_coord(p) for axis, p in zip(self._axes, pix[2:], strict=True)
        }
        return MapCoord(lon, lat, frame=self._frame, axes=axes)

    def pix_to_idx(self, pix: tuple, clip: bool = False) -> tuple[np.ndarray, ...]:
        """Round pixel coordinates; the only spatial index is 0 (``-1`` elsewhere unless ``clip``)."""
        out = []
        for p in pix[:2]:
            p = np.asarray(p, dtype=float)
            idx = np.where(np.isfinite(p), np.floor(p + 0.5), -1)
            idx = np.zeros(idx.shape) if clip else np.where(idx == 0, 0, -1)
            out.append(idx.astype(np.int64))
        for axis, p in zip(self._axes, pix[2:], strict=True):
            out.append(axis.pix_to_idx(p, clip=clip))
        return tuple(out)

    def _spatial_pix_grid(self, mode: str = "center") -> tuple[np.ndarray, np.ndarray]:
        if mode != "center":
            raise ValueError(f"a region geometry only has its centre, got mode={mode!r}")
        return np.zeros((1, 1)), np.zeros((1, 1))

    def separation(self, center: SkyCoord) -> u.Quantity:
        """Angular distance (deg) between the region centre and ``center``."""
        return self._center.separation(center).to(u.deg)

    # ---- solid angle --------------------------------------------------------------------------
    def solid_angle(self) -> u.Quantity:
        """Solid angle of the region in sr, shape ``(1, 1)``.

        Circles (and unions of disjoint circles) are exact spherical caps; other shapes are
        integrated on a TAN grid of pixel size ``binsz_wcs``, see
        :func:`gammaprob.maps.region_utils.region_solid_angle` for the accuracy.
        """
        if all(isinstance(r, CircleSkyRegion) for r in self._regions) and _disjoint(self._regions):
            omega = float(sum(cap_solid_angle(r.radius.to_value(u.deg)) for r in self._regions))
        else:
            omega = region_solid_angle(self._region, self._binsz_wcs)
        return u.Quantity(np.full((1, 1), omega), u.sr)

    # ---- derived geometries -------------------------------------------------------------------
    def _init_copy(self, **changes: Any) -> RegionGeom:
        kwargs = {
            "region": self._regions,
            "axes": self._axes,
            "binsz_wcs": self.binsz_wcs,
            "wcs": self._wcs,
        }
        kwargs.update(changes)
        return RegionGeom(**kwargs)

    def to_wcs_geom(self, width_min: Any = None, binsz: Any = None, proj: str = "TAN"):
        """Return the smallest WCS geometry about the region centre that contains the region.

        Parameters
        ----------
        width_min : float, pair or `~astropy.units.Quantity`, optional
            Minimum width (lon, lat) in deg.
        binsz : float or `~astropy.units.Quantity`, optional
            Pixel size in deg (default :attr:`binsz_wcs`).
        proj : str
            WCS projection.

        Returns
        -------
        WcsGeom
            Geometry with this geometry's axes.
        """
        from .wcs import WcsGeom

        binsz = self._binsz_wcs if binsz is None else float(u.Quantity(binsz, u.deg).value)
        width = np.full(2, 2.0 * self._extent + 2.0 * binsz)
        if width_min is not None:
            width = np.maximum(width, np.broadcast_to(u.Quantity(width_min, u.deg).value, (2,)))
        npix = np.ceil(width / binsz).astype(int)
        npix += (npix + 1) % 2  # odd: the centre lies on a pixel centre
        return WcsGeom.create(
            skydir=self._center,
            binsz=binsz,
            npix=tuple(npix),
            frame=self._frame,
            proj=proj,
            axes=self._axes,
        )

    def wcs_mask(self, wcs_geom: Any = None) -> np.ndarray:
        """Boolean image of the WCS pixels whose centres lie in the region.

        Parameters
        ----------
        wcs_geom : WcsGeom, optional
            Geometry of the mask (default :meth:`to_wcs_geom`).

        Returns
        -------
        numpy.ndarray of bool
            Mask of shape ``wcs_geom.spatial_shape``.
        """
        if wcs_geom is None:
            wcs_geom = self.to_wcs_geom()
        return wcs_geom.region_mask([self._region])

    # ---- FITS REGION table --------------------------------------------------------------------
    def to_region_hdu(self, name: str = "REGION"):
        """Return the region as a FITS ``REGION`` table (pixel shapes on :attr:`wcs` + WCS keywords)."""
        from .region_io import region_table_hdu

        return region_table_hdu(self._region, self._wcs, name=name)

    @classmethod
    def from_region_hdu(cls, hdu: Any, axes: Any = None, path: Any = None) -> RegionGeom:
        """Read a region geometry from a FITS ``REGION`` table; see :func:`region_io.regions_from_hdu`."""
        from .region_io import regions_from_hdu

        regions, wcs = regions_from_hdu(hdu, path=path)
        binsz = float(np.abs(wcs.wcs.cdelt[1]))
        return cls(regions, axes=axes, binsz_wcs=binsz * u.deg, wcs=wcs)

    # ---- comparison and display ---------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegionGeom):
            return NotImplemented
        return self._axes == other._axes and _same_region(self._region, other._region)

    __hash__ = None

    def __repr__(self) -> str:
        lon, lat = self._center.spherical.lon.deg, self._center.spherical.lat.deg
        kinds = "+".join(type(r).__name__.replace("SkyRegion", "") for r in self._regions)
        axes = ", ".join(f"{a.name}[{a.nbin}]" for a in self._axes) or "none"
        return (
            f"RegionGeom({kinds}, frame={self._frame!r}, center=({lon:.4f}, {lat:.4f}) deg, "
            f"width={2 * self._extent:.4g} deg, axes: {axes}, data_shape={self.data_shape})"
        )


def _disjoint(circles: list) -> bool:
    for i, a in enumerate(circles):
        for b in circles[i + 1 :]:
            sep = a.center.separation(b.center).deg
            if sep < a.radius.to_value(u.deg) + b.radius.to_value(u.deg):
                return False
    return True


def _same_region(a: SkyRegion, b: SkyRegion, rtol: float = 1e-9) -> bool:
    """Regions of the same shape whose parameters agree to ``rtol``.

    Centres and vertices agree to ``rtol`` deg; rotation angles to ``1000 * rtol`` deg modulo
    360 (``regions`` converts angles between sky and pixel through a numerical Jacobian,
    which loses about 1e-8 deg in a FITS round trip).
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, CompoundSkyRegion):
        return (
            a.operator is b.operator
            and _same_region(a.region1, b.region1, rtol)
            and _same_region(a.region2, b.region2, rtol)
        )
    for name in a._params:
        va, vb = getattr(a, name), getattr(b, name)
        if isinstance(va, SkyCoord):
            if va.shape != vb.shape or np.any(va.separation(vb).deg > rtol):
                return False
        elif name == "angle":  # rotation angles agree modulo 360 deg
            diff = (u.Quantity(va).to_value(u.deg) - u.Quantity(vb).to_value(u.deg) + 180.0) % 360.0
            if abs(diff - 180.0) > 1000 * rtol:
                return False
        elif not np.allclose(
            u.Quantity(va).value, u.Quantity(vb).to_value(u.Quantity(va).unit), rtol=rtol, atol=rtol
        ):
            return False
    return True
