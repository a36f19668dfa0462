"""Background rate templates: radially symmetric (``BKG_2D``) and in FoV coordinates (``BKG_3D``)."""

from __future__ import annotations

from typing import ClassVar

import astropy.units as u
import numpy as np

from gammaprob.maps.axes import MapAxes, MapAxis

from .core import IRF

__all__ = ["BACKGROUND_UNIT", "Background2D", "Background3D"]

#: Canonical background unit (the GADF unit): counts per MeV, second and steradian.
BACKGROUND_UNIT = u.Unit("s-1 MeV-1 sr-1")


def _power_law_rate(energy_axis: MapAxis, norm, index: float, reference) -> np.ndarray:
    energy = energy_axis.center.to_value(u.TeV)
    ref = u.Quantity(reference).to_value(u.TeV)
    return u.Quantity(norm).to_value(BACKGROUND_UNIT) * (energy / ref) ** -index


class _BackgroundMixin:
    """Shared class attributes of the background templates."""

    default_unit: ClassVar[u.UnitBase] = BACKGROUND_UNIT
    hduclas2: ClassVar[str] = "BKG"
    extname: ClassVar[str] = "BACKGROUND"
    column: ClassVar[tuple[str, ...]] = ("BKG", "BGD")
    values_scale: ClassVar[str] = "log"


class Background2D(_BackgroundMixin, IRF):
    """Background rate ``B(E_reco, offset)`` in s⁻¹ MeV⁻¹ sr⁻¹, radially symmetric.

    Interpolation: log in energy, linear in offset, log in the rate (so a power-law spectrum is
    reproduced exactly between nodes). Zero-rate nodes are floored at 1.2e-38 before taking the
    log, as Gammapy does for float32 tables. Outside the table edges the rate is 0.

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes or list of MapAxis
        ``energy`` (reconstructed) and ``offset`` axes, in this order.
    data : array-like or astropy.units.Quantity
        Rate with shape ``(n_energy, n_offset)``.
    meta, is_pointlike, fov_alignment
        See :class:`~gammaprob.irf.core.IRF`.
    """

    tag: ClassVar[str] = "bkg_2d"
    required_axes: ClassVar[tuple[str, ...]] = ("energy", "offset")
    hduclas4: ClassVar[str] = "BKG_2D"

    @classmethod
    def from_power_law(
        cls,
        energy_axis: MapAxis,
        offset_axis: MapAxis,
        norm: u.Quantity = 1e-6 * BACKGROUND_UNIT,
        index: float = 2.7,
        reference: u.Quantity = 1 * u.TeV,
        offset_sigma: u.Quantity | None = None,
    ) -> Background2D:
        """Power-law rate, flat in offset or with a Gaussian radial profile.

        Parameters
        ----------
        energy_axis : gammaprob.maps.MapAxis
            Reconstructed energy axis (``name="energy"``).
        offset_axis : gammaprob.maps.MapAxis
            Offset axis.
        norm : astropy.units.Quantity
            Rate at ``reference`` and zero offset (s⁻¹ MeV⁻¹ sr⁻¹).
        index : float
            Spectral index.
        reference : astropy.units.Quantity
            Reference energy.
        offset_sigma : astropy.units.Quantity or None
            Gaussian width of the radial profile; None for a flat profile.

        Returns
        -------
        Background2D
            Rate evaluated at the bin centres.
        """
        rate = _power_law_rate(energy_axis, norm, index, reference)[:, np.newaxis]
        offset = offset_axis.center.to_value(u.deg)[np.newaxis, :]
        profile = np.ones_like(offset)
        if offset_sigma is not None:
            profile = np.exp(-0.5 * (offset / u.Quantity(offset_sigma).to_value(u.deg)) ** 2)
        return cls(MapAxes([energy_axis, offset_axis]), rate * profile)


class Background3D(_BackgroundMixin, IRF):
    """Background rate ``B(E_reco, fov_lon, fov_lat)`` in s⁻¹ MeV⁻¹ sr⁻¹.

    ``fov_lon``/``fov_lat`` are field-of-view coordinates aligned with RA/Dec or Alt/Az
    according to `fov_alignment` (header ``FOVALIGN``, default ``RADEC``). Interpolation as
    for :class:`Background2D` (log energy, linear FoV coordinates, log rate).

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes or list of MapAxis
        ``energy``, ``fov_lon`` and ``fov_lat`` axes, in this order.
    data : array-like or astropy.units.Quantity
        Rate with shape ``(n_energy, n_lon, n_lat)``.
    meta, is_pointlike, fov_alignment
        See :class:`~gammaprob.irf.core.IRF`.
    """

    tag: ClassVar[str] = "bkg_3d"
    required_axes: ClassVar[tuple[str, ...]] = ("energy", "fov_lon", "fov_lat")
    hduclas4: ClassVar[str] = "BKG_3D"

    def _header(self) -> dict:
        header = super()._header()
        header["FOVALIGN"] = self.fov_alignment.value
        return header

    @classmethod
    def from_power_law(
        cls,
        energy_axis: MapAxis,
        fov_lon_axis: MapAxis,
        fov_lat_axis: MapAxis,
        norm: u.Quantity = 1e-6 * BACKGROUND_UNIT,
        index: float = 2.7,
        reference: u.Quantity = 1 * u.TeV,
        offset_sigma: u.Quantity | None = None,
        fov_alignment: str = "RADEC",
    ) -> Background3D:
        """Power-law rate, flat or with a Gaussian profile in distance from the FoV centre.

        Parameters
        ----------
        energy_axis, fov_lon_axis, fov_lat_axis : gammaprob.maps.MapAxis
            Axes named ``energy``, ``fov_lon``, ``fov_lat``.
        norm, index, reference, offset_sigma
            As for :meth:`Background2D.from_power_law`.
        fov_alignment : {"RADEC", "ALTAZ"}
            Orientation of the FoV coordinates.

        Returns
        -------
        Background3D
            Rate evaluated at the bin centres.
        """
        rate = _power_law_rate(energy_axis, norm, index, reference)[:, None, None]
        lon = fov_lon_axis.center.to_value(u.deg)[None, :, None]
        lat = fov_lat_axis.center.to_value(u.deg)[None, None, :]
        profile = np.ones_like(lon * lat)
        if offset_sigma is not None:
            sigma = u.Quantity(offset_sigma).to_value(u.deg)
            profile = np.exp(-0.5 * (lon**2 + lat**2) / sigma**2)
        axes = MapAxes([energy_axis, fov_lon_axis, fov_lat_axis])
        return cls(axes, rate * profile, fov_alignment=fov_alignment)
