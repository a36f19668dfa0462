"""Stacking spectrum datasets into one, as gammapy's ``Datasets.stack_reduce`` does.

For datasets ``j`` with safe masks ``m_j`` (per reconstructed-energy bin) and ``s_j =
any(m_j)`` (the dataset contributes at all):

- counts, background, OFF counts, ON acceptance: ``sum_j x_j m_j``;
- exposure: ``sum_j E_j s_j``; livetime: ``sum_j t_j s_j``;
- energy dispersion, exposure-weighted with the reco mask:
  ``K[i, k] = sum_j K_j[i, k] E_j[i] m_j[k] / sum_j E_j[i] s_j``;
- OFF acceptance chosen so that ``alpha = sum_j alpha_j OFF_j m_j / sum_j OFF_j m_j`` where the
  stacked OFF counts are positive, and the count-weighted mean alpha elsewhere;
- masks: ``mask_safe`` is the OR of all, ``mask_fit`` the OR of those given; GTIs are merged.

Deviation from gammapy: in bins that no dataset marks safe, gammapy leaves ``alpha = 0/0``
(NaN); here acceptance is 1 and alpha the mean alpha, so no NaN appears (those bins are
outside ``mask_safe`` and never enter a fit).
"""

from __future__ import annotations

from collections.abc import Sequence

import astropy.units as u
import numpy as np

from gammaprob.data.gti import GTI

from .spectrum import SpectrumDataset, SpectrumDatasetOnOff

__all__ = ["stack_gtis", "stack_spectra"]


def _check_compatible(datasets: Sequence[SpectrumDataset]) -> None:
    first = datasets[0]
    for other in datasets[1:]:
        if type(other) is not type(first):
            raise TypeError(
                f"cannot stack a {type(other).__name__} ({other.name!r}) with a "
                f"{type(first).__name__} ({first.name!r})"
            )
        for attr in ("energy_axis", "energy_axis_true"):
            if not getattr(other, attr).is_aligned(getattr(first, attr), rtol=1e-6):
                raise ValueError(
                    f"cannot stack {other.name!r} onto {first.name!r}: their {attr} differ "
                    f"({getattr(other, attr)!r} vs {getattr(first, attr)!r})"
                )
        if (other.background is None) != (first.background is None):
            raise ValueError(
                f"cannot stack {other.name!r} and {first.name!r}: only one has a background"
            )


def stack_gtis(gtis: Sequence):
    """Union of the good time intervals of stacked datasets.

    Parameters
    ----------
    gtis : sequence of GTI or None
        Each dataset's GTI table.

    Returns
    -------
    GTI or None
        The merged (union) intervals, or None when any dataset has no GTI.
    """
    if not gtis or any(g is None for g in gtis):
        return None
    return GTI.from_stack(gtis).union()


def stack_spectra(datasets: Sequence[SpectrumDataset], name: str = "stacked") -> SpectrumDataset:
    """Stack spectrum datasets with the same energy axes into one.

    Parameters
    ----------
    datasets : sequence of SpectrumDataset or of SpectrumDatasetOnOff
        Datasets of one class with aligned reconstructed and true energy axes.
    name : str
        Name of the stacked dataset.

    Returns
    -------
    SpectrumDataset or SpectrumDatasetOnOff
        The stacked dataset (see the module docstring for the rules).
    """
    datasets = list(datasets)
    if not datasets:
        raise ValueError("stack_spectra: no datasets given")
    _check_compatible(datasets)
    first = datasets[0]
    masks = np.array([d.mask_safe for d in datasets], dtype=float)  # (n_ds, n_reco)
    used = masks.any(axis=1).astype(float)  # (n_ds,)
    exposures = np.array([d.exposure.to_value("m2 s") for d in datasets])  # (n_ds, n_true)

    counts = np.sum([d.counts for d in datasets] * masks, axis=0)
    exposure = np.sum(exposures * used[:, None], axis=0)
    numerator = np.einsum(
        "jik,ji,jk->ik", np.array([d.edisp_matrix for d in datasets]), exposures, masks
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        edisp = np.where(exposure[:, None] > 0, numerator / exposure[:, None], 0.0)

    fields = {
        "name": name,
        "counts": counts,
        "exposure": exposure * first.exposure.unit,
        "energy_axis": first.energy_axis,
        "energy_axis_true": first.energy_axis_true,
        "edisp": edisp,
        "mask_safe": masks.any(axis=0),
        "meta": {"stacked_from": [d.name for d in datasets]},
    }
    fits = [d.mask_fit for d in datasets if d.mask_fit is not None]
    if fits:
        fields["mask_fit"] = np.any(fits, axis=0)
    if all(d.livetime is not None for d in datasets):
        seconds = np.array([d.livetime.to_value(u.s) for d in datasets])
        fields["livetime"] = float(np.sum(seconds * used)) * u.s
    gti = stack_gtis([d.gti for d in datasets])
    if gti is not None:
        fields["gti"] = gti
    if first.background is not None:
        fields["background"] = np.sum([d.background for d in datasets] * masks, axis=0)

    if isinstance(first, SpectrumDatasetOnOff):
        off = np.sum([d.counts_off for d in datasets] * masks, axis=0)
        alpha_off = np.sum([d.alpha * d.counts_off for d in datasets] * masks, axis=0)
        acceptance = np.sum([d.acceptance for d in datasets] * masks, axis=0)
        if off.sum() > 0:
            mean_alpha = alpha_off.sum() / off.sum()
        else:
            safe_alpha = np.concatenate([d.alpha[d.mask_safe] for d in datasets])
            mean_alpha = safe_alpha.mean() if safe_alpha.size else 1.0
        acceptance = np.where(acceptance > 0, acceptance, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            acceptance_off = np.where(
                off > 0, acceptance * off / alpha_off, acceptance / mean_alpha
            )
        fields.update(counts_off=off, acceptance=acceptance, acceptance_off=acceptance_off)
    return type(first)(**fields)
