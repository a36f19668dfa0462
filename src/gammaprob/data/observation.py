"""One observation (events, GTI, pointing, IRFs, metadata) and collections of them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import astropy.units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time

from ._fits_cache import read_header
from .events import EventList
from .gti import GTI
from .hdu_index import HDULocation
from .meta import ObservationMeta
from .pointing import FixedPointing, PointingTable

__all__ = ["Observation", "Observations"]


class Observation:
    """A single observation: events, good time intervals, pointing and IRFs.

    Every component may be given as the object itself or as an :class:`HDULocation`,
    which is read on first access and then kept (lazy loading): opening a data store and
    building observations touches no event or IRF data.

    Parameters
    ----------
    obs_id : int
        Observation identifier.
    events : EventList or HDULocation, optional
        Event list.
    gti : GTI or HDULocation, optional
        Good time intervals.
    pointing : FixedPointing, PointingTable or HDULocation, optional
        Pointing; defaults to the fixed pointing in the events header.
    aeff, edisp, psf, bkg, rad_max : IRF object or HDULocation, optional
        Instrument response functions (``gammaprob.irf`` classes).
    """

    def __init__(
        self,
        obs_id: int,
        *,
        events: EventList | HDULocation | None = None,
        gti: GTI | HDULocation | None = None,
        pointing: FixedPointing | PointingTable | HDULocation | None = None,
        aeff=None,
        edisp=None,
        psf=None,
        bkg=None,
        rad_max=None,
    ) -> None:
        self.obs_id = int(obs_id)
        self._slots = {
            "events": events,
            "gti": gti,
            "pointing": pointing,
            "aeff": aeff,
            "edisp": edisp,
            "psf": psf,
            "bkg": bkg,
            "rad_max": rad_max,
        }

    def _get(self, name: str):
        value = self._slots[name]
        if isinstance(value, HDULocation):
            value = value.load()
            self._slots[name] = value
        return value

    def is_loaded(self, name: str) -> bool:
        """Whether component ``name`` ("events", "aeff", ...) has been read already."""
        if name not in self._slots:
            raise KeyError(f"unknown component {name!r}; expected one of {list(self._slots)}")
        return not isinstance(self._slots[name], HDULocation)

    def available(self) -> list[str]:
        """Components this observation has (loaded or not)."""
        return [name for name, value in self._slots.items() if value is not None]

    @property
    def events(self) -> EventList | None:
        """Event list."""
        return self._get("events")

    @property
    def gti(self) -> GTI | None:
        """Good time intervals."""
        return self._get("gti")

    @property
    def aeff(self):
        """Effective area (``gammaprob.irf.EffectiveArea2D``), or None."""
        return self._get("aeff")

    @property
    def edisp(self):
        """Energy dispersion (``gammaprob.irf.EnergyDispersion2D``), or None."""
        return self._get("edisp")

    @property
    def psf(self):
        """Point spread function (``PSF3D``, ``PSFKing`` or ``PSF3Gauss``), or None."""
        return self._get("psf")

    @property
    def bkg(self):
        """Background rate model (``Background2D`` or ``Background3D``), or None."""
        return self._get("bkg")

    @property
    def rad_max(self):
        """Direction cut of point-like IRFs (``RadMax2D``), or None.

        Without a ``RAD_MAX_2D`` HDU, a point-like effective area's ``RAD_MAX`` header
        keyword gives a fixed cut.
        """
        value = self._get("rad_max")
        if value is None and self._slots["aeff"] is not None:
            return _rad_max_from_aeff(self.aeff)  # derived, not stored: write() omits it
        return value

    @property
    def pointing(self) -> FixedPointing | PointingTable:
        """Pointing: a ``POINTING`` table if there is one, else fixed from the events header."""
        value = self._get("pointing")
        if value is None:
            header, path = self._events_header()
            if header is None:
                raise ValueError(f"observation {self.obs_id} has neither pointing nor events")
            value = FixedPointing.from_header(header, path=path)
            self._slots["pointing"] = value
        return value

    def _events_header(self):
        """Return the events header and file, without parsing the event table if unread."""
        events = self._slots["events"]
        if isinstance(events, HDULocation):
            events.check_file()
            return read_header(events.path, events.hdu), events.path
        if events is None:
            return None, None
        return events.meta, events.path

    def get_pointing_icrs(self, time: Time | None = None) -> SkyCoord:
        """Pointing position in ICRS at ``time`` (required for drift mode and tables)."""
        pointing = self.pointing
        if isinstance(pointing, PointingTable) and time is None:
            raise ValueError("time is required for a pointing table")
        return pointing.get_icrs(time)

    def get_pointing_altaz(self, time: Time) -> SkyCoord:
        """Pointing position in alt-az at ``time``."""
        return self.pointing.get_altaz(time)

    @property
    def meta(self) -> ObservationMeta:
        """Metadata from the events header (livetime, dead time, times, location, ...)."""
        header, path = self._events_header()
        if header is None:
            raise ValueError(f"observation {self.obs_id} has no events header to read meta from")
        return ObservationMeta.from_header(header, path=path)

    @property
    def livetime(self) -> u.Quantity:
        """Live time (s), from ``LIVETIME``."""
        livetime = self.meta.livetime
        if livetime is None:
            raise ValueError(f"observation {self.obs_id}: the events header has no LIVETIME")
        return livetime

    @property
    def tstart(self) -> Time:
        """Start time: ``TSTART`` of the events header, else the first GTI start."""
        start = self.meta.time_start
        return start if start is not None else self.gti.time_start.min()

    @property
    def tstop(self) -> Time:
        """Stop time: ``TSTOP`` of the events header, else the last GTI stop."""
        stop = self.meta.time_stop
        return stop if stop is not None else self.gti.time_stop.max()

    def select_time(self, time_interval) -> Observation:
        """Return the part of this observation inside a time interval (gammapy's ``select_time``).

        Events with ``start <= time < stop`` and the good time intervals clipped to the
        interval; pointing and IRFs are read once here and shared. Makers then compute the
        livetime from the clipped GTIs (``ontime x (1 - dead-time fraction)``).

        Parameters
        ----------
        time_interval : (Time, Time)
            Start and stop.

        Returns
        -------
        Observation
            Same ``obs_id``; its GTI is empty when the interval misses the observation.
        """
        if len(time_interval) != 2:
            raise ValueError("time_interval must be a (start, stop) pair of astropy Time")
        start, stop = Time(time_interval[0]), Time(time_interval[1])
        if not start < stop:
            raise ValueError(f"time_interval must have start < stop, got {start.iso}, {stop.iso}")
        events = self.events
        return Observation(
            self.obs_id,
            events=None if events is None else events.select_time((start, stop)),
            gti=self.gti.select_time((start, stop)),
            **{k: self._get(k) for k in self._slots if k not in ("events", "gti")},
        )

    # ------------------------------------------------------------------ I/O
    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write events, GTI, pointing table and IRFs into one GADF FITS file."""
        from .observation_io import write_observation

        write_observation(self, path, overwrite=overwrite)

    @classmethod
    def read(cls, path: str | os.PathLike) -> Observation:
        """Read a one-file observation (as written by :meth:`write`); IRFs by ``HDUCLAS``."""
        from .observation_io import read_observation

        return read_observation(path)

    # ------------------------------------------------------------------ summary
    def summary(self) -> str:
        """Text summary (loads events and GTI, not the IRFs)."""
        from .summary import observation_summary

        return observation_summary(self)

    def peek(self, figsize: tuple[float, float] = (12, 8)):
        """Quick-look figure: counts image, energy and offset distributions, GTIs.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .summary import plot_observation

        return plot_observation(self, figsize=figsize)

    def __repr__(self) -> str:
        parts = []
        for name, value in self._slots.items():
            if value is None:
                continue
            parts.append(name if self.is_loaded(name) else f"{name}*")
        return (
            f"Observation(obs_id={self.obs_id}, components=[{', '.join(parts)}]; * = not yet read)"
        )


def _rad_max_from_aeff(aeff):
    """Return the fixed cut of a point-like effective area (``RAD_MAX`` keyword), or None."""
    from gammaprob.irf import RadMax2D

    if aeff is None or not aeff.is_pointlike or "RAD_MAX" not in aeff.meta:
        return None
    return RadMax2D.from_irf(aeff)


class Observations:
    """An ordered collection of observations.

    Parameters
    ----------
    observations : iterable of Observation
        The observations; ids must be unique.
    """

    def __init__(self, observations: Iterable[Observation] = ()) -> None:
        self._list = list(observations)
        for obs in self._list:
            if not isinstance(obs, Observation):
                raise TypeError(f"expected Observation objects, got {type(obs).__name__}")
        ids = [obs.obs_id for obs in self._list]
        if len(set(ids)) != len(ids):
            raise ValueError("observation ids must be unique")

    @property
    def ids(self) -> list[int]:
        """Observation ids in order."""
        return [obs.obs_id for obs in self._list]

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self) -> Iterator[Observation]:
        return iter(self._list)

    def __getitem__(self, item):
        if isinstance(item, slice):
            return Observations(self._list[item])
        return self._list[item]

    def by_id(self, obs_id: int) -> Observation:
        """Return the observation with id ``obs_id``."""
        for obs in self._list:
            if obs.obs_id == int(obs_id):
                return obs
        raise KeyError(f"no observation {obs_id}; ids are {self.ids}")

    def __contains__(self, obs_id: int) -> bool:
        return int(obs_id) in self.ids

    def __repr__(self) -> str:
        ids = self.ids
        shown = ", ".join(map(str, ids[:5])) + (", ..." if len(ids) > 5 else "")
        return f"Observations({len(ids)} observations: {shown})"
