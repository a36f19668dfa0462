"""Instrument response functions: GADF DL3 reading/writing, interpolation and kernels.

Main classes: `EffectiveArea2D`, `EnergyDispersion2D`, `PSF3D`, `PSFKing`, `PSF3Gauss`,
`Background2D`, `Background3D`, `RadMax2D`, and the dataset-level kernels `EDispKernel` and
`PSFKernel`, and the exposure-weighted IRF maps of DL4 datasets `PSFMap` and
`EDispKernelMap`. `read_irf` reads any IRF HDU into the matching class.

Names are imported on first use (:func:`gammaprob.utils.lazy.lazy_exports`).
"""

from gammaprob.utils.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        ".background": ("BACKGROUND_UNIT", "Background2D", "Background3D"),
        ".core": ("IRF", "FoVAlignment"),
        ".edisp": ("EnergyDispersion2D",),
        ".edisp_kernel": ("EDispKernel",),
        ".effective_area": ("EffectiveArea2D",),
        ".irf_maps": ("EDispKernelMap", "IRFMap", "PSFMap"),
        ".loader": ("IRF_CLASSES", "irf_class_from_header", "read_irf"),
        ".psf_kernel": ("PSFKernel",),
        ".psf_parametric": ("PSF3Gauss", "PSFKing"),
        ".psf_table": ("PSF3D",),
        ".rad_max": ("RadMax2D",),
    },
)

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
