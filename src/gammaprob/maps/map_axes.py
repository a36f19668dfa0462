"""Ordered collection of map axes with lookup by name: :class:`MapAxes`."""

from __future__ import annotations

import copy as _copy
from collections.abc import Iterable, Iterator, Sequence

__all__ = ["MapAxes"]


class MapAxes(Sequence):
    """Ordered collection of non-spatial axes with lookup by name.

    The order is the geometry's axis order (fastest-varying first in FITS terms); map data
    store them reversed in numpy order, see :class:`gammaprob.maps.Map`.

    Parameters
    ----------
    axes : iterable of MapAxis, TimeMapAxis or LabelMapAxis
        The axes; names must be unique and non-empty when there is more than one axis.

    Examples
    --------
    >>> import astropy.units as u
    >>> from gammaprob.maps import MapAxis
    >>> axes = MapAxes([MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, 3)])
    >>> axes["energy"].nbin, axes.shape
    (3, (3,))
    """

    def __init__(self, axes: Iterable = ()) -> None:
        axes = list(axes.axes if isinstance(axes, MapAxes) else axes)
        for axis in axes:
            if not hasattr(axis, "nbin") or not hasattr(axis, "name"):
                raise TypeError(f"MapAxes takes axis objects, got {type(axis).__name__}")
        names = [axis.name for axis in axes]
        if len(axes) > 1 and "" in names:
            raise ValueError(f"every axis in a MapAxes of several axes needs a name, got {names}")
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"axis names must be unique, got duplicates {sorted(duplicates)}")
        self._axes = tuple(axes)

    @property
    def axes(self) -> tuple:
        """The axes as a tuple."""
        return self._axes

    @property
    def names(self) -> list[str]:
        """Axis names in order."""
        return [axis.name for axis in self._axes]

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of bins per axis, in axis order."""
        return tuple(axis.nbin for axis in self._axes)

    def __len__(self) -> int:
        return len(self._axes)

    def __iter__(self) -> Iterator:
        return iter(self._axes)

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._axes[self.index(key)]
        if isinstance(key, slice):
            return MapAxes(self._axes[key])
        if isinstance(key, list):
            return MapAxes([self[k] for k in key])
        return self._axes[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return key in self.names
        return key in self._axes

    def index(self, name: str) -> int:
        """Return the position of the axis called ``name`` (KeyError naming the axes if absent)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no axis named {name!r}; available axes: {self.names}") from None

    def index_data(self, name: str) -> int:
        """Return the numpy data-array dimension of the axis ``name`` (spatial dims are last).

        Map data have shape ``axes[::-1].shape + spatial``, so the first axis is the dimension
        just before the spatial ones.
        """
        return len(self) - 1 - self.index(name)

    def replace(self, axis) -> MapAxes:
        """Return new axes with the axis of the same name replaced by ``axis``."""
        idx = self.index(axis.name)
        return MapAxes([*self._axes[:idx], axis, *self._axes[idx + 1 :]])

    def drop(self, name: str) -> MapAxes:
        """Return new axes without the axis ``name``."""
        idx = self.index(name)
        return MapAxes([*self._axes[:idx], *self._axes[idx + 1 :]])

    def squash(self, name: str) -> MapAxes:
        """Return new axes with axis ``name`` squashed to one bin."""
        return self.replace(self[name].squash())

    def upsample(self, factor: int, name: str) -> MapAxes:
        """Return new axes with axis ``name`` upsampled by ``factor``."""
        return self.replace(self[name].upsample(factor))

    def downsample(self, factor: int, name: str) -> MapAxes:
        """Return new axes with axis ``name`` downsampled by ``factor``."""
        return self.replace(self[name].downsample(factor))

    def is_aligned(self, other: MapAxes, rtol: float = 1e-6) -> bool:
        """Return True if both collections have pairwise aligned axes in the same order."""
        if len(other) != len(self):
            return False
        return all(
            a.is_aligned(b, rtol=rtol) if hasattr(a, "is_aligned") else a == b
            for a, b in zip(self, other, strict=True)
        )

    def copy(self) -> MapAxes:
        """Return a shallow copy (axes are immutable)."""
        return _copy.copy(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MapAxes):
            return NotImplemented
        return self._axes == other._axes

    def __hash__(self) -> int:
        return hash(self._axes)

    def __repr__(self) -> str:
        if not self._axes:
            return "MapAxes([])"
        lines = ",\n    ".join(repr(axis) for axis in self._axes)
        return f"MapAxes([\n    {lines},\n])"
