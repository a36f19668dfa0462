"""Axes, sky geometries (WCS, HEALPix, region) and maps (array + geometry + unit)."""

from .axes import STANDARD_AXIS_NAMES, MapAxes, MapAxis
from .axes_label import LabelMapAxis
from .axes_time import TimeMapAxis
from .coord import MapCoord
from .geom import Geom
from .hpx import HpxGeom
from .map import Map
from .region import RegionGeom
from .wcs import WcsGeom

__all__ = [
    "STANDARD_AXIS_NAMES",
    "Geom",
    "HpxGeom",
    "LabelMapAxis",
    "Map",
    "MapAxes",
    "MapAxis",
    "MapCoord",
    "RegionGeom",
    "TimeMapAxis",
    "WcsGeom",
]
