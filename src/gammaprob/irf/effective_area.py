"""Effective area as a function of true energy and field-of-view offset (GADF ``AEFF_2D``)."""

from __future__ import annotations

from typing import ClassVar

import astropy.units as u
import numpy as np

from gammaprob.maps.axes import MapAxes, MapAxis

from .core import IRF

__all__ = ["EffectiveArea2D"]


class EffectiveArea2D(IRF):
    """Effective area ``A(E_true, offset)`` in m².

    Interpolation: log in true energy, linear in offset, linear in the area values (the
    choice Gammapy makes; linear values keep zero-area bins below threshold exactly zero).
    Outside the table edges the area is 0.

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes or list of MapAxis
        ``energy_true`` and ``offset`` axes, in this order.
    data : array-like or astropy.units.Quantity
        Area with shape ``(n_energy_true, n_offset)`` (m² when a plain array).
    meta, is_pointlike, fov_alignment
        See :class:`~gammaprob.irf.core.IRF`.

    Examples
    --------
    >>> import astropy.units as u
    >>> from gammaprob.maps import MapAxis
    >>> energy = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 12, name="energy_true")
    >>> offset = MapAxis.from_edges([0, 1, 2, 3] * u.deg, name="offset")
    >>> aeff = EffectiveArea2D.from_parametrization(energy, offset)
    >>> aeff.evaluate(energy_true=10 * u.TeV, offset=0.5 * u.deg).unit
    Unit("m2")
    """

    tag: ClassVar[str] = "aeff_2d"
    required_axes: ClassVar[tuple[str, ...]] = ("energy_true", "offset")
    default_unit: ClassVar[u.UnitBase] = u.m**2
    hduclas2: ClassVar[str] = "EFF_AREA"
    hduclas4: ClassVar[str] = "AEFF_2D"
    extname: ClassVar[str] = "EFFECTIVE AREA"
    column: ClassVar[tuple[str, ...]] = ("EFFAREA",)

    @classmethod
    def from_parametrization(
        cls,
        energy_axis_true: MapAxis,
        offset_axis: MapAxis,
        area_max: u.Quantity = 1e5 * u.m**2,
        energy_threshold: u.Quantity = 0.1 * u.TeV,
        index: float = 3.0,
        offset_sigma: u.Quantity | None = 2.0 * u.deg,
        is_pointlike: bool = False,
    ) -> EffectiveArea2D:
        """Power-law-like effective area for simulations and tests.

        ``A(E, θ) = A_max / (1 + (E / E_thr)^-index) * exp(-θ² / (2 σ²))``: rising as a power
        law of ``index`` below ``E_thr``, flat above, Gaussian fall-off with offset.

        Parameters
        ----------
        energy_axis_true : gammaprob.maps.MapAxis
            True energy axis (``name="energy_true"``).
        offset_axis : gammaprob.maps.MapAxis
            Offset axis (``name="offset"``).
        area_max : astropy.units.Quantity
            Plateau area.
        energy_threshold : astropy.units.Quantity
            Energy where the area is half the plateau.
        index : float
            Power-law index of the rise below threshold (> 0).
        offset_sigma : astropy.units.Quantity or None
            Gaussian width of the offset fall-off; None for no offset dependence.
        is_pointlike : bool
            Mark the IRF point-like.

        Returns
        -------
        EffectiveArea2D
            Area evaluated at the bin centres.
        """
        if index <= 0:
            raise ValueError(f"index must be > 0, got {index}")
        energy = energy_axis_true.center.to_value(u.TeV)[:, np.newaxis]
        offset = offset_axis.center.to_value(u.deg)[np.newaxis, :]
        e_thr = u.Quantity(energy_threshold).to_value(u.TeV)
        area = u.Quantity(area_max).to_value(u.m**2) / (1 + (energy / e_thr) ** -index)
        if offset_sigma is not None:
            sigma = u.Quantity(offset_sigma).to_value(u.deg)
            area = area * np.exp(-0.5 * (offset / sigma) ** 2)
        else:
            area = area * np.ones_like(offset)
        return cls(MapAxes([energy_axis_true, offset_axis]), area, is_pointlike=is_pointlike)
