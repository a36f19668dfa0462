r"""Predicted counts of 3D map datasets (energy x lat x lon) as a pytensor graph.

Point sources
-------------
The radial PSF is evaluated at the pixel-source separation, no convolution:

.. math::
    \mu_{e,p} = \sum_t D_{t,e}\, F_t\, \varepsilon_{t,p}\, \mathrm{PSF}_t(r_p)\, \Omega_p,

with ``F_t`` the flux integrated over true-energy bin ``t``, ``ε`` the exposure (cm2 s), ``Ω``
the pixel solid angle (sr) and ``D`` the energy dispersion. ``r_p`` enters through the haversine
``h = sin^2(r/2)``, in which the PSF table is interpolated linearly (the PSF is smooth in ``h``
at ``r = 0``), so gradients in the source position are finite everywhere, including at a pixel
centre. The PSF is sampled at pixel centres: for pixels of size ``a`` and a Gaussian core of
width ``σ`` the per-pixel error is about ``(a/σ)^2 / 24``.

Static cutout and compressed likelihood
---------------------------------------
Each source is evaluated only on the pixels within ``position_margin`` plus the PSF containment
radius (``containment`` of the flux, default 0.999, at the widest true energy) of its position at
build time; ``position_margin`` must cover the prior support of the position. Outside the cutouts
the prediction is the background alone, ``b_p g_e`` with one factor ``g_e`` per energy bin (the
FoV background norm/tilt), so the Poisson likelihood there factorises into a Poisson term for
the summed counts per energy bin and a multinomial term that depends on no parameter. The graph
therefore holds the cutout bins one by one and one aggregated bin per energy: exact up to the
constant :attr:`MapFold.log_multinomial`, and its cost does not grow with the map size.
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
from gammaprob.forward.integration import DEFAULT_NODES, integrate_component
from gammaprob.forward.response import _as_counts, _as_float_array, _check_edges

__all__ = ["MapFold", "MapResponse", "haversine", "nominal_positions", "npred_map"]


def haversine(lon, lat, lon_0, lat_0):
    """Return ``sin^2(r/2)`` of the angular distance ``r`` (all angles in deg; numpy or tensors)."""
    from gammaprob.utils.xp import namespace

    xp = namespace(lon, lat, lon_0, lat_0)
    d2r = np.pi / 180.0
    s_lat = xp.sin(0.5 * d2r * (lat - lat_0))
    s_lon = xp.sin(0.5 * d2r * (lon - lon_0))
    return s_lat * s_lat + xp.cos(d2r * lat) * xp.cos(d2r * lat_0) * s_lon * s_lon


def _is_background_model(model) -> bool:
    return getattr(model, "tag", None) == "FoVBackgroundModel"


@dataclass(frozen=True, eq=False, repr=False)
class MapResponse:
    """The constant response of one 3D map dataset.

    Attributes
    ----------
    name : str
        Dataset name.
    frame : str
        Frame of ``lon``/``lat`` (``"icrs"`` or ``"galactic"``).
    energy_true_edges, energy_edges : numpy.ndarray
        True and reconstructed energy bin edges (TeV).
    counts : numpy.ndarray
        Counts ``(n_reco, n_pix)`` (pixels flattened), int64.
    exposure : numpy.ndarray
        Exposure ``(n_true, n_pix)`` in cm2 s.
    edisp : numpy.ndarray
        Energy dispersion ``(n_true, n_reco)``.
    background : numpy.ndarray
        Background counts ``(n_reco, n_pix)`` (zeros if the dataset has none).
    mask : numpy.ndarray
        Bins entering the likelihood ``(n_reco, n_pix)``.
    lon, lat : numpy.ndarray
        Pixel-centre coordinates (deg), ``(n_pix,)``.
    solid_angle : numpy.ndarray
        Pixel solid angles (sr), ``(n_pix,)``.
    psf_haversine : numpy.ndarray
        PSF table nodes as ``sin^2(r/2)``, increasing, ``(n_rad,)``.
    psf_values : numpy.ndarray
        PSF density (sr-1) ``(n_true, n_rad)``.
    shape : tuple
        Spatial shape ``(n_lat, n_lon)``.
    """

    name: str
    frame: str
    energy_true_edges: np.ndarray
    energy_edges: np.ndarray
    counts: np.ndarray
    exposure: np.ndarray
    edisp: np.ndarray
    background: np.ndarray
    mask: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    solid_angle: np.ndarray
    psf_haversine: np.ndarray
    psf_values: np.ndarray
    shape: tuple

    @classmethod
    def from_arrays(
        cls,
        name: str,
        *,
        counts,
        exposure,
        edisp,
        energy_true_edges,
        energy_edges,
        lon,
        lat,
        solid_angle,
        psf_rad,
        psf_values,
        frame: str = "icrs",
        background=None,
        mask_safe=None,
    ) -> MapResponse:
        """Build the response from plain arrays in canonical units.

        Parameters
        ----------
        name : str
            Dataset name.
        counts : array_like
            Counts ``(n_reco, n_lat, n_lon)``.
        exposure : array_like
            Exposure ``(n_true, n_lat, n_lon)`` in cm2 s.
        edisp : array_like
            Energy dispersion ``(n_true, n_reco)`` (one kernel for the map).
        energy_true_edges, energy_edges : array_like
            Energy bin edges in TeV.
        lon, lat : array_like
            Pixel-centre coordinates in deg, ``(n_lat, n_lon)``.
        solid_angle : array_like
            Pixel solid angles in sr, ``(n_lat, n_lon)``.
        psf_rad : array_like
            Radii of the PSF table in deg, increasing from 0, ``(n_rad,)``.
        psf_values : array_like
            PSF density in sr-1 at those radii, ``(n_true, n_rad)`` (one PSF for the map).
        frame : {"icrs", "galactic"}
            Frame of ``lon``/``lat``.
        background : array_like, optional
            Background counts ``(n_reco, n_lat, n_lon)``.
        mask_safe : array_like of bool, optional
            Bins used in the likelihood (default: all).

        Returns
        -------
        MapResponse

        Raises
        ------
        ValueError
            On inconsistent shapes, bad counts, non-finite values or an all-masked dataset.
        """
        e_true = _as_float_array(energy_true_edges, "energy_true_edges", 1)
        e_reco = _as_float_array(energy_edges, "energy_edges", 1)
        _check_edges(e_true, "energy_true_edges")
        _check_edges(e_reco, "energy_edges")
        n_true, n_reco = e_true.size - 1, e_reco.size - 1
        counts = np.asarray(counts)
        if counts.ndim != 3 or counts.shape[0] != n_reco:
            raise ValueError(
                f"counts must have shape (n_reco={n_reco}, n_lat, n_lon), got {counts.shape}"
            )
        shape = counts.shape[1:]
        n_pix = int(np.prod(shape))
        counts = _as_counts(counts.reshape(-1), "counts", n_reco * n_pix).reshape(n_reco, n_pix)
        exposure = _as_float_array(exposure, "exposure", 3)
        if exposure.shape != (n_true, *shape) or np.any(exposure < 0):
            raise ValueError(
                f"exposure must be non-negative with shape {(n_true, *shape)}, got {exposure.shape}"
            )
        edisp = _as_float_array(edisp, "edisp", 2)
        if edisp.shape != (n_true, n_reco) or np.any(edisp < 0):
            raise ValueError(
                f"edisp must be non-negative with shape {(n_true, n_reco)}, got {edisp.shape}"
            )
        if background is None:
            background = np.zeros((n_reco, n_pix))
        else:
            background = _as_float_array(background, "background", 3)
            if background.shape != counts.shape[:1] + shape or np.any(background < 0):
                raise ValueError(f"background must be non-negative with shape {(n_reco, *shape)}")
        mask = np.ones((n_reco, n_pix), bool) if mask_safe is None else np.asarray(mask_safe, bool)
        if mask.size != n_reco * n_pix:
            raise ValueError(f"mask_safe must have shape {(n_reco, *shape)}, got {mask.shape}")
        mask = mask.reshape(n_reco, n_pix)
        if not mask.any():
            raise ValueError(
                f"dataset {name!r} has no bin inside its safe mask; it cannot enter a likelihood"
            )
        coords = {}
        for key, value in (("lon", lon), ("lat", lat), ("solid_angle", solid_angle)):
            array = _as_float_array(value, key, 2)
            if array.shape != shape:
                raise ValueError(f"{key} must have the spatial shape {shape}, got {array.shape}")
            coords[key] = array.reshape(-1)
        rad = _as_float_array(psf_rad, "psf_rad", 1)
        values = _as_float_array(psf_values, "psf_values", 2)
        if values.shape != (n_true, rad.size) or rad[0] != 0 or np.any(np.diff(rad) <= 0):
            raise ValueError(
                f"psf_rad must increase from 0 and psf_values have shape (n_true={n_true}, {rad.size})"
            )
        if frame not in ("icrs", "galactic"):
            raise ValueError(f"frame must be 'icrs' or 'galactic', got {frame!r}")
        return cls(
            name=str(name),
            frame=frame,
            energy_true_edges=e_true,
            energy_edges=e_reco,
            counts=counts,
            exposure=exposure.reshape(n_true, n_pix),
            edisp=edisp,
            background=background.reshape(n_reco, n_pix),
            mask=mask,
            lon=coords["lon"],
            lat=coords["lat"],
            solid_angle=coords["solid_angle"],
            psf_haversine=np.sin(0.5 * np.deg2rad(rad)) ** 2,
            psf_values=values,
            shape=tuple(shape),
        )

    def subpixel_nodes(self, oversampling: int) -> tuple[np.ndarray, np.ndarray]:
        """Sub-pixel sample positions (deg), ``(n_pix, oversampling**2)`` each.

        Each pixel is split into ``oversampling x oversampling`` equal cells whose centres are
        placed with the local pixel-to-sky Jacobian (finite differences of the pixel-centre
        coordinates), which is exact for CAR grids and second-order accurate otherwise.
        """
        if oversampling < 1:
            raise ValueError(f"oversampling must be >= 1, got {oversampling}")
        lon = self.lon.reshape(self.shape)
        lat = self.lat.reshape(self.shape)
        wrap = lambda d: (d + 180.0) % 360.0 - 180.0  # noqa: E731
        dlon_dy, dlon_dx = (wrap(g) for g in np.gradient(np.unwrap(lon, period=360.0, axis=1)))
        dlat_dy, dlat_dx = np.gradient(lat)
        offsets = (np.arange(oversampling) + 0.5) / oversampling - 0.5
        u, v = (a.reshape(-1) for a in np.meshgrid(offsets, offsets))  # x, y offsets in pixels
        lon_sub = lon.reshape(-1, 1) + dlon_dx.reshape(-1, 1) * u + dlon_dy.reshape(-1, 1) * v
        lat_sub = lat.reshape(-1, 1) + dlat_dx.reshape(-1, 1) * u + dlat_dy.reshape(-1, 1) * v
        return lon_sub, lat_sub

    @classmethod
    def from_dataset(cls, dataset, position=None) -> MapResponse:
        """Build the response of a gammaprob ``MapDataset`` (see :func:`~._adapters.map_arrays`).

        Parameters
        ----------
        dataset : gammaprob.datasets.MapDataset
            3D dataset on a WCS geometry with exposure and a PSF map.
        position : `~astropy.coordinates.SkyCoord`, optional
            Where the PSF and energy dispersion are read (default: the map centre).

        Returns
        -------
        MapResponse
        """
        from gammaprob.forward._adapters import map_arrays

        return cls.from_arrays(**map_arrays(dataset, position))

    @property
    def energy_center(self) -> np.ndarray:
        """Reconstructed-energy bin centres (geometric mean of the edges, TeV)."""
        return np.sqrt(self.energy_edges[:-1] * self.energy_edges[1:])

    def containment_radii(self, fraction: float) -> np.ndarray:
        """Radius (deg) containing ``fraction`` of the PSF flux, per true energy (NaN: no PSF)."""
        r = 2.0 * np.arcsin(np.sqrt(self.psf_haversine))
        density = self.psf_values * 2 * np.pi * np.sin(r)  # per unit radius (rad-1)
        steps = 0.5 * np.diff(r) * (density[:, 1:] + density[:, :-1])
        cumulative = np.concatenate(
            [np.zeros((density.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1
        )
        total = cumulative[:, -1:]
        idx = np.argmax(cumulative >= fraction * total, axis=1)
        return np.where(total[:, 0] > 0, np.rad2deg(r[idx]), np.nan)

    def containment_radius(self, fraction: float) -> float:
        """Largest radius (deg) over true energies that contains ``fraction`` of the PSF flux."""
        radii = self.containment_radii(fraction)
        return (
            float(np.nanmax(radii))
            if np.isfinite(radii).any()
            else float(np.rad2deg(2 * np.arcsin(np.sqrt(self.psf_haversine[-1]))))
        )

    def auto_oversampling(self) -> int:
        """Sub-pixels per axis so that a sub-pixel is at most 1/4 of the narrowest PSF r68."""
        pixel = np.rad2deg(np.sqrt(np.median(self.solid_angle)))
        radii = self.containment_radii(0.68)
        r68 = np.nanmin(radii) if np.isfinite(radii).any() else np.inf
        return int(np.clip(np.ceil(4.0 * pixel / max(r68, 1e-9)), 1, 8))

    def __repr__(self) -> str:
        return (
            f"MapResponse({self.name!r}, {self.frame}, shape={self.shape}, true {self.exposure.shape[0]} "
            f"bins, reco {self.counts.shape[0]} bins, {int(self.mask.sum())} bins in mask, "
            f"counts={int(self.counts[self.mask].sum())})"
        )


_S_FLOOR = 1e-12  # added to sin^2(r/2) so that sqrt stays differentiable at r = 0


def _psf_grid(response: MapResponse, radius: float, n_grid: int) -> tuple[np.ndarray, float]:
    """PSF resampled on a uniform grid in ``s = sqrt(sin^2(r/2))`` up to ``radius`` (deg)."""
    s_max = np.sin(0.5 * np.deg2rad(min(radius, 180.0)))
    ds = s_max / (n_grid - 1)
    h = (np.arange(n_grid) * ds) ** 2
    table = np.stack(
        [np.interp(h, response.psf_haversine, row, right=0.0) for row in response.psf_values]
    )
    return np.ascontiguousarray(table), float(ds)


def _psf_lookup(table: np.ndarray, ds: float, h):
    """PSF ``(n_true, n)`` at haversines ``h`` (tensor ``(n,)``), linear in ``s`` on the grid."""
    import pytensor.tensor as pt

    x = pt.sqrt(h + _S_FLOOR) / ds
    idx = pt.clip(pt.floor(x), 0, table.shape[1] - 2).astype("int64")
    w = pt.clip(x - idx, 0.0, 1.0)
    table = pt.as_tensor_variable(table)
    return table[:, idx] * (1.0 - w) + table[:, idx + 1] * w


@dataclass(frozen=True, eq=False)
class MapFold:
    """Folding of one map dataset with its sources, built once (see module docstring).

    Attributes
    ----------
    response : MapResponse
        The dataset's response.
    sources : tuple
        Point-source sky models contributing to the dataset.
    background_model : object or None
        FoV background model of the dataset (norm/tilt on the background), or None.
    cutout : numpy.ndarray
        Indices of the pixels evaluated per source (union of all sources' cutouts).
    inside : numpy.ndarray
        Flat indices into ``(n_reco, n_cutout)`` of the masked bins inside the cutout.
    outside_energy : numpy.ndarray
        Energy bins whose masked bins outside the cutout are aggregated.
    counts : numpy.ndarray
        Observed counts of the likelihood bins: inside bins, then one per aggregated energy.
    background_inside, background_outside : numpy.ndarray
        Background counts of the same bins.
    log_multinomial : float
        Parameter-free constant: full Poisson log-likelihood minus the compressed one.
    lon_nodes, lat_nodes : numpy.ndarray
        Sub-pixel sample positions of the cutout pixels (deg), ``(n_cutout, oversampling**2)``.
    psf_table, psf_ds : numpy.ndarray, float
        PSF ``(n_true, n_grid)`` on a uniform grid of step ``psf_ds`` in ``sqrt(sin^2(r/2))``
        covering the cutout radius (linear interpolation between nodes in the graph).
    """

    response: MapResponse
    sources: tuple
    background_model: object
    cutout: np.ndarray
    inside: np.ndarray
    outside_energy: np.ndarray
    counts: np.ndarray
    background_inside: np.ndarray
    background_outside: np.ndarray
    log_multinomial: float
    lon_nodes: np.ndarray
    lat_nodes: np.ndarray
    psf_table: np.ndarray
    psf_ds: float

    @classmethod
    def build(
        cls,
        response: MapResponse,
        models: Sequence,
        positions: Mapping[str, tuple[float, float]],
        *,
        position_margin: float = 0.3,
        containment: float = 0.999,
        oversampling: int | None = None,
        psf_nodes: int = 2048,
        known_datasets=(),
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
            :func:`nominal_positions`).
        position_margin : float
            How far (deg) a position may move from its nominal value, for sources whose
            margin is not given (cover the prior support).
        containment : float
            PSF flux fraction inside the cutout radius.
        oversampling : int, optional
            The PSF is averaged over ``oversampling**2`` points per pixel (default:
            :meth:`MapResponse.auto_oversampling`).
        psf_nodes : int
            Nodes of the uniform PSF grid.
        known_datasets : iterable of str or None
            Names of all datasets (to catch models assigned to unknown datasets).

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
        sources = [m for m in chosen if not _is_background_model(m)]
        psf_radius = response.containment_radius(containment)
        near = np.zeros(response.lon.size, bool)
        radii = []
        for model in sources:
            spatial = spatial_component(model)
            if spatial is None or type(spatial).__name__ != "Point":
                raise NotImplementedError(
                    f"source {model.name!r}: map datasets support point sources only so far, got "
                    f"{type(spatial).__name__ if spatial is not None else 'no spatial model'}"
                )
            frame = getattr(spatial, "frame", response.frame)
            if frame != response.frame:
                raise ValueError(
                    f"source {model.name!r} is in frame {frame!r} but dataset {response.name!r} uses {response.frame!r}"
                )
            if model.name not in positions:
                raise KeyError(f"no position given for the cutout of source {model.name!r}")
            lon_0, lat_0, *rest = positions[model.name]
            margin = rest[0] if rest and rest[0] is not None else position_margin
            radius = min(margin + psf_radius, 180.0)
            radii.append(radius + margin)
            h = haversine(response.lon, response.lat, lon_0, lat_0)
            near |= h <= np.sin(0.5 * np.deg2rad(radius)) ** 2
        cutout = np.flatnonzero(near)
        max_radius = max(radii, default=0.0)
        oversampling = response.auto_oversampling() if oversampling is None else oversampling
        lon_sub, lat_sub = response.subpixel_nodes(oversampling)
        mask, counts, bkg = response.mask, response.counts, response.background
        # bins outside the cutout with zero background but counts > 0 stay individual bins
        out_mask = mask & ~near[None, :]
        singular = out_mask & (bkg <= 0) & (counts > 0)
        extra_pix = np.flatnonzero(singular.any(axis=0))
        cutout = np.union1d(cutout, extra_pix)
        near[cutout] = True
        out_mask = mask & ~near[None, :]
        inside = np.flatnonzero(mask[:, cutout].reshape(-1))
        # the grid reaches every pixel corner of the cutout from any allowed source position
        table, ds = _psf_grid(
            response, max_radius + 2 * np.rad2deg(np.sqrt(response.solid_angle.max())), psf_nodes
        )
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
        return cls(
            response=response,
            sources=tuple(sources),
            background_model=backgrounds[0] if backgrounds else None,
            cutout=cutout,
            inside=inside,
            outside_energy=outside_energy,
            counts=np.concatenate([counts[:, cutout].reshape(-1)[inside], n_out[outside_energy]]),
            background_inside=bkg[:, cutout].reshape(-1)[inside],
            background_outside=b_out[outside_energy],
            log_multinomial=log_multinomial,
            lon_nodes=lon_sub[cutout],
            lat_nodes=lat_sub[cutout],
            psf_table=table,
            psf_ds=ds,
        )

    def _background_factor(self, params: Mapping):
        model = self.background_model
        if model is None:
            return None
        values = component_params(model, "spectral", params)
        return model.spectral.evaluate(self.response.energy_center, **values)

    def signal_cutout(self, params: Mapping, *, n_nodes: int = DEFAULT_NODES):
        """Return the predicted signal counts ``(n_reco, n_cutout)`` on the cutout (tensor)."""
        import pytensor.tensor as pt

        r = self.response
        lo, hi = r.energy_true_edges[:-1], r.energy_true_edges[1:]
        lon, lat = self.lon_nodes.reshape(-1), self.lat_nodes.reshape(-1)
        n_sub = self.lon_nodes.shape[1]
        base = r.exposure[:, self.cutout] * r.solid_angle[self.cutout]
        total = None
        for model in self.sources:
            flux = integrate_component(
                spectral_component(model),
                lo,
                hi,
                component_params(model, "spectral", params),
                n_nodes=n_nodes,
            )
            pos = component_params(model, "spatial", params, n_positional=2)
            h = haversine(lon, lat, pos["lon_0"], pos["lat_0"])
            psf = _psf_lookup(self.psf_table, self.psf_ds, h)
            psf = psf.reshape((r.psf_values.shape[0], self.cutout.size, n_sub))
            term = pt.as_tensor_variable(flux)[:, None] * psf.mean(axis=-1)
            total = term if total is None else total + term
        if total is None:
            return pt.zeros((r.edisp.shape[1], self.cutout.size))
        return pt.dot(r.edisp.T, total * base)

    def npred(self, params: Mapping, *, n_nodes: int = DEFAULT_NODES):
        """Return the expected counts of the likelihood bins (inside bins, then aggregated)."""
        import pytensor.tensor as pt

        factor = self._background_factor(params)
        signal = self.signal_cutout(params, n_nodes=n_nodes).reshape((-1,))[self.inside]
        if factor is None:
            inside = signal + self.background_inside
            outside = pt.as_tensor_variable(self.background_outside)
        else:
            factor = pt.as_tensor_variable(factor)
            n_cut = self.cutout.size
            energy_of_inside = self.inside // max(n_cut, 1)
            inside = signal + factor[energy_of_inside] * self.background_inside
            outside = factor[self.outside_energy] * self.background_outside
        return pt.concatenate([inside, outside])

    def __repr__(self) -> str:
        return (
            f"MapFold({self.response.name!r}, sources={[m.name for m in self.sources]}, "
            f"cutout={self.cutout.size}/{self.response.lon.size} px, "
            f"{self.inside.size} bins + {self.outside_energy.size} aggregated)"
        )


def _window(parameter) -> tuple[float, float | None]:
    """Centre and half-width (deg) of where a position parameter can be (None: unknown)."""
    prior = getattr(parameter, "prior", None)
    value = float(parameter.value) if getattr(parameter, "value", None) is not None else 0.0
    if prior is None or not getattr(parameter, "is_free", False):
        return value, 0.0
    lo, hi = prior.support() if hasattr(prior, "support") else (-np.inf, np.inf)
    if np.isfinite(lo) and np.isfinite(hi):
        return 0.5 * (lo + hi), 0.5 * (hi - lo)
    if hasattr(prior, "mu") and hasattr(prior, "sigma"):
        return float(prior.mu), 5.0 * float(prior.sigma)
    return value, None


def nominal_positions(models: Sequence) -> dict:
    """Where each point source can be: ``{source: (lon, lat, margin)}`` in deg.

    The centre is the prior's centre (``mu``, or the middle of a bounded support) and the margin
    covers the prior support (half-width, or 5 sigma for a normal prior) along the larger of the
    two axes; None when it cannot be told (then :class:`MapFold` uses its ``position_margin``).
    Fixed positions have margin 0.
    """
    out = {}
    for model in models:
        spatial = spatial_component(model)
        parameters = getattr(spatial, "parameters", None)
        if spatial is None or not isinstance(parameters, Mapping):
            continue
        if "lon_0" in parameters and "lat_0" in parameters:
            lon, m_lon = _window(parameters["lon_0"])
            lat, m_lat = _window(parameters["lat_0"])
            margin = None if m_lon is None or m_lat is None else max(m_lon, m_lat)
            out[model.name] = (lon, lat, margin)
    return out


def npred_map(
    response: MapResponse,
    models: Sequence,
    values: Mapping,
    *,
    n_nodes: int = DEFAULT_NODES,
    oversampling: int | None = None,
) -> np.ndarray:
    """Predicted counts on every bin ``(n_reco, n_pix)`` with numpy (no cutout, reference path).

    Parameters
    ----------
    response : MapResponse
        The dataset's response.
    models : sequence
        Point-source sky models and at most one FoV background model.
    values : Mapping
        Parameter values (floats), nested or flat (see :mod:`gammaprob.forward._models`).
    n_nodes : int
        Quadrature nodes per true-energy bin for components without an analytic integral.
    oversampling : int, optional
        The PSF is averaged over ``oversampling**2`` points per pixel (default:
        :meth:`MapResponse.auto_oversampling`).

    Returns
    -------
    numpy.ndarray
        Signal plus background counts per bin.
    """
    r = response
    lo, hi = r.energy_true_edges[:-1], r.energy_true_edges[1:]
    chosen = models_for(models, r.name, None)
    signal = np.zeros(r.exposure.shape)
    lon_sub, lat_sub = r.subpixel_nodes(
        r.auto_oversampling() if oversampling is None else oversampling
    )
    factor = np.ones(r.edisp.shape[1])
    for model in chosen:
        if _is_background_model(model):
            factor = model.spectral.evaluate(
                r.energy_center, **component_params(model, "spectral", values)
            )
            continue
        flux = integrate_component(
            spectral_component(model),
            lo,
            hi,
            component_params(model, "spectral", values),
            n_nodes=n_nodes,
        )
        pos = component_params(model, "spatial", values, n_positional=2)
        h = haversine(lon_sub, lat_sub, pos["lon_0"], pos["lat_0"])
        psf = np.stack([np.interp(h, r.psf_haversine, row).mean(axis=-1) for row in r.psf_values])
        signal += np.asarray(flux)[:, None] * psf
    signal *= r.exposure * r.solid_angle
    return r.edisp.T @ signal + np.asarray(factor)[:, None] * r.background
