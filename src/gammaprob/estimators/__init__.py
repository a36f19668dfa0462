"""Products from data and posteriors: quick-look excess maps, sensitivity, upper limits."""

from .excess_map import ExcessMapEstimator, ExcessMaps
from .reference import PowerLawReference
from .sensitivity import SensitivityEstimator
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
    "PowerLawReference",
    "SensitivityEstimator",
    "credible_upper_limit",
    "poisson_signal_posterior_cdf",
    "poisson_signal_upper_limit",
]
