"""Inference: samplers, optimisers, convergence diagnostics and results with provenance."""

from .build import build_model, model_metadata
from .comparison import (
    LOOResult,
    LOOWarning,
    compare_evidence,
    compare_models,
    log_evidence,
    loo,
)
from .criticism import LeaveOneGroupOut, leave_one_group_out
from .diagnostics import ConvergenceReport, ConvergenceWarning, check_convergence
from .model_checks import (
    ImproperModelError,
    ReferenceEnergyWarning,
    check_model,
    improper_variables,
)
from .optimize import find_map, fit_laplace
from .provenance import add_provenance, file_hash
from .results import load_result, models_from_result, save_result
from .samplers import SAMPLERS, SamplerNotInstalledError, sample

__all__ = [
    "SAMPLERS",
    "ConvergenceReport",
    "ConvergenceWarning",
    "ImproperModelError",
    "LOOResult",
    "LOOWarning",
    "LeaveOneGroupOut",
    "ReferenceEnergyWarning",
    "SamplerNotInstalledError",
    "add_provenance",
    "build_model",
    "check_convergence",
    "check_model",
    "compare_evidence",
    "compare_models",
    "file_hash",
    "find_map",
    "fit_laplace",
    "improper_variables",
    "leave_one_group_out",
    "load_result",
    "log_evidence",
    "loo",
    "model_metadata",
    "models_from_result",
    "sample",
    "save_result",
]
