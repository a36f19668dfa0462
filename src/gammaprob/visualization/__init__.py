"""Plots and reports: posterior bands, predictive checks, diagnostics; matplotlib loaded lazily.

One unit convention everywhere (:mod:`gammaprob.visualization.units`): energy in TeV, dN/dE in
TeV-1 cm-2 s-1, E^2 dN/dE and energy flux in TeV cm-2 s-1. The objects delegate to these
functions: ``Map.plot``, ``SpectrumDataset``/``MapDataset`` ``peek``, ``plot_fit``,
``plot_residuals``, ``plot_excess``, ``SpectralModel.plot`` and ``FluxPoints.plot``.
"""

from .bands import plot_counts_predictive, plot_spectrum_band, quantile_band
from .datasets import peek, plot_excess, plot_fit, plot_residuals
from .maps import plot_map
from .products import plot_flux_map, plot_flux_points, plot_light_curve, plot_norm_posteriors
from .report import report
from .spectra import plot_spectral_model, spectrum_draws
from .units import SED_UNITS
from .variables import physical_parameters

__all__ = [
    "SED_UNITS",
    "peek",
    "physical_parameters",
    "plot_counts_predictive",
    "plot_excess",
    "plot_fit",
    "plot_flux_map",
    "plot_flux_points",
    "plot_light_curve",
    "plot_map",
    "plot_norm_posteriors",
    "plot_residuals",
    "plot_spectral_model",
    "plot_spectrum_band",
    "quantile_band",
    "report",
    "spectrum_draws",
]
