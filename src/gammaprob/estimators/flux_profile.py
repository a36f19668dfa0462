r"""Flux profiles: the posterior of a norm in each of a set of sky regions.

Each region is reduced to a spectrum, as gammapy's ``FluxProfileEstimator`` does: counts and
background are summed over the pixels whose centres lie in the region (weighted by
``mask_safe``; an energy bin is used if any pixel of the region is safe, and in ``mask_fit``
when there is one), the exposure is averaged over those pixels and the energy dispersion is taken
at the region centre. The reference power law (flux integrated over the region, no spatial
model) predicts ``mu_e`` counts per reconstructed-energy bin ``e``; for every region and
energy group the norm ``k`` of that prediction has the exact 1-D posterior
(:func:`~gammaprob.estimators.norm_posterior.norm_posterior`)

.. math::
    p(k \mid D) \propto \pi(k) \prod_{e \in \mathrm{group}} \mathrm{Pois}(n_e \mid k \mu_e + b_e),

summarised by its median, central credible interval and upper limit (with the prior recorded).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import QTable

from gammaprob.datasets import MapDataset, MapDatasetOnOff
from gammaprob.maps import WcsGeom

from .excess_map import group_energy_bins
from .flux_points import _check_prob, _prior_text, summarize_norm
from .norm_posterior import NormTerms, norm_posterior, prior_logpdf
from .reference import PowerLawReference

__all__ = [
    "FluxProfileEstimator",
    "make_concentric_annulus_sky_regions",
    "make_orthogonal_rectangle_sky_regions",
]

_NORM_COLUMNS = ("norm", "norm_errn", "norm_errp", "norm_ul", "norm_best", "ts", "sqrt_ts")


def make_concentric_annulus_sky_regions(
    center: SkyCoord, radius_max: u.Quantity, nbin: int = 11, radius_min: u.Quantity = 0 * u.deg
) -> list:
    """Concentric regions of equal radial width: a circle, then annuli.

    Parameters
    ----------
    center : `~astropy.coordinates.SkyCoord`
        Common centre.
    radius_max : `~astropy.units.Quantity`
        Outer radius of the last annulus (angle).
    nbin : int
        Number of regions (>= 1).
    radius_min : `~astropy.units.Quantity`
        Inner radius of the first region (angle, default 0: the first region is a circle).

    Returns
    -------
    list of `~regions.CircleSkyRegion` / `~regions.CircleAnnulusSkyRegion`
    """
    from regions import CircleAnnulusSkyRegion, CircleSkyRegion

    if not isinstance(center, SkyCoord) or not center.isscalar:
        raise TypeError(f"center must be a scalar SkyCoord, got {center!r}")
    if int(nbin) != nbin or nbin < 1:
        raise ValueError(f"nbin must be a positive integer, got {nbin!r}")
    r_max = u.Quantity(radius_max).to(u.deg)
    r_min = u.Quantity(radius_min).to(u.deg)
    if not 0 <= r_min.value < r_max.value:
        raise ValueError(f"need 0 <= radius_min < radius_max, got {r_min} and {r_max}")
    edges = np.linspace(r_min.value, r_max.value, int(nbin) + 1) * u.deg
    return [
        CircleSkyRegion(center, hi) if lo.value == 0 else CircleAnnulusSkyRegion(center, lo, hi)
        for lo, hi in itertools.pairwise(edges)
    ]


def make_orthogonal_rectangle_sky_regions(
    start: SkyCoord, end: SkyCoord, wcs, height: u.Quantity, nbin: int = 11
) -> list:
    """Adjacent rectangles along the line from ``start`` to ``end``.

    The line is divided into ``nbin`` equal steps in pixel coordinates of ``wcs``; each
    rectangle is one step wide (in angle: total separation / ``nbin``), ``height`` across,
    and rotated so that its width follows the line (sky position angle of the line at
    ``end``), as gammapy's function of the same name.

    Parameters
    ----------
    start, end : `~astropy.coordinates.SkyCoord`
        Ends of the profile line.
    wcs : `~astropy.wcs.WCS`
        Projection defining the straight line (usually the map's, ``geom.wcs``).
    height : `~astropy.units.Quantity`
        Extent perpendicular to the line (angle).
    nbin : int
        Number of rectangles (>= 1).

    Returns
    -------
    list of `~regions.RectangleSkyRegion`
    """
    from regions import RectangleSkyRegion

    if int(nbin) != nbin or nbin < 1:
        raise ValueError(f"nbin must be a positive integer, got {nbin!r}")
    height = u.Quantity(height).to(u.deg)
    if height.value <= 0:
        raise ValueError(f"height must be a positive angle, got {height}")
    x0, y0 = (float(v) for v in start.to_pixel(wcs))
    x1, y1 = (float(v) for v in end.to_pixel(wcs))
    if math.hypot(x1 - x0, y1 - y0) == 0:
        raise ValueError("start and end must be different positions")
    t = (np.arange(int(nbin)) + 0.5) / int(nbin)
    centers = SkyCoord.from_pixel(x0 + t * (x1 - x0), y0 + t * (y1 - y0), wcs)
    width = start.separation(end).to(u.deg) / int(nbin)
    # sky rotation angle of the long side: the position angle of the line (at ``end``) + 90 deg
    angle = (end.position_angle(start) - 90 * u.deg).to(u.deg)
    return [RectangleSkyRegion(c, width, height, angle=angle) for c in centers]


def _region_distances(regions) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``x_ref`` (deg) of each region, and ``x_min``/``x_max`` when all are circles/annuli."""
    from regions import CircleAnnulusSkyRegion, CircleSkyRegion

    ring = all(isinstance(r, CircleSkyRegion | CircleAnnulusSkyRegion) for r in regions)
    same_center = ring and all(
        regions[0].center.separation(r.center).to_value(u.deg) < 1e-10 for r in regions
    )
    if same_center:
        inner = np.array(
            [
                0.0 if isinstance(r, CircleSkyRegion) else r.inner_radius.to_value(u.deg)
                for r in regions
            ]
        )
        outer = np.array(
            [
                (r.radius if isinstance(r, CircleSkyRegion) else r.outer_radius).to_value(u.deg)
                for r in regions
            ]
        )
        return 0.5 * (inner + outer), inner, outer
    first = regions[0].center
    return np.array([first.separation(r.center).to_value(u.deg) for r in regions]), None, None


def _pixel_mask(geom: WcsGeom, region, index: int) -> np.ndarray:
    """Pixels of ``geom`` inside ``region``; error if the region leaves the map or is empty."""
    from regions import PixCoord, SkyRegion

    if not isinstance(region, SkyRegion):
        raise TypeError(
            f"regions[{index}] must be a regions SkyRegion, got {type(region).__name__}"
        )
    pix_region = region.to_pixel(geom.wcs)
    ny, nx = geom.spatial_shape
    yy, xx = np.mgrid[-1 : ny + 1, -1 : nx + 1]
    inside = pix_region.contains(PixCoord(xx, yy))
    border = inside.copy()
    border[1:-1, 1:-1] = False
    if np.any(border):
        raise ValueError(
            f"regions[{index}] ({region.__class__.__name__} at {region.center.to_string('decimal')}) "
            "is not fully contained in the map: it reaches the map border"
        )
    mask = inside[1:-1, 1:-1]
    if not np.any(mask):
        raise ValueError(
            f"regions[{index}] ({region.__class__.__name__} at {region.center.to_string('decimal')}) "
            "contains no pixel centre of the map"
        )
    return mask


class FluxProfileEstimator:
    """Posterior flux (norm of a reference power law) in each of a set of sky regions.

    Parameters
    ----------
    regions : sequence of `~regions.SkyRegion`
        The regions (at least one), each fully inside the map. Build them with
        :func:`make_concentric_annulus_sky_regions` or
        :func:`make_orthogonal_rectangle_sky_regions`.
    spectral_index : float
        Index of the reference power law (amplitude 1e-12 cm-2 s-1 TeV-1 at 1 TeV).
    energy_edges : `~astropy.units.Quantity`, optional
        Reconstructed-energy edges of the groups, snapped to the nearest dataset edges.
        Default None: one group over all energy bins.
    prob : float
        Central credible level of ``norm_errn``/``norm_errp`` (default 0.68).
    ul_prob : float
        Level of the upper limit ``norm_ul`` (default 0.95).
    norm_prior : "flat" or gammaprob Prior
        Prior of the norm (see :func:`~gammaprob.estimators.norm_posterior.prior_logpdf`);
        ``"flat"`` is uniform on ``norm >= 0``.
    is_ul_ts : float
        A row is flagged ``is_ul`` when its TS-equivalent is below this (default 4).

    Examples
    --------
    >>> import astropy.units as u
    >>> from gammaprob.estimators import FluxProfileEstimator, make_concentric_annulus_sky_regions
    >>> regions = make_concentric_annulus_sky_regions(dataset.geom.center_skydir, 1 * u.deg, 5)  # doctest: +SKIP
    >>> table = FluxProfileEstimator(regions).run(dataset)  # doctest: +SKIP
    >>> table["x_ref", "norm", "norm_errn", "norm_errp", "is_ul"]  # doctest: +SKIP
    """

    def __init__(
        self,
        regions: Sequence,
        spectral_index: float = 2.0,
        energy_edges: u.Quantity | None = None,
        prob: float = 0.68,
        ul_prob: float = 0.95,
        norm_prior="flat",
        is_ul_ts: float = 4.0,
    ) -> None:
        from regions import SkyRegion

        if isinstance(regions, SkyRegion):
            regions = [regions]
        regions = list(regions)
        if not regions:
            raise ValueError("regions is empty: give at least one sky region")
        for i, region in enumerate(regions):
            if not isinstance(region, SkyRegion):
                raise TypeError(
                    f"regions[{i}] must be a regions SkyRegion, got {type(region).__name__}"
                )
        prior_logpdf(norm_prior, np.array([1.0]))  # validates the prior
        self.regions = regions
        self.reference = PowerLawReference(index=spectral_index)
        self.energy_edges = None if energy_edges is None else u.Quantity(energy_edges, u.TeV)
        self.prob = _check_prob(prob, "prob")
        self.ul_prob = _check_prob(ul_prob, "ul_prob")
        self.norm_prior = norm_prior
        self.is_ul_ts = float(is_ul_ts)

    def __repr__(self) -> str:
        return (
            f"FluxProfileEstimator(n_regions={len(self.regions)}, reference={self.reference!r}, "
            f"energy_edges={self.energy_edges}, prob={self.prob}, ul_prob={self.ul_prob}, "
            f"prior={_prior_text(self.norm_prior)!r})"
        )

    def run(self, dataset: MapDataset) -> QTable:
        """Estimate the profile.

        Parameters
        ----------
        dataset : MapDataset
            A map dataset on a WCS geometry with ``background`` and ``exposure`` (Cash).

        Returns
        -------
        `~astropy.table.QTable`
            One row per region: ``region`` (index), ``center`` (SkyCoord), ``x_ref`` (deg,
            mean radius for concentric circles/annuli, otherwise separation from the first
            region's centre), ``x_min``/``x_max`` (deg, concentric regions only),
            ``n_pixels``, and per energy group (columns of shape ``(n_groups,)``): ``counts``,
            ``background``, ``excess``, ``npred_ref`` (reference counts), ``norm`` (posterior
            median), ``norm_errn``, ``norm_errp``, ``norm_ul``, ``norm_best`` (likelihood
            maximum), ``ts`` (TS-equivalent over ``norm >= 0``), ``sqrt_ts``, ``is_ul``,
            ``flux``, ``flux_errn``, ``flux_errp``, ``flux_ul`` (cm-2 s-1). A region with no
            safe bin with exposure in a group (e.g. outside the safe mask) has zero counts and
            NaN norms there. ``meta`` holds the energy edges, credible levels, prior and
            reference spectrum.
        """
        self._check_dataset(dataset)
        geom = dataset.geom
        starts, axis = group_energy_bins(dataset.energy_axis, self.energy_edges)
        stops = np.append(starts[1:], dataset.energy_axis.nbin)
        safe = np.asarray(dataset.mask_safe.data, dtype=bool)
        counts = np.asarray(dataset.counts.data, dtype=np.float64) * safe
        background = np.asarray(dataset.background.data, dtype=np.float64) * safe
        exposure = dataset.exposure.quantity.to_value("cm2 s")
        edges_true = dataset.energy_axis_true.edges
        edges = axis.edges.to(u.TeV)
        ref_flux = self.reference.integral(edges[:-1], edges[1:]).to_value("cm-2 s-1")

        n_reg, n_grp = len(self.regions), axis.nbin
        cols = {
            name: np.full((n_reg, n_grp), np.nan)
            for name in ("counts", "background", "npred_ref", *_NORM_COLUMNS)
        }
        n_pixels = np.zeros(n_reg, dtype=int)
        for i, region in enumerate(self.regions):
            pix = _pixel_mask(geom, region, i)
            n_pixels[i] = int(pix.sum())
            n_e = counts[:, pix].sum(axis=1)
            b_e = background[:, pix].sum(axis=1)
            usable = safe[:, pix].any(axis=1)
            if dataset.mask_fit is not None:  # as gammapy: a bin is fitted if any pixel is
                usable &= np.asarray(dataset.mask_fit.data, dtype=bool)[:, pix].any(axis=1)
            mu_e = self.reference.npred(
                exposure[:, pix].mean(axis=1), edges_true, dataset.edisp_matrix(region.center)
            )
            for g, (lo, hi) in enumerate(zip(starts, stops, strict=True)):
                sel = np.arange(lo, hi)[usable[lo:hi]]
                cols["counts"][i, g] = n_e[sel].sum()
                cols["background"][i, g] = b_e[sel].sum()
                cols["npred_ref"][i, g] = mu_e[sel].sum()
                if sel.size == 0 or not mu_e[sel].sum() > 0:
                    continue  # masked (no safe bin with exposure): NaN, as gammapy
                zeros = np.zeros(sel.size)
                terms = NormTerms(mu_e[sel], n_e[sel], zeros, b_e[sel], zeros, zeros)
                post = norm_posterior(terms, self.norm_prior)  # known background (Cash)
                summary = summarize_norm(post, self.prob, self.ul_prob)
                for name in _NORM_COLUMNS:
                    cols[name][i, g] = summary[name]

        return self._table(cols, n_pixels, axis, ref_flux, dataset.name)

    def _check_dataset(self, dataset) -> None:
        if isinstance(dataset, MapDatasetOnOff) or not isinstance(dataset, MapDataset):
            raise TypeError(
                "FluxProfileEstimator.run needs a MapDataset with a known background, "
                f"got {type(dataset).__name__}"
            )
        if not isinstance(dataset.geom, WcsGeom):
            raise TypeError(
                f"the dataset must have a WCS geometry, got {type(dataset.geom).__name__}"
            )
        if dataset.background is None or dataset.exposure is None:
            raise ValueError(
                f"dataset {dataset.name!r} needs both a background and an exposure map"
            )
        if dataset.exposure.geom.spatial_shape != dataset.geom.spatial_shape:
            raise ValueError(
                f"exposure spatial shape {dataset.exposure.geom.spatial_shape} differs from the "
                f"counts {dataset.geom.spatial_shape}"
            )

    def _table(self, cols, n_pixels, axis, ref_flux, dataset_name) -> QTable:
        from gammaprob import __version__

        x_ref, x_min, x_max = _region_distances(self.regions)
        table = QTable()
        table["region"] = np.arange(len(self.regions))
        table["center"] = SkyCoord([r.center for r in self.regions])
        table["x_ref"] = x_ref * u.deg
        if x_min is not None:
            table["x_min"] = x_min * u.deg
            table["x_max"] = x_max * u.deg
        table["n_pixels"] = n_pixels
        table["counts"] = cols["counts"]
        table["background"] = cols["background"]
        table["excess"] = cols["counts"] - cols["background"]
        table["npred_ref"] = cols["npred_ref"]
        for name in _NORM_COLUMNS:
            table[name] = cols[name]
        table["is_ul"] = cols["ts"] < self.is_ul_ts
        for suffix in ("", "_errn", "_errp", "_ul"):
            table[f"flux{suffix}"] = cols[f"norm{suffix}"] * ref_flux * u.Unit("cm-2 s-1")
        table.meta.update(
            {
                "estimator": "FluxProfileEstimator",
                "gammaprob_version": __version__,
                "dataset": dataset_name,
                "energy_edges": axis.edges.to(u.TeV),
                "credible_prob": self.prob,
                "ul_prob": self.ul_prob,
                "prior": _prior_text(self.norm_prior),
                "is_ul": f"ts < {self.is_ul_ts:g}",
                "norm": "posterior median; norm_errn/errp: central credible interval",
                "reference": repr(self.reference),
            }
        )
        return table
