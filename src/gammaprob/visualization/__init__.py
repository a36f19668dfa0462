"""Plots and reports: posterior bands, predictive checks, diagnostics; matplotlib loaded lazily."""

from .bands import plot_counts_predictive, plot_spectrum_band, quantile_band
from .report import report

__all__ = ["plot_counts_predictive", "plot_spectrum_band", "quantile_band", "report"]
