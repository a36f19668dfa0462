"""Looking at priors: a summary table and prior-predictive spectra."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np

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


#: Significant digits of the numbers shown by :func:`describe_priors` (the data keep float64).
SUMMARY_DIGITS = 4


def _prior_text(prior: Any) -> str:
    """Return a prior as ``Normal(mu=2.5, sigma=0.5)``, numbers to 4 significant digits.

    The unit is the parameter's (the table's ``unit`` column), so it is not repeated.
    """
    args = ", ".join(f"{k}={v:.{SUMMARY_DIGITS}g}" for k, v in prior.hyper.items())
    return f"{type(prior).__name__}({args})"


@functools.cache
def _summary_table_class() -> type:
    """Return :class:`PriorTable`, made on first use (astropy.table is imported lazily)."""
    from astropy.table import Table

    class PriorTable(Table):
        """Astropy Table printed at full width: no column (the prior) is elided."""

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
    and the numbers (``value``, ``q_low``, ``q_high`` and the prior's hyper-parameters) to
    4 significant digits; the columns keep full float64 precision.

    Parameters
    ----------
    obj : Component, SkyModel, FoVBackgroundModel or Models
        What to describe.
    quantiles : tuple of float
        Lower and upper quantiles of the prior interval (from 20000 fixed-seed draws).

    Returns
    -------
    astropy.table.Table
        Columns ``name, status, value, unit, prior, q_low, q_high`` (the interval is NaN for
        fixed parameters; value, interval and prior in ``unit``); ``meta["quantiles"]``
        records the quantiles.
    """
    rng = np.random.default_rng(0)
    rows = []
    for name, p in _parameters(obj).items():
        q_lo = q_hi = np.nan
        if p.is_free:
            draws = p.prior.sample(rng, 20000)
            q_lo, q_hi = np.quantile(draws, quantiles)
        prior = _prior_text(p.prior) if p.is_free else ("<tensor>" if p.is_tensor else "")
        rows.append((name, p.status, p.value, p.unit_string, prior, q_lo, q_hi))
    table = _summary_table_class()(
        rows=rows or None,
        names=("name", "status", "value", "unit", "prior", "q_low", "q_high"),
        dtype=(str, str, float, str, str, float, float),
    )
    for column in ("value", "q_low", "q_high"):
        table[column].info.format = f".{SUMMARY_DIGITS}g"
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
