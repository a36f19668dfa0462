"""Offset-dependent energy dispersion as a migration pdf (GADF ``EDISP_2D``)."""

from __future__ import annotations

from typing import ClassVar

import astropy.units as u
import numpy as np
import scipy.special

from gammaprob.maps.axes import MapAxes, MapAxis

from .core import IRF
from .edisp_kernel import EDispKernel
from .interpolation import cumulative_integral, inside_edges

__all__ = ["EnergyDispersion2D", "kernel_from_migration_pdf"]


def kernel_from_migration_pdf(
    pdf: np.ndarray,
    migra_edges: np.ndarray,
    energy_true: np.ndarray,
    energy_reco_edges: np.ndarray,
    threshold: float = 1e-8,
) -> np.ndarray:
    """Integrate migration pdfs into reconstructed-energy bins.

    Parameters
    ----------
    pdf : numpy.ndarray
        Migration density ``dP/dμ`` (μ = E_reco / E_true) per true energy, shape
        ``(n_true, n_migra)``, one value per migra bin.
    migra_edges : numpy.ndarray
        Migra bin edges (``n_migra + 1``).
    energy_true : numpy.ndarray
        True energies of the rows (same unit as ``energy_reco_edges``).
    energy_reco_edges : numpy.ndarray
        Reconstructed-energy bin edges.
    threshold : float
        Probabilities below this are set to 0 (removes interpolation noise).

    Returns
    -------
    numpy.ndarray
        ``P(E_reco bin j | E_true i)``, shape ``(n_true, n_reco)``. Each row is first normalised
        to unit integral over the migra range (rows without support stay zero); reco bins
        reaching outside the migra range only get the probability inside it.
    """
    cdf = cumulative_integral(pdf, migra_edges, axis=1, radial=False)
    total = cdf[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf = np.where(total > 0, cdf / total, 0.0)
    migra = energy_reco_edges[np.newaxis, :] / energy_true[:, np.newaxis]
    values = np.stack([np.interp(m, migra_edges, c) for m, c in zip(migra, cdf, strict=True)])
    kernel = np.clip(np.diff(values, axis=1), 0.0, np.inf)
    kernel[kernel < threshold] = 0.0
    return kernel


class EnergyDispersion2D(IRF):
    """Energy dispersion ``dP/dμ(E_true, μ, offset)`` with μ = E_reco / E_true (dimensionless).

    Interpolation: log in true energy, linear in migra and offset, linear in the pdf. A point
    is zero when it lies outside the offset edges, or outside both the true-energy and the
    migra edges (Gammapy's rule); otherwise it is extrapolated from the outermost cell.

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes or list of MapAxis
        ``energy_true``, ``migra`` and ``offset`` axes, in this order.
    data : array-like
        Migration pdf with shape ``(n_energy_true, n_migra, n_offset)``.
    meta, is_pointlike, fov_alignment
        See :class:`~gammaprob.irf.core.IRF`.
    """

    tag: ClassVar[str] = "edisp_2d"
    required_axes: ClassVar[tuple[str, ...]] = ("energy_true", "migra", "offset")
    default_unit: ClassVar[u.UnitBase] = u.one
    hduclas2: ClassVar[str] = "EDISP"
    hduclas4: ClassVar[str] = "EDISP_2D"
    extname: ClassVar[str] = "ENERGY DISPERSION"
    column: ClassVar[tuple[str, ...]] = ("MATRIX",)

    def _outside(self, coords):
        inside = [inside_edges(a.edges.value, c) for a, c in zip(self.axes, coords, strict=True)]
        e_in, m_in, o_in = np.broadcast_arrays(*inside)
        return ~(e_in | m_in) | ~o_in

    def normalization(self) -> np.ndarray:
        """Integral of the migration pdf over migra at each (true energy, offset) node.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_energy_true, n_offset)``; 1 for a normalised table (0 where empty).
        """
        width = np.diff(self.axes["migra"].edges.value)
        return np.einsum("imo,m->io", self.data, width)

    def to_edisp_kernel(
        self,
        offset: u.Quantity,
        energy_axis_true: MapAxis | None = None,
        energy_axis: MapAxis | None = None,
        threshold: float = 1e-8,
    ) -> EDispKernel:
        """Energy-dispersion matrix at one offset for given true and reconstructed bins.

        The migration pdf is evaluated at the true-energy bin centres and the table's migra
        bin centres, normalised per true energy, and its cumulative integral (linear between
        migra edges) is differenced at ``μ = E_reco_edge / E_true_centre``.

        Parameters
        ----------
        offset : astropy.units.Quantity
            Field-of-view offset (scalar angle).
        energy_axis_true : gammaprob.maps.MapAxis, optional
            True energy bins (default: the table's).
        energy_axis : gammaprob.maps.MapAxis, optional
            Reconstructed energy bins (default: the true-energy bins renamed ``energy``).
        threshold : float
            Probabilities below this are set to 0.

        Returns
        -------
        EDispKernel
            ``P(E_reco bin | E_true bin)``.
        """
        offset = u.Quantity(offset)
        if offset.ndim != 0:
            raise ValueError(f"offset must be a scalar angle, got shape {offset.shape}")
        if energy_axis_true is None:
            energy_axis_true = self.axes["energy_true"]
        if energy_axis is None:
            energy_axis = energy_axis_true.copy(name="energy")
        energy_true = energy_axis_true.center.to_value(u.TeV)
        migra_axis = self.axes["migra"]
        pdf = self.evaluate_array(
            energy_true[:, np.newaxis],
            migra_axis.center.value[np.newaxis, :],
            offset.to_value(u.deg),
        )
        kernel = kernel_from_migration_pdf(
            pdf, migra_axis.edges.value, energy_true, energy_axis.edges.to_value(u.TeV), threshold
        )
        return EDispKernel(energy_axis_true, energy_axis, kernel)

    @classmethod
    def from_gauss(
        cls,
        energy_axis_true: MapAxis,
        migra_axis: MapAxis,
        offset_axis: MapAxis,
        bias: float | np.ndarray = 0.0,
        sigma: float | np.ndarray = 0.1,
        pdf_threshold: float = 1e-6,
    ) -> EnergyDispersion2D:
        """Gaussian migration, the same at every offset.

        Each migra bin holds the exact bin average of a normal density with mean ``1 + bias``
        and standard deviation ``sigma`` (so the table integrates to the Gaussian's mass
        inside the migra range).

        Parameters
        ----------
        energy_axis_true, migra_axis, offset_axis : gammaprob.maps.MapAxis
            The axes.
        bias : float or numpy.ndarray
            Relative bias per true energy (scalar or ``n_energy_true``).
        sigma : float or numpy.ndarray
            Relative resolution per true energy (scalar or ``n_energy_true``), > 0.
        pdf_threshold : float
            Densities below this are set to 0.

        Returns
        -------
        EnergyDispersion2D
            The dispersion.
        """
        sigma = np.broadcast_to(np.asarray(sigma, dtype=float), (energy_axis_true.nbin,))
        bias = np.broadcast_to(np.asarray(bias, dtype=float), (energy_axis_true.nbin,))
        if np.any(sigma <= 0):
            raise ValueError("sigma must be > 0")
        edges = migra_axis.edges.value
        s = np.sqrt(2) * sigma[:, None]
        upper = scipy.special.erf((edges[None, 1:] - 1 - bias[:, None]) / s)
        lower = scipy.special.erf((edges[None, :-1] - 1 - bias[:, None]) / s)
        pdf = 0.5 * (upper - lower) / np.diff(edges)[None, :]
        pdf[pdf < pdf_threshold] = 0.0
        data = np.repeat(pdf[:, :, None], offset_axis.nbin, axis=2)
        return cls(MapAxes([energy_axis_true, migra_axis, offset_axis]), data)
