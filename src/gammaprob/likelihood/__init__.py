"""Likelihood terms: Poisson (Cash), on/off (``onoff=`` "marginal", "latent" or "wstat"), flux points, joint."""

from gammaprob.utils.lazy import lazy_exports

# names are imported on first use: the default path (no flux points) does not load
# scipy.interpolate and scipy.optimize through .flux_points / .profile
__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        ".flux_points": (
            "FLUX_POINT_STATS",
            "FluxPointsData",
            "flux_points_statistic",
            "flux_points_term",
        ),
        ".joint": ("ONOFF_MODES", "add_likelihood", "check_onoff", "statistics"),
        ".onoff": (
            "flat_background",
            "gamma_background",
            "onoff_term",
            "wstat_graph",
            "wstat_term",
        ),
        ".onoff_marginal": ("marginal_logp", "onoff_marginal_term"),
        ".poisson": ("poisson_term",),
    },
)

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
