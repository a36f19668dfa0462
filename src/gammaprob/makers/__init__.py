"""DL3 -> DL4 reduction: makers that turn observations into datasets, and :func:`reduce`."""

from .exclusion import bright_star_regions, make_exclusion_mask, read_star_catalog
from .fov import FoVBackgroundMaker
from .map import MapDatasetMaker
from .reduce import ReductionResult, reduce, reduce_one
from .reflected import ReflectedRegionsBackgroundMaker, ReflectedRegionsFinder
from .ring import AdaptiveRingBackgroundMaker, RingBackgroundMaker
from .safe import SafeMaskMaker
from .spectrum import SpectrumDatasetMaker
from .stack import stack_map_datasets
from .template import MapTemplate, SpectrumTemplate
from .wobble import WobbleRegionsFinder

__all__ = [
    "AdaptiveRingBackgroundMaker",
    "FoVBackgroundMaker",
    "MapDatasetMaker",
    "MapTemplate",
    "ReductionResult",
    "ReflectedRegionsBackgroundMaker",
    "ReflectedRegionsFinder",
    "RingBackgroundMaker",
    "SafeMaskMaker",
    "SpectrumDatasetMaker",
    "SpectrumTemplate",
    "WobbleRegionsFinder",
    "bright_star_regions",
    "make_exclusion_mask",
    "read_star_catalog",
    "reduce",
    "reduce_one",
    "stack_map_datasets",
]
