"""The power-law reference spectrum that converts excess counts into fluxes.

Quick-look estimators (excess maps, sensitivity) assume a spectral shape to turn counts into
a flux: the expected counts of the reference spectrum (``npred_ref``) are computed by folding
its flux per true-energy bin with the exposure and the energy dispersion, and the measured
excess is expressed as ``norm = excess / npred_ref``; the flux of any kind is then ``norm``
times that of the reference. Only the shape (the index) matters for the flux; the amplitude
only sets the scale of ``norm``.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np

__all__ = ["PowerLawReference"]

_DNDE_UNIT = u.Unit("cm-2 s-1 TeV-1")


@dataclass(frozen=True)
class PowerLawReference:
    """Power law ``dN/dE = amplitude (E / reference)^-index``.

    Parameters
    ----------
    index : float
        Spectral index (2 by default, as gammapy's default reference model).
    amplitude : `~astropy.units.Quantity`
        Differential flux at ``reference`` (cm-2 s-1 TeV-1), default 1e-12.
    reference : `~astropy.units.Quantity`
        Reference energy, default 1 TeV.
    """

    index: float = 2.0
    amplitude: u.Quantity = 1e-12 * _DNDE_UNIT
    reference: u.Quantity = 1 * u.TeV

    def __post_init__(self) -> None:
        index = float(self.index)
        if not np.isfinite(index):
            raise ValueError(f"index must be finite, got {self.index!r}")
        amplitude = u.Quantity(self.amplitude)
        if not amplitude.unit.is_equivalent(_DNDE_UNIT):
            raise ValueError(
                f"amplitude must be a differential flux (cm-2 s-1 TeV-1), got {amplitude}"
            )
        if not np.isfinite(amplitude.value) or amplitude.value <= 0:
            raise ValueError(f"amplitude must be positive, got {amplitude}")
        reference = u.Quantity(self.reference)
        if not reference.unit.is_equivalent(u.TeV) or reference.value <= 0:
            raise ValueError(f"reference must be a positive energy, got {reference}")
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "amplitude", amplitude.to(_DNDE_UNIT))
        object.__setattr__(self, "reference", reference.to(u.TeV))

    def dnde(self, energy: u.Quantity) -> u.Quantity:
        """Differential flux at ``energy`` (cm-2 s-1 TeV-1)."""
        e = u.Quantity(energy, u.TeV).value / self.reference.value
        return self.amplitude * e ** (-self.index)

    def integral(self, energy_min: u.Quantity, energy_max: u.Quantity) -> u.Quantity:
        """Integral flux between ``energy_min`` and ``energy_max`` (cm-2 s-1), analytic.

        Parameters
        ----------
        energy_min, energy_max : `~astropy.units.Quantity`
            Bin edges (broadcast).

        Returns
        -------
        `~astropy.units.Quantity`
            Photon flux per bin.
        """
        e0 = self.reference.value
        lo = u.Quantity(energy_min, u.TeV).value / e0
        hi = u.Quantity(energy_max, u.TeV).value / e0
        g1 = 1.0 - self.index
        value = np.log(hi / lo) if abs(g1) < 1e-10 else (hi**g1 - lo**g1) / g1
        return (self.amplitude.value * e0 * value) * u.Unit("cm-2 s-1")

    def npred(
        self, exposure: np.ndarray, energy_edges_true: u.Quantity, edisp: np.ndarray
    ) -> np.ndarray:
        """Return the expected counts of the reference spectrum per reconstructed-energy bin.

        Parameters
        ----------
        exposure : numpy.ndarray
            Exposure in cm2 s, true energy on axis 0 (any trailing spatial shape).
        energy_edges_true : `~astropy.units.Quantity`
            True-energy edges (``n_true + 1``).
        edisp : numpy.ndarray
            Energy-dispersion matrix ``(n_true, n_reco)``.

        Returns
        -------
        numpy.ndarray
            Counts, reconstructed energy on axis 0, same trailing shape as ``exposure``.
        """
        edges = u.Quantity(energy_edges_true, u.TeV)
        flux = self.integral(edges[:-1], edges[1:]).to_value("cm-2 s-1")
        exposure = np.asarray(exposure, dtype=np.float64)
        if exposure.shape[0] != flux.size or edisp.shape[0] != flux.size:
            raise ValueError(
                f"exposure ({exposure.shape[0]}) and edisp ({edisp.shape[0]}) must have one row per "
                f"true-energy bin ({flux.size})"
            )
        weighted = exposure * flux.reshape((-1,) + (1,) * (exposure.ndim - 1))
        return np.tensordot(edisp, weighted, axes=([0], [0]))

    def __repr__(self) -> str:
        return (
            f"PowerLawReference(index={self.index:g}, amplitude={self.amplitude:.4g}, "
            f"reference={self.reference:g})"
        )
