"""Prior policies for free parameters of gammapy model files that carry no priors.

A gammapy model YAML lists free parameters (``frozen: false``) with best-fit values, errors
and fit bounds, but no priors. gammaprob never invents priors for them silently: either the
file carries ``prior:`` blocks, or the reader is given ``prior_policy=``, whose names and
semantics are those of the catalog policies (:mod:`gammaprob.catalog.priors`):

``"catalog-errors"``
    Centred on the file's value with width ``k`` times the file's ``error`` (``k`` = 2 unless
    given): ``LogNormal(ln v, k err / v)`` for parameters bounded to ``(0, inf)``,
    ``Normal(v, k err)`` for unbounded ones, ``TruncatedNormal(v, k err, lo, hi)`` for other
    bounded ones. A free parameter without a finite, positive ``error`` stays fixed (and is
    listed as such).
``"broad"``
    Weakly informative priors around the file's value: ``LogUniform(v / 100, 100 v)``
    (clipped to the physical bounds) for positive parameters, ``Normal(v, 0.5 deg)`` for
    angles, ``Normal(v, 1)`` for other unbounded ones, ``TruncatedNormal(v, 1, lo, hi)`` for
    other bounded ones.

Both centre the priors on the file's values: when the file is a fit of the same data, the
data are used twice. The chosen priors are logged at INFO level and recorded in
``SkyModel.meta`` (``prior_policy``, ``priors``, ``fixed``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from .parameter import Parameter
from .prior import LogNormal, LogUniform, Normal, Prior, TruncatedNormal

__all__ = ["DEFAULT_K", "PRIOR_POLICIES", "check_prior_policy", "policy_prior"]

log = logging.getLogger(__name__)

#: Named prior policies for model files (same names as the catalog policies).
PRIOR_POLICIES = ("catalog-errors", "broad")
#: Width of ``"catalog-errors"`` priors in units of the file's 1-sigma error.
DEFAULT_K = 2.0
_BROAD_FACTOR = 100.0
_BROAD_ANGLE_DEG = 0.5


def check_prior_policy(policy: str | None, k: float | None = None) -> float:
    """Validate a policy name; return the width factor ``k`` (NaN unless ``"catalog-errors"``).

    Parameters
    ----------
    policy : {None, "catalog-errors", "broad"}
        Policy name (None: the file must carry its priors).
    k : float, optional
        Width factor of ``"catalog-errors"`` (default :data:`DEFAULT_K`).
    """
    if policy is not None and policy not in PRIOR_POLICIES:
        import difflib

        close = difflib.get_close_matches(str(policy), PRIOR_POLICIES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown prior policy {policy!r}{hint}; expected None or one of {PRIOR_POLICIES}"
        )
    if k is not None and policy != "catalog-errors":
        raise ValueError(f"k= is used by the 'catalog-errors' prior policy only, got {policy!r}")
    if policy != "catalog-errors":
        return math.nan
    k = DEFAULT_K if k is None else float(k)
    if not (math.isfinite(k) and k > 0):
        raise ValueError(f"k must be a positive number, got {k}")
    return k


def policy_prior(policy: str, param: Parameter, error: float, k: float) -> Prior | None:
    """Return the prior ``policy`` gives a parameter at its value (None: it stays fixed).

    Parameters
    ----------
    policy : {"catalog-errors", "broad"}
        Policy name.
    param : Parameter
        The parameter (value, unit and physical bounds are used).
    error : float
        1-sigma error in the parameter's unit (NaN if unknown; used by ``"catalog-errors"``).
    k : float
        Width factor of ``"catalog-errors"``.
    """
    value = float(param.value)
    lo, hi = param.bounds
    unit = param.unit_string
    if policy == "catalog-errors":
        if not (math.isfinite(error) and error > 0):
            return None
        width = k * error
        if lo == 0.0 and hi == math.inf and value > 0:
            return LogNormal(math.log(value), width / value, unit=unit)
        if lo == -math.inf and hi == math.inf:
            return Normal(value, width, unit=unit)
        return TruncatedNormal(value, width, lo, hi, unit=unit)
    if lo >= 0.0 and value > 0:
        return LogUniform(value / _BROAD_FACTOR, min(value * _BROAD_FACTOR, hi), unit=unit)
    width = _BROAD_ANGLE_DEG if param.unit.physical_type == "angle" else 1.0
    if lo == -math.inf and hi == math.inf:
        return Normal(value, width, unit=unit)
    return TruncatedNormal(value, width, lo, hi, unit=unit)


@dataclass
class PolicyRecord:
    """What a policy did while one models file was read (internal).

    Attributes
    ----------
    policy : str or None
        The policy (None: the file must carry priors).
    k : float
        Width factor.
    model : str
        Name of the model being read (for the record keys).
    priors, fixed, missing : dict / list
        Per model: chosen priors (repr), parameters left fixed, free parameters without a
        prior when no policy is named.
    """

    policy: str | None
    k: float
    model: str = ""
    priors: dict[str, dict[str, str]] = field(default_factory=dict)
    fixed: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def choose(self, where: str, param: Parameter, error: float) -> Prior | None:
        """Prior for a free parameter without one (None: left fixed or missing)."""
        key = f"{where}.{param.name}" if where else param.name
        if self.policy is None:
            self.missing.append(f"{self.model}: {key}")
            return None
        prior = policy_prior(self.policy, param, error, self.k)
        if prior is None:
            self.fixed.setdefault(self.model, []).append(key)
            log.info(
                "model %r: %s is free in the file but has no usable error; "
                "prior_policy=%r leaves it fixed at %g",
                self.model,
                key,
                self.policy,
                param.value,
            )
            return None
        self.priors.setdefault(self.model, {})[key] = repr(prior)
        log.info("model %r: prior_policy=%r gives %s ~ %r", self.model, self.policy, key, prior)
        return prior
