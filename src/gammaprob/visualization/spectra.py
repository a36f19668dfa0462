"""Spectra from models and posteriors: draws of any source's spectrum, model curves, bands."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .units import ENERGY_UNIT, check_sed_type, dnde_to_sed, energy_label, sed_label, sed_unit

__all__ = ["plot_spectral_model", "spectrum_draws"]


def _posterior_group(result):
    """Return the ``posterior`` group of a DataTree / InferenceData, or the dataset itself."""
    for getter in (lambda r: r["posterior"], lambda r: r.posterior):
        try:
            group = getter(result)
        except (KeyError, AttributeError, TypeError):
            continue
        if group is not None:
            return getattr(group, "ds", group)
    if hasattr(result, "data_vars"):
        return result
    raise TypeError(
        f"result must be a sampling result with a 'posterior' group, got {type(result).__name__}"
    )


def _variable_names(model, source: str | None) -> tuple[object, dict[int, str]]:
    """Spectral component and ``{id(Parameter): variable name}`` as ``build_model`` names them."""
    import pymc as pm

    from gammaprob.modeling import SkyModel
    from gammaprob.modeling.parameter import built_parameters
    from gammaprob.modeling.spectral.base import SpectralModel

    if isinstance(model, SkyModel):
        if source is not None and source != model.name:
            raise ValueError(f"source {source!r} differs from the model's name {model.name!r}")
        spectral = model.spectral
        with pm.Model() as scratch:  # a throwaway model: only the variable names are used
            model.build()
    elif isinstance(model, SpectralModel):
        if not source:
            raise ValueError(
                "a spectral model needs source='<SkyModel name>' (the prefix of its variables)"
            )
        spectral = model
        with pm.Model() as scratch:
            model.build(source)
    else:
        raise TypeError(f"model must be a SkyModel or SpectralModel, got {type(model).__name__}")
    return spectral, {id(p): name for name, p in built_parameters(scratch).items()}


def spectrum_draws(result, model, energy, *, source: str | None = None, max_draws: int = 1000):
    """Posterior draws of a source's dN/dE at given energies.

    Every free parameter of the spectral model is taken from the posterior variable
    ``"<source>::<parameter>"`` (the names :func:`gammaprob.inference.build_model` gives it);
    fixed parameters keep their value.

    Parameters
    ----------
    result : xarray.DataTree or arviz.InferenceData
        Sampling result with a ``posterior`` group.
    model : SkyModel or SpectralModel
        The source as it was passed to ``build_model`` (a spectral model needs ``source``).
    energy : astropy.units.Quantity
        Energies, shape (n,).
    source : str, optional
        Name of the source (the SkyModel's name) when ``model`` is a spectral component.
    max_draws : int
        Use at most this many draws, evenly spaced over chains and draws.

    Returns
    -------
    astropy.units.Quantity
        dN/dE in TeV-1 cm-2 s-1, shape (n_draws, n).

    Raises
    ------
    KeyError
        A free parameter has no posterior variable (the message names it and lists the
        variables of that source).
    """
    posterior = _posterior_group(result)
    spectral, names = _variable_names(model, source)
    overrides, n_total, index = {}, None, None
    for p in spectral.parameters.values():
        if not p.is_free:
            continue
        name = names.get(id(p))
        if name is None or name not in posterior.data_vars:
            prefix = (name or "").split("::")[0]
            near = sorted(str(v) for v in posterior.data_vars if str(v).startswith(f"{prefix}::"))
            raise KeyError(
                f"the posterior has no variable {name!r} for a free parameter of this model "
                f"(variables of {prefix!r}: {near}); pass the model given to build_model"
            )
        values = np.asarray(posterior[name].values, dtype=float).reshape(-1)
        if index is None:
            n_total = values.size
            step = max(1, int(np.ceil(n_total / max(int(max_draws), 1))))
            index = np.arange(0, n_total, step)
        overrides[id(p)] = values[index][:, None]
    e = np.atleast_1d(u.Quantity(energy).to_value(ENERGY_UNIT))
    dnde = spectral.evaluate_with(e[None, :], params=spectral.values(overrides))
    dnde = np.broadcast_to(
        np.asarray(dnde, dtype=float), (1 if index is None else index.size, e.size)
    )
    return u.Quantity(dnde, spectral.output_unit).to("TeV-1 cm-2 s-1")


def plot_spectral_model(
    model,
    energy_bounds,
    *,
    sed_type: str = "e2dnde",
    unit=None,
    n_points: int = 100,
    ax=None,
    **kwargs,
):
    """Plot a spectral model (current parameter values) over an energy range.

    Parameters
    ----------
    model : SpectralModel or SkyModel
        The spectrum (a SkyModel's spectral component is used).
    energy_bounds : astropy.units.Quantity
        ``[e_min, e_max]``.
    sed_type : {"dnde", "e2dnde"}
        Quantity on the y axis: dN/dE in TeV-1 cm-2 s-1 or E^2 dN/dE in TeV cm-2 s-1.
    unit : str, optional
        Override the y unit.
    n_points : int
        Number of log-spaced energies.
    ax : matplotlib.axes.Axes, optional
        Axes (default: the current axes).
    **kwargs
        Passed to ``ax.plot``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    check_sed_type(sed_type, ("dnde", "e2dnde"))
    spectral = getattr(model, "spectral", model)
    energy = _log_energies(energy_bounds, n_points)
    y = dnde_to_sed(energy, spectral(energy), sed_type, unit)
    ax = ax or plt.gca()
    ax.plot(energy.to_value(ENERGY_UNIT), y, **kwargs)
    format_sed_axes(ax, sed_type, unit)
    return ax


def _log_energies(energy_bounds, n_points: int) -> u.Quantity:
    bounds = u.Quantity(energy_bounds)
    if bounds.shape != (2,) or not bounds.unit.is_equivalent(u.TeV):
        raise ValueError(f"energy_bounds must be two energies [min, max], got {energy_bounds!r}")
    lo, hi = bounds.to_value(ENERGY_UNIT)
    if not 0 < lo < hi:
        raise ValueError(f"energy_bounds must satisfy 0 < min < max, got {bounds}")
    return np.geomspace(lo, hi, int(n_points)) * ENERGY_UNIT


def format_sed_axes(ax, sed_type: str, unit=None) -> None:
    """Log-log axes with the energy and SED labels of the unit convention."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(energy_label())
    ax.set_ylabel(sed_label(sed_type, sed_unit(sed_type, unit)))
