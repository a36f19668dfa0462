"""Quick-look correlated excess, significance and flux maps (no sampling).

Counts and background are summed in a disk ("top-hat correlation") around every pixel,
then each pixel is treated as a counting experiment: Cash statistics for a known
background (:class:`~gammaprob.datasets.MapDataset`), WStat / Li & Ma for a measured one
(:class:`~gammaprob.datasets.MapDatasetOnOff`). The same definitions as gammapy's
``ExcessMapEstimator`` are used, so the maps agree with it (see ``docs/estimators.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
from scipy.ndimage import convolve as direct_convolve
from scipy.signal import fftconvolve

from gammaprob.datasets import MapDataset, MapDatasetOnOff
from gammaprob.maps import Map, MapAxis, WcsGeom

from .counts_intervals import (
    cash_errors,
    cash_ts,
    cash_upper_limit,
    wstat_errors,
    wstat_ts,
    wstat_upper_limit,
)
from .reference import PowerLawReference

__all__ = ["ExcessMapEstimator", "ExcessMaps", "disk_kernel_image", "group_energy_bins"]

_DIRECT_MAX_KERNEL = 32 * 32  # larger kernels are convolved with FFTs


def disk_kernel_image(radius_pix: float) -> np.ndarray:
    """Binary top-hat kernel: 1 at pixel centres within ``radius_pix`` of the centre, else 0.

    Parameters
    ----------
    radius_pix : float
        Radius in pixels (positive).

    Returns
    -------
    numpy.ndarray
        Square array of odd size ``2 ceil(radius_pix) + 1``.
    """
    radius_pix = float(radius_pix)
    if not np.isfinite(radius_pix) or radius_pix <= 0:
        raise ValueError(f"kernel radius must be positive, got {radius_pix} pixels")
    half = int(np.ceil(radius_pix))
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    return (x**2 + y**2 <= radius_pix**2).astype(np.float64)


def _correlate(images: np.ndarray, kernel: np.ndarray, counts: bool = False) -> np.ndarray:
    """Sum of ``images`` (``[..., ny, nx]``) under ``kernel`` around every pixel (zero outside)."""
    flat = images.reshape((-1, *images.shape[-2:]))
    if kernel.size <= _DIRECT_MAX_KERNEL:  # exact sums; zero outside the image
        out = np.stack([direct_convolve(img, kernel, mode="constant", cval=0.0) for img in flat])
    else:
        out = np.stack([fftconvolve(img, kernel, mode="same") for img in flat])
    if counts:  # sums of integers: remove FFT round-off
        out = np.rint(out)
    return out.reshape(images.shape)


def group_energy_bins(axis: MapAxis, energy_edges: Any) -> tuple[np.ndarray, MapAxis]:
    """Group reconstructed-energy bins between the axis edges nearest to ``energy_edges``.

    Parameters
    ----------
    axis : MapAxis
        Reconstructed-energy axis of the dataset.
    energy_edges : `~astropy.units.Quantity` or None
        Requested edges (at least two, inside the axis range); None groups all bins into one.

    Returns
    -------
    starts : numpy.ndarray
        Index of the first bin of every group (for ``numpy.add.reduceat``).
    axis : MapAxis
        The grouped axis (edges snapped to the parent's).
    """
    edges = axis.edges.to(u.TeV)
    if energy_edges is None:
        idx = np.array([0, axis.nbin])
    else:
        requested = u.Quantity(energy_edges)
        if not requested.unit.is_equivalent(u.TeV) or requested.ndim != 1 or requested.size < 2:
            raise ValueError(f"energy_edges must be at least two energies, got {energy_edges!r}")
        requested = requested.to_value(u.TeV)
        lo, hi = edges.value[0], edges.value[-1]
        if np.any(requested < lo * (1 - 1e-6)) or np.any(requested > hi * (1 + 1e-6)):
            raise ValueError(
                f"energy_edges {requested} TeV reach outside the dataset energy range "
                f"[{lo:.6g}, {hi:.6g}] TeV"
            )
        log_edges = np.log(edges.value)
        idx = np.array(
            [int(np.argmin(np.abs(log_edges - np.log(e)))) for e in requested], dtype=int
        )
        if np.any(np.diff(idx) <= 0):
            raise ValueError(
                f"energy_edges {requested} TeV snap to the dataset edges {edges.value[idx]} TeV, "
                "which leaves empty groups; give edges at least one bin apart"
            )
    new_axis = MapAxis.from_edges(edges[idx], interp="log", name="energy")
    return idx[:-1], new_axis


@dataclass(frozen=True, eq=False)
class ExcessMaps:
    """Result of :class:`ExcessMapEstimator`: named maps on the grouped energy geometry.

    Parameters
    ----------
    maps : dict of str to Map
        The maps (NaN outside the estimator mask); see :meth:`ExcessMapEstimator.run`.
    meta : dict
        Settings: correlation radius, ``n_sigma``, ``n_sigma_ul``, statistic, reference spectrum.
    """

    maps: dict[str, Map]
    meta: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> Map:
        try:
            return self.maps[name]
        except KeyError:
            raise KeyError(f"no map {name!r}; available: {list(self.maps)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.maps

    @property
    def names(self) -> list[str]:
        """Names of the available maps."""
        return list(self.maps)

    @property
    def geom(self):
        """Geometry of the maps (spatial + grouped energy axis)."""
        return next(iter(self.maps.values())).geom

    def __repr__(self) -> str:
        geom = self.geom
        sig = self.maps["sqrt_ts"].data
        peak = np.nanmax(sig) if np.any(np.isfinite(sig)) else np.nan
        return (
            f"ExcessMaps(shape={geom.data_shape}, energy bins={geom.axes['energy'].nbin}, "
            f"stat={self.meta.get('stat')!r}, radius={self.meta.get('correlation_radius')}, "
            f"max sqrt_ts={peak:.3g})\n  maps: {', '.join(self.maps)}"
        )


class ExcessMapEstimator:
    """Correlated excess, significance, error, upper-limit and flux maps.

    Parameters
    ----------
    correlation_radius : `~astropy.units.Quantity`
        Radius of the top-hat (disk) correlation, an angle (default 0.1 deg).
    energy_edges : `~astropy.units.Quantity`, optional
        Reconstructed-energy edges of the output; each is snapped to the nearest dataset
        edge. Default None: one image summing all energy bins (as gammapy).
    n_sigma : float
        Width of the errors in Gaussian sigmas (``excess_err`` is ``n_sigma`` times the
        symmetric error; ``errn``/``errp`` are where the statistic rises by ``n_sigma^2``).
    n_sigma_ul : float
        Level of the upper limits in Gaussian sigmas (2: the statistic rises by 4).
    correlate_off : bool
        For on/off datasets, correlate the OFF counts too (``alpha`` is then the ratio of the
        correlated background to the correlated OFF counts). Otherwise the OFF counts of the
        pixel itself are used with ``alpha = correlated acceptance / acceptance_off``.
    spectral_index : float
        Index of the power-law reference spectrum for the flux maps (default 2).
    reference : PowerLawReference, optional
        Full reference spectrum (overrides ``spectral_index``).

    Examples
    --------
    >>> import os
    >>> import astropy.units as u
    >>> from gammaprob.datasets import MapDataset
    >>> from gammaprob.estimators import ExcessMapEstimator
    >>> path = "fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits"
    >>> dataset = MapDataset.read(os.path.expandvars(f"$GAMMAPY_DATA/{path}"))  # doctest: +SKIP
    >>> maps = ExcessMapEstimator(0.3 * u.deg).run(dataset)  # doctest: +SKIP
    >>> maps["sqrt_ts"]  # doctest: +SKIP
    """

    def __init__(
        self,
        correlation_radius: u.Quantity = 0.1 * u.deg,
        energy_edges: u.Quantity | None = None,
        n_sigma: float = 1.0,
        n_sigma_ul: float = 2.0,
        correlate_off: bool = True,
        spectral_index: float = 2.0,
        reference: PowerLawReference | None = None,
    ) -> None:
        radius = u.Quantity(correlation_radius)
        if not radius.unit.is_equivalent(u.deg) or radius.ndim != 0:
            raise ValueError(
                f"correlation_radius must be a scalar angle, got {correlation_radius!r}"
            )
        if not np.isfinite(radius.value) or radius.value <= 0:
            raise ValueError(f"correlation_radius must be positive, got {radius}")
        for name, value in (("n_sigma", n_sigma), ("n_sigma_ul", n_sigma_ul)):
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number of sigmas, got {value!r}")
        if not isinstance(correlate_off, bool):
            raise TypeError(f"correlate_off must be a bool, got {correlate_off!r}")
        if reference is not None and not isinstance(reference, PowerLawReference):
            raise TypeError(
                f"reference must be a PowerLawReference, got {type(reference).__name__}"
            )
        self.correlation_radius = radius.to(u.deg)
        self.energy_edges = None if energy_edges is None else u.Quantity(energy_edges)
        self.n_sigma = float(n_sigma)
        self.n_sigma_ul = float(n_sigma_ul)
        self.correlate_off = correlate_off
        self.reference = reference or PowerLawReference(index=spectral_index)

    def __repr__(self) -> str:
        return (
            f"ExcessMapEstimator(correlation_radius={self.correlation_radius:g}, "
            f"energy_edges={self.energy_edges}, n_sigma={self.n_sigma:g}, "
            f"n_sigma_ul={self.n_sigma_ul:g}, correlate_off={self.correlate_off}, "
            f"reference={self.reference!r})"
        )

    def kernel(self, geom: WcsGeom) -> np.ndarray:
        """Binary disk kernel for ``geom`` (radius / mean pixel size, in pixels)."""
        pixel_size = float(np.mean(geom.pixel_scales.to_value(u.deg)))
        return disk_kernel_image(self.correlation_radius.to_value(u.deg) / pixel_size)

    # ---- main entry ---------------------------------------------------------------------------
    def run(self, dataset: MapDataset) -> ExcessMaps:
        """Compute the maps for one dataset.

        Parameters
        ----------
        dataset : MapDataset or MapDatasetOnOff
            A dataset with ``background`` (Cash) or OFF counts (WStat), on a WCS geometry.

        Returns
        -------
        ExcessMaps
            Maps ``counts`` (correlated ON counts), ``background`` (correlated background,
            ``alpha n_off`` for on/off), ``npred_excess`` (excess counts), ``ts``, ``sqrt_ts``
            (signed significance), ``excess_err`` (``n_sigma`` x symmetric error),
            ``excess_errn``, ``excess_errp``, ``excess_ul``; ``alpha`` for on/off; with an
            exposure also ``npred_ref`` (mean reference counts over the disk), ``norm``,
            ``norm_err``, ``norm_errn``, ``norm_errp``, ``norm_ul`` (excess quantities over
            ``npred_ref``), ``flux``, ``flux_err``, ``flux_errn``, ``flux_errp``, ``flux_ul``
            (cm-2 s-1 in each energy group), ``dnde`` and ``dnde_ul`` (cm-2 s-1 TeV-1 at the
            group's log centre) and ``e2dnde`` (erg cm-2 s-1).
        """
        if not isinstance(dataset, MapDataset):
            raise TypeError(
                f"dataset must be a MapDataset or MapDatasetOnOff, got {type(dataset).__name__}"
            )
        geom = dataset.geom
        if not isinstance(geom, WcsGeom):
            raise TypeError(f"ExcessMapEstimator needs a WCS geometry, got {type(geom).__name__}")
        onoff = isinstance(dataset, MapDatasetOnOff)
        if not onoff and dataset.background is None:
            raise ValueError(
                f"dataset {dataset.name!r} has no background: give a MapDataset with a background "
                "model or a MapDatasetOnOff with counts_off and acceptances"
            )
        if geom.axes.names != ["energy"]:
            raise ValueError(f"expected a single 'energy' axis, got {geom.axes.names}")

        starts, axis = group_energy_bins(dataset.energy_axis, self.energy_edges)
        out_geom = geom.replace_axis(axis)
        safe = dataset.mask_safe.data

        def group(data, weights=safe):
            return np.add.reduceat(data * weights, starts, axis=0)

        mask = np.logical_or.reduceat(safe, starts, axis=0)
        if dataset.mask_fit is not None:
            mask &= np.logical_or.reduceat(dataset.mask_fit.data, starts, axis=0)
        maskf = mask.astype(np.float64)
        kernel = self.kernel(geom)

        n_on = _correlate(group(dataset.counts.data) * maskf, kernel, counts=True)
        maps: dict[str, np.ndarray] = {"counts": n_on}
        if onoff:
            n_off, alpha, valid = self._onoff_arrays(dataset, group, maskf, kernel, mask)
            stats = _wstat_maps(n_on, n_off, alpha, valid, self.n_sigma, self.n_sigma_ul)
            maps["background"] = np.where(valid, alpha * n_off, np.nan)
            maps["alpha"] = alpha
            stat_name = "wstat"
        else:
            background = _correlate(group(dataset.background.data) * maskf, kernel)
            valid = mask.copy()
            stats = _cash_maps(n_on, background, valid, self.n_sigma, self.n_sigma_ul)
            maps["background"] = background
            stat_name = "cash"
        maps.update(stats)
        units = dict.fromkeys(maps, "")

        if dataset.exposure is not None:
            exposure = dataset.exposure.quantity.to_value("cm2 s")
            npred = self.reference.npred(
                exposure, dataset.energy_axis_true.edges, dataset.edisp_matrix()
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                npred_ref = _correlate(group(npred) * maskf, kernel) / _correlate(maskf, kernel)
            maps["npred_ref"] = npred_ref
            units.update(self._flux_maps(maps, npred_ref, axis))

        for data in maps.values():
            data[~mask] = np.nan
        out = {
            name: Map(out_geom, data=data, unit=units.get(name, "")) for name, data in maps.items()
        }
        meta = {
            "estimator": "ExcessMapEstimator",
            "stat": stat_name,
            "correlation_radius": self.correlation_radius,
            "n_sigma": self.n_sigma,
            "n_sigma_ul": self.n_sigma_ul,
            "correlate_off": self.correlate_off if onoff else None,
            "reference": repr(self.reference),
            "dataset": dataset.name,
        }
        return ExcessMaps(out, meta)

    # ---- pieces -------------------------------------------------------------------------------
    def _onoff_arrays(self, dataset, group, maskf, kernel, mask):
        """Correlated OFF counts, alpha and the pixels where alpha is defined."""
        alpha_bins = dataset.alpha  # 0 where acceptance_off = 0
        off = dataset.counts_off.data
        bkg_group = group(alpha_bins * off)
        off_group = group(off)
        if self.correlate_off:
            n_off = _correlate(off_group * maskf, kernel, counts=True)
            background = _correlate(bkg_group * maskf, kernel)
            with np.errstate(invalid="ignore", divide="ignore"):
                alpha = background / n_off
        else:
            # per-group alpha_g = sum(alpha n_off) / sum(n_off), acceptance_off = acceptance / alpha_g
            acceptance = group(dataset.acceptance.data)
            with np.errstate(invalid="ignore", divide="ignore"):
                acceptance_off = acceptance * off_group / bkg_group
                alpha = _correlate(acceptance * maskf, kernel) / (acceptance_off * maskf)
            n_off = off_group * maskf
        valid = mask & (n_off > 0) & np.isfinite(alpha) & (alpha > 0)
        alpha = np.where(valid, alpha, np.nan)
        return n_off, alpha, valid

    def _flux_maps(self, maps: dict, npred_ref: np.ndarray, axis: MapAxis) -> dict[str, str]:
        """Add norm, flux and dnde maps (in place); return their units."""
        edges = axis.edges.to(u.TeV)
        e_ref = np.sqrt(edges[:-1] * edges[1:])
        ref_flux = self.reference.integral(edges[:-1], edges[1:]).to_value("cm-2 s-1")
        ref_dnde = self.reference.dnde(e_ref).to_value("cm-2 s-1 TeV-1")
        ref_e2dnde = (self.reference.dnde(e_ref) * e_ref**2).to_value("erg cm-2 s-1")
        shape = (-1, 1, 1)
        units = {}
        for suffix in ("", "_err", "_errn", "_errp", "_ul"):
            with np.errstate(invalid="ignore", divide="ignore"):
                norm = maps["npred_excess" if suffix == "" else f"excess{suffix}"] / npred_ref
            maps[f"norm{suffix}"] = norm
            maps[f"flux{suffix}"] = norm * ref_flux.reshape(shape)
            units[f"flux{suffix}"] = "cm-2 s-1"
        maps["dnde"] = maps["norm"] * ref_dnde.reshape(shape)
        maps["dnde_ul"] = maps["norm_ul"] * ref_dnde.reshape(shape)
        maps["e2dnde"] = maps["norm"] * ref_e2dnde.reshape(shape)
        units.update(
            {"dnde": "cm-2 s-1 TeV-1", "dnde_ul": "cm-2 s-1 TeV-1", "e2dnde": "erg cm-2 s-1"}
        )
        return units


def _fill(shape, valid, values):
    out = np.full(shape, np.nan)
    out[valid] = values
    return out


def _cash_maps(n_on, background, valid, n_sigma, n_sigma_ul) -> dict[str, np.ndarray]:
    """Per-pixel Cash statistics (known background) on the ``valid`` pixels."""
    on, bkg = n_on[valid], background[valid]
    excess = on - bkg
    ts = cash_ts(on, bkg)
    errn, errp = cash_errors(on, bkg, n_sigma)
    values = {
        "npred_excess": excess,
        "ts": ts,
        "sqrt_ts": np.sign(excess) * np.sqrt(ts),
        "excess_err": n_sigma * np.sqrt(on),
        "excess_errn": errn,
        "excess_errp": errp,
        "excess_ul": cash_upper_limit(on, bkg, n_sigma_ul),
    }
    return {key: _fill(n_on.shape, valid, value) for key, value in values.items()}


def _wstat_maps(n_on, n_off, alpha, valid, n_sigma, n_sigma_ul) -> dict[str, np.ndarray]:
    """Per-pixel WStat / Li & Ma statistics on the ``valid`` pixels."""
    on, off, a = n_on[valid], n_off[valid], alpha[valid]
    excess = on - a * off
    ts = wstat_ts(on, off, a)
    errn, errp = wstat_errors(on, off, a, n_sigma)
    values = {
        "npred_excess": excess,
        "ts": ts,
        "sqrt_ts": np.sign(excess) * np.sqrt(ts),
        "excess_err": n_sigma * np.sqrt(on + a**2 * off),
        "excess_errn": errn,
        "excess_errp": errp,
        "excess_ul": wstat_upper_limit(on, off, a, n_sigma_ul),
    }
    return {key: _fill(n_on.shape, valid, value) for key, value in values.items()}
