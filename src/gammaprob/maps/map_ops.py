"""Array kernels behind :class:`gammaprob.maps.Map`: interpolation, histogramming, smoothing.

Pure functions on plain numpy arrays; units and geometries are handled by the caller.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["disk_kernel", "histogram_idx", "interp_pix", "smooth_image_stack"]


def interp_pix(
    data: np.ndarray,
    pix: tuple[np.ndarray, ...],
    linear: tuple[bool, ...],
    fill_value: float = np.nan,
    values_scale: str = "lin",
) -> np.ndarray:
    """Interpolate an array at fractional pixel coordinates.

    Parameters
    ----------
    data : numpy.ndarray
        Values, one dimension per entry of ``pix`` (numpy order).
    pix : tuple of numpy.ndarray
        Pixel coordinates per dimension (numpy order, broadcastable); element ``i`` of a
        dimension has its centre at pixel ``i``.
    linear : tuple of bool
        Per dimension: multilinear interpolation (True) or nearest pixel (False).
    fill_value : float
        Value outside ``[-0.5, n - 0.5]`` in any dimension (or for NaN pixels).
    values_scale : {"lin", "log", "sqrt"}
        Interpolate ``data``, ``log(data)`` or ``sqrt(data)`` and transform back.

    Returns
    -------
    numpy.ndarray
        Interpolated values, shape ``broadcast(*pix).shape``. Within half a pixel of the
        border the value of the outermost pixel centre is used (no extrapolation).
    """
    pix = np.broadcast_arrays(*(np.asarray(p, dtype=float) for p in pix))
    shape = data.shape
    if len(pix) != data.ndim:
        raise ValueError(f"need {data.ndim} pixel arrays, got {len(pix)}")
    valid = np.ones(pix[0].shape, dtype=bool)
    for p, n in zip(pix, shape, strict=True):
        valid &= (p >= -0.5) & (p <= n - 0.5)
    if values_scale == "log":
        with np.errstate(divide="ignore"):
            values = np.log(data)
    elif values_scale == "sqrt":
        values = np.sqrt(data)
    elif values_scale == "lin":
        values = data
    else:
        raise ValueError(f"values_scale must be 'lin', 'log' or 'sqrt', got {values_scale!r}")

    lower, frac = [], []
    for p, n, lin in zip(pix, shape, linear, strict=True):
        p = np.where(valid, p, 0.0)
        if lin and n > 1:
            p = np.clip(p, 0.0, n - 1.0)
            i0 = np.minimum(np.floor(p).astype(np.int64), n - 2)
            lower.append(i0)
            frac.append(p - i0)
        else:
            lower.append(np.clip(np.floor(p + 0.5).astype(np.int64), 0, n - 1))
            frac.append(None)
    result = np.zeros(pix[0].shape, dtype=float)
    linear_dims = [d for d, f in enumerate(frac) if f is not None]
    for corner in itertools.product((0, 1), repeat=len(linear_dims)):
        idx = list(lower)
        weight = np.ones(pix[0].shape, dtype=float)
        for d, c in zip(linear_dims, corner, strict=True):
            idx[d] = lower[d] + c
            weight = weight * (frac[d] if c else 1.0 - frac[d])
        corner_values = values[tuple(idx)]
        # A zero weight must not turn -inf (log of 0) into NaN.
        result = result + np.where(weight > 0, weight * corner_values, 0.0)
    if values_scale == "log":
        result = np.exp(result)
    elif values_scale == "sqrt":
        result = np.square(result)
    return np.where(valid, result, fill_value)


def histogram_idx(
    shape: tuple[int, ...], idx: tuple[np.ndarray, ...], weights: np.ndarray | None = None
) -> np.ndarray:
    """Histogram index tuples (numpy order) into an array of ``shape``; ``-1`` indices are skipped.

    Parameters
    ----------
    shape : tuple of int
        Output shape.
    idx : tuple of numpy.ndarray
        Integer indices per dimension (broadcastable); an entry with any ``-1`` is dropped.
    weights : numpy.ndarray, optional
        Weight per entry (default 1).

    Returns
    -------
    numpy.ndarray
        Summed weights, float64.
    """
    idx = np.broadcast_arrays(*idx)
    keep = np.ones(idx[0].shape, dtype=bool)
    for i in idx:
        keep &= i >= 0
    w = np.ones(idx[0].shape) if weights is None else np.broadcast_to(weights, idx[0].shape)
    flat = np.ravel_multi_index(tuple(i[keep] for i in idx), shape)
    counts = np.bincount(flat, weights=w[keep], minlength=int(np.prod(shape)))
    return counts.reshape(shape)


def disk_kernel(radius_pix: float) -> np.ndarray:
    """Normalised top-hat kernel of ``radius_pix`` pixels, sampled at pixel centres (odd size)."""
    if radius_pix <= 0:
        raise ValueError(f"disk radius must be positive, got {radius_pix} pixels")
    half = int(np.ceil(radius_pix))
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    kernel = (x**2 + y**2 <= radius_pix**2).astype(float)
    return kernel / kernel.sum()


def smooth_image_stack(
    data: np.ndarray,
    width_pix: float,
    kernel: str = "gauss",
    mode: str = "constant",
    truncate: float = 4.0,
) -> np.ndarray:
    """Convolve every image (last two dimensions) of ``data`` with a normalised kernel.

    Parameters
    ----------
    data : numpy.ndarray
        Array of shape ``(..., ny, nx)``.
    width_pix : float
        Gaussian sigma, disk radius, or box full width in pixels.
    kernel : {"gauss", "disk", "box"}
        Kernel shape.
    mode : str
        Border handling of `scipy.ndimage` (``"constant"``: zero outside the image, so the
        total decreases near the border; ``"reflect"``: mirrored, gammapy's default).
    truncate : float
        Gaussian kernel extent in sigmas.

    Returns
    -------
    numpy.ndarray
        Smoothed array (float64), same shape.
    """
    import scipy.ndimage

    data = np.asarray(data, dtype=float)
    lead = data.ndim - 2
    if kernel == "gauss":
        sigma = [0.0] * lead + [width_pix, width_pix]
        return scipy.ndimage.gaussian_filter(data, sigma, mode=mode, truncate=truncate)
    if kernel == "disk":
        k = disk_kernel(width_pix)
        k = k.reshape((1,) * lead + k.shape)
        return scipy.ndimage.convolve(data, k, mode=mode, cval=0.0)
    if kernel == "box":
        n = max(1, round(width_pix))
        return scipy.ndimage.uniform_filter(data, size=[1] * lead + [n, n], mode=mode)
    raise ValueError(f"kernel must be 'gauss', 'disk' or 'box', got {kernel!r}")
