"""Time axis with possibly non-contiguous intervals: :class:`TimeMapAxis`."""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
from astropy.time import Time

from .axis_interp import pix_to_idx

__all__ = ["TimeMapAxis"]


class TimeMapAxis:
    """Axis of time intervals, which may have gaps between them (e.g. light-curve bins, GTIs).

    Interval ``i`` is ``[reference_time + edges_min[i], reference_time + edges_max[i])``.
    Intervals are sorted and do not overlap; gaps between them are allowed.

    Parameters
    ----------
    edges_min, edges_max : `~astropy.units.Quantity`
        Start and stop of each interval relative to ``reference_time`` (time unit, 1D, same
        length, ``edges_min < edges_max``).
    reference_time : `~astropy.time.Time`
        Reference epoch (its time scale is kept, e.g. TT).
    name : str
        Axis name (default ``"time"``).
    interp : {"lin"}
        Only linear interpolation is meaningful for time.

    Raises
    ------
    ValueError
        Empty, unsorted or overlapping intervals, NaN values, or a non-time unit.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astropy.time import Time
    >>> axis = TimeMapAxis([0, 2] * u.d, [1, 3] * u.d, Time(55000, format="mjd", scale="tt"))
    >>> axis.coord_to_idx(Time([55000.5, 55001.5, 55002.5], format="mjd", scale="tt"))
    array([ 0, -1,  1])
    """

    node_type = "intervals"

    def __init__(
        self,
        edges_min: u.Quantity,
        edges_max: u.Quantity,
        reference_time: Time,
        name: str = "time",
        interp: str = "lin",
    ) -> None:
        if not isinstance(reference_time, Time) or not reference_time.isscalar:
            raise TypeError("TimeMapAxis: reference_time must be a scalar astropy Time")
        if interp != "lin":
            raise ValueError(f"TimeMapAxis: interp must be 'lin', got {interp!r}")
        for what, value in (("edges_min", edges_min), ("edges_max", edges_max)):
            if not isinstance(value, u.Quantity) or not value.unit.is_equivalent(u.s):
                raise ValueError(f"TimeMapAxis: {what} must be a Quantity with a time unit")
        unit = edges_min.unit
        lo = np.atleast_1d(np.array(edges_min.to_value(unit), dtype=float))
        hi = np.atleast_1d(np.array(edges_max.to_value(unit), dtype=float))
        if lo.ndim != 1 or lo.shape != hi.shape or lo.size == 0:
            raise ValueError(
                f"TimeMapAxis: edges_min and edges_max must be 1D of equal non-zero length, "
                f"got shapes {lo.shape} and {hi.shape}"
            )
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError("TimeMapAxis: edges contain NaN or inf")
        if np.any(hi <= lo):
            raise ValueError("TimeMapAxis: every interval needs edges_min < edges_max")
        if np.any(lo[1:] < hi[:-1]):
            raise ValueError("TimeMapAxis: intervals must be sorted and must not overlap")
        lo.setflags(write=False)
        hi.setflags(write=False)
        self._lo, self._hi, self._unit = lo, hi, unit
        self._reference_time = reference_time
        self._name = name
        self._interp = interp

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def from_time_edges(
        cls,
        time_min: Time,
        time_max: Time,
        unit: Any = "d",
        name: str = "time",
        reference_time: Time | None = None,
    ) -> TimeMapAxis:
        """Create an axis from absolute interval starts and stops.

        Parameters
        ----------
        time_min, time_max : `~astropy.time.Time`
            Interval starts and stops.
        unit : str or `~astropy.units.Unit`
            Unit of the stored relative edges (default days).
        name : str
            Axis name.
        reference_time : `~astropy.time.Time`, optional
            Reference epoch (default: the first ``time_min``).

        Returns
        -------
        TimeMapAxis
            The axis.
        """
        time_min, time_max = Time(time_min), Time(time_max)
        reference_time = time_min[0] if reference_time is None else reference_time
        unit = u.Unit(unit)
        return cls(
            (time_min - reference_time).to(unit),
            (time_max - reference_time).to(unit),
            reference_time,
            name=name,
        )

    @classmethod
    def from_time_bounds(
        cls, time_min: Time, time_max: Time, nbin: int, unit: Any = "d", name: str = "time"
    ) -> TimeMapAxis:
        """Create ``nbin`` contiguous equal intervals between two times.

        Parameters
        ----------
        time_min, time_max : `~astropy.time.Time`
            Start and stop.
        nbin : int
            Number of intervals.
        unit : str or `~astropy.units.Unit`
            Unit of the stored relative edges.
        name : str
            Axis name.

        Returns
        -------
        TimeMapAxis
            The axis, with ``reference_time = time_min``.
        """
        unit = u.Unit(unit)
        span = (Time(time_max) - Time(time_min)).to_value(unit)
        edges = np.linspace(0.0, span, int(nbin) + 1)
        return cls(edges[:-1] * unit, edges[1:] * unit, Time(time_min), name=name)

    # ---- properties ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Axis name."""
        return self._name

    @property
    def interp(self) -> str:
        """Interpolation (always ``"lin"``)."""
        return self._interp

    @property
    def unit(self) -> u.UnitBase:
        """Unit of the relative edges."""
        return self._unit

    @property
    def reference_time(self) -> Time:
        """Reference epoch."""
        return self._reference_time

    @property
    def nbin(self) -> int:
        """Number of intervals."""
        return self._lo.size

    def __len__(self) -> int:
        return self.nbin

    @property
    def edges_min(self) -> u.Quantity:
        """Interval starts relative to the reference time."""
        return u.Quantity(self._lo, self._unit)

    @property
    def edges_max(self) -> u.Quantity:
        """Interval stops relative to the reference time."""
        return u.Quantity(self._hi, self._unit)

    @property
    def center(self) -> u.Quantity:
        """Interval midpoints relative to the reference time."""
        return u.Quantity(0.5 * (self._lo + self._hi), self._unit)

    @property
    def time_delta(self) -> u.Quantity:
        """Interval durations."""
        return u.Quantity(self._hi - self._lo, self._unit)

    @property
    def bin_width(self) -> u.Quantity:
        """Interval durations (alias of :attr:`time_delta`)."""
        return self.time_delta

    @property
    def time_min(self) -> Time:
        """Absolute interval starts."""
        return self._reference_time + self.edges_min

    @property
    def time_max(self) -> Time:
        """Absolute interval stops."""
        return self._reference_time + self.edges_max

    @property
    def time_mid(self) -> Time:
        """Absolute interval midpoints."""
        return self._reference_time + self.center

    @property
    def is_contiguous(self) -> bool:
        """True when every interval starts where the previous one stops."""
        return bool(np.all(self._lo[1:] == self._hi[:-1]))

    @property
    def edges(self) -> u.Quantity:
        """Contiguous edges (``nbin + 1``); only defined for contiguous axes."""
        if not self.is_contiguous:
            raise ValueError(f"time axis {self._name!r} has gaps; use edges_min / edges_max")
        return u.Quantity(np.append(self._lo, self._hi[-1]), self._unit)

    # ---- coordinates --------------------------------------------------------------------------
    def _relative(self, time: Any) -> np.ndarray:
        if isinstance(time, Time):
            return np.asarray((time - self._reference_time).to_value(self._unit), dtype=float)
        if isinstance(time, u.Quantity):
            return np.asarray(time.to_value(self._unit), dtype=float)
        raise TypeError(
            "time coordinates must be astropy Time or a Quantity relative to reference_time"
        )

    def coord_to_idx(self, time: Any, clip: bool = False) -> np.ndarray:
        """Return the interval containing each time (``[start, stop)``, last stop included).

        Parameters
        ----------
        time : `~astropy.time.Time` or `~astropy.units.Quantity`
            Absolute times, or times relative to ``reference_time``.
        clip : bool
            Put times before the first / after the last interval into the first / last one.
            Times in gaps between intervals are always ``-1``.

        Returns
        -------
        numpy.ndarray of int
            Interval indices, ``-1`` where no interval contains the time.
        """
        t = self._relative(time)
        idx = np.searchsorted(self._lo, t, side="right") - 1
        safe = np.clip(idx, 0, self.nbin - 1)
        inside = (idx >= 0) & (
            (t < self._hi[safe]) | ((safe == self.nbin - 1) & (t == self._hi[-1]))
        )
        out = np.where(inside, idx, -1)
        if clip:
            out = np.where(t < self._lo[0], 0, np.where(t > self._hi[-1], self.nbin - 1, out))
        return out.astype(np.int64)

    def coord_to_pix(self, time: Any) -> np.ndarray:
        """Convert times to pixel coordinates (interval ``i`` spans ``[i - 0.5, i + 0.5)``).

        Parameters
        ----------
        time : `~astropy.time.Time` or `~astropy.units.Quantity`
            Times.

        Returns
        -------
        numpy.ndarray
            Pixel coordinates, NaN outside every interval.
        """
        t = self._relative(time)
        idx = self.coord_to_idx(t * self._unit)
        safe = np.clip(idx, 0, self.nbin - 1)
        pix = safe - 0.5 + (t - self._lo[safe]) / (self._hi[safe] - self._lo[safe])
        return np.where(idx >= 0, pix, np.nan)

    def pix_to_idx(self, pix: Any, clip: bool = False) -> np.ndarray:
        """Round pixel coordinates to bin indices (``-1`` outside or NaN, unless ``clip``)."""
        return pix_to_idx(pix, self.nbin, clip)

    def pix_to_coord(self, pix: Any) -> Time:
        """Convert pixel coordinates inside ``[-0.5, nbin - 0.5]`` to absolute times.

        Parameters
        ----------
        pix : array-like
            Pixel coordinates.

        Returns
        -------
        `~astropy.time.Time`
            Times (NaN-valued outside the axis).
        """
        pix = np.asarray(pix, dtype=float)
        valid = (pix >= -0.5) & (pix <= self.nbin - 0.5)
        idx = np.clip(np.floor(pix + 0.5), 0, self.nbin - 1).astype(int)
        idx = np.where(np.isnan(pix), 0, idx)
        frac = pix - (idx - 0.5)
        t = self._lo[idx] + frac * (self._hi[idx] - self._lo[idx])
        return self._reference_time + np.where(valid, t, np.nan) * self._unit

    # ---- derived axes -------------------------------------------------------------------------
    def copy(self, **changes: Any) -> TimeMapAxis:
        """Return a copy with constructor arguments optionally replaced."""
        kwargs = {
            "edges_min": self.edges_min,
            "edges_max": self.edges_max,
            "reference_time": self._reference_time,
            "name": self._name,
        }
        kwargs.update(changes)
        return TimeMapAxis(**kwargs)

    def slice(self, slc: slice | int) -> TimeMapAxis:
        """Return the intervals selected by ``slc`` (step 1)."""
        if isinstance(slc, int | np.integer):
            slc = slice(int(slc), int(slc) + 1 if slc != -1 else None)
        start, stop, step = slc.indices(self.nbin)
        if step != 1 or stop <= start:
            raise ValueError(f"time axis {self._name!r}: slice {slc} must select bins with step 1")
        return self.copy(edges_min=self.edges_min[start:stop], edges_max=self.edges_max[start:stop])

    def squash(self) -> TimeMapAxis:
        """Return one interval from the first start to the last stop (gaps included)."""
        return self.copy(edges_min=self.edges_min[:1], edges_max=self.edges_max[-1:])

    def is_aligned(self, other: Any, rtol: float = 1e-9) -> bool:
        """Return True if ``other`` has the same absolute intervals within ``rtol`` of their span."""
        if not isinstance(other, TimeMapAxis) or other.nbin != self.nbin:
            return False
        shift = (other.reference_time - self._reference_time).to_value(self._unit)
        theirs_lo = other.edges_min.to_value(self._unit) + shift
        theirs_hi = other.edges_max.to_value(self._unit) + shift
        scale = max(abs(self._hi[-1] - self._lo[0]), 1e-300)
        return bool(
            np.allclose(theirs_lo, self._lo, rtol=0, atol=rtol * scale)
            and np.allclose(theirs_hi, self._hi, rtol=0, atol=rtol * scale)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TimeMapAxis):
            return NotImplemented
        return self._name == other._name and self.is_aligned(other)

    def __hash__(self) -> int:
        return hash((self._name, self._lo.tobytes(), self._hi.tobytes()))

    def __repr__(self) -> str:
        first, last = self.time_min[0], self.time_max[-1]
        return (
            f"TimeMapAxis(name={self._name!r}, nbin={self.nbin}, contiguous={self.is_contiguous}, "
            f"range=[MJD {first.mjd:.6f}, MJD {last.mjd:.6f}] {first.scale}, unit={self._unit})"
        )
