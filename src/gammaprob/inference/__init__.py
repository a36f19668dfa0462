"""Inference: samplers, optimisers, convergence diagnostics and results with provenance."""

from .build import build_model, model_metadata
from .diagnostics import ConvergenceReport, ConvergenceWarning, check_convergence
from .optimize import find_map, fit_laplace
from .provenance import add_provenance, file_hash
from .results import load_result, models_from_result, save_result
from .samplers import SAMPLERS, SamplerNotInstalledError, sample

__all__ = [
    "SAMPLERS",
    "ConvergenceReport",
    "ConvergenceWarning",
    "SamplerNotInstalledError",
    "add_provenance",
    "build_model",
    "check_convergence",
    "file_hash",
    "find_map",
    "fit_laplace",
    "load_result",
    "model_metadata",
    "models_from_result",
    "sample",
    "save_result",
]
