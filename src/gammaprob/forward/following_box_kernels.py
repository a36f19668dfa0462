"""Numba kernels of :mod:`gammaprob.forward.following_box` (FFTs by rocket-fft inside numba).

``forward_kernel(box)`` and ``vjp_kernel(box)`` build, once per :class:`FollowingBox`, jitted
functions closing over the box's compiled brightness functions and constants; the same
functions run in :meth:`Op.perform` and inside numba-compiled PyTensor graphs (registered
below), so both backends give identical numbers.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import rocket_fft  # noqa: F401  (registers numpy.fft for numba)

__all__ = [
    "box_bounds",
    "forward_kernel",
    "geometry_kernel",
    "next_fast_length",
    "vjp_kernel",
]

_D2R = math.pi / 180.0


@numba.njit(cache=True)
def next_fast_length(n: int) -> int:
    """Smallest ``2^a 3^b 5^c >= n`` (a fast FFT length)."""
    best = 1
    while best < n:
        best *= 2
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            if m < best:
                best = m
            p35 *= 3
        p5 *= 5
    return best


@numba.njit(cache=True)
def box_bounds(geometry, centres, reach_margin):
    """Rows ``r0:r1`` and columns ``c0:c1`` of the pixels within reach of the source.

    ``geometry`` is ``(lon_0, lat_0, radius)`` (deg) and ``centres`` the unit vectors of the
    pixel centres ``(H, W, 3)``; a pixel is in reach when its centre is within
    ``radius + reach_margin`` of the source centre. An empty box gives ``r1 <= r0``.
    """
    lon_0, lat_0 = geometry[0] * _D2R, geometry[1] * _D2R
    reach = min(max(geometry[2], 0.0) + reach_margin, 180.0) * _D2R
    threshold = math.cos(reach)
    x = math.cos(lat_0) * math.cos(lon_0)
    y = math.cos(lat_0) * math.sin(lon_0)
    z = math.sin(lat_0)
    n_rows, n_cols = centres.shape[0], centres.shape[1]
    r0, r1, c0, c1 = n_rows, 0, n_cols, 0
    for r in range(n_rows):
        for c in range(n_cols):
            if centres[r, c, 0] * x + centres[r, c, 1] * y + centres[r, c, 2] * z >= threshold:
                r0 = min(r0, r)
                r1 = max(r1, r + 1)
                c0 = min(c0, c)
                c1 = max(c1, c + 1)
    return r0, r1, c0, c1


_CACHE: dict = {}


def _kernels(box):
    """``(forward, vjp)`` jitted functions of one box (built once per box identity)."""
    if box.key in _CACHE:
        return _CACHE[box.key]
    value_fn, vjp_fn, geometry_fn = box.value_fn, box.vjp_fn, box.geometry_fn
    k = box.oversampling
    lon_nodes, lat_nodes, centres = box.lon_nodes, box.lat_nodes, box.centres
    omega, kernels, out_index = box.solid_angle, box.kernels, box.out_index
    reach_margin, n_out = box.reach_margin, box.n_out
    n_kernels, kh, kw = kernels.shape
    n_cols = omega.shape[1]
    k2 = k * k
    inv_k2 = 1.0 / k2

    if box.separable:

        @numba.njit
        def _nodes(r0, r1, c0, c1):
            lon = lon_nodes[c0 * k : c1 * k].reshape((1, (c1 - c0) * k))
            lat = lat_nodes[r0 * k : r1 * k].reshape(((r1 - r0) * k, 1))
            return lon, lat

        @numba.njit
        def _pixel_sums(values, h, w):
            image = np.zeros((h, w))
            for i in range(h * k):
                for j in range(w * k):
                    image[i // k, j // k] += values[i, j]
            return image

        @numba.njit
        def _spread(per_pixel, h, w):
            out = np.empty((h * k, w * k))
            for i in range(h * k):
                for j in range(w * k):
                    out[i, j] = per_pixel[i // k, j // k]
            return out

    else:

        @numba.njit
        def _nodes(r0, r1, c0, c1):
            h, w = r1 - r0, c1 - c0
            lon = np.empty(h * w * k2)
            lat = np.empty(h * w * k2)
            n = 0
            for r in range(r0, r1):
                for c in range(c0, c1):
                    p = r * n_cols + c
                    for s in range(k2):
                        lon[n] = lon_nodes[p, s]
                        lat[n] = lat_nodes[p, s]
                        n += 1
            return lon, lat

        @numba.njit
        def _pixel_sums(values, h, w):
            image = np.zeros((h, w))
            n = 0
            for i in range(h):
                for j in range(w):
                    for _ in range(k2):
                        image[i, j] += values[n]
                        n += 1
            return image

        @numba.njit
        def _spread(per_pixel, h, w):
            out = np.empty(h * w * k2)
            n = 0
            for i in range(h):
                for j in range(w):
                    for _ in range(k2):
                        out[n] = per_pixel[i, j]
                        n += 1
            return out

    @numba.njit
    def _image(theta, r0, r1, c0, c1):
        lon, lat = _nodes(r0, r1, c0, c1)
        h, w = r1 - r0, c1 - c0
        image = _pixel_sums(value_fn(lon, lat, theta), h, w)
        for i in range(h):
            for j in range(w):
                image[i, j] *= omega[r0 + i, c0 + j] * inv_k2
        return image

    @numba.njit
    def forward(theta):
        out = np.zeros((n_kernels, n_out))
        r0, r1, c0, c1 = box_bounds(geometry_fn(theta), centres, reach_margin)
        if r1 <= r0 or c1 <= c0:
            return out
        image = _image(theta, r0, r1, c0, c1)
        h, w = r1 - r0, c1 - c0
        ho, wo = h + kh - 1, w + kw - 1
        shape = (next_fast_length(ho), next_fast_length(wo))
        spectrum = np.fft.rfft2(image, s=shape)
        for q in range(n_kernels):
            conv = np.fft.irfft2(spectrum * np.fft.rfft2(kernels[q], s=shape), s=shape)
            for i in range(ho):
                for j in range(wo):
                    idx = out_index[r0 + i, c0 + j]
                    if idx >= 0:
                        out[q, idx] = conv[i, j]
        return out

    @numba.njit
    def vjp(theta, grad):
        r0, r1, c0, c1 = box_bounds(geometry_fn(theta), centres, reach_margin)
        if r1 <= r0 or c1 <= c0:
            return np.zeros(theta.size)
        h, w = r1 - r0, c1 - c0
        ho, wo = h + kh - 1, w + kw - 1
        shape = (next_fast_length(ho), next_fast_length(wo))
        total = np.zeros((shape[0], shape[1] // 2 + 1), dtype=np.complex128)
        upstream = np.zeros((ho, wo))
        for q in range(n_kernels):
            for i in range(ho):
                for j in range(wo):
                    idx = out_index[r0 + i, c0 + j]
                    upstream[i, j] = grad[q, idx] if idx >= 0 else 0.0
            total += np.fft.rfft2(upstream, s=shape) * np.conj(np.fft.rfft2(kernels[q], s=shape))
        # correlation with the kernels: no wrap-around for the first h x w entries
        correlation = np.fft.irfft2(total, s=shape)
        per_pixel = np.empty((h, w))
        for i in range(h):
            for j in range(w):
                per_pixel[i, j] = correlation[i, j] * omega[r0 + i, c0 + j] * inv_k2
        lon, lat = _nodes(r0, r1, c0, c1)
        return vjp_fn(lon, lat, theta, _spread(per_pixel, h, w))

    @numba.njit
    def geometry(theta):
        return geometry_fn(theta)

    _CACHE[box.key] = (forward, vjp, geometry)
    return _CACHE[box.key]


def forward_kernel(box):
    """Return the jitted forward function ``theta -> (K, n_out)`` of ``box``."""
    return _kernels(box)[0]


def vjp_kernel(box):
    """Return the jitted adjoint ``(theta, G) -> (n_theta,)`` of ``box``."""
    return _kernels(box)[1]


def geometry_kernel(box):
    """Return the jitted ``theta -> (lon_0, lat_0, radius)`` (deg) of ``box``."""
    return _kernels(box)[2]


def _register_numba() -> None:
    from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

    from gammaprob.forward.following_box import FollowingBoxConvolve, FollowingBoxVJP

    @register_funcify_and_cache_key(FollowingBoxConvolve)
    def _numba_forward(op, node=None, **kwargs):
        key = f"following-box-forward-{op.box.key}" if op.box.cacheable else None
        return forward_kernel(op.box), key

    @register_funcify_and_cache_key(FollowingBoxVJP)
    def _numba_vjp(op, node=None, **kwargs):
        key = f"following-box-vjp-{op.box.key}" if op.box.cacheable else None
        return vjp_kernel(op.box), key


_register_numba()
