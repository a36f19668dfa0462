r"""The PSF of a map dataset, sampled for the two ways sources are folded.

* Point sources: :func:`psf_grid` resamples the radial table on a uniform grid in
  ``s = sqrt(sin^2(r/2))``, and :func:`psf_lookup` interpolates it linearly in the graph at the
  pixel-source haversines (smooth in the source position, finite gradients at ``r = 0``).
* Extended sources: :func:`psf_kernel` samples the PSF on a square grid of pixel offsets around
  a pixel (sub-pixel averaged, using the map's local pixel-to-sky Jacobian) for convolution; each
  kernel is normalised to unit sum over the disc within the containment radius, as gammapy's
  PSF kernels are.
"""

from __future__ import annotations

import numpy as np

from gammaprob.forward.map_response import MapResponse, haversine

__all__ = ["S_FLOOR", "psf_grid", "psf_kernel", "psf_lookup"]

#: Added to ``sin^2(r/2)`` so that ``sqrt`` stays differentiable at ``r = 0``.
S_FLOOR = 1e-12


def psf_grid(response: MapResponse, radius: float, n_grid: int) -> tuple[np.ndarray, float]:
    """PSF resampled on a uniform grid in ``s = sqrt(sin^2(r/2))`` up to ``radius`` (deg).

    Returns
    -------
    tuple
        The table ``(n_psf, n_grid + 1)`` (sr-1) and the step in ``s``. The last node, one step
        beyond ``radius``, is 0, so the PSF falls linearly to 0 within one step outside
        ``radius`` and is 0 further out (:func:`psf_lookup` clips to the last node).
    """
    s_max = np.sin(0.5 * np.deg2rad(min(radius, 180.0)))
    ds = s_max / (n_grid - 1)
    h = (np.arange(n_grid) * ds) ** 2
    table = np.stack(
        [np.interp(h, response.psf_haversine, row, right=0.0) for row in response.psf_values]
    )
    table = np.concatenate([table, np.zeros((table.shape[0], 1))], axis=1)
    return np.ascontiguousarray(table), float(ds)


def psf_lookup(table: np.ndarray, ds: float, h):
    """PSF ``(n_psf, n)`` at haversines ``h`` (tensor ``(n,)``), linear in ``s`` on the grid."""
    import pytensor.tensor as pt

    x = pt.sqrt(h + S_FLOOR) / ds
    idx = pt.clip(pt.floor(x), 0, table.shape[1] - 2).astype("int64")
    w = pt.clip(x - idx, 0.0, 1.0)
    step = pt.as_tensor_variable(np.diff(table, axis=1))
    return pt.as_tensor_variable(table[:, :-1])[:, idx] + step[:, idx] * w


def psf_kernel(response: MapResponse, pixel: int, radius: float, oversampling: int) -> np.ndarray:
    """Convolution kernels of the PSF around one map pixel, one per PSF energy bin.

    Parameters
    ----------
    response : MapResponse
        The dataset's response.
    pixel : int
        Flat index of the pixel whose local pixel scale and orientation are used.
    radius : float
        Kernel radius (deg): the kernel covers ``±ceil(radius / pixel size)`` pixels per axis and
        is zero beyond ``radius``.
    oversampling : int
        The PSF is averaged over ``oversampling**2`` points per kernel pixel.

    Returns
    -------
    numpy.ndarray
        ``(n_psf, 2 m_y + 1, 2 m_x + 1)``; each kernel sums to 1 (an energy bin without PSF
        gets a delta kernel). ``kernel[:, m_y + dy, m_x + dx]`` is the share of the flux of a
        pixel that lands ``dy`` rows and ``dx`` columns away.
    """
    jac = [a.reshape(-1)[pixel] for a in response.pixel_jacobian()]
    dlon_dx, dlon_dy, dlat_dx, dlat_dy = jac
    lon_c, lat_c = response.lon[pixel], response.lat[pixel]
    cos_lat = np.cos(np.deg2rad(lat_c))
    scale_x = np.hypot(dlon_dx * cos_lat, dlat_dx)
    scale_y = np.hypot(dlon_dy * cos_lat, dlat_dy)
    m_x, m_y = (int(np.ceil(radius / scale)) for scale in (scale_x, scale_y))
    offsets = (np.arange(oversampling) + 0.5) / oversampling - 0.5
    su, sv = (a.reshape(-1) for a in np.meshgrid(offsets, offsets))
    v, u = np.mgrid[-m_y : m_y + 1, -m_x : m_x + 1]
    x = u.reshape(-1, 1) + su  # (n_kernel_pix, n_sub) offsets in pixels
    y = v.reshape(-1, 1) + sv
    h = haversine(
        lon_c + dlon_dx * x + dlon_dy * y, lat_c + dlat_dx * x + dlat_dy * y, lon_c, lat_c
    )
    h_max = np.sin(0.5 * np.deg2rad(radius)) ** 2
    values = np.stack(
        [
            np.where(h <= h_max, np.interp(h, response.psf_haversine, row, right=0.0), 0.0).mean(
                axis=-1
            )
            for row in response.psf_values
        ]
    ).reshape(-1, 2 * m_y + 1, 2 * m_x + 1)
    total = values.sum(axis=(1, 2), keepdims=True)
    delta = np.zeros_like(values)
    delta[:, m_y, m_x] = 1.0
    return np.where(total > 0, values / np.where(total > 0, total, 1.0), delta)
