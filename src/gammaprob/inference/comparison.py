"""Model comparison: PSIS-LOO per dataset and overall, and the log-evidence of SMC runs.

LOO works on the ``log_likelihood`` group written by :func:`gammaprob.inference.sample`
(one variable per observed term). The observed terms of one dataset — ``"<ds>::counts"`` and,
for on/off data, ``"<ds>::counts_off"`` — are concatenated along one ``observation`` axis, so
the unit left out is one bin of one observed term. (Leaving out the ON and OFF counts of a
bin together would leave that bin's latent background with only its prior.) Pareto-k values
above 0.7 mean the importance-sampling estimate is unreliable for those observations; a
:class:`LOOWarning` says so with advice.

Per run and per instrument: ``loo(result, groups={dataset: label})`` pools the observations
of the datasets that share a label (a run, an instrument) and reports one ELPD per label;
:meth:`LOOResult.pareto_k_flags` tells, per label, how many observations have Pareto k above
0.5 and 0.7 — a run or instrument with many high-k bins is in tension with the rest (its
bins pull the posterior), which :func:`gammaprob.visualization.report` shows in its
"PSIS-LOO" section.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping

import numpy as np

__all__ = [
    "LOOResult",
    "LOOWarning",
    "compare_evidence",
    "compare_models",
    "log_evidence",
    "loo",
]

_K_MAX = 0.7
_K_OK = 0.5
_TOTAL = "total"


class LOOWarning(UserWarning):
    """PSIS-LOO is unreliable for some observations (Pareto k > 0.7)."""


def _dataset_of(var: str) -> str:
    return var.split("::", 1)[0] if "::" in var else var


def _group_pointwise(pointwise: dict, groups) -> dict:
    """Pool the per-dataset pointwise values by group label (``{dataset: label}`` or callable)."""
    import xarray as xr

    if groups is None:
        return pointwise
    labels = {}
    missing = []
    for name in pointwise:
        label = groups(name) if callable(groups) else groups.get(name)
        if label is None:
            missing.append(name)
        labels[name] = str(label)
    if missing:
        raise ValueError(
            f"groups has no label for dataset(s) {missing}; give every dataset of the result "
            f"a run or instrument label (datasets: {sorted(pointwise)})"
        )
    if not callable(groups):
        unknown = sorted(set(groups) - set(pointwise))
        if unknown:
            raise ValueError(
                f"groups names dataset(s) {unknown} that are not in the result's "
                f"log_likelihood group (datasets: {sorted(pointwise)})"
            )
    pooled: dict[str, list] = {}
    for name, values in pointwise.items():
        pooled.setdefault(labels[name], []).append(values)
    return {
        label: xr.concat(parts, dim="observation") if len(parts) > 1 else parts[0]
        for label, parts in pooled.items()
    }


def _pointwise_by_dataset(result) -> dict:
    """``{dataset: DataArray (chain, draw, observation)}`` from the log_likelihood group."""
    import xarray as xr

    if "log_likelihood" not in result.children:
        raise ValueError(
            "the result has no log_likelihood group: sample with log_likelihood=True (the "
            "default), and use a generative likelihood (the profiled WStat is a potential "
            "and has no pointwise log-likelihood; use onoff='marginal', the default, or 'latent')"
        )
    group = result["log_likelihood"].to_dataset()
    if not group.data_vars:
        raise ValueError("the log_likelihood group is empty: nothing to compare")
    by_dataset: dict[str, list] = {}
    for var in group.data_vars:
        array = group[var]
        other = [d for d in array.dims if d not in ("chain", "draw")]
        flat = array.stack(observation=other) if other else array.expand_dims("observation")
        flat = flat.drop_vars([c for c in flat.coords if c not in ("chain", "draw")])
        by_dataset.setdefault(_dataset_of(str(var)), []).append(
            flat.transpose("chain", "draw", "observation")
        )
    return {
        name: xr.concat(parts, dim="observation") if len(parts) > 1 else parts[0]
        for name, parts in by_dataset.items()
    }


def _tree_with(log_lik: Mapping, result):
    """Return a minimal DataTree with the given log-likelihood variables (for ArviZ)."""
    import xarray as xr

    data = xr.Dataset({k: v.drop_vars(list(v.coords), errors="ignore") for k, v in log_lik.items()})
    return xr.DataTree.from_dict(
        {"posterior": result["posterior"].to_dataset(), "log_likelihood": data}
    )


def _psis(tree, var_name: str):
    import arviz as az

    with warnings.catch_warnings():
        # Our own LOOWarning (below) replaces ArviZ's Pareto-k warning with advice.
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        return az.loo(tree, var_name=var_name, pointwise=True)


@dataclasses.dataclass(frozen=True)
class LOOResult:
    """PSIS-LOO of one result, per dataset and over all datasets.

    Attributes
    ----------
    per_dataset : dict
        ``{dataset name: arviz_stats ELPDData}``.
    total : ELPDData
        All observations of all datasets together.
    """

    per_dataset: dict
    total: object

    def pareto_k_flags(self):
        """Return an astropy Table of Pareto-k flags per dataset (or group) and in total.

        Columns: ``group``, ``n_obs``, ``k_max``, ``n_k_gt_0.5`` (estimate less accurate),
        ``n_k_gt_0.7`` (unreliable: influential observations) and ``flag``: ``"good"``
        (all k <= 0.5), ``"ok"`` (some in (0.5, 0.7]) or ``"bad"`` (some > 0.7). A run or
        instrument flagged ``"bad"`` has bins the rest of the data do not predict: it is in
        tension with them (or the model is mis-specified there).
        """
        from astropy.table import Table

        rows = []
        for name, elpd in [*self.per_dataset.items(), (_TOTAL, self.total)]:
            k = np.asarray(elpd.pareto_k, dtype=float).ravel()
            n_ok, n_bad = int(np.sum(k > _K_OK)), int(np.sum(k > _K_MAX))
            flag = "bad" if n_bad else ("ok" if n_ok else "good")
            rows.append((name, k.size, float(np.nanmax(k)), n_ok, n_bad, flag))
        table = Table(
            rows=rows, names=("group", "n_obs", "k_max", "n_k_gt_0.5", "n_k_gt_0.7", "flag")
        )
        table["k_max"].format = ".2f"
        return table

    def table(self):
        """Return an astropy Table: elpd_loo, its standard error, p_loo, n and bad Pareto k."""
        from astropy.table import Table

        rows = []
        for name, elpd in [*self.per_dataset.items(), (_TOTAL, self.total)]:
            k = np.asarray(elpd.pareto_k).ravel()
            rows.append(
                (
                    name,
                    float(elpd.elpd),
                    float(elpd.se),
                    float(elpd.p),
                    k.size,
                    int(np.sum(k > _K_MAX)),
                )
            )
        table = Table(rows=rows, names=("dataset", "elpd_loo", "se", "p_loo", "n_obs", "n_bad_k"))
        for col in ("elpd_loo", "se", "p_loo"):
            table[col].format = ".2f"
        return table

    def __repr__(self) -> str:
        return "\n".join(["LOOResult", *self.table().pformat(max_lines=-1, max_width=-1)])


def loo(result, *, groups=None, warn: bool = True) -> LOOResult:
    """PSIS-LOO cross-validation per dataset (or per run / instrument) and overall.

    Parameters
    ----------
    result : xarray.DataTree
        Sampling result with ``posterior`` and ``log_likelihood`` groups (variables named
        ``"<dataset>::<term>"``).
    groups : mapping or callable, optional
        ``{dataset name: label}`` (or ``label = groups(dataset name)``) pooling datasets by
        run or instrument; every dataset needs a label. Default: one entry per dataset.
        The left-out unit stays one bin of one observed term; only the reporting is pooled.
    warn : bool
        Emit a :class:`LOOWarning` when Pareto k > 0.7 for some observations.

    Returns
    -------
    LOOResult
        ELPD per dataset (or group) and in total (``.table()`` for a summary,
        ``.pareto_k_flags()`` for the flags).

    Raises
    ------
    ValueError
        No log-likelihood group, or ``groups`` missing a dataset or naming an unknown one.
    """
    pointwise = _group_pointwise(_pointwise_by_dataset(result), groups)
    import xarray as xr

    per_dataset = {}
    for name, values in pointwise.items():
        per_dataset[name] = _psis(_tree_with({name: values}, result), name)
    if len(pointwise) == 1:
        total = next(iter(per_dataset.values()))
    else:
        everything = xr.concat(list(pointwise.values()), dim="observation")
        total = _psis(_tree_with({_TOTAL: everything}, result), _TOTAL)
    out = LOOResult(per_dataset=per_dataset, total=total)
    bad = {n: int(np.sum(np.asarray(e.pareto_k) > _K_MAX)) for n, e in per_dataset.items()}
    bad = {n: b for n, b in bad.items() if b}
    if warn and bad:
        warnings.warn(
            "PSIS-LOO is unreliable for "
            + ", ".join(f"{b} observation(s) of {n!r}" for n, b in bad.items())
            + f" (Pareto k > {_K_MAX}): these bins are very influential. Compare models with "
            "log-evidence (sample(..., sampler='smc')) or K-fold cross-validation instead, or "
            "check the model (outliers, a mis-specified spectrum).",
            LOOWarning,
            stacklevel=2,
        )
    return out


def compare_models(results: Mapping, *, warn: bool = True):
    """Rank models by their expected log predictive density (PSIS-LOO) on the same data.

    Parameters
    ----------
    results : mapping
        ``{model label: result}``; every result must have the same datasets and observations.
    warn : bool
        Warn when Pareto k > 0.7 for some observations of a model.

    Returns
    -------
    pandas.DataFrame
        ArviZ's comparison table (``elpd``, ``p``, ``elpd_diff``, ``weight``, ``se``,
        ``dse``, ...), best model first; the observations are all datasets together.
    """
    import arviz as az
    import xarray as xr

    if len(results) < 2:
        raise ValueError("compare_models needs at least two results to compare")
    trees, sizes = {}, {}
    for label, result in results.items():
        pointwise = _pointwise_by_dataset(result)
        everything = xr.concat([pointwise[k] for k in sorted(pointwise)], dim="observation")
        sizes[label] = (tuple(sorted(pointwise)), everything.sizes["observation"])
        trees[label] = _tree_with({_TOTAL: everything}, result)
        if warn:
            loo(result, warn=True)
    if len(set(sizes.values())) != 1:
        raise ValueError(
            f"the results were not fitted to the same datasets and bins: {sizes}; LOO compares "
            "models on the same data only"
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        return az.compare(trees, var_name=_TOTAL)


def log_evidence(result) -> tuple[float, float]:
    """Log marginal likelihood of an SMC result: mean over chains and its standard error.

    Parameters
    ----------
    result : xarray.DataTree
        Output of ``sample(..., sampler="smc")`` (``sample_stats.log_marginal_likelihood``).

    Returns
    -------
    tuple of float
        ``(log Z, standard error)``: the mean of the chains' final estimates and their
        standard deviation / sqrt(n_chains) (NaN error for one chain).
    """
    stats = result["sample_stats"] if "sample_stats" in result.children else None
    if stats is None or "log_marginal_likelihood" not in stats:
        raise ValueError(
            "the result has no log_marginal_likelihood: the evidence is estimated by SMC; run "
            "sample(model, sampler='smc', chains=4)"
        )
    # One row per chain; PyMC pads stages with NaN, or stores ragged lists when the chains
    # needed different numbers of stages.
    values = np.asarray(stats["log_marginal_likelihood"].values, dtype=object)
    final = []
    for chain in values.reshape(values.shape[0], -1):
        chain = np.concatenate([np.ravel(np.asarray(x, dtype=float)) for x in chain])
        finite = chain[np.isfinite(chain)]
        if finite.size:
            final.append(finite[-1])
    if not final:
        raise ValueError("the SMC run recorded no finite log marginal likelihood")
    final = np.asarray(final)
    error = float(final.std(ddof=1) / np.sqrt(final.size)) if final.size > 1 else float("nan")
    return float(final.mean()), error


def compare_evidence(results: Mapping):
    """Tabulate SMC log-evidences and log Bayes factors against the best model.

    Parameters
    ----------
    results : mapping
        ``{model label: SMC result}`` on the same data.

    Returns
    -------
    astropy.table.Table
        Columns model, log_evidence, error, log_bayes_factor (``log Z_best - log Z``, 0 for
        the best), sorted best first.
    """
    from astropy.table import Table

    if len(results) < 2:
        raise ValueError("compare_evidence needs at least two results to compare")
    rows = [(label, *log_evidence(result)) for label, result in results.items()]
    best = max(r[1] for r in rows)
    rows = sorted(((m, z, e, best - z) for m, z, e in rows), key=lambda r: r[3])
    table = Table(rows=rows, names=("model", "log_evidence", "error", "log_bayes_factor"))
    for col in ("log_evidence", "error", "log_bayes_factor"):
        table[col].format = ".2f"
    return table
