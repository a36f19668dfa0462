"""Predicted counts of spectrum datasets as a pytensor graph.

``fold_spectra`` groups datasets that share a true-energy grid and the same set of sky models,
stacks their response matrices side by side once (dropping true-energy rows that no dataset
responds to) and integrates the flux once per group. Each dataset is then one matrix product
with its own columns (slicing one big product instead makes the gradient graph repeat the big
product once per slice); the profiled WStat of all on/off datasets of a group is one product
with their columns together. For the ten joint-Crab spectra that is two flux integrations,
independent of the number of bins.

A source with a temporal component has its flux scaled, per dataset, by the mean of its
temporal norm over the dataset's good time intervals (gammapy's convention); datasets reached
by such a source are folded one per group, each with its own factor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gammaprob.forward._models import (
    component_params,
    models_for,
    spectral_component,
    temporal_component,
)
from gammaprob.forward.integration import DEFAULT_NODES, integrate_component
from gammaprob.forward.response import SpectrumResponse

__all__ = ["SpectrumFold", "build_npred_spectrum", "fold_groups", "fold_spectra"]


@dataclass(frozen=True, eq=False)
class SpectrumFold:
    """A group of spectrum responses folded with one matrix product (built once).

    Attributes
    ----------
    names : tuple of str
        Dataset names in column order.
    sources : tuple
        Sky models applying to every dataset of the group.
    energy_min, energy_max : numpy.ndarray
        True-energy bins (TeV) with a non-zero response in at least one dataset.
    kernel : numpy.ndarray
        Stacked response ``(n_true_kept, sum n_kept)`` in cm2 s.
    slices : tuple of slice
        Columns of each dataset in ``kernel``.
    background : numpy.ndarray or None
        Known background counts of all columns (zeros where a dataset has none), or None.
    time_intervals : numpy.ndarray or None
        Good time intervals (start/stop MJD TT, ``(n, 2)``) of a group of one dataset, which
        the temporal components of its sources are averaged over; None for larger groups.
    """

    names: tuple
    sources: tuple
    energy_min: np.ndarray
    energy_max: np.ndarray
    kernel: np.ndarray
    slices: tuple
    background: np.ndarray | None
    time_intervals: np.ndarray | None = None

    @classmethod
    def from_responses(cls, responses: Sequence[SpectrumResponse], sources) -> SpectrumFold:
        """Stack responses that share one true-energy grid."""
        edges = responses[0].energy_true_edges
        for r in responses[1:]:
            if r.energy_true_edges.shape != edges.shape or not np.allclose(
                r.energy_true_edges, edges, rtol=1e-9, atol=0
            ):
                raise ValueError(
                    f"datasets {responses[0].name!r} and {r.name!r} have different true-energy"
                    " grids and cannot be folded together"
                )
        kernel = np.concatenate([r.kernel for r in responses], axis=1)
        rows = np.flatnonzero(np.any(kernel != 0, axis=1))
        sizes = np.array([r.n_bins for r in responses])
        stops = np.cumsum(sizes)
        slices = tuple(slice(int(b - n), int(b)) for n, b in zip(sizes, stops, strict=True))
        background = None
        if any(r.background is not None for r in responses):
            background = np.concatenate(
                [
                    r.background if r.background is not None else np.zeros(r.n_bins)
                    for r in responses
                ]
            )
        return cls(
            names=tuple(r.name for r in responses),
            sources=tuple(sources),
            energy_min=edges[:-1][rows],
            energy_max=edges[1:][rows],
            kernel=np.ascontiguousarray(kernel[rows]),
            slices=slices,
            background=background,
            time_intervals=responses[0].time_intervals if len(responses) == 1 else None,
        )

    def flux_integral(self, params: Mapping, *, n_nodes: int = DEFAULT_NODES):
        """Return the summed integrated flux of the group's sources per kept true-energy bin (cm-2 s-1)."""
        total = None
        for model in self.sources:
            component = spectral_component(model)
            values = component_params(model, "spectral", params)
            flux = integrate_component(
                component, self.energy_min, self.energy_max, values, n_nodes=n_nodes
            )
            if temporal_component(model) is not None:
                flux = flux * self.temporal_norm(model, params)
            total = flux if total is None else total + flux
        return total

    def temporal_norm(self, model, params: Mapping):
        """Mean temporal norm of one source over this group's good time intervals.

        Raises
        ------
        ValueError
            When the group is not a single dataset with good time intervals.
        """
        if self.time_intervals is None:
            raise ValueError(
                f"source {model.name!r} has a temporal component but dataset(s) {list(self.names)}"
                " have no good time intervals (GTI); a temporal model needs the observation times"
            )
        from astropy.time import Time

        start, stop = (Time(self.time_intervals[:, k], format="mjd", scale="tt") for k in (0, 1))
        values = component_params(model, "temporal", params, n_positional=1)
        return temporal_component(model).mean_norm(start, stop, values)

    def columns(self, names) -> np.ndarray:
        """Column indices of the named datasets in :attr:`kernel`, in the given order."""
        slices = dict(zip(self.names, self.slices, strict=True))
        return np.concatenate([np.arange(slices[n].start, slices[n].stop) for n in names])

    def fold(self, flux, names=None):
        """Predicted counts of the named datasets' columns (default: all) from integrated fluxes.

        One matrix product with the matching columns of :attr:`kernel`; folding datasets one by
        one (instead of slicing one big product) keeps the gradient graph free of
        increment-subtensor chains.

        Parameters
        ----------
        flux : numpy.ndarray or tensor or None
            Output of :meth:`flux_integral` (None: no source).
        names : sequence of str, optional
            Datasets whose columns are folded, concatenated in this order.

        Returns
        -------
        numpy.ndarray or tensor
            Predicted counts (signal + known background).
        """
        cols = (
            slice(None) if names is None or list(names) == list(self.names) else self.columns(names)
        )
        kernel = self.kernel[:, cols]
        if flux is None:
            out = np.zeros(kernel.shape[1])
        else:
            from gammaprob.utils.xp import is_tensor

            if is_tensor(flux):
                import pytensor.tensor as pt

                out = pt.dot(flux, np.ascontiguousarray(kernel))
            else:
                out = np.asarray(flux) @ kernel
        if self.background is not None:
            out = out + self.background[cols]
        return out

    def npred(self, params: Mapping, *, n_nodes: int = DEFAULT_NODES):
        """Return the predicted counts of all columns (tensor if any parameter is a tensor)."""
        return self.fold(self.flux_integral(params, n_nodes=n_nodes))


def _group_key(response: SpectrumResponse, sources) -> tuple:
    edges = np.round(np.log(response.energy_true_edges), 9).tobytes()
    alone = response.name if any(temporal_component(s) is not None for s in sources) else None
    return edges, tuple(id(s) for s in sources), alone


def fold_groups(
    responses: Sequence[SpectrumResponse],
    models: Sequence,
    params: Mapping,
    *,
    n_nodes: int = DEFAULT_NODES,
    known_datasets=(),
) -> list[tuple[SpectrumFold, object]]:
    """Fold datasets group by group (shared true-energy grid and sources).

    Parameters are those of :func:`fold_spectra`.

    Returns
    -------
    list of (SpectrumFold, flux)
        Each group's fold and its sources' integrated flux per kept true-energy bin (None when
        no source applies); ``fold.fold(flux, names)`` gives predicted counts.
    """
    names = [r.name for r in responses]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be unique, got {names}")
    known = None if known_datasets is None else [*names, *known_datasets]
    groups: dict[tuple, list] = {}
    sources_of: dict[tuple, list] = {}
    for response in responses:
        sources = [
            m for m in models_for(models, response.name, known) if spectral_component(m) is not None
        ]
        key = _group_key(response, sources)
        groups.setdefault(key, []).append(response)
        sources_of[key] = sources
    out = []
    for key, members in groups.items():
        fold = SpectrumFold.from_responses(members, sources_of[key])
        out.append((fold, fold.flux_integral(params, n_nodes=n_nodes)))
    return out


def fold_spectra(
    responses: Sequence[SpectrumResponse],
    models: Sequence,
    params: Mapping,
    *,
    n_nodes: int = DEFAULT_NODES,
    known_datasets=(),
) -> dict:
    """Predicted counts of several spectrum datasets, folded in as few products as possible.

    Parameters
    ----------
    responses : sequence of SpectrumResponse
        One per dataset; names must be unique.
    models : sequence
        Sky models (see :mod:`gammaprob.forward._models` for what is read from them).
    params : Mapping
        Parameter values (floats or pytensor tensors), nested ``{source: {kind: {param:
        value}}}`` or flat ``{"<source>::<param>": value}``.
    n_nodes : int
        Quadrature nodes per true-energy bin for components without an analytic integral.
    known_datasets : iterable of str or None
        Further dataset names a model may be assigned to (datasets of the same analysis that
        are folded elsewhere). A model assigned to a name that is neither here nor among
        ``responses`` raises; None disables that check.

    Returns
    -------
    dict
        ``{dataset name: npred}`` over each dataset's kept reconstructed bins (counts); pytensor
        tensors when any parameter is a tensor, numpy arrays otherwise.

    Raises
    ------
    ValueError
        For duplicate dataset names or a model assigned to an unknown dataset.
    """
    out = {}
    for fold, flux in fold_groups(
        responses, models, params, n_nodes=n_nodes, known_datasets=known_datasets
    ):
        for name in fold.names:
            out[name] = fold.fold(flux, [name])
    return {r.name: out[r.name] for r in responses}


def build_npred_spectrum(
    response: SpectrumResponse,
    models: Sequence,
    params: Mapping,
    *,
    n_nodes: int = DEFAULT_NODES,
    known_datasets=None,
):
    """Predicted counts of one spectrum dataset (see :func:`fold_spectra`).

    Models assigned to other datasets are skipped; pass ``known_datasets`` to also check that
    every assignment names a known dataset.
    """
    return fold_spectra([response], models, params, n_nodes=n_nodes, known_datasets=known_datasets)[
        response.name
    ]
