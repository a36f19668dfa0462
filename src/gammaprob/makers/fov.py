"""Field-of-view background: renormalise the IRF background outside an exclusion mask."""

from __future__ import annotations

import warnings

import numpy as np

from gammaprob.datasets import MapDataset
from gammaprob.maps import Map

__all__ = ["FoVBackgroundMaker"]


class FoVBackgroundMaker:
    """Scale the IRF background of a map dataset to the counts outside an exclusion mask.

    The norm is ``sum(counts) / sum(background)`` over safe, non-excluded bins. Without source
    models this is also the maximum-likelihood (Cash) norm, so ``method="fit"`` and
    ``method="scale"`` give the same result here; both are accepted for gammapy users.

    Parameters
    ----------
    method : {"scale", "fit"}
        Normalisation method (identical without source models, see above).
    exclusion_mask : Map, optional
        Boolean sky image on the dataset geometry, True where the background is measured.
    min_counts : int
        Below this many counts in the used bins the background is left unchanged (with a
        warning).
    """

    tag = "FoVBackgroundMaker"

    def __init__(
        self, method: str = "scale", exclusion_mask: Map | None = None, min_counts: int = 0
    ):
        if method not in ("scale", "fit"):
            raise ValueError(f"method must be 'scale' or 'fit', got {method!r}")
        if exclusion_mask is not None and not np.asarray(exclusion_mask.data, bool).any():
            raise ValueError("exclusion_mask excludes every pixel: nothing is left to normalise on")
        self.method = method
        self.exclusion_mask = exclusion_mask
        self.min_counts = int(min_counts)

    def __repr__(self) -> str:
        return f"{self.tag}(method={self.method!r}, min_counts={self.min_counts})"

    def run(self, dataset: MapDataset, observation=None) -> MapDataset:
        """Return a copy with the background scaled; ``meta['bkg_norm']`` holds the norm.

        Raises
        ------
        ValueError
            If the dataset has no background (e.g. the observation had no background IRF).
        """
        if not isinstance(dataset, MapDataset):
            raise TypeError(f"expected a MapDataset, got {type(dataset).__name__}")
        if dataset.background is None:
            obs = "" if observation is None else f" (observation {observation.obs_id})"
            raise ValueError(
                f"dataset {dataset.name!r}{obs} has no background to normalise: the FoV method "
                "needs a background IRF; use a ring or reflected-regions background instead"
            )
        mask = np.asarray(dataset.mask, bool).copy()
        if self.exclusion_mask is not None:
            excl = np.asarray(self.exclusion_mask.data, bool)
            if excl.shape != dataset.geom.spatial_shape[::-1] and excl.shape != mask.shape[1:]:
                raise ValueError(
                    f"exclusion_mask shape {excl.shape} does not match the dataset image "
                    f"{mask.shape[1:]}"
                )
            mask &= excl
        counts = float(dataset.counts.data[mask].sum())
        bkg = float(dataset.background.data[mask].sum())
        if counts <= self.min_counts or bkg <= 0:
            warnings.warn(
                f"{self.tag}: dataset {dataset.name!r} has {counts:.0f} counts and "
                f"{bkg:.3g} background counts outside the exclusion mask; background not scaled",
                stacklevel=2,
            )
            return dataset
        norm = counts / bkg
        background = Map(
            dataset.background.geom,
            data=dataset.background.data * norm,
            unit=dataset.background.unit,
        )
        return dataset.replace(background=background, meta=dict(dataset.meta, bkg_norm=norm))
