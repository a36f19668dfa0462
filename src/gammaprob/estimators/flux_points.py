"""Flux points from the posterior of one norm per energy bin.

A flux point scales the source's spectrum, with its shape fixed, by a norm that is free in one
energy bin only. Two modes:

- ``"conditional"`` (default): every other parameter is fixed (at given values or posterior
  medians), so the norm's posterior is one-dimensional and is computed exactly on a grid
  (:mod:`.norm_posterior`); the ON/OFF background of each bin is integrated out analytically
  (``onoff="marginal"``, default, with ``background_prior="jeffreys"`` or ``"flat"`` on the
  OFF expectation) or profiled (``onoff="wstat"``);
- ``"joint"``: the norm is sampled with NUTS jointly with the free parameters of the other
  models (PyMC model of the bin's data; the OFF expectations are sampled with the same prior,
  which gives the same posterior as integrating them out, or profiled with ``"wstat"``).

The output is a :class:`~gammaprob.datasets.FluxPoints` table in the GADF ``likelihood`` SED
format (``norm`` plus ``ref_dnde``/``ref_flux``/``ref_eflux``), with ``dnde``, ``e2dnde``,
``flux``, ``eflux`` columns, the per-bin norm posterior on a grid (``norm_scan``,
``post_scan``, and ``stat_scan`` = -2 log-likelihood) and ``meta`` giving the credible levels,
the prior, the background treatment and the upper-limit criterion.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table

from gammaprob.stats import get_wstat_mu_bkg

from ._source import (
    bin_owner,
    frozen_model,
    norm_terms,
    posterior_medians,
    predicted,
    spectrum_responses,
)
from .norm_posterior import NormPosterior, NormTerms, check_onoff_choice, norm_posterior

__all__ = ["FluxPointsEstimator", "summarize_norm"]

_log = logging.getLogger(__name__)

MODES = ("conditional", "joint")
#: Keywords of the estimators that were renamed: old name -> what to use instead
_RENAMED = {
    "background": "onoff= ('marginal' or 'wstat', formerly 'profile') and background_prior= "
    "('jeffreys' or 'flat', formerly background='jeffreys' or 'marginal')",
}


def refuse_renamed(owner: str, kwargs: dict) -> None:
    """Raise TypeError for keywords ``owner`` does not take, naming the renamed ones."""
    for key in kwargs:
        if key in _RENAMED:
            raise TypeError(
                f"{owner}() got the keyword {key!r}, which was renamed: use {_RENAMED[key]}"
            )
    if kwargs:
        raise TypeError(f"{owner}() got unexpected keyword argument(s) {sorted(kwargs)}")


_DNDE = u.Unit("cm-2 s-1 TeV-1")
_N_SCAN = 150


def _check_prob(value: float, name: str) -> float:
    value = float(value)
    if not 0 < value < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return value


def _prior_text(prior) -> str:
    if isinstance(prior, str):
        return "flat on norm >= 0 (improper)"
    return repr(prior)


def summarize_norm(
    post: NormPosterior, prob: float, ul_prob: float, draws: np.ndarray | None = None
) -> dict[str, float]:
    """Point estimate, credible interval and upper limit of one norm.

    Parameters
    ----------
    post : NormPosterior
        The grid posterior (gives TS, and the summaries when ``draws`` is None).
    prob, ul_prob : float
        Central credible level of the interval, and level of the upper limit.
    draws : numpy.ndarray, optional
        Posterior draws (marginal mode); summaries are their quantiles.

    Returns
    -------
    dict
        ``norm`` (median), ``norm_errn``, ``norm_errp``, ``norm_err`` (half width),
        ``norm_ul``, ``norm_mean``, ``norm_best`` (likelihood maximum), ``ts``, ``sqrt_ts``.
    """
    q = [(1 - prob) / 2, 0.5, (1 + prob) / 2, ul_prob]
    if draws is None:
        lo, med, hi, ul = post.quantile(q)
        mean = post.mean
    else:
        lo, med, hi, ul = np.quantile(draws, q)
        mean = float(np.mean(draws))
    return {
        "norm": med,
        "norm_errn": med - lo,
        "norm_errp": hi - med,
        "norm_err": 0.5 * (hi - lo),
        "norm_ul": ul,
        "norm_mean": mean,
        "norm_best": post.norm_best,
        "ts": post.ts,
        "sqrt_ts": math.sqrt(post.ts),
    }


def _scan(post: NormPosterior) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = post.quantile([0.0, 1 - 1e-7])
    grid = np.linspace(lo, hi, _N_SCAN)
    pdf = np.interp(grid, post.grid, post.pdf)
    stat = -2 * np.interp(grid, post.grid, post.loglike)
    return grid, stat - stat.min(), pdf


class FluxPointsEstimator:
    """Flux points: the posterior of a norm per energy bin on top of the source's spectrum.

    Parameters
    ----------
    source : SkyModel or str
        The source (or its name among the ``models`` passed to :meth:`run`).
    energy_edges : `~astropy.units.Quantity`
        Requested flux-point bin edges. Each edge is snapped to the nearest
        reconstructed-energy edge of each dataset (in log energy, as gammapy does); the bins
        in between measure the norm. The table reports the edges *used*: ``e_min``/``e_max``
        span the reconstructed bins that measured each point (over all datasets), ``e_ref``
        is their log centre, and the reference fluxes are integrated over them; the requested
        edges are kept in ``meta["EREQ"]`` and a log message names every bin that moved. A
        bin without data keeps its requested edges.
    prob : float
        Level of the central credible interval (``norm_errn``/``norm_errp``), default 0.68.
    ul_prob : float
        Level of the credible upper limit ``norm_ul``, default 0.95.
    mode : {"conditional", "joint"}
        See the module docstring (``"joint"`` was called ``"marginal"``).
    norm_prior : "flat" or gammaprob Prior
        Prior of each norm: ``"flat"`` (uniform on ``norm >= 0``, default) or a Prior with
        non-negative support (e.g. ``LogUniform(1e-3, 1e3)``, ``HalfNormal(5)``).
    onoff : {"marginal", "wstat"}
        On/off data: integrate the OFF expectation of each bin out analytically (default), or
        profile it (WStat, gammapy's treatment). The joint mode samples the OFF expectations
        with the same prior (WStat potential for ``"wstat"``).
    background_prior : {"jeffreys", "flat"}
        Prior of the OFF expectation integrated out with ``onoff="marginal"``: Jeffreys'
        ``beta^-1/2`` (default) or flat. With few OFF counts per bin the choice matters (see
        docs/estimators.md).
    is_ul_ts : float
        A point is flagged ``is_ul`` when its TS-equivalent is below this (default 4, i.e.
        ``sqrt_ts < 2`` as gammapy).
    n_grid : int
        Grid points of each conditional posterior.
    sampler_kwargs : dict, optional
        Marginal mode: passed to :func:`gammaprob.inference.sample` (default: 1000 draws,
        1000 tuning steps, 2 chains, PyMC NUTS).
    """

    def __init__(
        self,
        source: Any,
        energy_edges: u.Quantity,
        *,
        prob: float = 0.68,
        ul_prob: float = 0.95,
        mode: str = "conditional",
        norm_prior: Any = "flat",
        onoff: str = "marginal",
        background_prior: str = "jeffreys",
        is_ul_ts: float = 4.0,
        n_grid: int = 400,
        sampler_kwargs: dict | None = None,
        **removed,
    ) -> None:
        refuse_renamed(type(self).__name__, removed)
        self.source = source
        edges = u.Quantity(energy_edges)
        if not edges.unit.is_equivalent(u.TeV):
            raise u.UnitConversionError(f"energy_edges must be energies, got {energy_edges!r}")
        edges = edges.to_value(u.TeV).astype(float)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] <= 0:
            raise ValueError("energy_edges must be positive and strictly increasing (>= 2 edges)")
        self.energy_edges = edges
        self.prob = _check_prob(prob, "prob")
        self.ul_prob = _check_prob(ul_prob, "ul_prob")
        if mode not in MODES:
            hint = " ('marginal' is the former name of 'joint')" if mode == "marginal" else ""
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}{hint}")
        self.mode = mode
        check_onoff_choice(onoff, background_prior)
        self.onoff = onoff
        self.background_prior = background_prior
        from .norm_posterior import prior_logpdf

        prior_logpdf(norm_prior, np.array([1.0]))  # validates the prior
        if not isinstance(norm_prior, str) and norm_prior.support()[0] < 0:
            raise ValueError(f"norm_prior must have non-negative support, got {norm_prior!r}")
        self.norm_prior = norm_prior
        self.is_ul_ts = float(is_ul_ts)
        self.n_grid = int(n_grid)
        self.sampler_kwargs = dict(sampler_kwargs or {})

    def __repr__(self) -> str:
        e = self.energy_edges
        return (
            f"FluxPointsEstimator(source={getattr(self.source, 'name', self.source)!r}, "
            f"n_bins={e.size - 1}, energy=[{e[0]:.4g}, {e[-1]:.4g}] TeV, mode={self.mode!r}, "
            f"prob={self.prob}, ul_prob={self.ul_prob}, prior={_prior_text(self.norm_prior)!r})"
        )

    # ---- set-up ---------------------------------------------------------------------------
    def _split_models(self, models) -> tuple[Any, list]:
        models = [] if models is None else list(models)
        if isinstance(self.source, str):
            match = [m for m in models if getattr(m, "name", None) == self.source]
            if not match:
                raise ValueError(
                    f"source {self.source!r} is not among the models "
                    f"{[getattr(m, 'name', m) for m in models]}"
                )
            source = match[0]
        else:
            source = self.source
        others = [m for m in models if getattr(m, "name", None) != source.name]
        return source, others

    def _prepare(self, datasets, models, posterior, parameters):
        datasets = list(datasets) if not hasattr(datasets, "counts") else [datasets]
        if not datasets:
            raise ValueError("no datasets given")
        source, others = self._split_models(models)
        values = posterior_medians(posterior)
        values.update(parameters or {})
        frozen = frozen_model(source, values)
        prefixed = {k: v for k, v in values.items() if "::" in k}  # bare names: source only
        frozen_others = [frozen_model(m, prefixed) for m in others if hasattr(m, "spectral")]
        responses = spectrum_responses(datasets)
        return datasets, source, frozen, frozen_others, others, responses

    def _bin_terms(
        self, responses, frozen, frozen_others
    ) -> tuple[list[NormTerms | None], list[tuple[float, float] | None]]:
        """Per flux bin: the joined data of all datasets, and the energy range they span (TeV).

        The range is that of the reconstructed-energy bins kept in the bin (requested edges
        snapped to each dataset's edges), the envelope over datasets as in gammapy.
        """
        n_bins = self.energy_edges.size - 1
        per_bin: list[list[NormTerms]] = [[] for _ in range(n_bins)]
        ranges: list[tuple[float, float] | None] = [None] * n_bins
        for response in responses:
            owner = bin_owner(response, self.energy_edges)
            kept = np.flatnonzero(response.mask)  # ``owner`` runs over the kept bins
            edges = np.asarray(response.energy_edges, dtype=float)
            mu = predicted(response, [frozen])
            offset = predicted(response, frozen_others)
            for k in np.unique(owner[owner >= 0]):
                per_bin[k].append(norm_terms(response, mu, offset, owner == k))
                idx = kept[owner == k]
                lo, hi = float(edges[idx].min()), float(edges[idx + 1].max())
                if ranges[k] is not None:
                    lo, hi = min(lo, ranges[k][0]), max(hi, ranges[k][1])
                ranges[k] = (lo, hi)
        return [NormTerms.concatenate(t) if t else None for t in per_bin], ranges

    def _log_snapped(self, rows) -> None:
        requested = self.energy_edges
        for k, row in enumerate(rows):
            if row is None:
                continue
            lo, hi = row[3]
            if not np.allclose([lo, hi], requested[k : k + 2], rtol=1e-6, atol=0):
                _log.info(
                    "flux point %d: requested %.4g-%.4g TeV, measured %.4g-%.4g TeV (edges "
                    "snapped to the datasets' reconstructed-energy bins); the table reports "
                    "the measured range",
                    k,
                    requested[k],
                    requested[k + 1],
                    lo,
                    hi,
                )

    # ---- run ------------------------------------------------------------------------------
    def run(
        self,
        datasets,
        models=None,
        *,
        posterior=None,
        parameters: dict[str, float] | None = None,
    ):
        """Estimate the flux points.

        Parameters
        ----------
        datasets : SpectrumDataset(OnOff) or sequence of them
            Data (their safe masks apply).
        models : sequence of SkyModel, optional
            All sky models; the others than the source add their (fixed, conditional mode)
            prediction or are sampled (marginal mode).
        posterior : DataTree or InferenceData, optional
            A fit result: parameters ``"<source>::<param>"`` are fixed at their posterior
            medians (otherwise at their current/reference values).
        parameters : dict, optional
            Explicit values ``{"<model>::<param>": value}`` (canonical units; a bare
            ``"<param>"`` applies to the source only), overriding ``posterior``.

        Returns
        -------
        FluxPoints
            GADF ``likelihood`` SED with the columns listed in the module docstring.
        """
        frozen, rows = self.estimate_bins(
            datasets, models, posterior=posterior, parameters=parameters
        )
        return self._table(frozen, rows)

    def estimate_bins(self, datasets, models=None, *, posterior=None, parameters=None):
        """Return the per-bin results behind :meth:`run` (for re-use, e.g. by light curves).

        Parameters are those of :meth:`run`.

        Returns
        -------
        frozen : SkyModel
            The source with its parameters fixed as used.
        rows : list
            Per energy bin ``(NormTerms, NormPosterior, summary dict, (e_min, e_max))``, the
            last the energy range in TeV of the reconstructed bins used (see
            ``energy_edges``), or None for a bin without data.
        """
        datasets, _, frozen, frozen_others, others, responses = self._prepare(
            datasets, models, posterior, parameters
        )
        terms, ranges = self._bin_terms(responses, frozen, frozen_others)
        rows = []
        for k, t in enumerate(terms):
            if t is None or not t.mu.sum() > 0:
                rows.append(None)
                continue
            post = norm_posterior(
                t,
                self.norm_prior,
                self.onoff,
                self.n_grid,
                background_prior=self.background_prior,
            )
            draws = None
            if self.mode == "joint":
                draws = self._sample_bin(k, datasets, frozen, others, post)
            summary = summarize_norm(post, self.prob, self.ul_prob, draws)
            rows.append((t, post, summary, ranges[k]))
        self._log_snapped(rows)
        return frozen, rows

    def _sample_bin(self, k, datasets, frozen, others, post) -> np.ndarray:
        from gammaprob.inference import build_model, sample
        from gammaprob.likelihood import flat_background
        from gammaprob.modeling import SkyModel, Uniform
        from gammaprob.modeling.spectral import ScaledSpectral

        selected = []
        for ds, response in zip(datasets, spectrum_responses(datasets), strict=True):
            owner = np.full(response.mask.size, -1)
            owner[response.mask] = bin_owner(response, self.energy_edges)
            inside = owner == k
            mask_fit = inside if ds.mask_fit is None else inside & ds.mask_fit
            if np.any(mask_fit & ds.mask_safe):
                selected.append(ds.replace(mask_fit=mask_fit))
        prior = self.norm_prior
        if isinstance(prior, str):  # flat: truncated where the posterior is < e-40 of its peak
            prior = Uniform(0.0, float(post.grid[-1]))
        scaled = SkyModel(
            ScaledSpectral(frozen.spectral, norm=prior),
            spatial=frozen.spatial,
            name=frozen.name,
            datasets_names=frozen.datasets_names,
        )
        if self.onoff == "wstat":
            with warnings.catch_warnings():  # no predictive checks are needed here
                warnings.filterwarnings("ignore", message=".*profiled WStat", category=UserWarning)
                model = build_model(selected, [scaled, *others], onoff="wstat")
        else:  # the OFF expectations sampled with the prior the grid integrates out
            prior = _jeffreys_background if self.background_prior == "jeffreys" else flat_background
            model = build_model(selected, [scaled, *others], onoff="latent", background_prior=prior)
        kwargs = {"draws": 1000, "tune": 1000, "chains": 2, "progressbar": False}
        kwargs.update(self.sampler_kwargs)
        result = sample(model, **kwargs)
        return np.asarray(result["posterior"][f"{frozen.name}::norm"].values, dtype=float).ravel()

    # ---- output ---------------------------------------------------------------------------
    def _table(self, frozen, rows):
        from gammaprob.datasets import FluxPoints

        table = self.table_columns(frozen, rows)
        table.meta.update(self.meta(frozen))
        return FluxPoints(table, sed_type="likelihood")

    def meta(self, frozen) -> dict:
        """Metadata of the products: version, levels, prior, background, criteria."""
        from gammaprob import __version__

        return {
            "SED_TYPE": "likelihood",
            "SOURCE": frozen.name,
            "GPVERS": __version__,
            "MODE": self.mode,
            "CREDPROB": self.prob,
            "UL_PROB": self.ul_prob,
            "NORMPRIO": _prior_text(self.norm_prior),
            "ONOFF": self.onoff,
            "BKGPRIOR": self.background_prior if self.onoff == "marginal" else "none (profiled)",
            "POINT": "posterior median",
            "ERRORS": f"central {self.prob:g} credible interval",
            "UL_CRIT": f"is_ul where ts < {self.is_ul_ts:g}",
            "TS_DEF": "2 [max log L(norm >= 0) - log L(0)], other parameters fixed",
            "EDGES": "e_min/e_max: reco bins used (requested edges snapped); e_ref: log centre",
            "EREQ": json.dumps([float(e) for e in self.energy_edges]),
            "EREQUNIT": "TeV",
        }

    def table_columns(self, frozen, rows) -> Table:
        """Return the flux-point columns (no meta) from :meth:`estimate_bins` output."""
        e_min, e_max = self.energy_edges[:-1].copy(), self.energy_edges[1:].copy()
        for k, row in enumerate(rows):  # the range measured, not the one requested
            if row is not None:
                e_min[k], e_max[k] = row[3]
        e_ref = np.sqrt(e_min * e_max)
        spectral = frozen.spectral
        params = spectral.values()
        ref_dnde = np.asarray(spectral.evaluate(e_ref, **params), dtype=float)
        ref_flux = spectral.integral(e_min * u.TeV, e_max * u.TeV).to_value("cm-2 s-1")
        ref_eflux = spectral.energy_flux(e_min * u.TeV, e_max * u.TeV).to_value("TeV cm-2 s-1")
        n = e_min.size
        keys = ("norm", "norm_errn", "norm_errp", "norm_err", "norm_ul", "norm_mean", "norm_best")
        cols = {key: np.full(n, np.nan) for key in (*keys, "ts", "sqrt_ts")}
        counts, npred, npred_bkg = np.zeros(n), np.full(n, np.nan), np.full(n, np.nan)
        scans = {
            key: np.full((n, _N_SCAN), np.nan) for key in ("norm_scan", "stat_scan", "post_scan")
        }
        for k, row in enumerate(rows):
            if row is None:
                continue
            t, post, summary, _ = row
            for key, value in summary.items():
                cols[key][k] = value
            counts[k] = t.counts.sum()
            bkg = _background_at(t, summary["norm"])
            npred_bkg[k] = bkg.sum()
            npred[k] = (summary["norm"] * t.mu + t.offset + bkg).sum()
            scans["norm_scan"][k], scans["stat_scan"][k], scans["post_scan"][k] = _scan(post)
        table = Table()
        table["e_ref"] = e_ref * u.TeV
        table["e_min"] = e_min * u.TeV
        table["e_max"] = e_max * u.TeV
        table["ref_dnde"] = ref_dnde * _DNDE
        table["ref_flux"] = ref_flux * u.Unit("cm-2 s-1")
        table["ref_eflux"] = (ref_eflux * u.Unit("TeV cm-2 s-1")).to("erg cm-2 s-1")
        table["ref_e2dnde"] = (ref_dnde * e_ref**2 * u.Unit("TeV cm-2 s-1")).to("erg cm-2 s-1")
        for key in keys:
            table[key] = cols[key]
        table["ts"] = cols["ts"]
        table["sqrt_ts"] = cols["sqrt_ts"]
        table["is_ul"] = ~(cols["ts"] >= self.is_ul_ts)
        table["counts"] = counts
        table["npred"] = npred
        table["npred_background"] = npred_bkg
        for quantity in ("dnde", "e2dnde", "flux", "eflux"):
            ref = table[f"ref_{quantity}"]
            for suffix in ("", "_errn", "_errp", "_err", "_ul"):
                table[f"{quantity}{suffix}"] = cols[f"norm{suffix}"] * ref.quantity
        for key, value in scans.items():
            table[key] = value
        return table


def _jeffreys_background(name: str, counts_off: np.ndarray):
    """Latent OFF expectations with the Jeffreys prior ``beta^-1/2`` (improper, proper posterior)."""
    import pymc as pm
    import pytensor.tensor as pt

    start = np.maximum(np.asarray(counts_off, dtype=float), 0.5)
    beta = pm.HalfFlat(name, shape=np.shape(counts_off), initval=start)
    pm.Potential(f"{name}::jeffreys", -0.5 * pt.log(beta).sum())
    return beta


def _background_at(terms: NormTerms, norm: float) -> np.ndarray:
    """Background counts at ``norm``: known background, or the profiled OFF expectation x alpha."""
    s = norm * terms.mu + terms.offset
    n, m, a = terms.counts, terms.counts_off, terms.alpha
    out = terms.background.copy()
    on = terms.onoff
    if np.any(on):
        out[on] = a[on] * get_wstat_mu_bkg(n[on], m[on], a[on], s[on])
    return out
