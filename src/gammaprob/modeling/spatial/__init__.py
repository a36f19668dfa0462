"""Spatial components: surface brightness on the sky (sr^-1) in ICRS or Galactic frames.

The formulas are pure functions in :mod:`.functions` (numpy arrays or pytensor tensors,
angles in deg); the classes in :mod:`.models` and :mod:`.template` attach parameter specs,
frames, containment radii and pixel integration (:mod:`.pixels`).
"""

from .base import SpatialModel
from .models import Constant, Disk, Gaussian, GeneralizedGaussian, Point, Shell, Shell2
from .pixels import PixelQuadrature
from .sphere import SUPPORTED_FRAMES, separation
from .template import Template

__all__ = [
    "SUPPORTED_FRAMES",
    "Constant",
    "Disk",
    "Gaussian",
    "GeneralizedGaussian",
    "PixelQuadrature",
    "Point",
    "Shell",
    "Shell2",
    "SpatialModel",
    "Template",
    "separation",
]
