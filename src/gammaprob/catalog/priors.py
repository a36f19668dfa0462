"""Prior policies: how a catalog's values and errors become priors.

A catalog model never gets priors silently. :meth:`CatalogSource.sky_model` takes
``policy=``:

``None`` (the default)
    Every parameter fixed at the catalog value (no priors): a model to evaluate or plot, or
    to free by hand.
``"catalog-errors"``
    Each parameter the catalog quotes a finite, positive 1-sigma error for becomes free,
    centred on the catalog value with width ``k`` times that error (``k`` = 2 unless given):

    * parameters bounded to ``(0, inf)`` (amplitudes, cut-off energies): ``LogNormal(ln v,
      k err / v)`` (the relative error as a log width);
    * parameters without bounds (indices, curvature, positions): ``Normal(v, k err)``;
    * other bounded parameters (sizes, eccentricity): ``TruncatedNormal(v, k err, lo, hi)``.
``"broad"``
    The same parameters free, with weakly informative priors around the catalog value:
    ``LogUniform(v / 100, 100 v)`` (clipped to the bounds) for positive parameters,
    ``Normal(v, 1)`` for dimensionless unbounded ones (indices), ``Normal(v, 0.5 deg)`` for
    positions.

Parameters without a usable catalog error (reference energies, fixed shape parameters,
NaN errors) stay fixed under every policy. The policy, ``k``, every prior and every
parameter left fixed are recorded in ``SkyModel.meta["priors"]`` (and so in the model YAML
stored with inference results).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from gammaprob.modeling import Component
from gammaprob.modeling.prior_policy import DEFAULT_K, check_prior_policy, policy_prior
from gammaprob.modeling.prior_policy import PRIOR_POLICIES as POLICIES

__all__ = ["DEFAULT_K", "POLICIES", "apply_policy", "check_policy"]

log = logging.getLogger(__name__)


def check_policy(policy: str | None, k: float | None) -> float:
    """Validate a policy name and return the width factor ``k`` it uses.

    The catalog policies are the model-file policies of
    :mod:`gammaprob.modeling.prior_policy` (same names, same priors).

    Parameters
    ----------
    policy : {None, "catalog-errors", "broad"}
        Policy name.
    k : float, optional
        Width factor (``"catalog-errors"`` only; default :data:`DEFAULT_K`).

    Returns
    -------
    float
        ``k`` (NaN for policies that do not use it).
    """
    return check_prior_policy(policy, k)


def apply_policy(
    component: Component,
    errors: Mapping[str, float],
    policy: str | None,
    k: float,
    prefix: str = "",
) -> dict[str, Any]:
    """Free the parameters of ``component`` that have a catalog error, by ``policy``.

    Parameters
    ----------
    component : Component
        Component with every parameter fixed at its catalog value (changed in place).
    errors : mapping
        Catalog 1-sigma errors by parameter name, in the parameter's unit.
    policy : {None, "catalog-errors", "broad"}
        Prior policy (see the module docstring).
    k : float
        Width factor of ``"catalog-errors"``.
    prefix : str
        Prefix of the names in the returned record (``"spatial::"``).

    Returns
    -------
    dict
        ``{"priors": {name: repr}, "fixed": [names]}`` for the provenance record.
    """
    priors: dict[str, str] = {}
    fixed: list[str] = []
    for name, param in component.parameters.items():
        error = errors.get(name, math.nan)
        usable = policy is not None and math.isfinite(error) and error > 0
        if not usable:
            fixed.append(prefix + name)
            continue
        prior = policy_prior(policy, param, float(error), k)
        param.set(prior)
        priors[prefix + name] = repr(prior)
    return {"priors": priors, "fixed": fixed}
