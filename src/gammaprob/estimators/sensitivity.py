"""Flux sensitivity of an on/off spectrum per energy bin (no sampling).

In each reconstructed-energy bin the smallest excess is found that is detected at
``n_sigma`` (Li & Ma, with the OFF counts as measured or expected), that holds at least
``gamma_min`` gamma rays, and that is at least ``bkg_syst_fraction`` of the background. The
excess is turned into a flux with a power-law reference spectrum folded with the exposure and
energy dispersion, and reported as ``E^2 dN/dE`` at the bin centre.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Column, Table

from gammaprob.datasets import SpectrumDataset, SpectrumDatasetOnOff

from .counts_intervals import wstat_excess_matching_significance
from .reference import PowerLawReference

__all__ = ["SensitivityEstimator", "apply_sensitivity_thresholds"]


def apply_sensitivity_thresholds(
    excess: np.ndarray, background: np.ndarray, gamma_min: float, bkg_syst_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Raise a significance-limited excess to the minimum-gamma and background-systematics floors.

    Parameters
    ----------
    excess : numpy.ndarray
        Excess counts reaching the required significance.
    background : numpy.ndarray
        Background counts in the ON region.
    gamma_min : float
        Minimum number of excess counts.
    bkg_syst_fraction : float
        Minimum excess as a fraction of the background.

    Returns
    -------
    excess : numpy.ndarray
        ``max(excess, gamma_min, bkg_syst_fraction * background)``.
    criterion : numpy.ndarray of str
        Which condition set the value: ``"significance"``, ``"gamma"`` or ``"bkg"``
        (the later floor wins a tie, as in gammapy).
    """
    excess = np.array(excess, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    criterion = np.full(excess.shape, "significance", dtype="U12")
    gamma_limited = excess < gamma_min
    excess[gamma_limited] = gamma_min
    criterion[gamma_limited] = "gamma"
    floor = bkg_syst_fraction * background
    bkg_limited = excess < floor
    excess[bkg_limited] = floor[bkg_limited]
    criterion[bkg_limited] = "bkg"
    return excess, criterion


class SensitivityEstimator:
    """Minimum detectable flux per reconstructed-energy bin for an on/off measurement.

    Parameters
    ----------
    gamma_min : float
        Minimum number of excess counts (default 10).
    n_sigma : float
        Required Li & Ma significance (default 5).
    bkg_syst_fraction : float
        Minimum excess as a fraction of the ON-region background (default 0.05).
    spectral_index : float
        Index of the power-law spectral shape assumed to convert counts to flux (default 2).
    reference : PowerLawReference, optional
        Full reference spectrum (overrides ``spectral_index``); only the shape matters.

    Examples
    --------
    >>> from gammaprob.estimators import SensitivityEstimator
    >>> table = SensitivityEstimator(n_sigma=5).run(dataset, alpha=0.2)  # doctest: +SKIP
    >>> table["e2dnde"]  # doctest: +SKIP
    """

    def __init__(
        self,
        gamma_min: float = 10,
        n_sigma: float = 5.0,
        bkg_syst_fraction: float = 0.05,
        spectral_index: float = 2.0,
        reference: PowerLawReference | None = None,
    ) -> None:
        for name, value, positive in (
            ("gamma_min", gamma_min, False),
            ("n_sigma", n_sigma, True),
            ("bkg_syst_fraction", bkg_syst_fraction, False),
        ):
            if not np.isfinite(value) or value < 0 or (positive and value == 0):
                kind = "positive" if positive else "non-negative"
                raise ValueError(f"{name} must be a finite {kind} number, got {value!r}")
        if reference is not None and not isinstance(reference, PowerLawReference):
            raise TypeError(
                f"reference must be a PowerLawReference, got {type(reference).__name__}"
            )
        self.gamma_min = float(gamma_min)
        self.n_sigma = float(n_sigma)
        self.bkg_syst_fraction = float(bkg_syst_fraction)
        self.reference = reference or PowerLawReference(
            index=spectral_index, amplitude=1 * u.Unit("cm-2 s-1 TeV-1")
        )

    def __repr__(self) -> str:
        return (
            f"SensitivityEstimator(gamma_min={self.gamma_min:g}, n_sigma={self.n_sigma:g}, "
            f"bkg_syst_fraction={self.bkg_syst_fraction:g}, reference={self.reference!r})"
        )

    @staticmethod
    def _off_and_alpha(dataset: SpectrumDataset, alpha) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(dataset, SpectrumDatasetOnOff):
            if alpha is not None:
                raise ValueError("alpha is taken from the on/off dataset; do not pass it as well")
            return np.asarray(dataset.counts_off, float), np.asarray(dataset.alpha, float)
        if not isinstance(dataset, SpectrumDataset):
            raise TypeError(
                f"dataset must be a SpectrumDatasetOnOff or SpectrumDataset, got {type(dataset).__name__}"
            )
        if dataset.background is None or alpha is None:
            raise ValueError(
                f"dataset {dataset.name!r} is not on/off: give a SpectrumDatasetOnOff (counts_off), "
                "or a SpectrumDataset with a background and the ON/OFF ratio alpha"
            )
        alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), dataset.background.shape)
        if np.any(~np.isfinite(alpha)) or np.any(alpha <= 0):
            raise ValueError(f"alpha must be finite and positive, got {alpha!r}")
        return np.asarray(dataset.background, float) / alpha, alpha

    def run(self, dataset: SpectrumDataset, alpha=None) -> Table:
        """Compute the sensitivity table.

        Parameters
        ----------
        dataset : SpectrumDatasetOnOff or SpectrumDataset
            On/off spectrum (measured OFF counts and alpha), or a spectrum with an expected
            background in the ON region, in which case ``alpha`` must be given and the
            expected OFF counts are ``background / alpha``.
        alpha : float or array_like, optional
            ON/OFF exposure ratio for a :class:`SpectrumDataset`.

        Returns
        -------
        `~astropy.table.Table`
            One row per reconstructed-energy bin: ``e_ref`` (log centre), ``e_min``, ``e_max``
            (TeV), ``e2dnde`` (erg cm-2 s-1), ``excess`` and ``background`` (counts),
            ``criterion`` (``significance``, ``gamma`` or ``bkg``). NaN where there are no
            OFF counts. ``meta`` records the settings.
        """
        n_off, alpha = self._off_and_alpha(dataset, alpha)
        background = alpha * n_off
        excess = wstat_excess_matching_significance(n_off, alpha, self.n_sigma)
        excess, criterion = apply_sensitivity_thresholds(
            excess, background, self.gamma_min, self.bkg_syst_fraction
        )
        no_off = n_off <= 0
        excess[no_off] = np.nan
        criterion[no_off] = ""

        npred_ref = self.reference.npred(
            dataset.exposure.to_value("cm2 s"), dataset.energy_axis_true.edges, dataset.edisp_matrix
        )
        axis = dataset.energy_axis
        e_ref = axis.center.to(u.TeV)
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = excess / npred_ref
        e2dnde = (norm * self.reference.dnde(e_ref) * e_ref**2).to(u.Unit("erg cm-2 s-1"))
        table = Table(
            [
                Column(e_ref, name="e_ref", description="Energy centre"),
                Column(axis.edges_min.to(u.TeV), name="e_min", description="Lower energy edge"),
                Column(axis.edges_max.to(u.TeV), name="e_max", description="Upper energy edge"),
                Column(e2dnde, name="e2dnde", description="E^2 dN/dE at e_ref"),
                Column(excess, name="excess", description="Minimum excess counts"),
                Column(background, name="background", description="ON-region background counts"),
                Column(criterion, name="criterion", description="Limiting criterion"),
            ]
        )
        table.meta.update(
            {
                "estimator": "SensitivityEstimator",
                "n_sigma": self.n_sigma,
                "gamma_min": self.gamma_min,
                "bkg_syst_fraction": self.bkg_syst_fraction,
                "reference": repr(self.reference),
                "dataset": dataset.name,
            }
        )
        return table
