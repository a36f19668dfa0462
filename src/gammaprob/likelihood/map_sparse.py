r"""Poisson likelihood of a map dataset whose cost follows its extended sources.

Where the background of every bin is a fixed map times one factor per energy bin,
``b_ep g_e`` (FoV norm/tilt), the background-only Poisson terms of all bins of energy ``e``
sum to sufficient statistics computed once,

.. math::
    \sum_p \left[n_{ep} \log(g_e b_{ep}) - g_e b_{ep} - \log n_{ep}!\right]
    = C_e + N_e \log g_e - B_e g_e,

so only the bins where a source predicts counts need their own term. For an extended source
on a box that follows it (:mod:`gammaprob.forward.following_box`) these are the pixels of its
current box after the PSF convolution (the "window"); each adds, exactly,

.. math::
    n \log\left(1 + \frac{s}{g b}\right) - s,

with ``s`` its predicted signal (energy dispersion included). Bins reached by a source
evaluated on a static region (point sources, extended models that are not elementwise) and
bins with no background but counts take their full term at every call. The aggregated bins
outside the cutout (:class:`~gammaprob.forward.MapFold`) are background-only bins too.

One compiled loop (:class:`FusedMapPoisson`) returns the log-likelihood and its derivatives
with respect to ``g``, the static signal, the fluxes and the box outputs, touching only the
window pixels (and the background sufficient statistics); the following box's own adjoint
then reads the gradient on its window only.

The observed variable is still generative: ``"<ds>::counts"`` is a ``pm.CustomDist`` whose
draws are Poisson of the dense ``npred`` (prior and posterior predictive sampling unchanged)
and whose log-probability is :class:`MapPoissonLogp`, the dense per-bin graph (per-bin values
for LOO and ``pm.compute_log_likelihood``); :class:`EnergySums` sums it per energy bin on the
windows, as the fused loop sums it whole (the default ``log_likelihood`` group). Graph
rewrites put the fused loop in place of its sum and of the sum's gradient in numba-compiled
graphs (PyMC's and nutpie's default); other backends (JAX) compute the dense graph, the same
numbers.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph
from pytensor.graph.basic import Apply, Constant
from pytensor.graph.op import Op
from scipy.special import gammaln, xlogy

__all__ = [
    "BoxBounds",
    "EnergySums",
    "FusedMapPoisson",
    "MapPoissonLogp",
    "SparseMapData",
    "energy_logp",
    "sparse_poisson_term",
]

_VERSION = "1"
#: reassociation and contraction only: the loop tests for -inf and needs its infinities
_FASTMATH = {"contract", "reassoc", "arcp", "nsz"}


@dataclass(frozen=True, eq=False)
class SparseMapData:
    """Constants of the fused map likelihood of one dataset (built once).

    Attributes
    ----------
    counts, background : numpy.ndarray
        Observed and background counts of the cutout bins ``(n_reco, n_cut)``.
    mask : numpy.ndarray
        Which cutout bins enter the likelihood ``(n_reco, n_cut)``.
    exposure : numpy.ndarray
        Exposure of the cutout pixels ``(n_true, n_cut)`` (cm2 s).
    edisp : numpy.ndarray
        Energy dispersion ``(n_true, n_reco)``.
    static : numpy.ndarray
        Cutout positions whose bins take their full term at every call (static sources' reach,
        bins with counts but no background), ``(n_static,)``.
    n_sum, b_sum : numpy.ndarray
        Per energy bin, summed counts and background of all other bins, aggregated bins
        outside the cutout included, ``(n_reco,)``.
    constant : float
        ``sum(n log b - log n!)`` over the same bins.
    weights : tuple
        Per following source: ``(n_true, K)`` mixing of its ``K`` box outputs into true-energy
        rows, or None (the outputs are the rows).
    out_index : tuple
        Per following source: cutout position of each full-convolution pixel, -1 outside.
    kernel_shapes : tuple
        Per following source: ``(kh, kw)`` of its PSF kernels.
    inside, outside_energy, background_outside, likelihood_counts : numpy.ndarray
        The dense layout of :class:`~gammaprob.forward.MapFold` (for the per-bin graph).
    """

    counts: np.ndarray
    background: np.ndarray
    mask: np.ndarray
    exposure: np.ndarray
    edisp: np.ndarray
    static: np.ndarray
    n_sum: np.ndarray
    b_sum: np.ndarray
    constant: float
    weights: tuple
    out_index: tuple
    kernel_shapes: tuple
    inside: np.ndarray
    outside_energy: np.ndarray
    background_outside: np.ndarray
    likelihood_counts: np.ndarray

    @classmethod
    def build(cls, fold, static_fold, boxes, weights) -> SparseMapData:
        """Collect the constants from the dataset's fold and its static-source fold.

        Parameters
        ----------
        fold : MapFold
            The dataset's fold with all sources.
        static_fold : MapFold
            The fold of its sources evaluated on static regions (and its background model);
            its cutout holds the bins that take their full term.
        boxes : sequence of FollowingBox
            The following boxes, scattering onto ``fold``'s cutout.
        weights : sequence
            Per box: the ``(n_true, K)`` mixing or None.
        """
        r = fold.response
        n_reco = r.edisp.shape[1]
        n_cut = fold.cutout.size
        mask = np.zeros(n_reco * n_cut, bool)
        mask[fold.inside] = True
        mask = mask.reshape(n_reco, n_cut)
        counts = np.where(mask, r.counts[:, fold.cutout], 0).astype(np.float64)
        background = np.where(mask, r.background[:, fold.cutout], 0.0).astype(np.float64)
        static = np.searchsorted(fold.cutout, static_fold.cutout).astype(np.int64)
        if static.size and not np.array_equal(fold.cutout[static], static_fold.cutout):
            raise ValueError("the static sources' cutout is not inside the dataset's cutout")
        rest = mask.copy()
        rest[:, static] = False
        singular = rest & (background <= 0) & (counts > 0)
        if singular.any():
            raise ValueError(
                f"dataset {r.name!r}: bins with counts but no background outside the static "
                "cutout (expected MapFold to keep them)"
            )
        n_out = np.zeros(n_reco)
        b_out = np.zeros(n_reco)
        n_out[fold.outside_energy] = fold.counts[fold.inside.size :]
        b_out[fold.outside_energy] = fold.background_outside
        n_rest, b_rest = np.where(rest, counts, 0.0), np.where(rest, background, 0.0)
        constant = float(
            np.sum(xlogy(n_rest, np.where(rest, background, 1.0)) - gammaln(n_rest + 1.0))
            + np.sum(xlogy(n_out, b_out) - gammaln(n_out + 1.0))
        )
        return cls(
            counts=counts,
            background=background,
            mask=mask,
            exposure=np.ascontiguousarray(r.exposure[:, fold.cutout], dtype=np.float64),
            edisp=np.ascontiguousarray(r.edisp, dtype=np.float64),
            static=static,
            n_sum=n_rest.sum(axis=1) + n_out,
            b_sum=b_rest.sum(axis=1) + b_out,
            constant=constant,
            weights=tuple(None if w is None else np.asarray(w, np.float64) for w in weights),
            out_index=tuple(np.ascontiguousarray(b.out_index) for b in boxes),
            kernel_shapes=tuple(tuple(int(x) for x in b.kernels.shape[1:]) for b in boxes),
            inside=fold.inside,
            outside_energy=fold.outside_energy,
            background_outside=np.asarray(fold.background_outside, dtype=np.float64),
            likelihood_counts=np.asarray(fold.counts),
        )

    @property
    def key(self) -> str:
        """Digest of every constant (identity of the compiled loop)."""
        if "_key" not in self.__dict__:
            digest = hashlib.sha256(_VERSION.encode())
            for value in self.__dict__.values():
                for part in value if isinstance(value, tuple) else (value,):
                    array = np.asarray(part if part is not None else np.nan)
                    digest.update(str((array.dtype, array.shape)).encode())
                    digest.update(np.ascontiguousarray(array).tobytes())
            object.__setattr__(self, "_key", digest.hexdigest())
        return self.__dict__["_key"]

    def __eq__(self, other) -> bool:
        return isinstance(other, SparseMapData) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        n_reco, n_cut = self.counts.shape
        return (
            f"SparseMapData({n_reco} energies x {n_cut} px, {self.static.size} static px, "
            f"{len(self.out_index)} following source(s), key={self.key[:12]})"
        )

    def dense_npred(self, g, static_signal, flux, outputs):
        """Return the expected counts of the likelihood bins as a dense graph (inside, aggregated)."""
        true = None
        for i, (c, w) in enumerate(zip(outputs, self.weights, strict=True)):
            rows = c if w is None else pt.dot(pt.as_tensor_variable(w), c)
            term = flux[i][:, None] * pt.maximum(rows, 0.0)
            true = term if true is None else true + term
        signal = pt.dot(pt.as_tensor_variable(self.edisp.T), true * self.exposure)
        if self.static.size:
            signal = pt.inc_subtensor(signal[:, self.static], static_signal)
        mu = signal + g[:, None] * self.background
        inside = mu.reshape((-1,))[self.inside]
        outside = g[self.outside_energy] * self.background_outside
        return pt.concatenate([inside, outside])

    def energy_index(self) -> np.ndarray:
        """Return the reconstructed-energy bin of each likelihood bin (the dense layout)."""
        n_cut = max(self.counts.shape[1], 1)
        return np.concatenate([self.inside // n_cut, self.outside_energy]).astype(np.int64)


class BoxBounds(Op):
    """``theta -> (r0, r1, c0, c1)``: rows and columns of a following box at ``theta``."""

    __props__ = ("box",)

    def __init__(self, box):
        self.box = box

    def make_node(self, theta):
        """Apply to the box's free spatial parameters."""
        theta = pt.as_tensor_variable(theta).astype("float64")
        return Apply(self, [theta], [pt.tensor(dtype="int64", shape=(4,))])

    def perform(self, node, inputs, output_storage):
        """Evaluate with the box's compiled geometry."""
        output_storage[0][0] = np.asarray(self.box.numpy_box(inputs[0]), dtype=np.int64)

    def connection_pattern(self, node):
        """Integer output: not differentiable."""
        return [[False]]

    def pullback(self, inputs, outputs, output_grads):
        """No gradient (the bounds are integers)."""
        from pytensor.gradient import DisconnectedType

        return [DisconnectedType()()]


class FusedMapPoisson(Op):
    """Log-likelihood of a map dataset and its gradient, on the sources' windows only.

    Inputs: the background factors ``g`` ``(n_reco,)``, the static signal ``(n_reco,
    n_static)``, the fluxes ``(n_src, n_true)``, the box bounds ``(n_src, 4)`` and each
    following box's output ``(K_i, n_cut)``. Outputs: the log-likelihood and its derivatives
    with respect to the differentiable inputs, in their order (bounds excluded).
    """

    __props__ = ("data",)

    def __init__(self, data: SparseMapData):
        self.data = data

    def make_node(self, g, static_signal, flux, bounds, *outputs):
        """Apply to the ingredients (see the class docstring)."""
        inputs = [pt.as_tensor_variable(x).astype("float64") for x in (g, static_signal, flux)]
        bounds = pt.as_tensor_variable(bounds).astype("int64")
        outputs = [pt.as_tensor_variable(c).astype("float64") for c in outputs]
        types = [pt.scalar(dtype="float64")] + [x.type() for x in (*inputs, *outputs)]
        return Apply(self, [*inputs, bounds, *outputs], types)

    def perform(self, node, inputs, output_storage):
        """Run the compiled loop."""
        result = _fused_kernel(self.data, len(inputs) - 4)(*inputs)
        for storage, value in zip(output_storage, result, strict=True):
            storage[0] = np.asarray(value)


def _window_loop_source(n_src: int) -> str:
    names = ", ".join(f"c{i}" for i in range(n_src))
    packed = ", ".join(f"np.ascontiguousarray(c{i})" for i in range(n_src))
    return (
        f"def kernel(g, static_signal, flux, bounds, {names}):\n"
        f"    result = core(g, static_signal, flux, bounds, ({packed},))\n"
        f"    return (np.asarray(result[0]), result[1], result[2], result[3], "
        + ", ".join(f"result[4][{i}]" for i in range(n_src))
        + ")\n"
    )


_KERNELS: dict = {}


def _box_tables(data: SparseMapData, n_src: int):
    """Return the following boxes' tables as arrays for the jitted loops.

    ``identity`` (whether a box's outputs are its true-energy rows), the mixing ``weights``
    padded to ``(n_src, n_true, K_max)``, the scatter ``out_index`` padded to ``(n_src, rows,
    cols)`` (-1 outside) and the PSF ``kernel_shapes`` ``(n_src, 2)``.
    """
    n_true = data.edisp.shape[0]
    k_max = max([1] + [w.shape[1] for w in data.weights if w is not None])
    identity = np.array([w is None for w in data.weights], dtype=np.bool_)
    weights = np.zeros((n_src, n_true, k_max))
    for i, w in enumerate(data.weights):
        if w is not None:
            weights[i, :, : w.shape[1]] = w
    rows = max([1] + [o.shape[0] for o in data.out_index])
    cols = max([1] + [o.shape[1] for o in data.out_index])
    out_index = np.full((n_src, rows, cols), -1, dtype=np.int64)
    for i, o in enumerate(data.out_index):
        out_index[i, : o.shape[0], : o.shape[1]] = o
    kernel_shapes = np.array(data.kernel_shapes, dtype=np.int64).reshape(n_src, 2)
    return identity, weights, out_index, kernel_shapes


def _window_helpers(data: SparseMapData, n_src: int):
    """Return the jitted ``window(i, bounds)`` and ``mixed(i, c, t, p)`` of ``data``'s boxes.

    Also the boxes' mixing weights padded to one ``(n_src, n_true, K_max)`` array.
    """
    identity, weights, out_index, kernel_shapes = _box_tables(data, n_src)

    @numba.njit(fastmath=_FASTMATH)
    def window(i, bounds):
        """Cutout positions of source ``i``'s convolution output at its current box."""
        return _window(i, bounds, kernel_shapes, out_index)

    @numba.njit(fastmath=_FASTMATH)
    def mixed(i, c, t, p):
        """Row ``t`` of source ``i`` at cutout position ``p`` before the clip at 0."""
        if identity[i]:
            return c[t, p]
        total = 0.0
        for q in range(c.shape[0]):
            total += weights[i, t, q] * c[q, p]
        return total

    return window, mixed, weights


@numba.njit(cache=True, fastmath=_FASTMATH)
def _active_pixels(static, windows, n_cut):
    """Pixels whose bins carry signal: the static ones first, then each window's new pixels.

    Returns ``(slot, active, n_active)``: ``slot[p]`` is pixel ``p``'s row (-1 if inactive),
    ``active[:n_active]`` the active pixels in row order.
    """
    slot = np.full(n_cut, -1, dtype=np.int64)
    n_max = static.size
    for positions in windows:
        n_max += positions.size
    active = np.empty(n_max, dtype=np.int64)
    for j in range(static.size):
        active[j] = static[j]
        slot[static[j]] = j
    n_active = static.size
    for positions in windows:
        for p in positions:
            if slot[p] < 0:
                slot[p] = n_active
                active[n_active] = p
                n_active += 1
    return slot, active, n_active


def _sparse_counts(data: SparseMapData):
    """Per cutout pixel, the masked bins with counts (CSR: start, energy, counts)."""
    observed = (data.mask & (data.counts > 0)).T
    nz_start = np.concatenate([[0], np.cumsum(observed.sum(axis=1))]).astype(np.int64)
    nz_energy = np.nonzero(observed)[1].astype(np.int64)
    nz_counts = data.counts.T[observed].astype(np.float64)
    return nz_start, nz_energy, nz_counts


def _fused_kernel(data: SparseMapData, n_src: int):
    """Return the jitted loop of ``data`` with ``n_src`` following boxes (built once per key)."""
    import numba

    cache_key = (data.key, n_src)
    if cache_key in _KERNELS:
        return _KERNELS[cache_key]
    counts, background, mask = data.counts, data.background, data.mask
    exposure, edisp, static = data.exposure, data.edisp, data.static
    n_sum, b_sum, constant = data.n_sum, data.b_sum, data.constant
    n_true, n_reco = edisp.shape
    n_cut = counts.shape[1]
    n_static = static.size
    identity = np.array([w is None for w in data.weights], dtype=np.bool_)
    window, mixed, weights = _window_helpers(data, n_src)
    nz_start, nz_energy, nz_counts = _sparse_counts(data)
    complete = mask.all(axis=0)
    edisp_sum = edisp.sum(axis=1)

    @numba.njit(fastmath=_FASTMATH)
    def core(g, static_signal, flux, bounds, cs):
        # background-only bins: sufficient statistics
        logp = constant
        dg = np.zeros(n_reco)
        for e in range(n_reco):
            if n_sum[e] > 0.0:
                logp += n_sum[e] * math.log(g[e]) if g[e] > 0.0 else -np.inf
                dg[e] += n_sum[e] / g[e]
            logp -= b_sum[e] * g[e]
            dg[e] -= b_sum[e]
        # active pixels: static ones first, then each window's new pixels
        windows = [window(i, bounds) for i in range(n_src)]
        slot, active, n_active = _active_pixels(static, windows, n_cut)
        # true-energy signal rows per active pixel: sum_i F_i max(W_i c_i, 0)
        rows_true = np.zeros((n_active, n_true))
        for i in range(n_src):
            c_i = cs[i]
            for p in windows[i]:
                j = slot[p]
                for t in range(n_true):
                    m = mixed(i, c_i, t, p)
                    if m > 0.0:
                        rows_true[j, t] += flux[i, t] * m
        d_static = np.zeros((n_reco, n_static))
        d_rows = np.empty((n_active, n_true))
        v = np.empty(n_true)
        resid = np.empty(n_reco)
        for j in range(n_static):  # full terms on every bin
            p = active[j]
            for t in range(n_true):
                v[t] = exposure[t, p] * rows_true[j, t]
            for e in range(n_reco):
                total = static_signal[e, j]
                for t in range(n_true):
                    total += edisp[t, e] * v[t]
                resid[e] = 0.0
                if not mask[e, p]:
                    continue
                n, b = counts[e, p], background[e, p]
                x = g[e] * b + total
                if x < 0.0 or (x == 0.0 and n > 0.0):
                    logp = -np.inf
                    continue
                if n > 0.0:
                    logp += n * math.log(x) - math.lgamma(n + 1.0)
                    resid[e] = n / x - 1.0
                else:
                    resid[e] = -1.0
                logp -= x
                dg[e] += b * resid[e]
                d_static[e, j] = resid[e]
            for t in range(n_true):
                total = 0.0
                for e in range(n_reco):
                    total += edisp[t, e] * resid[e]
                d_rows[j, t] = exposure[t, p] * total
        dm = np.empty(n_true)
        for j in range(n_static, n_active):  # n log(1 + s / (g b)) - s on the window bins
            p = active[j]
            for t in range(n_true):
                v[t] = exposure[t, p] * rows_true[j, t]
                if complete[p]:
                    dm[t] = edisp_sum[t]
                else:
                    dm[t] = 0.0
                    for e in range(n_reco):
                        if mask[e, p]:
                            dm[t] += edisp[t, e]
                logp -= v[t] * dm[t]
                d_rows[j, t] = -dm[t]
            for k in range(nz_start[p], nz_start[p + 1]):
                e, n = nz_energy[k], nz_counts[k]
                total = 0.0
                for t in range(n_true):
                    total += edisp[t, e] * v[t]
                gb = g[e] * background[e, p]
                x = gb + total
                logp += n * math.log1p(total / gb)
                dg[e] -= n * total / (g[e] * x)
                q = n / x
                for t in range(n_true):
                    d_rows[j, t] += edisp[t, e] * q
            for t in range(n_true):
                d_rows[j, t] *= exposure[t, p]
        # back through the clip and the mixing into each box output
        d_flux = np.zeros((n_src, n_true))
        d_outputs = []
        for i in range(n_src):
            c_i = cs[i]
            d_c = np.zeros(c_i.shape)
            for p in windows[i]:
                j = slot[p]
                for t in range(n_true):
                    m = mixed(i, c_i, t, p)
                    if m < 0.0:
                        continue
                    d_flux[i, t] += d_rows[j, t] * m
                    d_m = flux[i, t] * d_rows[j, t]
                    if identity[i]:
                        d_c[t, p] += d_m
                    else:
                        for q in range(c_i.shape[0]):
                            d_c[q, p] += weights[i, t, q] * d_m
            d_outputs.append(d_c)
        return logp, dg, d_static, d_flux, d_outputs

    namespace = {"core": core, "np": np}
    exec(_window_loop_source(n_src), namespace)  # a fixed template: one argument per source
    kernel = numba.njit(namespace["kernel"])
    _KERNELS[cache_key] = kernel
    return kernel


def _energy_constants(data: SparseMapData) -> np.ndarray:
    """Per energy bin, ``sum(n log b - log n!)`` over the bins of the sufficient statistics."""
    rest = data.mask.copy()
    rest[:, data.static] = False
    n_rest = np.where(rest, data.counts, 0.0)
    inside = xlogy(n_rest, np.where(rest, data.background, 1.0)) - gammaln(n_rest + 1.0)
    n_out = np.asarray(data.likelihood_counts[data.inside.size :], dtype=np.float64)
    outside = xlogy(n_out, data.background_outside) - gammaln(n_out + 1.0)
    n_reco = data.mask.shape[0]
    return inside.sum(axis=1) + np.bincount(data.outside_energy, outside, minlength=n_reco)


@numba.njit(cache=True, fastmath=_FASTMATH)
def _window(i, bounds, kernel_shapes, out_index):
    """Cutout positions of source ``i``'s convolution output at its current box."""
    r0, r1, c0, c1 = bounds[i, 0], bounds[i, 1], bounds[i, 2], bounds[i, 3]
    if r1 <= r0 or c1 <= c0:
        return np.empty(0, dtype=np.int64)
    r1, c1 = r1 + kernel_shapes[i, 0] - 1, c1 + kernel_shapes[i, 1] - 1
    positions = np.empty((r1 - r0) * (c1 - c0), dtype=np.int64)
    n = 0
    for r in range(r0, r1):
        for c in range(c0, c1):
            p = out_index[i, r, c]
            if p >= 0:
                positions[n] = p
                n += 1
    return positions[:n]


@numba.njit(cache=True, fastmath=_FASTMATH)
def _energy_sums(g, static_signal, flux, bounds, cs, tables, boxes):
    """Per-energy-bin log-likelihood (see :class:`EnergySums`); arrays as arguments (cached)."""
    constants, n_sum, b_sum, counts, background, mask, complete = tables[:7]
    exposure, edisp, static, nz_start, nz_energy, nz_counts = tables[7:]
    identity, weights, out_index, kernel_shapes = boxes
    n_true, n_reco = edisp.shape
    n_cut = counts.shape[1]
    n_static = static.size
    n_src = len(cs)
    logp = constants.copy()
    for e in range(n_reco):  # background-only bins: sufficient statistics
        if n_sum[e] > 0.0:
            logp[e] += n_sum[e] * math.log(g[e]) if g[e] > 0.0 else -np.inf
        logp[e] -= b_sum[e] * g[e]
    windows = [_window(i, bounds, kernel_shapes, out_index) for i in range(n_src)]
    slot, active, n_active = _active_pixels(static, windows, n_cut)
    # true-energy signal rows per active pixel: sum_i F_i max(W_i c_i, 0)
    rows_true = np.zeros((n_active, n_true))
    for i in range(n_src):
        c_i = cs[i]
        for p in windows[i]:
            j = slot[p]
            for t in range(n_true):
                if identity[i]:
                    m = c_i[t, p]
                else:
                    m = 0.0
                    for q in range(c_i.shape[0]):
                        m += weights[i, t, q] * c_i[q, p]
                if m > 0.0:
                    rows_true[j, t] += flux[i, t] * m
    v = np.empty(n_true)
    v_complete = np.zeros(n_true)  # window signal of the pixels with every energy bin
    for j in range(n_active):
        p = active[j]
        for t in range(n_true):
            v[t] = exposure[t, p] * rows_true[j, t]
        if j >= n_static:  # n log(1 + s / (g b)) - s: the -s per energy bin, then the log1p
            if complete[p]:
                for t in range(n_true):
                    v_complete[t] += v[t]
            else:
                for e in range(n_reco):
                    if mask[e, p]:
                        for t in range(n_true):
                            logp[e] -= edisp[t, e] * v[t]
            for k in range(nz_start[p], nz_start[p + 1]):
                e, n = nz_energy[k], nz_counts[k]
                total = 0.0
                for t in range(n_true):
                    total += edisp[t, e] * v[t]
                logp[e] += n * math.log1p(total / (g[e] * background[e, p]))
            continue
        for e in range(n_reco):  # static bins: full terms
            if not mask[e, p]:
                continue
            total = static_signal[e, j]
            for t in range(n_true):
                total += edisp[t, e] * v[t]
            n, b = counts[e, p], background[e, p]
            x = g[e] * b + total
            if x < 0.0 or (x == 0.0 and n > 0.0):
                logp[e] = -np.inf
                continue
            if n > 0.0:
                logp[e] += n * math.log(x) - math.lgamma(n + 1.0)
            logp[e] -= x
    for e in range(n_reco):
        for t in range(n_true):
            logp[e] -= edisp[t, e] * v_complete[t]
    return logp


class EnergySums:
    """Log-likelihood of a map dataset summed per reconstructed-energy bin, on the windows only.

    The dense per-bin terms of :class:`MapPoissonLogp` summed per energy bin, computed as
    :class:`FusedMapPoisson` computes their total: sufficient statistics for the
    background-only bins, ``n log(1 + s / (g b)) - s`` on the following boxes' windows, full
    terms on the static bins. The loop is compiled once and cached on disk by numba (the
    dataset's arrays are its arguments, not constants of the compiled code).

    Parameters
    ----------
    data : SparseMapData
        The dataset's constants.
    n_src : int
        Number of following boxes.
    """

    def __init__(self, data: SparseMapData, n_src: int):
        nz_start, nz_energy, nz_counts = _sparse_counts(data)
        self._tables = (
            _energy_constants(data),
            data.n_sum,
            data.b_sum,
            data.counts,
            data.background,
            data.mask,
            data.mask.all(axis=0),
            data.exposure,
            data.edisp,
            data.static,
            nz_start,
            nz_energy,
            nz_counts,
        )
        self._boxes = _box_tables(data, n_src)

    def __call__(self, g, static_signal, flux, bounds, *outputs) -> np.ndarray:
        """Return the ``(n_reco,)`` sums at the ingredients' values (:class:`FusedMapPoisson`)."""
        return _energy_sums(
            np.ascontiguousarray(g, dtype=np.float64),
            np.ascontiguousarray(static_signal, dtype=np.float64),
            np.ascontiguousarray(flux, dtype=np.float64),
            np.ascontiguousarray(bounds, dtype=np.int64),
            tuple(np.ascontiguousarray(c, dtype=np.float64) for c in outputs),
            self._tables,
            self._boxes,
        )


class MapPoissonLogp(OpFromGraph):
    """Per-bin Poisson log-probability of a map dataset from its sources' ingredients.

    The dense graph (every likelihood bin); in numba-compiled graphs its sum and the sum's
    gradient are computed by :class:`FusedMapPoisson` instead (module docstring).
    """

    data: SparseMapData

    def pullback(self, inputs, outputs, output_grads):
        """Dense vector-Jacobian product (:class:`MapPoissonVJP`), rewritten when summed."""
        from pytensor.gradient import DisconnectedType

        grads = list(_vjp_op(self.data, len(inputs) - 3)(*inputs, output_grads[0]))
        if not self.data.static.size:  # no static signal: that input is not connected
            grads[1] = DisconnectedType()()
        return grads


class MapPoissonVJP(OpFromGraph):
    """Gradient of ``sum(G * MapPoissonLogp(...))`` with respect to its inputs (dense)."""

    data: SparseMapData


def _ingredients(data: SparseMapData, n_src: int):
    n_true, n_reco = data.edisp.shape
    g = pt.vector("g", shape=(n_reco,), dtype="float64")
    static_signal = pt.matrix("static", shape=(n_reco, data.static.size), dtype="float64")
    flux = pt.matrix("flux", shape=(n_src, n_true), dtype="float64")
    outputs = [
        pt.matrix(f"c{i}", shape=(n_true if w is None else w.shape[1], data.counts.shape[1]))
        for i, w in enumerate(data.weights)
    ]
    return [g, static_signal, flux, *outputs]


def _logp_graph(data: SparseMapData, inputs):
    from gammaprob.likelihood.poisson import poisson_logp

    g, static_signal, flux, *outputs = inputs
    return poisson_logp(data.dense_npred(g, static_signal, flux, outputs), data.likelihood_counts)


_OPS: dict = {}


def _logp_op(data: SparseMapData, n_src: int) -> MapPoissonLogp:
    key = ("logp", data.key, n_src)
    if key not in _OPS:
        inputs = _ingredients(data, n_src)
        op = MapPoissonLogp(inputs, [_logp_graph(data, inputs)])
        op.data = data
        _OPS[key] = op
    return _OPS[key]


def _vjp_op(data: SparseMapData, n_src: int) -> MapPoissonVJP:
    key = ("vjp", data.key, n_src)
    if key not in _OPS:
        inputs = _ingredients(data, n_src)
        upstream = pt.vector("upstream", dtype="float64")
        grads = pt.grad(
            pt.sum(upstream * _logp_graph(data, inputs)), inputs, disconnected_inputs="ignore"
        )
        op = MapPoissonVJP([*inputs, upstream], grads)
        op.data = data
        _OPS[key] = op
    return _OPS[key]


def _dist(mu, *ingredients_and_size):
    """Draws: Poisson of the dense npred (a symbolic graph, compiled like any other).

    PyMC passes the distribution's parameters then ``size``; the ingredients of the fused
    log-probability do not enter the draws.
    """
    import pymc as pm

    return pm.Poisson.dist(mu, size=ingredients_and_size[-1])


def sparse_poisson_term(name: str, npred, ingredients, data: SparseMapData):
    """Add the observed ``"<name>::counts"`` whose log-probability is :class:`MapPoissonLogp`.

    Parameters
    ----------
    name : str
        Dataset name.
    npred : tensor
        Dense expected counts of the likelihood bins (for draws).
    ingredients : sequence of tensors
        ``[g, static_signal, flux, *box_outputs]`` (see :class:`FusedMapPoisson`).
    data : SparseMapData
        The dataset's constants.

    Returns
    -------
    pytensor.tensor.TensorVariable
        The observed random variable.
    """
    import pymc as pm

    counts = np.asarray(data.likelihood_counts, dtype=np.int64)
    n_src = len(ingredients) - 3
    op = _logp_op(data, n_src)

    def logp(value, mu, *inputs):
        if isinstance(value, Constant) and np.array_equal(value.data, counts):
            return op(*[_core(x, 1 if i == 0 else 2) for i, x in enumerate(inputs)])
        return pm.logp(pm.Poisson.dist(mu), value)

    core = ["(e)", "(e,s)", "(m,t)"] + [f"(k{i},c)" for i in range(n_src)]
    return pm.CustomDist(
        f"{name}::counts",
        npred,
        *ingredients,
        dist=_dist,
        logp=logp,
        signature=",".join(["()", *core]) + "->()",
        dtype="int64",
        observed=counts,
    )


def _core(x, ndim: int):
    """``x`` without the leading broadcast dimensions PyMC adds to a parameter."""
    from pytensor.tensor.elemwise import DimShuffle

    while x.ndim > ndim:
        node = x.owner
        if (
            node is not None
            and isinstance(node.op, DimShuffle)
            and node.op.is_expand_dims
            and node.inputs[0].ndim >= ndim
        ):
            x = node.inputs[0]
        else:
            x = x[0]
    return x


def _uniform_scale(upstream):
    """Return the scalar of an upstream gradient that is one value broadcast, or None."""
    if isinstance(upstream, Constant):
        data = np.asarray(upstream.data)
        if data.size and np.all(data == data.flat[0]):
            return pt.as_tensor_variable(np.float64(data.flat[0]))
        return None
    node = upstream.owner
    if node is None:
        return None
    from pytensor.scalar.basic import Second
    from pytensor.tensor.basic import Alloc
    from pytensor.tensor.elemwise import Elemwise

    if isinstance(node.op, Alloc):
        value = node.inputs[0]
    elif isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, Second):
        value = node.inputs[1]
    else:
        return None
    if not all(value.type.broadcastable):
        return None
    return value.reshape(())


def _box_bounds(outputs):
    """Return the stacked bounds of the boxes computing ``outputs`` (None: one is not a box's)."""
    from gammaprob.forward.following_box import FollowingBoxConvolve

    bounds = []
    for c in outputs:
        if c.owner is None or not isinstance(c.owner.op, FollowingBoxConvolve):
            return None
        bounds.append(BoxBounds(c.owner.op.box)(c.owner.inputs[0]))
    return pt.stack(bounds)


def _fused(data: SparseMapData, inputs):
    """Return the fused node's outputs for ``inputs`` (None: an output is not a box's)."""
    g, static_signal, flux, *outputs = inputs
    bounds = _box_bounds(outputs)
    if bounds is None:
        return None
    return FusedMapPoisson(data)(g, static_signal, flux, bounds, *outputs)


def energy_logp(term):
    """How to sum a map dataset's per-bin log-likelihood per energy bin on the windows only.

    Parameters
    ----------
    term : pytensor.tensor.TensorVariable
        The per-bin log-probability of a ``"<ds>::counts"`` term.

    Returns
    -------
    tuple of (list, EnergySums, numpy.ndarray) or None
        The graphs of the ingredients (``g``, static signal, fluxes, box bounds, box outputs),
        the :class:`EnergySums` of their values, and the reconstructed-energy bin of each
        element of ``term`` (:meth:`SparseMapData.energy_index`); None when ``term`` is not
        a :class:`MapPoissonLogp` of following boxes.
    """
    node = term.owner
    if node is None or not isinstance(node.op, MapPoissonLogp):
        return None
    data = node.op.data
    g, static_signal, flux, *outputs = node.inputs
    bounds = _box_bounds(outputs) if outputs else None
    if bounds is None:
        return None
    ingredients = [g, static_signal, flux, bounds, *outputs]
    return ingredients, EnergySums(data, len(outputs)), data.energy_index()


def _register_rewrites() -> None:
    """Sum of :class:`MapPoissonLogp` and its gradient -> :class:`FusedMapPoisson` (numba)."""
    from pytensor.compile import optdb
    from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter
    from pytensor.tensor.math import Sum

    @node_rewriter([Sum])
    def _sum_as_fused(fgraph, node):
        (term,) = node.inputs
        if term.owner is None or not isinstance(term.owner.op, MapPoissonLogp):
            return None
        if node.op.axis is not None and set(node.op.axis) != set(range(term.ndim)):
            return None
        fused = _fused(term.owner.op.data, term.owner.inputs)
        return None if fused is None else [fused[0].astype(node.outputs[0].dtype)]

    @node_rewriter([MapPoissonVJP])
    def _vjp_as_fused(fgraph, node):
        *inputs, upstream = node.inputs
        scale = _uniform_scale(upstream)
        fused = None if scale is None else _fused(node.op.data, inputs)
        if fused is None:
            return None
        return [scale * d for d in fused[1:]]

    optdb.register(
        "gammaprob_fused_map_poisson",
        dfs_rewriter(_sum_as_fused, _vjp_as_fused),
        "numba",
        position=1.9,
    )


_register_rewrites()


def _register_numba() -> None:
    from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

    from gammaprob.forward.following_box_kernels import box_bounds, geometry_kernel

    @register_funcify_and_cache_key(FusedMapPoisson)
    def _numba_fused(op, node=None, **kwargs):
        n_src = len(node.inputs) - 4
        return _fused_kernel(op.data, n_src), None

    @register_funcify_and_cache_key(BoxBounds)
    def _numba_bounds(op, node=None, **kwargs):
        import numba

        geometry = geometry_kernel(op.box)
        centres, margin = op.box.centres, op.box.reach_margin

        @numba.njit
        def bounds(theta):
            r0, r1, c0, c1 = box_bounds(geometry(theta), centres, margin)
            return np.array([r0, r1, c0, c1], dtype=np.int64)

        return bounds, None


_register_numba()
