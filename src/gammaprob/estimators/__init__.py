"""Products from data and posteriors: flux points, quick-look excess maps, sensitivity, upper limits."""

from .excess_map import ExcessMapEstimator, ExcessMaps
from .flux_map import FluxMapEstimator, FluxMaps
from .flux_points import FluxPointsEstimator
from .flux_profile import (
    FluxProfileEstimator,
    make_concentric_annulus_sky_regions,
    make_orthogonal_rectangle_sky_regions,
)
from .light_curve import LightCurve, LightCurveEstimator
from .norm_posterior import NormPosterior, NormTerms, norm_posterior
from .reference import PowerLawReference
from .sensitivity import PosteriorSensitivityEstimator, SensitivityEstimator
from .upper_limits import (
    CredibleUpperLimit,
    credible_upper_limit,
    poisson_signal_posterior_cdf,
    poisson_signal_upper_limit,
)

__all__ = [
    "CredibleUpperLimit",
    "ExcessMapEstimator",
    "ExcessMaps",
    "FluxMapEstimator",
    "FluxMaps",
    "FluxPointsEstimator",
    "FluxProfileEstimator",
    "LightCurve",
    "LightCurveEstimator",
    "NormPosterior",
    "NormTerms",
    "PosteriorSensitivityEstimator",
    "PowerLawReference",
    "SensitivityEstimator",
    "credible_upper_limit",
    "make_concentric_annulus_sky_regions",
    "make_orthogonal_rectangle_sky_regions",
    "norm_posterior",
    "poisson_signal_posterior_cdf",
    "poisson_signal_upper_limit",
]
