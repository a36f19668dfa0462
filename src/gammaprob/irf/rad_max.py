"""The directional (theta) cut of point-like IRFs: ``RAD_MAX_2D`` tables and fixed cuts."""

from __future__ import annotations

from typing import ClassVar

import astropy.units as u

from gammaprob.maps.axes import MapAxes

from .core import IRF

__all__ = ["RadMax2D"]


class RadMax2D(IRF):
    """Maximum event distance from the source, ``θ_max(E_reco, offset)``, in degrees.

    Evaluated at the nearest tabulated node (the cut is defined per bin) and extended beyond
    the table edges with the outermost bin (a cut has no "outside").

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes or list of MapAxis
        ``energy`` (reconstructed) and ``offset`` axes, in this order.
    data : array-like or astropy.units.Quantity
        Cut radius with shape ``(n_energy, n_offset)``.
    meta, is_pointlike, fov_alignment
        See :class:`~gammaprob.irf.core.IRF`; ``is_pointlike`` defaults to True.
    """

    tag: ClassVar[str] = "rad_max_2d"
    required_axes: ClassVar[tuple[str, ...]] = ("energy", "offset")
    default_unit: ClassVar[u.UnitBase] = u.deg
    hduclas2: ClassVar[str] = "RAD_MAX"
    hduclas4: ClassVar[str] = "RAD_MAX_2D"
    extname: ClassVar[str] = "RAD_MAX"
    column: ClassVar[tuple[str, ...]] = ("RAD_MAX",)
    method: ClassVar[str] = "nearest"
    fill_outside: ClassVar[bool] = False

    def __init__(self, axes, data, meta=None, is_pointlike: bool = True, fov_alignment="RADEC"):
        super().__init__(
            axes, data, meta=meta, is_pointlike=is_pointlike, fov_alignment=fov_alignment
        )

    @property
    def is_fixed(self) -> bool:
        """True if the cut is the same everywhere (a single value)."""
        return bool((self.data == self.data.flat[0]).all())

    @classmethod
    def from_irf(cls, irf: IRF) -> RadMax2D:
        """Build the fixed cut declared by the ``RAD_MAX`` header keyword of a point-like IRF.

        Parameters
        ----------
        irf : gammaprob.irf.EffectiveArea2D or gammaprob.irf.EnergyDispersion2D
            Point-like IRF with ``RAD_MAX`` (deg) in its header.

        Returns
        -------
        RadMax2D
            One bin spanning the IRF's energy and offset ranges (the true-energy range is taken
            as the reconstructed-energy range).

        Raises
        ------
        ValueError
            The IRF is not point-like or has no numeric ``RAD_MAX`` keyword.
        """
        if not irf.is_pointlike:
            raise ValueError(
                f"RadMax2D.from_irf needs a point-like IRF, got a full-enclosure {type(irf).__name__}"
            )
        value = irf.meta.get("RAD_MAX")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"the IRF header has no numeric RAD_MAX keyword (got {value!r})")
        energy = irf.axes["energy_true"].copy(name="energy").squash()
        offset = irf.axes["offset"].squash()
        return cls(MapAxes([energy, offset]), [[float(value)]], meta={"RAD_MAX": float(value)})
