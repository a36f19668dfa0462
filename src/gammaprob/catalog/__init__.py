"""gammaprob.catalog: gamma-ray source catalogs as tables, look-ups and sky models.

Catalogs: 3FGL, 4FGL (DR1-DR4 file format), 2FHL, 3FHL (Fermi-LAT), HGPS (H.E.S.S., with
its Gaussian components), gamma-cat, 2HWC, 3HWC (HAWC) and 1LHAASO (WCDA and KM2A
components). Each source becomes a :class:`~gammaprob.modeling.SkyModel`; priors come only
from a named policy (:mod:`gammaprob.catalog.priors`).

Examples
--------
>>> cat = load_catalog("3fhl")                          # doctest: +SKIP
>>> src = cat["Crab"]                                   # doctest: +SKIP
>>> model = src.sky_model(policy="catalog-errors")      # doctest: +SKIP
"""

from __future__ import annotations

import os

from .core import CatalogSource, SourceCatalog
from .fermi import SourceCatalog2FHL, SourceCatalog3FGL, SourceCatalog3FHL, SourceCatalog4FGL
from .hess import SourceCatalogHGPS
from .others import (
    SourceCatalog1LHAASO,
    SourceCatalog2HWC,
    SourceCatalog3HWC,
    SourceCatalogGammaCat,
)
from .priors import DEFAULT_K, POLICIES

__all__ = [
    "CATALOGS",
    "DEFAULT_K",
    "POLICIES",
    "CatalogSource",
    "SourceCatalog",
    "SourceCatalog1LHAASO",
    "SourceCatalog2FHL",
    "SourceCatalog2HWC",
    "SourceCatalog3FGL",
    "SourceCatalog3FHL",
    "SourceCatalog3HWC",
    "SourceCatalog4FGL",
    "SourceCatalogGammaCat",
    "SourceCatalogHGPS",
    "load_catalog",
]

#: Catalog classes by tag.
CATALOGS: dict[str, type[SourceCatalog]] = {
    cls.tag: cls
    for cls in (
        SourceCatalog3FGL,
        SourceCatalog4FGL,
        SourceCatalog2FHL,
        SourceCatalog3FHL,
        SourceCatalogHGPS,
        SourceCatalogGammaCat,
        SourceCatalog2HWC,
        SourceCatalog3HWC,
        SourceCatalog1LHAASO,
    )
}


def load_catalog(tag: str, filename: str | os.PathLike | None = None) -> SourceCatalog:
    """Load a catalog by tag.

    Parameters
    ----------
    tag : str
        One of :data:`CATALOGS` (case-insensitive): ``"3fgl"``, ``"4fgl"``, ``"2fhl"``,
        ``"3fhl"``, ``"hgps"``, ``"gamma-cat"``, ``"2hwc"``, ``"3hwc"``, ``"1lhaaso"``.
    filename : str or path-like, optional
        Catalog file (default: the file in ``$GAMMAPY_DATA/catalogs``).
    """
    key = str(tag).lower()
    if key not in CATALOGS:
        raise ValueError(f"unknown catalog {tag!r}; known: {sorted(CATALOGS)}")
    return CATALOGS[key](filename)
