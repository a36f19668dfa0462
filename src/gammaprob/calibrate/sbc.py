"""Simulation-based calibration (SBC) of a user's model: prior draw, simulate, sample, rank.

For each replication the parameters and the data are drawn together from the model's prior
predictive (:func:`pymc.sample_prior_predictive` of the model :func:`gammaprob.inference.build_model`
makes: the generative likelihood *is* the simulator; for map datasets, Poisson draws of the
map likelihood's npred put back into the counts cube by :class:`~.inject.MapLayout`), the model
is rebuilt from datasets holding the simulated counts and sampled with :func:`gammaprob.inference.sample` (default sampler), the
posterior is thinned to ``n_draws`` nearly independent draws, and the rank of the true value
among them is recorded (Talts et al. 2018). If the inference is correct, ranks are uniform on
``0..n_draws`` and central credible intervals cover the truth at their nominal rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .inject import SBCError, map_layouts, observed_names, with_simulated_data
from .result import LEVELS, SBCResult

__all__ = ["check_generative", "run_sbc"]

_NUISANCE_SUFFIXES = ("::mu_off",)


def check_generative(model) -> None:
    """Refuse a model whose joint distribution SBC cannot draw from.

    Raises
    ------
    SBCError
        A free variable with an improper prior (``pm.Flat``, ``pm.HalfFlat``; named), a
        potential (``onoff="wstat"``, flux-point upper limits with ``flux_points_stat="distrib"``:
        not generative), or no observed term.
    """
    from ..inference import improper_variables

    constrained, unconstrained = improper_variables(model)
    improper = [*constrained, *unconstrained]
    if improper:
        raise SBCError(
            f"improper prior on {', '.join(improper)}: simulation-based calibration draws the "
            "truth from the prior, which must be a proper distribution. Give "
            f"{'it' if len(improper) == 1 else 'each'} a proper prior (e.g. Normal, LogUniform "
            "with finite bounds)"
        )
    if model.potentials:
        names = ", ".join(p.name for p in model.potentials)
        raise SBCError(
            f"the model has potential(s) {names}: a potential is not a generative likelihood "
            "(nothing to simulate from; WStat profiles the OFF rates instead of giving them a "
            "prior), so SBC cannot calibrate it. Use onoff='marginal' or 'latent' for on/off data"
        )
    if not model.observed_RVs:
        raise SBCError("the model has no observed term to simulate")


def _default_var_names(model) -> list[str]:
    """Names of the free variables to rank, without the per-bin on/off nuisances.

    Where a deterministic rescales an ``_ln``/``_scaled`` latent, its physical name is used.
    """
    deterministic = {v.name for v in model.deterministics}
    names = []
    for rv in model.free_RVs:
        if rv.name.endswith(_NUISANCE_SUFFIXES):
            continue
        name = rv.name
        for suffix in ("_ln", "_scaled"):
            if name.endswith(suffix) and name[: -len(suffix)] in deterministic:
                name = name[: -len(suffix)]
        names.append(name)
    return names


def _scalars(name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """Split a variable's values (leading sample axes, then the variable's shape) into scalars."""
    return {name: values} if values.ndim == 0 else dict(_flatten(name, values))


def _flatten(name, values):
    for index in np.ndindex(values.shape):
        yield f"{name}[{','.join(map(str, index))}]", values[index]


def _thin(posterior: np.ndarray, n_draws: int, ess: float) -> tuple[np.ndarray, bool]:
    """``n_draws`` draws of ``posterior`` (chain, draw), spaced by the autocorrelation length.

    Returns the draws and whether there were enough effectively independent ones.
    """
    n_chain, n_total = posterior.shape[0], posterior.size
    stride = max(1, math.ceil(n_total / max(ess, 1.0)))
    pool = posterior[:, ::stride].reshape(-1)
    enough = pool.size >= n_draws
    if not enough:
        pool = posterior.reshape(-1)
    index = (np.arange(n_draws) * pool.size) // n_draws
    del n_chain
    return pool[index], enough


def _replicate(task: dict) -> dict:
    """One replication: rebuild the model on simulated data, sample, rank (picklable)."""
    from ..inference import build_model, check_convergence, sample

    datasets = with_simulated_data(
        task["datasets"], task["data"], task["layouts"], rng=task["seed"]
    )
    model = build_model(datasets, task["models"], **task["build_kwargs"])
    tree = sample(
        model,
        random_seed=task["seed"],
        progressbar=False,
        log_likelihood=False,
        check=False,
        **task["sample_kwargs"],
    )
    report = check_convergence(tree, warn=False)
    ess = float(report.ess_bulk_min)
    ranks, inside, enough = {}, {}, True
    posterior = tree["posterior"]
    for var in task["var_names"]:
        values = np.asarray(posterior[var].values)
        truth = task["truth"][var]
        for key, truth_value in _scalars(var, np.asarray(truth)).items():
            if key == var:
                draws = values
            else:
                index = tuple(int(i) for i in key[len(var) + 1 : -1].split(","))
                draws = values[(slice(None), slice(None), *index)]
            thinned, ok = _thin(draws, task["n_draws"], ess)
            enough &= ok
            ranks[key] = int(np.sum(thinned < truth_value))
            flat = draws.reshape(-1)
            inside[key] = {
                level: bool(
                    np.quantile(flat, (1 - level) / 2)
                    <= truth_value
                    <= np.quantile(flat, (1 + level) / 2)
                )
                for level in LEVELS
            }
    return {
        "index": task["index"],
        "ranks": ranks,
        "inside": inside,
        "diagnostics": {
            "rhat_max": float(report.rhat_max),
            "ess_bulk_min": ess,
            "n_divergent": int(report.n_divergent),
            "enough_ess": bool(enough),
        },
    }


def _map(tasks: list, n_workers: int, client) -> list:
    if client is not None:
        return client.gather(client.map(_replicate, tasks, pure=False))
    if n_workers > 1:
        from dask.distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as local,
        ):
            return local.gather(local.map(_replicate, tasks, pure=False))
    return [_replicate(t) for t in tasks]


def run_sbc(
    datasets,
    models,
    *,
    n_replications: int = 100,
    n_draws: int = 100,
    var_names: Sequence[str] | None = None,
    build_kwargs: dict | None = None,
    sample_kwargs: dict | None = None,
    simulation_models=None,
    random_seed: int = 0,
    n_workers: int = 1,
    client=None,
) -> SBCResult:
    """Run simulation-based calibration of ``build_model(datasets, models)``.

    Parameters
    ----------
    datasets : dataset or sequence of datasets
        Templates (spectrum datasets, on/off or not, and map datasets with a known
        background): response, masks and, for on/off data, the OFF counts the marginal
        likelihood conditions on. Their ON counts are replaced by simulations.
    models : Models, SkyModel or sequence
        Sky models with proper priors on the free parameters (the model being calibrated).
    n_replications : int
        Number of (truth, data, posterior) replications ``N``.
    n_draws : int
        Posterior draws ``L`` per replication, thinned by the effective sample size; ranks lie
        in ``0..L``. A replication whose bulk ESS is below ``L`` is flagged
        (``diagnostics["enough_ess"]``).
    var_names : sequence of str, optional
        Variables to rank (default: every free parameter by its physical name, e.g.
        ``"src::amplitude"``, without the per-bin ``"::mu_off"`` nuisances); vector variables
        are ranked per element (``"name[i]"``).
    build_kwargs : dict, optional
        Passed to :func:`gammaprob.inference.build_model` (``onoff=``, ...).
    sample_kwargs : dict, optional
        Passed to :func:`gammaprob.inference.sample` (default: its defaults, nutpie with
        4 x (1000 + 1000)).
    simulation_models : optional
        Models to draw the truth and data from (default: ``models``). Different priors here
        make a deliberately miscalibrated run, which the rank tests should reject.
    random_seed : int
        Seed of the prior-predictive draws; replication ``i`` samples (and splits the
        aggregated bins of map datasets over their pixels) with seed ``random_seed + 1 + i``.
    n_workers : int
        Local worker processes (Dask ``LocalCluster``) when > 1 and ``client`` is None.
    client : dask.distributed.Client, optional
        Run the replications on this cluster.

    Returns
    -------
    SBCResult
        Ranks, interval coverage and per-replication diagnostics; ``rank_tests()``,
        ``coverage()``, ``plot_ranks()``, ``plot_ecdf()``.

    Raises
    ------
    SBCError
        For an improper prior (naming the variable), a potential (``onoff="wstat"``), an
        unsupported dataset type, or unknown ``var_names``.
    """
    import pymc as pm

    from ..inference import build_model

    if n_replications < 1 or n_draws < 1:
        raise ValueError("n_replications and n_draws must be >= 1")
    datasets = list(datasets) if isinstance(datasets, list | tuple) else [datasets]
    build_kwargs = dict(build_kwargs or {})
    sample_kwargs = dict(sample_kwargs or {})
    fit_model = build_model(datasets, models, **build_kwargs)
    check_generative(fit_model)
    sim_model = (
        fit_model
        if simulation_models is None
        else build_model(datasets, simulation_models, **build_kwargs)
    )
    check_generative(sim_model)
    expected = {name for ds in datasets for name in observed_names(ds)}
    unknown = {rv.name for rv in sim_model.observed_RVs} - expected
    if unknown:
        raise SBCError(f"observed term(s) {sorted(unknown)} cannot be simulated into a dataset")
    layouts = map_layouts(
        datasets, models if simulation_models is None else simulation_models, build_kwargs
    )
    var_names = list(var_names) if var_names is not None else _default_var_names(fit_model)
    missing = [
        v for v in var_names if v not in fit_model.named_vars or v not in sim_model.named_vars
    ]
    if missing:
        raise SBCError(
            f"variable(s) {missing} are not in the model (choose among "
            f"{sorted(v.name for v in [*fit_model.free_RVs, *fit_model.deterministics])})"
        )
    prior = pm.sample_prior_predictive(
        draws=n_replications,
        model=sim_model,
        var_names=[*var_names, *(rv.name for rv in sim_model.observed_RVs)],
        random_seed=random_seed,
    )
    tasks = []
    for i in range(n_replications):
        tasks.append(
            {
                "index": i,
                "datasets": datasets,
                "layouts": layouts,
                "models": models,
                "build_kwargs": build_kwargs,
                "sample_kwargs": sample_kwargs,
                "var_names": var_names,
                "n_draws": n_draws,
                "seed": random_seed + 1 + i,
                "truth": {v: np.asarray(prior["prior"][v].values[0, i]) for v in var_names},
                "data": {
                    rv.name: np.asarray(prior["prior_predictive"][rv.name].values[0, i])
                    for rv in sim_model.observed_RVs
                },
            }
        )
    records = sorted(_map(tasks, n_workers, client), key=lambda r: r["index"])
    return SBCResult.from_records(records, n_draws=n_draws)
