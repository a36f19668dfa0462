"""Event lists (GADF ``EVENTS`` extension): reading, writing, selecting and stacking."""

from __future__ import annotations

import os
from collections.abc import Sequence

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, EarthLocation, SkyCoord
from astropy.io import fits
from astropy.table import Table, vstack
from astropy.time import Time

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import parse_unit, read_column_unit
from gammaprob.utils.io import atomic_path

from ._fits_cache import read_hdu
from ._time import TimeRef
from .meta import location_from_header

__all__ = ["EventList"]

# Required columns and the physical type each unit must have (EVENT_ID has none).
REQUIRED_COLUMNS = {
    "EVENT_ID": None,
    "TIME": u.s,
    "RA": u.deg,
    "DEC": u.deg,
    "ENERGY": u.TeV,
}


def _check_columns(table: Table, path=None, hdu=None) -> None:
    """Raise FormatError if a required column is missing or has a wrong/missing unit."""
    missing = [name for name in REQUIRED_COLUMNS if name not in table.colnames]
    if missing:
        raise FormatError(
            f"required column(s) {missing} missing; the table has columns {table.colnames}",
            path=path,
            hdu=hdu,
            column=missing[0],
        )
    for name, unit in REQUIRED_COLUMNS.items():
        if unit is None:
            continue
        col_unit = table[name].unit
        if col_unit is None:
            raise FormatError(
                f"column has no unit; expected a unit convertible to {unit}",
                path=path,
                hdu=hdu,
                column=name,
            )
        if not col_unit.is_equivalent(unit):
            raise FormatError(
                f"unit {col_unit} is not convertible to {unit}", path=path, hdu=hdu, column=name
            )


class EventList:
    """A list of reconstructed gamma-ray-like events.

    Wraps an astropy Table with the GADF columns ``EVENT_ID``, ``TIME`` (s since the
    header's ``MJDREF``), ``RA``/``DEC`` (deg, ICRS), ``ENERGY`` (reconstructed, TeV)
    and any others; the header keywords are in ``table.meta``. Selections return new
    event lists; nothing is modified in place.

    Parameters
    ----------
    table : `~astropy.table.Table`
        Event table with units on the required columns and the header in ``meta``.
    path : str, optional
        File the events came from (used in error messages only).
    """

    def __init__(self, table: Table, path: str | os.PathLike | None = None) -> None:
        if not isinstance(table, Table):
            raise TypeError(f"table must be an astropy Table, got {type(table).__name__}")
        _check_columns(table, path=path, hdu="EVENTS")
        TimeRef.from_header(table.meta, path=path, hdu="EVENTS")
        self.table = table
        self.path = None if path is None else str(path)

    # ------------------------------------------------------------------ I/O
    @classmethod
    def read(cls, path: str | os.PathLike, hdu: str | int = "EVENTS") -> EventList:
        """Read the ``EVENTS`` extension of a (possibly gzipped) FITS file.

        Parameters
        ----------
        path : str or path-like
            File name.
        hdu : str or int
            HDU name or index.

        Raises
        ------
        FormatError
            Missing required columns, missing or wrong units, or a missing time reference;
            the message names the file, HDU and column.
        """
        return cls.from_hdu(read_hdu(path, hdu), path=path)

    @classmethod
    def from_hdu(cls, hdu: fits.BinTableHDU, path: str | os.PathLike | None = None) -> EventList:
        """Create from an open FITS binary-table HDU."""
        if not isinstance(hdu, fits.BinTableHDU):
            raise FormatError("expected a binary table HDU", path=path, hdu=hdu.name)
        names = hdu.columns.names
        missing = [name for name in REQUIRED_COLUMNS if name not in names]
        if missing:
            raise FormatError(
                f"required column(s) {missing} missing; the table has columns {names}",
                path=path,
                hdu=hdu.name,
                column=missing[0],
            )
        for name, unit in REQUIRED_COLUMNS.items():
            if unit is not None:
                parsed = _column_unit(hdu, name, path)
                if not parsed.is_equivalent(unit):
                    raise FormatError(
                        f"unit {parsed} is not convertible to {unit}",
                        path=path,
                        hdu=hdu.name,
                        column=name,
                    )
        table = Table.read(hdu).copy(copy_data=True)  # never share the file buffer
        return cls(table, path=path)

    def to_table_hdu(self, name: str = "EVENTS") -> fits.BinTableHDU:
        """GADF ``EVENTS`` binary-table HDU (header keywords from ``table.meta``)."""
        hdu = fits.table_to_hdu(self.table)
        hdu.name = name
        hdu.header.setdefault("HDUCLASS", "GADF")
        hdu.header.setdefault("HDUCLAS1", "EVENTS")
        return hdu

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write to a FITS file (atomically; refuses to replace a file unless ``overwrite``)."""
        with atomic_path(path, overwrite=overwrite) as tmp:
            fits.HDUList([fits.PrimaryHDU(), self.to_table_hdu()]).writeto(tmp)

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return len(self.table)

    @property
    def meta(self) -> dict:
        """Header keywords of the ``EVENTS`` extension."""
        return self.table.meta

    @property
    def time_ref(self) -> Time:
        """Reference epoch of the ``TIME`` column."""
        return TimeRef.from_header(self.meta, path=self.path, hdu="EVENTS").time

    @property
    def met(self) -> u.Quantity:
        """Event times in mission elapsed time (s)."""
        return u.Quantity(self.table["TIME"]).to(u.s)

    @property
    def time(self) -> Time:
        """Event times as absolute times."""
        ref = TimeRef.from_header(self.meta, path=self.path, hdu="EVENTS")
        return ref.to_time(self.met)

    @property
    def radec(self) -> SkyCoord:
        """Reconstructed directions (ICRS)."""
        ra = u.Quantity(self.table["RA"]).to(u.deg)
        dec = u.Quantity(self.table["DEC"]).to(u.deg)
        return SkyCoord(ra, dec, frame="icrs")

    @property
    def galactic(self) -> SkyCoord:
        """Reconstructed directions in Galactic coordinates."""
        return self.radec.galactic

    @property
    def energy(self) -> u.Quantity:
        """Reconstructed energies (TeV)."""
        return u.Quantity(self.table["ENERGY"]).to(u.TeV)

    @property
    def pointing_radec(self) -> SkyCoord:
        """Nominal pointing position from the ``RA_PNT``/``DEC_PNT`` header keywords."""
        for key in ("RA_PNT", "DEC_PNT"):
            if key not in self.meta:
                raise FormatError(
                    "header keyword missing; it is needed for offsets from the pointing",
                    path=self.path,
                    hdu="EVENTS",
                    column=key,
                )
        return SkyCoord(self.meta["RA_PNT"], self.meta["DEC_PNT"], unit="deg", frame="icrs")

    @property
    def location(self) -> EarthLocation | None:
        """Observatory location from ``GEOLON``/``GEOLAT``/``ALTITUDE`` (None if absent)."""
        return location_from_header(self.meta, path=self.path, hdu="EVENTS")

    def offset_from(self, center: SkyCoord | None = None) -> Angle:
        """Angular distance of each event from ``center`` (default: the pointing position)."""
        center = self.pointing_radec if center is None else center
        return self.radec.separation(center)

    # ------------------------------------------------------------------ selection
    def select_mask(self, mask: np.ndarray) -> EventList:
        """Keep the rows where the boolean ``mask`` is True (or the given row indices)."""
        mask = np.asarray(mask)
        if mask.dtype == bool and mask.shape != (len(self),):
            raise ValueError(f"mask must have shape ({len(self)},), got {mask.shape}")
        return EventList(self.table[mask], path=self.path)

    def select_energy(self, energy_range: u.Quantity) -> EventList:
        """Keep events with ``energy_range[0] <= ENERGY < energy_range[1]``."""
        lo, hi = _range(energy_range, u.TeV, "energy_range")
        energy = self.energy.to_value(u.TeV)
        return self.select_mask((energy >= lo) & (energy < hi))

    def select_time(self, time_interval: Sequence[Time]) -> EventList:
        """Keep events with ``time_interval[0] <= time < time_interval[1]``."""
        if len(time_interval) != 2:
            raise ValueError("time_interval must be a (start, stop) pair of astropy Time")
        ref = TimeRef.from_header(self.meta, path=self.path, hdu="EVENTS")
        lo, hi = (ref.to_met(Time(t)) for t in time_interval)
        met = self.met.to_value(u.s)
        return self.select_mask((met >= lo) & (met < hi))

    def select_offset(self, offset_band: u.Quantity, center: SkyCoord | None = None) -> EventList:
        """Keep events with ``offset_band[0] <= offset < offset_band[1]`` from ``center``.

        ``center`` defaults to the nominal pointing position (``RA_PNT``/``DEC_PNT``).
        """
        lo, hi = _range(offset_band, u.deg, "offset_band")
        offset = self.offset_from(center).to_value(u.deg)
        return self.select_mask((offset >= lo) & (offset < hi))

    def select_column(self, column: str, value_range: Sequence) -> EventList:
        """Keep events with ``value_range[0] <= column < value_range[1]`` (any column)."""
        if column not in self.table.colnames:
            raise KeyError(f"no column {column!r}; the event list has {self.table.colnames}")
        col = self.table[column]
        lo, hi = value_range
        if col.unit is not None:
            lo = u.Quantity(lo, col.unit).to_value(col.unit)
            hi = u.Quantity(hi, col.unit).to_value(col.unit)
        values = np.asarray(col)
        return self.select_mask((values >= lo) & (values < hi))

    def select_region(self, region, wcs=None) -> EventList:
        """Keep events inside a sky region (``regions.SkyRegion``) or a list of them.

        Circles are tested exactly on the sphere (separation < radius). Other shapes are
        tested in pixel space of ``wcs``, by default a tangent-plane projection centred on
        the region (0.01 deg pixels), as the regions package requires.
        """
        from regions import CircleSkyRegion, SkyRegion

        regions = region if isinstance(region, list | tuple) else [region]
        radec = self.radec
        mask = np.zeros(len(self), dtype=bool)
        for reg in regions:
            if not isinstance(reg, SkyRegion):
                raise TypeError(f"region must be a regions.SkyRegion, got {type(reg).__name__}")
            if isinstance(reg, CircleSkyRegion):
                mask |= radec.separation(reg.center) < reg.radius
            else:
                mask |= np.asarray(reg.contains(radec, wcs or _local_wcs(reg)))
        return self.select_mask(mask)

    # ------------------------------------------------------------------ combination
    @classmethod
    def from_stack(cls, event_lists: Sequence[EventList]) -> EventList:
        """Concatenate event lists; times are converted to the first list's ``MJDREF``.

        The header of the first list is kept, and only the columns present in every list.
        """
        event_lists = list(event_lists)
        if not event_lists:
            raise ValueError("event_lists must contain at least one EventList")
        first = event_lists[0]
        ref = TimeRef.from_header(first.meta, path=first.path, hdu="EVENTS")
        tables = []
        for events in event_lists:
            table = events.table.copy(copy_data=True)
            own = TimeRef.from_header(events.meta, path=events.path, hdu="EVENTS")
            met = own.shift_to(events.met.to_value(u.s), ref)
            table["TIME"] = met * u.s
            table.meta = {}
            tables.append(table)
        stacked = vstack(tables, join_type="inner", metadata_conflicts="silent")
        stacked.meta = dict(first.meta)
        return cls(stacked)

    def stack(self, other: EventList) -> EventList:
        """Return this list followed by ``other`` (see :meth:`from_stack`)."""
        return EventList.from_stack([self, other])

    # ------------------------------------------------------------------ distributions
    def energy_histogram(self, energy_edges: u.Quantity) -> np.ndarray:
        """Count events per reconstructed-energy bin (edges in energy units)."""
        edges = _edges(energy_edges, u.TeV, "energy_edges")
        counts, _ = np.histogram(self.energy.to_value(u.TeV), bins=edges)
        return counts

    def offset_histogram(
        self, offset_edges: u.Quantity, center: SkyCoord | None = None
    ) -> np.ndarray:
        """Count events per offset bin from ``center`` (default: the pointing)."""
        edges = _edges(offset_edges, u.deg, "offset_edges")
        counts, _ = np.histogram(self.offset_from(center).to_value(u.deg), bins=edges)
        return counts

    def counts_image(self, geom):
        """Bin the events into a counts image (or cube) on a ``gammaprob.maps.WcsGeom``.

        Parameters
        ----------
        geom : gammaprob.maps.WcsGeom
            Target geometry; if it has an energy axis named ``energy``, the events are
            binned in reconstructed energy too.

        Returns
        -------
        gammaprob.maps.Map
            Map of event counts (events outside the geometry are dropped).
        """
        from .event_maps import counts_image

        return counts_image(self, geom)

    def __repr__(self) -> str:
        if len(self) == 0:
            return "EventList(0 events)"
        energy = self.energy.to_value(u.TeV)
        obs_id = self.meta.get("OBS_ID", "?")
        return (
            f"EventList(obs_id={obs_id}, {len(self)} events, "
            f"energy {energy.min():.3g}..{energy.max():.3g} TeV, "
            f"columns {self.table.colnames})"
        )


def _range(value_range, unit, name) -> tuple[float, float]:
    try:
        values = u.Quantity(value_range).to_value(unit)
    except (u.UnitsError, TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of Quantities in {unit}-like units") from None
    if np.shape(values) != (2,):
        raise ValueError(f"{name} must have two values (min, max), got shape {np.shape(values)}")
    return float(values[0]), float(values[1])


def _edges(edges, unit, name) -> np.ndarray:
    try:
        values = u.Quantity(edges).to_value(unit)
    except (u.UnitsError, TypeError, ValueError):
        raise ValueError(f"{name} must be a Quantity in {unit}-like units") from None
    values = np.atleast_1d(values)
    if values.size < 2 or np.any(np.diff(values) <= 0):
        raise ValueError(f"{name} must be at least two strictly increasing values")
    return values


def _local_wcs(region):
    """Tangent-plane WCS centred on a sky region (0.01 deg pixels)."""
    from astropy.wcs import WCS

    center = getattr(region, "center", None)
    if center is None:
        vertices = region.vertices
        center = SkyCoord(vertices.cartesian.mean(), frame=vertices.frame)
        center = SkyCoord(center.spherical.lon, center.spherical.lat, frame=vertices.frame)
    frame = center.frame.name
    wcs = WCS(naxis=2)
    if frame == "galactic":
        wcs.wcs.ctype = ["GLON-TAN", "GLAT-TAN"]
        lon, lat = center.l.deg, center.b.deg
    else:
        center = center.icrs
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        lon, lat = center.ra.deg, center.dec.deg
    wcs.wcs.crval = [lon, lat]
    wcs.wcs.cdelt = [-0.01, 0.01]
    wcs.wcs.crpix = [0.0, 0.0]
    return wcs


def _column_unit(hdu: fits.BinTableHDU, name: str, path) -> u.UnitBase:
    """Return the unit of the column named exactly ``name``.

    FITS column look-up ignores case, and some files (HAWC's) hold both ``ra`` and ``RA``:
    the exact name wins.
    """
    exact = [c for c in hdu.columns if c.name == name]
    if exact:
        return parse_unit(exact[0].unit, None, path, hdu.name, name)
    return read_column_unit(hdu, name, path=path)
