"""Map datasets: counts cubes with exposure, background, PSF, energy dispersion and masks.

:class:`MapDataset` is frozen (read-only arrays, no attribute assignment; :meth:`replace`
makes a modified copy) and carries no likelihood. Its maps share the spatial geometry of
``counts``; ``exposure`` is binned in true energy, everything else in reconstructed energy.

The PSF and energy dispersion are either a single kernel (:class:`gammaprob.irf.PSFKernel`,
:class:`gammaprob.irf.EDispKernel`) or an :class:`IRFMap`: an IRF map on a coarse sky grid
(``psf``: axes ``rad`` x ``energy_true``; ``edisp``: ``energy`` x ``energy_true``) with the
exposure it was weighted with, as gammapy stores ``PSFMap`` / ``EDispKernelMap``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import astropy.units as u
import numpy as np

from ._checks import as_background, as_counts, as_nonnegative, frozen
from ._plots import DatasetPlots

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord

    from gammaprob.maps import Map, MapAxis

# The map stack (gammaprob.maps.map, gammaprob.irf.irf_maps: astropy.coordinates, astropy.wcs,
# astropy.table) is imported when a map dataset is made, not with this module, so that code
# that only checks ``isinstance(x, MapDataset)`` stays light.

__all__ = ["MapDataset", "MapDatasetOnOff"]


def _check_map(value: Any, what: str) -> Map:
    from gammaprob.maps.map import Map

    if not isinstance(value, Map):
        raise TypeError(f"{what}: expected a gammaprob.maps.Map, got {type(value).__name__}")
    return value


def _exposure_unit_message(what: str, unit) -> str:
    """Why an exposure unit is refused, and (for a dimensionless map) how to give it one."""
    text = f"{what}: exposure unit {unit.to_string() or 'dimensionless'} is not area x time"
    if unit == u.one:
        text += (
            " (a FITS map without BUNIT, e.g. a Fermi exposure cube, reads as dimensionless): "
            "read it with Map.read(path, unit='cm2 s')"
        )
    return text


def _frozen_map(m: Map, data: np.ndarray) -> Map:
    from gammaprob.maps.map import Map

    return Map(m.geom, data=frozen(data), unit=m.unit, meta=dict(m.meta))


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class MapDataset(DatasetPlots):
    """Binned counts cube with its response: the input of a 3D (or 2D) analysis.

    Parameters
    ----------
    name : str
        Unique dataset name.
    counts : Map
        Counts, axes ``[energy]`` (non-negative integers).
    exposure : Map, optional
        Exposure, axes ``[energy_true]``, same spatial geometry as counts; area x time unit.
    background : Map, optional
        Predicted background counts, same geometry as counts.
    psf : IRFMap or PSFKernel, optional
        Point spread function.
    edisp : IRFMap or EDispKernel, optional
        Energy dispersion; None means a diagonal response.
    mask_safe, mask_fit : Map or array of bool, optional
        Masks on the counts geometry (default: ``mask_safe`` all True, ``mask_fit`` None).
    gti : GTI, optional
        Good time intervals.
    meta : dict, optional
        Free-form metadata (instrument, ``livetime``, provenance).
    """

    kind: ClassVar[str] = "MapDataset"

    name: str
    counts: Map
    exposure: Map | None = None
    background: Map | None = None
    psf: Any = None
    edisp: Any = None
    mask_safe: Any = None
    mask_fit: Any = None
    gti: Any = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from gammaprob.maps.map import Map

        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty str, got {self.name!r}")
        what = f"{self.kind} {self.name!r}"
        set_ = object.__setattr__
        counts = _check_map(self.counts, f"{what}: counts")
        geom = counts.geom
        if "energy" not in geom.axes.names:
            raise ValueError(f"{what}: counts needs an 'energy' axis, has {geom.axes.names}")
        set_(
            self,
            "counts",
            _frozen_map(counts, as_counts(counts.data, geom.data_shape, f"{what}: counts")),
        )
        if self.exposure is not None:
            exposure = _check_map(self.exposure, f"{what}: exposure")
            if "energy_true" not in exposure.geom.axes.names:
                raise ValueError(
                    f"{what}: exposure needs an 'energy_true' axis, has {exposure.geom.axes.names}"
                )
            if not exposure.unit.is_equivalent("m2 s"):
                raise ValueError(_exposure_unit_message(what, exposure.unit))
            if exposure.geom.to_image() != geom.to_image():
                raise ValueError(
                    f"{what}: exposure and counts must share the spatial geometry; got "
                    f"{exposure.geom.to_image()!r} and {geom.to_image()!r}"
                )
            data = as_nonnegative(exposure.data, exposure.geom.data_shape, f"{what}: exposure")
            set_(self, "exposure", _frozen_map(exposure, data))
        if self.background is not None:
            background = _check_map(self.background, f"{what}: background")
            if background.geom != geom:
                raise ValueError(
                    f"{what}: background geometry differs from counts ({background.geom!r} vs {geom!r})"
                )
            data = as_background(background.data, geom.data_shape, f"{what}: background")
            set_(self, "background", _frozen_map(background, data))
        for key in ("mask_safe", "mask_fit"):
            value = getattr(self, key)
            if value is None and key == "mask_safe":
                value = np.ones(geom.data_shape, bool)
            if value is None:
                continue
            data = value.data if isinstance(value, Map) else np.asarray(value)
            if data.shape != geom.data_shape:
                raise ValueError(
                    f"{what}: {key} shape {data.shape} differs from counts {geom.data_shape}"
                )
            if data.dtype != bool and not np.all(np.isin(data, (0, 1))):
                raise ValueError(f"{what}: {key} must be boolean (or 0/1)")
            set_(self, key, Map(geom, data=frozen(data.astype(bool))))
        if (
            self.edisp is None
            and self.exposure is not None
            and not self.energy_axis_true.is_aligned(self.energy_axis)
        ):
            raise ValueError(
                f"{what}: edisp=None (diagonal response) needs identical true and reco energy axes, "
                f"got {self.energy_axis_true!r} and {self.energy_axis!r}"
            )
        set_(self, "meta", dict(self.meta))
        self._post_init_extra(what)

    def _post_init_extra(self, what: str) -> None:
        """Validate fields a subclass adds."""

    # ---- axes and plain arrays -------------------------------------------------------------
    @property
    def geom(self):
        """Geometry of the counts (spatial + reconstructed energy)."""
        return self.counts.geom

    @property
    def energy_axis(self) -> MapAxis:
        """Reconstructed-energy axis."""
        return self.counts.geom.axes["energy"]

    @property
    def energy_axis_true(self) -> MapAxis:
        """True-energy axis (of the exposure; the reco axis when there is no exposure)."""
        if self.exposure is None:
            return self.energy_axis.copy(name="energy_true")
        return self.exposure.geom.axes["energy_true"]

    @property
    def mask(self) -> np.ndarray:
        """``mask_safe & mask_fit`` as a read-only bool array of the counts shape."""
        if self.mask_fit is None:
            return self.mask_safe.data
        return frozen(self.mask_safe.data & self.mask_fit.data)

    @property
    def livetime(self) -> u.Quantity | None:
        """Livetime from ``meta['livetime']`` (set when reading gammapy files), or None."""
        value = self.meta.get("livetime")
        return None if value is None else u.Quantity(value, u.s)

    def edisp_matrix(self, position: SkyCoord | None = None) -> np.ndarray:
        """Energy-dispersion matrix ``[E_true, E_reco]`` at ``position`` (default: map centre).

        Parameters
        ----------
        position : `~astropy.coordinates.SkyCoord`, optional
            Sky position; the nearest pixel of an :class:`IRFMap` is used.

        Returns
        -------
        numpy.ndarray
            Probabilities, shape ``(n_true, n_reco)``; the identity for ``edisp=None``.
        """
        from gammaprob.irf.irf_maps import IRFMap

        if self.edisp is None:
            return frozen(np.eye(self.energy_axis.nbin))
        if isinstance(self.edisp, IRFMap):
            return frozen(self.edisp.irf_map.data[(..., *self.edisp.pixel_index(position))])
        return self.edisp.pdf_matrix

    def check_fittable(self) -> None:
        """Raise a ValueError if every bin is masked."""
        if not np.any(self.mask):
            raise ValueError(
                f"{self.kind} {self.name!r}: all {self.mask.size} bins are masked "
                f"(mask_safe keeps {int(self.mask_safe.data.sum())}); nothing to fit"
            )

    def replace(self, **changes: Any):
        """Return a copy with some fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)

    def slice_by_energy(self, energy_min=None, energy_max=None, name: str | None = None):
        """Keep the reconstructed-energy bins inside ``[energy_min, energy_max]``.

        The true-energy axis, exposure and PSF are kept; an energy-dispersion map or kernel
        is cut along its reconstructed-energy axis.

        Parameters
        ----------
        energy_min, energy_max : `~astropy.units.Quantity`, optional
            Range (default: the axis bounds).
        name : str, optional
            New name (default: unchanged).

        Returns
        -------
        MapDataset
            The sliced dataset.
        """
        from gammaprob.irf.irf_maps import IRFMap
        from gammaprob.maps.map import Map

        from .spectrum import energy_slice

        start, stop = energy_slice(
            self.energy_axis, energy_min, energy_max, f"{self.kind} {self.name!r}"
        )
        axis = self.energy_axis.slice(slice(start, stop))
        geom = self.geom.replace_axis(axis)
        index = geom.axes.names[::-1].index("energy")

        def cut(m: Map | None) -> Map | None:
            if m is None:
                return None
            slc = [slice(None)] * m.data.ndim
            slc[index] = slice(start, stop)
            return Map(geom, data=m.data[tuple(slc)], unit=m.unit, meta=dict(m.meta))

        changes = self._slice_extra(cut)
        edisp = self.edisp
        if isinstance(edisp, IRFMap):
            kernel = edisp.irf_map
            kgeom = kernel.geom.replace_axis(axis)
            kidx = kernel.geom.axes.names[::-1].index("energy")
            slc = [slice(None)] * kernel.data.ndim
            slc[kidx] = slice(start, stop)
            edisp = type(edisp)(
                Map(kgeom, data=kernel.data[tuple(slc)], unit=kernel.unit), edisp.exposure_map
            )
        elif edisp is not None:
            from gammaprob.irf.edisp_kernel import EDispKernel

            edisp = EDispKernel(edisp.energy_axis_true, axis, edisp.pdf_matrix[:, start:stop])
        elif self.exposure is not None:
            from gammaprob.irf.edisp_kernel import EDispKernel

            edisp = EDispKernel(
                self.energy_axis_true, axis, np.eye(self.energy_axis.nbin)[:, start:stop]
            )
        return self.replace(
            name=name or self.name,
            counts=cut(self.counts),
            background=cut(self.background),
            mask_safe=cut(self.mask_safe),
            mask_fit=cut(self.mask_fit),
            edisp=edisp,
            **changes,
        )

    def _slice_extra(self, cut) -> dict[str, Any]:
        return {}

    @classmethod
    def read(cls, path: str | os.PathLike, name: str | None = None) -> MapDataset:
        """Read the gammapy DL4 FITS layout; see :func:`gammaprob.datasets.map_io.read_map_dataset`."""
        from .map_io import read_map_dataset

        dataset = read_map_dataset(path, name=name)
        if not isinstance(dataset, cls):
            raise TypeError(f"{path} holds a {type(dataset).__name__}, not a {cls.__name__}")
        return dataset

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write in the gammapy DL4 FITS layout; see :func:`gammaprob.datasets.map_io.write_map_dataset`."""
        from .map_io import write_map_dataset

        write_map_dataset(self, path, overwrite=overwrite)

    def _repr_lines(self) -> list[str]:
        geom = self.geom
        axis = self.energy_axis
        lines = [
            f"  geom          : {type(geom).__name__} {geom.spatial_shape} x {axis.nbin} energy bins "
            f"[{axis.edges[0].to(u.TeV):.4g}, {axis.edges[-1].to(u.TeV):.4g}]",
            f"  counts        : {self.counts.data.sum():.0f}",
            f"  mask_safe     : {int(self.mask_safe.data.sum())}/{self.mask_safe.data.size} bins",
        ]
        if self.exposure is not None:
            lines.append(
                f"  exposure      : {self.energy_axis_true.nbin} true-energy bins, max {self.exposure.data.max():.4g} {self.exposure.unit}"
            )
        if self.background is not None:
            lines.append(f"  background    : {self.background.data.sum():.6g} counts")
        lines.append(f"  psf / edisp   : {type(self.psf).__name__} / {type(self.edisp).__name__}")
        return lines

    def __repr__(self) -> str:
        return "\n".join([f"{self.kind}(name={self.name!r})", *self._repr_lines()])


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class MapDatasetOnOff(MapDataset):
    """Map dataset with OFF counts and acceptances instead of a background model.

    Parameters
    ----------
    counts_off : Map
        OFF counts on the counts geometry.
    acceptance, acceptance_off : Map
        ON and OFF acceptance; ``alpha = acceptance / acceptance_off``.
    **kwargs
        As :class:`MapDataset` (without ``background``).
    """

    kind: ClassVar[str] = "MapDatasetOnOff"

    counts_off: Map
    acceptance: Map
    acceptance_off: Map

    def _post_init_extra(self, what: str) -> None:
        if self.background is not None:
            raise ValueError(f"{what}: an on/off dataset takes counts_off, not a background")
        geom = self.geom
        set_ = object.__setattr__
        off = _check_map(self.counts_off, f"{what}: counts_off")
        set_(
            self,
            "counts_off",
            _frozen_map(off, as_counts(off.data, geom.data_shape, f"{what}: counts_off")),
        )
        for key in ("acceptance", "acceptance_off"):
            m = _check_map(getattr(self, key), f"{what}: {key}")
            data = as_nonnegative(m.data, geom.data_shape, f"{what}: {key}")
            set_(self, key, _frozen_map(m, data))

    @property
    def alpha(self) -> np.ndarray:
        """``acceptance / acceptance_off`` (0 where the OFF acceptance is 0)."""
        on, off = self.acceptance.data, self.acceptance_off.data
        with np.errstate(divide="ignore", invalid="ignore"):
            return frozen(np.where(off > 0, on / np.where(off > 0, off, 1), 0.0))

    def _slice_extra(self, cut) -> dict[str, Any]:
        return {
            key: cut(getattr(self, key)) for key in ("counts_off", "acceptance", "acceptance_off")
        }
