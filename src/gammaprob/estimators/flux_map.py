r"""Posterior flux maps: the norm of a test source at every pixel of a map dataset.

A point-like test source with a power-law spectrum is put at each pixel ``p``; its predicted
counts in pixel ``q`` and reconstructed-energy bin ``e`` are ``k m_{e,q}`` with
``m_{e,q} = npred_ref[e, p] K_e(q - p)``: the reference counts at ``p`` (exposure x reference
flux, folded with the energy dispersion at the map centre) spread by the PSF kernel ``K_e``
(PSF at the map centre, weighted over true energy with the reference spectrum, exposure and
energy dispersion). With the background map fixed, the log-likelihood of ``k`` is Cash
summed over the kernel footprint. Two methods:

- ``"laplace"`` (default, vectorised over pixels): Newton's method gives the maximum
  ``k_hat`` (allowed negative down to the norm at which the predicted counts of some bin reach
  zero, as gammapy's ``norm_min_total``; without counts in the footprint the likelihood
  ``exp(-k M)`` is largest at that bound) and the curvature ``sigma``; the posterior under a flat prior on ``k >= 0`` is approximated by
  ``Normal(k_hat, sigma)`` truncated to ``k >= 0``;
- ``"grid"``: the exact 1-D posterior on a grid per pixel (:mod:`.norm_posterior`), slower.

``ts = 2 [log L(k_hat) - log L(0)]`` with that (possibly negative) ``k_hat`` and ``sqrt_ts`` carries
its sign (as gammapy's TS maps); ``prob_positive`` is the posterior probability of ``k > 0``
under a flat prior on all real ``k`` (Laplace: ``Phi(k_hat / sigma)``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from scipy.special import log_ndtr, ndtri_exp

from .norm_posterior import NormTerms, norm_posterior
from .reference import PowerLawReference

__all__ = ["FluxMapEstimator", "FluxMaps"]

METHODS = ("laplace", "grid")
_NEWTON_STEPS = 50
#: Per-pixel outputs of both methods (before conversion to flux units).
_OUTPUT_KEYS = (
    "norm",
    "norm_errn",
    "norm_errp",
    "norm_ul",
    "norm_best",
    "norm_sigma",
    "ts",
    "prob_positive",
)


@dataclass(frozen=True, eq=False)
class FluxMaps:
    """Named 2-D maps from :class:`FluxMapEstimator` (NaN outside the mask), with metadata.

    Parameters
    ----------
    maps : dict of str to Map
        ``norm``, ``norm_errn``, ``norm_errp``, ``norm_ul``, ``norm_best``, ``norm_sigma``,
        ``ts``, ``sqrt_ts``, ``prob_positive``, ``npred_ref``, ``flux``, ``flux_errn``,
        ``flux_errp``, ``flux_ul`` (cm-2 s-1 over the energy range).
    meta : dict
        Method, credible levels, prior, reference spectrum, kernel radius.
    """

    maps: dict
    meta: dict = field(default_factory=dict)

    def __getitem__(self, name: str):
        try:
            return self.maps[name]
        except KeyError:
            raise KeyError(f"no map {name!r}; available: {list(self.maps)}") from None

    @property
    def names(self) -> list[str]:
        """Names of the maps."""
        return list(self.maps)

    @property
    def geom(self):
        """Geometry of the maps."""
        return next(iter(self.maps.values())).geom

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write all maps to one FITS file (one image HDU per map; meta in the primary header).

        Parameters
        ----------
        path : str or path-like
            File name.
        overwrite : bool
            Replace an existing file.
        """
        from astropy.io import fits

        from gammaprob.maps.io import map_to_hdus
        from gammaprob.utils.io import atomic_path

        primary = fits.PrimaryHDU()
        for key, value in self.meta.items():
            primary.header[f"HIERARCH {key}"] = (
                value if isinstance(value, int | float) else str(value)
            )
        hdus = [primary]
        for name, m in self.maps.items():
            hdus.extend(map_to_hdus(m, hdu=name.upper()))
        with atomic_path(Path(path), overwrite=overwrite) as tmp:
            fits.HDUList(hdus).writeto(tmp)

    @classmethod
    def read(cls, path: str | os.PathLike) -> FluxMaps:
        """Read maps written by :meth:`write`."""
        from gammaprob.maps.io import map_from_hdulist
        from gammaprob.utils.fits import open_fits

        with open_fits(path) as hdulist:
            meta = {k.lower(): v for k, v in hdulist[0].header.items() if k not in _STANDARD}
            maps = {
                hdu.name.lower(): map_from_hdulist(hdulist, hdu=hdu.name, path=path)
                for hdu in hdulist[1:]
                if not hdu.name.endswith("BANDS")
            }
        return cls(maps, meta)

    def __repr__(self) -> str:
        sig = self.maps["sqrt_ts"].data
        peak = np.nanmax(sig) if np.any(np.isfinite(sig)) else np.nan
        return (
            f"FluxMaps(shape={self.geom.data_shape}, method={self.meta.get('method')!r}, "
            f"ul_prob={self.meta.get('ul_prob')}, max sqrt_ts={peak:.3g})\n"
            f"  maps: {', '.join(self.maps)}"
        )


_STANDARD = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND"}
_COMPILED = {}


def _compiled() -> dict:
    """Compiled (numba) per-pixel kernels, built on first use.

    ``terms`` writes the Poisson terms ``(n, b, m)`` of the kernel footprint of one pixel into
    buffers (energies summed or one term per energy bin; all-zero terms skipped), ``newton``
    maximises the Cash likelihood of ``k`` over given terms, ``fit_rows`` runs ``newton`` on
    the rows of ``(n_pix, n_terms)`` arrays and ``fit_pixels`` fuses ``terms`` and ``newton``
    over the pixels of a map without materialising the footprints.
    """
    if _COMPILED:
        return _COMPILED
    import numba

    @numba.njit(cache=True)
    def newton(n, b, m, size):  # pragma: no cover - compiled
        total_m = 0.0
        excess = 0.0
        bound = -np.inf  # log barrier: positive prediction where counts are seen
        bound_all = -np.inf  # non-negative prediction in every bin
        has_counts = False
        for j in range(size):
            total_m += m[j]
            excess += n[j] - b[j]
            if m[j] > 0:
                bound_all = max(bound_all, -b[j] / m[j])
                if n[j] > 0:
                    bound = max(bound, -b[j] / m[j])
            has_counts = has_counts or n[j] > 0
        k = max(excess / total_m, 0.0) if total_m > 0 else 0.0
        for _ in range(_NEWTON_STEPS):
            grad = -total_m
            curv = 0.0
            for j in range(size):
                if n[j] > 0:
                    mu = k * m[j] + b[j]
                    r = n[j] / mu
                    grad += r * m[j]
                    curv += r * m[j] * m[j] / mu
            new = k + grad / curv if curv > 0 else k
            if new <= bound:
                new = 0.5 * (k + bound)
            done = abs(new - k) <= 1e-12 * max(abs(k), 1e-3)
            k = new
            if done:
                break
        if total_m > 0:
            # as gammapy: the maximum is clipped to npred >= 0; without counts the
            # likelihood exp(-k M) is largest at that bound
            k = bound_all if not has_counts else max(k, bound_all)
        curv = 0.0
        ts = 0.0
        for j in range(size):
            mu = k * m[j] + b[j]
            if n[j] > 0:
                curv += n[j] * m[j] * m[j] / (mu * mu)
                ts += n[j] * (np.log(mu) - np.log(b[j]))
            ts -= k * m[j]
        return k, curv, 2.0 * ts, total_m

    @numba.njit(cache=True)
    def terms(
        counts, background, maskf, npred_ref, kernel, iy, ix, summed, n_out, b_out, m_out
    ):  # pragma: no cover - compiled
        n_e, ny, nx = counts.shape
        my, mx = kernel.shape[1] // 2, kernel.shape[2] // 2
        size = 0
        for y in range(max(iy - my, 0), min(iy + my + 1, ny)):
            for x in range(max(ix - mx, 0), min(ix + mx + 1, nx)):
                n_sum, b_sum, m_sum = 0.0, 0.0, 0.0
                for e in range(n_e):
                    n = counts[e, y, x]
                    b = background[e, y, x]
                    m = npred_ref[e, iy, ix] * kernel[e, y - iy + my, x - ix + mx] * maskf[e, y, x]
                    if summed:
                        n_sum += n
                        b_sum += b
                        m_sum += m
                    elif n > 0 or b > 0 or m > 0:
                        n_out[size], b_out[size], m_out[size] = n, b, m
                        size += 1
                if summed and (n_sum > 0 or b_sum > 0 or m_sum > 0):
                    n_out[size], b_out[size], m_out[size] = n_sum, b_sum, m_sum
                    size += 1
        return size

    @numba.njit(cache=True)
    def fit_rows(n, b, m):  # pragma: no cover - compiled
        out = np.empty((4, n.shape[0]))
        for p in range(n.shape[0]):
            out[:, p] = newton(n[p], b[p], m[p], n.shape[1])
        return out

    @numba.njit(cache=True)
    def fit_pixels(
        counts, background, maskf, npred_ref, kernel, iy, ix, summed
    ):  # pragma: no cover - compiled
        n_max = kernel.size
        n_buf, b_buf, m_buf = np.empty(n_max), np.empty(n_max), np.empty(n_max)
        out = np.empty((4, iy.size))
        for p in range(iy.size):
            size = terms(
                counts,
                background,
                maskf,
                npred_ref,
                kernel,
                iy[p],
                ix[p],
                summed,
                n_buf,
                b_buf,
                m_buf,
            )
            out[:, p] = newton(n_buf, b_buf, m_buf, size)
        return out

    _COMPILED.update(newton=newton, terms=terms, fit_rows=fit_rows, fit_pixels=fit_pixels)
    return _COMPILED


class FluxMapEstimator:
    """Per-pixel posterior of the norm of a point-like test source on a map dataset.

    Parameters
    ----------
    kernel_radius : `~astropy.units.Quantity`
        Radius of the PSF kernel (default 0.3 deg).
    spectral_index : float
        Index of the power-law reference spectrum (amplitude 1e-12 cm-2 s-1 TeV-1 at 1 TeV).
    prob, ul_prob : float
        Central credible level of ``norm_errn/errp`` and level of ``norm_ul``.
    method : {"laplace", "grid"}
        Posterior approximation (see the module docstring).
    n_grid : int
        Grid points per pixel (``method="grid"``).
    sum_over_energy : bool
        Sum counts, background and the test-source prediction over the energy bins before
        the per-pixel likelihood (as gammapy's ``sum_over_energy_groups=True``); default False
        keeps one Poisson term per energy bin and pixel.
    """

    def __init__(
        self,
        kernel_radius: u.Quantity = 0.3 * u.deg,
        spectral_index: float = 2.0,
        *,
        prob: float = 0.68,
        ul_prob: float = 0.95,
        method: str = "laplace",
        n_grid: int = 200,
        sum_over_energy: bool = False,
    ) -> None:
        radius = u.Quantity(kernel_radius)
        if not radius.unit.is_equivalent(u.deg) or radius.value <= 0:
            raise ValueError(f"kernel_radius must be a positive angle, got {kernel_radius!r}")
        self.kernel_radius = radius.to(u.deg)
        self.reference = PowerLawReference(index=spectral_index)
        for name, value in (("prob", prob), ("ul_prob", ul_prob)):
            if not 0 < value < 1:
                raise ValueError(f"{name} must be in (0, 1), got {value!r}")
        self.prob, self.ul_prob = float(prob), float(ul_prob)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        self.n_grid = int(n_grid)
        self.sum_over_energy = bool(sum_over_energy)

    def __repr__(self) -> str:
        return (
            f"FluxMapEstimator(kernel_radius={self.kernel_radius:.3g}, "
            f"reference={self.reference!r}, method={self.method!r}, prob={self.prob}, "
            f"ul_prob={self.ul_prob})"
        )

    # ---- inputs ---------------------------------------------------------------------------
    def kernels(self, dataset) -> tuple[np.ndarray, np.ndarray]:
        """Return the reference counts per pixel and PSF kernels per reconstructed-energy bin.

        Returns
        -------
        npred_ref : numpy.ndarray
            ``(n_reco, ny, nx)`` counts of the reference spectrum for a source at each pixel.
        kernel : numpy.ndarray
            ``(n_reco, 2 m_y + 1, 2 m_x + 1)``, each summing to 1.
        """
        from gammaprob.forward import MapResponse
        from gammaprob.forward.psf import psf_kernel

        exposure = dataset.exposure.quantity.to_value("cm2 s")
        edisp = dataset.edisp_matrix()
        npred_ref = self.reference.npred(exposure, dataset.energy_axis_true.edges, edisp)
        response = MapResponse.from_dataset(dataset)
        ny, nx = exposure.shape[1:]
        centre = (ny // 2) * nx + nx // 2
        psf = psf_kernel(response, centre, self.kernel_radius.to_value(u.deg), 2)
        if response.psf_energy == "reco":
            return npred_ref, psf
        edges = dataset.energy_axis_true.edges
        flux = self.reference.integral(edges[:-1], edges[1:]).to_value("cm-2 s-1")
        weights = (flux * exposure[:, ny // 2, nx // 2])[:, None] * edisp  # (n_true, n_reco)
        kernel = np.tensordot(weights, psf, axes=([0], [0]))
        total = weights.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            kernel = np.where(total[:, None, None] > 0, kernel / total[:, None, None], 0.0)
        return npred_ref, kernel

    # ---- run ------------------------------------------------------------------------------
    def run(self, dataset) -> FluxMaps:
        """Compute the posterior maps of one dataset summed over its safe energy bins.

        Parameters
        ----------
        dataset : MapDataset
            Counts with a background map, exposure and PSF on a WCS geometry (Cash).

        Returns
        -------
        FluxMaps
        """
        from gammaprob.datasets import MapDataset, MapDatasetOnOff
        from gammaprob.maps import Map

        if not isinstance(dataset, MapDataset) or isinstance(dataset, MapDatasetOnOff):
            raise TypeError(
                f"FluxMapEstimator takes a MapDataset with a background map, got {type(dataset).__name__}"
            )
        if dataset.background is None or dataset.exposure is None:
            raise ValueError(f"dataset {dataset.name!r} needs a background map and an exposure")
        mask = np.asarray(dataset.mask, dtype=bool)
        counts = np.where(mask, dataset.counts.data, 0.0)
        background = np.where(mask, dataset.background.data, 0.0)
        npred_ref, kernel = self.kernels(dataset)
        npred_ref = np.where(mask, npred_ref, 0.0)
        pixel_ok = mask.any(axis=0) & (npred_ref.sum(axis=0) > 0)
        shape = pixel_ok.shape
        iy, ix = np.nonzero(pixel_ok)
        arrays = (
            np.ascontiguousarray(counts, dtype=np.float64),
            np.ascontiguousarray(background, dtype=np.float64),
            mask.astype(np.float64),
            np.ascontiguousarray(npred_ref, dtype=np.float64),
            np.ascontiguousarray(kernel, dtype=np.float64),
        )
        if self.method == "laplace":
            fit = _compiled()["fit_pixels"](*arrays, iy, ix, self.sum_over_energy)
            results = self._laplace_from_fit(*fit)
        else:
            results = self._grid(*self._footprints(arrays, iy, ix))
        out = {key: np.full(shape, np.nan) for key in _OUTPUT_KEYS}
        for key, values in results.items():
            out[key][iy, ix] = values
        out["sqrt_ts"] = np.sign(out["norm_best"]) * np.sqrt(np.maximum(out["ts"], 0))
        out["npred_ref"] = np.where(pixel_ok, npred_ref.sum(axis=0), np.nan)
        e = dataset.energy_axis.edges[np.flatnonzero(mask.any(axis=(1, 2)))[[0, -1]] + [0, 1]]
        ref_flux = self.reference.integral(e[0], e[1]).to_value("cm-2 s-1")
        geom = dataset.counts.geom.to_image()
        maps = {key: Map(geom, data=value) for key, value in out.items()}
        for key in ("norm", "norm_errn", "norm_errp", "norm_ul"):
            name = key.replace("norm", "flux")
            maps[name] = Map(geom, data=out[key] * ref_flux, unit="cm-2 s-1")
        meta = {
            "estimator": "FluxMapEstimator",
            "method": self.method,
            "cred_prob": self.prob,
            "ul_prob": self.ul_prob,
            "prior": "flat on norm >= 0",
            "reference": repr(self.reference),
            "kernel_radius_deg": float(self.kernel_radius.value),
            "sum_over_energy": self.sum_over_energy,
            "energy_min_tev": float(e[0].to_value(u.TeV)),
            "energy_max_tev": float(e[1].to_value(u.TeV)),
            "dataset": dataset.name,
        }
        return FluxMaps(maps, meta)

    def _summaries(self, k_hat, sigma):
        """Quantiles of Normal(k_hat, sigma) truncated to k >= 0."""
        log_tail = log_ndtr(k_hat / sigma)  # log P(k > 0) before truncation

        def quantile(q):  # P(k > x | k > 0) = 1 - q, in log space (stable for k_hat << 0)
            return k_hat - sigma * ndtri_exp(np.log1p(-q) + log_tail)

        lo, med, hi, ul = (
            quantile(q) for q in ((1 - self.prob) / 2, 0.5, (1 + self.prob) / 2, self.ul_prob)
        )
        return {
            "norm": med,
            "norm_errn": med - lo,
            "norm_errp": hi - med,
            "norm_ul": ul,
            "norm_sigma": sigma,
            "prob_positive": np.exp(log_tail),
        }

    def _footprints(self, arrays, iy, ix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(n_pix, n_terms)`` Poisson terms of the pixels ``(iy, ix)`` (zero-padded)."""
        terms = _compiled()["terms"]
        n_max = arrays[-1].size
        n, b, m = (np.zeros((iy.size, n_max)) for _ in range(3))
        for p in range(iy.size):
            terms(*arrays, iy[p], ix[p], self.sum_over_energy, n[p], b[p], m[p])
        return n, b, m

    def _laplace_from_fit(self, k, curv, ts, total_m) -> dict:
        """Summaries from the Newton maximum ``k``, curvature ``curv`` and ``ts`` per pixel."""
        with np.errstate(divide="ignore"):
            # no counts in the footprint: the likelihood is exp(-k M); use its scale
            sigma = np.where(curv > 0, 1 / np.sqrt(np.where(curv > 0, curv, 1.0)), 1 / total_m)
        out = self._summaries(k, sigma)
        out.update(norm_best=k, ts=ts)
        return out

    def _laplace(self, n, b, m) -> dict:
        """Per-pixel Newton maximum, curvature and TS of ``(n_pix, n_terms)`` terms."""
        fit = _compiled()["fit_rows"](
            np.ascontiguousarray(n, dtype=np.float64),
            np.ascontiguousarray(b, dtype=np.float64),
            np.ascontiguousarray(m, dtype=np.float64),
        )
        return self._laplace_from_fit(*fit)

    def _grid(self, n, b, m) -> dict:
        """Exact grid posterior per pixel (flat prior on k >= 0)."""
        out = {key: np.full(n.shape[0], np.nan) for key in _OUTPUT_KEYS}
        zeros = np.zeros(n.shape[1])
        q = [(1 - self.prob) / 2, 0.5, (1 + self.prob) / 2, self.ul_prob]
        laplace = self._laplace(n, b, m)
        for i in range(n.shape[0]):
            use = m[i] > 0
            terms = NormTerms(m[i][use], n[i][use], zeros[use], b[i][use], zeros[use], zeros[use])
            post = norm_posterior(terms, n_grid=self.n_grid)
            lo, med, hi, ul = post.quantile(q)
            out["norm"][i], out["norm_errn"][i], out["norm_errp"][i] = med, med - lo, hi - med
            out["norm_ul"][i] = ul
        for key in ("norm_best", "norm_sigma", "ts", "prob_positive"):
            out[key] = laplace[key]
        return out
