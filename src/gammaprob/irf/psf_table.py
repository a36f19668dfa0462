"""Tabulated radial PSF ``dP/dΩ(E_true, offset, rad)`` (GADF ``PSF_TABLE``)."""

from __future__ import annotations

from typing import ClassVar

import astropy.units as u
import numpy as np

from gammaprob.maps.axes import MapAxes, MapAxis

from .core import IRF
from .interpolation import cumulative_integral, interp_grid

__all__ = ["PSF3D", "containment_radius_from_table"]

DEG2_TO_SR = (np.pi / 180.0) ** 2


def containment_radius_from_table(
    radius_nodes: np.ndarray, containment: np.ndarray, fraction: np.ndarray
) -> np.ndarray:
    """Invert piecewise-linear containment curves.

    Parameters
    ----------
    radius_nodes : numpy.ndarray
        Increasing radii (deg), shape ``(n,)``.
    containment : numpy.ndarray
        Non-decreasing containment at those radii, shape ``(..., n)``.
    fraction : numpy.ndarray
        Wanted fraction, broadcastable to ``containment.shape[:-1]``.

    Returns
    -------
    numpy.ndarray
        Radius (deg) where the curve first reaches ``fraction``; NaN where it never does.
    """
    fraction = np.broadcast_to(np.asarray(fraction, dtype=float), containment.shape[:-1])
    curve = np.maximum.accumulate(containment, axis=-1)
    k = np.sum(curve < fraction[..., None], axis=-1)  # first node with curve >= fraction
    reached = k < radius_nodes.size
    k = np.clip(k, 1, radius_nodes.size - 1)
    c0 = np.take_along_axis(curve, (k - 1)[..., None], axis=-1)[..., 0]
    c1 = np.take_along_axis(curve, k[..., None], axis=-1)[..., 0]
    r0, r1 = radius_nodes[k - 1], radius_nodes[k]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(c1 > c0, (fraction - c0) / (c1 - c0), 0.0)
    radius = r0 + np.clip(t, 0.0, 1.0) * (r1 - r0)
    radius = np.where(fraction <= curve[..., 0], radius_nodes[0], radius)
    return np.where(reached, radius, np.nan)


class PSF3D(IRF):
    """Radial PSF density per solid angle, tabulated in true energy, offset and rad (sr⁻¹).

    Interpolation of the density: log in true energy, linear in offset and rad, linear values;
    zero outside the table edges. The containment ``∫ 2π r PSF dr`` is the cumulative sum of
    ``PSF × 2π r_centre Δr`` at the rad edges, linear in between (flat-sky approximation, as
    GADF intends).

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes or list of MapAxis
        ``energy_true``, ``offset`` and ``rad`` axes, in this order.
    data : array-like or astropy.units.Quantity
        Density with shape ``(n_energy_true, n_offset, n_rad)``.
    meta, is_pointlike, fov_alignment
        See :class:`~gammaprob.irf.core.IRF`.
    """

    tag: ClassVar[str] = "psf_table"
    required_axes: ClassVar[tuple[str, ...]] = ("energy_true", "offset", "rad")
    default_unit: ClassVar[u.UnitBase] = u.sr**-1
    hduclas2: ClassVar[str] = "RPSF"
    hduclas4: ClassVar[str] = "PSF_TABLE"
    extname: ClassVar[str] = "PSF_2D_TABLE"
    column: ClassVar[tuple[str, ...]] = ("RPSF",)

    def _cumulative(self) -> np.ndarray:
        rad_edges = self.axes["rad"].edges.to_value(u.deg)
        return cumulative_integral(self.data, rad_edges, axis=2, radial=True) * DEG2_TO_SR

    def normalization(self) -> np.ndarray:
        """Total containment over the rad range at each (energy, offset) node.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_energy_true, n_offset)``; 1 for a normalised table.
        """
        return self._cumulative()[..., -1]

    def _containment_array(self, rad, energy_true, offset) -> np.ndarray:
        axes = self.axes
        rad_edges = axes["rad"].edges.to_value(u.deg)
        nodes = [
            axes["energy_true"].center.to_value(u.TeV),
            axes["offset"].center.to_value(u.deg),
            rad_edges,
        ]
        rad = np.clip(rad, rad_edges[0], rad_edges[-1])
        coords = [energy_true, offset, rad]
        values = interp_grid(nodes, self._cumulative(), coords, ["log", "lin", "lin"])
        outside = self._outside([energy_true, offset, np.full_like(np.asarray(rad), rad_edges[0])])
        return np.where(outside, 0.0, values)

    def containment(
        self, rad: u.Quantity, energy_true: u.Quantity, offset: u.Quantity
    ) -> u.Quantity:
        """Fraction of events within ``rad`` of the source.

        Parameters
        ----------
        rad : astropy.units.Quantity
            Radius (angle); clipped to the table's rad range (constant beyond it).
        energy_true : astropy.units.Quantity
            True energy.
        offset : astropy.units.Quantity
            Field-of-view offset.

        Returns
        -------
        astropy.units.Quantity
            Dimensionless containment, broadcast over the inputs (0 outside the energy/offset
            edges).
        """
        return u.Quantity(
            self._containment_array(
                u.Quantity(rad).to_value(u.deg),
                u.Quantity(energy_true).to_value(u.TeV),
                u.Quantity(offset).to_value(u.deg),
            )
        )

    def containment_radius(
        self, fraction: float | np.ndarray, energy_true: u.Quantity, offset: u.Quantity
    ) -> u.Quantity:
        """Radius containing ``fraction`` of the events.

        Parameters
        ----------
        fraction : float or numpy.ndarray
            Containment fraction in (0, 1).
        energy_true : astropy.units.Quantity
            True energy.
        offset : astropy.units.Quantity
            Field-of-view offset.

        Returns
        -------
        astropy.units.Quantity
            Radius in deg, broadcast over the inputs; NaN where the tabulated PSF integrates to
            less than ``fraction`` within its rad range (see :meth:`normalization`).
        """
        energy = u.Quantity(energy_true).to_value(u.TeV)
        offset = u.Quantity(offset).to_value(u.deg)
        fraction = np.asarray(fraction, dtype=float)
        if np.any((fraction <= 0) | (fraction >= 1)):
            raise ValueError("fraction must be in (0, 1)")
        energy, offset, fraction = np.broadcast_arrays(energy, offset, fraction)
        rad_edges = self.axes["rad"].edges.to_value(u.deg)
        curves = self._containment_array(rad_edges, energy[..., None], offset[..., None])
        return u.Quantity(containment_radius_from_table(rad_edges, curves, fraction), u.deg)

    @classmethod
    def from_gauss(
        cls,
        energy_axis_true: MapAxis,
        offset_axis: MapAxis,
        rad_axis: MapAxis,
        sigma: u.Quantity,
    ) -> PSF3D:
        """Gaussian PSF ``exp(-r²/2σ²) / (2πσ²)`` with σ per true energy (or scalar).

        Parameters
        ----------
        energy_axis_true, offset_axis, rad_axis : gammaprob.maps.MapAxis
            The axes.
        sigma : astropy.units.Quantity
            Gaussian width (angle), scalar or one per true-energy bin.

        Returns
        -------
        PSF3D
            Density at the bin centres, the same at every offset.
        """
        sigma = np.broadcast_to(u.Quantity(sigma).to_value(u.deg), (energy_axis_true.nbin,))
        if np.any(sigma <= 0):
            raise ValueError("sigma must be > 0")
        rad = rad_axis.center.to_value(u.deg)
        s2 = sigma[:, None, None] ** 2
        pdf = np.exp(-0.5 * rad[None, None, :] ** 2 / s2) / (2 * np.pi * s2) / DEG2_TO_SR
        data = np.broadcast_to(pdf, (energy_axis_true.nbin, offset_axis.nbin, rad_axis.nbin))
        return cls(MapAxes([energy_axis_true, offset_axis, rad_axis]), data)
