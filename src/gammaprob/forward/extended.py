r"""Extended sources on map datasets: pixel integration and PSF convolution on a static box.

For a source with surface brightness :math:`S(\ell, b)` (sr-1) the flux fraction in pixel ``p``
is :math:`I_p = \int_p S\, d\Omega`, computed as the mean of ``S`` over ``k x k`` sub-pixel
points times the pixel solid angle (``k`` from the model's smallest feature at the prior median
of its sizes, by gammapy's rule for its oversampling; whether the posterior draws needed a finer
``k`` is checked after sampling, :mod:`gammaprob.forward.checks`). The image is then convolved with
the PSF kernel of every energy bin (:func:`~gammaprob.forward.psf.psf_kernel`) by FFT
(:class:`~gammaprob.forward.convolve.FFTConvolve`, one Op for all energies). The kernel stack
is factored first (:func:`~gammaprob.forward.psf.low_rank`, ``kernel_t = sum_k W_tk V_k`` to
1e-10 of the peak kernel value), so one image is convolved with the ``K`` kernels ``V_k``
only (``K = 1`` for an energy-independent PSF) and the ``n_psf`` outputs are their weighted
sums on the gathered pixels.

On grids where the sub-pixel longitudes depend on the column only and the latitudes on the row
only (CAR projections; checked to :data:`SEPARABLE_ATOL`), the model is evaluated on the
``(H k, W k)`` broadcast of one longitude line and one latitude line instead of the
``(H W, k^2)`` node list: the same points, but the terms of the model that depend on one
coordinate only are computed once per line (the Gaussian's image alone: 2.5x faster, 3.5x
with gradients). This is used only when a numeric evaluation of the model both ways agrees (an
elementwise model), so results equal the node form up to the order of the sub-pixel mean.

The box is chosen once at build time: it holds every pixel within the position margin (prior
support of the centre) plus the model's evaluation radius at the upper prior quantile of its
size parameters (:meth:`SpatialModel.evaluation_radius`); the convolution output reaches the
kernel radius (PSF containment) further. Flux beyond the map edge is lost, as in gammapy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gammaprob.forward._models import component_params, spatial_component
from gammaprob.forward.map_response import MapResponse, haversine
from gammaprob.forward.psf import low_rank, psf_kernel

__all__ = [
    "MAX_MODEL_OVERSAMPLING",
    "SEPARABLE_ATOL",
    "ExtendedSource",
    "prior_quantile",
    "size_quantiles",
]

#: Upper limit of the automatic sub-pixel factor per axis for the model image.
MAX_MODEL_OVERSAMPLING = 8
#: Largest difference (deg) between sub-pixel coordinates along a column (longitude) or a row
#: (latitude) for the model image to be evaluated on separable lines.
SEPARABLE_ATOL = 1e-12
_POSITION = ("lon_0", "lat_0")


def prior_quantile(parameter, q: float) -> float:
    """Quantile ``q`` of a parameter's prior (its value when fixed or a tensor).

    Computed from 20000 seeded prior draws (clipped to the support), so it is reproducible.
    """
    prior = getattr(parameter, "prior", None)
    if prior is None:
        return float(parameter.value)
    lo, hi = prior.support()
    try:
        draws = prior.sample(np.random.default_rng(20240501), 20000)
    except NotImplementedError:
        if not np.isfinite(hi if q > 0.5 else lo):
            raise ValueError(
                f"cannot size a cutout for parameter {parameter.name!r}: its prior {prior!r} "
                "cannot be sampled and is unbounded"
            ) from None
        return float(hi if q > 0.5 else lo)
    return float(np.clip(np.quantile(draws, q), lo, hi))


def size_quantiles(spatial, q: float) -> dict:
    """Values of the non-position parameters of a spatial component at prior quantile ``q``."""
    parameters = getattr(spatial, "parameters", {})
    return {
        name: prior_quantile(p, q)
        for name, p in parameters.items()
        if name not in _POSITION and getattr(p, "is_free", False)
    }


def _auto_model_oversampling(spatial, response: MapResponse, pixels, values) -> int:
    bin_size = getattr(spatial, "_bin_size_min", None)
    size = None if bin_size is None else bin_size({**spatial.values(), **values})
    if size is None:
        return 1
    pixel = float(np.rad2deg(np.sqrt(np.max(response.solid_angle[pixels]))))
    return int(np.clip(np.ceil(pixel / max(size, 1e-12)), 1, MAX_MODEL_OVERSAMPLING))


def _separable_lines(spatial, lon_nodes, lat_nodes, shape, values):
    """Longitude and latitude lines ``(W k,), (H k,)`` of the sub-pixel nodes, or None.

    None unless the nodes are a separable grid (to :data:`SEPARABLE_ATOL`) and the model,
    evaluated with ``values``, gives the same image on the broadcast lines as on the nodes.
    """
    n_rows, n_cols = shape
    k = math.isqrt(lon_nodes.shape[1])
    lon = lon_nodes.reshape(n_rows, n_cols, k, k)  # (row, column, v, u)
    lat = lat_nodes.reshape(n_rows, n_cols, k, k)
    lon_line, lat_line = lon[0, :, 0, :], lat[:, 0, :, 0]
    if (
        np.max(np.abs(lon - lon_line[None, :, None, :])) > SEPARABLE_ATOL
        or np.max(np.abs(lat - lat_line[:, None, :, None])) > SEPARABLE_ATOL
        or not hasattr(spatial, "values")
    ):
        return None
    lon_line, lat_line = lon_line.reshape(-1), lat_line.reshape(-1)
    values = {**spatial.values(), **values}
    try:
        nodes = np.mean(spatial.evaluate(lon_nodes, lat_nodes, **values), axis=-1)
        lines = np.asarray(spatial.evaluate(lon_line[None, :], lat_line[:, None], **values))
        lines = lines.reshape(n_rows, k, n_cols, k).mean(axis=(1, 3)).reshape(-1)
    except (TypeError, ValueError, IndexError):  # not an elementwise model
        return None
    scale = np.max(np.abs(nodes))
    if not np.all(np.isfinite(lines)) or np.max(np.abs(lines - nodes)) > 1e-12 * scale:
        return None
    return lon_line, lat_line


def _is_elementwise(spatial, lon_nodes, lat_nodes, values) -> bool:
    """Whether the model gives the same values on flattened nodes as on the node array."""
    if not hasattr(spatial, "values"):
        return False
    values = {**spatial.values(), **values}
    try:
        nodes = np.asarray(spatial.evaluate(lon_nodes, lat_nodes, **values))
        flat = np.asarray(spatial.evaluate(lon_nodes.reshape(-1), lat_nodes.reshape(-1), **values))
    except (TypeError, ValueError, IndexError):
        return False
    return bool(
        flat.shape == (lon_nodes.size,)
        and np.all(np.isfinite(flat))
        and np.array_equal(flat.reshape(nodes.shape), nodes)
    )


@dataclass(frozen=True, eq=False)
class ExtendedSource:
    """One extended source on a static pixel box of a map dataset.

    Attributes
    ----------
    name : str
        Source name.
    model : object
        The sky model.
    box_shape : tuple of int
        ``(H, W)`` of the box the model is integrated on.
    box_pixels : numpy.ndarray
        Flat map indices of the box pixels (row-major), ``(H * W,)``.
    lon_nodes, lat_nodes : numpy.ndarray
        Sub-pixel points of the box pixels (deg), ``(H * W, k**2)``.
    lon_line, lat_line : numpy.ndarray or None
        On separable (CAR) grids: the sub-pixel longitudes of the columns ``(W * k,)`` and
        latitudes of the rows ``(H * k,)`` (deg); None otherwise.
    solid_angle : numpy.ndarray
        Solid angles of the box pixels (sr).
    kernel : numpy.ndarray
        PSF kernels ``(n_psf, h, w)``, each summing to 1.
    out_pixels : numpy.ndarray
        Flat map indices of the convolution output pixels inside the map.
    out_index : numpy.ndarray
        Their positions in the flattened ``(H + h - 1, W + w - 1)`` convolution output.
    elementwise : bool
        Whether the brightness is elementwise in the coordinates (then the image follows the
        source, :attr:`follows`).
    pixel_diagonal : float
        The largest pixel diagonal of the map (deg), added to the reach of the source.
    """

    name: str
    model: object
    box_shape: tuple
    box_pixels: np.ndarray
    lon_nodes: np.ndarray
    lat_nodes: np.ndarray
    lon_line: np.ndarray | None
    lat_line: np.ndarray | None
    solid_angle: np.ndarray
    kernel: np.ndarray
    out_pixels: np.ndarray
    out_index: np.ndarray
    elementwise: bool = False
    pixel_diagonal: float = 0.0

    @classmethod
    def build(
        cls,
        response: MapResponse,
        model,
        centre: tuple[float, float],
        margin: float,
        *,
        quantile: float = 0.99,
        containment: float = 0.999,
        psf_oversampling: int = 4,
        model_oversampling: int | None = None,
        sizes: Mapping | None = None,
    ) -> ExtendedSource | None:
        """Choose the box of one source (None when it cannot reach the map).

        Parameters
        ----------
        response : MapResponse
            The dataset's response.
        model : object
            Sky model with an extended spatial component.
        centre : tuple of float
            Nominal centre ``(lon, lat)`` (deg).
        margin : float
            How far (deg) the centre may move (the prior support of the position).
        quantile : float
            Size parameters are taken at this upper prior quantile for the static box.
        containment : float
            PSF flux fraction inside the kernel radius.
        psf_oversampling : int
            Sub-pixel points per axis when sampling the PSF kernel.
        model_oversampling : int, optional
            Sub-pixel points per axis for the model image (default: from the model's smallest
            feature at the prior median of its sizes, at most :data:`MAX_MODEL_OVERSAMPLING`;
            :func:`~gammaprob.forward.checks.check_map_folds` tells after sampling whether
            posterior draws needed a finer one).
        sizes : Mapping, optional
            Size parameter values to use instead of the prior quantiles (numeric evaluation).

        Returns
        -------
        ExtendedSource or None
        """
        spatial = spatial_component(model)
        upper = size_quantiles(spatial, quantile) if sizes is None else dict(sizes)
        radius = spatial.evaluation_radius(**upper)
        radius = 180.0 if radius is None else float(radius.to_value("deg"))
        pixel_diag = float(np.rad2deg(np.sqrt(2.0 * np.max(response.solid_angle))))
        reach = min(radius + margin + pixel_diag, 180.0)
        h = haversine(response.lon, response.lat, centre[0], centre[1])
        inside = np.flatnonzero(h <= np.sin(0.5 * np.deg2rad(reach)) ** 2)
        if inside.size == 0:
            return None
        n_lat, n_lon = response.shape
        rows, cols = np.divmod(inside, n_lon)
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        rr, cc = np.mgrid[r0:r1, c0:c1]
        box_pixels = (rr * n_lon + cc).reshape(-1)
        if model_oversampling is None:
            typical = size_quantiles(spatial, 0.5) if sizes is None else dict(sizes)
            model_oversampling = _auto_model_oversampling(spatial, response, box_pixels, typical)
        lon_nodes, lat_nodes = response.subpixel_nodes(model_oversampling, box_pixels)
        shape = (int(r1 - r0), int(c1 - c0))
        lines = _separable_lines(spatial, lon_nodes, lat_nodes, shape, upper)
        kernel = psf_kernel(
            response,
            int(np.argmin(h)),
            response.containment_radius(containment),
            psf_oversampling,
        )
        m_y, m_x = (kernel.shape[1] - 1) // 2, (kernel.shape[2] - 1) // 2
        out_rows, out_cols = np.mgrid[r0 - m_y : r1 + m_y, c0 - m_x : c1 + m_x]
        valid = (out_rows >= 0) & (out_rows < n_lat) & (out_cols >= 0) & (out_cols < n_lon)
        return cls(
            name=model.name,
            model=model,
            box_shape=shape,
            box_pixels=box_pixels,
            lon_nodes=lon_nodes,
            lat_nodes=lat_nodes,
            lon_line=None if lines is None else lines[0],
            lat_line=None if lines is None else lines[1],
            solid_angle=response.solid_angle[box_pixels],
            kernel=kernel,
            out_pixels=(out_rows * n_lon + out_cols)[valid],
            out_index=np.flatnonzero(valid.reshape(-1)),
            elementwise=lines is not None or _is_elementwise(spatial, lon_nodes, lat_nodes, upper),
            pixel_diagonal=pixel_diag,
        )

    def image(self, params: Mapping):
        """Flux fraction per box pixel ``(H, W)`` (numpy for numbers, tensor for tensors)."""
        spatial = spatial_component(self.model)
        values = component_params(self.model, "spatial", params, n_positional=2)
        if self.lon_line is None:
            brightness = spatial.evaluate(self.lon_nodes, self.lat_nodes, **values)
            return (brightness.mean(axis=-1) * self.solid_angle).reshape(self.box_shape)
        n_rows, n_cols = self.box_shape
        k = self.lat_line.size // n_rows
        brightness = spatial.evaluate(self.lon_line[None, :], self.lat_line[:, None], **values)
        mean = brightness.reshape((n_rows, k, n_cols, k)).mean(axis=(1, 3))
        return mean * self.solid_angle.reshape(self.box_shape)

    @property
    def follows(self) -> bool:
        """Whether the image is computed on a box that follows the source.

        True for models whose brightness is elementwise in the coordinates (every built-in
        morphology): then :meth:`convolve_following` is used
        (:mod:`~gammaprob.forward.following_box`); otherwise the model is evaluated on the whole
        static box.
        """
        return self.elementwise

    def following_box(self, params: Mapping, index: np.ndarray, kernels: np.ndarray):
        """Build the :class:`~gammaprob.forward.following_box.FollowingBox` of this source.

        Parameters
        ----------
        params : Mapping
            Parameter values (floats or tensors).
        index : numpy.ndarray
            From :meth:`gather_index`: the wanted output pixels.
        kernels : numpy.ndarray
            ``(K, h, w)`` kernels to convolve with.
        """
        from gammaprob.forward.following_box import FollowingBox

        if not self.follows:
            raise ValueError(f"the model of {self.name!r} is not elementwise in (lon, lat)")
        n_rows, n_cols = self.box_shape
        shape = (n_rows + self.kernel.shape[1] - 1, n_cols + self.kernel.shape[2] - 1)
        out_index = np.full(shape[0] * shape[1], -1, dtype=np.int64)
        index = np.asarray(index)
        wanted = np.flatnonzero(index < out_index.size)
        out_index[index[wanted]] = wanted
        if self.lon_line is not None:
            k = self.lat_line.size // n_rows
            lon_nodes, lat_nodes = self.lon_line, self.lat_line
        else:
            k = math.isqrt(self.lon_nodes.shape[1])
            lon_nodes, lat_nodes = self.lon_nodes, self.lat_nodes
        return FollowingBox(
            spatial_component(self.model),
            component_params(self.model, "spatial", params, n_positional=2),
            lon_nodes,
            lat_nodes,
            k,
            self.solid_angle.reshape(self.box_shape),
            kernels,
            out_index.reshape(shape),
            index.size,
            self.pixel_diagonal,
        )

    def convolve_following(self, params: Mapping, index: np.ndarray):
        """Convolved image at the pixels ``index`` points to, ``(n_psf, len(index))`` (tensor).

        The same numbers as ``convolve(image(params), index)`` up to FFT round-off, computed on
        a box that follows the source (:mod:`~gammaprob.forward.following_box`).
        """
        import pytensor.tensor as pt

        from gammaprob.forward.following_box import FollowingBoxConvolve

        weights, factors = self.kernel_factors
        factored = weights.shape[1] < weights.shape[0]
        box = self.following_box(params, index, factors if factored else self.kernel)
        picked = FollowingBoxConvolve(box)(box.theta())
        if factored:
            picked = pt.dot(pt.as_tensor_variable(weights), picked)
        return pt.maximum(picked, 0.0)

    def convolve_following_rank_one(self, params: Mapping, index: np.ndarray):
        """:meth:`convolve_rank_one` of the image on the following box: ``(weights, row)``."""
        import pytensor.tensor as pt

        from gammaprob.forward.following_box import FollowingBoxConvolve

        if not self.rank_one:
            raise ValueError(f"the PSF kernels of {self.name!r} are not rank one")
        weights = self.kernel_factors[0][:, 0]
        sign = -1.0 if np.any(weights < 0) else 1.0
        box = self.following_box(params, index, self.kernel_factors[1])
        row = FollowingBoxConvolve(box)(box.theta())[0]
        return sign * weights, pt.maximum(sign * row, 0.0)

    def gather_index(self, pixels: np.ndarray) -> np.ndarray:
        """Index of each map pixel in ``pixels`` into the padded convolution output.

        Pixels the convolution output does not reach point at the padding slot (a zero).
        """
        n_out = (self.box_shape[0] + self.kernel.shape[1] - 1) * (
            self.box_shape[1] + self.kernel.shape[2] - 1
        )
        lookup = dict(zip(self.out_pixels.tolist(), self.out_index.tolist(), strict=True))
        return np.array([lookup.get(p, n_out) for p in np.asarray(pixels).tolist()], dtype=np.int64)

    def convolve(self, images, index: np.ndarray):
        """Convolve ``images`` (``(H, W)`` or ``(n_psf, H, W)`` tensor) and gather map pixels.

        Parameters
        ----------
        images : tensor
            Box images; one image is convolved with every kernel.
        index : numpy.ndarray
            From :meth:`gather_index`.

        Returns
        -------
        tensor
            ``(n_psf, len(index))``.
        """
        import pytensor.tensor as pt

        images = pt.as_tensor_variable(images)
        weights, _ = self.kernel_factors
        # one image: convolve with the K factor kernels, gather, then mix into n_psf rows
        factored = images.type.ndim == 2 and weights.shape[1] < weights.shape[0]
        picked = self._convolve_gather(
            images, self.factor_fft if factored else self.kernel_fft, index
        )
        if factored:
            if weights.shape[1] == 1:
                picked = pt.as_tensor_variable(weights[:, :1]) * picked
            else:
                picked = pt.dot(pt.as_tensor_variable(weights), picked)
        # FFT round-off can leave values of order -1e-17 where the result is zero
        return pt.maximum(picked, 0.0)

    @property
    def rank_one(self) -> bool:
        """Whether the kernel stack is one kernel times per-energy weights of one sign."""
        weights = self.kernel_factors[0]
        return weights.shape[1] == 1 and (np.all(weights >= 0) or np.all(weights <= 0))

    def convolve_rank_one(self, image, index: np.ndarray):
        """For :attr:`rank_one` kernels: the weights ``(n_psf,)`` and one row ``(n,)``.

        ``weights[:, None] * row`` equals :meth:`convolve` of the image (the clip at 0 commutes
        with the non-negative weights), so callers can fold the weights into other per-energy
        factors.
        """
        import pytensor.tensor as pt

        if not self.rank_one:
            raise ValueError(f"the PSF kernels of {self.name!r} are not rank one")
        weights = self.kernel_factors[0][:, 0]
        sign = -1.0 if np.any(weights < 0) else 1.0
        row = self._convolve_gather(pt.as_tensor_variable(image), self.factor_fft, index)[0]
        return sign * weights, pt.maximum(sign * row, 0.0)

    def _convolve_gather(self, images, kernels, index: np.ndarray):
        """Convolution ``(B, n_out)`` of the images with ``kernels``, gathered at ``index``."""
        import pytensor.tensor as pt

        from gammaprob.forward.convolve import convolve_images

        out = convolve_images(images, kernels)
        flat = out.reshape((out.type.shape[0], -1))
        index = np.asarray(index)
        n_out = (self.box_shape[0] + self.kernel.shape[1] - 1) * (
            self.box_shape[1] + self.kernel.shape[2] - 1
        )
        if index.size and index[-1] < n_out and np.all(np.diff(index) == 1):
            return flat[:, index[0] : index[-1] + 1]  # a contiguous run: a slice, no gather
        padded = pt.concatenate([flat, pt.zeros((flat.type.shape[0], 1))], axis=1)
        return padded[:, index]

    @cached_property
    def kernel_factors(self) -> tuple[np.ndarray, np.ndarray]:
        """Low-rank factors of the kernels: weights ``(n_psf, K)`` and kernels ``(K, h, w)``."""
        n_psf, h, w = self.kernel.shape
        weights, rows = low_rank(self.kernel.reshape(n_psf, h * w))
        return weights, rows.reshape(-1, h, w)

    @cached_property
    def factor_fft(self):
        """The factor kernels with their FFTs for this box (built once, on first use)."""
        from gammaprob.forward.convolve import KernelFFT

        return KernelFFT(self.kernel_factors[1], self.box_shape)

    @cached_property
    def kernel_fft(self):
        """The kernels with their FFTs for this box (built once, on first use)."""
        from gammaprob.forward.convolve import KernelFFT

        return KernelFFT(self.kernel, self.box_shape)

    def convolve_numpy(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Numpy reference of :meth:`convolve`: values ``(n_psf, n_out)`` and their map pixels."""
        from scipy.signal import fftconvolve

        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        out = np.maximum(fftconvolve(images, self.kernel, mode="full", axes=(1, 2)), 0.0)
        return out.reshape(self.kernel.shape[0], -1)[:, self.out_index], self.out_pixels

    def __repr__(self) -> str:
        return (
            f"ExtendedSource({self.name!r}, box={self.box_shape}, "
            f"sub-pixels={self.lon_nodes.shape[1]}, kernel={self.kernel.shape[1:]}, "
            f"{self.out_pixels.size} output px)"
        )
