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
    "fft_ladder",
    "forward_kernel",
    "geometry_kernel",
    "kernel_spectra",
    "next_fast_length",
    "storable",
    "tiling",
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


#: Largest side (px) of the square FFTs whose kernel spectra are stored; larger boxes are
#: convolved in tiles (overlap-add).
MAX_FFT_SIZE = 192
#: Smallest ratio between consecutive stored FFT sizes (bounds the number of stored spectra).
FFT_SIZE_RATIO = 1.1


def fft_ladder(kernel_size: int, box_size: int, max_size: int = MAX_FFT_SIZE) -> np.ndarray:
    """Square FFT sizes (5-smooth) for which the kernels' spectra are stored.

    From the smallest fast length above ``kernel_size`` up to the one that holds the full
    convolution of a ``box_size`` image (at most ``max_size``, or the first fast length above
    the kernel when that is larger), each at least :data:`FFT_SIZE_RATIO` times the previous.

    Parameters
    ----------
    kernel_size : int
        Largest kernel side (px).
    box_size : int
        Largest box side (px).
    max_size : int
        Largest stored FFT side (px).
    """
    first = next_fast_length(kernel_size)
    top = max(first, next_fast_length(min(box_size + kernel_size - 1, max_size)))
    ladder = [first]
    while ladder[-1] < top:
        ladder.append(min(next_fast_length(math.ceil(ladder[-1] * FFT_SIZE_RATIO)), top))
    return np.array(ladder, dtype=np.int64)


def kernel_spectra(kernels: np.ndarray, box_shape: tuple[int, int]):
    """Compute the kernels' spectra at every :func:`fft_ladder` size (once per box).

    Returns
    -------
    ladder : numpy.ndarray
        The FFT sizes ``(J,)``.
    offsets : numpy.ndarray
        ``(J + 1,)`` bounds of each size's spectra in ``spectra``.
    costs : numpy.ndarray
        Relative cost of one FFT at each size (``N^2 log N``).
    spectra : numpy.ndarray
        Flat complex array: for size ``N``, ``rfft2(kernels, s=(N, N))`` of shape
        ``(K, N, N // 2 + 1)``.
    """
    kh, kw = kernels.shape[1:]
    ladder = fft_ladder(max(kh, kw), max(box_shape), MAX_FFT_SIZE)
    parts = [np.fft.rfft2(kernels, s=(int(n), int(n))).reshape(-1) for n in ladder]
    offsets = np.concatenate([[0], np.cumsum([p.size for p in parts])]).astype(np.int64)
    costs = ladder.astype(np.float64) ** 2 * np.log2(ladder.astype(np.float64))
    return ladder, offsets, costs, np.ascontiguousarray(np.concatenate(parts))


@numba.njit(cache=True)
def tiling(h, w, kh, kw, ladder, costs):
    """Cheapest ``(size index, tile rows, tile columns)`` to convolve an ``h x w`` image.

    Tiles of ``ty x tx`` pixels with ``ty + kh - 1`` and ``tx + kw - 1`` within the FFT side;
    the cost is the number of tiles times the cost of one FFT.
    """
    best, best_cost, best_ty, best_tx = 0, np.inf, 1, 1
    for j in range(ladder.size):
        ty, tx = ladder[j] - kh + 1, ladder[j] - kw + 1
        if ty < 1 or tx < 1:
            continue
        n_tiles = ((h + ty - 1) // ty) * ((w + tx - 1) // tx)
        # equal tiles: the fewest rows and columns that keep the tile count
        ty = (h + (h + ty - 1) // ty - 1) // ((h + ty - 1) // ty)
        tx = (w + (w + tx - 1) // tx - 1) // ((w + tx - 1) // tx)
        cost = n_tiles * costs[j]
        if cost < best_cost:
            best, best_cost, best_ty, best_tx = j, cost, ty, tx
    return best, best_ty, best_tx


@numba.njit(cache=True)
def _gather_tables(lon_table, lat_table, r0, r1, c0, c1, n_cols, k2):
    """Columns of the node tables ``(F, H W k2)`` for the box pixels ``r0:r1, c0:c1``."""
    n = (r1 - r0) * (c1 - c0) * k2
    lon = np.empty((lon_table.shape[0], n))
    lat = np.empty((lat_table.shape[0], n))
    m = 0
    for r in range(r0, r1):
        for c in range(c0, c1):
            start = (r * n_cols + c) * k2
            for s in range(k2):
                for f in range(lon_table.shape[0]):
                    lon[f, m] = lon_table[f, start + s]
                for f in range(lat_table.shape[0]):
                    lat[f, m] = lat_table[f, start + s]
                m += 1
    return lon, lat


_CACHE: dict = {}
#: Largest array numba freezes into compiled code (``BaseContext.make_constant_array``).
NUMBA_FROZEN_BYTES = 10**6


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

    if box.profile is not None:  # the profile's node tables in place of the coordinates
        lon_nodes, lat_nodes = box.profile.lon_table, box.profile.lat_table

    if box.separable:
        if box.profile is not None:

            @numba.njit
            def _nodes(r0, r1, c0, c1):
                return lon_nodes[:, c0 * k : c1 * k], lat_nodes[:, r0 * k : r1 * k]

        else:

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
        if box.profile is not None:

            @numba.njit
            def _nodes(r0, r1, c0, c1):
                return _gather_tables(lon_nodes, lat_nodes, r0, r1, c0, c1, n_cols, k2)

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

    if box.constant is not None:  # no free parameter: the image of the whole box, once
        full = _pixel_sums(box.constant, omega.shape[0], omega.shape[1]) * omega * inv_k2

        @numba.njit
        def _image(theta, r0, r1, c0, c1):
            return full[r0:r1, c0:c1].copy()

    else:

        @numba.njit
        def _image(theta, r0, r1, c0, c1):
            lon, lat = _nodes(r0, r1, c0, c1)
            h, w = r1 - r0, c1 - c0
            image = _pixel_sums(value_fn(lon, lat, theta), h, w)
            for i in range(h):
                for j in range(w):
                    image[i, j] *= omega[r0 + i, c0 + j] * inv_k2
            return image

    ladder, offsets, costs, spectra = kernel_spectra(kernels, (omega.shape[0], omega.shape[1]))

    @numba.njit
    def _spectra(j):
        size = ladder[j]
        return spectra[offsets[j] : offsets[j + 1]].reshape((n_kernels, size, size // 2 + 1))

    @numba.njit
    def forward(theta):
        out = np.zeros((n_kernels, n_out))
        r0, r1, c0, c1 = box_bounds(geometry_fn(theta), centres, reach_margin)
        if r1 <= r0 or c1 <= c0:
            return out
        image = _image(theta, r0, r1, c0, c1)
        h, w = r1 - r0, c1 - c0
        j, ty, tx = tiling(h, w, kh, kw, ladder, costs)
        size = ladder[j]
        shape = (size, size)
        spec = _spectra(j)
        for y0 in range(0, h, ty):
            th = min(ty, h - y0)
            for x0 in range(0, w, tx):
                tw = min(tx, w - x0)
                spectrum = np.fft.rfft2(
                    np.ascontiguousarray(image[y0 : y0 + th, x0 : x0 + tw]), s=shape
                )
                for q in range(n_kernels):
                    conv = np.fft.irfft2(spectrum * spec[q], s=shape)
                    for i in range(th + kh - 1):
                        for jj in range(tw + kw - 1):
                            idx = out_index[r0 + y0 + i, c0 + x0 + jj]
                            if idx >= 0:
                                out[q, idx] += conv[i, jj]
        return out

    @numba.njit
    def vjp(theta, grad):
        r0, r1, c0, c1 = box_bounds(geometry_fn(theta), centres, reach_margin)
        if r1 <= r0 or c1 <= c0:
            return np.zeros(theta.size)
        h, w = r1 - r0, c1 - c0
        j, ty, tx = tiling(h, w, kh, kw, ladder, costs)
        size = ladder[j]
        shape = (size, size)
        spec = _spectra(j)
        per_pixel = np.empty((h, w))
        window = np.zeros(shape)
        for y0 in range(0, h, ty):
            th = min(ty, h - y0)
            for x0 in range(0, w, tx):
                tw = min(tx, w - x0)
                total = np.zeros((size, size // 2 + 1), dtype=np.complex128)
                for q in range(n_kernels):
                    for i in range(th + kh - 1):
                        for jj in range(tw + kw - 1):
                            idx = out_index[r0 + y0 + i, c0 + x0 + jj]
                            window[i, jj] = grad[q, idx] if idx >= 0 else 0.0
                    total += np.fft.rfft2(window) * np.conj(spec[q])
                # correlation with the kernels: no wrap-around for the first th x tw entries
                correlation = np.fft.irfft2(total, s=shape)
                for i in range(th):
                    for jj in range(tw):
                        per_pixel[y0 + i, x0 + jj] = (
                            correlation[i, jj] * omega[r0 + y0 + i, c0 + x0 + jj] * inv_k2
                        )
        lon, lat = _nodes(r0, r1, c0, c1)
        return vjp_fn(lon, lat, theta, _spread(per_pixel, h, w))

    @numba.njit
    def geometry(theta):
        return geometry_fn(theta)

    frozen = (lon_nodes, lat_nodes, centres, omega, kernels, out_index, spectra)
    if box.constant is not None:  # convolved once: every call returns a copy
        output = forward(np.zeros(0))
        frozen = (centres, output)

        @numba.njit
        def forward(theta):
            return output.copy()

        @numba.njit
        def vjp(theta, grad):
            return np.zeros(0)

    small = all(np.asarray(a).nbytes <= NUMBA_FROZEN_BYTES for a in frozen)
    _CACHE[box.key] = (forward, vjp, geometry, small)
    return _CACHE[box.key]


def storable(box) -> bool:
    """Whether the box's compiled kernels can be stored in numba's on-disk cache.

    numba freezes the arrays a jitted closure captures into the compiled code only up to
    :data:`NUMBA_FROZEN_BYTES` each; larger ones (the kernels' spectra of most real PSFs, the
    scatter index of a static box beyond ~350 x 350 px) are addressed in memory, which rules out
    the cache: such boxes return no cache key (compiled again in every process) instead of
    a "Cannot cache" warning.
    """
    return box.cacheable and _kernels(box)[3]


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
        key = f"following-box-forward-{op.box.key}" if storable(op.box) else None
        return forward_kernel(op.box), key

    @register_funcify_and_cache_key(FollowingBoxVJP)
    def _numba_vjp(op, node=None, **kwargs):
        key = f"following-box-vjp-{op.box.key}" if storable(op.box) else None
        return vjp_kernel(op.box), key


_register_numba()
