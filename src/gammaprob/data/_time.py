"""Mission elapsed time (MET) and its reference, as GADF headers define them.

GADF times are seconds since a reference epoch given by ``MJDREFI`` + ``MJDREFF`` (or
``MJDREF``) in the time scale ``TIMESYS`` (default TT), with ``TIMEUNIT`` (default s).
:class:`TimeRef` keeps the header numbers verbatim so that writing a file back reproduces
them bit for bit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.time import Time, TimeDelta

from gammaprob.utils.errors import FormatError

__all__ = ["TimeRef"]

_SCALES = {"tt", "utc", "tai", "tdb", "tcg", "tcb", "ut1"}


@dataclass(frozen=True)
class TimeRef:
    """Reference epoch of mission elapsed times.

    Parameters
    ----------
    mjdrefi : int
        Integer part of the reference MJD (days).
    mjdreff : float
        Fractional part of the reference MJD (days).
    scale : str
        Time scale (``"tt"``, ``"utc"``, ...), lower case.
    """

    mjdrefi: int
    mjdreff: float
    scale: str = "tt"

    def __post_init__(self) -> None:
        if self.scale not in _SCALES:
            raise ValueError(f"scale must be one of {sorted(_SCALES)}, got {self.scale!r}")

    @property
    def time(self) -> Time:
        """The reference epoch as an astropy Time (format mjd)."""
        return Time(self.mjdrefi, self.mjdreff, format="mjd", scale=self.scale)

    @classmethod
    def from_time(cls, time: Time) -> TimeRef:
        """Split an astropy Time into integer and fractional MJD (keeps its scale)."""
        if not isinstance(time, Time) or not time.isscalar:
            raise TypeError(f"time reference must be a scalar astropy Time, got {time!r}")
        day = time.jd1 - 2400000.5
        mjdrefi = np.floor(day)
        mjdreff = (day - mjdrefi) + time.jd2
        shift = np.floor(mjdreff)
        return cls(int(mjdrefi + shift), float(mjdreff - shift), time.scale)

    @classmethod
    def from_header(
        cls, header, path: str | os.PathLike | None = None, hdu: str | int | None = None
    ) -> TimeRef:
        """Read ``MJDREFI``/``MJDREFF`` (or ``MJDREF``), ``TIMESYS`` and check ``TIMEUNIT``.

        Parameters
        ----------
        header : mapping
            FITS header or table meta.
        path, hdu : optional
            Where the header came from, for error messages.

        Returns
        -------
        TimeRef
            The reference epoch.
        """
        if "MJDREFI" in header:
            mjdrefi = header["MJDREFI"]
            mjdreff = header.get("MJDREFF", 0.0)
        elif "MJDREF" in header:
            mjdref = float(header["MJDREF"])
            mjdrefi = np.floor(mjdref)
            mjdreff = mjdref - mjdrefi
        else:
            raise FormatError(
                "no time reference: expected header keywords MJDREFI and MJDREFF (or MJDREF)",
                path=path,
                hdu=hdu,
                column="MJDREFI",
            )
        try:
            mjdrefi_int = int(mjdrefi)
            mjdreff_float = float(mjdreff)
        except (TypeError, ValueError):
            raise FormatError(
                f"MJDREFI/MJDREFF must be numbers, got {mjdrefi!r}, {mjdreff!r}",
                path=path,
                hdu=hdu,
                column="MJDREFI",
            ) from None
        scale = str(header.get("TIMESYS", "TT")).strip().lower()
        if scale not in _SCALES:
            raise FormatError(
                f"unknown time system {scale!r}; expected one of {sorted(_SCALES)}",
                path=path,
                hdu=hdu,
                column="TIMESYS",
            )
        unit = str(header.get("TIMEUNIT", "s")).strip() or "s"
        if unit != "s":
            raise FormatError(
                f"TIMEUNIT must be 's' (GADF), got {unit!r}", path=path, hdu=hdu, column="TIMEUNIT"
            )
        return cls(mjdrefi_int, mjdreff_float, scale)

    def to_header(self) -> dict:
        """Header keywords describing this reference (``MJDREFI``, ``MJDREFF``, ...)."""
        return {
            "MJDREFI": self.mjdrefi,
            "MJDREFF": self.mjdreff,
            "TIMEUNIT": "s",
            "TIMESYS": self.scale.upper(),
            "TIMEREF": "LOCAL",
        }

    def to_time(self, met: u.Quantity | np.ndarray) -> Time:
        """Absolute times from mission elapsed times (Quantity, or float seconds)."""
        seconds = u.Quantity(met, u.s).to_value(u.s)
        return self.time + TimeDelta(seconds, format="sec")

    def to_met(self, time: Time) -> np.ndarray:
        """Mission elapsed seconds (float64) of absolute times."""
        if not isinstance(time, Time):
            raise TypeError(f"expected an astropy Time, got {type(time).__name__}")
        return (time - self.time).to_value(u.s)

    def shift_to(self, met: np.ndarray, other: TimeRef) -> np.ndarray:
        """Express seconds relative to this reference as seconds relative to ``other``."""
        if other == self:
            return np.asarray(met, dtype=float)
        offset = (self.time - other.time).to_value(u.s)
        return np.asarray(met, dtype=float) + offset

    def __str__(self) -> str:
        return f"MJD {self.mjdrefi} + {self.mjdreff!r} ({self.scale.upper()})"
