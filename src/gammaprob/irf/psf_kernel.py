"""PSF convolution kernels: one small square image per true energy (array-based)."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from gammaprob.maps.axes import MapAxis

__all__ = ["PSFKernel"]


def _radius_grid(npix: int, pixel_size: float, oversampling: int) -> np.ndarray:
    """Distances (deg) of sub-pixel centres from the kernel centre, shape (npix, npix, s, s)."""
    offsets = (np.arange(oversampling) + 0.5) / oversampling - 0.5
    pix = np.arange(npix) - (npix - 1) / 2
    x = (pix[:, None] + offsets[None, :]) * pixel_size
    return np.hypot(x[None, :, None, :], x[:, None, :, None])


class PSFKernel:
    """PSF kernel images ``[n_energy_true, npix, npix]`` on a flat grid (immutable).

    Each image sums to the PSF containment within the kernel square (1 when normalised),
    the centre pixel holding the source position; pixel ``[i, j]`` is at
    ``((j - c) · pixel_size, (i - c) · pixel_size)`` with ``c = (npix - 1) / 2``.

    Parameters
    ----------
    energy_axis_true : gammaprob.maps.MapAxis
        True energy bins.
    pixel_size : astropy.units.Quantity
        Pixel size (angle).
    data : array-like
        Kernel images, shape ``(n_energy_true, npix, npix)`` with odd ``npix``.
    """

    def __init__(self, energy_axis_true: MapAxis, pixel_size: u.Quantity, data) -> None:
        data = np.array(data, dtype=float)
        if (
            data.ndim != 3
            or data.shape[0] != energy_axis_true.nbin
            or data.shape[1] != data.shape[2]
        ):
            raise ValueError(
                f"PSFKernel: data must be (n_energy_true, npix, npix), got {data.shape}"
            )
        if data.shape[1] % 2 != 1:
            raise ValueError(f"PSFKernel: npix must be odd, got {data.shape[1]}")
        if not np.all(np.isfinite(data)) or np.any(data < 0):
            raise ValueError("PSFKernel: data must be finite and non-negative")
        pixel_size = u.Quantity(pixel_size).to(u.deg)
        if pixel_size.ndim != 0 or pixel_size.value <= 0:
            raise ValueError("pixel_size must be a positive scalar angle")
        data.setflags(write=False)
        self._energy_axis_true = energy_axis_true
        self._pixel_size = pixel_size
        self._data = data

    @property
    def energy_axis_true(self) -> MapAxis:
        """True energy axis."""
        return self._energy_axis_true

    @property
    def pixel_size(self) -> u.Quantity:
        """Pixel size in deg."""
        return self._pixel_size

    @property
    def data(self) -> np.ndarray:
        """Kernel images (read-only)."""
        return self._data

    def __repr__(self) -> str:
        n = self._data.shape[1]
        return (
            f"PSFKernel(n_energy_true={self._data.shape[0]}, npix={n}, "
            f"pixel_size={self._pixel_size:.4g}, sums={self._data.sum(axis=(1, 2)).min():.4g}.."
            f"{self._data.sum(axis=(1, 2)).max():.4g})"
        )

    @staticmethod
    def _npix(pixel_size: float, max_radius: float) -> int:
        half = int(np.ceil(max_radius / pixel_size))
        return 2 * half + 1

    @classmethod
    def from_psf(
        cls,
        psf,
        offset: u.Quantity,
        energy_axis_true: MapAxis | None = None,
        pixel_size: u.Quantity = 0.02 * u.deg,
        max_radius: u.Quantity = 0.66 * u.deg,
        oversampling: int = 5,
        normalize: bool = True,
    ) -> PSFKernel:
        """Kernel from any radial PSF with ``evaluate(rad, energy_true, offset)`` (sr⁻¹).

        Each pixel holds the density averaged over ``oversampling²`` sub-pixels times the
        pixel solid angle (flat sky).

        Parameters
        ----------
        psf : PSF3D, PSFKing or PSF3Gauss
            The PSF.
        offset : astropy.units.Quantity
            Field-of-view offset of the source.
        energy_axis_true : gammaprob.maps.MapAxis, optional
            True energies (default: the PSF's axis); the kernel uses the bin centres.
        pixel_size : astropy.units.Quantity
            Pixel size.
        max_radius : astropy.units.Quantity
            Half-width of the kernel square.
        oversampling : int
            Sub-pixels per pixel side.
        normalize : bool
            Scale each image to sum to 1.

        Returns
        -------
        PSFKernel
            The kernel.
        """
        if energy_axis_true is None:
            energy_axis_true = psf.axes["energy_true"]
        size = u.Quantity(pixel_size).to_value(u.deg)
        npix = cls._npix(size, u.Quantity(max_radius).to_value(u.deg))
        rad = _radius_grid(npix, size, oversampling)
        energy = energy_axis_true.center[:, None, None, None, None]
        density = psf.evaluate(
            rad=rad * u.deg, energy_true=energy, offset=u.Quantity(offset)
        ).to_value(u.deg**-2)
        data = density.mean(axis=(3, 4)) * size**2
        if normalize:
            total = data.sum(axis=(1, 2), keepdims=True)
            data = np.divide(data, total, out=np.zeros_like(data), where=total > 0)
        return cls(energy_axis_true, pixel_size, data)

    @classmethod
    def from_gauss(
        cls,
        energy_axis_true: MapAxis,
        sigma: u.Quantity,
        pixel_size: u.Quantity = 0.02 * u.deg,
        max_radius: u.Quantity | None = None,
        oversampling: int = 5,
    ) -> PSFKernel:
        """Normalised Gaussian kernel, σ scalar or one per true-energy bin.

        Parameters
        ----------
        energy_axis_true : gammaprob.maps.MapAxis
            True energy bins.
        sigma : astropy.units.Quantity
            Gaussian width (angle).
        pixel_size : astropy.units.Quantity
            Pixel size.
        max_radius : astropy.units.Quantity, optional
            Half-width of the kernel (default 5 σ_max).
        oversampling : int
            Sub-pixels per pixel side.

        Returns
        -------
        PSFKernel
            The kernel, each image summing to 1.
        """
        sigma = np.broadcast_to(u.Quantity(sigma).to_value(u.deg), (energy_axis_true.nbin,))
        if np.any(sigma <= 0):
            raise ValueError("sigma must be > 0")
        size = u.Quantity(pixel_size).to_value(u.deg)
        radius = 5 * sigma.max() if max_radius is None else u.Quantity(max_radius).to_value(u.deg)
        rad = _radius_grid(cls._npix(size, radius), size, oversampling)
        s2 = sigma[:, None, None, None, None] ** 2
        data = np.exp(-0.5 * rad[None] ** 2 / s2).mean(axis=(3, 4))
        data /= data.sum(axis=(1, 2), keepdims=True)
        return cls(energy_axis_true, pixel_size, data)
