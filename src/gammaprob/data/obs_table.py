"""The GADF observation index table and selections on it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time

from gammaprob.utils.errors import FormatError

from ._time import TimeRef

__all__ = ["ObservationTable"]


class ObservationTable(Table):
    """Observation index table (one row per observation) with selection methods.

    An astropy Table: columns such as ``OBS_ID``, ``RA_PNT``, ``DEC_PNT``, ``ZEN_PNT``,
    ``LIVETIME``, ``TSTART``, ``TSTOP``, ``OBJECT``; header keywords in ``meta``. Every
    ``select_*`` method returns a new table.
    """

    @classmethod
    def read_index(cls, path: str | os.PathLike) -> ObservationTable:
        """Read an observation index file (``obs-index.fits[.gz]``)."""
        from ._fits_cache import read_hdu

        path = Path(path)
        table = cls.read(read_hdu(path, 1)).copy(copy_data=True)
        if "OBS_ID" not in table.colnames:
            raise FormatError(
                f"observation index lacks column OBS_ID; it has {table.colnames}",
                path=path,
                hdu=1,
                column="OBS_ID",
            )
        return table

    # ------------------------------------------------------------------ derived columns
    @property
    def obs_ids(self) -> np.ndarray:
        """Observation ids in table order (int64)."""
        return np.asarray(self["OBS_ID"]).astype(np.int64)

    @property
    def pointing_radec(self) -> SkyCoord:
        """Pointing positions (ICRS) from ``RA_PNT``/``DEC_PNT``."""
        self._require("RA_PNT", "DEC_PNT")
        return SkyCoord(
            _quantity(self["RA_PNT"], u.deg), _quantity(self["DEC_PNT"], u.deg), frame="icrs"
        )

    @property
    def time_ref(self) -> Time:
        """Reference epoch of ``TSTART``/``TSTOP`` (``MJDREFI``/``MJDREFF`` in meta)."""
        return TimeRef.from_header(self.meta, hdu="OBS_INDEX").time

    @property
    def time_start(self) -> Time:
        """Observation start times."""
        self._require("TSTART")
        ref = TimeRef.from_header(self.meta, hdu="OBS_INDEX")
        return ref.to_time(_quantity(self["TSTART"], u.s))

    @property
    def time_stop(self) -> Time:
        """Observation stop times."""
        self._require("TSTOP")
        ref = TimeRef.from_header(self.meta, hdu="OBS_INDEX")
        return ref.to_time(_quantity(self["TSTOP"], u.s))

    def _require(self, *columns: str) -> None:
        for col in columns:
            if col not in self.colnames:
                raise KeyError(
                    f"the observation table has no column {col!r}; it has {self.colnames}"
                )

    # ------------------------------------------------------------------ selections
    def select_obs_ids(self, obs_ids: Sequence[int]) -> ObservationTable:
        """Rows of the given observation ids, in the order given.

        Raises KeyError naming the ids that are not in the table.
        """
        wanted = np.atleast_1d(np.asarray(obs_ids, dtype=np.int64))
        ids = self.obs_ids
        missing = sorted(set(wanted.tolist()) - set(ids.tolist()))
        if missing:
            raise KeyError(f"observation ids not in the observation table: {missing}")
        order = {obs_id: i for i, obs_id in enumerate(ids.tolist())}
        return self[[order[i] for i in wanted.tolist()]]

    def select_cone(self, center: SkyCoord, radius: u.Quantity) -> ObservationTable:
        """Observations whose pointing lies within ``radius`` of ``center``."""
        if not isinstance(center, SkyCoord):
            raise TypeError(f"center must be a SkyCoord, got {type(center).__name__}")
        radius = u.Quantity(radius, u.deg)
        return self[self.pointing_radec.separation(center) < radius]

    def select_time_range(
        self, time_range: Sequence[Time], partial_overlap: bool = False
    ) -> ObservationTable:
        """Observations inside ``[t_start, t_stop]`` (or overlapping it if ``partial_overlap``)."""
        if len(time_range) != 2:
            raise ValueError("time_range must be a (start, stop) pair of astropy Time")
        t0, t1 = Time(time_range[0]), Time(time_range[1])
        start, stop = self.time_start, self.time_stop
        inside = (t0 <= start) & (t1 >= stop)
        mask = (t0 <= stop) & (t1 >= start) if partial_overlap else inside
        return self[mask]

    def select_range(self, column: str, value_range) -> ObservationTable:
        """Observations with ``value_range[0] <= column < value_range[1]``.

        Quantities are converted to the column's unit; equal bounds select exact matches.
        For text columns (``OBJECT``, ...) give a string or a list of strings to match
        (surrounding blanks ignored).
        """
        name = self._column_name(column)
        if self[name].dtype.kind in "US":
            wanted = [value_range] if isinstance(value_range, str) else list(value_range)
            values = np.char.strip(np.asarray(self[name]).astype(str))
            return self[np.isin(values, [str(w).strip() for w in wanted])]
        if isinstance(value_range, str) or len(value_range) != 2:
            raise ValueError(f"range for {name} must be (min, max), got {value_range!r}")
        col = self[name]
        values = np.asarray(col)
        lo, hi = (_in_unit(v, col.unit, name) for v in value_range)
        if lo == hi:
            return self[values == lo]
        return self[(values >= lo) & (values < hi)]

    def _column_name(self, column: str) -> str:
        by_upper = {c.upper(): c for c in self.colnames}
        if column.upper() not in by_upper:
            raise KeyError(
                f"the observation table has no column {column!r}; it has {self.colnames}"
            )
        return by_upper[column.upper()]

    def summary(self) -> str:
        """Summarise in a few lines: number of observations, targets, total livetime."""
        lines = [f"Observation table: {len(self)} observations"]
        if "OBJECT" in self.colnames:
            names, counts = np.unique(
                np.char.strip(np.asarray(self["OBJECT"]).astype(str)), return_counts=True
            )
            top = sorted(zip(counts, names, strict=True), reverse=True)[:5]
            lines.append("targets: " + ", ".join(f"{n} ({c})" for c, n in top))
        if "LIVETIME" in self.colnames:
            livetime = _quantity(self["LIVETIME"], u.s).sum().to(u.h)
            lines.append(f"total livetime: {livetime:.2f}")
        return "\n".join(lines)


def _quantity(column, unit) -> u.Quantity:
    return u.Quantity(np.asarray(column, dtype=float), column.unit or unit)


def _in_unit(value, unit, name) -> float:
    if isinstance(value, u.Quantity):
        if unit is None:
            if value.unit != u.dimensionless_unscaled:
                raise ValueError(f"column {name} has no unit; give plain numbers, not {value}")
            return float(value.value)
        try:
            return float(value.to_value(unit))
        except u.UnitsError:
            raise ValueError(f"range for {name} must be in units of {unit}, got {value}") from None
    return float(value)
