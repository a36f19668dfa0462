"""Posterior bands: spectra and predicted counts with credible intervals."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_counts_predictive", "plot_spectrum_band", "quantile_band"]


def quantile_band(samples: np.ndarray, ci_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and central (equal-tailed) credible band over the first axis.

    Parameters
    ----------
    samples : numpy.ndarray
        Draws, shape (n_draws, ...).
    ci_prob : float
        Probability mass inside the band, e.g. 0.68 (always given explicitly).

    Returns
    -------
    tuple of numpy.ndarray
        Lower edge, median, upper edge.
    """
    if not 0 < ci_prob < 1:
        raise ValueError(f"ci_prob must be in (0, 1), got {ci_prob}")
    lo, med, hi = np.quantile(samples, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2], axis=0)
    return lo, med, hi


def plot_spectrum_band(
    result,
    model,
    *,
    ci_prob: float,
    energy_bounds=None,
    source: str | None = None,
    sed_type: str = "e2dnde",
    unit=None,
    n_points: int = 100,
    max_draws: int = 1000,
    ax=None,
    label: str | None = None,
    color: str | None = None,
):
    """Plot the posterior median spectrum of any source and its credible band.

    Two call forms:

    - ``plot_spectrum_band(result, model, energy_bounds=..., ci_prob=...)``: the posterior of
      the source ``model`` (a ``SkyModel``, or a spectral model with ``source=``) in ``result``
      (see :func:`~gammaprob.visualization.spectrum_draws`);
    - ``plot_spectrum_band(energy, dnde_samples, ci_prob=...)``: precomputed draws.

    Units follow :mod:`gammaprob.visualization.units` (energy in TeV, dN/dE in
    TeV-1 cm-2 s-1, E^2 dN/dE in TeV cm-2 s-1), the same as flux points and model curves.

    Parameters
    ----------
    result : xarray.DataTree or astropy.units.Quantity
        Sampling result, or energies of shape (n,) for precomputed draws.
    model : SkyModel, SpectralModel or astropy.units.Quantity
        The source, or dN/dE draws of shape (n_draws, n).
    ci_prob : float
        Credible level of the band (stated in the legend).
    energy_bounds : astropy.units.Quantity, optional
        ``[e_min, e_max]`` of the curve (required with a result).
    source : str, optional
        Source name when ``model`` is a spectral component.
    sed_type : {"dnde", "e2dnde"}
        Quantity on the y axis.
    unit : str, optional
        Override the y unit.
    n_points, max_draws : int
        Energies of the curve and posterior draws used.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current axes).
    label : str, optional
        Legend label of the median curve.
    color : str, optional
        Colour of line and band.

    Returns
    -------
    matplotlib.axes.Axes
        The axes.
    """
    import astropy.units as u
    import matplotlib.pyplot as plt

    from .spectra import _log_energies, format_sed_axes, spectrum_draws
    from .units import ENERGY_UNIT, check_sed_type, dnde_to_sed

    check_sed_type(sed_type, ("dnde", "e2dnde"))
    if isinstance(result, u.Quantity):
        energy, dnde = result, u.Quantity(model)
        if dnde.ndim != 2 or dnde.shape[1] != energy.size:
            raise ValueError(
                f"dnde draws must have shape (n_draws, {energy.size}), got {dnde.shape}"
            )
    else:
        if energy_bounds is None:
            raise ValueError("energy_bounds=[e_min, e_max] is required with a sampling result")
        energy = _log_energies(energy_bounds, n_points)
        dnde = spectrum_draws(result, model, energy, source=source, max_draws=max_draws)
    values = dnde_to_sed(energy, dnde, sed_type, unit)
    lo, med, hi = quantile_band(values, ci_prob)
    ax = ax or plt.gca()
    e = u.Quantity(energy).to_value(ENERGY_UNIT)
    (line,) = ax.plot(e, med, color=color, label=label)
    ax.fill_between(
        e, lo, hi, color=line.get_color(), alpha=0.3, lw=0, label=f"{ci_prob:.0%} credible band"
    )
    format_sed_axes(ax, sed_type, unit)
    ax.legend(frameon=False)
    return ax


def plot_counts_predictive(
    energy_edges,
    observed: np.ndarray,
    predicted_samples: np.ndarray,
    *,
    ci_prob: float,
    title: str | None = None,
    axes=None,
):
    """Observed counts against posterior-predictive counts, with residuals below.

    Parameters
    ----------
    energy_edges : astropy.units.Quantity
        Reconstructed-energy bin edges, shape (n + 1,).
    observed : numpy.ndarray
        Observed counts, shape (n,).
    predicted_samples : numpy.ndarray
        Posterior-predictive counts, shape (n_draws, n).
    ci_prob : float
        Credible level of the predictive band.
    title : str, optional
        Panel title (e.g. the dataset name).
    axes : tuple of matplotlib.axes.Axes, optional
        (counts axes, residual axes).

    Returns
    -------
    tuple of matplotlib.axes.Axes
        The two axes.
    """
    import astropy.units as u
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, figsize=(6, 5)
        )
    ax, ax_res = axes
    edges = u.Quantity(energy_edges).to_value("TeV")
    centers = np.sqrt(edges[:-1] * edges[1:])
    lo, med, hi = quantile_band(np.asarray(predicted_samples, dtype=float), ci_prob)
    ax.stairs(med, edges, baseline=None, label="posterior predictive (median)")
    ax.fill_between(
        edges,
        np.append(lo, lo[-1]),
        np.append(hi, hi[-1]),
        step="post",
        alpha=0.3,
        lw=0,
        label=f"{ci_prob:.0%} predictive interval",
    )
    ax.errorbar(
        centers, observed, yerr=np.sqrt(observed), fmt="o", ms=3, color="k", label="observed"
    )
    ax.set_xscale("log")
    positive = med[med > 0]
    if positive.size and np.nanmax(hi) > 100 * max(positive.min(), 1.0):
        # gamma-ray counts fall by decades: a log axis (linear below one count) shows them all
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(0, 2 * max(np.nanmax(hi), np.nanmax(observed)))
    ax.set_ylabel("Counts")
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    spread = np.maximum(0.5 * (hi - lo), 1.0)
    ax_res.axhline(0, color="0.5", lw=1)
    ax_res.plot(centers, (observed - med) / spread, "o", ms=3, color="k")
    ax_res.set_ylabel("(obs - pred) / half-width")
    ax_res.set_xlabel("Reconstructed energy [TeV]")
    return ax, ax_res
