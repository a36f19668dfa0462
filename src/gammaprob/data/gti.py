"""Good time intervals (GTI): the time ranges during which data were taken."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import read_column_unit
from gammaprob.utils.io import atomic_path

from ._fits_cache import read_hdu
from ._time import TimeRef

__all__ = ["GTI"]


class GTI:
    """A list of good time intervals.

    Intervals are kept as float64 seconds since a reference epoch (mission elapsed time),
    exactly as GADF stores them; they are neither sorted nor merged unless asked
    (:meth:`union`).

    Parameters
    ----------
    start, stop : `~astropy.units.Quantity`
        Interval bounds in mission elapsed time (time units), same shape, ``stop >= start``.
    time_ref : `~astropy.time.Time` or TimeRef
        Reference epoch of the mission elapsed times.
    meta : dict, optional
        Extra header keywords kept for writing.

    Examples
    --------
    >>> from astropy.time import Time
    >>> gti = GTI.from_time_intervals([(Time("2020-01-01T00:00:00"), Time("2020-01-01T00:30:00"))])
    >>> round(gti.time_sum.to_value("s"))
    1800
    """

    def __init__(
        self,
        start: u.Quantity,
        stop: u.Quantity,
        time_ref: Time | TimeRef,
        meta: dict | None = None,
    ) -> None:
        start = np.atleast_1d(u.Quantity(start, u.s).to_value(u.s)).astype(float)
        stop = np.atleast_1d(u.Quantity(stop, u.s).to_value(u.s)).astype(float)
        if start.shape != stop.shape or start.ndim != 1:
            raise ValueError(
                f"start and stop must be 1D with the same length, got {start.shape} and {stop.shape}"
            )
        if not (np.all(np.isfinite(start)) and np.all(np.isfinite(stop))):
            raise ValueError("GTI start and stop must be finite")
        bad = np.nonzero(stop < start)[0]
        if bad.size:
            raise ValueError(
                f"GTI interval {int(bad[0])} ends before it starts "
                f"(start={start[bad[0]]} s, stop={stop[bad[0]]} s)"
            )
        self._start = start
        self._stop = stop
        self._ref = time_ref if isinstance(time_ref, TimeRef) else TimeRef.from_time(time_ref)
        self.meta = dict(meta or {})

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_time_intervals(
        cls, intervals: Iterable[Sequence[Time]], time_ref: Time | TimeRef | None = None
    ) -> GTI:
        """Create from a list of ``(start, stop)`` astropy Time pairs.

        Parameters
        ----------
        intervals : iterable of (Time, Time)
            Interval bounds.
        time_ref : Time or TimeRef, optional
            Reference epoch; defaults to the first start time (TT scale).
        """
        pairs = [(Time(a), Time(b)) for a, b in intervals]
        if not pairs:
            raise ValueError("intervals must contain at least one (start, stop) pair")
        if time_ref is None:
            time_ref = Time(np.floor(pairs[0][0].tt.mjd), format="mjd", scale="tt")
        ref = time_ref if isinstance(time_ref, TimeRef) else TimeRef.from_time(time_ref)
        start = np.array([ref.to_met(a) for a, _ in pairs])
        stop = np.array([ref.to_met(b) for _, b in pairs])
        return cls(start * u.s, stop * u.s, ref)

    @classmethod
    def from_table(
        cls, table: Table, path: str | os.PathLike | None = None, hdu: str | int | None = None
    ) -> GTI:
        """Create from a table with ``START``/``STOP`` columns and time-reference meta.

        Columns without a unit are taken to be in ``TIMEUNIT`` (seconds).
        """
        names = {name.upper(): name for name in table.colnames}
        for col in ("START", "STOP"):
            if col not in names:
                raise FormatError(
                    f"required column is missing; the table has columns {table.colnames}",
                    path=path,
                    hdu=hdu,
                    column=col,
                )
        ref = TimeRef.from_header(table.meta, path=path, hdu=hdu)
        values = []
        for col in ("START", "STOP"):
            column = table[names[col]]
            unit = column.unit or u.s
            if not unit.is_equivalent(u.s):
                raise FormatError(f"unit {unit} is not a time unit", path=path, hdu=hdu, column=col)
            values.append(u.Quantity(np.asarray(column, dtype=float), unit))
        meta = {k: v for k, v in table.meta.items() if k.upper() not in _OWN_KEYS}
        try:
            return cls(values[0], values[1], ref, meta=meta)
        except ValueError as exc:
            raise FormatError(str(exc), path=path, hdu=hdu, column="STOP") from None

    @classmethod
    def read(cls, path: str | os.PathLike, hdu: str | int = "GTI") -> GTI:
        """Read a GTI extension from a (possibly gzipped) FITS file.

        Parameters
        ----------
        path : str or path-like
            File name.
        hdu : str or int
            HDU name or index.
        """
        return cls.from_hdu(read_hdu(path, hdu), path=path)

    @classmethod
    def from_hdu(cls, hdu: fits.BinTableHDU, path: str | os.PathLike | None = None) -> GTI:
        """Create from an open FITS table HDU (units are checked against the header)."""
        if not isinstance(hdu, fits.BinTableHDU):
            raise FormatError("expected a binary table HDU", path=path, hdu=hdu.name)
        for col in ("START", "STOP"):
            read_column_unit(hdu, col, default="s", path=path)
        table = Table.read(hdu)
        return cls.from_table(table, path=path, hdu=hdu.name)

    @classmethod
    def from_stack(cls, gtis: Sequence[GTI]) -> GTI:
        """Concatenate several GTIs (no merging), in the first one's time reference."""
        gtis = list(gtis)
        if not gtis:
            raise ValueError("gtis must contain at least one GTI")
        result = gtis[0]
        for other in gtis[1:]:
            result = result.stack(other)
        return result

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return self._start.size

    @property
    def time_ref(self) -> Time:
        """Reference epoch of the mission elapsed times."""
        return self._ref.time

    @property
    def time_ref_info(self) -> TimeRef:
        """Reference epoch as the exact header numbers."""
        return self._ref

    @property
    def met_start(self) -> u.Quantity:
        """Interval starts in mission elapsed time (s)."""
        return self._start * u.s

    @property
    def met_stop(self) -> u.Quantity:
        """Interval stops in mission elapsed time (s)."""
        return self._stop * u.s

    @property
    def time_start(self) -> Time:
        """Interval starts as absolute times."""
        return self._ref.to_time(self._start)

    @property
    def time_stop(self) -> Time:
        """Interval stops as absolute times."""
        return self._ref.to_time(self._stop)

    @property
    def time_delta(self) -> u.Quantity:
        """Length of each interval (s)."""
        return (self._stop - self._start) * u.s

    @property
    def time_sum(self) -> u.Quantity:
        """Sum of the interval lengths (s); overlaps count twice unless merged by :meth:`union`."""
        return float(np.sum(self._stop - self._start)) * u.s

    @property
    def time_intervals(self) -> list[tuple[Time, Time]]:
        """The intervals as ``(start, stop)`` Time pairs."""
        start, stop = self.time_start, self.time_stop
        return [(start[i], stop[i]) for i in range(len(self))]

    # ------------------------------------------------------------------ operations
    def _in_ref(self, other: GTI) -> tuple[np.ndarray, np.ndarray]:
        return other._ref.shift_to(other._start, self._ref), other._ref.shift_to(
            other._stop, self._ref
        )

    def stack(self, other: GTI) -> GTI:
        """Append the intervals of ``other`` (converted to this reference); no merging."""
        start, stop = self._in_ref(other)
        return GTI(
            np.concatenate([self._start, start]) * u.s,
            np.concatenate([self._stop, stop]) * u.s,
            self._ref,
            meta=self.meta,
        )

    def union(self) -> GTI:
        """Sort the intervals and merge those that overlap or touch."""
        order = np.argsort(self._start, kind="stable")
        start, stop = self._start[order], self._stop[order]
        merged_start, merged_stop = [], []
        for a, b in zip(start, stop, strict=True):
            if merged_stop and a <= merged_stop[-1]:
                merged_stop[-1] = max(merged_stop[-1], b)
            else:
                merged_start.append(a)
                merged_stop.append(b)
        return GTI(
            np.array(merged_start) * u.s, np.array(merged_stop) * u.s, self._ref, meta=self.meta
        )

    def intersection(self, other: GTI) -> GTI:
        """Keep times good in both: the pairwise overlaps of the merged intervals.

        Returns a GTI in this reference; it is empty when nothing overlaps.
        """
        a = self.union()
        b_start, b_stop = self._in_ref(other.union())
        starts, stops = [], []
        for s1, e1 in zip(a._start, a._stop, strict=True):
            lo = np.maximum(s1, b_start)
            hi = np.minimum(e1, b_stop)
            keep = hi > lo
            starts.extend(lo[keep])
            stops.extend(hi[keep])
        return GTI(np.array(starts) * u.s, np.array(stops) * u.s, self._ref, meta=self.meta)

    def select_time(self, time_interval: Sequence[Time]) -> GTI:
        """Clip the intervals to ``[t_start, t_stop]``, dropping what lies outside."""
        t_start, t_stop = time_interval
        window = GTI.from_time_intervals([(t_start, t_stop)], time_ref=self._ref)
        return self.intersection(window)

    # ------------------------------------------------------------------ output
    def to_table(self) -> Table:
        """Table with ``START``/``STOP`` columns (s) and the time-reference meta."""
        table = Table()
        table["START"] = self._start * u.s
        table["STOP"] = self._stop * u.s
        table.meta.update(self.meta)
        table.meta.update(self._ref.to_header())
        return table

    def to_table_hdu(self, name: str = "GTI") -> fits.BinTableHDU:
        """GADF ``GTI`` binary-table HDU."""
        hdu = fits.BinTableHDU(self.to_table(), name=name)
        hdu.header["HDUCLASS"] = "GADF"
        hdu.header["HDUCLAS1"] = "GTI"
        return hdu

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write to a FITS file (atomically; ``overwrite=False`` refuses to replace a file)."""
        with atomic_path(path, overwrite=overwrite) as tmp:
            fits.HDUList([fits.PrimaryHDU(), self.to_table_hdu()]).writeto(tmp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GTI):
            return NotImplemented
        return (
            self._ref == other._ref
            and np.array_equal(self._start, other._start)
            and np.array_equal(self._stop, other._stop)
        )

    __hash__ = None

    def __repr__(self) -> str:
        if len(self) == 0:
            return f"GTI(0 intervals, ref {self._ref})"
        t0 = self.time_start.min().utc.isot
        t1 = self.time_stop.max().utc.isot
        return (
            f"GTI({len(self)} intervals, total {self.time_sum.to_value(u.s):.1f} s, "
            f"{t0} .. {t1} UTC, ref {self._ref})"
        )


_OWN_KEYS = {"MJDREFI", "MJDREFF", "MJDREF", "TIMEUNIT", "TIMESYS", "TIMEREF", "EXTNAME"}
