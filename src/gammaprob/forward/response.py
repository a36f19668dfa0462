r"""Spectral responses: a dataset's IRFs fused into one constant matrix, built once.

For a 1D (spectrum) dataset the predicted counts in reconstructed-energy bin ``j`` are

.. math::
    \\mu_j = \\sum_i F_i \\, K_{ij}, \\qquad K_{ij} = \\varepsilon_i \\, D_{ij},

with :math:`F_i` the flux integrated over true-energy bin ``i`` (cm-2 s-1), :math:`\\varepsilon_i`
the exposure (cm2 s) and :math:`D_{ij}` the energy-dispersion probability. ``K`` is built once
with the reconstructed bins outside the safe mask dropped, so folding a model is one matrix
product in the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SpectrumResponse"]


def _as_float_array(value, name: str, ndim: int) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _as_counts(value, name: str, size: int) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array < 0) or np.any(array != np.round(array)):
        raise ValueError(f"{name} must hold non-negative integer counts")
    return array.astype(np.int64)


def _check_edges(edges: np.ndarray, name: str) -> None:
    if edges.size < 2 or np.any(edges <= 0) or np.any(np.diff(edges) <= 0):
        raise ValueError(f"{name} must be positive and strictly increasing (TeV)")


@dataclass(frozen=True, eq=False, repr=False)
class SpectrumResponse:
    """The constant response of one spectrum dataset, ready for folding.

    Build it with :meth:`from_arrays` (plain arrays in canonical units) or
    :meth:`from_dataset` (a gammaprob ``SpectrumDataset``/``SpectrumDatasetOnOff``).

    Attributes
    ----------
    name : str
        Dataset name; likelihood terms are called ``"<name>::counts"``.
    energy_true_edges : numpy.ndarray
        True-energy bin edges in TeV, shape ``(n_true + 1,)``.
    energy_edges : numpy.ndarray
        Reconstructed-energy bin edges in TeV of the full axis, shape ``(n_reco + 1,)``.
    mask : numpy.ndarray
        Boolean safe mask on the full reconstructed axis; only these bins enter the likelihood.
    kernel : numpy.ndarray
        ``K[i, j]`` = exposure (cm2 s) x dispersion probability, shape ``(n_true, n_kept)``
        with ``n_kept = mask.sum()``.
    counts : numpy.ndarray
        ON counts in the kept bins, int64.
    background : numpy.ndarray or None
        Known background counts in the kept bins (Cash likelihood), or None.
    counts_off : numpy.ndarray or None
        OFF counts in the kept bins (on/off likelihood), int64, or None.
    alpha : numpy.ndarray or None
        ON/OFF exposure ratio in the kept bins, or None.
    time_intervals : numpy.ndarray or None
        Good time intervals ``(n, 2)`` as start/stop MJD (TT), or None; a source with a
        temporal component needs them (its flux is scaled by the mean norm over them).
    """

    name: str
    energy_true_edges: np.ndarray
    energy_edges: np.ndarray
    mask: np.ndarray
    kernel: np.ndarray
    counts: np.ndarray
    background: np.ndarray | None = None
    counts_off: np.ndarray | None = None
    alpha: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    time_intervals: np.ndarray | None = None

    @classmethod
    def from_arrays(
        cls,
        name: str,
        *,
        counts,
        exposure,
        edisp,
        energy_true_edges,
        energy_edges,
        mask_safe=None,
        background=None,
        counts_off=None,
        alpha=None,
        time_intervals=None,
    ) -> SpectrumResponse:
        """Build the response from plain arrays in canonical units.

        Parameters
        ----------
        name : str
            Dataset name.
        counts : array_like
            ON counts per reconstructed-energy bin, shape ``(n_reco,)``.
        exposure : array_like
            Exposure per true-energy bin in cm2 s, shape ``(n_true,)``.
        edisp : array_like
            Energy-dispersion probabilities ``[E_true, E_reco]``, shape ``(n_true, n_reco)``.
        energy_true_edges, energy_edges : array_like
            True and reconstructed energy bin edges in TeV.
        mask_safe : array_like of bool, optional
            Bins used in the likelihood (default: all).
        background : array_like, optional
            Known background counts per reconstructed bin (for a Cash likelihood).
        counts_off, alpha : array_like, optional
            OFF counts and ON/OFF exposure ratio per reconstructed bin (on/off likelihood);
            give both or neither.
        time_intervals : array_like, optional
            Good time intervals, shape ``(n, 2)``: start and stop MJD (TT), stop >= start.

        Returns
        -------
        SpectrumResponse

        Raises
        ------
        ValueError
            On inconsistent shapes, negative or non-integer counts, non-finite values, or a
            mask that keeps no bin.
        """
        e_true = _as_float_array(energy_true_edges, "energy_true_edges", 1)
        e_reco = _as_float_array(energy_edges, "energy_edges", 1)
        _check_edges(e_true, "energy_true_edges")
        _check_edges(e_reco, "energy_edges")
        n_true, n_reco = e_true.size - 1, e_reco.size - 1
        exposure = _as_float_array(exposure, "exposure", 1)
        if exposure.shape != (n_true,):
            raise ValueError(
                f"exposure has {exposure.size} values but the true-energy axis has {n_true} bins"
            )
        if np.any(exposure < 0):
            raise ValueError("exposure must be non-negative (cm2 s)")
        edisp = _as_float_array(edisp, "edisp", 2)
        if edisp.shape != (n_true, n_reco):
            raise ValueError(
                f"edisp has shape {edisp.shape}, expected (n_true, n_reco) = ({n_true}, {n_reco})"
                " from the energy axes"
            )
        if np.any(edisp < 0):
            raise ValueError("edisp probabilities must be non-negative")
        mask = (
            np.ones(n_reco, dtype=bool)
            if mask_safe is None
            else np.asarray(mask_safe, dtype=bool).reshape(-1)
        )
        if mask.shape != (n_reco,):
            raise ValueError(f"mask_safe must have shape ({n_reco},), got {mask.shape}")
        if not mask.any():
            raise ValueError(
                f"dataset {name!r} has no bin inside its safe mask; it cannot enter a likelihood"
            )
        counts = _as_counts(counts, "counts", n_reco)[mask]
        if background is not None:
            background = _as_float_array(background, "background", 1)
            if background.shape != (n_reco,) or np.any(background < 0):
                raise ValueError(f"background must be non-negative with shape ({n_reco},)")
            background = background[mask]
        if (counts_off is None) != (alpha is None):
            raise ValueError("give both counts_off and alpha for an on/off dataset, or neither")
        if counts_off is not None:
            counts_off = _as_counts(counts_off, "counts_off", n_reco)[mask]
            alpha = np.broadcast_to(_as_float_array(np.atleast_1d(alpha), "alpha", 1), (n_reco,))
            alpha = alpha[mask].copy()
            if np.any(alpha <= 0):
                raise ValueError("alpha (ON/OFF exposure ratio) must be positive in the safe mask")
        kernel = exposure[:, None] * edisp[:, mask]
        if time_intervals is not None:
            time_intervals = _as_float_array(time_intervals, "time_intervals", 2)
            if time_intervals.shape[1:] != (2,) or np.any(
                time_intervals[:, 1] < time_intervals[:, 0]
            ):
                raise ValueError(
                    f"time_intervals must be (start, stop) MJD pairs with stop >= start, got "
                    f"shape {time_intervals.shape}"
                )
        return cls(
            name=str(name),
            energy_true_edges=e_true,
            energy_edges=e_reco,
            mask=mask,
            kernel=np.ascontiguousarray(kernel),
            counts=counts,
            background=background,
            counts_off=counts_off,
            alpha=alpha,
            time_intervals=time_intervals,
        )

    @classmethod
    def from_dataset(cls, dataset) -> SpectrumResponse:
        """Build the response of a gammaprob spectrum dataset.

        Parameters
        ----------
        dataset : SpectrumDataset or SpectrumDatasetOnOff
            Any object exposing ``name``, ``counts``, ``exposure`` (cm2 s per true-energy bin),
            ``edisp`` (``[E_true, E_reco]`` probabilities), the energy axes and ``mask_safe``;
            on/off datasets also ``counts_off`` and ``alpha``. See
            :func:`gammaprob.forward._adapters.spectrum_arrays` for the attribute names read.

        Returns
        -------
        SpectrumResponse
        """
        from gammaprob.forward._adapters import spectrum_arrays

        return cls.from_arrays(**spectrum_arrays(dataset))

    @property
    def n_bins(self) -> int:
        """Number of reconstructed-energy bins entering the likelihood."""
        return int(self.kernel.shape[1])

    @property
    def is_onoff(self) -> bool:
        """True when the dataset carries OFF counts."""
        return self.counts_off is not None

    def fold(self, flux_integral: np.ndarray) -> np.ndarray:
        """Fold integrated fluxes with numpy (reference path, no graph).

        Parameters
        ----------
        flux_integral : numpy.ndarray
            Flux integrated over each true-energy bin in cm-2 s-1, shape ``(n_true,)``.

        Returns
        -------
        numpy.ndarray
            Predicted signal counts in the kept reconstructed bins.
        """
        return np.asarray(flux_integral, dtype=np.float64) @ self.kernel

    def __repr__(self) -> str:
        e_true = self.energy_true_edges
        kind = (
            "on/off"
            if self.is_onoff
            else "known background"
            if self.background is not None
            else "no background"
        )
        return (
            f"SpectrumResponse({self.name!r}, true {e_true.size - 1} bins "
            f"[{e_true[0]:.3g}, {e_true[-1]:.3g}] TeV, reco {self.n_bins}/{self.mask.size} bins kept, "
            f"{kind}, counts={int(self.counts.sum())})"
        )
