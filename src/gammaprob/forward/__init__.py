"""Forward folding: responses built once from datasets, predicted counts as pytensor graphs."""

from ._models import build_params, current_values
from .extended import ExtendedSource
from .integration import DEFAULT_NODES, integrate_component, quadrature_nodes
from .kernel_mode import PSF_MODES, npred_map_kernel
from .map import MapFold, npred_map
from .map_response import MapResponse, haversine
from .positions import nominal_positions
from .response import SpectrumResponse
from .spectrum import SpectrumFold, build_npred_spectrum, fold_groups, fold_spectra

__all__ = [
    "DEFAULT_NODES",
    "PSF_MODES",
    "ExtendedSource",
    "MapFold",
    "MapResponse",
    "SpectrumFold",
    "SpectrumResponse",
    "build_npred_spectrum",
    "build_params",
    "current_values",
    "fold_groups",
    "fold_spectra",
    "haversine",
    "integrate_component",
    "nominal_positions",
    "npred_map",
    "npred_map_kernel",
    "quadrature_nodes",
]
