"""Simulation-based calibration of gammaprob models (docs/calibrate.md)."""

from .inject import SBCError
from .ranks import chi2_test, coverage, ecdf_bands, ecdf_test
from .result import LEVELS, SBCResult
from .sbc import check_generative, run_sbc

__all__ = [
    "LEVELS",
    "SBCError",
    "SBCResult",
    "check_generative",
    "chi2_test",
    "coverage",
    "ecdf_bands",
    "ecdf_test",
    "run_sbc",
]
