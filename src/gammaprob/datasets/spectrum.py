"""Spectrum datasets: 1D counts in reconstructed energy with their response.

:class:`SpectrumDataset` holds ON counts and a predicted background;
:class:`SpectrumDatasetOnOff` holds ON and OFF counts with their acceptances instead. Both
are frozen: arrays are read-only and attributes cannot be reassigned; :meth:`replace` makes a
modified copy. They carry no likelihood and no plotting.

Array conventions (all plain float64 numpy arrays, canonical units):

- ``counts``, ``background``, ``counts_off``, ``acceptance``, ``acceptance_off``, masks:
  shape ``(n_reco,)`` along :attr:`energy_axis`.
- ``exposure``: shape ``(n_true,)`` along :attr:`energy_axis_true`, Quantity in ``m2 s``
  (effective area times livetime).
- ``edisp``: shape ``(n_true, n_reco)``: probability that a photon of true-energy bin ``i``
  is reconstructed in bin ``j``; None means a diagonal response (the axes must then agree).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

import astropy.units as u
import numpy as np

from gammaprob.maps.axes import MapAxis

from ._checks import (
    as_background,
    as_counts,
    as_mask,
    as_nonnegative,
    as_quantity,
    check_axis,
    frozen,
)
from ._plots import DatasetPlots

__all__ = ["SpectrumDataset", "SpectrumDatasetOnOff"]

EXPOSURE_UNIT = u.Unit("m2 s")
_EDISP_ROW_SUM_TOL = 1e-3


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class SpectrumDataset(DatasetPlots):
    """Counts spectrum with exposure, energy dispersion and a predicted background.

    Parameters
    ----------
    name : str
        Unique dataset name (used for likelihood term names, e.g. ``"23523::counts"``).
    counts : array_like
        Observed counts per reconstructed-energy bin (non-negative integers).
    exposure : `~astropy.units.Quantity`
        Exposure (area x time) per true-energy bin, stored in ``m2 s``.
    energy_axis : MapAxis
        Reconstructed-energy axis, named ``energy``.
    energy_axis_true : MapAxis
        True-energy axis, named ``energy_true``.
    edisp : array_like, optional
        Energy-dispersion matrix ``(n_true, n_reco)``, rows summing to at most 1; None for a
        diagonal response (requires aligned axes).
    background : array_like, optional
        Predicted background counts per reconstructed-energy bin.
    mask_safe : array_like of bool, optional
        Bins with a trusted response (default: all).
    mask_fit : array_like of bool, optional
        Bins the user selects for fitting (default: all).
    livetime : `~astropy.units.Quantity`, optional
        Observation livetime.
    gti : GTI, optional
        Good time intervals.
    meta : dict, optional
        Free-form metadata (OBS_ID, telescope, source file, ...).
    """

    kind: ClassVar[str] = "SpectrumDataset"

    name: str
    counts: np.ndarray
    exposure: u.Quantity
    energy_axis: MapAxis
    energy_axis_true: MapAxis
    edisp: np.ndarray | None = None
    background: np.ndarray | None = None
    mask_safe: np.ndarray | None = None
    mask_fit: np.ndarray | None = None
    livetime: u.Quantity | None = None
    gti: Any = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty str, got {self.name!r}")
        what = f"{self.kind} {self.name!r}"
        check_axis(self.energy_axis, "energy", f"{what}: energy_axis")
        check_axis(self.energy_axis_true, "energy_true", f"{what}: energy_axis_true")
        n_reco, n_true = self.energy_axis.nbin, self.energy_axis_true.nbin
        set_ = object.__setattr__
        set_(self, "counts", as_counts(self.counts, (n_reco,), f"{what}: counts"))
        set_(
            self,
            "exposure",
            as_quantity(self.exposure, EXPOSURE_UNIT, (n_true,), f"{what}: exposure"),
        )
        if self.edisp is None:
            if not self.energy_axis.is_aligned(self.energy_axis_true):
                raise ValueError(
                    f"{what}: edisp=None (diagonal response) needs identical true and reco energy "
                    f"axes, got {self.energy_axis!r} and {self.energy_axis_true!r}"
                )
        else:
            edisp = as_nonnegative(self.edisp, (n_true, n_reco), f"{what}: edisp [E_true, E_reco]")
            row_sum = edisp.sum(axis=1)
            if np.any(row_sum > 1 + _EDISP_ROW_SUM_TOL):
                row = int(np.argmax(row_sum))
                raise ValueError(
                    f"{what}: edisp rows must sum to at most 1 (probabilities); true-energy bin "
                    f"{row} sums to {row_sum[row]:.6g}"
                )
            set_(self, "edisp", edisp)
        if self.background is not None:
            set_(
                self, "background", as_background(self.background, (n_reco,), f"{what}: background")
            )
        mask_safe = np.ones(n_reco, bool) if self.mask_safe is None else self.mask_safe
        set_(self, "mask_safe", as_mask(mask_safe, (n_reco,), f"{what}: mask_safe"))
        set_(self, "mask_fit", as_mask(self.mask_fit, (n_reco,), f"{what}: mask_fit"))
        if self.livetime is not None:
            livetime = u.Quantity(self.livetime, u.s)
            if livetime.ndim != 0 or not np.isfinite(livetime.value) or livetime.value < 0:
                raise ValueError(
                    f"{what}: livetime must be a finite non-negative scalar time, got {self.livetime!r}"
                )
            set_(self, "livetime", livetime)
        set_(self, "meta", dict(self.meta))
        self._post_init_extra(what)

    def _post_init_extra(self, what: str) -> None:
        """Validate the fields a subclass adds."""

    # ---- derived arrays ---------------------------------------------------------------------
    @property
    def mask(self) -> np.ndarray:
        """Bins used in a fit: ``mask_safe & mask_fit`` (read-only bool array)."""
        if self.mask_fit is None:
            return self.mask_safe
        return frozen(self.mask_safe & self.mask_fit)

    @property
    def edisp_matrix(self) -> np.ndarray:
        """The energy-dispersion matrix ``(n_true, n_reco)``; the identity when ``edisp`` is None."""
        if self.edisp is None:
            return frozen(np.eye(self.energy_axis.nbin))
        return self.edisp

    @property
    def aeff(self) -> u.Quantity:
        """Effective area ``exposure / livetime`` per true-energy bin (m2)."""
        if self.livetime is None or self.livetime.value == 0:
            raise ValueError(f"{self.kind} {self.name!r}: no livetime, so no effective area")
        return (self.exposure / self.livetime).to(u.m**2)

    @property
    def energy_range_safe(self) -> u.Quantity:
        """Lowest and highest reconstructed-energy edge of the safe bins."""
        idx = np.flatnonzero(self.mask_safe)
        if idx.size == 0:
            raise ValueError(f"{self.kind} {self.name!r}: no safe bins")
        edges = self.energy_axis.edges
        return u.Quantity([edges[idx[0]], edges[idx[-1] + 1]])

    def check_fittable(self) -> None:
        """Raise a ValueError if no bin is left to fit (all masked by ``mask_safe & mask_fit``)."""
        if not np.any(self.mask):
            n_safe = int(self.mask_safe.sum())
            n_fit = "all" if self.mask_fit is None else int(self.mask_fit.sum())
            raise ValueError(
                f"{self.kind} {self.name!r}: all {self.energy_axis.nbin} bins are masked "
                f"(mask_safe keeps {n_safe}, mask_fit keeps {n_fit}); nothing to fit"
            )

    # ---- copies -----------------------------------------------------------------------------
    def replace(self, **changes: Any):
        """Return a copy with some fields replaced (validated again).

        Parameters
        ----------
        **changes
            Field values, e.g. ``name="b"`` or ``mask_fit=mask``.

        Returns
        -------
        SpectrumDataset
            New dataset of the same class.
        """
        return dataclasses.replace(self, **changes)

    def _slice_fields(self, slc: slice) -> dict[str, Any]:
        def cut(array):
            return None if array is None else array[slc]

        return {
            "counts": self.counts[slc],
            "energy_axis": self.energy_axis.slice(slc),
            "edisp": self.edisp_matrix[:, slc],
            "background": cut(self.background),
            "mask_safe": self.mask_safe[slc],
            "mask_fit": cut(self.mask_fit),
        }

    def slice_by_idx(self, start: int, stop: int, name: str | None = None):
        """Keep reconstructed-energy bins ``start:stop`` (the true-energy axis is kept).

        Parameters
        ----------
        start, stop : int
            Bin range (Python slice semantics, step 1).
        name : str, optional
            Name of the new dataset (default: this name).

        Returns
        -------
        SpectrumDataset
            Sliced dataset of the same class.
        """
        slc = slice(start, stop)
        if not 0 <= start < stop <= self.energy_axis.nbin:
            raise ValueError(
                f"{self.kind} {self.name!r}: bin range {start}:{stop} outside 0:{self.energy_axis.nbin}"
            )
        return self.replace(name=name or self.name, **self._slice_fields(slc))

    def slice_by_energy(
        self,
        energy_min: u.Quantity | None = None,
        energy_max: u.Quantity | None = None,
        name: str | None = None,
    ):
        """Keep the reconstructed-energy bins that lie inside ``[energy_min, energy_max]``.

        Bin edges within 1e-6 (relative) of a bound count as inside.

        Parameters
        ----------
        energy_min, energy_max : `~astropy.units.Quantity`, optional
            Energy range (default: the axis bounds).
        name : str, optional
            Name of the new dataset.

        Returns
        -------
        SpectrumDataset
            Sliced dataset of the same class.
        """
        start, stop = energy_slice(
            self.energy_axis, energy_min, energy_max, f"{self.kind} {self.name!r}"
        )
        return self.slice_by_idx(start, stop, name=name)

    # ---- I/O --------------------------------------------------------------------------------
    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write as OGIP files (PHA, ARF, RMF and, for on/off data, BKG); see :mod:`.spectrum_io`."""
        from .spectrum_io import write_ogip

        write_ogip(self, path, overwrite=overwrite)

    def _repr_lines(self) -> list[str]:
        axis, axis_true = self.energy_axis, self.energy_axis_true
        lines = [
            f"  counts        : {self.counts.sum():.0f} in {axis.nbin} bins "
            f"[{axis.edges[0].to(u.TeV):.4g}, {axis.edges[-1].to(u.TeV):.4g}]",
            f"  energy_true   : {axis_true.nbin} bins [{axis_true.edges[0].to(u.TeV):.4g}, {axis_true.edges[-1].to(u.TeV):.4g}]",
            f"  exposure      : max {self.exposure.max():.4g}",
            f"  edisp         : {'diagonal' if self.edisp is None else self.edisp.shape}",
            f"  livetime      : {self.livetime if self.livetime is None else f'{self.livetime:.6g}'}",
            f"  mask_safe     : {int(self.mask_safe.sum())}/{axis.nbin} bins"
            + (
                f", mask_fit {int(self.mask_fit.sum())}/{axis.nbin}"
                if self.mask_fit is not None
                else ""
            ),
        ]
        if self.background is not None:
            lines.append(f"  background    : {self.background.sum():.6g} counts")
        return lines

    def __repr__(self) -> str:
        return "\n".join([f"{self.kind}(name={self.name!r})", *self._repr_lines()])


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class SpectrumDatasetOnOff(SpectrumDataset):
    """ON/OFF counts spectrum: the background is measured in an OFF region.

    Parameters
    ----------
    counts_off : array_like
        OFF counts per reconstructed-energy bin (non-negative integers).
    acceptance, acceptance_off : array_like
        ON and OFF acceptance (exposure-like weights, e.g. OGIP ``BACKSCAL``) per bin; only
        their ratio ``alpha = acceptance / acceptance_off`` matters.
    **kwargs
        All parameters of :class:`SpectrumDataset` except ``background``.
    """

    kind: ClassVar[str] = "SpectrumDatasetOnOff"

    counts_off: np.ndarray
    acceptance: np.ndarray | None = None
    acceptance_off: np.ndarray | None = None

    def _post_init_extra(self, what: str) -> None:
        if self.background is not None:
            raise ValueError(f"{what}: an on/off dataset takes counts_off, not a background")
        n = self.energy_axis.nbin
        set_ = object.__setattr__
        set_(self, "counts_off", as_counts(self.counts_off, (n,), f"{what}: counts_off"))
        acceptance = np.ones(n) if self.acceptance is None else self.acceptance
        acceptance_off = np.ones(n) if self.acceptance_off is None else self.acceptance_off
        for key, value in (("acceptance", acceptance), ("acceptance_off", acceptance_off)):
            array = as_nonnegative(value, (n,), f"{what}: {key}")
            if np.any(array == 0):
                raise ValueError(
                    f"{what}: {key} must be positive in every bin (alpha would be undefined)"
                )
            set_(self, key, array)

    @classmethod
    def read(cls, path: str | os.PathLike, name: str | None = None) -> SpectrumDatasetOnOff:
        """Read an OGIP PHA file with its ARF, RMF and BKG; see :func:`.spectrum_io.read_ogip`."""
        from .spectrum_io import read_ogip

        return read_ogip(path, name=name)

    @property
    def alpha(self) -> np.ndarray:
        """ON/OFF exposure ratio ``acceptance / acceptance_off`` per bin."""
        return frozen(self.acceptance / self.acceptance_off)

    @property
    def background_estimate(self) -> np.ndarray:
        """Background counts in the ON region estimated as ``alpha * counts_off``."""
        return frozen(self.alpha * self.counts_off)

    def _slice_fields(self, slc: slice) -> dict[str, Any]:
        fields = super()._slice_fields(slc)
        fields.update(
            counts_off=self.counts_off[slc],
            acceptance=self.acceptance[slc],
            acceptance_off=self.acceptance_off[slc],
        )
        return fields

    def _repr_lines(self) -> list[str]:
        alpha = self.alpha[self.mask_safe] if np.any(self.mask_safe) else self.alpha
        return [
            *super()._repr_lines(),
            f"  counts_off    : {self.counts_off.sum():.0f}",
            f"  alpha         : {alpha.min():.4g} .. {alpha.max():.4g}",
        ]


def energy_slice(axis: MapAxis, energy_min, energy_max, what: str) -> tuple[int, int]:
    """Return ``(start, stop)`` of the bins of ``axis`` inside ``[energy_min, energy_max]``."""
    edges = axis.edges
    lo = edges[0] if energy_min is None else u.Quantity(energy_min).to(edges.unit)
    hi = edges[-1] if energy_max is None else u.Quantity(energy_max).to(edges.unit)
    inside = (axis.edges_min >= lo * (1 - 1e-6)) & (axis.edges_max <= hi * (1 + 1e-6))
    idx = np.flatnonzero(inside)
    if idx.size == 0:
        raise ValueError(
            f"{what}: no {axis.name} bin lies inside [{lo:.4g}, {hi:.4g}]; axis is {axis!r}"
        )
    return int(idx[0]), int(idx[-1]) + 1
