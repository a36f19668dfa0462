"""Shared names of the joint-Crab validation scripts.

The published facts (fit ranges, energy-scale systematics, log10 curvature conversion) live
in :mod:`gammaprob.analysis.joint_crab`; this module re-exports them for the scripts here.
"""

from __future__ import annotations

from pathlib import Path

from gammaprob.analysis.joint_crab import (
    ENERGY_RANGES,
    ENERGY_SCALE_SIGMA,
    INSTRUMENTS,
    LN10,
    REFERENCE_ENERGY,
    pha_files,
    spectra_folder,
)

__all__ = [
    "ENERGY_RANGES",
    "ENERGY_SCALE_SIGMA",
    "HERE",
    "INSTRUMENTS",
    "LN10",
    "REFERENCE_TEV",
    "pha_files",
    "spectra_folder",
]

REFERENCE_TEV = float(REFERENCE_ENERGY.to_value("TeV"))
HERE = Path(__file__).resolve().parent
