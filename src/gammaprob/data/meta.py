"""Observation metadata read from GADF header keywords."""

from __future__ import annotations

import os
from dataclasses import dataclass

import astropy.units as u
from astropy.coordinates import Angle, EarthLocation, SkyCoord
from astropy.time import Time

from gammaprob.utils.errors import FormatError

from ._time import TimeRef

__all__ = ["ObservationMeta", "location_from_header"]


def _angle(value, key, path, hdu) -> Angle:
    try:
        if isinstance(value, str):
            return Angle(value.strip())
        return Angle(float(value), u.deg)
    except (ValueError, TypeError, u.UnitsError):
        raise FormatError(
            f"cannot parse {value!r} as an angle", path=path, hdu=hdu, column=key
        ) from None


def _length(value, key, path, hdu) -> u.Quantity:
    try:
        if isinstance(value, str):
            quantity = u.Quantity(value.strip())
            return quantity if quantity.unit != u.dimensionless_unscaled else quantity.value * u.m
        return float(value) * u.m
    except (ValueError, TypeError):
        raise FormatError(
            f"cannot parse {value!r} as an altitude", path=path, hdu=hdu, column=key
        ) from None


def location_from_header(
    header, path: str | os.PathLike | None = None, hdu: str | int | None = None
) -> EarthLocation | None:
    """Observatory location from ``GEOLON``, ``GEOLAT`` and ``ALTITUDE`` (or ``GEOALT``).

    Numbers are degrees and metres; strings with units (``'-67d40m35s'``, ``'4780 m'``)
    are parsed too. Returns None when the keywords are absent.
    """
    if "GEOLON" not in header or "GEOLAT" not in header:
        return None
    lon = _angle(header["GEOLON"], "GEOLON", path, hdu)
    lat = _angle(header["GEOLAT"], "GEOLAT", path, hdu)
    alt_key = "ALTITUDE" if "ALTITUDE" in header else "GEOALT"
    height = _length(header.get(alt_key, 0.0), alt_key, path, hdu)
    return EarthLocation.from_geodetic(lon=lon, lat=lat, height=height)


def _float(header, key, path, hdu) -> float | None:
    if key not in header:
        return None
    try:
        return float(header[key])
    except (TypeError, ValueError):
        raise FormatError(
            f"expected a number, got {header[key]!r}", path=path, hdu=hdu, column=key
        ) from None


@dataclass(frozen=True)
class ObservationMeta:
    """What an observation's ``EVENTS`` header says about it.

    Attributes
    ----------
    obs_id : int or None
        Observation identifier (``OBS_ID``).
    telescope, instrument : str or None
        ``TELESCOP`` and ``INSTRUME``.
    target_name : str or None
        ``OBJECT``.
    target_position : SkyCoord or None
        ``RA_OBJ``/``DEC_OBJ`` (ICRS).
    time_start, time_stop : Time or None
        ``TSTART``/``TSTOP`` converted with the header's time reference.
    ontime : Quantity or None
        ``ONTIME`` (s).
    livetime : Quantity or None
        ``LIVETIME`` (s).
    deadtime_fraction : float or None
        ``1 - DEADC`` (or ``1 - LIVETIME/ONTIME`` when ``DEADC`` is absent).
    location : EarthLocation or None
        Observatory location.
    """

    obs_id: int | None
    telescope: str | None
    instrument: str | None
    target_name: str | None
    target_position: SkyCoord | None
    time_start: Time | None
    time_stop: Time | None
    ontime: u.Quantity | None
    livetime: u.Quantity | None
    deadtime_fraction: float | None
    location: EarthLocation | None

    @classmethod
    def from_header(
        cls, header, path: str | os.PathLike | None = None, hdu: str | int | None = "EVENTS"
    ) -> ObservationMeta:
        """Collect the metadata from an ``EVENTS`` header (missing keywords give None)."""
        tstart = _float(header, "TSTART", path, hdu)
        tstop = _float(header, "TSTOP", path, hdu)
        time_start = time_stop = None
        if tstart is not None or tstop is not None:
            ref = TimeRef.from_header(header, path=path, hdu=hdu)
            time_start = None if tstart is None else ref.to_time(tstart)
            time_stop = None if tstop is None else ref.to_time(tstop)
        ontime = _float(header, "ONTIME", path, hdu)
        livetime = _float(header, "LIVETIME", path, hdu)
        deadc = _float(header, "DEADC", path, hdu)
        if deadc is not None:
            dead = 1.0 - deadc
        elif ontime and livetime is not None:
            dead = 1.0 - livetime / ontime
        else:
            dead = None
        ra, dec = _float(header, "RA_OBJ", path, hdu), _float(header, "DEC_OBJ", path, hdu)
        target = None if ra is None or dec is None else SkyCoord(ra, dec, unit="deg", frame="icrs")
        obs_id = header.get("OBS_ID")
        if isinstance(obs_id, str) and not obs_id.strip().lstrip("+-").isdigit():
            obs_id = None  # HAWC: "chunks 103 - 133" (the id comes from the observation index)
        return cls(
            obs_id=None if obs_id is None else int(obs_id),
            telescope=_text(header, "TELESCOP"),
            instrument=_text(header, "INSTRUME"),
            target_name=_text(header, "OBJECT"),
            target_position=target,
            time_start=time_start,
            time_stop=time_stop,
            ontime=None if ontime is None else ontime * u.s,
            livetime=None if livetime is None else livetime * u.s,
            deadtime_fraction=dead,
            location=location_from_header(header, path=path, hdu=hdu),
        )


def _text(header, key) -> str | None:
    value = header.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return value or None
