"""Ring background: OFF counts from a ring around every pixel, weighted by the IRF background."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.convolution import Ring2DKernel, Tophat2DKernel
from astropy.coordinates import Angle
from scipy.signal import fftconvolve

from gammaprob.datasets import MapDataset, MapDatasetOnOff
from gammaprob.maps import Map, WcsGeom

__all__ = ["AdaptiveRingBackgroundMaker", "RingBackgroundMaker", "ring_kernel"]


def ring_kernel(r_in: float, width: float) -> np.ndarray:
    """Ring of ones between ``r_in`` and ``r_in + width`` (pixels), zero elsewhere.

    Pixel centres are tested (astropy's ``Ring2DKernel``, normalised to a peak of 1).

    Parameters
    ----------
    r_in, width : float
        Inner radius and width in pixels.

    Returns
    -------
    numpy.ndarray
        Square kernel of odd size.
    """
    if not (r_in >= 0 and width > 0):
        raise ValueError(f"ring needs r_in >= 0 and width > 0 (pixels), got {r_in}, {width}")
    kernel = Ring2DKernel(r_in, width)
    kernel.normalize("peak")
    return np.asarray(kernel.array)


def _tophat(radius: float) -> np.ndarray:
    kernel = Tophat2DKernel(radius)
    kernel.normalize("peak")
    return np.asarray(kernel.array)


def _convolve_images(data: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve every image of a ``[..., ny, nx]`` array (zero outside the map)."""
    flat = data.reshape((-1, *data.shape[-2:]))
    out = np.stack([fftconvolve(image, kernel, mode="same") for image in flat])
    return out.reshape(data.shape)


def _pixel_scale(geom) -> float:
    if not isinstance(geom, WcsGeom):
        raise TypeError(f"ring backgrounds need a WCS geometry, got {type(geom).__name__}")
    return float(np.abs(geom.wcs.wcs.cdelt[0]))


def _exclusion(dataset: MapDataset, exclusion_mask: Map | None) -> np.ndarray:
    """Exclusion image on the dataset geometry (True = usable), from the containing pixels."""
    shape = dataset.geom.spatial_shape[::-1]
    if exclusion_mask is None:
        return np.ones(shape, bool)
    coord = dataset.geom.to_image().get_coord()
    idx = exclusion_mask.geom.to_image().coord_to_idx({"skycoord": coord.skycoord})
    inside = np.logical_and.reduce([i >= 0 for i in idx])
    data = np.asarray(exclusion_mask.data, bool)
    while data.ndim > 2:
        data = data.all(axis=0)
    out = np.ones(shape, bool)
    out[inside] = data[idx[1][inside], idx[0][inside]]
    if not out.any():
        raise ValueError(f"the exclusion mask excludes every pixel of dataset {dataset.name!r}")
    return out


def _check_dataset(dataset) -> None:
    if not isinstance(dataset, MapDataset) or isinstance(dataset, MapDatasetOnOff):
        raise TypeError(f"expected a MapDataset with a background, got {type(dataset).__name__}")
    if dataset.background is None:
        raise ValueError(
            f"dataset {dataset.name!r} has no background: the ring method weights OFF counts "
            "with the IRF background (make it with MapDatasetMaker)"
        )


def _on_off(
    dataset: MapDataset, counts_off, acceptance, acceptance_off, extra_meta
) -> MapDatasetOnOff:
    geom = dataset.geom
    mask_safe = np.asarray(dataset.mask_safe.data, bool) & (acceptance_off > 0)
    return MapDatasetOnOff(
        name=dataset.name,
        counts=dataset.counts,
        exposure=dataset.exposure,
        psf=dataset.psf,
        edisp=dataset.edisp,
        mask_safe=mask_safe,
        mask_fit=dataset.mask_fit,
        gti=dataset.gti,
        meta=dict(dataset.meta, **extra_meta),
        counts_off=Map(geom, data=np.nan_to_num(counts_off), unit=""),
        acceptance=Map(geom, data=np.nan_to_num(acceptance), unit=""),
        acceptance_off=Map(geom, data=np.nan_to_num(acceptance_off), unit=""),
    )


class RingBackgroundMaker:
    """OFF counts in a ring around each pixel, outside an exclusion mask.

    ``counts_off = ring * (counts x exclusion)``, ``acceptance_off = ring * (background x
    exclusion)`` (``*`` = convolution, per energy image), ``acceptance = background``, so that
    ``alpha = acceptance / acceptance_off``. Pixels with no OFF acceptance leave the safe mask.

    Parameters
    ----------
    r_in : `~astropy.units.Quantity`
        Inner ring radius.
    width : `~astropy.units.Quantity`
        Ring width.
    exclusion_mask : Map, optional
        Boolean sky image, True where OFF counts may be taken.
    """

    tag = "RingBackgroundMaker"

    def __init__(self, r_in, width, exclusion_mask: Map | None = None) -> None:
        self.r_in = Angle(r_in)
        self.width = Angle(width)
        if self.r_in.deg < 0 or self.width.deg <= 0:
            raise ValueError(f"need r_in >= 0 and width > 0, got {self.r_in}, {self.width}")
        self.exclusion_mask = exclusion_mask

    def __repr__(self) -> str:
        return f"{self.tag}(r_in={self.r_in.deg:.4g} deg, width={self.width.deg:.4g} deg)"

    def run(self, dataset: MapDataset, observation=None) -> MapDatasetOnOff:
        """Make the on/off map dataset."""
        _check_dataset(dataset)
        scale = _pixel_scale(dataset.geom)
        kernel = ring_kernel(self.r_in.deg / scale, self.width.deg / scale)
        exclusion = _exclusion(dataset, self.exclusion_mask)
        background = np.asarray(dataset.background.data, float)
        counts_off = _convolve_images(dataset.counts.data * exclusion, kernel)
        acceptance_off = _convolve_images(background * exclusion, kernel)
        # FFT round-off: a 0/1 ring summing integer counts gives integers
        counts_off = np.rint(counts_off)
        acceptance_off = np.where(acceptance_off < 1e-12 * background.max(), 0.0, acceptance_off)
        return _on_off(dataset, counts_off, background, acceptance_off, {})


class AdaptiveRingBackgroundMaker:
    """Ring background whose ring grows until ``alpha`` falls below a threshold.

    Rings of increasing size (``fixed_width``: the inner radius grows; ``fixed_r_in``: the
    width grows, in steps of ``stepsize`` up to ``r_out_max``) are tried per pixel; the first
    for which the background summed in a disc of radius ``theta``, divided by the OFF
    acceptance, is at most ``threshold_alpha``. The stored ON acceptance is the per-pixel
    background (so ``alpha * counts_off`` estimates the background of each pixel); pixels
    where no ring qualifies get ``acceptance_off = 0`` and leave the safe mask.

    Parameters
    ----------
    r_in, r_out_max, width, stepsize : `~astropy.units.Quantity`
        Inner radius, largest outer radius, width and step of the rings.
    threshold_alpha : float
        Largest acceptable alpha.
    theta : `~astropy.units.Quantity`
        Radius of the ON integration disc.
    method : {"fixed_width", "fixed_r_in"}
        How the ring grows.
    exclusion_mask : Map, optional
        Boolean sky image, True where OFF counts may be taken.
    """

    tag = "AdaptiveRingBackgroundMaker"

    def __init__(
        self,
        r_in,
        r_out_max,
        width,
        stepsize="0.02 deg",
        threshold_alpha: float = 0.1,
        theta="0.22 deg",
        method: str = "fixed_width",
        exclusion_mask: Map | None = None,
    ) -> None:
        if method not in ("fixed_width", "fixed_r_in"):
            raise ValueError(f"method must be 'fixed_width' or 'fixed_r_in', got {method!r}")
        self.r_in, self.r_out_max = Angle(r_in), Angle(r_out_max)
        self.width, self.stepsize, self.theta = Angle(width), Angle(stepsize), Angle(theta)
        if self.r_in + self.width > self.r_out_max:
            raise ValueError("r_in + width must not exceed r_out_max")
        self.threshold_alpha = float(threshold_alpha)
        self.method = method
        self.exclusion_mask = exclusion_mask

    def __repr__(self) -> str:
        return (
            f"{self.tag}(r_in={self.r_in.deg:.4g} deg, r_out_max={self.r_out_max.deg:.4g} deg, "
            f"width={self.width.deg:.4g} deg, method={self.method!r}, "
            f"threshold_alpha={self.threshold_alpha})"
        )

    def kernels(self, scale: float) -> list[np.ndarray]:
        """Return the rings tried, smallest first (pixel size ``scale`` in deg)."""
        r_in, width = self.r_in.deg / scale, self.width.deg / scale
        r_out_max, step = self.r_out_max.deg / scale, self.stepsize.deg / scale
        if self.method == "fixed_width":
            shapes = [(r, width) for r in np.arange(r_in, r_out_max - width, step)]
        else:
            shapes = [(r_in, w) for w in np.arange(width, r_out_max - r_in, step)]
        return [ring_kernel(r, w) for r, w in shapes or [(r_in, width)]]

    def run(self, dataset: MapDataset, observation=None) -> MapDatasetOnOff:
        """Make the on/off map dataset."""
        _check_dataset(dataset)
        scale = _pixel_scale(dataset.geom)
        exclusion = _exclusion(dataset, self.exclusion_mask)
        background = np.asarray(dataset.background.data, float)
        counts_masked = dataset.counts.data * exclusion
        background_masked = background * exclusion
        acceptance_disc = _convolve_images(background, _tophat(self.theta.deg / scale))
        counts_off = np.full(background.shape, np.nan)
        acceptance_off = np.full(background.shape, np.nan)
        for kernel in self.kernels(scale):
            off = _convolve_images(background_masked, kernel)
            off = np.where(off < 1e-12 * background.max(), 0.0, off)
            with np.errstate(divide="ignore", invalid="ignore"):
                alpha = np.where(off > 0, acceptance_disc / off, np.inf)
            take = (alpha <= self.threshold_alpha) & np.isnan(counts_off)
            if take.any():
                n_off = _convolve_images(counts_masked, kernel)
                counts_off[take] = np.rint(n_off)[take]
                acceptance_off[take] = off[take]
        missing = np.isnan(acceptance_off)
        return _on_off(
            dataset,
            counts_off,
            np.where(missing, 0.0, background),
            np.where(missing, 0.0, acceptance_off),
            {"ring_theta_deg": self.theta.to_value(u.deg)},
        )
