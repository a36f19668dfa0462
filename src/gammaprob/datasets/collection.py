"""A collection of datasets with unique names, and its YAML index file.

The index is gammapy's ``datasets`` YAML::

    datasets:
    - name: nHit-5
      type: MapDataset
      filename: nHit-5.fits.gz

File names may use ``$GAMMAPY_DATA``, other variables and ``~``; after expansion they are
relative to the YAML file's folder unless absolute. Datasets hold no models: models are passed
next to the datasets (``build_model(datasets, models)``); this module only stores, looks up,
stacks and slices datasets.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from gammaprob.utils.errors import DataNotFoundError, FormatError
from gammaprob.utils.io import atomic_path, check_overwrite
from gammaprob.utils.paths import resolve_data_path

from .flux_points import FluxPointsDataset
from .map_dataset import MapDataset, MapDatasetOnOff
from .map_io import read_map_dataset
from .spectrum import SpectrumDataset, SpectrumDatasetOnOff
from .spectrum_io import companion_paths, read_ogip
from .stack import stack_spectra

__all__ = ["Datasets"]

_TYPES = {
    "MapDataset": MapDataset,
    "MapDatasetOnOff": MapDatasetOnOff,
    "SpectrumDatasetOnOff": SpectrumDatasetOnOff,
    "FluxPointsDataset": FluxPointsDataset,
}


class Datasets:
    """An ordered collection of datasets with unique names (immutable).

    Attributes cannot be set or deleted (``AttributeError``). In particular a ``Datasets``
    holds no models: give them next to the datasets, ``build_model(datasets, models)``.

    Parameters
    ----------
    datasets : iterable
        Dataset objects (any gammaprob dataset class).

    Raises
    ------
    ValueError
        Two datasets share a name.
    """

    def __init__(self, datasets: Iterable[Any] = ()) -> None:
        datasets = tuple(datasets.datasets if isinstance(datasets, Datasets) else datasets)
        seen: dict[str, int] = {}
        for index, dataset in enumerate(datasets):
            name = getattr(dataset, "name", None)
            if not isinstance(name, str):
                raise TypeError(
                    f"item {index} is not a dataset (no name): {type(dataset).__name__}"
                )
            if name in seen:
                raise ValueError(
                    f"dataset names must be unique: {name!r} is used by items {seen[name]} and {index}"
                )
            seen[name] = index
        object.__setattr__(self, "_datasets", datasets)
        object.__setattr__(self, "_index", seen)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "models":
            raise AttributeError(
                "Datasets is immutable and holds no models: pass the models next to the "
                "datasets instead, e.g. `build_model(datasets, models)` "
                "(gammaprob.inference.build_model)"
            )
        raise AttributeError(
            f"Datasets is immutable: cannot set {name!r}; make a new Datasets([...]) instead"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Datasets is immutable: cannot delete {name!r}")

    @property
    def datasets(self) -> tuple:
        """The datasets, in order."""
        return self._datasets

    @property
    def names(self) -> list[str]:
        """Dataset names, in order."""
        return list(self._index)

    def __len__(self) -> int:
        return len(self._datasets)

    def __iter__(self) -> Iterator:
        return iter(self._datasets)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, key: int | str | slice):
        if isinstance(key, str):
            if key not in self._index:
                raise KeyError(f"no dataset named {key!r}; available: {self.names}")
            return self._datasets[self._index[key]]
        if isinstance(key, slice):
            return Datasets(self._datasets[key])
        return self._datasets[key]

    def select(self, names: Iterable[str]) -> Datasets:
        """Return the datasets with the given names (unknown names are an error)."""
        return Datasets(self[name] for name in names)

    def stack(self, name: str = "stacked"):
        """Stack all datasets into one (spectrum datasets of one class with aligned axes).

        Parameters
        ----------
        name : str
            Name of the stacked dataset.

        Returns
        -------
        SpectrumDataset or SpectrumDatasetOnOff
            See :func:`gammaprob.datasets.stack.stack_spectra`.
        """
        if not all(isinstance(d, SpectrumDataset) for d in self._datasets):
            kinds = sorted({type(d).__name__ for d in self._datasets})
            raise TypeError(f"stacking is implemented for spectrum datasets; got {kinds}")
        return stack_spectra(self._datasets, name=name)

    def slice_by_energy(self, energy_min=None, energy_max=None) -> Datasets:
        """Slice every dataset to ``[energy_min, energy_max]`` in reconstructed energy."""
        return Datasets(d.slice_by_energy(energy_min, energy_max) for d in self._datasets)

    # ---- I/O --------------------------------------------------------------------------------
    @classmethod
    def read(
        cls,
        path: str | os.PathLike,
        filename_models: str | os.PathLike | None = None,
        prior_policy: str | None = None,
    ):
        """Read a datasets index YAML and every file it lists (and, optionally, a models file).

        Parameters
        ----------
        path : str or path-like
            YAML index (e.g. ``$GAMMAPY_DATA/hawc/DL4/HAWC_pass4_public_Crab.yaml``).
            ``$GAMMAPY_DATA``, other variables and ``~`` are expanded, here and in every
            ``filename`` of the index; relative file names are relative to the index's folder.
        filename_models : str or path-like, optional
            A models YAML (ours or gammapy's, as gammapy's ``Datasets.read(filename,
            filename_models)``), read with :meth:`gammaprob.modeling.Models.read`. Every
            dataset a model names in ``datasets_names`` must be in the index.
        prior_policy : {None, "catalog-errors", "broad"}
            Priors for free parameters of a gammapy models file that gives none (see
            :mod:`gammaprob.modeling.prior_policy`); only with ``filename_models``.

        Returns
        -------
        Datasets or (Datasets, Models)
            The datasets, named as in the index; with ``filename_models``, the pair
            ``(datasets, models)`` (datasets hold no models: pass both to ``build_model``).
        """
        if filename_models is None:
            if prior_policy is not None:
                raise ValueError("prior_policy= applies to filename_models=, which is not given")
            return cls._read_index(path)
        from gammaprob.modeling import Models

        datasets = cls._read_index(path)
        models = Models.read(filename_models, prior_policy=prior_policy)
        _check_model_datasets(models, datasets, filename_models)
        return datasets, models

    @classmethod
    def _read_index(cls, path: str | os.PathLike) -> Datasets:
        path = resolve_data_path(path)
        if not path.exists():
            raise FileNotFoundError(f"datasets index {str(path)!r} does not exist")
        try:
            content = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise FormatError(f"is not valid YAML ({exc})", path=path) from exc
        if not isinstance(content, dict) or not isinstance(content.get("datasets"), list):
            raise FormatError(
                "expected a mapping with a 'datasets' list", path=path, column="datasets"
            )
        datasets = []
        for index, entry in enumerate(content["datasets"]):
            where = f"datasets[{index}]"
            if not isinstance(entry, dict) or not {"name", "type", "filename"} <= set(entry):
                raise FormatError(
                    "each entry needs name, type and filename", path=path, column=where
                )
            kind = entry["type"]
            if kind not in _TYPES:
                raise FormatError(
                    f"unknown dataset type {kind!r}; known: {sorted(_TYPES)}",
                    path=path,
                    column=f"{where}.type",
                )
            try:
                filename = resolve_data_path(str(entry["filename"]))
            except DataNotFoundError as exc:
                raise DataNotFoundError(
                    f"datasets index {str(path)!r}, {where}.filename: {exc}"
                ) from exc
            if not filename.is_absolute():
                filename = path.parent / filename
            name = str(entry["name"])
            if kind in ("MapDataset", "MapDatasetOnOff"):
                dataset = read_map_dataset(filename, name=name)
            elif kind == "SpectrumDatasetOnOff":
                dataset = read_ogip(filename, name=name)
            else:
                dataset = FluxPointsDataset.read(filename, name=name)
            datasets.append(dataset)
        return cls(datasets)

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write every dataset next to a YAML index.

        File names: ``<name>.fits`` for map datasets, ``pha_obs<name>.fits`` (+ ARF, RMF, BKG)
        for on/off spectra, ``<name>_flux_points.fits`` for flux points. Every target is
        checked before anything is written (so ``overwrite=False`` fails without writing);
        each file is then written atomically and the index last.

        Parameters
        ----------
        path : str or path-like
            YAML index file.
        overwrite : bool
            Replace existing files.
        """
        path = Path(path)
        folder = path.parent
        entries, writers = [], []
        for dataset in self._datasets:
            if isinstance(dataset, MapDataset):
                filename = f"{dataset.name}.fits"
                targets = [folder / filename]
            elif isinstance(dataset, SpectrumDatasetOnOff):
                filename = f"pha_obs{dataset.name}.fits"
                targets = [folder / filename, *companion_paths(folder / filename).values()]
            elif isinstance(dataset, FluxPointsDataset):
                filename = f"{dataset.name}_flux_points.fits"
                targets = [folder / filename]
            else:
                raise TypeError(
                    f"dataset {dataset.name!r}: cannot write a {type(dataset).__name__} to an index"
                )
            for target in [*targets, path]:
                check_overwrite(target, overwrite)
            entries.append({"name": dataset.name, "type": dataset.kind, "filename": filename})
            writers.append((dataset, folder / filename))
        with contextlib.ExitStack() as stack:
            tmp_index = stack.enter_context(atomic_path(path, overwrite=overwrite))
            for dataset, target in writers:
                dataset.write(target, overwrite=overwrite)
            tmp_index.write_text(yaml.safe_dump({"datasets": entries}, sort_keys=False))

    def __repr__(self) -> str:
        lines = [f"Datasets({len(self)} datasets)"]
        lines += [f"  {i}: {type(d).__name__} {d.name!r}" for i, d in enumerate(self._datasets)]
        return "\n".join(lines)


def _check_model_datasets(models, datasets: Datasets, filename) -> None:
    """Every ``datasets_names`` entry of the models must name a dataset of the index."""
    import difflib

    for model in models:
        for name in getattr(model, "datasets_names", None) or []:
            if name not in datasets.names:
                close = difflib.get_close_matches(str(name), datasets.names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"models file {str(filename)!r}: model {model.name!r} names dataset "
                    f"{name!r}{hint}, which is not in the datasets index; datasets: "
                    f"{datasets.names}"
                )
