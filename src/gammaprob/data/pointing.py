"""Where the telescopes pointed: fixed (RA/Dec or Alt/Az) or a time-tagged table."""

from __future__ import annotations

import os

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import read_column_unit

from ._fits_cache import read_hdu
from ._time import TimeRef
from .meta import location_from_header

__all__ = ["FixedPointing", "PointingTable"]


class FixedPointing:
    """A pointing fixed in the sky (``mode="POINTING"``) or in alt-az (``mode="DRIFT"``).

    GADF 0.2 files rarely set ``OBS_MODE`` consistently (``WOBBLE``, ``ON``, ...): every
    mode other than ``DRIFT`` means a fixed RA/Dec position.

    Parameters
    ----------
    icrs : SkyCoord, optional
        Fixed sky position (required for POINTING mode).
    altaz : SkyCoord, optional
        Fixed horizontal position (``alt``/``az``; required for DRIFT mode).
    location : EarthLocation, optional
        Observatory, needed to convert between the two frames.
    """

    def __init__(
        self,
        icrs: SkyCoord | None = None,
        altaz: SkyCoord | None = None,
        location: EarthLocation | None = None,
    ) -> None:
        if (icrs is None) == (altaz is None):
            raise ValueError("give exactly one of icrs (POINTING mode) and altaz (DRIFT mode)")
        self._icrs = None if icrs is None else icrs.icrs
        self._altaz = altaz
        self.location = location

    @property
    def mode(self) -> str:
        """``"POINTING"`` (fixed RA/Dec) or ``"DRIFT"`` (fixed alt-az)."""
        return "POINTING" if self._icrs is not None else "DRIFT"

    @property
    def fixed_icrs(self) -> SkyCoord | None:
        """Fixed sky position (None in DRIFT mode)."""
        return self._icrs

    @property
    def fixed_altaz(self) -> SkyCoord | None:
        """Fixed horizontal position (None in POINTING mode)."""
        return self._altaz

    @classmethod
    def from_header(
        cls, header, path: str | os.PathLike | None = None, hdu: str | int | None = "EVENTS"
    ) -> FixedPointing:
        """Read ``OBS_MODE`` and ``RA_PNT``/``DEC_PNT`` or ``ALT_PNT``/``AZ_PNT``."""
        mode = str(header.get("OBS_MODE", "POINTING")).strip().upper()
        location = location_from_header(header, path=path, hdu=hdu)
        keys = ("ALT_PNT", "AZ_PNT") if mode == "DRIFT" else ("RA_PNT", "DEC_PNT")
        for key in keys:
            if key not in header:
                raise FormatError(
                    f"header keyword missing; OBS_MODE={mode!r} needs {keys[0]} and {keys[1]}",
                    path=path,
                    hdu=hdu,
                    column=key,
                )
        try:
            a, b = float(header[keys[0]]), float(header[keys[1]])
        except (TypeError, ValueError):
            raise FormatError(
                f"pointing keywords must be numbers (deg), got {header[keys[0]]!r}, "
                f"{header[keys[1]]!r}",
                path=path,
                hdu=hdu,
                column=keys[0],
            ) from None
        if mode == "DRIFT":
            altaz = SkyCoord(alt=a, az=b, unit="deg", frame=AltAz(location=location))
            return cls(altaz=altaz, location=location)
        return cls(icrs=SkyCoord(a, b, unit="deg", frame="icrs"), location=location)

    def to_header(self) -> dict:
        """Header keywords (``OBS_MODE`` and the fixed position, plus location)."""
        if self.mode == "POINTING":
            header = {
                "OBS_MODE": "POINTING",
                "RA_PNT": self._icrs.ra.deg,
                "DEC_PNT": self._icrs.dec.deg,
            }
        else:
            header = {
                "OBS_MODE": "DRIFT",
                "ALT_PNT": self._altaz.alt.deg,
                "AZ_PNT": self._altaz.az.deg,
            }
        if self.location is not None:
            header["GEOLON"] = self.location.lon.deg
            header["GEOLAT"] = self.location.lat.deg
            header["ALTITUDE"] = self.location.height.to_value(u.m)
        return header

    def get_icrs(self, time: Time | None = None) -> SkyCoord:
        """Pointing in ICRS; in DRIFT mode ``time`` (and a known location) are required."""
        if self._icrs is not None:
            return self._icrs
        frame = self._altaz_frame(time)
        return SkyCoord(alt=self._altaz.alt, az=self._altaz.az, frame=frame).icrs

    def get_altaz(self, time: Time) -> SkyCoord:
        """Pointing in the horizontal frame at ``time`` (requires the location)."""
        frame = self._altaz_frame(time)
        if self._icrs is not None:
            return self._icrs.transform_to(frame)
        return SkyCoord(alt=self._altaz.alt, az=self._altaz.az, frame=frame)

    def _altaz_frame(self, time) -> AltAz:
        if time is None:
            raise ValueError("time is required to convert between alt-az and ICRS")
        if self.location is None:
            raise ValueError(
                "the observatory location is unknown (no GEOLON/GEOLAT); cannot convert "
                "between alt-az and ICRS"
            )
        return AltAz(obstime=Time(time), location=self.location)

    def __repr__(self) -> str:
        if self.mode == "POINTING":
            where = f"ra={self._icrs.ra.deg:.4f} deg, dec={self._icrs.dec.deg:.4f} deg"
        else:
            where = f"alt={self._altaz.alt.deg:.4f} deg, az={self._altaz.az.deg:.4f} deg"
        return f"FixedPointing(mode={self.mode}, {where})"


class PointingTable:
    """Time-tagged pointing positions (GADF ``POINTING`` extension).

    Positions between table rows are interpolated linearly in Cartesian unit vectors
    (great-circle-like for small steps); times outside the table are an error.

    Parameters
    ----------
    table : `~astropy.table.Table`
        Columns ``TIME`` (s since MJDREF) and ``RA_PNT``/``DEC_PNT`` (deg), optionally
        ``ALT_PNT``/``AZ_PNT``; header keywords in ``meta``.
    path : str, optional
        Source file, for error messages.
    """

    def __init__(self, table: Table, path: str | os.PathLike | None = None) -> None:
        self.path = None if path is None else str(path)
        for col in ("TIME", "RA_PNT", "DEC_PNT"):
            if col not in table.colnames:
                raise FormatError(
                    f"required column is missing; the table has columns {table.colnames}",
                    path=path,
                    hdu="POINTING",
                    column=col,
                )
        self._ref = TimeRef.from_header(table.meta, path=path, hdu="POINTING")
        met = u.Quantity(table["TIME"], u.s).to_value(u.s)
        if met.size < 1 or np.any(np.diff(met) <= 0):
            raise FormatError(
                "TIME must be strictly increasing with at least one row",
                path=path,
                hdu="POINTING",
                column="TIME",
            )
        self.table = table
        self._met = met
        self.location = location_from_header(table.meta, path=path, hdu="POINTING")

    @classmethod
    def read(cls, path: str | os.PathLike, hdu: str | int = "POINTING") -> PointingTable:
        """Read a ``POINTING`` extension."""
        return cls.from_hdu(read_hdu(path, hdu), path=path)

    @classmethod
    def from_hdu(
        cls, hdu: fits.BinTableHDU, path: str | os.PathLike | None = None
    ) -> PointingTable:
        """Create from an open FITS table HDU."""
        for col in ("TIME", "RA_PNT", "DEC_PNT"):
            unit = read_column_unit(hdu, col, default="s" if col == "TIME" else "deg", path=path)
            expected = u.s if col == "TIME" else u.deg
            if not unit.is_equivalent(expected):
                raise FormatError(
                    f"unit {unit} is not convertible to {expected}",
                    path=path,
                    hdu=hdu.name,
                    column=col,
                )
        table = Table.read(hdu).copy(copy_data=True)  # never share the file buffer
        for col in ("RA_PNT", "DEC_PNT", "ALT_PNT", "AZ_PNT"):
            if col in table.colnames and table[col].unit is None:
                table[col].unit = u.deg
        if table["TIME"].unit is None:
            table["TIME"].unit = u.s
        return cls(table, path=path)

    def to_table_hdu(self, name: str = "POINTING") -> fits.BinTableHDU:
        """GADF ``POINTING`` binary-table HDU."""
        hdu = fits.table_to_hdu(self.table)
        hdu.name = name
        return hdu

    @property
    def time(self) -> Time:
        """Times of the table rows."""
        return self._ref.to_time(self._met)

    @property
    def mode(self) -> str:
        """Always ``"TABLE"``."""
        return "TABLE"

    def _interpolate(self, time: Time, lon_col: str, lat_col: str) -> np.ndarray:
        met = np.atleast_1d(self._ref.to_met(Time(time)))
        lo, hi = self._met[0], self._met[-1]
        outside = (met < lo) | (met > hi)
        if np.any(outside):
            raise ValueError(
                f"time outside the pointing table ({lo:.1f} .. {hi:.1f} s since MJDREF); "
                f"got {met[outside][0]:.1f} s"
            )
        lon = np.deg2rad(u.Quantity(self.table[lon_col], u.deg).value)
        lat = np.deg2rad(u.Quantity(self.table[lat_col], u.deg).value)
        xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
        vec = np.stack([np.interp(met, self._met, comp) for comp in xyz])
        vec /= np.linalg.norm(vec, axis=0)
        lon_i = np.rad2deg(np.arctan2(vec[1], vec[0])) % 360.0
        lat_i = np.rad2deg(np.arcsin(np.clip(vec[2], -1.0, 1.0)))
        shape = np.shape(Time(time))
        return lon_i.reshape(shape), lat_i.reshape(shape)

    def get_icrs(self, time: Time) -> SkyCoord:
        """Pointing in ICRS at ``time``, interpolated in the table."""
        ra, dec = self._interpolate(time, "RA_PNT", "DEC_PNT")
        return SkyCoord(ra, dec, unit="deg", frame="icrs")

    def get_altaz(self, time: Time) -> SkyCoord:
        """Pointing in alt-az at ``time`` (table columns if present, else transformed)."""
        if self.location is None:
            raise ValueError("the pointing table has no GEOLON/GEOLAT; alt-az is undefined")
        frame = AltAz(obstime=Time(time), location=self.location)
        if "ALT_PNT" in self.table.colnames and "AZ_PNT" in self.table.colnames:
            az, alt = self._interpolate(time, "AZ_PNT", "ALT_PNT")
            return SkyCoord(alt=alt * u.deg, az=az * u.deg, frame=frame)
        return self.get_icrs(time).transform_to(frame)

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        t0, t1 = self.time[0].utc.isot, self.time[-1].utc.isot
        return f"PointingTable({len(self)} rows, {t0} .. {t1} UTC)"
