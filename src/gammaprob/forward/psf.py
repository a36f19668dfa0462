r"""The PSF of a map dataset, sampled for the two ways sources are folded.

* Point sources: :func:`psf_grid` resamples the radial table on a uniform grid in
  ``s = sqrt(sin^2(r/2))``, and :class:`PsfRows` (a pytensor Op with a compiled numba loop)
  interpolates it linearly at the pixel-source haversines of the sub-pixel nodes and averages
  per pixel (smooth in the source position, finite gradients at ``r = 0``).
* Extended sources: :func:`psf_kernel` samples the PSF on a square grid of pixel offsets around
  a pixel (sub-pixel averaged, using the map's local pixel-to-sky Jacobian) for convolution; each
  kernel is normalised to unit sum over the disc within the containment radius, as gammapy's
  PSF kernels are.

Both use low-rank factors when they save work (:func:`low_rank`): a PSF table is factored as
``PSF_t(r) = sum_k W_tk V_k(r)`` by a truncated SVD, keeping the fewest components whose
reconstruction differs from the table by at most :data:`LOW_RANK_RTOL` times its largest
value anywhere (an energy-independent PSF is rank 1), so the graph interpolates ``K`` rows
instead of ``n_psf``. Interpolation and convolution are linear, so the factored result equals
the one from the reconstructed table; it differs from the full table by at most
``LOW_RANK_RTOL`` times the peak PSF value, per pixel. :class:`PointFold` also factors the
cutout exposure the same way and folds flux, exposure and energy dispersion into a small
coefficient matrix when that is cheaper than the ``(n_true, n_cutout)`` product.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from gammaprob.forward.map_response import MapResponse, haversine

__all__ = [
    "LOW_RANK_RTOL",
    "S_FLOOR",
    "PointFold",
    "PsfRows",
    "low_rank",
    "psf_grid",
    "psf_kernel",
    "scaled_psf_rows",
]

#: Added to ``sin^2(r/2)`` so that ``sqrt`` stays differentiable at ``r = 0``.
S_FLOOR = 1e-12

#: Largest absolute error of a low-rank factorisation, relative to the largest absolute value
#: of the factored matrix (:func:`low_rank`).
LOW_RANK_RTOL = 1e-10


def low_rank(matrix: np.ndarray, rtol: float = LOW_RANK_RTOL) -> tuple[np.ndarray, np.ndarray]:
    """Factor ``matrix ≈ left @ right`` by a truncated SVD with the fewest components.

    Parameters
    ----------
    matrix : numpy.ndarray
        ``(m, n)`` array.
    rtol : float
        Largest allowed ``|left @ right - matrix|`` anywhere, relative to ``max |matrix|``.

    Returns
    -------
    left, right : numpy.ndarray
        ``(m, K)`` and ``(K, n)`` with ``1 <= K <= min(m, n)``. When no truncation is within
        ``rtol``, one factor is the matrix itself and the other an identity (exact); an
        all-zero matrix gives ``K = 1`` and zero factors.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"low_rank needs a non-empty 2-d array, got shape {matrix.shape}")
    scale = np.max(np.abs(matrix))
    if scale == 0:
        return np.zeros((matrix.shape[0], 1)), np.zeros((1, matrix.shape[1]))
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    left = u * s
    for k in range(1, s.size):
        if np.max(np.abs(left[:, :k] @ vt[:k] - matrix)) <= rtol * scale:
            return np.ascontiguousarray(left[:, :k]), np.ascontiguousarray(vt[:k])
    if matrix.shape[0] <= matrix.shape[1]:  # full rank: the matrix itself, exactly
        return np.eye(matrix.shape[0]), matrix.copy()
    return matrix.copy(), np.eye(matrix.shape[1])


def psf_grid(response: MapResponse, radius: float, n_grid: int) -> tuple[np.ndarray, float]:
    """PSF resampled on a uniform grid in ``s = sqrt(sin^2(r/2))`` up to ``radius`` (deg).

    Returns
    -------
    tuple
        The table ``(n_psf, n_grid + 1)`` (sr-1) and the step in ``s``. The last node, one step
        beyond ``radius``, is 0, so the PSF falls linearly to 0 within one step outside
        ``radius`` and is 0 further out (:class:`PsfRows` clips to the last node).
    """
    s_max = np.sin(0.5 * np.deg2rad(min(radius, 180.0)))
    ds = s_max / (n_grid - 1)
    h = (np.arange(n_grid) * ds) ** 2
    table = np.stack(
        [np.interp(h, response.psf_haversine, row, right=0.0) for row in response.psf_values]
    )
    table = np.concatenate([table, np.zeros((table.shape[0], 1))], axis=1)
    return np.ascontiguousarray(table), float(ds)


@dataclass(frozen=True, eq=False)
class PointFold:
    """Point sources on a static cutout with low-rank PSF and exposure (see module docstring).

    With ``P_kp`` the ``K`` PSF factor rows interpolated at the cutout pixels (sub-pixel
    averaged), ``W`` their weights and ``a @ b`` the factored exposure (cm2 s) times solid angle
    (sr) on the cutout, the signal counts of a source with band fluxes ``F_t`` are

    * PSF per true energy, fused: ``mu_ep = sum_jk C_e,jk b_jp P_kp`` with
      ``C_e,jk = sum_t D_te F_t a_tj W_tk`` (``n_reco x J K`` work per pixel);
    * PSF per true energy, not fused (when ``J K`` is large): the density ``F_t sum_k W_tk
      P_kp`` ``(n_true, n_cutout)``, which :class:`~gammaprob.forward.MapFold` multiplies by
      exposure and solid angle and folds with the energy dispersion;
    * PSF per reconstructed energy: ``mu_ep = (sum_j G_ej b_jp) (sum_k W_ek P_kp)`` with
      ``G_ej = sum_t D_te F_t a_tj``.

    Attributes
    ----------
    psf_weights : numpy.ndarray
        ``W``, ``(n_psf, K)``.
    psf_rows : numpy.ndarray
        ``V``, ``(K, n_grid + 1)``: the factored :func:`psf_grid` table (sr-1).
    psf_ds : float
        Grid step in ``sqrt(sin^2(r/2))``.
    lon_nodes, lat_nodes : numpy.ndarray
        Sub-pixel points of the cutout pixels (deg), ``(n_cutout, k**2)``.
    exposure_left, exposure_right : numpy.ndarray
        ``a`` ``(n_true, J)`` and ``b`` ``(J, n_cutout)``, exposure x solid angle (cm2 s sr).
    edisp : numpy.ndarray
        ``D``, ``(n_true, n_reco)``.
    psf_energy : {"true", "reco"}
        Which energy the PSF rows belong to.
    fused : bool
        Whether :meth:`counts` (True) or :meth:`density` (False) is the cheaper form.
    """

    psf_weights: np.ndarray
    psf_rows: np.ndarray
    psf_ds: float
    lon_nodes: np.ndarray
    lat_nodes: np.ndarray
    exposure_left: np.ndarray
    exposure_right: np.ndarray
    edisp: np.ndarray
    psf_energy: str
    fused: bool

    @classmethod
    def build(
        cls,
        response: MapResponse,
        cutout: np.ndarray,
        lon_nodes: np.ndarray,
        lat_nodes: np.ndarray,
        table: np.ndarray,
        ds: float,
        rtol: float = LOW_RANK_RTOL,
    ) -> PointFold:
        """Factor the PSF table and the cutout exposure, and choose the cheaper form.

        Parameters
        ----------
        response : MapResponse
            The dataset's response.
        cutout : numpy.ndarray
            Flat indices of the cutout pixels.
        lon_nodes, lat_nodes : numpy.ndarray
            Sub-pixel points of the cutout pixels (deg), ``(n_cutout, k**2)``.
        table, ds : numpy.ndarray, float
            From :func:`psf_grid`.
        rtol : float
            Tolerance of the factorisations (:func:`low_rank`).

        Returns
        -------
        PointFold
        """
        weights, rows = low_rank(table, rtol)
        exposure = response.exposure[:, cutout] * response.solid_angle[cutout]
        left, right = low_rank(exposure, rtol)
        n_true, n_reco = response.edisp.shape
        jk = left.shape[1] * weights.shape[1]
        fused = response.psf_energy == "reco" or jk * (n_reco + 1) <= n_true * (
            n_reco + weights.shape[1] + 2
        )
        return cls(
            psf_weights=weights,
            psf_rows=rows,
            psf_ds=float(ds),
            lon_nodes=lon_nodes,
            lat_nodes=lat_nodes,
            exposure_left=left,
            exposure_right=right,
            edisp=np.asarray(response.edisp, dtype=np.float64),
            psf_energy=response.psf_energy,
            fused=bool(fused),
        )

    @property
    def rank(self) -> tuple[int, int]:
        """``(K, J)``: ranks of the PSF and exposure factorisations."""
        return self.psf_weights.shape[1], self.exposure_left.shape[1]

    def psf(self, lon_0, lat_0, psf_scale=None):
        """PSF factor rows at the cutout pixels, ``(K, n_cutout)`` (sr-1, tensor).

        One compiled loop (:class:`PsfRows`) over the sub-pixel nodes, which also gives the
        derivatives in the position. With ``psf_scale`` (a width scale ``sigma``, tensor or
        float) the rows are ``PSF(r / sigma) / sigma**2`` (:func:`scaled_psf_rows`).
        """
        op = PsfRows(self.psf_rows, self.psf_ds, self.lon_nodes, self.lat_nodes)
        if psf_scale is not None:
            return scaled_psf_rows(op, lon_0, lat_0, psf_scale)
        return op(lon_0, lat_0)[0]

    def density(self, flux, lon_0, lat_0, psf_scale=None):
        """``F_t PSF_t`` at the cutout pixels, ``(n_psf, n_cutout)`` (cm-2 s-1 sr-1, tensor)."""
        rows = self.psf(lon_0, lat_0, psf_scale)
        if self.psf_weights.shape[1] == 1:
            return (flux * self.psf_weights[:, 0])[:, None] * rows
        return flux[:, None] * factor_product(self.psf_weights, rows)

    def counts(self, flux, lon_0, lat_0, psf_scale=None):
        """Predicted signal counts ``(n_reco, n_cutout)`` of one source (tensor).

        Parameters
        ----------
        flux : tensor
            Flux per true-energy bin (cm-2 s-1), ``(n_true,)``.
        lon_0, lat_0 : tensor
            Source position (deg).
        psf_scale : tensor or float, optional
            PSF width scale (see :meth:`psf`).
        """
        import pytensor.tensor as pt

        rows = self.psf(lon_0, lat_0, psf_scale)
        weights, left = self.psf_weights, self.exposure_left
        spread = pt.as_tensor_variable(self.edisp.T) * flux[None, :]  # (n_reco, n_true)
        if self.psf_energy == "reco":
            return factor_product(pt.dot(spread, left), self.exposure_right) * factor_product(
                weights, rows
            )
        n_k, n_j = weights.shape[1], left.shape[1]
        mix = (left[:, :, None] * weights[:, None, :]).reshape(-1, n_j * n_k)  # (n_true, J K)
        right = pt.as_tensor_variable(self.exposure_right)
        basis = (right[:, None, :] * rows[None, :, :]).reshape((n_j * n_k, -1))
        return factor_product(pt.dot(spread, mix), basis)

    def __repr__(self) -> str:
        k, j = self.rank
        return (
            f"PointFold(PSF rank {k} of {self.psf_weights.shape[0]}, exposure rank {j} of "
            f"{self.exposure_left.shape[0]}, {self.lon_nodes.shape[0]} px x "
            f"{self.lon_nodes.shape[1]} sub-pixels, {'fused' if self.fused else 'density'})"
        )


def _node_trig(lon_nodes: np.ndarray, lat_nodes: np.ndarray) -> np.ndarray:
    """``sin, cos`` of half the node longitudes and latitudes and ``cos`` of the latitudes.

    ``(5, n_nodes)``: with these, the haversine to a source needs no transcendental per node.
    """
    half_lon = 0.5 * np.deg2rad(np.asarray(lon_nodes, dtype=np.float64).reshape(-1))
    half_lat = 0.5 * np.deg2rad(np.asarray(lat_nodes, dtype=np.float64).reshape(-1))
    trig = [np.sin(half_lon), np.cos(half_lon), np.sin(half_lat), np.cos(half_lat)]
    return np.ascontiguousarray(np.stack([*trig, np.cos(2.0 * half_lat)]))


#: LLVM fast-math flags of the loops: reassociation and contraction, but NaN and inf kept.
_FASTMATH = {"nsz", "arcp", "contract", "reassoc"}


def _numba_kernel():
    """Compile the loop of :class:`PsfRows` (once, cached on disk)."""
    import numba

    @numba.njit(cache=True, fastmath=_FASTMATH)
    def _haversine(trig, q, sb_lon, cb_lon, sb_lat, cb_lat, c_lat0):
        s_lon = trig[0, q] * cb_lon - trig[1, q] * sb_lon  # sin((lon - lon_0) / 2)
        s_lat = trig[2, q] * cb_lat - trig[3, q] * sb_lat
        return s_lon, s_lat, s_lat * s_lat + trig[4, q] * c_lat0 * s_lon * s_lon

    @numba.njit(cache=True, fastmath=_FASTMATH)
    def forward(lon_0, lat_0, trig, table, step, ds, n_sub, s_floor):
        d2r = np.pi / 180.0
        sb_lon, cb_lon = np.sin(0.5 * d2r * lon_0), np.cos(0.5 * d2r * lon_0)
        sb_lat, cb_lat = np.sin(0.5 * d2r * lat_0), np.cos(0.5 * d2r * lat_0)
        c_lat0, s_lat0 = np.cos(d2r * lat_0), np.sin(d2r * lat_0)
        n_grid, n_k = step.shape
        n_pix = trig.shape[1] // n_sub
        out = np.empty((3, n_k, n_pix))
        if not (np.isfinite(lon_0) and np.isfinite(lat_0)):
            out[:] = np.nan
            return out
        acc = np.empty((3, n_k))
        scale = 1.0 / n_sub
        for p in range(n_pix):
            acc[:] = 0.0
            for q in range(p * n_sub, (p + 1) * n_sub):
                s_lon, s_lat, h = _haversine(trig, q, sb_lon, cb_lon, sb_lat, cb_lat, c_lat0)
                root = np.sqrt(h + s_floor)
                x = root / ds
                i = min(max(np.floor(x), 0.0), n_grid - 1.0)
                u = x - i
                w = min(max(u, 0.0), 1.0)
                j = int(i)
                # derivatives of w in the position (0 where w is clipped, beyond the grid)
                dw_dh = 0.5 / (ds * root) if 0.0 <= u <= 1.0 else 0.0
                # d sin((a - b)/2) / db = -cos((a - b)/2) / 2, in deg-1
                c_lon = trig[1, q] * cb_lon + trig[0, q] * sb_lon
                c_lat = trig[3, q] * cb_lat + trig[2, q] * sb_lat
                dw_dlon = -dw_dh * d2r * trig[4, q] * c_lat0 * s_lon * c_lon
                dw_dlat = -dw_dh * d2r * (s_lat * c_lat + trig[4, q] * s_lat0 * s_lon * s_lon)
                for k in range(n_k):
                    slope = step[j, k]
                    acc[0, k] += table[j, k] + slope * w
                    acc[1, k] += slope * dw_dlon
                    acc[2, k] += slope * dw_dlat
            for m in range(3):
                for k in range(n_k):
                    out[m, k, p] = acc[m, k] * scale
        return out

    return forward


_KERNEL = []


def _kernel():
    if not _KERNEL:
        _KERNEL.append(_numba_kernel())
    return _KERNEL[0]


class PsfRows(Op):
    """Rows of a PSF table on a uniform ``s`` grid, averaged over sub-pixel nodes (pytensor Op).

    ``rows[k, p] = mean_q V_k(s_pq)`` with ``s_pq = sqrt(sin^2(r_pq/2) + S_FLOOR)`` at the
    nodes ``q`` of pixel ``p`` and the source position ``(lon_0, lat_0)`` (deg), ``V_k`` linear
    in ``s`` between grid nodes and clipped to the last node beyond
    the grid. One compiled loop, with the table stored per grid node so the ``K`` rows of a
    node are contiguous. It also returns the derivatives of the rows in ``lon_0`` and
    ``lat_0`` (deg-1), which cost little in the same loop (the table rows are loaded once);
    the gradient is their contraction with the rows' output gradient.

    Parameters
    ----------
    rows : numpy.ndarray
        ``(K, n_grid + 1)`` table (sr-1).
    ds : float
        Grid step in ``s``.
    lon_nodes, lat_nodes : numpy.ndarray
        ``(n_pix, n_sub)`` sub-pixel nodes (deg).
    """

    __props__ = ("_key",)

    def __init__(self, rows, ds, lon_nodes, lat_nodes):
        rows = np.asarray(rows, dtype=np.float64)
        self.table = np.ascontiguousarray(rows[:, :-1].T)  # (n_grid, K)
        self.step = np.ascontiguousarray(np.diff(rows, axis=1).T)
        self.ds = float(ds)
        self.n_sub = int(lon_nodes.shape[1])
        self.n_pix = int(lon_nodes.shape[0])
        self.trig = _node_trig(lon_nodes, lat_nodes)
        digest = hashlib.sha1(rows.tobytes() + self.trig.tobytes()).hexdigest()
        self._key = (digest, rows.shape, self.trig.shape, self.ds, self.n_sub)

    def make_node(self, lon_0, lat_0):
        """Apply to scalar positions (deg): outputs rows, d rows / d lon_0, d rows / d lat_0."""
        import pytensor.tensor as pt

        lon_0 = pt.as_tensor_variable(lon_0).astype("float64")
        lat_0 = pt.as_tensor_variable(lat_0).astype("float64")
        if lon_0.type.ndim or lat_0.type.ndim:
            raise ValueError("PsfRows needs scalar lon_0 and lat_0")
        shape = (self.table.shape[1], self.n_pix)
        outputs = [pt.tensor(dtype="float64", shape=shape) for _ in range(3)]
        return Apply(self, [lon_0, lat_0], outputs)

    def evaluate(self, lon_0: float, lat_0: float) -> np.ndarray:
        """Return rows and their two derivatives, ``(3, K, n_pix)`` (numpy)."""
        args = (self.trig, self.table, self.step, self.ds, self.n_sub, S_FLOOR)
        return _kernel()(float(lon_0), float(lat_0), *args)

    def perform(self, node, inputs, output_storage):
        """Evaluate with the compiled loop."""
        out = self.evaluate(*inputs)
        for m in range(3):
            output_storage[m][0] = out[m]

    def infer_shape(self, node, shapes):
        """Return the static output shapes."""
        return [(self.table.shape[1], self.n_pix)] * 3

    def pullback(self, inputs, outputs, output_grads):
        """Contract the rows' output gradient with the derivative rows."""
        import pytensor.tensor as pt
        from pytensor.gradient import DisconnectedType

        grad = output_grads[0]
        if isinstance(grad.type, DisconnectedType):
            return [pt.zeros_like(inputs[0]), pt.zeros_like(inputs[1])]
        return [(grad * outputs[1]).sum(), (grad * outputs[2]).sum()]

    def connection_pattern(self, node):
        """Only the rows depend on the inputs differentiably (derivatives: no second order)."""
        return [[True, False, False], [True, False, False]]


def _register_numba() -> None:
    """Call the compiled loop directly from numba-compiled graphs."""
    from pytensor.link.numba.dispatch.basic import numba_funcify, numba_njit

    @numba_funcify.register(PsfRows)
    def _numba_psf_rows(op, node, **kwargs):
        kernel = _kernel()
        trig, table, step, ds, n_sub = op.trig, op.table, op.step, op.ds, op.n_sub

        @numba_njit
        def psf_rows(lon_0, lat_0):
            out = kernel(lon_0.item(), lat_0.item(), trig, table, step, ds, n_sub, S_FLOOR)
            return out[0], out[1], out[2]

        return psf_rows


_register_numba()


def psf_rows_graph(op: PsfRows, lon_0, lat_0) -> list:
    """Compute what :class:`PsfRows` computes, as a plain pytensor graph (same formulas).

    For backends without the numba loop (JAX: numpyro), where a rewrite puts it in
    place of the Op. Returns the rows and their derivatives in ``lon_0`` and ``lat_0``.
    """
    import pytensor.tensor as pt

    d2r = np.pi / 180.0
    t = op.trig
    sb_lon, cb_lon = pt.sin(0.5 * d2r * lon_0), pt.cos(0.5 * d2r * lon_0)
    sb_lat, cb_lat = pt.sin(0.5 * d2r * lat_0), pt.cos(0.5 * d2r * lat_0)
    c_lat0, s_lat0 = pt.cos(d2r * lat_0), pt.sin(d2r * lat_0)
    s_lon = t[0] * cb_lon - t[1] * sb_lon  # sin((lon - lon_0) / 2)
    s_lat = t[2] * cb_lat - t[3] * sb_lat
    root = pt.sqrt(s_lat**2 + t[4] * c_lat0 * s_lon**2 + S_FLOOR)
    x = root / op.ds
    index = pt.clip(pt.floor(x), 0.0, op.step.shape[0] - 1.0)
    u = x - index
    dw_dh = pt.switch((u >= 0.0) & (u <= 1.0), 0.5 / (op.ds * root), 0.0)
    c_lon = t[1] * cb_lon + t[0] * sb_lon
    c_lat = t[3] * cb_lat + t[2] * sb_lat
    dw_dlon = -dw_dh * d2r * t[4] * c_lat0 * s_lon * c_lon
    dw_dlat = -dw_dh * d2r * (s_lat * c_lat + t[4] * s_lat0 * s_lon**2)
    j = index.astype("int64")
    table, slope = pt.as_tensor_variable(op.table)[j], pt.as_tensor_variable(op.step)[j]

    def pixel_mean(values):  # (n_nodes, K) -> (K, n_pix)
        return values.reshape((op.n_pix, op.n_sub, -1)).mean(axis=1).T

    return [
        pixel_mean(table + slope * pt.clip(u, 0.0, 1.0)[:, None]),
        pixel_mean(slope * dw_dlon[:, None]),
        pixel_mean(slope * dw_dlat[:, None]),
    ]


def scaled_psf_rows(op: PsfRows, lon_0, lat_0, psf_scale):
    """PSF rows of a PSF ``sigma`` times wider, ``PSF(r / sigma) / sigma**2``, as a graph.

    The table of ``op`` is read at ``s / sigma`` (``s = sqrt(sin^2(r/2))``, so ``r / sigma`` in
    the small-angle limit) and divided by ``sigma**2``, which keeps the PSF normalised in that
    limit (relative error of order ``r**2`` at the PSF radius ``r`` in rad). A plain pytensor
    graph of the loop's formulas, differentiated by pytensor (in the position and in
    ``sigma``); beyond the table the last node's value is used, as in :class:`PsfRows`.

    Parameters
    ----------
    op : PsfRows
        Table, grid step and sub-pixel nodes.
    lon_0, lat_0 : tensor or float
        Source position (deg).
    psf_scale : tensor or float
        Width scale ``sigma > 0``.

    Returns
    -------
    tensor
        ``(K, n_pix)`` rows (sr-1), averaged over each pixel's sub-pixel nodes.
    """
    import pytensor.tensor as pt

    d2r = np.pi / 180.0
    t = op.trig
    inv = 1.0 / pt.as_tensor_variable(psf_scale)
    sb_lon, cb_lon = pt.sin(0.5 * d2r * lon_0), pt.cos(0.5 * d2r * lon_0)
    sb_lat, cb_lat = pt.sin(0.5 * d2r * lat_0), pt.cos(0.5 * d2r * lat_0)
    s_lon = t[0] * cb_lon - t[1] * sb_lon  # sin((lon - lon_0) / 2)
    s_lat = t[2] * cb_lat - t[3] * sb_lat
    root = pt.sqrt(s_lat**2 + t[4] * pt.cos(d2r * lat_0) * s_lon**2 + S_FLOOR)
    x = root * inv / op.ds
    index = pt.clip(pt.floor(x), 0.0, op.step.shape[0] - 1.0)
    w = pt.clip(x - index, 0.0, 1.0)
    j = index.astype("int64")
    table, slope = pt.as_tensor_variable(op.table)[j], pt.as_tensor_variable(op.step)[j]
    rows = (table + slope * w[:, None]).reshape((op.n_pix, op.n_sub, -1)).mean(axis=1).T
    return rows * inv**2


def _register_jax_rewrite() -> None:
    from pytensor.compile import optdb
    from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter

    @node_rewriter([PsfRows])
    def _psf_rows_as_graph(fgraph, node):
        return psf_rows_graph(node.op, *node.inputs)

    optdb.register(
        "gammaprob_psf_rows_graph", dfs_rewriter(_psf_rows_as_graph), "jax", position=100
    )


_register_jax_rewrite()


def factor_product(a, b):
    """Return ``a @ b`` for ``(m, r) @ (r, n)`` (``a`` constant).

    ``b`` itself when ``a`` is the identity (a full-rank factorisation, see :func:`low_rank`),
    a broadcast product when ``r == 1``.
    """
    import pytensor.tensor as pt

    if isinstance(a, np.ndarray) and a.shape[0] == a.shape[1] and np.array_equal(a, np.eye(len(a))):
        return pt.as_tensor_variable(b)
    a, b = pt.as_tensor_variable(a), pt.as_tensor_variable(b)
    if a.type.shape[1] == 1:
        return a * b
    return pt.dot(a, b)


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
