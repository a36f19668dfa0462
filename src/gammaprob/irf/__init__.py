"""Instrument response functions: GADF DL3 reading/writing, interpolation and kernels.

Main classes: `EffectiveArea2D`, `EnergyDispersion2D`, `PSF3D`, `PSFKing`, `PSF3Gauss`,
`Background2D`, `Background3D`, `RadMax2D`, and the dataset-level kernels `EDispKernel` and
`PSFKernel`, and the exposure-weighted IRF maps of DL4 datasets `PSFMap` and
`EDispKernelMap`. `read_irf` reads any IRF HDU into the matching class.
"""

from .background import BACKGROUND_UNIT, Background2D, Background3D
from .core import IRF, FoVAlignment
from .edisp import EnergyDispersion2D
from .edisp_kernel import EDispKernel
from .effective_area import EffectiveArea2D
from .irf_maps import EDispKernelMap, IRFMap, PSFMap
from .loader import IRF_CLASSES, irf_class_from_header, read_irf
from .psf_kernel import PSFKernel
from .psf_parametric import PSF3Gauss, PSFKing
from .psf_table import PSF3D
from .rad_max import RadMax2D

__all__ = [
    "BACKGROUND_UNIT",
    "IRF",
    "IRF_CLASSES",
    "PSF3D",
    "Background2D",
    "Background3D",
    "EDispKernel",
    "EDispKernelMap",
    "EffectiveArea2D",
    "EnergyDispersion2D",
    "FoVAlignment",
    "IRFMap",
    "PSF3Gauss",
    "PSFKernel",
    "PSFKing",
    "PSFMap",
    "RadMax2D",
    "irf_class_from_header",
    "read_irf",
]
