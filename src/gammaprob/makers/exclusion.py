"""Exclusion regions and masks: bright stars from a star catalogue file, masks from regions."""

from __future__ import annotations

import os

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord
from astropy.table import Table
from regions import CircleSkyRegion

from gammaprob.maps import Map, WcsGeom
from gammaprob.utils.errors import FormatError
from gammaprob.utils.paths import resolve_data_path

__all__ = ["bright_star_regions", "make_exclusion_mask", "read_star_catalog"]

#: Column names tried, in order, for right ascension, declination and magnitude
#: (Hipparcos/VizieR ``I/239``, Yale Bright Star, generic).
RA_COLUMNS = ("RA_ICRS", "RAICRS", "RAJ2000", "_RAJ2000", "RA", "ra")
DEC_COLUMNS = ("DE_ICRS", "DEICRS", "DEJ2000", "_DEJ2000", "DEC", "Dec", "dec")
MAG_COLUMNS = ("Vmag", "VMAG", "Hpmag", "mag", "MAG")


def read_star_catalog(
    path: str | os.PathLike,
    ra_column: str | None = None,
    dec_column: str | None = None,
    mag_column: str | None = None,
) -> tuple[SkyCoord, np.ndarray]:
    """Read star positions (ICRS) and magnitudes from a catalogue table file.

    Parameters
    ----------
    path : str or path-like
        Table readable by astropy (FITS, ECSV, VOTable, CSV), e.g. a Hipparcos extract from
        VizieR; ``$GAMMAPY_DATA`` and ``~`` are expanded.
    ra_column, dec_column, mag_column : str, optional
        Column names; by default the first present of `RA_COLUMNS`, `DEC_COLUMNS` and
        `MAG_COLUMNS`. Angles without a unit are taken as degrees.

    Returns
    -------
    positions : astropy.coordinates.SkyCoord
        Star positions (ICRS).
    magnitude : numpy.ndarray
        Magnitudes (rows with a missing magnitude are dropped).

    Raises
    ------
    FormatError
        A column is missing, or positions are not finite.
    """
    path = resolve_data_path(path)
    table = Table.read(path)
    ra = _column(table, ra_column, RA_COLUMNS, path, "right ascension")
    dec = _column(table, dec_column, DEC_COLUMNS, path, "declination")
    mag = _column(table, mag_column, MAG_COLUMNS, path, "magnitude")
    ra_deg = _degrees(table[ra])
    dec_deg = _degrees(table[dec])
    magnitude = np.ma.filled(np.ma.asarray(table[mag], dtype=float), np.nan)
    if not (np.all(np.isfinite(ra_deg)) and np.all(np.isfinite(dec_deg))):
        raise FormatError("star positions must be finite", path=path, column=f"{ra}/{dec}")
    keep = np.isfinite(magnitude)
    return SkyCoord(ra_deg[keep], dec_deg[keep], unit="deg", frame="icrs"), magnitude[keep]


def _column(table: Table, name: str | None, candidates, path, what: str) -> str:
    if name is not None:
        if name not in table.colnames:
            raise FormatError(
                f"no {what} column {name!r}; the table has {table.colnames}", path=path, column=name
            )
        return name
    found = next((c for c in candidates if c in table.colnames), None)
    if found is None:
        raise FormatError(
            f"no {what} column (tried {list(candidates)}); the table has {table.colnames}; "
            f"name it with the {what.split()[-1][:3]}_column argument",
            path=path,
        )
    return found


def _degrees(column) -> np.ndarray:
    unit = getattr(column, "unit", None)
    values = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    return values if unit is None else u.Quantity(values, unit).to_value(u.deg)


def bright_star_regions(
    catalog,
    center: SkyCoord,
    radius,
    magnitude_max: float,
    exclusion_radius="0.3 deg",
) -> list[CircleSkyRegion]:
    """Circular exclusion regions about the stars brighter than a magnitude within a field.

    Parameters
    ----------
    catalog : str, path-like or tuple of (SkyCoord, numpy.ndarray)
        Star catalogue file (see :func:`read_star_catalog`) or positions and magnitudes.
    center : `~astropy.coordinates.SkyCoord`
        Field centre (e.g. the pointing).
    radius : `~astropy.coordinates.Angle` or str
        Field radius: stars farther than this from ``center`` are ignored.
    magnitude_max : float
        Stars with magnitude strictly below this (brighter) are excluded.
    exclusion_radius : `~astropy.coordinates.Angle` or str
        Radius of the circle excluded about each star.

    Returns
    -------
    list of regions.CircleSkyRegion
        One circle per selected star, brightest first.
    """
    positions, magnitude = catalog if isinstance(catalog, tuple) else read_star_catalog(catalog)
    radius = Angle(radius)
    exclusion_radius = Angle(exclusion_radius)
    if not radius > 0 * u.deg or not exclusion_radius > 0 * u.deg:
        raise ValueError(
            f"radius and exclusion_radius must be positive, got {radius} and {exclusion_radius}"
        )
    if not np.isfinite(magnitude_max):
        raise ValueError(f"magnitude_max must be finite, got {magnitude_max!r}")
    selected = (positions.separation(center) <= radius) & (np.asarray(magnitude) < magnitude_max)
    order = np.argsort(np.asarray(magnitude)[selected], kind="stable")
    stars = positions[selected][order]
    return [CircleSkyRegion(star, exclusion_radius) for star in stars]


def make_exclusion_mask(geom: WcsGeom, regions) -> Map:
    """Boolean sky image, True where OFF/background regions may go (outside every region).

    Parameters
    ----------
    geom : gammaprob.maps.WcsGeom
        Sky geometry (non-spatial axes are dropped).
    regions : list of regions.SkyRegion
        Regions to exclude (sources, bright stars).

    Returns
    -------
    gammaprob.maps.Map
        Image with boolean data (the ``exclusion_mask`` of the background makers).
    """
    if not isinstance(geom, WcsGeom):
        raise TypeError(f"geom must be a WcsGeom, got {type(geom).__name__}")
    image = geom.to_image()
    regions = list(regions)
    if regions:
        data = image.region_mask(regions, inside=False)
    else:
        data = np.ones(image.spatial_shape, bool)
    return Map.from_geom(image, data=data, dtype=bool)
