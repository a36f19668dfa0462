"""Spectral model components (energy in TeV, dN/dE in cm-2 s-1 TeV-1)."""

from .base import DNDE_UNIT, SpectralModel, gauss_legendre_log, quadrature_integral
from .compound import CompoundSpectral, ScaledSpectral
from .curved import (
    ExpCutoffPowerLaw,
    ExpCutoffPowerLaw3FGL,
    ExpCutoffPowerLawNorm,
    GaussianLine,
    LogParabola,
    LogParabola10,
    LogParabolaNorm,
    SuperExpCutoffPowerLaw3FGL,
    SuperExpCutoffPowerLaw4FGL,
    SuperExpCutoffPowerLaw4FGLDR3,
    repivot_log_parabola,
)
from .energy_scale import EnergyScale as EnergyScale
from .energy_scale import energy_scale_prior as energy_scale_prior
from .powerlaw import (
    BrokenPowerLaw,
    Constant,
    PowerLaw,
    PowerLaw2,
    PowerLawNorm,
    SmoothBrokenPowerLaw,
)
from .table import PiecewiseNorm, Template

__all__ = [
    "DNDE_UNIT",
    "BrokenPowerLaw",
    "CompoundSpectral",
    "Constant",
    "ExpCutoffPowerLaw",
    "ExpCutoffPowerLaw3FGL",
    "ExpCutoffPowerLawNorm",
    "GaussianLine",
    "LogParabola",
    "LogParabola10",
    "LogParabolaNorm",
    "PiecewiseNorm",
    "PowerLaw",
    "PowerLaw2",
    "PowerLawNorm",
    "ScaledSpectral",
    "SmoothBrokenPowerLaw",
    "SpectralModel",
    "SuperExpCutoffPowerLaw3FGL",
    "SuperExpCutoffPowerLaw4FGL",
    "SuperExpCutoffPowerLaw4FGLDR3",
    "Template",
    "gauss_legendre_log",
    "quadrature_integral",
    "repivot_log_parabola",
]
