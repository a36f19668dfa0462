"""Checks of a PyMC model before sampling: improper priors, missing data, a bad start.

An improper (``pm.Flat``/``pm.HalfFlat``) prior is fine when the data constrain the variable
(gammaprob's latent on/off backgrounds are such variables); a variable with an improper prior
that no observed term or potential depends on makes the posterior improper: samplers then
wander off without any error. SMC and the log-evidence need every prior to be proper.
"""

from __future__ import annotations

import numpy as np

from ..utils.errors import GammaprobError

__all__ = ["ImproperModelError", "check_model", "improper_variables"]


class ImproperModelError(GammaprobError, ValueError):
    """The model's posterior (or prior, where the evidence needs it) is not a proper density."""


def _is_improper(rv) -> bool:
    from pymc.distributions.continuous import FlatRV, HalfFlatRV

    op = getattr(rv.owner, "op", None)
    return isinstance(op, FlatRV | HalfFlatRV)


def improper_variables(model) -> tuple[list[str], list[str]]:
    """Free variables with an improper prior, split by whether the data constrain them.

    Parameters
    ----------
    model : pymc.Model
        The model.

    Returns
    -------
    tuple of list of str
        ``(constrained, unconstrained)`` variable names: an improper variable counts as
        constrained when an observed variable or a potential depends on it.
    """
    from pytensor.graph.traversal import ancestors

    improper = [rv for rv in model.free_RVs if _is_improper(rv)]
    if not improper:
        return [], []
    roots = [*model.observed_RVs, *model.potentials]
    upstream = set(ancestors(roots)) if roots else set()
    constrained = [rv.name for rv in improper if rv in upstream]
    unconstrained = [rv.name for rv in improper if rv not in upstream]
    return constrained, unconstrained


def check_model(model, *, evidence: bool = False, start: bool = False) -> None:
    """Refuse models that cannot give a proper posterior, with advice.

    Checks: no parameter changed since the model was built from it
    (:func:`gammaprob.modeling.parameter.check_built_parameters`); at least one free variable
    and one observed term or potential; no improper prior
    that the data leave unconstrained; (``evidence=True``) no improper prior at all;
    (``start=True``) a finite log-density at the initial point, naming the terms where it is
    not. The structural checks are instant; the start check compiles the model's terms once.

    Parameters
    ----------
    model : pymc.Model
        The model.
    evidence : bool
        Also require proper priors everywhere (SMC, log-evidence, prior predictive checks).
    start : bool
        Also evaluate every term at the initial point.

    Raises
    ------
    ImproperModelError
        With what is wrong and what to do.
    gammaprob.modeling.parameter.StaleModelError
        A parameter changed after the model was built: rebuild it with ``build_model``.
    """
    from gammaprob.modeling.parameter import check_built_parameters

    check_built_parameters(model)
    if not model.free_RVs:
        raise ImproperModelError(
            "the model has no free variable: give at least one parameter a prior"
        )
    if not model.observed_RVs and not model.potentials:
        raise ImproperModelError(
            "the model has no data (no observed variable or potential): build it with "
            "gammaprob.inference.build_model(datasets, models) or add a likelihood term"
        )
    constrained, unconstrained = improper_variables(model)
    if unconstrained:
        raise ImproperModelError(
            f"improper posterior: {', '.join(unconstrained)} "
            f"{'has' if len(unconstrained) == 1 else 'have'} a flat (improper) prior and no "
            "observed term depends on it, so the sampler would drift without bound. Give it a "
            "proper prior (e.g. Normal, LogUniform with finite bounds), fix it to a value, or "
            "remove it."
        )
    if evidence and constrained:
        raise ImproperModelError(
            f"{', '.join(constrained)} {'has' if len(constrained) == 1 else 'have'} an "
            "improper prior: the evidence (SMC) needs proper priors everywhere. Give each a "
            "proper prior; for on/off data use build_model's default onoff='marginal' (its "
            "OFF prior is proper), onoff='wstat', or onoff='latent' with a proper "
            "background_prior=."
        )
    if not start:
        return
    point_logps = model.point_logps()
    bad = {name: value for name, value in point_logps.items() if not np.isfinite(value)}
    if bad:
        raise ImproperModelError(
            "the log-density is not finite at the initial point for "
            + ", ".join(f"{name} ({value})" for name, value in bad.items())
            + ": check that fixed values and data are consistent with the model (e.g. zero "
            "predicted counts where counts were observed, a value outside a prior's support) "
            "and that the priors cover plausible values."
        )
