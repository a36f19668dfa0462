"""Map coordinates: sky position (lon, lat in a frame) plus one value per non-spatial axis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

__all__ = ["FRAMES", "MapCoord"]

#: Sky frames a geometry may use.
FRAMES = ("icrs", "galactic")


def _angle_deg(value: Any, what: str) -> np.ndarray:
    if isinstance(value, u.Quantity):
        try:
            return np.asarray(value.to_value(u.deg), dtype=float)
        except u.UnitConversionError as exc:
            raise ValueError(f"{what} must be an angle, got unit {value.unit}") from exc
    return np.asarray(value, dtype=float)


def check_frame(frame: str) -> str:
    """Return ``frame`` if it is a supported sky frame, else raise ValueError."""
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    return frame


class MapCoord:
    """Coordinates of points in a map: sky position plus non-spatial axis values.

    Parameters
    ----------
    lon, lat : array-like or `~astropy.units.Quantity`
        Sky longitude and latitude (deg if plain numbers) in ``frame``.
    frame : {"icrs", "galactic"}
        Sky frame of ``lon``/``lat``.
    axes : dict, optional
        Non-spatial coordinates by axis name (Quantity, `~astropy.time.Time` or labels).

    Notes
    -----
    Arrays are not broadcast on construction; :meth:`broadcast` returns a copy with all
    values broadcast to a common shape.
    """

    def __init__(
        self, lon: Any, lat: Any, frame: str = "icrs", axes: Mapping | None = None
    ) -> None:
        self.lon = _angle_deg(lon, "lon")
        self.lat = _angle_deg(lat, "lat")
        self.frame = check_frame(frame)
        self.axes = dict(axes or {})

    @classmethod
    def create(
        cls, data: Any, frame: str | None = None, axis_names: Sequence[str] = ()
    ) -> MapCoord:
        """Create map coordinates from several input forms.

        Parameters
        ----------
        data : MapCoord, SkyCoord, dict or tuple
            - ``MapCoord``: converted to ``frame`` if given;
            - ``SkyCoord``: sky position only;
            - dict with ``"skycoord"`` or ``"lon"``/``"lat"`` plus axis values by name;
            - tuple ``(lon, lat, *axis_values)`` in the order of ``axis_names``.
        frame : {"icrs", "galactic"}, optional
            Frame for the result. Plain lon/lat are taken to be in this frame; SkyCoords are
            transformed to it.
        axis_names : sequence of str
            Names of the axis values of a tuple.

        Returns
        -------
        MapCoord
            The coordinates.
        """
        if isinstance(data, MapCoord):
            return data if frame is None else data.to_frame(frame)
        if isinstance(data, SkyCoord):
            return cls._from_skycoord(data, frame, {})
        if isinstance(data, Mapping):
            rest = {k: v for k, v in data.items() if k not in ("skycoord", "lon", "lat")}
            if "skycoord" in data:
                return cls._from_skycoord(data["skycoord"], frame, rest)
            if "lon" not in data or "lat" not in data:
                raise ValueError(
                    f"coordinates need 'skycoord' or 'lon' and 'lat'; got keys {list(data)}"
                )
            return cls(data["lon"], data["lat"], frame=frame or "icrs", axes=rest)
        if isinstance(data, tuple | list):
            if len(data) < 2:
                raise ValueError("a coordinate tuple needs at least (lon, lat)")
            values = data[2:]
            if len(values) > len(axis_names):
                raise ValueError(
                    f"coordinate tuple has {len(values)} axis values but the geometry has axes "
                    f"{list(axis_names)}"
                )
            axes = dict(zip(axis_names, values, strict=False))
            if isinstance(data[0], SkyCoord):
                raise TypeError("pass a SkyCoord as {'skycoord': ...}, not inside a tuple")
            return cls(data[0], data[1], frame=frame or "icrs", axes=axes)
        raise TypeError(f"cannot make map coordinates from {type(data).__name__}")

    @classmethod
    def _from_skycoord(cls, skycoord: SkyCoord, frame: str | None, axes: dict) -> MapCoord:
        frame = frame or skycoord.frame.name
        check_frame(frame)
        sc = skycoord.transform_to(frame)
        return cls(sc.spherical.lon.deg, sc.spherical.lat.deg, frame=frame, axes=axes)

    @property
    def skycoord(self) -> SkyCoord:
        """Sky positions as a SkyCoord."""
        return SkyCoord(self.lon, self.lat, unit="deg", frame=self.frame)

    @property
    def axis_names(self) -> list[str]:
        """Names of the non-spatial coordinates."""
        return list(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Broadcast shape of all coordinates."""
        arrays = [self.lon, self.lat, *(np.empty(np.shape(v), bool) for v in self.axes.values())]
        return np.broadcast_shapes(*(np.shape(a) for a in arrays))

    def to_frame(self, frame: str) -> MapCoord:
        """Return the coordinates transformed to ``frame`` (axis values unchanged)."""
        if frame == self.frame:
            return self
        return self._from_skycoord(self.skycoord, frame, self.axes)

    def broadcast(self) -> MapCoord:
        """Return a copy with every coordinate broadcast to :attr:`shape`."""
        shape = self.shape
        axes = {}
        for name, value in self.axes.items():
            if hasattr(value, "_apply") and not isinstance(value, u.Quantity):  # astropy Time
                axes[name] = value._apply(np.broadcast_to, shape, subok=True)
            else:
                axes[name] = np.broadcast_to(value, shape, subok=True)
        return MapCoord(
            np.broadcast_to(self.lon, shape), np.broadcast_to(self.lat, shape), self.frame, axes
        )

    def apply_mask(self, mask: np.ndarray) -> MapCoord:
        """Return the broadcast coordinates where ``mask`` is True (flattened)."""
        coord = self.broadcast()
        axes = {name: value[mask] for name, value in coord.axes.items()}
        return MapCoord(coord.lon[mask], coord.lat[mask], self.frame, axes)

    def __getitem__(self, name: str):
        if name == "lon":
            return self.lon
        if name == "lat":
            return self.lat
        if name == "skycoord":
            return self.skycoord
        try:
            return self.axes[name]
        except KeyError:
            raise KeyError(f"no coordinate {name!r}; have lon, lat and {self.axis_names}") from None

    def __repr__(self) -> str:
        return f"MapCoord(frame={self.frame!r}, shape={self.shape}, axes={self.axis_names})"
