"""Safe data range: reconstructed-energy (and offset) bins where the response is trusted."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle
from scipy.optimize import brentq

from gammaprob.datasets import MapDataset, SpectrumDataset, SpectrumDatasetOnOff

from .spectrum import pointing_of

__all__ = ["SafeMaskMaker", "first_crossing"]

_METHODS = ("aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak")
_TINY = np.finfo(np.float64).tiny


def first_crossing(
    x: np.ndarray, y: np.ndarray, target: float, x_min: float, x_max: float, log_values: bool
) -> float:
    """First ``x`` in ``[x_min, x_max]`` where the interpolated ``y(x)`` equals ``target``.

    ``y`` is interpolated linearly in ``log x`` (and in ``log y`` if ``log_values``, zero and
    negative values clipped to the smallest float64). The range is scanned on 101 log-spaced
    points; the first sign change of ``y - target`` is refined with Brent's method. This is
    the root search gammapy uses for its safe thresholds.

    Parameters
    ----------
    x, y : numpy.ndarray
        Positive increasing nodes and values.
    target : float
        Value to reach.
    x_min, x_max : float
        Search range.
    log_values : bool
        Interpolate ``log y`` instead of ``y``.

    Returns
    -------
    float
        The crossing, or NaN if there is none in the range.
    """
    lx = np.log(x)
    fy = np.log(np.maximum(y, _TINY)) if log_values else np.asarray(y, float)

    def f(value: float) -> float:
        v = np.interp(np.log(value), lx, fy)
        return (np.exp(v) if log_values else v) - target

    grid = np.exp(np.linspace(np.log(x_min), np.log(x_max), 101))
    signs = np.sign([f(g) for g in grid])
    change = np.flatnonzero(signs[:-1] != signs[1:])
    if change.size == 0:
        return np.nan
    i = change[0]
    a, b = grid[i], grid[i + 1]
    fa, fb = f(a), f(b)
    if fa == 0:
        return a
    if not fa * fb < 0:
        return np.nan if fb != 0 else b
    return brentq(f, a, b)


class SafeMaskMaker:
    """Set ``mask_safe`` of a dataset from IRF-based criteria.

    Methods (combined with a logical AND):

    - ``aeff-default``: the ``LO_THRES``/``HI_THRES`` energies of the effective-area header;
    - ``aeff-max``: bins above the energy where the effective area (exposure / livetime)
      reaches ``aeff_percent`` % of its maximum;
    - ``edisp-bias``: bins above the reconstructed energy where the energy bias
      (mean reconstructed / true energy - 1) falls to ``bias_percent`` %;
    - ``offset-max``: pixels closer than ``offset_max`` to the pointing;
    - ``bkg-peak``: bins above the energy of the peak of the predicted background.

    A bin is kept only if it lies fully inside the range. Bins with a non-finite (or, for
    datasets with a background model, non-positive) background are always masked.

    Parameters
    ----------
    methods : sequence of str
        Criteria to apply.
    aeff_percent : float
        Percentage of the maximum effective area (``aeff-max``).
    bias_percent : float
        Energy bias in percent (``edisp-bias``).
    position : `~astropy.coordinates.SkyCoord`, optional
        Where map-dataset IRFs are read (default: the map centre).
    offset_max : `~astropy.units.Quantity`
        Maximum offset (``offset-max``).
    """

    tag = "SafeMaskMaker"

    def __init__(
        self,
        methods=("aeff-default",),
        aeff_percent: float = 10,
        bias_percent: float = 10,
        position=None,
        offset_max="3 deg",
    ) -> None:
        methods = tuple(methods)
        unknown = set(methods) - set(_METHODS)
        if unknown:
            raise ValueError(
                f"unknown safe-mask methods {sorted(unknown)}; choose from {list(_METHODS)}"
            )
        self.methods = methods
        self.aeff_percent = float(aeff_percent)
        self.bias_percent = float(bias_percent)
        self.position = position
        self.offset_max = Angle(offset_max)

    def __repr__(self) -> str:
        return (
            f"{self.tag}(methods={list(self.methods)}, aeff_percent={self.aeff_percent}, "
            f"bias_percent={self.bias_percent}, offset_max={self.offset_max})"
        )

    # ---- energy thresholds ---------------------------------------------------------------
    @staticmethod
    def _energy_mask(axis, energy_min=None, energy_max=None) -> np.ndarray:
        edges = axis.edges.to_value(u.TeV)
        lo = -np.inf if energy_min is None else float(u.Quantity(energy_min, u.TeV).value)
        hi = np.inf if energy_max is None else float(u.Quantity(energy_max, u.TeV).value)
        return (edges[:-1] >= lo) & (edges[1:] <= hi)

    def _spectra(self, dataset):
        """Exposure (m2 s), edisp matrix and background spectrum at the reference position."""
        if isinstance(dataset, SpectrumDataset):
            exposure = dataset.exposure.to_value("m2 s")
            edisp = dataset.edisp_matrix
            if isinstance(dataset, SpectrumDatasetOnOff):
                background = dataset.alpha * dataset.counts_off
            else:
                background = dataset.background
            livetime = dataset.livetime
            return exposure, edisp, background, livetime
        position = self.position or dataset.geom.center_skydir
        exposure = None
        if dataset.exposure is not None:
            idx = dataset.exposure.geom.to_image().coord_to_idx({"skycoord": position})
            values = dataset.exposure.quantity.to_value("m2 s")[(..., *idx[::-1])]
            exposure = np.ravel(values)
        edisp = dataset.edisp_matrix(position) if dataset.edisp is not None else None
        background = None
        if dataset.background is not None:
            spatial = tuple(range(1, dataset.background.data.ndim))
            background = dataset.background.data.sum(axis=spatial)
        return exposure, edisp, background, dataset.livetime

    def mask_aeff_default(self, dataset, observation) -> np.ndarray:
        """Energy mask from the ``LO_THRES``/``HI_THRES`` header keywords (TeV)."""
        if observation is None or observation.aeff is None:
            raise ValueError("method 'aeff-default' needs an observation with an effective area")
        meta = observation.aeff.meta
        lo, hi = meta.get("LO_THRES"), meta.get("HI_THRES")
        return self._energy_mask(
            dataset.energy_axis,
            None if lo is None else float(lo) * u.TeV,
            None if hi is None else float(hi) * u.TeV,
        )

    def mask_aeff_max(self, dataset) -> np.ndarray:
        """Energy mask above ``aeff_percent`` % of the maximum effective area."""
        exposure, _, _, livetime = self._spectra(dataset)
        axis = dataset.energy_axis
        if exposure is None:
            raise ValueError(
                f"method 'aeff-max' needs an exposure; dataset {dataset.name!r} has none"
            )
        if not np.any(exposure > 0):
            return np.zeros(axis.nbin, bool)
        aeff = exposure / (livetime.to_value(u.s) if livetime is not None else 1.0)
        energy = dataset.energy_axis_true.center.to_value(u.TeV)
        energy_min = energy[np.flatnonzero(aeff > 0)[0]]
        threshold = self.aeff_percent / 100 * aeff.max()
        root = first_crossing(energy, aeff, threshold, energy_min, energy[-1], log_values=True)
        if not np.isnan(root):
            energy_min = root
        return self._energy_mask(axis, energy_min * u.TeV)

    def mask_edisp_bias(self, dataset) -> np.ndarray:
        """Energy mask above the reconstructed energy where the bias is ``bias_percent`` %."""
        _, edisp, _, _ = self._spectra(dataset)
        if edisp is None:
            raise ValueError(
                f"method 'edisp-bias' needs an energy dispersion; dataset {dataset.name!r} has none"
            )
        e_true = dataset.energy_axis_true.center.to_value(u.TeV)
        e_reco = dataset.energy_axis.center.to_value(u.TeV)
        norm = edisp.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nan_to_num((edisp * e_reco).sum(axis=1) / norm)
        bias = (mean - e_true) / e_true
        energy_min = e_true[np.nanargmax(bias)]
        target = self.bias_percent / 100
        root = first_crossing(e_true, bias, target, energy_min, e_true[-1], log_values=True)
        if np.isnan(root):
            root = energy_min
        return self._energy_mask(dataset.energy_axis, root * (1 + target) * u.TeV)

    def mask_bkg_peak(self, dataset) -> np.ndarray:
        """Energy mask above the lower edge of the bin with the largest predicted background."""
        _, _, background, _ = self._spectra(dataset)
        if background is None:
            raise ValueError("method 'bkg-peak' needs a dataset with a background or OFF counts")
        idx = int(np.argmax(background))
        return self._energy_mask(dataset.energy_axis, dataset.energy_axis.edges[idx])

    def mask_offset_max(self, dataset, observation) -> np.ndarray:
        """Spatial mask of the pixels (or ON region) within ``offset_max`` of the pointing."""
        if observation is None:
            raise ValueError("method 'offset-max' needs the observation")
        pointing = pointing_of(observation)
        if isinstance(dataset, SpectrumDataset):
            center = dataset.meta["region"].center
            return np.full(
                dataset.energy_axis.nbin, bool(center.separation(pointing) < self.offset_max)
            )
        sep = dataset.geom.to_image().separation(pointing)
        return np.asarray(sep < self.offset_max)

    # ---- run ---------------------------------------------------------------------------------
    def make_mask(self, dataset, observation=None) -> np.ndarray:
        """Compute the safe mask (not yet combined with the dataset's own), shaped like the counts."""
        is_spectrum = isinstance(dataset, SpectrumDataset)
        shape = dataset.counts.shape if is_spectrum else dataset.counts.data.shape
        mask = np.ones(shape, bool)

        def energy_mask(m):
            return m if is_spectrum else m.reshape((-1,) + (1,) * (len(shape) - 1))

        _, _, background, _ = self._spectra(dataset)
        if isinstance(dataset, SpectrumDatasetOnOff):
            mask &= np.isfinite(background)
        elif is_spectrum and background is not None:
            mask &= np.isfinite(background) & (background > 0)
        elif not is_spectrum and dataset.background is not None:
            bkg = dataset.background.data
            mask &= np.isfinite(bkg) & (bkg > 0)
        if "offset-max" in self.methods:
            mask &= self.mask_offset_max(dataset, observation)
        if "aeff-default" in self.methods:
            mask &= energy_mask(self.mask_aeff_default(dataset, observation))
        if "aeff-max" in self.methods:
            mask &= energy_mask(self.mask_aeff_max(dataset))
        if "edisp-bias" in self.methods:
            mask &= energy_mask(self.mask_edisp_bias(dataset))
        if "bkg-peak" in self.methods:
            mask &= energy_mask(self.mask_bkg_peak(dataset))
        return mask

    def run(self, dataset, observation=None):
        """Return a copy of ``dataset`` with ``mask_safe`` ANDed with the criteria.

        Parameters
        ----------
        dataset : SpectrumDataset, SpectrumDatasetOnOff or MapDataset
            Dataset.
        observation : gammaprob.data.Observation, optional
            Needed for ``aeff-default`` and ``offset-max``.

        Returns
        -------
        Dataset of the same class.
        """
        if not isinstance(dataset, SpectrumDataset | MapDataset):
            raise TypeError(f"expected a spectrum or map dataset, got {type(dataset).__name__}")
        mask = self.make_mask(dataset, observation)
        current = (
            dataset.mask_safe if isinstance(dataset, SpectrumDataset) else dataset.mask_safe.data
        )
        return dataset.replace(mask_safe=np.asarray(current, bool) & mask)
