"""IRFs tabulated on a coarse sky grid: :class:`PSFMap` and :class:`EDispKernelMap`.

A DL4 map dataset stores its PSF and energy dispersion per pixel of a coarse sky geometry
(WCS, HEALPix or a region), together with the exposure each pixel's IRF was weighted with, as
gammapy's ``PSFMap`` / ``EDispKernelMap`` do. Stacking observations averages the IRFs with
their exposures as weights.

Layouts (numpy order):

- PSF: ``[energy_true, rad, *spatial]`` in sr-1, normalised so that
  ``sum(2 pi r dr psf) = 1`` over the rad bins (bin-centre rule);
- energy dispersion: ``[energy_true, energy, *spatial]``, probabilities per reco bin;
- exposure: ``[energy_true, *spatial]`` in m2 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from gammaprob.maps import Map, MapAxis

from .edisp_kernel import EDispKernel

__all__ = ["EDispKernelMap", "IRFMap", "PSFMap"]

_SR_PER_DEG2 = (np.pi / 180.0) ** 2


@dataclass(frozen=True)
class IRFMap:
    """An IRF tabulated on a coarse sky grid, with the exposure used to weight it.

    Parameters
    ----------
    irf_map : Map
        IRF values; the non-spatial axes depend on the IRF (see the subclasses).
    exposure_map : Map, optional
        Exposure (area x time) on the same sky grid, axis ``energy_true`` (used for stacking).
    """

    irf_map: Map
    exposure_map: Map | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.irf_map, Map):
            raise TypeError(f"irf_map must be a Map, got {type(self.irf_map).__name__}")
        if self.exposure_map is not None:
            if not isinstance(self.exposure_map, Map):
                raise TypeError(
                    f"exposure_map must be a Map or None, got {type(self.exposure_map).__name__}"
                )
            if self.exposure_map.geom.spatial_shape != self.irf_map.geom.spatial_shape:
                raise ValueError(
                    "exposure_map and irf_map must share the sky grid, got spatial shapes "
                    f"{self.exposure_map.geom.spatial_shape} and {self.irf_map.geom.spatial_shape}"
                )

    def pixel_index(self, position: SkyCoord | None = None) -> tuple[int, ...]:
        """Index (numpy order, spatial part) of the IRF pixel containing ``position``.

        Positions outside the grid use the nearest pixel; the default is the geometry centre.
        Pixel coordinates are rounded half to even (``numpy.rint``), as gammapy does.
        """
        geom = self.irf_map.geom
        shape = geom.spatial_shape[::-1]
        if position is None:
            position = geom.center_skydir
        if type(geom).__name__ == "WcsGeom":
            x, y = geom.wcs.world_to_pixel(position)
            ny, nx = shape
            return (
                int(np.clip(np.rint(y), 0, ny - 1)),
                int(np.clip(np.rint(x), 0, nx - 1)),
            )
        idx = geom.to_image().coord_to_idx({"skycoord": position}, clip=True)
        return tuple(int(np.ravel(i)[0]) for i in idx[::-1])

    def _values_at(self, position: SkyCoord | None) -> np.ndarray:
        """IRF values (non-spatial axes) at ``position`` (default: the geometry centre).

        On a WCS grid the four surrounding pixels are interpolated bilinearly in pixel
        coordinates (clipped to the outer pixel centres); other grids use the containing pixel.
        """
        geom = self.irf_map.geom
        data = np.asarray(self.irf_map.data)
        if position is None:
            position = geom.center_skydir
        if type(geom).__name__ != "WcsGeom":
            return data[(Ellipsis, *self.pixel_index(position))]
        ny, nx = geom.spatial_shape[::-1]
        x, y = (
            float(np.clip(v, 0, n - 1))
            for v, n in zip(geom.wcs.world_to_pixel(position), (nx, ny), strict=True)
        )
        x0, y0 = min(int(np.floor(x)), max(nx - 2, 0)), min(int(np.floor(y)), max(ny - 2, 0))
        fx, fy = x - x0, y - y0
        x1, y1 = min(x0 + 1, nx - 1), min(y0 + 1, ny - 1)
        return (
            data[..., y0, x0] * (1 - fx) * (1 - fy)
            + data[..., y0, x1] * fx * (1 - fy)
            + data[..., y1, x0] * (1 - fx) * fy
            + data[..., y1, x1] * fx * fy
        )

    @classmethod
    def stack(cls, irf_maps: Sequence[IRFMap]):
        """Exposure-weighted mean of IRF maps on one sky grid.

        Parameters
        ----------
        irf_maps : sequence of IRFMap
            Maps of one class with exposure maps and identical geometries.

        Returns
        -------
        IRFMap
            Of the same class; its exposure map is the summed exposure.
        """
        irf_maps = list(irf_maps)
        if not irf_maps:
            raise ValueError("need at least one IRF map to stack")
        first = irf_maps[0]
        total = np.zeros(first.irf_map.data.shape)
        weight = None
        for m in irf_maps:
            if type(m) is not type(first):
                raise TypeError(f"cannot stack {type(m).__name__} with {type(first).__name__}")
            if m.exposure_map is None:
                raise ValueError("IRF maps without an exposure map cannot be stacked")
            if m.irf_map.geom != first.irf_map.geom:
                raise ValueError("IRF maps on different geometries cannot be stacked")
            exp = m.exposure_map.quantity.to_value("m2 s")
            exp = exp.reshape((*exp.shape[:1], 1, *exp.shape[1:]))
            total += np.asarray(m.irf_map.data) * exp
            weight = exp.copy() if weight is None else weight + exp
        with np.errstate(invalid="ignore", divide="ignore"):
            data = np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), 0.0)
        exposure = Map(first.exposure_map.geom, data=weight[:, 0], unit="m2 s")
        return type(first)(Map(first.irf_map.geom, data=data, unit=first.irf_map.unit), exposure)

    def __repr__(self) -> str:
        m = self.irf_map
        return (
            f"{type(self).__name__}(axes={m.geom.axes.names}, shape={m.data.shape}, "
            f"unit={m.unit}, exposure={'yes' if self.exposure_map is not None else 'no'})"
        )


def _offsets(geom_image, pointing: SkyCoord) -> np.ndarray:
    return np.asarray(geom_image.separation(pointing).to_value(u.deg))


class PSFMap(IRFMap):
    """PSF per sky pixel: axes ``rad`` and ``energy_true`` (values in sr-1).

    Parameters
    ----------
    irf_map : Map
        PSF values with axes ``[rad, energy_true]``.
    exposure_map : Map, optional
        Exposure per pixel (m2 s), axis ``energy_true``.
    """

    @classmethod
    def from_psf(
        cls,
        psf,
        pointing: SkyCoord,
        geom_image,
        energy_axis_true: MapAxis,
        rad_axis: MapAxis,
        exposure_map: Map | None = None,
    ) -> PSFMap:
        """Evaluate a DL3 PSF at the pixel offsets and normalise it over ``rad_axis``.

        Parameters
        ----------
        psf : gammaprob.irf.PSF3D, PSFKing or PSF3Gauss
            Point spread function.
        pointing : `~astropy.coordinates.SkyCoord`
            Pointing position (gives each pixel's offset).
        geom_image : Geom
            Coarse sky geometry (no non-spatial axes).
        energy_axis_true, rad_axis : MapAxis
            True-energy and radius axes.
        exposure_map : Map, optional
            Exposure on ``geom_image`` with ``energy_axis_true``.

        Returns
        -------
        PSFMap
            Normalised PSF map.
        """
        offset = _offsets(geom_image, pointing)
        energy = energy_axis_true.center.to_value(u.TeV)
        rad = rad_axis.center.to_value(u.deg)
        values = psf.evaluate(
            energy_true=energy.reshape((-1, 1) + (1,) * offset.ndim) * u.TeV,
            offset=offset[None, None] * u.deg,
            rad=rad.reshape((1, -1) + (1,) * offset.ndim) * u.deg,
        ).to_value("sr-1")
        values = np.broadcast_to(values, (energy.size, rad.size, *offset.shape))
        weights = (2 * np.pi * rad * rad_axis.bin_width.to_value(u.deg)).reshape(
            (1, -1) + (1,) * offset.ndim
        )
        norm = (values * weights * _SR_PER_DEG2).sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            data = np.nan_to_num(values / norm)
        geom = geom_image.to_cube([rad_axis, energy_axis_true])
        return cls(Map(geom, data=data, unit="sr-1"), exposure_map)

    def containment(self, rad: u.Quantity, position: SkyCoord | None = None) -> np.ndarray:
        """Fraction of the PSF within ``rad`` per true-energy bin at ``position``.

        The cumulative integral ``sum(2 pi r dr psf)`` is known at the rad edges and
        interpolated linearly in between (constant beyond the last edge).

        Parameters
        ----------
        rad : `~astropy.units.Quantity`
            Radius (scalar angle).
        position : `~astropy.coordinates.SkyCoord`, optional
            Sky position (default: the map centre).

        Returns
        -------
        numpy.ndarray
            Containment per true-energy bin.
        """
        axis = self.irf_map.geom.axes["rad"]
        r = axis.center.to_value(u.deg)
        values = self._values_at(position) * _SR_PER_DEG2
        cum = np.concatenate(
            [
                np.zeros((values.shape[0], 1)),
                np.cumsum(values * 2 * np.pi * r * axis.bin_width.to_value(u.deg), axis=1),
            ],
            axis=1,
        )
        edges = axis.edges.to_value(u.deg)
        x = float(u.Quantity(rad, u.deg).value)
        return np.array([np.interp(x, edges, row) for row in cum])


class EDispKernelMap(IRFMap):
    """Energy-dispersion kernels per sky pixel: axes ``energy`` and ``energy_true``.

    Parameters
    ----------
    irf_map : Map
        Probabilities with axes ``[energy, energy_true]`` (numpy ``[E_true, E_reco, ...]``).
    exposure_map : Map, optional
        Exposure per pixel (m2 s), axis ``energy_true``.
    """

    @classmethod
    def from_edisp(
        cls,
        edisp,
        pointing: SkyCoord,
        geom_image,
        energy_axis: MapAxis,
        energy_axis_true: MapAxis,
        exposure_map: Map | None = None,
    ) -> EDispKernelMap:
        """Integrate a DL3 energy dispersion into kernels at each pixel's offset.

        Parameters
        ----------
        edisp : gammaprob.irf.EnergyDispersion2D
            Energy dispersion.
        pointing : `~astropy.coordinates.SkyCoord`
            Pointing position.
        geom_image : Geom
            Coarse sky geometry.
        energy_axis, energy_axis_true : MapAxis
            Reconstructed and true energy axes.
        exposure_map : Map, optional
            Exposure on ``geom_image`` with ``energy_axis_true``.

        Returns
        -------
        EDispKernelMap
            Kernels per pixel.
        """
        offset = _offsets(geom_image, pointing)
        geom = geom_image.to_cube([energy_axis, energy_axis_true])
        data = np.zeros(geom.data_shape)
        flat = data.reshape((*data.shape[:2], -1))
        for i, value in enumerate(offset.reshape(-1)):
            kernel = edisp.to_edisp_kernel(value * u.deg, energy_axis_true, energy_axis)
            flat[:, :, i] = np.asarray(kernel.pdf_matrix)
        return cls(Map(geom, data=data, unit=""), exposure_map)

    def get_edisp_kernel(self, position: SkyCoord | None = None) -> EDispKernel:
        """Return the kernel of the pixel containing ``position`` (default: geometry centre)."""
        axes = self.irf_map.geom.axes
        data = np.asarray(self.irf_map.data)[(Ellipsis, *self.pixel_index(position))]
        return EDispKernel(axes["energy_true"], axes["energy"], data)
