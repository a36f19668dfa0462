r"""Light curves: flux points per time bin, and a test of constant flux.

Datasets are grouped by time (one group per dataset, or per user interval holding the
dataset's GTI mid-time); each group gives flux points with :class:`FluxPointsEstimator`
(conditional mode: the source's shape fixed, one norm per energy and time bin).

Every time bin reports the same energy range per energy bin: the envelope over all time bins
of the reconstructed bins that measured it (as gammapy, whose light-curve bins all carry the
snapped requested edges). A time bin whose safe range starts higher (a run at larger zenith
angle) thus gives its flux over the common range, extrapolated with the fixed shape, and the
``flux`` column stays comparable along the light curve.

Variability test, per energy bin, from the exact per-bin likelihoods of the norm:

- ``var_ts = 2 [sum_i max_k log L_i(k) - max_k sum_i log L_i(k)]`` (over ``k >= 0``): the
  likelihood ratio of a free norm per time bin against one common norm, with ``var_p_value``
  from a chi-square with ``n_time - 1`` degrees of freedom (asymptotic);
- ``var_log10_bf``: ``log10`` of the Bayes factor ``Z_variable / Z_constant``, each norm (or
  the common norm) with a uniform prior on ``[0, variability_norm_max]``; it depends on that
  prior range (stated in ``meta``).
"""

from __future__ import annotations

import json
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table
from astropy.time import Time
from scipy import stats

from .flux_points import FluxPointsEstimator
from .norm_posterior import log_likelihood

__all__ = ["LightCurve", "LightCurveEstimator", "dataset_time_range"]

_N_VAR_GRID = 4000
#: meta keyword -> variability result (JSON lists over energy bins)
_VAR_KEYS = {"VARTS": "ts", "VARDOF": "dof", "VARPVAL": "p_value", "VARLBF": "log10_bf"}


def dataset_time_range(dataset) -> tuple[float, float]:
    """Start and stop (MJD, TT) of a dataset: its GTI, else ``meta`` ``TSTART``/``TSTOP`` MJD.

    Raises
    ------
    ValueError
        When the dataset has neither.
    """
    gti = getattr(dataset, "gti", None)
    if gti is not None and len(gti) > 0:
        return float(np.min(gti.time_start.tt.mjd)), float(np.max(gti.time_stop.tt.mjd))
    meta = getattr(dataset, "meta", {}) or {}
    if "time_start_mjd" in meta and "time_stop_mjd" in meta:
        return float(meta["time_start_mjd"]), float(meta["time_stop_mjd"])
    raise ValueError(
        f"dataset {dataset.name!r} has no GTI and no meta['time_start_mjd'/'time_stop_mjd']; "
        "a light curve needs the observation times"
    )


def _common_energy_ranges(rows_per_group) -> list[tuple[float, float] | None]:
    """Per energy bin, the envelope (TeV) of the ranges measured in all time bins.

    Parameters
    ----------
    rows_per_group : list of list
        :meth:`FluxPointsEstimator.estimate_bins` rows of each time bin (a row is None for a
        bin without data; its last item is the measured ``(e_min, e_max)`` in TeV).

    Returns
    -------
    list of (float, float) or None
        The smallest ``e_min`` and largest ``e_max`` per energy bin; None where no time bin
        has data.
    """
    n_bins = len(rows_per_group[0])
    out: list[tuple[float, float] | None] = [None] * n_bins
    for rows in rows_per_group:
        for k, row in enumerate(rows):
            if row is None:
                continue
            lo, hi = row[3]
            if out[k] is not None:
                lo, hi = min(lo, out[k][0]), max(hi, out[k][1])
            out[k] = (lo, hi)
    return out


class LightCurve:
    """A light curve in the GADF ``lightcurve`` layout (one row per time bin).

    Parameters
    ----------
    table : `~astropy.table.Table`
        Columns ``time_min``, ``time_max`` (MJD), ``e_min``, ``e_max``, ``e_ref`` and
        quantities shaped ``(n_time, n_energy)``: ``norm``, ``norm_errn``, ``norm_errp``,
        ``norm_ul``, ``ts``, ``sqrt_ts``, ``is_ul``, ``counts``, ``flux``, ...; ``meta`` holds
        the credible levels, prior and variability test.
    """

    def __init__(self, table: Table) -> None:
        for column in ("time_min", "time_max", "e_min", "e_max", "norm"):
            if column not in table.colnames:
                raise ValueError(f"a light curve table needs column {column!r}")
        self._table = Table(table, copy=True)

    @property
    def table(self) -> Table:
        """A copy of the table."""
        return Table(self._table, copy=True)

    @property
    def time_min(self) -> Time:
        """Start of each time bin."""
        return Time(np.asarray(self._table["time_min"], dtype=float), format="mjd", scale="tt")

    @property
    def time_max(self) -> Time:
        """End of each time bin."""
        return Time(np.asarray(self._table["time_max"], dtype=float), format="mjd", scale="tt")

    def __len__(self) -> int:
        return len(self._table)

    @property
    def variability(self) -> dict[str, np.ndarray]:
        """The constant-flux test per energy bin: ``ts``, ``dof``, ``p_value``, ``log10_bf``."""
        meta = self._table.meta
        return {
            name: np.array(json.loads(meta[key]), dtype=float)
            for key, name in _VAR_KEYS.items()
            if key in meta
        }

    def write(self, path, overwrite: bool = False) -> None:
        """Write as FITS or ECSV (atomically; suffix decides)."""
        from gammaprob.datasets.flux_points import write_table

        write_table(self._table, path, overwrite)

    @classmethod
    def read(cls, path, **kwargs) -> LightCurve:
        """Read a table written by :meth:`write`."""
        return cls(Table.read(path, **kwargs))

    def __repr__(self) -> str:
        n_e = np.atleast_2d(np.asarray(self._table["norm"])).shape[-1]
        return (
            f"LightCurve(n_time={len(self)}, n_energy={n_e}, "
            f"MJD [{self._table['time_min'][0]:.5f}, {self._table['time_max'][-1]:.5f}], "
            f"var_p_value={self.variability.get('p_value')})"
        )


class LightCurveEstimator:
    """Flux points per time bin and a variability test.

    Parameters
    ----------
    source : SkyModel or str
        The source (or its name among the models).
    energy_edges : `~astropy.units.Quantity`
        Energy bins (as for :class:`FluxPointsEstimator`).
    time_intervals : sequence of (Time, Time), optional
        Time bins; a dataset belongs to the bin holding its mid-time (GTI). Default: one
        bin per dataset.
    variability_norm_max : float
        Upper end of the uniform prior on the norm in the Bayes factor (default 10).
    **kwargs
        ``prob``, ``ul_prob``, ``norm_prior``, ``onoff``, ``background_prior``, ``is_ul_ts``,
        ``n_grid`` of :class:`FluxPointsEstimator` (conditional mode).
    """

    def __init__(
        self,
        source: Any,
        energy_edges: u.Quantity,
        time_intervals=None,
        *,
        variability_norm_max: float = 10.0,
        **kwargs,
    ) -> None:
        if "mode" in kwargs:
            raise TypeError("LightCurveEstimator always uses the conditional mode")
        self.flux_points = FluxPointsEstimator(source, energy_edges, **kwargs)
        if time_intervals is not None:
            intervals = [(Time(a).tt.mjd, Time(b).tt.mjd) for a, b in time_intervals]
            if not intervals or any(not a < b for a, b in intervals):
                raise ValueError(
                    "time_intervals must be non-empty (start, stop) pairs, start < stop"
                )
            time_intervals = intervals
        self.time_intervals = time_intervals
        if not variability_norm_max > 0:
            raise ValueError(f"variability_norm_max must be positive, got {variability_norm_max}")
        self.variability_norm_max = float(variability_norm_max)

    def __repr__(self) -> str:
        n = "per dataset" if self.time_intervals is None else len(self.time_intervals)
        return f"LightCurveEstimator(time bins={n}, {self.flux_points!r})"

    def _groups(self, datasets) -> list[tuple[float, float, list]]:
        ranges = [dataset_time_range(ds) for ds in datasets]
        if self.time_intervals is None:
            order = np.argsort([r[0] for r in ranges])
            return [(*ranges[i], [datasets[i]]) for i in order]
        groups = []
        for lo, hi in self.time_intervals:
            members = [
                ds for ds, r in zip(datasets, ranges, strict=True) if lo <= 0.5 * (r[0] + r[1]) < hi
            ]
            if members:
                groups.append((lo, hi, members))
        if not groups:
            raise ValueError("no dataset falls in any of the time intervals")
        return groups

    def run(self, datasets, models=None, *, posterior=None, parameters=None) -> LightCurve:
        """Estimate the light curve.

        Parameters
        ----------
        datasets : sequence of SpectrumDataset(OnOff)
            One or more per time bin, with GTIs (or ``meta`` times).
        models, posterior, parameters
            As for :meth:`FluxPointsEstimator.run`; the source shape is fixed the same way in
            every time bin.

        Returns
        -------
        LightCurve
        """
        datasets = list(datasets)
        groups = self._groups(datasets)
        fpe = self.flux_points
        per_group = [
            fpe.estimate_bins(members, models, posterior=posterior, parameters=parameters)
            for _, _, members in groups
        ]
        frozen = per_group[-1][0]
        ranges = _common_energy_ranges([rows for _, rows in per_group])
        tables = [
            fpe.table_columns(
                group_frozen,
                [None if row is None else (*row[:3], ranges[k]) for k, row in enumerate(rows)],
            )
            for group_frozen, rows in per_group
        ]
        terms = [[None if row is None else row[0] for row in rows] for _, rows in per_group]
        out = Table()
        out["time_min"] = [g[0] for g in groups]
        out["time_max"] = [g[1] for g in groups]
        out["time_min"].unit = out["time_max"].unit = u.d
        skip = {"norm_scan", "stat_scan", "post_scan"}
        for column in tables[0].colnames:
            if column in skip:
                continue
            values = np.stack([np.asarray(t[column]) for t in tables])
            out[column] = (
                values if tables[0][column].unit is None else values * tables[0][column].unit
            )
        out["n_datasets"] = [len(g[2]) for g in groups]
        var = self.variability(terms)
        out.meta.update(fpe.meta(frozen))
        out.meta["SED_TYPE"] = "likelihood"
        out.meta["TIMESYS"] = "tt"
        out.meta["VARNMAX"] = self.variability_norm_max
        for key, name in _VAR_KEYS.items():
            out.meta[key] = json.dumps([float(x) for x in var[name]])
        return LightCurve(out)

    def variability(self, terms) -> dict[str, np.ndarray]:
        """Constant-flux test per energy bin (see the module docstring).

        Parameters
        ----------
        terms : list of list of NormTerms or None
            ``terms[time][energy]``.

        Returns
        -------
        dict
            ``ts``, ``dof``, ``p_value``, ``log10_bf`` arrays over energy bins (NaN where fewer
            than two time bins have data).
        """
        fpe = self.flux_points
        n_e = len(terms[0])
        grid = np.linspace(0.0, self.variability_norm_max, _N_VAR_GRID)
        out = {key: np.full(n_e, np.nan) for key in ("ts", "dof", "p_value", "log10_bf")}
        for e in range(n_e):
            bins = [t[e] for t in terms if t[e] is not None and t[e].mu.sum() > 0]
            if len(bins) < 2:
                continue
            logl = np.array(
                [log_likelihood(grid, b, fpe.onoff, fpe.background_prior) for b in bins]
            )
            total = logl.sum(axis=0)
            ts = 2 * (logl.max(axis=1).sum() - total.max())
            dof = len(bins) - 1

            def log_evidence(values):  # uniform prior on [0, norm_max]
                top = values.max(axis=-1, keepdims=True)
                integral = np.trapezoid(np.exp(values - top), grid, axis=-1)
                return top[..., 0] + np.log(integral / self.variability_norm_max)

            log_bf = log_evidence(logl).sum() - log_evidence(total[None])[0]
            out["ts"][e] = max(ts, 0.0)
            out["dof"][e] = dof
            out["p_value"][e] = stats.chi2.sf(max(ts, 0.0), dof)
            out["log10_bf"][e] = log_bf / np.log(10)
        return out
