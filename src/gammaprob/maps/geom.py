"""What every map geometry provides: the abstract base :class:`Geom`.

A geometry is a spatial part (WCS image, HEALPix pixels, one sky region) plus zero or more
non-spatial :class:`~gammaprob.maps.MapAxes`. Conventions shared by all geometries:

- **Pixel and index tuples** are in *geometry order*: the spatial pixel coordinate(s) first
  (``(x, y)`` for WCS and region geometries, ``(ipix,)`` for HEALPix), then one entry per
  non-spatial axis in ``axes`` order.
- **Data arrays** use the reversed (FITS/numpy) order: ``data_shape = axes.shape[::-1] +
  spatial_shape``. So ``data[idx[::-1]]`` picks the values at an index tuple ``idx``.
- Sky coordinates are degrees in ``frame`` (``"icrs"`` or ``"galactic"``); non-spatial
  coordinates are Quantities (Time for time axes, strings for label axes).
- Out-of-range indices are ``-1`` (mask them before indexing arrays).

Subclasses implement the abstract members; the concrete helpers here are written in terms of
them. FITS conversion is specific to each geometry (WCS and HEALPix headers, region tables)
and is dispatched by :mod:`gammaprob.maps.io`.

Every axis object (:class:`MapAxis`, :class:`TimeMapAxis`, :class:`LabelMapAxis`) provides
``name``, ``nbin``, ``coord_to_pix``, ``pix_to_coord``, ``coord_to_idx``, ``pix_to_idx``,
``squash`` and ``slice``, so geometries treat them alike.
"""

from __future__ import annotations

import abc
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from .axes import MapAxes
from .coord import MapCoord

__all__ = ["Geom"]


class Geom(abc.ABC):
    """Abstract map geometry (spatial pixelisation + non-spatial axes).

    Subclasses store their non-spatial axes in ``_axes`` and their sky frame in ``_frame``.
    """

    _axes: MapAxes
    _frame: str

    # ---- what a geometry is -------------------------------------------------------------------
    @property
    def axes(self) -> MapAxes:
        """Non-spatial axes (may be empty)."""
        return self._axes

    @property
    def frame(self) -> str:
        """Sky frame, ``"icrs"`` or ``"galactic"``."""
        return self._frame

    @property
    @abc.abstractmethod
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape of the spatial part of the data array (numpy order: ``(ny, nx)`` or ``(npix,)``)."""

    @property
    @abc.abstractmethod
    def center_skydir(self) -> SkyCoord:
        """Sky position of the geometry centre."""

    @abc.abstractmethod
    def coord_to_pix(self, coords: Any) -> tuple[np.ndarray, ...]:
        """Convert coordinates (see :meth:`MapCoord.create`) to pixel coordinates.

        Returns a tuple in geometry order (spatial first); NaN where a coordinate is outside
        the sky projection. Non-spatial axes extrapolate as :meth:`MapAxis.coord_to_pix`.
        """

    @abc.abstractmethod
    def pix_to_coord(self, pix: tuple) -> MapCoord:
        """Convert a pixel tuple (geometry order) to :class:`MapCoord`."""

    @abc.abstractmethod
    def pix_to_idx(self, pix: tuple, clip: bool = False) -> tuple[np.ndarray, ...]:
        """Round pixel coordinates to integer indices; ``-1`` outside unless ``clip``."""

    @abc.abstractmethod
    def solid_angle(self) -> u.Quantity:
        """Solid angle of each spatial pixel in sr, shape :attr:`spatial_shape`."""

    @abc.abstractmethod
    def _init_copy(self, **changes: Any) -> Geom:
        """Return a copy with constructor arguments (at least ``axes``) replaced."""

    @abc.abstractmethod
    def _spatial_pix_grid(self, mode: str = "center") -> tuple[np.ndarray, ...]:
        """Pixel coordinates of every spatial pixel, each of shape :attr:`spatial_shape`."""

    @abc.abstractmethod
    def __eq__(self, other: object) -> bool:
        """Geometries are equal when spatial part and axes agree."""

    __hash__ = None  # geometries compare by value; do not use them as dict keys

    # ---- derived, shared by all geometries ----------------------------------------------------
    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of a map's data array: ``axes.shape[::-1] + spatial_shape``."""
        return tuple(self.axes.shape[::-1]) + tuple(self.spatial_shape)

    @property
    def is_image(self) -> bool:
        """True when the geometry has no non-spatial axes."""
        return len(self.axes) == 0

    def coord_to_idx(self, coords: Any, clip: bool = False) -> tuple[np.ndarray, ...]:
        """Return the pixel index tuple (geometry order) containing each coordinate.

        Parameters
        ----------
        coords : MapCoord, dict, tuple or SkyCoord
            Coordinates.
        clip : bool
            Clip to the nearest valid index instead of returning ``-1``.

        Returns
        -------
        tuple of numpy.ndarray
            Integer indices, ``-1`` outside (unless ``clip``).
        """
        coords = MapCoord.create(coords, frame=self.frame, axis_names=self.axes.names)
        spatial = self.pix_to_idx(self.coord_to_pix(coords), clip=clip)[: self._n_spatial]
        non_spatial = []
        for axis in self.axes:
            non_spatial.append(axis.coord_to_idx(_axis_value(coords, axis.name), clip=clip))
        idx = np.broadcast_arrays(*spatial, *non_spatial)
        invalid = np.zeros(idx[0].shape, dtype=bool)
        for i in idx:
            invalid |= i < 0
        return tuple(np.where(invalid, -1, i) for i in idx)

    @property
    def _n_spatial(self) -> int:
        return len(self.spatial_shape)

    def get_idx(self) -> tuple[np.ndarray, ...]:
        """Index tuple (geometry order) of every data element, each of shape :attr:`data_shape`."""
        grids = np.meshgrid(*(np.arange(n) for n in self.data_shape), indexing="ij")
        # numpy order (axes reversed, then spatial) reversed is geometry order.
        return tuple(grids[::-1])

    def get_pix(self, mode: str = "center") -> tuple[np.ndarray, ...]:
        """Pixel tuple (geometry order) of every data element, each of shape :attr:`data_shape`.

        Parameters
        ----------
        mode : {"center"}
            Pixel centres.
        """
        spatial = self._spatial_pix_grid(mode)
        ndim_axes = len(self.axes)
        out = []
        for grid in spatial:
            out.append(np.broadcast_to(grid, self.data_shape))
        for i, axis in enumerate(self.axes):
            shape = [1] * len(self.data_shape)
            shape[ndim_axes - 1 - i] = axis.nbin
            out.append(
                np.broadcast_to(np.arange(axis.nbin, dtype=float).reshape(shape), self.data_shape)
            )
        return tuple(out)

    def get_coord(self, frame: str | None = None) -> MapCoord:
        """Coordinates of every pixel centre, broadcast to :attr:`data_shape`.

        Parameters
        ----------
        frame : {"icrs", "galactic"}, optional
            Sky frame of the result (default: the geometry's).

        Returns
        -------
        MapCoord
            Coordinates.
        """
        coord = self.pix_to_coord(self.get_pix()).broadcast()
        return coord if frame is None else coord.to_frame(frame)

    def separation(self, center: SkyCoord) -> u.Quantity:
        """Angular distance of every spatial pixel centre from ``center``.

        Parameters
        ----------
        center : `~astropy.coordinates.SkyCoord`
            Reference position.

        Returns
        -------
        `~astropy.units.Quantity`
            Separation in deg, shape :attr:`spatial_shape`.
        """
        coord = self.to_image().get_coord()
        return center.separation(coord.skycoord).to(u.deg)

    def contains(self, coords: Any) -> np.ndarray:
        """Return True where a coordinate falls inside the geometry (all axes included)."""
        idx = self.coord_to_idx(coords)
        return idx[0] >= 0

    def to_image(self) -> Geom:
        """Return the geometry without non-spatial axes."""
        return self._init_copy(axes=MapAxes([]))

    def to_cube(self, axes: Any) -> Geom:
        """Return the spatial part with ``axes`` appended to the existing axes."""
        return self._init_copy(axes=MapAxes([*self.axes, *axes]))

    def replace_axis(self, axis: Any) -> Geom:
        """Return a copy with the axis of the same name replaced."""
        return self._init_copy(axes=self.axes.replace(axis))

    def squash(self, axis_name: str) -> Geom:
        """Return a copy with axis ``axis_name`` squashed to a single bin."""
        return self._init_copy(axes=self.axes.squash(axis_name))

    def drop(self, axis_name: str) -> Geom:
        """Return a copy without axis ``axis_name``."""
        return self._init_copy(axes=self.axes.drop(axis_name))


def _axis_value(coords: MapCoord, name: str) -> Any:
    if name not in coords.axes:
        raise ValueError(f"coordinates lack a value for axis {name!r}; have {coords.axis_names}")
    return coords.axes[name]
