"""The directional (theta) cut of point-like IRFs: ``RAD_MAX_2D`` tables and fixed cuts."""

from __future__ import annotations

import os
from typing import ClassVar

import astropy.units as u
import numpy as np
from astropy.io import fits

from gammaprob.maps.axes import MapAxes
from gammaprob.utils.errors import FormatError

from .core import IRF
from .interpolation import interp_grid

__all__ = ["RadMax2D"]

_METHODS = ("linear", "nearest")


class RadMax2D(IRF):
    """Maximum event distance from the source, ``θ_max(E_reco, offset)``, in degrees.

    A table read from a ``RAD_MAX_2D`` HDU is evaluated as gammapy's ``RadMax2D.evaluate``:
    linear interpolation between bin centres in log energy (linear in offset), extrapolated
    linearly up to the outer bin edges and 0 outside them. Events are selected with
    ``method="nearest"`` (the cut of the bin whose centre is nearest in log energy), the
    convention of gammapy's ``EventList.select_rad_max``. A fixed cut (:meth:`from_irf`) is
    evaluated at its single node everywhere (a fixed cut has no "outside").

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes or list of MapAxis
        ``energy`` (reconstructed) and ``offset`` axes, in this order.
    data : array-like or astropy.units.Quantity
        Cut radius with shape ``(n_energy, n_offset)``.
    meta, is_pointlike, fov_alignment
        See :class:`~gammaprob.irf.core.IRF`; ``is_pointlike`` defaults to True.
    method : {"linear", "nearest"}
        Default interpolation method of :meth:`evaluate`.
    fill_outside : bool
        Return 0 outside the axis edges (True, tables) or extend the outermost node (False,
        fixed cuts).
    """

    tag: ClassVar[str] = "rad_max_2d"
    required_axes: ClassVar[tuple[str, ...]] = ("energy", "offset")
    default_unit: ClassVar[u.UnitBase] = u.deg
    hduclas2: ClassVar[str] = "RAD_MAX"
    hduclas4: ClassVar[str] = "RAD_MAX_2D"
    extname: ClassVar[str] = "RAD_MAX"
    column: ClassVar[tuple[str, ...]] = ("RAD_MAX",)
    method: ClassVar[str] = "linear"
    fill_outside: ClassVar[bool] = True

    def __init__(
        self,
        axes,
        data,
        meta=None,
        is_pointlike: bool = True,
        fov_alignment="RADEC",
        method: str = "linear",
        fill_outside: bool = True,
    ):
        if method not in _METHODS:
            raise ValueError(f"RadMax2D: method must be one of {_METHODS}, got {method!r}")
        super().__init__(
            axes, data, meta=meta, is_pointlike=is_pointlike, fov_alignment=fov_alignment
        )
        # instance values shadow the class defaults read by IRF.evaluate_array
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "fill_outside", bool(fill_outside))

    def evaluate(self, method: str | None = None, **coords) -> u.Quantity:
        """Cut radius at the given reconstructed energies and offsets.

        Parameters
        ----------
        method : {"linear", "nearest"}, optional
            Interpolation method; default the object's (``"linear"`` for tables, as gammapy's
            ``RadMax2D.evaluate``). ``"nearest"`` is the event-selection convention.
        **coords : astropy.units.Quantity
            ``energy`` (reconstructed, energy unit) and ``offset`` (angle), broadcast together.

        Returns
        -------
        astropy.units.Quantity
            Cut radius in deg (0 outside the table edges of a tabulated cut).
        """
        method = self.method if method is None else method
        if method not in _METHODS:
            raise ValueError(f"RadMax2D.evaluate: method must be one of {_METHODS}, got {method!r}")
        values = self._coords(coords)
        scales = [a.interp for a in self.axes]
        data = interp_grid(self._nodes(), self._data, values, scales, "lin", method=method)
        if self.fill_outside:
            data = np.where(self._outside(values), 0.0, data)
        return u.Quantity(np.asarray(data), u.deg, copy=False)

    def evaluate_array(self, *coords: np.ndarray) -> np.ndarray:
        """Cut radius in deg on plain arrays (TeV, deg) with the default method."""
        return self.evaluate(energy=coords[0] * u.TeV, offset=coords[1] * u.deg).value

    @classmethod
    def from_table_hdu(cls, hdu: fits.BinTableHDU, path: str | os.PathLike | None = None):
        """Read a ``RAD_MAX_2D`` HDU.

        Raises
        ------
        FormatError
            The energy bounds (``ENERG_LO``/``ENERG_HI``) are not strictly increasing (the
            message names the file, HDU and column), or any other format error.
        """
        for column in ("ENERG_LO", "ENERG_HI"):
            if column not in hdu.columns.names:
                continue  # read_axis reports missing columns
            values = np.asarray(hdu.data[column], dtype=float).ravel()
            steps = np.diff(values)
            if values.size > 1 and not np.all(steps > 0):
                bad = int(np.argmax(steps <= 0))
                raise FormatError(
                    "RAD_MAX energies must be strictly increasing, got "
                    f"{values[bad]:.6g} followed by {values[bad + 1]:.6g} (index {bad})",
                    path=path,
                    hdu=hdu.name,
                    column=column,
                )
        return super().from_table_hdu(hdu, path=path)

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
        return cls(
            MapAxes([energy, offset]),
            [[float(value)]],
            meta={"RAD_MAX": float(value)},
            method="nearest",
            fill_outside=False,
        )
