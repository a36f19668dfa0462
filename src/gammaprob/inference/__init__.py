"""Inference: samplers, optimisers, convergence diagnostics and results with provenance."""

from .diagnostics import ConvergenceReport, ConvergenceWarning, check_convergence
from .optimize import find_map, fit_laplace
from .provenance import add_provenance, file_hash
from .results import load_result, save_result
from .samplers import SAMPLERS, SamplerNotInstalledError, sample

__all__ = [
    "SAMPLERS",
    "ConvergenceReport",
    "ConvergenceWarning",
    "SamplerNotInstalledError",
    "add_provenance",
    "check_convergence",
    "file_hash",
    "find_map",
    "fit_laplace",
    "load_result",
    "sample",
    "save_result",
]
