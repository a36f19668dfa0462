"""A map is an array, a geometry and a unit: :class:`Map`."""

from __future__ import annotations

import operator
import os
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from .geom import Geom
from .map_ops import histogram_idx, interp_pix, smooth_image_stack
from .wcs import WcsGeom

__all__ = ["Map"]


class Map:
    """Values on a geometry: ``data`` (numpy array) + ``geom`` + ``unit``.

    ``data.shape == geom.data_shape``: non-spatial axes come first in *reversed* axis order
    (as in FITS), then the spatial dimensions. For a WCS cube with axes ``[energy]`` the data
    shape is ``(n_energy, ny, nx)``; for HEALPix ``(..., npix)``.

    Parameters
    ----------
    geom : Geom
        Geometry (`WcsGeom`, `HpxGeom` or `RegionGeom`).
    data : array-like, optional
        Values of shape ``geom.data_shape`` (default zeros of ``dtype``).
    unit : str or `~astropy.units.Unit`
        Unit of the values.
    dtype : numpy dtype
        Data type when ``data`` is not given.
    meta : dict, optional
        Free-form metadata (written to the FITS header where possible).

    Examples
    --------
    >>> import astropy.units as u
    >>> from gammaprob.maps import Map, MapAxis, WcsGeom
    >>> energy = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, nbin=2)
    >>> geom = WcsGeom.create(width=2, binsz=0.5, axes=[energy])
    >>> m = Map.from_geom(geom, unit="cm-2 s-1")
    >>> m.data.shape
    (2, 4, 4)
    """

    def __init__(
        self,
        geom: Geom,
        data: Any = None,
        unit: Any = "",
        dtype: Any = np.float64,
        meta: dict | None = None,
    ) -> None:
        if not isinstance(geom, Geom):
            raise TypeError(f"geom must be a Geom, got {type(geom).__name__}")
        self._geom = geom
        if isinstance(data, u.Quantity):
            if unit not in ("", None):
                data = data.to(unit)
            unit, data = data.unit, data.value
        self.unit = unit
        self.data = np.zeros(geom.data_shape, dtype=dtype) if data is None else data
        self.meta = dict(meta or {})

    @classmethod
    def from_geom(
        cls,
        geom: Geom,
        data: Any = None,
        unit: Any = "",
        dtype: Any = np.float64,
        meta: dict | None = None,
    ) -> Map:
        """Create a map on ``geom`` (zeros unless ``data`` is given); see :class:`Map`."""
        return cls(geom, data=data, unit=unit, dtype=dtype, meta=meta)

    # ---- core attributes ----------------------------------------------------------------------
    @property
    def geom(self) -> Geom:
        """The geometry."""
        return self._geom

    @property
    def data(self) -> np.ndarray:
        """The values (shape ``geom.data_shape``)."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if isinstance(value, u.Quantity):
            raise TypeError("set Map.data with a plain array; use Map.quantity for Quantities")
        value = np.asarray(value)
        if value.shape != self._geom.data_shape:
            raise ValueError(
                f"data shape {value.shape} does not match geometry data shape "
                f"{self._geom.data_shape} (axes {self._geom.axes.names} reversed, then spatial)"
            )
        self._data = value

    @property
    def unit(self) -> u.UnitBase:
        """Unit of the values."""
        return self._unit

    @unit.setter
    def unit(self, value: Any) -> None:
        try:
            self._unit = u.Unit("" if value is None else value)
        except ValueError as exc:
            raise ValueError(f"unknown unit {value!r}") from exc

    @property
    def quantity(self) -> u.Quantity:
        """Values as a Quantity (a view of ``data``)."""
        return u.Quantity(self._data, self._unit, copy=False)

    @quantity.setter
    def quantity(self, value: u.Quantity) -> None:
        value = u.Quantity(value)
        self.data = value.value
        self.unit = value.unit

    def copy(self, **changes: Any) -> Map:
        """Return a deep copy with ``geom``, ``data``, ``unit`` or ``meta`` optionally replaced."""
        kwargs = {
            "geom": self._geom,
            "data": self._data.copy(),
            "unit": self._unit,
            "meta": dict(self.meta),
        }
        unknown = set(changes) - set(kwargs)
        if unknown:
            raise TypeError(f"Map.copy: unknown arguments {sorted(unknown)}")
        kwargs.update(changes)
        return Map(**kwargs)

    def to_unit(self, unit: Any) -> Map:
        """Return a copy converted to ``unit``."""
        return self.copy(data=self.quantity.to_value(unit), unit=unit)

    # ---- arithmetic ---------------------------------------------------------------------------
    # numpy arrays and Quantities on the left defer to the reflected Map operators
    __array_ufunc__ = None

    def _operand(self, other: Any) -> Any:
        if isinstance(other, Map):
            if other.geom != self._geom:
                if other.geom.to_image() != self._geom.to_image():
                    raise ValueError("maps on different spatial geometries cannot be combined")
                if len(other.geom.axes) and len(self._geom.axes):
                    raise ValueError(
                        f"maps with different axes {self._geom.axes.names} and "
                        f"{other.geom.axes.names} cannot be combined; only an image (no axes) "
                        f"broadcasts over a cube"
                    )
                try:
                    np.broadcast_shapes(other.data.shape, self._data.shape)
                except ValueError:
                    raise ValueError(
                        f"map data shapes {self._data.shape} and {other.data.shape} do not broadcast"
                    ) from None
            return other.quantity
        return other

    def _arith(self, other: Any, op, reflected: bool = False) -> Map:
        other_value = self._operand(other)
        a, b = (other_value, self.quantity) if reflected else (self.quantity, other_value)
        result = u.Quantity(op(a, b))
        geom = self._geom
        if isinstance(other, Map) and other.data.ndim > self._data.ndim:
            geom = other.geom
        if result.shape != geom.data_shape:
            raise ValueError(
                f"result shape {result.shape} does not match geometry {geom.data_shape}"
            )
        return Map(geom, data=result.value, unit=result.unit, meta=dict(self.meta))

    def __add__(self, other):
        return self._arith(other, operator.add)

    def __radd__(self, other):
        return self._arith(other, operator.add, reflected=True)

    def __sub__(self, other):
        return self._arith(other, operator.sub)

    def __rsub__(self, other):
        return self._arith(other, operator.sub, reflected=True)

    def __mul__(self, other):
        return self._arith(other, operator.mul)

    def __rmul__(self, other):
        return self._arith(other, operator.mul, reflected=True)

    def __truediv__(self, other):
        return self._arith(other, operator.truediv)

    def __rtruediv__(self, other):
        return self._arith(other, operator.truediv, reflected=True)

    def __pow__(self, power):
        return self._arith(power, operator.pow)

    def __neg__(self):
        return self.copy(data=-self._data)

    def _compare(self, other: Any, op) -> Map:
        other_value = self._operand(other)
        result = op(self.quantity, other_value)
        return Map(self._geom, data=np.asarray(result), unit="")

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    def __le__(self, other):
        return self._compare(other, operator.le)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __ge__(self, other):
        return self._compare(other, operator.ge)

    def _logical(self, other: Any, op) -> Map:
        value = other.data if isinstance(other, Map) else other
        return Map(self._geom, data=op(self._data.astype(bool), value), unit="")

    def __and__(self, other):
        return self._logical(other, operator.and_)

    def __or__(self, other):
        return self._logical(other, operator.or_)

    def __invert__(self):
        return Map(self._geom, data=~self._data.astype(bool), unit="")

    __hash__ = None

    # ---- reductions ---------------------------------------------------------------------------
    def reduce(
        self, axis_name: str, func: Any = np.add, keepdims: bool = False, weights: Any = None
    ) -> Map:
        """Reduce the data over one non-spatial axis.

        Parameters
        ----------
        axis_name : str
            Axis to reduce.
        func : numpy ufunc
            Reduction (``np.add``, ``np.maximum``, ``np.logical_or``, ...).
        keepdims : bool
            Keep the axis squashed to one bin instead of dropping it.
        weights : array-like or Map, optional
            Multiply the data by these weights first (e.g. a mask).

        Returns
        -------
        Map
            Reduced map with the same unit.
        """
        dim = self._geom.axes.index_data(axis_name)
        data = self._data
        if weights is not None:
            data = data * (weights.data if isinstance(weights, Map) else np.asarray(weights))
        reduced = func.reduce(data, axis=dim, keepdims=keepdims)
        geom = self._geom.squash(axis_name) if keepdims else self._geom.drop(axis_name)
        return Map(geom, data=reduced, unit=self._unit, meta=dict(self.meta))

    def reduce_over_axes(
        self, func: Any = np.add, keepdims: bool = False, axes_names: list | None = None
    ) -> Map:
        """Reduce over several (default: all) non-spatial axes with ``func``."""
        result = self
        for name in axes_names if axes_names is not None else self._geom.axes.names:
            result = result.reduce(name, func=func, keepdims=keepdims)
        return result

    def sum_over_axes(self, axes_names: list | None = None, keepdims: bool = True) -> Map:
        """Sum over non-spatial axes (default all); ``keepdims`` keeps them as single bins."""
        return self.reduce_over_axes(np.add, keepdims=keepdims, axes_names=axes_names)

    # ---- access by index and coordinate -------------------------------------------------------
    def get_by_idx(self, idx: tuple) -> np.ndarray:
        """Values at an index tuple in geometry order (spatial first); no ``-1`` entries."""
        idx = np.broadcast_arrays(*(np.asarray(i) for i in idx))
        if any(np.any(i < 0) for i in idx):
            raise IndexError("index -1 marks a coordinate outside the map; filter it first")
        return self._data[tuple(idx[::-1])]

    def get_by_coord(self, coords: Any, fill_value: float = np.nan) -> u.Quantity:
        """Values of the pixels containing the coordinates (nearest-bin lookup).

        Parameters
        ----------
        coords : MapCoord, dict, tuple or SkyCoord
            Sky position and one value per non-spatial axis.
        fill_value : float
            Value for coordinates outside the map.

        Returns
        -------
        `~astropy.units.Quantity`
            Values with the map unit.
        """
        idx = self._geom.coord_to_idx(coords)
        valid = idx[0] >= 0
        safe = tuple(np.where(valid, i, 0) for i in idx)
        values = np.where(valid, self._data[safe[::-1]], fill_value)
        return u.Quantity(values, self._unit)

    def interp_by_coord(
        self, coords: Any, fill_value: float = np.nan, values_scale: str = "lin"
    ) -> u.Quantity:
        """Interpolate the map at coordinates.

        Interpolation is multilinear in pixel coordinates, which for non-spatial axes are
        linear in the axis' ``interp`` space (e.g. log energy). WCS images interpolate
        bilinearly; HEALPix and region geometries use the pixel containing the position.

        Parameters
        ----------
        coords : MapCoord, dict, tuple or SkyCoord
            Coordinates.
        fill_value : float
            Value outside the map (more than half a pixel beyond the outer pixel centres).
        values_scale : {"lin", "log", "sqrt"}
            Interpolate the values linearly, in log or in sqrt.

        Returns
        -------
        `~astropy.units.Quantity`
            Interpolated values with the map unit.
        """
        geom = self._geom
        pix = list(geom.coord_to_pix(coords))
        n_spatial = len(geom.spatial_shape)
        spatial_linear = isinstance(geom, WcsGeom)
        if not spatial_linear:
            spatial_idx = geom.pix_to_idx(tuple(pix))[:n_spatial]
            pix[:n_spatial] = [np.where(i >= 0, i, np.nan).astype(float) for i in spatial_idx]
        linear = (True,) * len(geom.axes) + (spatial_linear,) * n_spatial
        values = interp_pix(self._data, tuple(pix[::-1]), linear, fill_value, values_scale)
        return u.Quantity(values, self._unit)

    def fill_by_coord(self, coords: Any, weights: Any = None) -> None:
        """Add ``weights`` (default 1 per entry) to the pixels containing the coordinates.

        Use it to histogram events: ``m.fill_by_coord({"skycoord": radec, "energy": e})``.
        Coordinates outside the map are ignored.

        Parameters
        ----------
        coords : MapCoord, dict, tuple or SkyCoord
            Event coordinates.
        weights : array-like, optional
            Weight per entry.
        """
        idx = self._geom.coord_to_idx(coords)
        counts = histogram_idx(self._data.shape, tuple(idx[::-1]), weights)
        self._data = self._data + counts.astype(self._data.dtype, copy=False)

    def fill_by_idx(self, idx: tuple, weights: Any = None) -> None:
        """Add weights at an index tuple (geometry order); ``-1`` entries are ignored."""
        counts = histogram_idx(self._data.shape, tuple(np.asarray(i) for i in idx[::-1]), weights)
        self._data = self._data + counts.astype(self._data.dtype, copy=False)

    # ---- slicing ------------------------------------------------------------------------------
    def slice_by_idx(self, slices: dict) -> Map:
        """Select bins of non-spatial axes by index.

        Parameters
        ----------
        slices : dict
            Axis name to ``int`` (the axis is dropped) or ``slice`` (the axis is sliced).

        Returns
        -------
        Map
            The selected part.
        """
        data = self._data
        geom = self._geom
        for name, slc in slices.items():
            dim = geom.axes.index_data(name)
            index = [slice(None)] * data.ndim
            if isinstance(slc, int | np.integer):
                index[dim] = int(slc)
                data = data[tuple(index)]
                geom = geom.drop(name)
            else:
                index[dim] = slc
                data = data[tuple(index)]
                geom = geom.replace_axis(geom.axes[name].slice(slc))
        return Map(geom, data=data.copy(), unit=self._unit, meta=dict(self.meta))

    def get_image_by_idx(self, idx: tuple) -> Map:
        """Return the image at one index per non-spatial axis (in axes order)."""
        if len(idx) != len(self._geom.axes):
            raise ValueError(f"need one index per axis {self._geom.axes.names}, got {idx}")
        return self.slice_by_idx(dict(zip(self._geom.axes.names, idx, strict=True)))

    def iter_images(self):
        """Yield ``(image_map, idx)`` for every combination of non-spatial bins."""
        for idx in np.ndindex(*self._geom.axes.shape):
            yield self.get_image_by_idx(idx), idx

    # ---- WCS-only operations ------------------------------------------------------------------
    def _require_wcs(self, what: str) -> None:
        if not isinstance(self._geom, WcsGeom):
            raise TypeError(f"Map.{what} needs a WcsGeom, the map has {type(self._geom).__name__}")

    def cutout(
        self, position: SkyCoord, width: Any, mode: str = "trim", fill_value: float = np.nan
    ) -> Map:
        """Cut out the region around ``position`` (WCS maps).

        Parameters
        ----------
        position : `~astropy.coordinates.SkyCoord`
            Cutout centre.
        width : float, pair or `~astropy.units.Quantity`
            Size (lon, lat) in deg.
        mode : {"trim", "partial", "strict"}
            See :meth:`WcsGeom.cutout`.
        fill_value : float
            Value of ``partial`` cutout pixels outside the parent map.

        Returns
        -------
        Map
            The cutout, on a geometry aligned with this one.
        """
        self._require_wcs("cutout")
        c2d = self._geom._cutout2d(position, width, mode)
        geom = self._geom._init_copy(wcs=c2d.wcs, npix=c2d.shape[::-1])
        data = np.full(
            geom.data_shape, fill_value, dtype=np.result_type(self._data, np.asarray(fill_value))
        )
        lead = (Ellipsis,)
        data[lead + tuple(c2d.slices_cutout)] = self._data[lead + tuple(c2d.slices_original)]
        return Map(geom, data=data, unit=self._unit, meta=dict(self.meta))

    def smooth(self, width: Any, kernel: str = "gauss", mode: str = "constant") -> Map:
        """Convolve every image plane with a normalised kernel (WCS maps).

        Parameters
        ----------
        width : `~astropy.units.Quantity` or float
            Gaussian sigma, disk radius or box width (deg if a float).
        kernel : {"gauss", "disk", "box"}
            Kernel shape.
        mode : str
            Border handling (`scipy.ndimage` modes). The default ``"constant"`` counts pixels
            beyond the border as zero; gammapy's default is ``"reflect"``.

        Returns
        -------
        Map
            Smoothed map (float64).
        """
        self._require_wcs("smooth")
        width_deg = u.Quantity(width, u.deg).to_value(u.deg)
        width_pix = width_deg / float(np.mean(self._geom.pixel_scales.to_value(u.deg)))
        data = smooth_image_stack(self._data, width_pix, kernel, mode=mode)
        return self.copy(data=data)

    def downsample(self, factor: int, preserve_counts: bool = True) -> Map:
        """Merge ``factor x factor`` pixels: sum (``preserve_counts``) or mean (WCS maps)."""
        self._require_wcs("downsample")
        geom = self._geom.downsample(factor)
        ny, nx = geom.spatial_shape
        lead = self._data.shape[:-2]
        blocks = self._data.reshape((*lead, ny, factor, nx, factor))
        data = blocks.sum(axis=(-3, -1)) if preserve_counts else blocks.mean(axis=(-3, -1))
        return Map(geom, data=data, unit=self._unit, meta=dict(self.meta))

    def upsample(self, factor: int, preserve_counts: bool = True) -> Map:
        """Split pixels into ``factor x factor`` (values divided by ``factor**2`` if ``preserve_counts``)."""
        self._require_wcs("upsample")
        geom = self._geom.upsample(factor)
        data = np.repeat(np.repeat(self._data, factor, axis=-1), factor, axis=-2)
        if preserve_counts:
            data = data / factor**2
        return Map(geom, data=data, unit=self._unit, meta=dict(self.meta))

    # ---- I/O ----------------------------------------------------------------------------------
    @classmethod
    def read(
        cls,
        path: str | os.PathLike,
        hdu: str | int | None = None,
        hdu_bands: str | None = None,
        unit: Any = None,
    ) -> Map:
        """Read a map from FITS; see :func:`gammaprob.maps.io.read_map`."""
        from .io import read_map

        return read_map(path, hdu=hdu, hdu_bands=hdu_bands, unit=unit)

    def write(self, path: str | os.PathLike, overwrite: bool = False, hdu: str = "PRIMARY") -> None:
        """Write the map to FITS; see :func:`gammaprob.maps.io.write_map`."""
        from .io import write_map

        write_map(self, path, overwrite=overwrite, hdu=hdu)

    # ---- display ------------------------------------------------------------------------------
    def plot(self, ax=None, **kwargs):
        """Plot the map (see :func:`gammaprob.visualization.maps.plot_map`); matplotlib axes."""
        from gammaprob.visualization.maps import plot_map

        return plot_map(self, ax=ax, **kwargs)

    def __repr__(self) -> str:
        finite = (
            np.isfinite(self._data)
            if self._data.dtype.kind == "f"
            else np.ones(self._data.shape, bool)
        )
        if self._data.size and finite.any() and self._data.dtype.kind in "fiub":
            values = self._data[finite]
            stats = f"min={values.min():.4g}, max={values.max():.4g}, sum={values.sum():.4g}"
        else:
            stats = "no finite values"
        return (
            f"Map(shape={self._data.shape}, unit={str(self._unit) or 'dimensionless'!r}, "
            f"dtype={self._data.dtype}, {stats},\n    geom={self._geom!r})"
        )
