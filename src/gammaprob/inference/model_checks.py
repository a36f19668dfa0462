"""Checks of a PyMC model before sampling: improper priors, missing data, a bad start.

:func:`check_reference_energies` (called by :func:`~gammaprob.inference.build_model`) warns
when a spectral model's reference energy lies far outside the energies its data constrain.

An improper (``pm.Flat``/``pm.HalfFlat``) prior is fine when the data constrain the variable
(gammaprob's latent on/off backgrounds are such variables); a variable with an improper prior
that no observed term or potential depends on makes the posterior improper: samplers then
wander off without any error. SMC and the log-evidence need every prior to be proper.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..utils.errors import GammaprobError

__all__ = [
    "REFERENCE_ENERGY_DECADES",
    "ImproperModelError",
    "ReferenceEnergyWarning",
    "check_model",
    "check_reference_energies",
    "improper_variables",
]


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


#: Decades a reference energy may lie outside the data's energy range before a warning.
REFERENCE_ENERGY_DECADES = 1.0


class ReferenceEnergyWarning(UserWarning):
    """A spectral model's reference energy is far outside the energies its data constrain."""


def _spectral_leaves(spectral) -> list:
    """Return the spectral components of a (compound or scaled) spectral model."""
    children = [getattr(spectral, k, None) for k in ("model1", "model2", "model")]
    children = [c for c in children if c is not None]
    if not children:
        return [spectral]
    return [leaf for child in children for leaf in _spectral_leaves(child)]


def _free(param) -> bool:
    return param.is_free or param.is_tensor


def check_reference_energies(models, ranges: dict[str, tuple[float, float]]) -> list[str]:
    """Warn about spectral models whose reference energy is far outside their data's range.

    A component with a free (or tensor) ``amplitude`` and a ``reference`` energy more than
    :data:`REFERENCE_ENERGY_DECADES` outside the union of the energy ranges of the datasets
    the source applies to has its amplitude, index and curvature defined by an
    extrapolation: they are then strongly correlated and a curvature prior spreads the
    predicted counts over many decades (the Fermi 3FHL Crab file, reference 50.5 MeV, data
    10 GeV to 2 TeV: stuck nutpie chains). The remedy is a re-pivot of the values
    (``LogParabola.repivot``, ``PowerLaw.repivot``) before setting the priors.

    Parameters
    ----------
    models : Models
        Sky models (other models, e.g. FoV backgrounds, are skipped).
    ranges : dict
        Dataset name to the ``(lowest, highest)`` energy it constrains, in TeV (the
        true-energy range of a response, the span of flux-point energies).

    Returns
    -------
    list of str
        The warning messages (one per component), also issued as
        :class:`ReferenceEnergyWarning`.
    """
    from gammaprob.forward._models import models_for

    factor = 10.0**REFERENCE_ENERGY_DECADES
    messages = []
    for source in models:
        spectral = getattr(source, "spectral", None)
        names = [name for name in ranges if source in models_for([source], name, None)]
        if spectral is None or not names:
            continue
        low = min(ranges[name][0] for name in names)
        high = max(ranges[name][1] for name in names)
        for leaf in _spectral_leaves(spectral):
            params = leaf.parameters
            if "reference" not in params or "amplitude" not in params:
                continue
            if not _free(params["amplitude"]) or _free(params["reference"]):
                continue
            reference = float(params["reference"].quantity.to_value("TeV"))
            if low / factor <= reference <= high * factor:
                continue
            messages.append(
                f"source {source.name!r}: the reference energy {reference:.3g} TeV of its "
                f"{type(leaf).__name__} is more than {REFERENCE_ENERGY_DECADES:g} decade(s) "
                f"outside the energy range of its data ({low:.3g} to {high:.3g} TeV, datasets "
                f"{names}): the amplitude there is an extrapolation, strongly correlated with "
                "the index (and curvature), and samplers may not converge. Re-pivot the "
                "values near the data before setting the priors, e.g. "
                f"spectral.repivot({np.sqrt(low * high):.3g} * u.TeV) (ideally at the "
                "decorrelation energy), then give the parameters priors there."
            )
    for message in messages:
        warnings.warn(message, ReferenceEnergyWarning, stacklevel=3)
    return messages
