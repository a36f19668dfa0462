r"""Predicted counts of 3D map datasets (energy x lat x lon) as a pytensor graph.

Two evaluation modes (``MapFold.build(..., psf_mode=...)``):

* ``"exact"`` (default, described below): the PSF at the exact pixel-source separation for
  point sources, sub-pixel averaged; smooth in the source position and converging to the
  continuous model as the sub-pixel sampling is refined.
* ``"kernel"``: gammapy's discretisation (:mod:`gammaprob.forward.kernel_mode`): a point source
  spread over the 4 nearest pixels with bilinear weights, extended models integrated with
  gammapy's oversampling rule, both convolved with a pixelised PSF kernel sampled at each
  source's position, on gammapy's per-source cutouts, with the energy dispersion at the source.
  npred equals gammapy's per pixel to ~2e-7 of the peak (float32 rounding of its convolution);
  on coarse pixels it blurs the PSF core (up to ~50% per pixel against ``"exact"`` on the 0.1
  deg Fermi-LAT 3FHL pixels), and its position gradients have kinks at pixel centres.

Point sources
-------------
The radial PSF is evaluated at the pixel-source separation, no convolution:

.. math::
    \mu_{e,p} = \sum_t D_{t,e}\, F_t\, \varepsilon_{t,p}\, \mathrm{PSF}_t(r_p)\, \Omega_p,

with ``F_t`` the flux integrated over true-energy bin ``t``, ``ε`` the exposure (cm2 s), ``Ω``
the pixel solid angle (sr) and ``D`` the energy dispersion. ``r_p`` enters through the haversine
``h = sin^2(r/2)`` (see :mod:`gammaprob.forward.psf`), so gradients in the source position are
finite everywhere, including at a pixel centre. The PSF is averaged over ``k x k`` sub-pixel
points (:meth:`MapResponse.auto_oversampling`).

Extended sources
----------------
The model is integrated over the pixels of a static box and convolved with the PSF kernel of
every energy bin by FFT (:mod:`gammaprob.forward.extended`); then, as in gammapy, multiplied by
the flux and the exposure of the reconstructed pixel and folded with the energy dispersion.

PSF per reconstructed energy (HAWC)
-----------------------------------
With ``MapResponse.psf_energy == "reco"`` the PSF is applied after the energy dispersion:
``mu_{e,p} = PSF_e(r_p) Ω_p sum_t D_{t,e} F_t ε_{t,p}`` for point sources, and the convolution
of ``sum_t D_{t,e} F_t ε_{t,p} I_p`` with the kernel of bin ``e`` for extended ones (exposure at
the true position, as gammapy does in that case).

Static cutout and compressed likelihood
---------------------------------------
Each source is evaluated only on the pixels it can reach from anywhere in its position margin
(prior support), including the PSF containment radius. Outside the cutouts the prediction is
the background alone, ``b_p g_e`` with one factor ``g_e`` per energy bin (FoV norm/tilt), so the
Poisson likelihood there factorises into a Poisson term for the summed counts per energy bin and
a multinomial term that depends on no parameter. The graph therefore holds the cutout bins one
by one and one aggregated bin per energy: exact up to the constant
:attr:`MapFold.log_multinomial`, and its cost does not grow with the map size. For on/off
datasets the bins outside the cutouts carry no signal and their OFF expectation is a free
nuisance per bin, so they carry no information on any source parameter and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, xlogy

from gammaprob.forward._models import (
    component_params,
    models_for,
    spatial_component,
    spectral_component,
)
from gammaprob.forward.checks import SourceRegion
from gammaprob.forward.extended import ExtendedSource, size_quantiles
from gammaprob.forward.integration import DEFAULT_NODES, integrate_component
from gammaprob.forward.kernel_mode import KernelSource, gather_index, kernel_irfs
from gammaprob.forward.map_response import MapResponse, haversine, to_frame
from gammaprob.forward.psf import PointFold, factor_product, low_rank, psf_grid

__all__ = ["MapFold", "npred_map"]


def _is_background_model(model) -> bool:
    return getattr(model, "tag", None) == "FoVBackgroundModel"


def _is_point(spatial) -> bool:
    return type(spatial).__name__ == "Point"


def _check_source(model, response: MapResponse):
    spatial = spatial_component(model)
    if spatial is None:
        raise ValueError(
            f"source {model.name!r} has no spatial model; it cannot be folded on map dataset "
            f"{response.name!r}"
        )
    if not _is_point(spatial) and not (
        hasattr(spatial, "evaluate") and hasattr(spatial, "evaluation_radius")
    ):
        raise TypeError(
            f"source {model.name!r}: an extended spatial model needs evaluate(lon, lat, ...) and "
            f"evaluation_radius(); got {type(spatial).__name__}"
        )
    frame = getattr(spatial, "frame", response.frame)
    if frame != response.frame and not _is_point(spatial):
        raise ValueError(
            f"source {model.name!r} is in frame {frame!r} but dataset {response.name!r} uses "
            f"{response.frame!r}: point sources are converted (exactly, free positions "
            "included), extended ones not yet; define this model in the dataset's frame"
        )
    return spatial


def _point_position(pos: Mapping, spatial, response: MapResponse):
    """Return a point source's ``(lon_0, lat_0)`` in the dataset's frame (numbers or tensors)."""
    frame = getattr(spatial, "frame", response.frame)
    return to_frame(pos["lon_0"], pos["lat_0"], frame, response.frame)


def _centre(model, spatial, response: MapResponse, positions, position_margin):
    if model.name in positions:
        lon_0, lat_0, *rest = positions[model.name]
        margin = rest[0] if rest and rest[0] is not None else position_margin
        lon_0, lat_0 = to_frame(
            lon_0, lat_0, getattr(spatial, "frame", response.frame), response.frame
        )
        return (float(lon_0), float(lat_0)), margin
    parameters = getattr(spatial, "parameters", {})
    if "lon_0" in parameters or _is_point(spatial):
        raise KeyError(f"no position given for the cutout of source {model.name!r}")
    centre = _map_centre(response)
    return (response.lon[centre], response.lat[centre]), 0.0


def _map_centre(response: MapResponse) -> int:
    n_lat, n_lon = response.shape
    return (n_lat // 2) * n_lon + n_lon // 2


@dataclass(frozen=True, eq=False)
class MapFold:
    """Folding of one map dataset with its sources, built once (see module docstring).

    Attributes
    ----------
    response : MapResponse
        The dataset's response.
    sources : tuple
        Point sources contributing to the dataset.
    extended : tuple of ExtendedSource
        Extended sources with their static boxes.
    gathers : tuple of numpy.ndarray
        Per extended source, where each cutout pixel is in its convolution output.
    background_model : object or None
        FoV background model of the dataset (norm/tilt on the background), or None.
    cutout : numpy.ndarray
        Indices of the pixels where sources are evaluated (union of all sources' reach).
    inside : numpy.ndarray
        Flat indices into ``(n_reco, n_cutout)`` of the masked bins inside the cutout.
    outside_energy : numpy.ndarray
        Energy bins whose masked bins outside the cutout are aggregated (none for on/off).
    counts : numpy.ndarray
        Observed counts of the likelihood bins: inside bins, then one per aggregated energy.
    background_inside, background_outside : numpy.ndarray
        Background counts of the same bins.
    counts_off, alpha : numpy.ndarray or None
        On/off datasets: OFF counts and ON/OFF ratio of the inside bins.
    log_multinomial : float
        Parameter-free constant: full Poisson log-likelihood minus the compressed one (0 for
        on/off datasets, whose bins outside the cutouts are left out).
    lon_nodes, lat_nodes : numpy.ndarray
        Sub-pixel points of the cutout pixels for point sources (deg), ``(n_cutout, k**2)``.
    psf_table, psf_ds : numpy.ndarray, float
        PSF ``(n_psf, n_grid)`` on a uniform grid of step ``psf_ds`` in ``sqrt(sin^2(r/2))``.
    point_fold : PointFold or None
        Low-rank PSF and exposure factors used to fold the point sources (None without).
    kernel_sources, kernel_gathers : tuple
        ``psf_mode="kernel"`` sources and where each cutout pixel is in their outputs.
    exposure_factors : tuple or None
        ``(a, b)``, ``(n_true, J)`` and ``(J, n_cutout)``: low-rank factors of the cutout
        exposure (cm2 s) used to fold extended sources whose PSF kernels are rank one with a
        PSF per true energy (:func:`~gammaprob.forward.psf.low_rank`); None without such
        sources.
    regions : tuple of SourceRegion
        Where each point or extended source was assumed to stay (checked against posterior
        draws by :func:`~gammaprob.forward.checks.check_regions`).
    """

    response: MapResponse
    sources: tuple
    extended: tuple
    gathers: tuple
    background_model: object
    cutout: np.ndarray
    inside: np.ndarray
    outside_energy: np.ndarray
    counts: np.ndarray
    background_inside: np.ndarray
    background_outside: np.ndarray
    counts_off: np.ndarray | None
    alpha: np.ndarray | None
    log_multinomial: float
    lon_nodes: np.ndarray
    lat_nodes: np.ndarray
    psf_table: np.ndarray
    psf_ds: float
    point_fold: PointFold | None
    kernel_sources: tuple = ()
    kernel_gathers: tuple = ()
    exposure_factors: tuple | None = None
    regions: tuple = ()

    @classmethod
    def build(
        cls,
        response: MapResponse,
        models: Sequence,
        positions: Mapping[str, tuple],
        *,
        position_margin: float = 0.3,
        containment: float = 0.999,
        oversampling: int | None = None,
        size_quantile: float = 0.99,
        model_oversampling: int | None = None,
        psf_nodes: int = 2048,
        known_datasets=(),
        psf_mode: str = "exact",
    ) -> MapFold:
        """Choose the static cutout and compress the likelihood bins outside it.

        Parameters
        ----------
        response : MapResponse
            The dataset's response.
        models : sequence
            Sky models and FoV background models (those assigned to other datasets are skipped).
        positions : Mapping
            ``{source: (lon, lat)}`` or ``{source: (lon, lat, margin)}`` (deg): where each
            source's cutout is centred and, optionally, how far it may move (see
            :func:`~gammaprob.forward.nominal_positions`).
        position_margin : float
            How far (deg) a position may move from its nominal value, for sources whose
            margin is not given (cover the prior support).
        containment : float
            PSF flux fraction inside the cutout radius (point sources) and the kernel radius
            (extended sources).
        oversampling : int, optional
            The PSF is averaged over ``oversampling**2`` points per pixel (default:
            :meth:`MapResponse.auto_oversampling`).
        size_quantile : float
            Extended sources: upper prior quantile of the size parameters used for the box.
        model_oversampling : int, optional
            Extended sources: sub-pixel points per axis of the model image (default: automatic,
            see :class:`~gammaprob.forward.extended.ExtendedSource`).
        psf_nodes : int
            Nodes of the uniform PSF grid (point sources).
        known_datasets : iterable of str or None
            Names of all datasets (to catch models assigned to unknown datasets).
        psf_mode : {"exact", "kernel"}
            ``"exact"``: the PSF at the exact pixel-source separation (point sources) and
            the model integrated on sub-pixels (extended), see the module docstring.
            ``"kernel"``: gammapy's discretisation (bilinear point spreading, pixelised PSF
            kernel per source, gammapy's cutouts and oversampling), see
            :mod:`gammaprob.forward.kernel_mode`; needs a response built by
            :meth:`MapResponse.from_dataset`. ``oversampling``, ``containment``,
            ``model_oversampling`` and ``size_quantile`` do not apply to it.

        Returns
        -------
        MapFold
        """
        known = None if known_datasets is None else [response.name, *known_datasets]
        chosen = models_for(models, response.name, known)
        backgrounds = [m for m in chosen if _is_background_model(m)]
        if len(backgrounds) > 1:
            raise ValueError(
                f"dataset {response.name!r} has {len(backgrounds)} background models; expected at most one"
            )
        if backgrounds and response.is_onoff:
            raise ValueError(
                f"on/off dataset {response.name!r} takes no background model (its background "
                "comes from the OFF counts)"
            )
        oversampling = response.auto_oversampling() if oversampling is None else oversampling
        psf_radius = response.containment_radius(containment)
        near = np.zeros(response.lon.size, bool)
        if backgrounds and getattr(backgrounds[0], "has_gradient", False):
            if psf_mode == "kernel":
                raise ValueError(
                    f"dataset {response.name!r}: a background gradient is not supported with "
                    "psf_mode='kernel'"
                )
            near[:] = True  # every pixel's background depends on the gradient: no compression
        points, extended, max_radius = [], [], 0.0
        kernel_sources, regions = [], []
        pixel = float(np.rad2deg(np.sqrt(np.max(response.solid_angle))))
        irfs = kernel_irfs(response, psf_mode)
        for model in (m for m in chosen if not _is_background_model(m)):
            spatial = _check_source(model, response)
            centre, margin = _centre(model, spatial, response, positions, position_margin)
            widest = _psf_scale_bound(model, response, irfs is None and _is_point(spatial))
            if irfs is not None:
                if getattr(spatial, "frame", response.frame) != response.frame:
                    raise ValueError(
                        f"source {model.name!r}: psf_mode='kernel' needs the model in the "
                        f"dataset's frame {response.frame!r}"
                    )
                kernel_sources.append(KernelSource.build(response, irfs, model, centre))
                near[kernel_sources[-1].pixels] = True
                continue
            if _is_point(spatial):
                radius = min(margin + psf_radius * widest, 180.0)
                max_radius = max(max_radius, radius + margin)
                h = haversine(response.lon, response.lat, *centre)
                near |= h <= np.sin(0.5 * np.deg2rad(radius)) ** 2
                points.append(model)
                regions.append(
                    SourceRegion(
                        response.name,
                        model.name,
                        spatial,
                        tuple(centre),
                        margin,
                        frame=response.frame,
                    )
                )
                continue
            source = ExtendedSource.build(
                response,
                model,
                centre,
                margin,
                quantile=size_quantile,
                containment=containment,
                psf_oversampling=oversampling,
                model_oversampling=model_oversampling,
            )
            if source is not None:
                near[source.out_pixels] = True
                extended.append(source)
                upper = spatial.evaluation_radius(**size_quantiles(spatial, size_quantile))
                regions.append(
                    SourceRegion(
                        response.name,
                        model.name,
                        spatial,
                        tuple(centre),
                        margin,
                        reach=margin + (180.0 if upper is None else float(upper.to_value("deg"))),
                        pixel=pixel,
                        frame=response.frame,
                        oversampling=int(np.sqrt(source.lon_nodes.shape[1])),
                    )
                )
        mask, counts, bkg = response.mask, response.counts, response.background
        if not response.is_onoff:
            # bins outside the cutout with zero background but counts > 0 stay individual bins
            singular = mask & ~near[None, :] & (bkg <= 0) & (counts > 0)
            near[singular.any(axis=0)] = True
        cutout = np.flatnonzero(near)
        out_mask = mask & ~near[None, :]
        if response.is_onoff:
            out_mask[:] = False
        inside = np.flatnonzero(mask[:, cutout].reshape(-1))
        n_out = (counts * out_mask).sum(axis=1)
        b_out = (bkg * out_mask).sum(axis=1)
        outside_energy = np.flatnonzero(out_mask.any(axis=1) & ((b_out > 0) | (n_out > 0)))
        # full minus compressed Poisson log-likelihood: multinomial split of N_e over pixels
        n_pix_out = np.where(out_mask, counts, 0)
        share = np.divide(bkg, b_out[:, None], out=np.zeros_like(bkg), where=b_out[:, None] > 0)
        log_multinomial = float(
            np.sum(gammaln(n_out[outside_energy] + 1.0))
            - np.sum(gammaln(n_pix_out + 1.0))
            + np.sum(xlogy(n_pix_out, np.where(out_mask, share, 1.0)))
        )
        if points:
            lon_sub, lat_sub = response.subpixel_nodes(oversampling, cutout)
            # the grid reaches every pixel corner of the cutout from any allowed source position
            pixel = np.rad2deg(np.sqrt(response.solid_angle.max()))
            table, ds = psf_grid(response, max_radius + 2 * pixel, psf_nodes)
            point_fold = PointFold.build(response, cutout, lon_sub, lat_sub, table, ds)
        else:
            lon_sub = lat_sub = np.zeros((cutout.size, 0))
            table, ds = np.zeros((0, 2)), 1.0
            point_fold = None
        onoff = response.is_onoff
        exposure_factors = None
        if response.psf_energy != "reco" and any(s.rank_one for s in extended):
            exposure_factors = low_rank(response.exposure[:, cutout])
        return cls(
            response=response,
            sources=tuple(points),
            extended=tuple(extended),
            gathers=tuple(s.gather_index(cutout) for s in extended),
            background_model=backgrounds[0] if backgrounds else None,
            cutout=cutout,
            inside=inside,
            outside_energy=outside_energy,
            counts=np.concatenate([counts[:, cutout].reshape(-1)[inside], n_out[outside_energy]]),
            background_inside=bkg[:, cutout].reshape(-1)[inside],
            background_outside=b_out[outside_energy],
            counts_off=response.counts_off[:, cutout].reshape(-1)[inside] if onoff else None,
            alpha=response.alpha[:, cutout].reshape(-1)[inside] if onoff else None,
            log_multinomial=log_multinomial,
            lon_nodes=lon_sub,
            lat_nodes=lat_sub,
            psf_table=table,
            psf_ds=ds,
            point_fold=point_fold,
            kernel_sources=tuple(kernel_sources),
            kernel_gathers=tuple(gather_index(s.pixels, cutout) for s in kernel_sources),
            exposure_factors=exposure_factors,
            regions=tuple(regions),
        )

    def _background_factor(self, params: Mapping):
        model = self.background_model
        if model is None:
            return None
        values = component_params(model, "spectral", params)
        return model.spectral.evaluate(self.response.energy_center, **values)

    def _background_spatial(self, params: Mapping):
        """Spatial background factor on the cutout pixels, or None without a gradient."""
        model = self.background_model
        if model is None or not getattr(model, "has_gradient", False):
            return None
        r = self.response
        centre = _map_centre(r)
        return model.spatial_factor(
            r.lon[self.cutout],
            r.lat[self.cutout],
            _gradient_values(model, params),
            (r.lon[centre], r.lat[centre]),
        )

    def _flux(self, model, params, n_nodes):
        import pytensor.tensor as pt

        r = self.response
        flux = integrate_component(
            spectral_component(model),
            r.energy_true_edges[:-1],
            r.energy_true_edges[1:],
            component_params(model, "spectral", params),
            n_nodes=n_nodes,
        )
        return pt.as_tensor_variable(flux)

    def signal_cutout(self, params: Mapping, *, n_nodes: int = DEFAULT_NODES):
        """Return the predicted signal counts ``(n_reco, n_cutout)`` on the cutout (tensor)."""
        import pytensor.tensor as pt

        r = self.response
        n_true, n_reco = r.edisp.shape
        reco_psf = r.psf_energy == "reco"
        exposure = r.exposure[:, self.cutout]
        omega = r.solid_angle[self.cutout]
        point_terms, ext_terms, reco_terms = [], [], []  # (n_psf, n_cut) each

        def spread_of(flux):  # (n_reco, n_true): D^T diag(F)
            return pt.as_tensor_variable(r.edisp.T) * flux[None, :]

        for model in self.sources:  # low-rank PSF x exposure, see PointFold
            flux = self._flux(model, params, n_nodes)
            pos = component_params(model, "spatial", params, n_positional=2)
            lon_0, lat_0 = _point_position(pos, spatial_component(model), r)
            scale = _psf_scale(model, params)
            if self.point_fold.fused:
                reco_terms.append(self.point_fold.counts(flux, lon_0, lat_0, scale))
            else:
                point_terms.append(self.point_fold.density(flux, lon_0, lat_0, scale))
        for source, index in zip(self.extended, self.gathers, strict=True):
            flux = self._flux(source.model, params, n_nodes)
            if source.follows and not reco_psf:
                if source.rank_one:
                    weights, row = source.convolve_following_rank_one(params, index)
                    left, right = self.exposure_factors
                    mix = pt.dot(spread_of(flux), weights[:, None] * left)
                    reco_terms.append(factor_product(mix, right) * row[None, :])
                else:
                    ext_terms.append(flux[:, None] * source.convolve_following(params, index))
                continue
            image = source.image(params)
            if reco_psf:
                box_exposure = r.exposure[:, source.box_pixels].reshape((n_true, *source.box_shape))
                cube = flux[:, None, None] * box_exposure * image[None, :, :]
                reco_terms.append(
                    source.convolve(pt.tensordot(r.edisp, cube, axes=[[0], [0]]), index)
                )
            elif source.rank_one:  # mu = (D^T F w a) @ b x row: no (n_true, n_cutout) array
                weights, row = source.convolve_rank_one(image, index)
                left, right = self.exposure_factors
                mix = pt.dot(spread_of(flux), weights[:, None] * left)  # (n_reco, J)
                reco_terms.append(factor_product(mix, right) * row[None, :])
            else:
                ext_terms.append(flux[:, None] * source.convolve(image, index))
        true = []
        if point_terms:  # PSF densities: times exposure x solid angle (one constant)
            true.append(sum(point_terms[1:], point_terms[0]) * (exposure * omega))
        if ext_terms:  # flux fractions per pixel: times exposure
            true.append(sum(ext_terms[1:], ext_terms[0]) * exposure)
        terms = reco_terms + ([pt.dot(r.edisp.T, sum(true[1:], true[0]))] if true else [])
        for source, index in zip(self.kernel_sources, self.kernel_gathers, strict=True):
            signal = source.signal(params, self._flux(source.model, params, n_nodes))
            terms.append(pt.concatenate([signal, pt.zeros((n_reco, 1))], axis=1)[:, index])
        if not terms:
            return pt.zeros((n_reco, self.cutout.size))
        return sum(terms[1:], terms[0])

    def npred(self, params: Mapping, *, n_nodes: int = DEFAULT_NODES):
        """Return the expected counts of the likelihood bins (inside, then aggregated ones).

        For on/off datasets: the expected signal counts of the inside bins.
        """
        import pytensor.tensor as pt

        factor = self._background_factor(params)
        spatial = self._background_spatial(params)
        signal = self.signal_cutout(params, n_nodes=n_nodes)
        if self.inside.size == signal.type.shape[0] * self.cutout.size:
            # every cutout bin is in the mask: keep (energy, pixel) and broadcast, no gathers
            if self.response.is_onoff:
                return signal.reshape((-1,))
            background = self.background_inside.reshape(signal.type.shape[0], -1)
            if spatial is not None:
                background = background * spatial[None, :]
            if factor is not None:
                background = pt.as_tensor_variable(factor)[:, None] * background
                outside = (
                    pt.as_tensor_variable(factor)[self.outside_energy] * self.background_outside
                )
            else:
                outside = pt.as_tensor_variable(self.background_outside)
            return pt.concatenate([(signal + background).reshape((-1,)), outside])
        signal = signal.reshape((-1,))[self.inside]
        if self.response.is_onoff:
            return signal
        if factor is None:
            inside = signal + self.background_inside
            outside = pt.as_tensor_variable(self.background_outside)
        else:
            factor = pt.as_tensor_variable(factor)
            energy_of_inside = self.inside // max(self.cutout.size, 1)
            background = self.background_inside
            if spatial is not None:
                background = background * spatial[self.inside % self.cutout.size]
            inside = signal + factor[energy_of_inside] * background
            outside = factor[self.outside_energy] * self.background_outside
        return pt.concatenate([inside, outside])

    @property
    def dense_reason(self) -> str | None:
        """Why the likelihood runs over every cutout bin, or None when it follows the sources.

        The likelihood follows the sources (:mod:`gammaprob.likelihood.map_sparse`) for
        datasets with a known background times one factor per energy bin and at least one
        extended source on a following box; on/off datasets, a FoV background gradient,
        ``psf_mode="kernel"`` and a PSF per reconstructed energy keep the dense path.
        """
        if self.response.is_onoff:
            return "on/off dataset"
        if self.kernel_sources:
            return "psf_mode='kernel'"
        if self.response.psf_energy == "reco":
            return "PSF per reconstructed energy"
        if self.background_model is not None and getattr(
            self.background_model, "has_gradient", False
        ):
            return "FoV background gradient"
        if not any(s.follows for s in self.extended):
            return "no extended source on a following box"
        return None

    def static_models(self) -> list:
        """Return the models evaluated on static regions, and the background model.

        Point sources and extended sources that do not follow: the bins they reach take their
        full likelihood term at every call.
        """
        models = list(self.sources) + [s.model for s in self.extended if not s.follows]
        return models + ([self.background_model] if self.background_model is not None else [])

    def following_parts(self, params: Mapping, *, n_nodes: int = DEFAULT_NODES) -> list:
        """Per extended source on a following box: ``(box, outputs, weights, flux)``.

        ``outputs`` is the box Op's ``(K, n_cutout)`` tensor, ``weights`` the ``(n_true, K)``
        mixing of its rows into true-energy rows (None: the rows are the true energies) and
        ``flux`` the source's flux per true-energy bin; the signal on the cutout is
        ``edisp^T (exposure * sum flux max(weights @ outputs, 0))``.
        """
        from gammaprob.forward.following_box import FollowingBoxConvolve

        parts = []
        for source, index in zip(self.extended, self.gathers, strict=True):
            if not source.follows:
                continue
            weights, factors = source.kernel_factors
            factored = weights.shape[1] < weights.shape[0]
            box = source.following_box(params, index, factors if factored else source.kernel)
            outputs = FollowingBoxConvolve(box)(box.theta())
            flux = self._flux(source.model, params, n_nodes)
            parts.append((box, outputs, weights if factored else None, flux))
        return parts

    def __repr__(self) -> str:
        names = [m.name for m in self.sources] + [s.name for s in self.extended]
        names += [f"{s.name} (kernel mode)" for s in self.kernel_sources]
        reason = self.dense_reason
        likelihood = "follows the sources" if reason is None else f"dense: {reason}"
        return (
            f"MapFold({self.response.name!r}, sources={names}, "
            f"cutout={self.cutout.size}/{self.response.lon.size} px, "
            f"{self.inside.size} bins + {self.outside_energy.size} aggregated"
            f"{', on/off' if self.response.is_onoff else ''}, likelihood {likelihood})"
        )


def npred_map(
    response: MapResponse,
    models: Sequence,
    values: Mapping,
    *,
    n_nodes: int = DEFAULT_NODES,
    oversampling: int | None = None,
    model_oversampling: int | None = None,
    containment: float = 0.999,
) -> np.ndarray:
    """Predicted counts on every bin ``(n_reco, n_pix)`` with numpy (no cutout, reference path).

    Parameters
    ----------
    response : MapResponse
        The dataset's response.
    models : sequence
        Sky models and at most one FoV background model.
    values : Mapping
        Parameter values (floats), nested or flat (see :mod:`gammaprob.forward._models`).
    n_nodes : int
        Quadrature nodes per true-energy bin for components without an analytic integral.
    oversampling : int, optional
        The PSF is averaged over ``oversampling**2`` points per pixel (default:
        :meth:`MapResponse.auto_oversampling`).
    model_oversampling : int, optional
        Sub-pixel points per axis of extended-source images (default: automatic).
    containment : float
        PSF containment of the extended sources' convolution kernels.

    Returns
    -------
    numpy.ndarray
        Signal plus background counts per bin (signal only for on/off datasets).
    """
    r = response
    lo, hi = r.energy_true_edges[:-1], r.energy_true_edges[1:]
    oversampling = r.auto_oversampling() if oversampling is None else oversampling
    n_true, n_reco = r.edisp.shape
    reco_psf = r.psf_energy == "reco"
    fraction = np.zeros((r.psf_values.shape[0], r.lon.size))  # flux-weighted, per PSF bin
    signal_true = np.zeros((n_true, r.lon.size))
    signal_reco = np.zeros((n_reco, r.lon.size))
    factor = np.ones(n_reco)
    bkg_spatial = np.ones(r.lon.size)
    for model in models_for(models, r.name, None):
        if _is_background_model(model):
            factor = model.spectral.evaluate(
                r.energy_center, **component_params(model, "spectral", values)
            )
            if getattr(model, "has_gradient", False):
                mid = _map_centre(r)
                bkg_spatial = np.asarray(
                    model.spatial_factor(
                        r.lon, r.lat, _gradient_values(model, values), (r.lon[mid], r.lat[mid])
                    )
                )
            continue
        spatial = _check_source(model, r)
        flux = integrate_component(
            spectral_component(model),
            lo,
            hi,
            component_params(model, "spectral", values),
            n_nodes=n_nodes,
        )
        flux = np.asarray(flux, dtype=np.float64)
        fraction[:] = 0.0
        pos = component_params(model, "spatial", values, n_positional=2)
        if _is_point(spatial):
            lon_sub, lat_sub = r.subpixel_nodes(oversampling)
            h = haversine(lon_sub, lat_sub, *_point_position(pos, spatial, r))
            scale = _psf_scale(model, values)
            scale = 1.0 if scale is None else float(scale)  # PSF(r / s) / s**2, small angles
            fraction[:] = (
                np.stack(
                    [
                        np.interp(h / scale**2, r.psf_haversine, row).mean(axis=-1)
                        for row in r.psf_values
                    ]
                )
                * r.solid_angle
                / scale**2
            )
        else:
            sizes = {k: v for k, v in pos.items() if k not in ("lon_0", "lat_0")}
            mid = _map_centre(r)
            centre = (pos.get("lon_0", r.lon[mid]), pos.get("lat_0", r.lat[mid]))
            source = ExtendedSource.build(
                r,
                model,
                centre,
                0.0,
                sizes=sizes,
                containment=containment,
                psf_oversampling=oversampling,
                model_oversampling=model_oversampling,
            )
            if source is None:
                continue
            image = source.image(values)
            if reco_psf:
                box_exposure = r.exposure[:, source.box_pixels].reshape((n_true, *source.box_shape))
                cube = np.tensordot(
                    r.edisp, flux[:, None, None] * box_exposure * image, axes=([0], [0])
                )
                conv, pixels = source.convolve_numpy(cube)
                signal_reco[:, pixels] += conv
                continue
            conv, pixels = source.convolve_numpy(image)
            fraction[:, pixels] = conv
        if reco_psf:
            signal_reco += (r.edisp.T @ (flux[:, None] * r.exposure)) * fraction
        else:
            signal_true += flux[:, None] * fraction * r.exposure
    background = np.asarray(factor)[:, None] * r.background * bkg_spatial[None, :]
    return r.edisp.T @ signal_true + signal_reco + background


def _psf_scale(model, params: Mapping):
    """PSF width scale of a source folded through dataset systematics, or None."""
    spectral = spectral_component(model)
    if not getattr(spectral, "has_psf_scale", False):
        return None
    return component_params(model, "spectral", params)["psf_scale"]


def _psf_scale_bound(model, response: MapResponse, supported: bool) -> float:
    """Widest PSF scale a source's cutout must cover (1 without a PSF scale)."""
    spectral = spectral_component(model)
    if not getattr(spectral, "has_psf_scale", False):
        return 1.0
    if not supported:
        raise ValueError(
            f"source {model.name!r} on dataset {response.name!r}: a PSF width scale is "
            "supported for point sources with psf_mode='exact' only"
        )
    return max(1.0, spectral.psf_scale_bound())


def _gradient_values(model, params: Mapping) -> dict:
    """Gradient values of a background model from nested or flat parameter values."""
    nested = params.get(model.name)
    if isinstance(nested, Mapping):
        if "gradient" in nested:
            return dict(nested["gradient"])
        return {k: np.float64(p.value) for k, p in model.gradient.items()}
    out = {}
    for key in ("gradient_lon", "gradient_lat"):
        flat = f"{model.name}::{key}"
        out[key] = params[flat] if flat in params else np.float64(model.gradient[key].value)
    return out
