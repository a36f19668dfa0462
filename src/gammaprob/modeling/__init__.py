"""gammaprob.modeling: parameters, priors, model components, sky models and YAML.

Sub-modules: :mod:`~gammaprob.modeling.prior`, :mod:`~gammaprob.modeling.parameter`,
:mod:`~gammaprob.modeling.component` (base class and registry),
:mod:`~gammaprob.modeling.spectral`, :mod:`~gammaprob.modeling.ebl`,
:mod:`~gammaprob.modeling.skymodel`, :mod:`~gammaprob.modeling.models` (collection, YAML).
Spatial and temporal components live in ``modeling.spatial`` / ``modeling.temporal``.
"""

from . import spatial, spectral, temporal
from .component import REGISTRY, Component, get_component, register, registered
from .dark_matter import DarkMatterAnnihilation, jfactor_prior, read_annihilation_table
from .ebl import EBL_MODELS, EBLAbsorption, EBLTable, read_ebl_table
from .hierarchy import HierarchicalPrior, Hierarchy, check_hierarchies
from .models import Models
from .parameter import Parameter, Parameters, ParameterSpec, build_parameter, built_parameters
from .prior import (
    Cauchy,
    Exponential,
    Gamma,
    HalfNormal,
    LogNormal,
    LogUniform,
    Normal,
    Prior,
    StudentT,
    TruncatedNormal,
    Uniform,
)
from .skymodel import FoVBackgroundModel, SkyModel
from .summary import describe_priors, prior_predictive_spectrum
from .systematics import DEFAULT_PRIORS, DatasetSystematics, Systematics, apply_systematics

__all__ = [
    "DEFAULT_PRIORS",
    "EBL_MODELS",
    "REGISTRY",
    "Cauchy",
    "Component",
    "DarkMatterAnnihilation",
    "DatasetSystematics",
    "EBLAbsorption",
    "EBLTable",
    "Exponential",
    "FoVBackgroundModel",
    "Gamma",
    "HalfNormal",
    "HierarchicalPrior",
    "Hierarchy",
    "LogNormal",
    "LogUniform",
    "Models",
    "Normal",
    "Parameter",
    "ParameterSpec",
    "Parameters",
    "Prior",
    "SkyModel",
    "StudentT",
    "Systematics",
    "TruncatedNormal",
    "Uniform",
    "apply_systematics",
    "build_parameter",
    "built_parameters",
    "check_hierarchies",
    "describe_priors",
    "get_component",
    "jfactor_prior",
    "prior_predictive_spectrum",
    "read_annihilation_table",
    "read_ebl_table",
    "register",
    "registered",
    "spatial",
    "spectral",
    "temporal",
]
