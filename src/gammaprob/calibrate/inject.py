"""Put simulated observations (prior-predictive draws) back into copies of the datasets.

The prior predictive of the model :func:`gammaprob.inference.build_model` makes from the user's
datasets draws every observed term (``"<dataset>::counts"``, and ``"<dataset>::counts_off"``
for ``onoff="latent"``) in the layout of the likelihood: the reconstructed-energy bins inside
the safe mask of a spectrum dataset; for a map dataset, the masked bins of the cutout around
the sources one by one, then one aggregated bin per energy for the masked bins outside it
(:class:`~gammaprob.forward.MapFold`). Outside the cutout the prediction is the background
alone, ``b_p g_e``, so independent Poisson draws per pixel are, exactly, a Poisson total per
energy split multinomially in proportion to ``b_p`` (:class:`MapLayout` puts the draws back
into the counts cube that way). Each replication rebuilds the model from datasets holding the
drawn counts, so every constant the likelihood derives from the data (the marginal on/off
tables, the map likelihood's background sufficient statistics) is derived from the simulated
data, never the template's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..utils.errors import GammaprobError

__all__ = ["MapLayout", "SBCError", "map_layouts", "observed_names", "with_simulated_data"]


class SBCError(GammaprobError, ValueError):
    """A model or dataset that simulation-based calibration cannot use as it is."""


def _spectrum_mask(dataset) -> np.ndarray:
    from ..forward import SpectrumResponse

    return np.asarray(SpectrumResponse.from_dataset(dataset).mask, bool)


def observed_names(dataset) -> tuple[str, ...]:
    """Observed terms a dataset adds to the model that SBC can replace, by dataset type.

    Raises
    ------
    SBCError
        For on/off map datasets and flux-point datasets (not supported).
    """
    from ..datasets import MapDataset, MapDatasetOnOff, SpectrumDataset, SpectrumDatasetOnOff

    if isinstance(dataset, SpectrumDatasetOnOff):
        return (f"{dataset.name}::counts", f"{dataset.name}::counts_off")
    if isinstance(dataset, SpectrumDataset):
        return (f"{dataset.name}::counts",)
    if isinstance(dataset, MapDataset) and not isinstance(dataset, MapDatasetOnOff):
        return (f"{dataset.name}::counts",)
    raise SBCError(
        f"dataset {getattr(dataset, 'name', dataset)!r} of type {type(dataset).__name__}: "
        "simulation-based calibration supports spectrum datasets (SpectrumDataset, "
        "SpectrumDatasetOnOff) and map datasets with a known background (MapDataset); on/off "
        "map datasets (their likelihood leaves the bins outside the sources out) and "
        "flux-point datasets are not supported"
    )


@dataclass(frozen=True)
class MapLayout:
    """Where the likelihood bins of a map dataset's ``"<name>::counts"`` lie in its counts cube.

    Attributes
    ----------
    shape : tuple of int
        Shape of the counts cube ``(n_reco, ny, nx)``.
    cutout : numpy.ndarray
        Flat pixel indices of the cutout.
    inside : numpy.ndarray
        Flat indices into ``(n_reco, n_cutout)`` of the masked cutout bins (the first
        likelihood bins, in this order).
    outside_energy : numpy.ndarray
        Energy bin of each aggregated likelihood bin (the last ones).
    share : numpy.ndarray
        ``(n_reco, n_pix)``: the background fraction ``b_p / sum b`` of each masked bin outside
        the cutout within its energy bin (zero elsewhere), the multinomial split of a total.
    """

    shape: tuple[int, ...]
    cutout: np.ndarray
    inside: np.ndarray
    outside_energy: np.ndarray
    share: np.ndarray

    @classmethod
    def from_fold(cls, fold, shape: tuple[int, ...]) -> MapLayout:
        """Return the layout of a :class:`~gammaprob.forward.MapFold` (non on/off)."""
        r = fold.response
        out_mask = np.asarray(r.mask, bool).copy()
        out_mask[:, fold.cutout] = False
        background = np.where(out_mask, np.asarray(r.background, np.float64), 0.0)
        total = background.sum(axis=1, keepdims=True)
        share = np.divide(background, total, out=np.zeros_like(background), where=total > 0)
        return cls(
            tuple(int(n) for n in shape),
            np.asarray(fold.cutout),
            np.asarray(fold.inside),
            np.asarray(fold.outside_energy),
            share,
        )

    @property
    def size(self) -> int:
        """Number of likelihood bins (the size of a draw)."""
        return int(self.inside.size + self.outside_energy.size)

    def counts(self, draw: np.ndarray, template: np.ndarray, rng) -> np.ndarray:
        """Return the counts cube of one draw of the likelihood bins.

        Parameters
        ----------
        draw : numpy.ndarray
            Counts of the likelihood bins, shape ``(size,)``.
        template : numpy.ndarray
            The template's counts cube; bins outside the safe mask keep these values (no
            likelihood term uses them).
        rng : numpy.random.Generator
            Draws the multinomial split of each aggregated energy bin over its pixels.

        Returns
        -------
        numpy.ndarray
            Integer counts of shape :attr:`shape`.
        """
        draw = np.round(np.asarray(draw)).astype(np.int64)
        n_reco = self.shape[0]
        cube = np.array(template, dtype=np.int64).reshape(n_reco, -1)
        cube[self.share > 0] = 0
        cutout = cube[:, self.cutout].reshape(-1)
        cutout[self.inside] = draw[: self.inside.size]
        cube[:, self.cutout] = cutout.reshape(n_reco, -1)
        for energy, total in zip(self.outside_energy, draw[self.inside.size :], strict=True):
            cube[energy] += rng.multinomial(total, self.share[energy])
        return cube.reshape(self.shape)


def map_layouts(datasets: list, models, build_kwargs: dict) -> dict[str, MapLayout]:
    """Return the :class:`MapLayout` of each map dataset, as ``build_model`` makes it.

    Parameters
    ----------
    datasets : list
        The templates.
    models : Models, SkyModel or sequence
        The models of the simulation.
    build_kwargs : dict
        The keywords of :func:`gammaprob.inference.build_model` (``systematics=`` and
        ``psf_mode=`` change the cutout).

    Returns
    -------
    dict
        ``{dataset name: MapLayout}``, empty without map datasets.
    """
    from ..datasets import MapDataset
    from ..forward import MapFold, MapResponse, nominal_positions
    from ..inference.build import _as_models

    maps = [ds for ds in datasets if isinstance(ds, MapDataset)]
    if not maps:
        return {}
    models = _as_models(models)
    if build_kwargs.get("systematics") is not None:
        from ..modeling import apply_systematics

        models = apply_systematics(models, build_kwargs["systematics"], datasets)
    positions = nominal_positions(models)
    names = [ds.name for ds in datasets]
    layouts = {}
    for ds in maps:
        fold = MapFold.build(
            MapResponse.from_dataset(ds),
            models,
            positions,
            known_datasets=names,
            psf_mode=build_kwargs.get("psf_mode", "exact"),
        )
        layouts[ds.name] = MapLayout.from_fold(fold, ds.counts.data.shape)
    return layouts


def _map_with(ds, draws: dict, layout: MapLayout, rng):
    name = f"{ds.name}::counts"
    if name not in draws:
        raise SBCError(f"no simulated values of the observed term {name!r}")
    value = np.asarray(draws[name])
    if value.shape != (layout.size,):
        raise SBCError(
            f"simulated {name!r} has shape {value.shape}, expected ({layout.size},) (the "
            "likelihood bins of the map: cutout bins, then one per aggregated energy bin)"
        )
    counts = layout.counts(value, np.asarray(ds.counts.data), rng)
    return ds.replace(counts=ds.counts.copy(data=counts))


def with_simulated_data(datasets: list, draws: dict, layouts: dict | None = None, rng=None) -> list:
    """Return copies of ``datasets`` whose observed counts are the drawn ones.

    Parameters
    ----------
    datasets : list
        Spectrum or map datasets (the templates).
    draws : dict
        Prior-predictive draw of each observed term by name (values in the likelihood bins).
    layouts : dict, optional
        ``{name: MapLayout}`` of the map datasets (:func:`map_layouts`).
    rng : numpy.random.Generator, int or None
        Draws the split of the aggregated map bins over their pixels.

    Returns
    -------
    list
        New datasets; bins outside the safe mask keep the template's counts (no likelihood
        term uses them).

    Raises
    ------
    SBCError
        When a dataset's ON counts are missing from ``draws``, a draw has the wrong size, or
        a map dataset has no layout.
    """
    from ..datasets import MapDataset

    rng = np.random.default_rng(rng)
    layouts = layouts or {}
    out = []
    for ds in datasets:
        names = observed_names(ds)
        if isinstance(ds, MapDataset):
            if ds.name not in layouts:
                raise SBCError(f"map dataset {ds.name!r}: no layout of its likelihood bins")
            out.append(_map_with(ds, draws, layouts[ds.name], rng))
            continue
        mask = _spectrum_mask(ds)
        changes = {}
        for name, field in zip(names, ("counts", "counts_off"), strict=False):
            if name not in draws:
                if field == "counts":
                    raise SBCError(f"no simulated values of the observed term {name!r}")
                continue  # marginal on/off: OFF counts are data the ON draw is conditioned on
            value = np.asarray(draws[name])
            if value.shape != (int(mask.sum()),):
                raise SBCError(
                    f"simulated {name!r} has shape {value.shape}, expected ({int(mask.sum())},) "
                    "(the bins inside the safe mask)"
                )
            full = np.array(getattr(ds, field), dtype=np.int64).reshape(-1)
            full[mask] = np.round(value).astype(np.int64)
            changes[field] = full
        out.append(ds.replace(**changes))
    return out
