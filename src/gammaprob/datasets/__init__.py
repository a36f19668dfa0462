"""Frozen binned datasets (counts + response + masks), their collection and file formats."""

from .collection import Datasets
from .flux_points import FluxPoints, FluxPointsDataset
from .map_dataset import IRFMap, MapDataset, MapDatasetOnOff
from .map_io import map_dataset_from_fermi_cubes, read_map_dataset, write_map_dataset
from .spectrum import SpectrumDataset, SpectrumDatasetOnOff
from .spectrum_io import read_ogip, write_ogip
from .stack import stack_spectra

__all__ = [
    "Datasets",
    "FluxPoints",
    "FluxPointsDataset",
    "IRFMap",
    "MapDataset",
    "MapDatasetOnOff",
    "SpectrumDataset",
    "SpectrumDatasetOnOff",
    "map_dataset_from_fermi_cubes",
    "read_map_dataset",
    "read_ogip",
    "stack_spectra",
    "write_map_dataset",
    "write_ogip",
]
