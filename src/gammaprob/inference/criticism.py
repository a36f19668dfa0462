"""Model criticism for joint fits: leave-one-group-out (instrument or run) predictive checks.

For each group of datasets (an instrument, a run), the model is fitted to the *other*
datasets and the held-out counts are predicted from that posterior
(``pm.sample_posterior_predictive`` on the full model: parameters that only the held-out
datasets constrain, such as their own systematics, are drawn from their priors). Two
posterior-predictive p-values per held-out dataset say whether the rest of the data predict
it:

* ``p_total``: the total counts, two-sided mid-p ``2 min(P(T > t) + P(T = t)/2, ...)``;
* ``p_chi2``: the discrepancy ``D(y) = sum_i (y_i - E[y_i])^2 / Var(y_i)`` (predictive mean
  and variance per bin) of the observed counts against the same discrepancy of replicated
  counts, ``P(D(y_rep) >= D(y))`` (the spectral shape).

Small p-values flag a group in tension with the others (a cross-calibration offset, an
energy-scale shift, a mis-specified spectrum). PSIS-LOO per group
(:func:`gammaprob.inference.loo` with ``groups=``) is the cheap first look; this check refits
and so does not depend on importance sampling.

Systematics groups (``build_kwargs["systematics"]``) are restricted to the kept datasets for
each refit: a group whose datasets are all held out is left out of the refit (its nuisances
keep their priors in the prediction), and a group with some datasets kept keeps its nuisance
variables (the same ``Parameter`` objects, so the same names in both models).
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = ["LeaveOneGroupOut", "leave_one_group_out"]


@dataclasses.dataclass(frozen=True)
class LeaveOneGroupOut:
    """Result of :func:`leave_one_group_out`.

    Attributes
    ----------
    rows : list of dict
        One per held-out dataset: ``group``, ``dataset``, ``observed``, ``predicted_median``,
        ``predicted_lo``/``predicted_hi`` (central ``ci_prob`` interval of the total counts),
        ``p_total`` and ``p_chi2``.
    ci_prob : float
        Level of the predicted interval.
    results : dict
        ``{group: posterior of the fit without that group}``.
    """

    rows: list
    ci_prob: float
    results: dict

    def table(self):
        """Return the rows as an astropy Table."""
        from astropy.table import Table

        table = Table(rows=[tuple(r.values()) for r in self.rows], names=tuple(self.rows[0]))
        for col in ("p_total", "p_chi2"):
            table[col].format = ".3g"
        return table

    def flagged(self, alpha: float = 0.01) -> list[str]:
        """Return the groups with a held-out dataset whose ``p_total`` or ``p_chi2`` is below ``alpha``."""
        out = []
        for row in self.rows:
            if min(row["p_total"], row["p_chi2"]) < alpha and row["group"] not in out:
                out.append(row["group"])
        return out


def _labels(datasets, groups) -> dict[str, str]:
    names = [d.name for d in datasets]
    labels = {}
    for name in names:
        label = groups(name) if callable(groups) else groups.get(name)
        if label is None:
            raise ValueError(
                f"groups has no label for dataset {name!r}; give every dataset an instrument "
                f"or run label (datasets: {names})"
            )
        labels[name] = str(label)
    if not callable(groups):
        unknown = sorted(set(groups) - set(names))
        if unknown:
            raise ValueError(f"groups names unknown dataset(s) {unknown} (datasets: {names})")
    if len(set(labels.values())) < 2:
        raise ValueError(
            f"leave-one-group-out needs at least two groups, got {sorted(set(labels.values()))}: "
            "there would be no data left to fit"
        )
    return labels


def _kept_systematics(systematics, kept: set[str]) -> list:
    """Return the systematics groups restricted to the kept datasets (empty groups dropped)."""
    from ..modeling.systematics import Systematics

    groups = [systematics] if isinstance(systematics, Systematics) else list(systematics)
    out = []
    for group in groups:
        names = [n for n in group.datasets_names if n in kept]
        if names:
            restricted = copy.copy(group)  # shares the nuisance Parameter objects
            restricted.datasets_names = names
            out.append(restricted)
    return out


def _observed(model, name: str) -> np.ndarray:
    rv = model[name]
    value = model.rvs_to_values[rv]
    data = getattr(value, "data", None)
    if data is None:
        data = value.get_value()
    return np.asarray(data, dtype=float)


def _p_values(observed: np.ndarray, draws: np.ndarray) -> tuple[float, float]:
    """Two-sided mid-p of the total counts and the chi2-discrepancy p-value."""
    total = draws.reshape(draws.shape[0], -1).sum(axis=1)
    t = observed.sum()
    upper = np.mean(total > t) + 0.5 * np.mean(total == t)
    p_total = float(min(1.0, 2 * min(upper, 1 - upper)))
    flat = draws.reshape(draws.shape[0], -1)
    mean = flat.mean(axis=0)
    var = np.maximum(flat.var(axis=0), 1e-12)
    d_obs = np.sum((observed.ravel() - mean) ** 2 / var)
    d_rep = np.sum((flat - mean) ** 2 / var, axis=1)
    return p_total, float(np.mean(d_rep >= d_obs))


def leave_one_group_out(
    datasets,
    models,
    groups: Mapping[str, str] | Callable[[str], str],
    *,
    hold_out: Sequence[str] | None = None,
    ci_prob: float = 0.95,
    build_kwargs: Mapping | None = None,
    sample_kwargs: Mapping | None = None,
    random_seed: int | None = None,
) -> LeaveOneGroupOut:
    """Refit without each group and check how well the rest predicts its counts.

    Parameters
    ----------
    datasets : sequence of datasets
        The joint fit's spectrum or map datasets (unique names).
    models : Models, SkyModel or sequence
        The joint fit's models (with priors).
    groups : mapping or callable
        ``{dataset name: instrument or run label}``; every dataset needs one and there must
        be at least two labels.
    hold_out : sequence of str, optional
        The groups to leave out, one refit each (default: every group). Each refit costs a
        full sampling run: name the groups in question (e.g. those PSIS-LOO flags).
    ci_prob : float
        Level of the predicted interval of the total counts.
    build_kwargs : mapping, optional
        Passed to :func:`gammaprob.inference.build_model` (``onoff``, ``systematics``...).
    sample_kwargs : mapping, optional
        Passed to :func:`gammaprob.inference.sample`.
    random_seed : int, optional
        Seed of the posterior-predictive draws.

    Returns
    -------
    LeaveOneGroupOut
        One row per held-out dataset (``.table()``, ``.flagged(alpha)``).

    Raises
    ------
    ValueError
        A dataset without a label, an unknown dataset in ``groups``, fewer than two groups,
        a ``hold_out`` group that no dataset has, or ``ci_prob`` outside (0, 1).
    """
    import pymc as pm

    from .build import build_model
    from .samplers import sample

    if not 0 < ci_prob < 1:
        raise ValueError(f"ci_prob must be in (0, 1), got {ci_prob}")
    datasets = list(datasets)
    labels = _labels(datasets, groups)
    every = list(dict.fromkeys(labels.values()))
    if hold_out is None:
        hold_out = every
    elif isinstance(hold_out, str):
        hold_out = [hold_out]
    unknown = [g for g in hold_out if g not in every]
    if unknown or not hold_out:
        raise ValueError(f"hold_out must name groups of the datasets {every}, got {hold_out!r}")
    build_kwargs = dict(build_kwargs or {})
    sample_kwargs = dict(sample_kwargs or {})
    full = build_model(datasets, models, **build_kwargs)
    rows, results = [], {}
    for group in dict.fromkeys(hold_out):
        held = [d for d in datasets if labels[d.name] == group]
        kept = [d for d in datasets if labels[d.name] != group]
        reduced_kwargs = dict(build_kwargs)
        if build_kwargs.get("systematics") is not None:
            reduced_kwargs["systematics"] = _kept_systematics(
                build_kwargs["systematics"], {d.name for d in kept}
            )
        reduced = build_model(kept, models, **reduced_kwargs)
        result = sample(reduced, **sample_kwargs)
        results[group] = result
        names = [f"{d.name}::counts" for d in held]
        with warnings.catch_warnings():
            # the held-out nuisances are drawn from their priors; numba runs some random
            # draws (TruncatedNormal) in object mode and says so: a speed note, not an error
            warnings.filterwarnings("ignore", "Numba will use object mode", UserWarning)
            predictive = pm.sample_posterior_predictive(
                result, model=full, var_names=names, random_seed=random_seed, progressbar=False
            )
        predictive = predictive["posterior_predictive"]
        for dataset, name in zip(held, names, strict=True):
            draws = np.asarray(predictive[name].values, dtype=float)
            draws = draws.reshape(-1, *draws.shape[2:])
            observed = _observed(full, name)
            totals = draws.reshape(draws.shape[0], -1).sum(axis=1)
            lo, med, hi = np.quantile(totals, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2])
            p_total, p_chi2 = _p_values(observed, draws)
            rows.append(
                {
                    "group": group,
                    "dataset": dataset.name,
                    "observed": float(observed.sum()),
                    "predicted_median": float(med),
                    "predicted_lo": float(lo),
                    "predicted_hi": float(hi),
                    "p_total": p_total,
                    "p_chi2": p_chi2,
                }
            )
    return LeaveOneGroupOut(rows=rows, ci_prob=ci_prob, results=results)
