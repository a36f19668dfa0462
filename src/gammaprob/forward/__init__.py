"""Forward folding: responses built once from datasets, predicted counts as pytensor graphs."""

from ._models import build_params, current_values
from .integration import DEFAULT_NODES, integrate_component, quadrature_nodes
from .map import MapFold, MapResponse, haversine, nominal_positions, npred_map
from .response import SpectrumResponse
from .spectrum import SpectrumFold, build_npred_spectrum, fold_groups, fold_spectra

__all__ = [
    "DEFAULT_NODES",
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
    "quadrature_nodes",
]
