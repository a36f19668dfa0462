"""Frozen binned datasets (counts + response + masks), their collection and file formats.

Names are imported on first use (:func:`gammaprob.utils.lazy.lazy_exports`): reading OGIP
spectra with :func:`read_ogip` does not load the map datasets and their dependencies.
"""

from gammaprob.utils.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        ".collection": ("Datasets",),
        ".flux_points": ("FluxPoints", "FluxPointsDataset"),
        ".map_dataset": ("MapDataset", "MapDatasetOnOff"),
        "gammaprob.irf.irf_maps": ("IRFMap",),
        ".map_io": ("map_dataset_from_fermi_cubes", "read_map_dataset", "write_map_dataset"),
        ".spectrum": ("SpectrumDataset", "SpectrumDatasetOnOff"),
        ".spectrum_io": ("read_ogip", "write_ogip"),
        ".stack": ("stack_spectra",),
    },
)

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
