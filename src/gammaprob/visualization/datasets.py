"""Dataset plots: counts, excess, fit and residuals, and a quick look (``peek``).

Spectrum datasets are drawn against reconstructed energy in TeV; map datasets as sky images
(summed over energy) on astropy WCSAxes. The predicted counts of a fit are the source counts
of ``models`` (current parameter values, or posterior medians when a ``result`` is given)
plus the background: the dataset's background, or ``alpha * counts_off`` for on/off data.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from .units import ENERGY_UNIT, energy_label

__all__ = ["peek", "plot_excess", "plot_fit", "plot_residuals", "predicted_counts"]


def _is_map(dataset) -> bool:
    from gammaprob.datasets import MapDataset

    return isinstance(dataset, MapDataset)


def _background(dataset) -> np.ndarray:
    """Background counts: ``alpha * counts_off`` (on/off) or the dataset's background."""
    counts_off = getattr(dataset, "counts_off", None)
    if counts_off is not None:
        off = np.asarray(getattr(counts_off, "data", counts_off), dtype=float)
        return np.asarray(dataset.alpha, dtype=float) * off
    background = dataset.background
    if background is None:
        return np.zeros(np.shape(_data(dataset.counts)))
    return np.asarray(getattr(background, "data", background), dtype=float)


def _data(values) -> np.ndarray:
    return np.asarray(getattr(values, "data", values), dtype=float)


def _background_at(model, medians: dict):
    """Copy of a FoV background model with its parameters set to the posterior medians."""
    from copy import deepcopy

    copy = deepcopy(model)
    for name, param in copy.parameters.items():
        key = f"{model.name}::{name}"
        if key in medians:
            param.set(float(medians[key]))
    return copy


def _models_at(models, result):
    from gammaprob.estimators._source import frozen_model, posterior_medians
    from gammaprob.modeling import FoVBackgroundModel, SkyModel

    models = [models] if isinstance(models, (SkyModel, FoVBackgroundModel)) else list(models)
    if result is None:
        return models
    medians = posterior_medians(result)
    return [
        _background_at(m, medians)
        if isinstance(m, FoVBackgroundModel)
        else frozen_model(m, medians)
        for m in models
    ]


def predicted_counts(dataset, models, result=None) -> np.ndarray:
    """Predicted counts (source + background) per bin of a dataset.

    Parameters
    ----------
    dataset : SpectrumDataset, SpectrumDatasetOnOff, MapDataset or MapDatasetOnOff
        The data.
    models : SkyModel, list of SkyModel or Models
        Sources (spectrum datasets use the spectral components only), and for map datasets
        optionally a ``FoVBackgroundModel`` that scales the dataset's background.
    result : xarray.DataTree, optional
        Sampling result: the sources (and the background model) are evaluated at the
        posterior medians.

    Returns
    -------
    numpy.ndarray
        Counts with the shape of ``dataset.counts`` (its data for maps).
    """
    models = _models_at(models, result)
    if _is_map(dataset):
        from gammaprob.forward import MapResponse, current_values, npred_map

        response = MapResponse.from_dataset(dataset)
        source = npred_map(response, models, current_values(models))
        source = np.asarray(source, dtype=float).reshape(_data(dataset.counts).shape)
        if getattr(dataset, "counts_off", None) is None:
            return source  # npred_map includes the dataset's background
    else:
        from gammaprob.simulate.spectrum import predicted_counts as spectrum_counts

        source = spectrum_counts(models, dataset)
    return source + _background(dataset)


def _energy_edges(dataset) -> np.ndarray:
    return dataset.energy_axis.edges.to_value(ENERGY_UNIT)


def _new_axes(ax, nrows=1, **kwargs):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, ax = plt.subplots(nrows, 1, layout="constrained", **kwargs)
    return ax


def _sky_image(dataset, values):
    from gammaprob.maps import Map

    geom = dataset.counts.geom.to_image()
    return Map(geom, data=np.asarray(values, dtype=float).sum(axis=0).reshape(geom.data_shape))


def plot_excess(dataset, *, ax=None, **kwargs):
    """Excess counts ``counts - background`` with Poisson errors.

    For a spectrum dataset: excess per reconstructed-energy bin (error
    ``sqrt(n_on + alpha^2 n_off)`` for on/off data, ``sqrt(n_on)`` otherwise). For a map
    dataset: the excess image summed over energy, on sky axes.

    Parameters
    ----------
    dataset : SpectrumDataset(OnOff) or MapDataset(OnOff)
        Dataset with a background or OFF counts.
    ax : matplotlib.axes.Axes, optional
        Axes (a WCSAxes for maps).
    **kwargs
        Passed to ``errorbar`` (spectra) or ``imshow`` (maps).

    Returns
    -------
    matplotlib.axes.Axes
    """
    counts = _data(dataset.counts)
    excess = counts - _background(dataset)
    if _is_map(dataset):
        from .maps import plot_map

        return plot_map(_sky_image(dataset, excess), ax=ax, label="Excess counts", **kwargs)
    ax = _new_axes(ax)
    edges = _energy_edges(dataset)
    centers = np.sqrt(edges[:-1] * edges[1:])
    if getattr(dataset, "counts_off", None) is not None:
        var = counts + np.asarray(dataset.alpha) ** 2 * _data(dataset.counts_off)
    else:
        var = counts
    kwargs.setdefault("fmt", "o")
    kwargs.setdefault("label", "excess")
    ax.errorbar(
        centers,
        excess,
        yerr=np.sqrt(var),
        xerr=[centers - edges[:-1], edges[1:] - centers],
        **kwargs,
    )
    ax.axhline(0, color="0.5", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(energy_label("Reconstructed energy"))
    ax.set_ylabel("Excess counts")
    return ax


def plot_residuals(dataset, models, *, result=None, method: str = "diff", ax=None, **kwargs):
    """Residuals of the counts against the prediction.

    Parameters
    ----------
    dataset : SpectrumDataset(OnOff) or MapDataset(OnOff)
        The data.
    models : SkyModel, list of SkyModel or Models
        Sources.
    result : xarray.DataTree, optional
        Evaluate the sources at the posterior medians of this result.
    method : {"diff", "diff/sqrt(model)"}
        ``counts - npred`` or ``(counts - npred) / sqrt(npred)``.
    ax : matplotlib.axes.Axes, optional
        Axes (a WCSAxes for maps).
    **kwargs
        Passed to ``errorbar`` (spectra) or ``imshow`` (maps).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if method not in ("diff", "diff/sqrt(model)"):
        raise ValueError(f"method must be 'diff' or 'diff/sqrt(model)', got {method!r}")
    counts = _data(dataset.counts)
    npred = predicted_counts(dataset, models, result)
    if _is_map(dataset):
        counts, npred = counts.sum(axis=0), npred.sum(axis=0)
    diff = counts - npred
    err = np.sqrt(np.maximum(counts, 0))
    if method != "diff":
        scale = np.sqrt(np.where(npred > 0, npred, np.nan))
        diff, err = diff / scale, err / scale
    label = "Counts - model" if method == "diff" else r"(Counts - model) / $\sqrt{\mathrm{model}}$"
    if _is_map(dataset):
        from .maps import plot_map

        image = _sky_image(dataset, diff[None])
        kwargs.setdefault("cmap", "RdBu_r")
        vmax = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
        kwargs.setdefault("vmin", -vmax)
        kwargs.setdefault("vmax", vmax)
        return plot_map(image, ax=ax, label=label, **kwargs)
    ax = _new_axes(ax)
    edges = _energy_edges(dataset)
    centers = np.sqrt(edges[:-1] * edges[1:])
    kwargs.setdefault("fmt", "o")
    ax.errorbar(centers, diff, yerr=err, **kwargs)
    ax.axhline(0, color="0.5", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(energy_label("Reconstructed energy"))
    ax.set_ylabel(label)
    return ax


def plot_fit(dataset, models, *, result=None, axes=None, method: str = "diff"):
    """Plot counts and predicted counts per energy bin (top) and residuals (bottom).

    Parameters
    ----------
    dataset : SpectrumDataset(OnOff) or MapDataset(OnOff)
        The data (map datasets are summed over the sky: counts per energy bin).
    models : SkyModel, list of SkyModel or Models
        Sources.
    result : xarray.DataTree, optional
        Evaluate the sources at the posterior medians of this result (for the full
        posterior predictive, use :func:`~gammaprob.visualization.plot_counts_predictive`).
    axes : tuple of matplotlib.axes.Axes, optional
        (counts axes, residual axes).
    method : {"diff", "diff/sqrt(model)"}
        Residual definition.

    Returns
    -------
    tuple of matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if method not in ("diff", "diff/sqrt(model)"):
        raise ValueError(f"method must be 'diff' or 'diff/sqrt(model)', got {method!r}")
    if axes is None:
        _, axes = plt.subplots(
            2, 1, sharex=True, height_ratios=[3, 1], layout="constrained", figsize=(6, 5)
        )
    ax, ax_res = axes
    counts = _data(dataset.counts)
    npred = predicted_counts(dataset, models, result)
    background = _background(dataset)
    if _is_map(dataset):
        axis = tuple(range(1, counts.ndim))
        counts, npred, background = (x.sum(axis=axis) for x in (counts, npred, background))
    edges = _energy_edges(dataset)
    centers = np.sqrt(edges[:-1] * edges[1:])
    ax.errorbar(centers, counts, yerr=np.sqrt(counts), fmt="o", color="k", label="counts")
    ax.stairs(npred, edges, label="predicted counts")
    ax.stairs(background, edges, ls="--", label="background")
    ax.set_xscale("log")
    ax.set_ylabel("Counts")
    ax.legend(frameon=False)
    diff = counts - npred
    err = np.sqrt(np.maximum(counts, 0))
    if method != "diff":
        scale = np.sqrt(np.where(npred > 0, npred, np.nan))
        diff, err = diff / scale, err / scale
    ax_res.errorbar(centers, diff, yerr=err, fmt="o", color="k")
    ax_res.axhline(0, color="0.5", lw=1)
    ax_res.set_xlabel(energy_label("Reconstructed energy"))
    ax_res.set_ylabel(
        "Counts - model" if method == "diff" else r"Residual / $\sqrt{\mathrm{model}}$"
    )
    return ax, ax_res


def peek(dataset):
    """Quick look: counts (and excess), exposure and energy dispersion, or sky images.

    Parameters
    ----------
    dataset : SpectrumDataset(OnOff) or MapDataset(OnOff)
        The data.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if _is_map(dataset):
        from gammaprob.maps import Map

        from .maps import plot_map

        fig = plt.figure(figsize=(10, 8), layout="constrained")
        images = [("Counts", _sky_image(dataset, _data(dataset.counts)))]
        if dataset.background is not None or getattr(dataset, "counts_off", None) is not None:
            background = _background(dataset)
            images.append(("Background", _sky_image(dataset, background)))
            images.append(("Excess", _sky_image(dataset, _data(dataset.counts) - background)))
        if dataset.exposure is not None:
            geom = dataset.exposure.geom.to_image()
            summed = _data(dataset.exposure).sum(axis=0).reshape(geom.data_shape)
            images.append((f"Exposure [{dataset.exposure.unit}] (summed)", Map(geom, data=summed)))
        for i, (title, image) in enumerate(images):
            ax = fig.add_subplot(2, 2, i + 1, projection=image.geom.wcs)
            plot_map(image, ax=ax, label=title)
            ax.set_title(title)
        return fig
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
    edges = _energy_edges(dataset)
    counts = _data(dataset.counts)
    axes[0].stairs(counts, edges, label="counts")
    if dataset.background is not None or getattr(dataset, "counts_off", None) is not None:
        axes[0].stairs(_background(dataset), edges, ls="--", label="background")
    axes[0].set_xscale("log")
    axes[0].set_xlabel(energy_label("Reconstructed energy"))
    axes[0].set_ylabel("Counts")
    axes[0].legend(frameon=False)
    true_edges = dataset.energy_axis_true.edges.to_value(ENERGY_UNIT)
    exposure = u.Quantity(dataset.exposure).to("m2 s")
    axes[1].stairs(exposure.value, true_edges)
    axes[1].set_xscale("log")
    axes[1].set_xlabel(energy_label("True energy"))
    axes[1].set_ylabel(f"Exposure [{exposure.unit.to_string('latex_inline')}]")
    matrix = np.asarray(dataset.edisp_matrix, dtype=float)
    mesh = axes[2].pcolormesh(edges, true_edges, matrix, shading="flat")
    axes[2].set_xscale("log")
    axes[2].set_yscale("log")
    axes[2].set_xlabel(energy_label("Reconstructed energy"))
    axes[2].set_ylabel(energy_label("True energy"))
    fig.colorbar(mesh, ax=axes[2], label="Probability")
    fig.suptitle(dataset.name)
    return fig
