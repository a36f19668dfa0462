"""Likelihood terms: Poisson (Cash), on/off (``onoff=`` "marginal", "latent" or "wstat"), flux points, joint."""

from .flux_points import (
    FLUX_POINT_STATS,
    FluxPointsData,
    flux_points_statistic,
    flux_points_term,
)
from .joint import ONOFF_MODES, add_likelihood, check_onoff, statistics
from .onoff import flat_background, gamma_background, onoff_term, wstat_graph, wstat_term
from .onoff_marginal import marginal_logp, onoff_marginal_term
from .poisson import poisson_term

__all__ = [
    "FLUX_POINT_STATS",
    "ONOFF_MODES",
    "FluxPointsData",
    "add_likelihood",
    "check_onoff",
    "flat_background",
    "flux_points_statistic",
    "flux_points_term",
    "gamma_background",
    "marginal_logp",
    "onoff_marginal_term",
    "onoff_term",
    "poisson_term",
    "statistics",
    "wstat_graph",
    "wstat_term",
]
