"""Running samplers on a PyMC model: NUTS (PyMC, nutpie, numpyro), emcee, SMC.

Every sampler returns an ArviZ 1.x ``xarray.DataTree`` with a ``posterior`` group in the
model's constrained (physical) parametrisation, the run's settings in the root attributes,
and (by default) a ``log_likelihood`` group with one variable per observed term: per bin for
spectrum datasets and per energy bin (summed over pixels) for map datasets, computed one draw
at a time so that memory does not grow with bins x draws; per-bin values of map datasets are
opt-in (``log_likelihood="pointwise"``). With nutpie the default group is recorded with each
draw by the compiled model (:mod:`gammaprob.inference.nutpie_backend`), with the same values.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
import warnings
from typing import Literal

from ..utils.errors import GammaprobError
from .build import model_metadata
from .diagnostics import check_convergence
from .model_checks import check_model
from .provenance import add_provenance

__all__ = ["SAMPLERS", "SamplerNotInstalledError", "sample"]

SamplerName = Literal["pymc", "nutpie", "numpyro", "emcee", "smc"]
SAMPLERS = ("pymc", "nutpie", "numpyro", "emcee", "smc")

_REQUIRES = {
    "nutpie": ("nutpie",),
    "numpyro": ("jax", "numpyro"),
    "emcee": ("emcee",),
}
_EXTRA = {"numpyro": "jax"}


class SamplerNotInstalledError(GammaprobError, ImportError):
    """The requested sampler's package is not installed."""


def _require(sampler: str) -> None:
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    missing = [pkg for pkg in _REQUIRES.get(sampler, ()) if importlib.util.find_spec(pkg) is None]
    if missing:
        how = (
            f"pip install 'gammaprob[{_EXTRA[sampler]}]'"
            if sampler in _EXTRA
            else f"pip install {' '.join(missing)} (a dependency of gammaprob: reinstall it)"
        )
        raise SamplerNotInstalledError(
            f"sampler {sampler!r} needs {', '.join(missing)}, which is not installed. "
            f"Install it with: {how} (or use sampler='pymc')."
        )


def sample(
    model,
    *,
    draws: int | None = None,
    tune: int = 1000,
    chains: int = 4,
    sampler: SamplerName = "nutpie",
    random_seed: int | None = None,
    target_accept: float | None = None,
    progressbar: bool = True,
    log_likelihood: bool | Literal["pointwise"] = True,
    check: bool = True,
    **kwargs,
):
    """Sample the posterior of a PyMC model.

    Parameters
    ----------
    model : pymc.Model
        Model built by :func:`gammaprob.inference.build_model` or by hand.
    draws : int, optional
        Draws kept per chain (default 1000, or
        :data:`~gammaprob.modeling.hierarchy.HIERARCHY_DRAWS` = 2000 when the model holds a
        :class:`~gammaprob.modeling.Hierarchy`: its population scale mixes slowly, and with
        1000 its R-hat exceeds 1.01 in about one run in five); for ``smc`` the number of
        particles per chain. The value used is recorded in the provenance.
    tune : int
        Tuning (warm-up) steps per chain; for ``emcee`` the burn-in.
    chains : int
        Independent chains (walkers for ``emcee`` are reported as chains).
    sampler : {"pymc", "nutpie", "numpyro", "emcee", "smc"}
        ``nutpie`` (default, a dependency of gammaprob) is the fastest NUTS on a CPU, with
        its compiled code cached between processes; ``pymc`` is PyMC's own NUTS; ``numpyro``
        is JAX NUTS (on a GPU when JAX sees one; the ``jax`` extra); ``emcee`` drives the
        affine-invariant ensemble sampler with the compiled log-posterior; ``smc`` is
        sequential Monte Carlo and records the log-evidence in ``sample_stats``.
    random_seed : int, optional
        Seed; the same seed reproduces the run.
    target_accept : float, optional
        NUTS target acceptance rate (default 0.9, or
        :data:`~gammaprob.modeling.hierarchy.HIERARCHY_TARGET_ACCEPT` = 0.99 when the model
        holds a :class:`~gammaprob.modeling.Hierarchy`, whose divergences a smaller step
        removes); the value used is recorded in the provenance.
    progressbar : bool
        Show a progress bar.
    log_likelihood : bool or "pointwise"
        Add the ``log_likelihood`` group (one variable per observed term), needed for LOO.
        ``True`` (default): spectrum datasets per bin, map datasets per reconstructed-energy
        bin (the log-likelihood summed over the pixels of each energy bin: a few values per
        draw instead of one per map bin, so a 3D result stays megabytes), computed draw by
        draw. ``"pointwise"``: one value per likelihood bin of every dataset (for
        pixel-level diagnostics; size bins x draws). ``False``: no group.
    check : bool
        Run :func:`check_convergence` and warn when it fails.
    **kwargs
        Passed to the underlying sampler.

    Returns
    -------
    xarray.DataTree
        ``posterior``, ``sample_stats``, ``observed_data``, ``log_likelihood`` and the run's
        provenance (sampler, settings, seed, wall time) in the root attributes.
    """
    _require(sampler)
    check_model(model, evidence=sampler == "smc")
    if target_accept is None or draws is None:
        from ..modeling.hierarchy import HIERARCHY_DRAWS, HIERARCHY_TARGET_ACCEPT, hierarchies_in

        hierarchical = bool(hierarchies_in(model))
        if target_accept is None:
            target_accept = HIERARCHY_TARGET_ACCEPT if hierarchical else 0.9
        if draws is None:
            draws = HIERARCHY_DRAWS if hierarchical else 1000
    settings = {
        "sampler": sampler,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "random_seed": random_seed,
        "target_accept": target_accept,
    }
    start = time.perf_counter()
    if sampler == "emcee":
        from .ensemble import sample_emcee

        tree = sample_emcee(
            model,
            draws=draws,
            tune=tune,
            walkers=chains,
            random_seed=random_seed,
            progressbar=progressbar,
            **kwargs,
        )
    elif sampler == "smc":
        import pymc as pm

        tree = pm.sample_smc(
            draws=draws,
            chains=chains,
            model=model,
            random_seed=random_seed,
            progressbar=progressbar,
            compute_convergence_checks=False,
            **kwargs,
        )
    elif sampler == "nutpie":
        from gammaprob.likelihood.groups import energy_groups

        from .nutpie_backend import sample_nutpie

        tree = sample_nutpie(
            model,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            target_accept=target_accept,
            progressbar=progressbar,
            # computed with each draw by the compiled code (no second compilation), except
            # for map datasets: their fused likelihood holds the dataset's arrays, so their
            # models take nutpie's own compilation; reduced after sampling, on the sources'
            # windows (reduced_log_likelihood)
            log_likelihood=log_likelihood is True
            and _has_observed(model)
            and not energy_groups(model),
            **kwargs,
        )
    else:
        import pymc as pm

        if "step" not in kwargs:  # a user's prebuilt step method carries its own settings
            kwargs["nuts"] = {"target_accept": target_accept, **kwargs.pop("nuts", {})}
        if sampler == "numpyro":
            kwargs["nuts"].setdefault("chain_method", _jax_chain_method(chains))
        tree = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            model=model,
            nuts_sampler=sampler,
            random_seed=random_seed,
            progressbar=progressbar,
            compute_convergence_checks=False,
            **kwargs,
        )
    settings["wall_time_s"] = time.perf_counter() - start
    if log_likelihood not in (True, False, "pointwise"):
        raise ValueError(
            f"log_likelihood must be True, False or 'pointwise', got {log_likelihood!r}"
        )
    if log_likelihood and "log_likelihood" not in tree.children and _has_observed(model):
        _add_log_likelihood(tree, model, pointwise=log_likelihood == "pointwise")
    meta = model_metadata(model)
    settings["onoff"] = meta.get("onoff")
    add_provenance(
        tree,
        settings=settings,
        model_yaml=meta.get("model_yaml"),
        datasets=meta.get("datasets"),
    )
    if check:
        check_convergence(tree, warn=True)
    _check_regions(tree, model)
    return tree


def _check_regions(tree, model) -> None:
    """Warn when posterior draws left a cutout, a static box or the sub-pixel resolution."""
    from gammaprob.forward.checks import RegionWarning, check_regions, model_regions

    regions = model_regions(model)
    if not regions or "posterior" not in tree.children:
        return
    posterior = tree["posterior"].to_dataset()
    for message in check_regions(regions, {k: posterior[k].values for k in posterior.data_vars}):
        warnings.warn(message, RegionWarning, stacklevel=3)


def _jax_chain_method(chains: int) -> str:
    """Run JAX chains in parallel over devices when there are enough, else vectorised on one.

    (JAX's "parallel" on a single CPU or GPU falls back to one chain after the other.)
    """
    import jax

    return "parallel" if jax.local_device_count() >= chains else "vectorized"


def _has_observed(model) -> bool:
    return bool(model.observed_RVs)


def _add_log_likelihood(tree, model, *, pointwise: bool = False) -> None:
    """Add the log-likelihood of every observed variable (for LOO).

    With ``pointwise`` one value per element of each observed variable (PyMC's
    ``compute_log_likelihood``); otherwise map datasets are summed per energy bin
    (:func:`reduced_log_likelihood`). PyMC refuses models with custom initial values here;
    they only set where samplers start, so they are lifted for this computation and restored
    afterwards.
    """
    import pymc as pm

    initial = dict(model.rvs_to_initial_values)
    try:
        for rv in initial:
            model.rvs_to_initial_values[rv] = None
        if pointwise:
            pm.compute_log_likelihood(tree, model=model, progressbar=False)
            tree["log_likelihood"].attrs["granularity"] = "pointwise"
        else:
            tree["log_likelihood"] = reduced_log_likelihood(tree["posterior"].to_dataset(), model)
    finally:
        model.rvs_to_initial_values.update(initial)


@contextlib.contextmanager
def _uncached_map_loop():
    """Silence numba's "Cannot cache" warning for the map likelihood's dense per-bin graph only.

    That graph (map datasets without following sources) holds its dataset's arrays (> 1 MB),
    so numba compiles the log-likelihood function again in each process instead of caching
    it: a compile cost (docs/inference.md), not a change of results.
    """
    from numba.core.errors import NumbaWarning

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", r'Cannot cache compiled function "numba_ofg"', NumbaWarning
        )
        yield


def reduced_log_likelihood(posterior, model):
    """Log-likelihood per draw: spectrum bins as they are, map datasets summed per energy bin.

    The elementwise log-likelihood of one draw is computed and reduced at once, so memory
    holds one draw's bins plus the reduced values of all draws (never bins x draws). A map
    dataset whose likelihood follows its sources is summed per energy bin on the sources'
    windows (:func:`gammaprob.likelihood.map_sparse.energy_logp`): the same values, without
    the dense per-bin graph.

    Parameters
    ----------
    posterior : xarray.Dataset
        Posterior draws (``chain``, ``draw``) of the model's free variables.
    model : pymc.Model
        The model. Observed terms of map datasets (``"<ds>::counts"``, ``"<ds>::counts_off"``)
        are summed per reconstructed-energy bin using the labels recorded at build time
        (:func:`gammaprob.likelihood.groups.energy_groups`); other terms are kept per element.

    Returns
    -------
    xarray.Dataset
        One variable per observed term, dimensions ``(chain, draw, <name>_energy)`` (coordinate:
        the energy-bin index) for map datasets, else ``(chain, draw, <name>_dim_0, ...)``;
        attribute ``granularity``.
    """
    import numpy as np
    import xarray as xr
    from pymc.model.transform.conditioning import remove_value_transforms

    from gammaprob.likelihood.groups import energy_groups
    from gammaprob.likelihood.map_sparse import energy_logp

    umodel = remove_value_transforms(model)
    observed = list(umodel.observed_RVs)
    inputs = list(umodel.value_vars)
    groups = energy_groups(model)
    # per observed term: its outputs of the compiled function, how they become one draw's row
    # ((energy bins, element -> bin, sums of the windows or None) for map datasets, else None)
    outs, parts, plans = [], [], []
    for rv, logp in zip(observed, umodel.logp(vars=observed, sum=False), strict=True):
        labels = groups.get(rv.name.split("::", 1)[0])
        plan = None if labels is None else (*np.unique(labels, return_inverse=True), None)
        sparse = None if labels is None else energy_logp(logp)
        if sparse is not None and np.array_equal(sparse[2], labels):
            # the windows' loop on the likelihood's ingredients, not the dense per-bin graph
            plan = (plan[0], None, sparse[1])
            terms = sparse[0]
        else:
            terms = [logp]
        parts.append(slice(len(outs), len(outs) + len(terms)))
        outs.extend(terms)
        plans.append(plan)
    function = umodel.compile_fn(inputs=inputs, outs=outs, on_unused_input="ignore", point_fn=False)
    values = [
        np.asarray(posterior[v.name].values, dtype=v.type.dtype) if v.name in posterior else None
        for v in inputs
    ]
    missing = [v.name for v, x in zip(inputs, values, strict=True) if x is None]
    if missing:
        raise ValueError(f"the posterior lacks the free variables {missing} of the model")
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    outputs: list = [None] * len(observed)
    with _uncached_map_loop():  # numba compiles the function at its first call
        for c in range(n_chain):
            for d in range(n_draw):
                results = function(*(x[c, d] for x in values))
                for i, (part, plan) in enumerate(zip(parts, plans, strict=True)):
                    row = _reduced_row(observed[i].name, results[part], plan)
                    if outputs[i] is None:
                        outputs[i] = np.empty((n_chain, n_draw, *row.shape))
                    outputs[i][c, d] = row
    data = {}
    for rv, plan, array in zip(observed, plans, outputs, strict=True):
        if plan is not None:
            dim = f"{rv.name}_energy"
            data[rv.name] = xr.DataArray(array, dims=("chain", "draw", dim), coords={dim: plan[0]})
        else:
            dims = [f"{rv.name}_dim_{k}" for k in range(array.ndim - 2)]
            data[rv.name] = xr.DataArray(array, dims=("chain", "draw", *dims))
    dataset = xr.Dataset(data, coords={k: posterior.coords[k] for k in ("chain", "draw")})
    dataset.attrs["granularity"] = "per bin; map datasets summed per energy bin"
    return dataset


def _reduced_row(name: str, results: list, plan):
    """One draw's log-likelihood of one observed term, as stored (see reduced_log_likelihood)."""
    import numpy as np

    if plan is None:
        return np.asarray(results[0], dtype=np.float64)
    energies, inverse, sums = plan
    if sums is not None:
        return sums(*results)[energies]
    logp = np.asarray(results[0], dtype=np.float64)
    if inverse.size != logp.size:
        raise ValueError(
            f"observed term {name!r} has {logp.size} elements but "
            f"{inverse.size} energy labels were recorded at build time"
        )
    return np.bincount(inverse, logp.ravel(), energies.size)
