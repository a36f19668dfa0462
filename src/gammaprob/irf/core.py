"""The common container of tabulated IRFs: axes, a data array, a unit and header metadata."""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

import astropy.units as u
import numpy as np
from astropy.io import fits

from gammaprob.maps.axes import MapAxes
from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import get_hdu, open_fits

from .gadf import AXIS_SPEC, header_meta, is_pointlike, read_axis, read_data_column, table_hdu
from .gadf import write_table_hdu as _write
from .interpolation import inside_edges, interp_grid

__all__ = ["IRF", "FoVAlignment"]


def frozen_state(irf) -> dict:
    """Pickle state of an immutable IRF: its attributes, read-only mappings as dicts."""
    mappings = [name for name, value in irf.__dict__.items() if isinstance(value, MappingProxyType)]
    attributes = {
        name: dict(value) if name in mappings else value for name, value in irf.__dict__.items()
    }
    return {"attributes": attributes, "mappings": mappings}


def restore_frozen_state(irf, state: dict) -> None:
    """Set the attributes of :func:`frozen_state` again, mappings and arrays read-only."""

    def frozen(value):
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
        return value

    for name, value in state["attributes"].items():
        if name in state["mappings"]:
            value = MappingProxyType({key: frozen(item) for key, item in value.items()})
        object.__setattr__(irf, name, frozen(value))


class FoVAlignment(StrEnum):
    """Orientation of the field-of-view coordinates of a background (header ``FOVALIGN``)."""

    RADEC = "RADEC"
    ALTAZ = "ALTAZ"


class IRF:
    """Base container of a tabulated instrument response (immutable).

    Subclasses fix the axes, unit, GADF header classes and interpolation scales. Data are held
    as a read-only float64 array in the class's canonical unit, with axes in the order of
    ``required_axes``.

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes or list of MapAxis
        Axes named and ordered as ``required_axes``.
    data : array-like or astropy.units.Quantity
        Values with shape ``axes.shape``; a Quantity is converted to ``default_unit``, a plain
        array is taken to be in ``default_unit``.
    meta : mapping, optional
        Header keywords kept for writing.
    is_pointlike : bool
        Point-like (``HDUCLAS3 = POINT-LIKE``) rather than full-enclosure IRF.
    fov_alignment : {"RADEC", "ALTAZ"}
        Field-of-view orientation (used by backgrounds).
    """

    tag: ClassVar[str] = ""
    required_axes: ClassVar[tuple[str, ...]] = ()
    default_unit: ClassVar[u.UnitBase] = u.one
    hduclas2: ClassVar[str] = ""
    hduclas4: ClassVar[str] = ""
    extname: ClassVar[str] = ""
    column: ClassVar[tuple[str, ...]] = ()
    values_scale: ClassVar[str] = "lin"
    method: ClassVar[str] = "linear"
    #: Mask points outside the axis edges with 0 (True) or extrapolate (False).
    fill_outside: ClassVar[bool] = True

    def __init__(
        self,
        axes,
        data,
        meta: Mapping | None = None,
        is_pointlike: bool = False,
        fov_alignment: str | FoVAlignment = FoVAlignment.RADEC,
    ) -> None:
        axes = MapAxes(axes)
        if tuple(axes.names) != self.required_axes:
            raise ValueError(
                f"{type(self).__name__} needs axes {list(self.required_axes)} in this order, "
                f"got {axes.names}"
            )
        if isinstance(data, u.Quantity):
            try:
                data = data.to_value(self.default_unit)
            except u.UnitConversionError:
                raise ValueError(
                    f"{type(self).__name__}: data unit {data.unit} is not convertible to "
                    f"{self.default_unit}"
                ) from None
        data = np.array(data, dtype=float)
        if data.ndim == 0:
            data = np.full(axes.shape, float(data))
        if data.shape != axes.shape:
            raise ValueError(
                f"{type(self).__name__}: data shape {data.shape} does not match axes {axes.shape}"
            )
        if not np.all(np.isfinite(data)):
            raise ValueError(f"{type(self).__name__}: data contain NaN or infinite values")
        if np.any(data < 0):
            raise ValueError(f"{type(self).__name__}: data contain negative values")
        data.setflags(write=False)
        object.__setattr__(self, "_axes", axes)
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_meta", MappingProxyType(dict(meta or {})))
        object.__setattr__(self, "_is_pointlike", bool(is_pointlike))
        object.__setattr__(
            self,
            "_fov_alignment",
            FoVAlignment(str(getattr(fov_alignment, "value", fov_alignment)).upper()),
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; create a new object instead")

    def __getstate__(self) -> dict:
        """State for pickle (Dask workers): the read-only mappings as plain dicts."""
        return frozen_state(self)

    def __setstate__(self, state: dict) -> None:
        """Restore a pickled IRF, read-only as built."""
        restore_frozen_state(self, state)

    # ---- properties ---------------------------------------------------------------------------
    @property
    def axes(self) -> MapAxes:
        """Axes in ``required_axes`` order."""
        return self._axes

    @property
    def data(self) -> np.ndarray:
        """Read-only float64 values in `unit`."""
        return self._data

    @property
    def unit(self) -> u.UnitBase:
        """Unit of `data`."""
        return self.default_unit

    @property
    def quantity(self) -> u.Quantity:
        """Data as a Quantity."""
        return u.Quantity(self._data, self.unit, copy=False)

    @property
    def meta(self) -> Mapping:
        """Header keywords (read-only mapping)."""
        return self._meta

    @property
    def is_pointlike(self) -> bool:
        """True for point-like IRFs (a directional cut was applied)."""
        return self._is_pointlike

    @property
    def fov_alignment(self) -> FoVAlignment:
        """Orientation of field-of-view coordinates."""
        return self._fov_alignment

    def __repr__(self) -> str:
        axes = ", ".join(
            f"{a.name}[{a.nbin}: {a.edges[0].value:.4g}..{a.edges[-1].value:.4g}"
            f"{'' if a.unit == u.one else f' {a.unit}'}]"
            for a in self.axes
        )
        kind = "point-like" if self.is_pointlike else "full-enclosure"
        unit = "1" if self.unit == u.one else str(self.unit)
        return f"{type(self).__name__}({axes}; unit={unit}, max={self._data.max():.4g}, {kind})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (
            self.axes == other.axes
            and np.array_equal(self._data, other._data)
            and self.is_pointlike == other.is_pointlike
            and self.fov_alignment == other.fov_alignment
        )

    __hash__ = None  # mutable-looking numpy payload; compare with ==

    # ---- evaluation ---------------------------------------------------------------------------
    def _coords(self, coords: Mapping[str, Any]) -> list[np.ndarray]:
        unknown = set(coords) - set(self.required_axes)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.evaluate: unknown coordinates {sorted(unknown)}; "
                f"expected {list(self.required_axes)}"
            )
        values = []
        for name in self.required_axes:
            if name not in coords:
                raise ValueError(
                    f"{type(self).__name__}.evaluate: missing coordinate {name!r}; expected "
                    f"{list(self.required_axes)}"
                )
            unit = AXIS_SPEC[name][2]
            value = coords[name]
            if unit == u.one and not isinstance(value, u.Quantity):
                value = np.asarray(value, dtype=float)
            elif not isinstance(value, u.Quantity):
                raise TypeError(f"coordinate {name!r} must be a Quantity in units of {unit}")
            else:
                value = np.asarray(value.to_value(unit), dtype=float)
            if not np.all(np.isfinite(value)):
                raise ValueError(f"coordinate {name!r} contains NaN or infinite values")
            values.append(value)
        return values

    def _nodes(self) -> list[np.ndarray]:
        return [a.center.to_value(AXIS_SPEC[a.name][2]) for a in self.axes]

    def _outside(self, coords: list[np.ndarray]) -> np.ndarray:
        """Points to fill with zero: outside the edges of any axis."""
        outside = [
            ~inside_edges(a.edges.to_value(AXIS_SPEC[a.name][2]), c)
            for a, c in zip(self.axes, coords, strict=True)
        ]
        return np.logical_or.reduce(np.broadcast_arrays(*outside))

    def evaluate_array(self, *coords: np.ndarray) -> np.ndarray:
        """Evaluate on plain arrays in canonical units (one per axis, broadcast together).

        Parameters
        ----------
        *coords : numpy.ndarray
            Coordinates in TeV (energies), deg (angles) or dimensionless (migra), ordered as
            ``required_axes``.

        Returns
        -------
        numpy.ndarray
            Values in `unit`; zero outside the table edges (NaN coordinates count as outside;
            :meth:`evaluate` rejects them).
        """
        coords = [np.asarray(c, dtype=float) for c in coords]
        scales = [a.interp for a in self.axes]
        values = interp_grid(
            self._nodes(), self._data, coords, scales, self.values_scale, method=self.method
        )
        if self.fill_outside:
            values = np.where(self._outside(coords), 0.0, values)
        return values

    def evaluate(self, **coords) -> u.Quantity:
        """Interpolate the IRF at the given coordinates.

        Axes are interpolated in their ``interp`` scale (log for energies, linear otherwise),
        values in ``values_scale``. Between the outermost bin centre and the bin edge the table
        is extrapolated linearly; outside the edges the result is 0.

        Parameters
        ----------
        **coords : astropy.units.Quantity
            One coordinate per axis name (e.g. ``energy_true=1 * u.TeV, offset=0.5 * u.deg``);
            arrays are broadcast together. NaN or infinite coordinates raise ValueError.

        Returns
        -------
        astropy.units.Quantity
            Interpolated values in `unit`.
        """
        return u.Quantity(
            np.asarray(self.evaluate_array(*self._coords(coords))), self.unit, copy=False
        )

    # ---- I/O ------------------------------------------------------------------------------------
    @classmethod
    def from_table_hdu(cls, hdu: fits.BinTableHDU, path: str | os.PathLike | None = None):
        """Create from a GADF IRF table HDU.

        Parameters
        ----------
        hdu : astropy.io.fits.BinTableHDU
            The IRF HDU.
        path : str or path-like, optional
            File name for error messages.

        Returns
        -------
        IRF
            The IRF.
        """
        axes = MapAxes([read_axis(hdu, name, path) for name in cls.required_axes])
        data = read_data_column(hdu, cls.column, axes.shape, cls.default_unit, path=path)
        return cls(
            axes,
            data,
            meta=header_meta(hdu.header),
            is_pointlike=is_pointlike(hdu.header),
            fov_alignment=_fov_alignment(hdu, path),
        )

    @classmethod
    def read(cls, path: str | os.PathLike, hdu: str | int | None = None):
        """Read from a FITS file.

        Parameters
        ----------
        path : str or path-like
            File name (gzip allowed).
        hdu : str or int, optional
            HDU name or index (default: the class's GADF ``EXTNAME``).

        Returns
        -------
        IRF
            The IRF.
        """
        hdu = cls.extname if hdu is None else hdu
        with open_fits(path) as hdulist:
            return cls.from_table_hdu(get_hdu(hdulist, hdu, path), path=path)

    def _header(self) -> dict:
        meta = dict(self.meta)
        meta.update(
            HDUCLASS="GADF",
            HDUDOC="https://github.com/open-gamma-ray-astro/gamma-astro-data-formats",
            HDUVERS="0.3",
            HDUCLAS1="RESPONSE",
            HDUCLAS2=self.hduclas2,
            HDUCLAS3="POINT-LIKE" if self.is_pointlike else "FULL-ENCLOSURE",
            HDUCLAS4=self.hduclas4,
        )
        return meta

    def to_table_hdu(self, extname: str | None = None) -> fits.BinTableHDU:
        """Convert to a GADF table HDU.

        Parameters
        ----------
        extname : str, optional
            HDU name (default: the class's GADF name).

        Returns
        -------
        astropy.io.fits.BinTableHDU
            The HDU.
        """
        return table_hdu(
            self.axes, {self.column[0]: self.quantity}, self._header(), extname or self.extname
        )

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write to a FITS file (empty primary HDU plus the IRF HDU), atomically.

        Parameters
        ----------
        path : str or path-like
            Output file.
        overwrite : bool
            Replace an existing file.
        """
        _write(self.to_table_hdu(), path, overwrite=overwrite)


def _fov_alignment(hdu, path) -> FoVAlignment:
    value = str(hdu.header.get("FOVALIGN", "RADEC")).strip().upper()
    try:
        return FoVAlignment(value)
    except ValueError:
        raise FormatError(
            f"FOVALIGN must be 'RADEC' or 'ALTAZ', got {value!r}",
            path=path,
            hdu=hdu.name,
            column="FOVALIGN",
        ) from None
