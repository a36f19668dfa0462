"""Running samplers on a PyMC model: NUTS (PyMC, nutpie, numpyro), emcee, SMC.

Every sampler returns an ArviZ 1.x ``xarray.DataTree`` with a ``posterior`` group in the
model's constrained (physical) parametrisation, the run's settings in the root attributes,
and (by default) a ``log_likelihood`` group with one variable per observed term.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Literal

from ..utils.errors import GammaprobError
from .build import model_metadata
from .diagnostics import check_convergence
from .model_checks import check_model
from .provenance import add_provenance

__all__ = ["SAMPLERS", "SamplerNotInstalledError", "sample"]

SamplerName = Literal["pymc", "nutpie", "numpyro", "blackjax", "emcee", "smc"]
SAMPLERS = ("pymc", "nutpie", "numpyro", "blackjax", "emcee", "smc")

_REQUIRES = {
    "nutpie": ("nutpie",),
    "numpyro": ("jax", "numpyro"),
    "blackjax": ("jax", "blackjax"),
    "emcee": ("emcee",),
}
_EXTRA = {"numpyro": "jax", "blackjax": "jax"}


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
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    sampler: SamplerName = "nutpie",
    random_seed: int | None = None,
    target_accept: float = 0.9,
    progressbar: bool = True,
    log_likelihood: bool = True,
    check: bool = True,
    **kwargs,
):
    """Sample the posterior of a PyMC model.

    Parameters
    ----------
    model : pymc.Model
        Model built by :func:`gammaprob.inference.build_model` or by hand.
    draws, tune : int
        Draws kept per chain, and tuning (warm-up) steps per chain. For ``emcee`` ``tune``
        is the burn-in; for ``smc`` ``draws`` is the number of particles per chain.
    chains : int
        Independent chains (walkers for ``emcee`` are reported as chains).
    sampler : {"pymc", "nutpie", "numpyro", "blackjax", "emcee", "smc"}
        ``nutpie`` (default, a dependency of gammaprob) is the fastest NUTS on a CPU, with
        its compiled code cached between processes; ``pymc`` is PyMC's own NUTS; ``numpyro``
        and ``blackjax`` are JAX NUTS (on a GPU when JAX sees one); ``emcee`` drives the
        affine-invariant ensemble sampler with the compiled log-posterior; ``smc`` is
        sequential Monte Carlo and records the log-evidence in ``sample_stats``.
    random_seed : int, optional
        Seed; the same seed reproduces the run.
    target_accept : float
        NUTS target acceptance rate.
    progressbar : bool
        Show a progress bar.
    log_likelihood : bool
        Add the ``log_likelihood`` group (one variable per observed term), needed for LOO.
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
        from .nutpie_backend import sample_nutpie

        tree = sample_nutpie(
            model,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            target_accept=target_accept,
            progressbar=progressbar,
            **kwargs,
        )
    else:
        import pymc as pm

        if "step" not in kwargs:  # a user's prebuilt step method carries its own settings
            kwargs["nuts"] = {"target_accept": target_accept, **kwargs.pop("nuts", {})}
        if sampler in ("numpyro", "blackjax"):
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
    if log_likelihood and "log_likelihood" not in tree.children and _has_observed(model):
        _add_log_likelihood(tree, model)
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
    return tree


def _jax_chain_method(chains: int) -> str:
    """Run JAX chains in parallel over devices when there are enough, else vectorised on one.

    (JAX's "parallel" on a single CPU or GPU falls back to one chain after the other.)
    """
    import jax

    return "parallel" if jax.local_device_count() >= chains else "vectorized"


def _has_observed(model) -> bool:
    return bool(model.observed_RVs)


def _add_log_likelihood(tree, model) -> None:
    """Add the pointwise log-likelihood of every observed variable (for LOO).

    PyMC refuses models with custom initial values here; they only set where samplers
    start, so they are lifted for this computation and restored afterwards.
    """
    import pymc as pm

    initial = dict(model.rvs_to_initial_values)
    try:
        for rv in initial:
            model.rvs_to_initial_values[rv] = None
        pm.compute_log_likelihood(tree, model=model, progressbar=False)
    finally:
        model.rvs_to_initial_values.update(initial)
