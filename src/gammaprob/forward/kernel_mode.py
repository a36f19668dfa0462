r"""Kernel mode: gammapy's discretisation of map models, as a pytensor graph.

``MapFold.build(..., psf_mode="kernel")`` folds each source as gammapy's ``MapEvaluator``
does (local evaluation), so npred equals gammapy's per pixel:

1. the source is evaluated on a static cutout around its nominal position
   (:meth:`KernelIRFs.cutout`); nothing reaches pixels outside it;
2. spatial flux fractions per pixel: a point source is spread over the 4 nearest pixel
   centres with bilinear weights ``(1 - |x - x_0|)(1 - |y - y_0|)`` (pixel coordinates from
   the differentiable WCS transform of :mod:`~gammaprob.forward.sky_projection`); an extended
   source is integrated over the pixels of a sub-cutout of width
   ``2 max(evaluation radius, pixel)`` by the mean over ``f x f`` sub-pixel centres times the
   pixel solid angle, ``f = min(ceil(pixel / smallest feature), 200)``;
3. convolution ("same" size) with the PSF kernel sampled at the source position
   (:meth:`KernelIRFs.psf_kernel`), per true energy;
4. times the flux per true-energy bin and the exposure, then the energy dispersion at the
   source position. With a PSF per reconstructed energy (HAWC) steps 3 and 4 swap: flux x
   exposure, energy dispersion, then the convolution per reconstructed energy.

Cutouts, kernels, sub-pixel positions and the oversampling factor are fixed at build time (at
the nominal position and the size parameters' current values), as gammapy keeps them while a
source moves less than its evaluation radius + 0.1 deg. The bilinear weights are piecewise
linear in the position: gradients are finite, with kinks where the source crosses a pixel
centre, and the pixel-centre coordinate grid is a fixed mesh — use the default ``"exact"`` mode
for sampling positions, and ``"kernel"`` to reproduce gammapy's numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gammaprob.forward._models import component_params, spatial_component
from gammaprob.forward.kernel_irf import KernelIRFs, cutout_slices
from gammaprob.forward.map_response import MapResponse

__all__ = [
    "MAX_MODEL_OVERSAMPLING",
    "PSF_MODES",
    "KernelSource",
    "gather_index",
    "kernel_irfs",
    "npred_map_kernel",
]

#: Evaluation modes of map datasets (see :meth:`MapFold.build`).
PSF_MODES = ("exact", "kernel")

#: Upper limit of the sub-pixel factor of extended models (gammapy's ``MAX_OVERSAMPLING``).
MAX_MODEL_OVERSAMPLING = 200


def _is_point(spatial) -> bool:
    return type(spatial).__name__ == "Point"


def _size_values(spatial) -> dict:
    values = dict(spatial.values()) if hasattr(spatial, "values") else {}
    return {k: v for k, v in values.items() if k not in ("lon_0", "lat_0")}


def _integration_nodes(spatial, wcs_cut, shape, position, solid_angle):
    """Sub-pixel centres of gammapy's model integration inside one source cutout."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    sizes = _size_values(spatial)
    radius = spatial.evaluation_radius(**sizes)
    pix_scale = float(np.max(proj_plane_pixel_scales(wcs_cut)))
    if radius is None:
        rows, cols, wcs_int = slice(0, shape[0]), slice(0, shape[1]), wcs_cut
    else:
        width = 2.0 * max(float(radius.to_value("deg")), pix_scale)
        rows, cols, wcs_int = cutout_slices(wcs_cut, shape, position, width, odd_npix=False)
    size = spatial._bin_size_min({**spatial.values(), **sizes})
    if size is None:
        factor = 1
    elif size > 0:
        factor = int(min(np.ceil(pix_scale / size), MAX_MODEL_OVERSAMPLING))
    else:
        factor = MAX_MODEL_OVERSAMPLING
    n_y, n_x = rows.stop - rows.start, cols.stop - cols.start
    wcs_up = wcs_int.deepcopy()
    wcs_up.wcs.cdelt = wcs_up.wcs.cdelt / factor
    wcs_up.wcs.crpix = (wcs_up.wcs.crpix - 0.5) * factor + 0.5
    wcs_up.wcs.set()
    yy, xx = np.mgrid[0 : n_y * factor, 0 : n_x * factor]
    lon, lat = wcs_up.wcs_pix2world(xx.ravel(), yy.ravel(), 0)
    # (n_y, f, n_x, f) -> (n_y * n_x, f * f): sub-pixels grouped by pixel
    order = (n_y, factor, n_x, factor)
    group = lambda a: a.reshape(order).transpose(0, 2, 1, 3).reshape(n_y * n_x, -1)  # noqa: E731
    rr, cc = np.mgrid[rows, cols]
    index = (rr * shape[1] + cc).reshape(-1)
    return group(lon), group(lat), index, solid_angle[index], factor


@dataclass(frozen=True, eq=False)
class KernelSource:
    """One source folded in kernel mode on its static cutout.

    Attributes
    ----------
    name : str
        Source name.
    model : object
        The sky model.
    cut_shape : tuple of int
        ``(H, W)`` of the cutout.
    pixels : numpy.ndarray
        Flat map indices of the cutout pixels (row-major), ``(H * W,)``.
    offset : tuple of int
        ``(row, col)`` of the cutout's first pixel in the map.
    kernel : numpy.ndarray
        PSF kernels ``(n_psf, k, k)`` at the nominal position.
    edisp : numpy.ndarray
        Energy dispersion ``(n_true, n_reco)`` at the nominal position.
    exposure : numpy.ndarray
        Exposure of the cutout ``(n_true, H * W)`` (cm2 s).
    psf_reco : bool
        PSF per reconstructed energy (applied after the energy dispersion).
    irfs : KernelIRFs
        The dataset's kernel-mode IRFs (for the WCS transform of point sources).
    lon_nodes, lat_nodes : numpy.ndarray or None
        Extended sources: sub-pixel centres ``(n_int, f**2)`` (deg) of the integrated pixels.
    int_index : numpy.ndarray or None
        Extended sources: for each cutout pixel, its row in ``lon_nodes`` (``n_int``: none).
    int_solid_angle : numpy.ndarray or None
        Extended sources: solid angles (sr) of the integrated pixels.
    """

    name: str
    model: object
    cut_shape: tuple
    pixels: np.ndarray
    offset: tuple
    kernel: np.ndarray
    edisp: np.ndarray
    exposure: np.ndarray
    psf_reco: bool
    irfs: KernelIRFs
    lon_nodes: np.ndarray | None = None
    lat_nodes: np.ndarray | None = None
    int_index: np.ndarray | None = None
    int_solid_angle: np.ndarray | None = None

    @classmethod
    def build(
        cls, response: MapResponse, irfs: KernelIRFs, model, centre: tuple[float, float]
    ) -> KernelSource:
        """Cutout, kernel, energy dispersion and sub-pixels of one source at ``centre`` (deg)."""
        from astropy.coordinates import SkyCoord

        spatial = spatial_component(model)
        position = SkyCoord(centre[0], centre[1], unit="deg", frame=response.frame)
        kernel = irfs.psf_kernel(position)
        point = _is_point(spatial)
        if point:
            radius = 0.0
        else:
            value = spatial.evaluation_radius(**_size_values(spatial))
            if value is None:
                raise ValueError(
                    f"kernel mode needs a finite evaluation radius; source {model.name!r} has none"
                )
            radius = float(value.to_value("deg"))
        rows, cols, wcs_cut = irfs.cutout(position, radius, kernel.shape[-1])
        n_lon = response.shape[1]
        rr, cc = np.mgrid[rows, cols]
        pixels = (rr * n_lon + cc).reshape(-1)
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        extra = {}
        if not point:
            lon, lat, index, omega, _ = _integration_nodes(
                spatial, wcs_cut, shape, position, response.solid_angle[pixels]
            )
            slot = np.full(pixels.size, index.size, dtype=np.int64)
            slot[index] = np.arange(index.size)
            extra = {
                "lon_nodes": lon,
                "lat_nodes": lat,
                "int_index": slot,
                "int_solid_angle": omega,
            }
        return cls(
            name=model.name,
            model=model,
            cut_shape=shape,
            pixels=pixels,
            offset=(rows.start, cols.start),
            kernel=kernel,
            edisp=np.asarray(irfs.edisp_at(position), dtype=np.float64),
            exposure=np.ascontiguousarray(response.exposure[:, pixels]),
            psf_reco=response.psf_energy == "reco",
            irfs=irfs,
            **extra,
        )

    @cached_property
    def kernel_fft(self):
        """The kernels with their FFTs for images of the cutout's shape."""
        from gammaprob.forward.convolve import KernelFFT

        return KernelFFT(self.kernel, self.cut_shape)

    def image(self, params: Mapping):
        """Flux fraction per cutout pixel before the PSF, ``(H, W)`` (tensor or numpy)."""
        from gammaprob.utils.xp import namespace

        values = component_params(self.model, "spatial", params, n_positional=2)
        if self.lon_nodes is None:
            x0, y0 = self.irfs.projection.world_to_pixel(values["lon_0"], values["lat_0"])
            xp = namespace(x0, y0)
            cols = np.arange(self.cut_shape[1]) + self.offset[1]
            rows = np.arange(self.cut_shape[0]) + self.offset[0]
            wx = xp.maximum(1.0 - xp.abs(cols - x0), 0.0)
            wy = xp.maximum(1.0 - xp.abs(rows - y0), 0.0)
            return wy[:, None] * wx[None, :]
        spatial = spatial_component(self.model)
        brightness = spatial.evaluate(self.lon_nodes, self.lat_nodes, **values)
        flux = brightness.mean(axis=-1) * self.int_solid_angle
        xp = namespace(flux)
        padded = xp.concatenate([flux, xp.zeros_like(flux[:1])])
        return padded[self.int_index].reshape(self.cut_shape)

    def _convolve_same(self, images):
        import pytensor.tensor as pt

        from gammaprob.forward.convolve import convolve_images

        m = (self.kernel.shape[-1] - 1) // 2
        h, w = self.cut_shape
        out = convolve_images(images, self.kernel_fft)[:, m : m + h, m : m + w]
        return pt.maximum(out, 0.0)  # FFT round-off below 0 where the result is 0

    def signal(self, params: Mapping, flux):
        """Predicted counts on the cutout, ``(n_reco, H * W)`` tensor.

        Parameters
        ----------
        params : Mapping
            Parameter values (floats or tensors).
        flux : tensor
            Flux integrated over each true-energy bin (cm-2 s-1), ``(n_true,)``.
        """
        import pytensor.tensor as pt

        image = pt.as_tensor_variable(self.image(params))
        n_true = self.exposure.shape[0]
        if self.psf_reco:
            cube = flux[:, None] * self.exposure * image.reshape((1, -1))
            reco = pt.dot(self.edisp.T, cube).reshape((-1, *self.cut_shape))
            return self._convolve_same(reco).reshape((self.edisp.shape[1], -1))
        spread = self._convolve_same(image).reshape((n_true, -1))
        return pt.dot(self.edisp.T, flux[:, None] * spread * self.exposure)

    def __repr__(self) -> str:
        kind = "point" if self.lon_nodes is None else f"extended, {self.lon_nodes.shape[1]} sub-px"
        return (
            f"KernelSource({self.name!r}, {kind}, cutout={self.cut_shape} at {self.offset}, "
            f"kernel={self.kernel.shape})"
        )


def kernel_irfs(response: MapResponse, psf_mode: str) -> KernelIRFs | None:
    """Return the response's kernel-mode IRFs for ``psf_mode="kernel"`` (None for ``"exact"``).

    Raises
    ------
    ValueError
        For an unknown mode, or kernel mode on a response not built from a dataset.
    """
    if psf_mode not in PSF_MODES:
        raise ValueError(f"psf_mode must be one of {PSF_MODES}, got {psf_mode!r}")
    if psf_mode == "exact":
        return None
    if response.dataset is None:
        raise ValueError(
            f"psf_mode='kernel' needs the PSF map and WCS of dataset {response.name!r}: build "
            "the response with MapResponse.from_dataset"
        )
    if response.is_onoff:
        raise ValueError("psf_mode='kernel' is not implemented for on/off map datasets")
    return KernelIRFs.from_dataset(response.dataset)


def gather_index(pixels: np.ndarray, cutout: np.ndarray) -> np.ndarray:
    """For each pixel of ``cutout``, its position in ``pixels`` (``len(pixels)``: absent)."""
    lookup = np.full(int(max(cutout.max(initial=0), pixels.max(initial=0))) + 1, pixels.size)
    lookup[pixels] = np.arange(pixels.size)
    return lookup[cutout].astype(np.int64)


def npred_map_kernel(
    response: MapResponse, models, values: Mapping, *, n_nodes: int | None = None
) -> np.ndarray:
    """Predicted counts on every bin ``(n_reco, n_pix)`` in kernel mode (numbers).

    Evaluates the same graph as ``MapFold.build(..., psf_mode="kernel")`` with the sources at
    the positions in ``values`` (cutouts and kernels there), plus the background.

    Parameters
    ----------
    response : MapResponse
        Built by :meth:`MapResponse.from_dataset`.
    models : sequence
        Sky models and at most one FoV background model.
    values : Mapping
        Parameter values (floats), nested or flat.
    n_nodes : int, optional
        Quadrature nodes per true-energy bin (default: :data:`DEFAULT_NODES`).

    Returns
    -------
    numpy.ndarray
        Signal plus background counts per bin.
    """
    import pytensor.tensor as pt

    from gammaprob.forward._models import models_for, spectral_component
    from gammaprob.forward.integration import DEFAULT_NODES, integrate_component

    irfs = kernel_irfs(response, "kernel")
    r = response
    total = np.zeros(r.counts.shape)
    factor = np.ones(r.counts.shape[0])
    for model in models_for(models, r.name, None):
        if getattr(model, "tag", None) == "FoVBackgroundModel":
            if getattr(model, "has_gradient", False):
                raise ValueError(
                    f"background model {model.name!r} has a spatial gradient, which "
                    "psf_mode='kernel' (gammapy's discretisation) does not model; use "
                    "psf_mode='exact'"
                )
            factor = model.spectral.evaluate(
                r.energy_center, **component_params(model, "spectral", values)
            )
            continue
        pos = component_params(model, "spatial", values, n_positional=2)
        source = KernelSource.build(r, irfs, model, (pos["lon_0"], pos["lat_0"]))
        flux = integrate_component(
            spectral_component(model),
            r.energy_true_edges[:-1],
            r.energy_true_edges[1:],
            component_params(model, "spectral", values),
            n_nodes=DEFAULT_NODES if n_nodes is None else n_nodes,
        )
        flux = pt.as_tensor_variable(np.asarray(flux, dtype=np.float64))
        total[:, source.pixels] += source.signal(values, flux).eval(mode="FAST_COMPILE")
    return total + np.asarray(factor)[:, None] * r.background
