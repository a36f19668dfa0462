"""Simulation: datasets with Poisson counts drawn from models folded with a response."""

from .spectrum import parametric_spectrum_dataset, predicted_counts, simulate_spectrum_dataset

__all__ = ["parametric_spectrum_dataset", "predicted_counts", "simulate_spectrum_dataset"]
