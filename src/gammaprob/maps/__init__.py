"""Axes, sky geometries (WCS, HEALPix, region) and maps (array + geometry + unit).

Names are imported on first use (:func:`gammaprob.utils.lazy.lazy_exports`), so
``from gammaprob.maps import MapAxis`` does not load healpy, regions or scipy.ndimage.
"""

from gammaprob.utils.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        ".axes": ("STANDARD_AXIS_NAMES", "MapAxes", "MapAxis"),
        ".axes_label": ("LabelMapAxis",),
        ".axes_time": ("TimeMapAxis",),
        ".coord": ("MapCoord",),
        ".geom": ("Geom",),
        ".hpx": ("HpxGeom",),
        ".map": ("Map",),
        ".region": ("RegionGeom",),
        ".wcs": ("WcsGeom",),
    },
)

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
