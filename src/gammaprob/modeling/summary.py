"""Looking at priors: a summary table and prior-predictive spectra."""

from __future__ import annotations

import functools
import math
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np

from . import prior as priors
from .component import Component
from .parameter import Parameter, Parameters
from .spectral.base import SpectralModel

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["SUMMARY_DIGITS", "describe_priors", "prior_predictive_spectrum"]


def _parameters(obj: Any) -> Parameters:
    params = getattr(obj, "parameters", None)
    if not isinstance(params, Parameters):
        raise TypeError(f"expected a component, SkyModel or Models, got {type(obj).__name__}")
    return params


#: Significant digits of the numbers shown by :func:`describe_priors` (the data keep float64),
#: at least: a free parameter's numbers get more where its prior is narrow (see
#: :func:`_decimal_exponent`).
SUMMARY_DIGITS = 4

#: The columns whose numbers are printed to the row's resolution.
_NUMBER_COLUMNS = ("value", "q_low", "q_high")


def _decimal_exponent(q_low: float, q_high: float, quantiles: tuple[float, float]) -> int | None:
    """Exponent of the last decimal place to print for a free parameter.

    The prior's scale is the width of its central interval over that of a unit normal's
    (``sigma`` for a normal prior); the place is the scale's second significant digit, so that
    Normal(53945.02, 0.01) prints its location as 53945.02.

    Parameters
    ----------
    q_low, q_high : float
        Interval of the prior at ``quantiles`` (in the parameter's unit).
    quantiles : tuple of float
        The interval's lower and upper quantiles.

    Returns
    -------
    int or None
        The exponent (``-3`` prints to 0.001), or None where the interval is not finite and
        positive (fixed and tensor parameters).
    """
    width = q_high - q_low
    if not (np.isfinite(width) and width > 0):
        return None
    unit_normal = NormalDist()
    scale = width / (unit_normal.inv_cdf(quantiles[1]) - unit_normal.inv_cdf(quantiles[0]))
    return math.floor(math.log10(scale) + 1e-9) - 1  # 1e-9: sigma = 0.1 is not 0.0999...


def _number_text(value: float, exponent: int | None) -> str:
    """Return ``value`` to at least ``SUMMARY_DIGITS`` significant digits and to ``10**exponent``.

    Parameters
    ----------
    value : float
        The number.
    exponent : int or None
        Exponent of the last decimal place to keep (None: ``SUMMARY_DIGITS`` digits only).

    Returns
    -------
    str
        The number in ``g`` format (trailing zeros dropped).
    """
    digits = SUMMARY_DIGITS
    if exponent is not None and np.isfinite(value) and value != 0:
        digits = max(digits, math.floor(math.log10(abs(value))) - exponent + 1)
    return f"{value:.{digits}g}"


def _scipy_distribution(prior: priors.Prior) -> Any:
    """Return the prior as a frozen ``scipy.stats`` distribution, or None for other priors.

    Parameters
    ----------
    prior : Prior
        The prior (hyper-parameters in the parameter's unit).

    Returns
    -------
    scipy.stats.rv_continuous frozen distribution or None
        The same density as ``prior.sample`` draws from (None for priors outside
        :mod:`gammaprob.modeling.prior`, such as a hierarchy member's).
    """
    from scipy import stats

    match prior:
        case priors.Normal():
            return stats.norm(prior.mu, prior.sigma)
        case priors.StudentT():
            return stats.t(prior.nu, prior.mu, prior.sigma)
        case priors.Cauchy():
            return stats.cauchy(prior.alpha, prior.beta)
        case priors.Uniform():
            return stats.uniform(prior.lower, prior.upper - prior.lower)
        case priors.LogUniform():
            return stats.loguniform(prior.lower, prior.upper)
        case priors.LogNormal():
            return stats.lognorm(prior.sigma, scale=math.exp(prior.mu))
        case priors.HalfNormal():
            return stats.halfnorm(scale=prior.sigma)
        case priors.Exponential():
            return stats.expon(scale=1.0 / prior.lam)
        case priors.Gamma():
            return stats.gamma(prior.alpha, scale=1.0 / prior.beta)
        case priors.TruncatedNormal():
            a, b = ((bound - prior.mu) / prior.sigma for bound in (prior.lower, prior.upper))
            return stats.truncnorm(a, b, loc=prior.mu, scale=prior.sigma)
    return None


def _prior_quantiles(
    prior: priors.Prior, quantiles: tuple[float, float], rng: np.random.Generator
) -> tuple[float, float, float]:
    """Return the prior's lower quantile, median and upper quantile.

    Exact (``scipy.stats``) for the priors of :mod:`gammaprob.modeling.prior`, else from
    20000 draws of ``rng``.

    Parameters
    ----------
    prior : Prior
        The prior.
    quantiles : tuple of float
        Lower and upper quantile levels.
    rng : numpy.random.Generator
        Random generator for priors without a ``scipy.stats`` counterpart.

    Returns
    -------
    tuple of float
        ``(q_low, median, q_high)`` in the parameter's unit.
    """
    levels = (quantiles[0], 0.5, quantiles[1])
    distribution = _scipy_distribution(prior)
    if distribution is None:
        values = np.quantile(prior.sample(rng, 20000), levels)
    else:
        values = distribution.ppf(levels)
    q_low, median, q_high = (float(v) for v in values)
    return q_low, median, q_high


def _prior_text(prior: Any, exponent: int | None) -> str:
    """Return a prior as ``Normal(mu=2.5, sigma=0.5)``, numbers as :func:`_number_text`'s.

    The unit is the parameter's (the table's ``unit`` column), so it is not repeated.
    """
    args = ", ".join(f"{k}={_number_text(v, exponent)}" for k, v in prior.hyper.items())
    return f"{type(prior).__name__}({args})"


def _display_table(table: Table) -> Table:
    """Copy of ``table`` with its numbers as text, each row to its own resolution.

    A free parameter's row (finite interval) is printed to :func:`_decimal_exponent` of its
    interval, the other rows to ``SUMMARY_DIGITS`` significant digits.
    """
    from astropy.table import Table

    out = Table(table, copy=True, meta={})
    quantiles = tuple(table.meta.get("quantiles", (0.05, 0.95)))
    if "q_low" in table.colnames and "q_high" in table.colnames:
        exponents = [
            _decimal_exponent(lo, hi, quantiles)
            for lo, hi in zip(table["q_low"], table["q_high"], strict=True)
        ]
    else:
        exponents = [None] * len(table)
    for name in _NUMBER_COLUMNS:
        if name in table.colnames:
            texts = [_number_text(v, e) for v, e in zip(table[name], exponents, strict=True)]
            out.replace_column(name, texts if texts else np.array([], str))
    return out


@functools.cache
def _summary_table_class() -> type:
    """Return :class:`PriorTable`, made on first use (astropy.table is imported lazily)."""
    from astropy.table import Table
    from astropy.table.pprint import TableFormatter

    class PriorFormatter(TableFormatter):
        """Formats the numbers of each row to that row's resolution (:func:`_display_table`)."""

        def _pformat_table(self, table: Table, *args: Any, **kwargs: Any) -> Any:
            return super()._pformat_table(_display_table(table), *args, **kwargs)

    class PriorTable(Table):
        """Astropy Table printed at full width, each row's numbers to its prior's resolution.

        No column (the prior) is elided; the columns keep full float64 precision.
        """

        TableFormatter = PriorFormatter

        def __str__(self) -> str:
            return "\n".join(self.pformat(max_width=-1, max_lines=-1))

        def __repr__(self) -> str:
            return str(self)

    PriorTable.__module__ = __name__
    PriorTable.__qualname__ = "PriorTable"
    globals()["PriorTable"] = PriorTable  # found by pickle from here on
    return PriorTable


def __getattr__(name: str) -> Any:
    if name == "PriorTable":  # pickle looks the class up by name
        return _summary_table_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def describe_priors(obj: Any, quantiles: tuple[float, float] = (0.05, 0.95)) -> Table:
    """Summary table of every parameter: status, value, unit, prior and a central interval.

    Printing the table shows every column at full width (the prior column is never elided)
    and the numbers (``value``, ``q_low``, ``q_high`` and the prior's hyper-parameters) to at
    least 4 significant digits (:data:`SUMMARY_DIGITS`); a free parameter's numbers also to
    the second significant digit of its prior's scale (``sigma`` for a normal prior), so that
    a narrow prior on a large value, such as Normal(53945.02, 0.01) on a time in MJD, prints
    53945.02. The columns keep full float64 precision.

    Parameters
    ----------
    obj : Component, SkyModel, FoVBackgroundModel or Models
        What to describe.
    quantiles : tuple of float
        Lower and upper quantiles of the prior interval.

    Returns
    -------
    astropy.table.Table
        Columns ``name, status, value, unit, prior, q_low, q_high``, in ``unit``. ``value`` is
        a fixed parameter's value, a tensor parameter's reference value and a free
        parameter's prior median (for a symmetric prior its centre, where the sampler's
        starts are centred). The median and the interval are exact for the priors of
        :mod:`gammaprob.modeling.prior` (``scipy.stats``), else from 20000 fixed-seed draws;
        the interval is NaN for fixed and tensor parameters. ``meta["quantiles"]`` records
        the quantiles.

    Notes
    -----
    A free parameter's reference value (:attr:`Parameter.value`, used only to evaluate the
    model in numpy) is not shown: setting a prior keeps the previous value when the prior's
    support contains it, so a component's default stays (``lon_0`` keeps 0 deg under
    Normal(228.5, 0.1)) and says nothing about the prior.
    """
    rng = np.random.default_rng(0)
    rows = []
    for name, p in _parameters(obj).items():
        value, q_lo, q_hi, prior = p.value, np.nan, np.nan, ""
        if p.is_free:
            q_lo, value, q_hi = _prior_quantiles(p.prior, quantiles, rng)
            prior = _prior_text(p.prior, _decimal_exponent(q_lo, q_hi, quantiles))
        elif p.is_tensor:
            prior = "<tensor>"
        rows.append((name, p.status, value, p.unit_string, prior, q_lo, q_hi))
    table = _summary_table_class()(
        rows=rows or None,
        names=("name", "status", "value", "unit", "prior", "q_low", "q_high"),
        dtype=(str, str, float, str, str, float, float),
    )
    table.meta["quantiles"] = list(quantiles)
    return table


def _draw(params: Parameters, rng: np.random.Generator, n: int) -> dict[int, np.ndarray]:
    draws: dict[int, np.ndarray] = {}
    for p in params.values():
        if isinstance(p, Parameter) and p.is_free and id(p) not in draws:
            draws[id(p)] = p.prior.sample(rng, n)
    return draws


def prior_predictive_spectrum(
    model: SpectralModel | Component,
    energy: u.Quantity,
    n_draws: int = 500,
    rng: np.random.Generator | int | None = None,
) -> u.Quantity:
    """Spectra drawn from the priors (numpy; no PyMC model needed).

    Each draw samples every free parameter from its prior (linked parameters once) and
    evaluates the spectrum at ``energy``; fixed parameters keep their values.

    Parameters
    ----------
    model : SpectralModel
        Spectral component (or a SkyModel: its spectral component is used).
    energy : `~astropy.units.Quantity`
        Energies, shape ``(n_energy,)``.
    n_draws : int
        Number of draws.
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    `~astropy.units.Quantity`
        Shape ``(n_draws, n_energy)`` in the model's output unit.
    """
    spectral = getattr(model, "spectral", model)
    if not isinstance(spectral, SpectralModel):
        raise TypeError(f"expected a spectral model or SkyModel, got {type(model).__name__}")
    if any(p.is_tensor for p in spectral.parameters.values()):
        raise ValueError("a parameter is a pytensor variable: draw from the PyMC model instead")
    rng = np.random.default_rng(rng)
    e = np.atleast_1d(energy.to_value(u.TeV)).astype(float)
    draws = _draw(spectral.parameters, rng, n_draws)
    out = np.empty((n_draws, e.size))
    for i in range(n_draws):
        values = spectral.values({k: float(v[i]) for k, v in draws.items()})
        out[i] = spectral.evaluate_with(e, params=values)
    return u.Quantity(out, spectral.output_unit)
