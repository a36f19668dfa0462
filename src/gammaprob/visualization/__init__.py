"""Plots and reports: posterior bands, predictive checks, diagnostics; matplotlib loaded lazily."""

from .bands import plot_counts_predictive, plot_spectrum_band, quantile_band
from .products import plot_flux_map, plot_flux_points, plot_light_curve, plot_norm_posteriors
from .report import report
from .variables import physical_parameters

__all__ = [
    "physical_parameters",
    "plot_counts_predictive",
    "plot_flux_map",
    "plot_flux_points",
    "plot_light_curve",
    "plot_norm_posteriors",
    "plot_spectrum_band",
    "quantile_band",
    "report",
]
