"""Simulation: events from models and IRFs, simulated observations and datasets."""

from .dataset_events import dataset_npred_components, sample_dataset_events
from .events import EventSampler, SamplingError
from .observations import (
    IRF_HDUS,
    SimulatedSurvey,
    make_observation,
    read_irfs,
    simulate_map_dataset,
    simulate_observation_spectrum,
    survey_pointings,
)
from .spectrum import parametric_spectrum_dataset, predicted_counts, simulate_spectrum_dataset

__all__ = [
    "IRF_HDUS",
    "EventSampler",
    "SamplingError",
    "SimulatedSurvey",
    "dataset_npred_components",
    "make_observation",
    "parametric_spectrum_dataset",
    "predicted_counts",
    "read_irfs",
    "sample_dataset_events",
    "simulate_map_dataset",
    "simulate_observation_spectrum",
    "simulate_spectrum_dataset",
    "survey_pointings",
]
