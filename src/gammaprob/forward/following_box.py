r"""Extended sources on a box that follows the source: one compiled Op and its adjoint.

At every call the box holds the pixels within the model's evaluation radius *at the current
parameter values* (plus a pixel diagonal, as the static box is chosen), so the cost follows the source's support on the
sky, not the prior's range or the map. On that box the model is integrated over ``k x k``
sub-pixels and convolved by FFT with the ``K`` factor kernels of the PSF
(:attr:`~gammaprob.forward.extended.ExtendedSource.kernel_factors`); the result is scattered
onto the static cutout pixels of the dataset (zero elsewhere).

The gradient is a hand-written adjoint: the upstream gradient is correlated with the kernels by
FFT (one inverse transform for all ``K``), spread over the sub-pixel nodes of the box, and
contracted with the derivatives of the surface brightness, which PyTensor derives from the
model's own formula (:meth:`SpatialModel.evaluate` on tensors). Both the brightness and its
vector-Jacobian product are compiled by PyTensor's numba backend and called from inside the
Op's numba kernel, so a sampler never re-enters Python. Models with hand-written kernels
(:mod:`~gammaprob.forward.following_box_profiles`: the circular generalised Gaussian) use those
instead, on tables of the nodes' trigonometry computed once per box. A morphology without free
parameters (a template) is evaluated once with numpy, convolved once, and its box is its
support (the nodes where it has flux); every call returns a copy of that output.

The box changes with the parameters, so the truncation at the evaluation radius moves with
them: the brightness there is below the model's own negligibility threshold (e.g. 5 sigma for a
Gaussian, ``exp(-12.5)`` of the peak), and its change is not differentiated. The static box
(the largest region any allowed parameter value may reach, chosen at build time) bounds the
dynamic one; :func:`~gammaprob.forward.checks.check_extended_reach` tells after sampling
whether posterior draws reached its edge.

On separable grids (CAR with the reference on the equator) the sub-pixel longitudes of a column
and latitudes of a row are two lines, and the brightness is evaluated on their broadcast,
sharing the terms that depend on one coordinate only; on other grids on the sub-pixel nodes of
the box pixels. PyTensor's numba-backend entry points used here
(``numba_funcify_and_cache_key``, ``numba_njit``) are the ones its custom-Op extension uses;
``tests/forward/test_following_box.py`` checks that they exist.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["FollowingBox", "FollowingBoxConvolve", "FollowingBoxVJP"]

_VERSION = "1"


def _compile_graph(inputs, outputs):
    """Rewrite a graph as the numba backend does (no in-place Ops) and funcify it."""
    from pytensor.compile.mode import get_mode
    from pytensor.graph.fg import FunctionGraph
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

    fgraph = FunctionGraph(inputs, outputs, clone=True)
    get_mode("NUMBA").excluding("inplace").optimizer.rewrite(fgraph)
    return numba_funcify_and_cache_key(fgraph, squeeze_output=True)


class FollowingBox:
    """Everything the Op needs about one source: compiled brightness, statics, identity.

    Parameters
    ----------
    spatial : SpatialModel
        The source's spatial component (``evaluate`` and ``_evaluation_radius`` work on
        tensors).
    values : dict
        ``{parameter: float or tensor}`` of the spatial component (from
        :func:`~gammaprob.forward._models.component_params`); tensors are the free ones.
    lon_nodes, lat_nodes : numpy.ndarray
        On separable grids, the sub-pixel longitudes of the static box columns ``(W k,)`` and
        latitudes of its rows ``(H k,)``; otherwise the sub-pixel nodes of every box pixel
        ``(H W, k**2)`` (row-major) (deg).
    oversampling : int
        Sub-pixels per axis ``k``.
    solid_angle : numpy.ndarray
        Pixel solid angles of the static box ``(H, W)`` (sr).
    kernels : numpy.ndarray
        Factor kernels ``(K, kh, kw)`` (odd sizes).
    out_index : numpy.ndarray
        ``(H + kh - 1, W + kw - 1)`` int64: position of each full-convolution output pixel in
        the Op's output, or -1 where it is not wanted.
    n_out : int
        Length of the Op's output rows.
    reach_margin : float
        Pixels whose centre is within the evaluation radius plus this margin (deg) of the
        source centre are evaluated (a pixel diagonal, as the static box is chosen).
    """

    def __init__(
        self,
        spatial,
        values,
        lon_nodes,
        lat_nodes,
        oversampling,
        solid_angle,
        kernels,
        out_index,
        n_out,
        reach_margin,
    ):
        import gammaprob.forward.following_box_kernels  # noqa: F401  (numba registration)
        from gammaprob.forward.following_box_profiles import radial_profile

        self.spatial = spatial
        self.free = [name for name, value in values.items() if not _is_number(value)]
        self.fixed = {name: float(v) for name, v in values.items() if name not in self.free}
        self.theta_outer = [values[name] for name in self.free]
        theta = pt.vector("theta", shape=(len(self.free),), dtype="float64")
        inner = {
            name: (theta[self.free.index(name)] if name in self.free else float(value))
            for name, value in values.items()
        }
        self.separable = np.ndim(lon_nodes) == 1
        if self.separable:  # lines: brightness on their broadcast (shared per-line terms)
            lon = pt.tensor("lon", shape=(1, None), dtype="float64")
            lat = pt.tensor("lat", shape=(None, 1), dtype="float64")
            adjoint = pt.matrix("adjoint", dtype="float64")
            shape = (lat.shape[0], lon.shape[1])
        else:  # sub-pixel nodes of the box pixels, flattened
            lon = pt.vector("lon", dtype="float64")
            lat = pt.vector("lat", dtype="float64")
            adjoint = pt.vector("adjoint", dtype="float64")
            shape = (lon.shape[0],)
        lon_nodes = np.asarray(lon_nodes, dtype=np.float64)
        lat_nodes = np.asarray(lat_nodes, dtype=np.float64)
        #: node values of a morphology without free parameters (templates), else None
        self.constant = None if self.free else _constant_brightness(spatial, lon_nodes, lat_nodes)
        current = {**spatial.values(), **inner}
        if self.constant is not None:  # its support, exactly: no pixel beyond holds flux
            radius = _support_radius(self.constant, lon_nodes, lat_nodes, current)
        else:
            radius = spatial._evaluation_radius(current)
        geometry = pt.stack(
            [pt.as_tensor_variable(inner[n], dtype="float64") for n in ("lon_0", "lat_0")]
            + [pt.as_tensor_variable(radius, dtype="float64")]
        )
        #: hand-written kernels of the brightness, where the model has them (else None)
        self.profile = None
        if self.constant is not None:  # evaluated once with numpy: nothing to compile
            self.value_fn = self.vjp_fn = None
            key_value = key_vjp = "constant"
        elif profile := radial_profile(spatial, self.free, self.fixed, lon_nodes, lat_nodes):
            self.profile = profile
            self.value_fn, self.vjp_fn = profile.value, profile.vjp
            key_value = key_vjp = profile.name
        else:
            brightness = pt.as_tensor_variable(spatial.evaluate(lon, lat, **inner))
            brightness = pt.broadcast_to(brightness, shape)
            vjp = pt.grad(pt.sum(adjoint * brightness), theta)
            self.value_fn, key_value = _compile_graph([lon, lat, theta], [brightness])
            self.vjp_fn, key_vjp = _compile_graph([lon, lat, theta, adjoint], [vjp])
        self.geometry_fn, key_geometry = _compile_graph([theta], [geometry])
        self.lon_nodes = np.ascontiguousarray(lon_nodes)
        self.lat_nodes = np.ascontiguousarray(lat_nodes, dtype=np.float64)
        self.oversampling = int(oversampling)
        self.solid_angle = np.ascontiguousarray(solid_angle, dtype=np.float64)
        n_rows, n_cols = self.solid_angle.shape
        k = self.oversampling
        if self.separable:
            lon_c = self.lon_nodes.reshape(-1, k).mean(axis=1)[None, :]
            lat_c = self.lat_nodes.reshape(-1, k).mean(axis=1)[:, None]
        else:
            lon_c = self.lon_nodes.mean(axis=1).reshape(n_rows, n_cols)
            lat_c = self.lat_nodes.mean(axis=1).reshape(n_rows, n_cols)
        lon_c, lat_c = np.deg2rad(np.broadcast_arrays(lon_c, lat_c))
        #: unit vectors of the pixel centres (H, W, 3), for the reach test
        self.centres = np.ascontiguousarray(
            np.stack(
                [np.cos(lat_c) * np.cos(lon_c), np.cos(lat_c) * np.sin(lon_c), np.sin(lat_c)],
                axis=-1,
            )
        )
        self.kernels = np.ascontiguousarray(kernels, dtype=np.float64)
        self.out_index = np.ascontiguousarray(out_index, dtype=np.int64)
        self.n_out = int(n_out)
        self.reach_margin = float(reach_margin)
        digest = hashlib.sha256()
        for part in (key_value, key_vjp, key_geometry, _VERSION):
            digest.update(str(part).encode())
        for array in (
            self.lon_nodes,
            self.lat_nodes,
            self.solid_angle,
            self.kernels,
            self.out_index,
            np.zeros(0) if self.constant is None else self.constant,
        ):
            digest.update(array.tobytes())
            digest.update(str(array.shape).encode())
        digest.update(repr((self.oversampling, self.n_out, self.reach_margin)).encode())
        self.key = digest.hexdigest()
        self.cacheable = None not in (key_value, key_vjp, key_geometry)

    def theta(self):
        """Return the free parameters as one float64 vector (tensor)."""
        if not self.theta_outer:
            return pt.zeros((0,), dtype="float64")
        return pt.stack([pt.as_tensor_variable(v, dtype="float64") for v in self.theta_outer])

    def numpy_box(self, theta: np.ndarray) -> tuple[int, int, int, int]:
        """Rows ``r0:r1`` and columns ``c0:c1`` of the box at ``theta`` (numpy, for checks)."""
        from gammaprob.forward.following_box_kernels import box_bounds, geometry_kernel

        geometry = geometry_kernel(self)(np.asarray(theta, dtype=np.float64))
        return box_bounds(geometry, self.centres, self.reach_margin)

    def static_graph(self, theta):
        """Compute what the Op computes on the whole static box, as a plain PyTensor graph.

        For backends without the numba kernel (JAX: numpyro), where a rewrite puts it
        in place of the Op; the model is evaluated on every static-box pixel (the cost of the
        static box, the same numbers up to the truncation at the evaluation radius).
        """
        from gammaprob.forward.convolve import convolve_images

        theta = pt.as_tensor_variable(theta)
        values = {**self.fixed, **{name: theta[i] for i, name in enumerate(self.free)}}
        n_rows, n_cols = self.solid_angle.shape
        k = self.oversampling
        if self.separable:
            brightness = self.spatial.evaluate(
                self.lon_nodes[None, :], self.lat_nodes[:, None], **values
            )
            brightness = pt.broadcast_to(brightness, (n_rows * k, n_cols * k))
            mean = brightness.reshape((n_rows, k, n_cols, k)).mean(axis=(1, 3))
        else:
            brightness = self.spatial.evaluate(self.lon_nodes, self.lat_nodes, **values)
            mean = pt.broadcast_to(brightness, self.lon_nodes.shape).mean(axis=-1)
            mean = mean.reshape((n_rows, n_cols))
        conv = convolve_images(mean * self.solid_angle, self.kernels)
        flat = conv.reshape((self.kernels.shape[0], -1))
        where = np.full(self.n_out, flat.type.shape[1], dtype=np.int64)  # padding slot
        positions = np.flatnonzero(self.out_index.reshape(-1) >= 0)
        where[self.out_index.reshape(-1)[positions]] = positions
        padded = pt.concatenate([flat, pt.zeros((self.kernels.shape[0], 1))], axis=1)
        return padded[:, where]

    def __eq__(self, other) -> bool:
        return isinstance(other, FollowingBox) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return (
            f"FollowingBox(free={self.free}, static box={self.solid_angle.shape}, "
            f"k={self.oversampling}, kernels={self.kernels.shape})"
        )


def _constant_brightness(spatial, lon_nodes: np.ndarray, lat_nodes: np.ndarray) -> np.ndarray:
    """Brightness of a model without free parameters on the nodes, evaluated with numpy.

    On lines ``(W k,), (H k,)`` the result is ``(H k, W k)``; on nodes ``(H W, k**2)`` it is
    flattened to ``(H W k**2,)``, the layouts of the compiled brightness (sr^-1).
    """
    values = spatial.values()
    if lon_nodes.ndim == 1:
        shape = (lat_nodes.size, lon_nodes.size)
        brightness = spatial.evaluate(lon_nodes[None, :], lat_nodes[:, None], **values)
    else:
        shape = lon_nodes.shape
        brightness = spatial.evaluate(lon_nodes, lat_nodes, **values)
    brightness = np.broadcast_to(np.asarray(brightness, dtype=np.float64), shape)
    return np.ascontiguousarray(brightness).reshape(-1 if lon_nodes.ndim == 2 else shape)


def _support_radius(brightness, lon_nodes, lat_nodes, values) -> float:
    """Largest separation (deg) from ``(lon_0, lat_0)`` of a node where ``brightness != 0``."""
    from gammaprob.modeling.spatial.sphere import separation

    if lon_nodes.ndim == 1:
        lon_nodes, lat_nodes = np.broadcast_arrays(lon_nodes[None, :], lat_nodes[:, None])
    shining = brightness.reshape(lon_nodes.shape) != 0
    if not shining.any():
        return 0.0
    lon, lat = lon_nodes[shining], lat_nodes[shining]
    return float(np.max(separation(lon, lat, values["lon_0"], values["lat_0"])))


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.number) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    )


class FollowingBoxConvolve(Op):
    """``theta -> (K, n_out)``: the source image on its following box, convolved and scattered."""

    __props__ = ("box",)

    def __init__(self, box: FollowingBox):
        self.box = box

    def make_node(self, theta):
        """Apply to the vector of free spatial parameters."""
        theta = pt.as_tensor_variable(theta).astype("float64")
        out = pt.tensor(dtype="float64", shape=(self.box.kernels.shape[0], self.box.n_out))
        return Apply(self, [theta], [out])

    def perform(self, node, inputs, output_storage):
        """Evaluate with the compiled kernel (the same code as in numba graphs)."""
        from gammaprob.forward.following_box_kernels import forward_kernel

        output_storage[0][0] = forward_kernel(self.box)(inputs[0])

    def do_constant_folding(self, fgraph, node) -> bool:
        """Never folded (a constant morphology): the fused likelihood finds its box by the Op."""
        return False

    def pullback(self, inputs, outputs, output_grads):
        """Vector-Jacobian product by the adjoint Op."""
        return [FollowingBoxVJP(self.box)(inputs[0], output_grads[0])]


class FollowingBoxVJP(Op):
    """``(theta, G) -> d <G, convolve(theta)> / d theta`` (not differentiable further)."""

    __props__ = ("box",)

    def __init__(self, box: FollowingBox):
        self.box = box

    def make_node(self, theta, grad):
        """Apply to the parameters and the upstream gradient ``(K, n_out)``."""
        theta = pt.as_tensor_variable(theta).astype("float64")
        grad = pt.as_tensor_variable(grad).astype("float64")
        return Apply(self, [theta, grad], [pt.tensor(dtype="float64", shape=theta.type.shape)])

    def perform(self, node, inputs, output_storage):
        """Evaluate with the compiled adjoint kernel."""
        from gammaprob.forward.following_box_kernels import vjp_kernel

        output_storage[0][0] = vjp_kernel(self.box)(*inputs)

    def pullback(self, inputs, outputs, output_grads):
        """Second derivatives are not provided (NUTS needs first derivatives only)."""
        from pytensor.gradient import grad_not_implemented

        return [grad_not_implemented(self, i, x) for i, x in enumerate(inputs)]


def _register_jax_rewrites() -> None:
    """In JAX graphs, put the static-box graph in place of the Op and its adjoint."""
    from pytensor.compile import optdb
    from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter

    from gammaprob.forward.convolve import _register_jax

    @node_rewriter([FollowingBoxConvolve])
    def _forward_as_graph(fgraph, node):
        _register_jax()  # the static graph convolves with FFTConvolve
        return [node.op.box.static_graph(node.inputs[0])]

    @node_rewriter([FollowingBoxVJP])
    def _vjp_as_graph(fgraph, node):
        _register_jax()
        theta, grad = node.inputs
        inner = theta.type()
        vjp = pt.grad(pt.sum(grad * node.op.box.static_graph(inner)), inner)
        from pytensor.graph.replace import graph_replace

        return [graph_replace(vjp, {inner: theta}, strict=False)]

    optdb.register(
        "gammaprob_following_box_graph",
        dfs_rewriter(_forward_as_graph, _vjp_as_graph),
        "jax",
        position=99,
    )


_register_jax_rewrites()
