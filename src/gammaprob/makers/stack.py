"""Stacking of datasets made from several observations.

Map datasets on one geometry (:func:`stack_map_datasets`), and a running stack that adds
datasets one at a time as they are reduced, in bounded memory (:class:`RunningStack`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from gammaprob.datasets import MapDataset, SpectrumDataset, stack_spectra
from gammaprob.datasets.stack import stack_gtis
from gammaprob.irf.irf_maps import IRFMap
from gammaprob.maps import Map

__all__ = ["RunningStack", "stack_map_datasets"]


class RunningStack:
    """Stack datasets one at a time, in any order, holding only the running result.

    Each :meth:`add` stacks the running result with one new dataset
    (:func:`~gammaprob.datasets.stack_spectra` or :func:`stack_map_datasets` on the pair), so
    memory stays that of two datasets however many are added. The stacked sums (counts,
    exposure, background, OFF counts, exposure-weighted energy dispersion and IRF maps,
    livetime, GTI union, safe mask) equal those of stacking all datasets at once up to
    floating-point rounding (the order of the sums differs); the stacked names
    (``meta['stacked_from']`` of spectra, ``meta['obs_ids']`` of maps) follow the ``index``
    given to :meth:`add`, not the order of arrival. Two degenerate on/off cases differ from
    stacking at once: a safe bin whose summed acceptance is 0 (set to 1 in the running
    result), and a stack without any OFF count, whose mean alpha is then averaged pairwise.

    Parameters
    ----------
    name : str
        Name of the stacked dataset.
    """

    def __init__(self, name: str = "stacked") -> None:
        self.name = name
        self._stacked: SpectrumDataset | MapDataset | None = None
        self._labels: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self._labels)

    def add(self, index: int, dataset: SpectrumDataset | MapDataset) -> None:
        """Stack ``dataset`` onto the running result.

        Parameters
        ----------
        index : int
            Position of the dataset in the input (orders the stacked names); unique.
        dataset : SpectrumDataset or MapDataset
            The dataset (of the same class and binning as those added before).
        """
        if index in self._labels:
            raise ValueError(f"index {index} was already added to the running stack")
        if isinstance(dataset, SpectrumDataset):
            stack, label = stack_spectra, dataset.name
        elif isinstance(dataset, MapDataset):
            stack, label = stack_map_datasets, dataset.meta.get("obs_id")
        else:
            raise TypeError(
                f"can only stack SpectrumDataset or MapDataset, got {type(dataset).__name__}"
            )
        parts = [dataset] if self._stacked is None else [self._stacked, dataset]
        self._stacked = stack(parts, name=self.name)
        self._labels[index] = label

    def result(self) -> SpectrumDataset | MapDataset:
        """Return the stacked dataset, its stacked names in the order of the indices.

        Returns
        -------
        SpectrumDataset or MapDataset
            The stack of every dataset added so far.
        """
        if self._stacked is None:
            raise ValueError("nothing was added to the running stack")
        labels = [self._labels[i] for i in sorted(self._labels)]
        key = "stacked_from" if isinstance(self._stacked, SpectrumDataset) else "obs_ids"
        return dataclasses.replace(self._stacked, meta={**self._stacked.meta, key: labels})


def stack_map_datasets(datasets: Sequence[MapDataset], name: str = "stacked") -> MapDataset:
    """Stack map datasets sharing one geometry, honouring each dataset's safe mask.

    Counts and background are summed over the safe bins of each dataset; the exposure of a
    dataset is added in the pixels where any of its energy bins is safe; the stacked safe mask
    is the logical OR. PSF and energy-dispersion maps (:class:`~gammaprob.irf.irf_maps.IRFMap`)
    are averaged with their exposure maps as weights (the safe mask is not applied to those
    weights, unlike gammapy, which masks them on the coarse IRF grid).

    Parameters
    ----------
    datasets : sequence of MapDataset
        Datasets with identical counts and exposure geometries.
    name : str
        Name of the result.

    Returns
    -------
    MapDataset
        The stacked dataset; ``meta['obs_ids']`` lists the inputs, ``meta['livetime']``
        their summed livetime, and its GTI is the union of theirs (None if one has none).
    """
    datasets = list(datasets)
    if not datasets:
        raise ValueError("need at least one dataset to stack")
    first = datasets[0]
    for d in datasets[1:]:
        if d.geom != first.geom:
            raise ValueError(f"dataset {d.name!r} has a different geometry from {first.name!r}")
    counts = np.zeros(first.counts.data.shape)
    mask = np.zeros(first.counts.data.shape, bool)
    background = None if first.background is None else np.zeros(counts.shape)
    exposure = None if first.exposure is None else np.zeros(first.exposure.data.shape)
    livetime = 0.0
    for d in datasets:
        m = np.asarray(d.mask_safe.data, bool)
        counts += d.counts.data * m
        mask |= m
        if background is not None:
            if d.background is None:
                raise ValueError(f"dataset {d.name!r} has no background but {first.name!r} has")
            background += d.background.data * m
        if exposure is not None:
            image = m.any(axis=0)
            exposure += d.exposure.quantity.to_value(first.exposure.unit) * image
        livetime += float(d.meta.get("livetime", 0.0))
    edisp = _stack_irf_maps([d.edisp for d in datasets], "edisp")
    psf = _stack_irf_maps([d.psf for d in datasets], "psf")
    return MapDataset(
        name=name,
        counts=Map(first.geom, data=counts, unit=""),
        exposure=None
        if exposure is None
        else Map(first.exposure.geom, data=exposure, unit=first.exposure.unit),
        background=None if background is None else Map(first.geom, data=background, unit=""),
        psf=psf,
        edisp=edisp,
        mask_safe=mask,
        gti=stack_gtis([d.gti for d in datasets]),
        meta={"obs_ids": [d.meta.get("obs_id") for d in datasets], "livetime": livetime},
    )


def _stack_irf_maps(irf_maps: list, what: str):
    """Exposure-weighted mean of IRF maps (None if any dataset has none)."""
    if any(m is None for m in irf_maps):
        return None
    if not any(isinstance(m, IRFMap) for m in irf_maps):
        first = np.asarray(
            irf_maps[0].pdf_matrix if hasattr(irf_maps[0], "pdf_matrix") else irf_maps[0].data
        )
        for m in irf_maps[1:]:
            other = np.asarray(m.pdf_matrix if hasattr(m, "pdf_matrix") else m.data)
            if other.shape != first.shape or not np.array_equal(other, first):
                raise ValueError(
                    f"{what}: single kernels that differ cannot be stacked; use IRF maps"
                )
        return irf_maps[0]
    if not all(isinstance(m, IRFMap) for m in irf_maps):
        raise ValueError(f"{what}: cannot stack IRF maps with single kernels")
    return type(irf_maps[0]).stack(irf_maps)
