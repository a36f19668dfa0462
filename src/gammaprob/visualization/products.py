"""Plots of estimator products: SEDs with upper-limit arrows, norm posteriors, light curves, maps."""

from __future__ import annotations

import numpy as np

from .units import SED_UNITS, energy_label, sed_label, sed_unit

__all__ = [
    "norm_posterior_quantiles",
    "plot_flux_map",
    "plot_flux_points",
    "plot_flux_points_posterior",
    "plot_light_curve",
    "plot_norm_posteriors",
]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _column(table, name: str, unit: str) -> np.ndarray:
    col = table[name]
    if col.unit is None:
        return np.asarray(col, dtype=float)
    return col.quantity.to_value(unit)


def plot_flux_points(
    flux_points,
    *,
    sed_type: str = "e2dnde",
    unit=None,
    ax=None,
    label: str | None = None,
    color: str | None = None,
    **kwargs,
):
    """Plot flux points with asymmetric error bars and upper-limit arrows.

    Units follow :mod:`gammaprob.visualization.units` (the convention of the model curves
    and posterior bands, so points and bands of one spectrum coincide on the same axes).

    Parameters
    ----------
    flux_points : FluxPoints
        Points with ``<sed_type>``, ``<sed_type>_errn/errp`` (or ``_err``), ``<sed_type>_ul`` and
        ``is_ul`` columns (what :class:`~gammaprob.estimators.FluxPointsEstimator` writes); a
        ``likelihood`` table is converted with its ``ref_*`` columns.
    sed_type : {"dnde", "e2dnde", "flux", "eflux"}
        Quantity on the y axis (units: TeV-1 cm-2 s-1, TeV cm-2 s-1, cm-2 s-1, TeV cm-2 s-1).
    unit : str, optional
        Override the y unit (must be a unit of ``sed_type``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).
    label, color : str, optional
        Legend label and colour.
    **kwargs
        Passed to ``errorbar``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if sed_type not in SED_UNITS:
        raise ValueError(f"sed_type must be one of {tuple(SED_UNITS)}, got {sed_type!r}")
    unit = sed_unit(sed_type, unit)
    ax = _axes(ax)
    table = flux_points.table
    if sed_type not in table.colnames:
        table = flux_points.to_sed_type(sed_type).table
    e_ref = _column(table, "e_ref", "TeV")
    value = _column(table, sed_type, unit)
    errn = (
        _column(table, f"{sed_type}_errn", unit) if f"{sed_type}_errn" in table.colnames else None
    )
    errp = (
        _column(table, f"{sed_type}_errp", unit) if f"{sed_type}_errp" in table.colnames else None
    )
    if errn is None and f"{sed_type}_err" in table.colnames:
        errn = errp = _column(table, f"{sed_type}_err", unit)
    is_ul = flux_points.is_ul
    xerr = None
    if "e_min" in table.colnames:
        xerr = [e_ref - _column(table, "e_min", "TeV"), _column(table, "e_max", "TeV") - e_ref]
    points = ~is_ul & np.isfinite(value)
    yerr = None if errn is None else [errn[points], errp[points]]
    container = ax.errorbar(
        e_ref[points],
        value[points],
        yerr=yerr,
        xerr=None if xerr is None else [x[points] for x in xerr],
        fmt="o",
        label=label,
        color=color,
        **kwargs,
    )
    color = container[0].get_color()
    if f"{sed_type}_ul" in table.colnames and np.any(is_ul):
        ul = _column(table, f"{sed_type}_ul", unit)[is_ul]
        ax.errorbar(
            e_ref[is_ul],
            ul,
            yerr=0.4 * ul,
            xerr=None if xerr is None else [x[is_ul] for x in xerr],
            uplims=True,
            fmt="none",
            color=color,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(energy_label())
    ax.set_ylabel(sed_label(sed_type, unit))
    return ax


def plot_norm_posteriors(flux_points, *, ax=None, cmap: str = "viridis"):
    """Plot the per-bin posterior densities of the norm kept in ``norm_scan``/``post_scan``.

    Parameters
    ----------
    flux_points : FluxPoints
        Output of :class:`~gammaprob.estimators.FluxPointsEstimator`.
    ax : matplotlib.axes.Axes, optional
    cmap : str
        Colour map over energy.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    table = flux_points.table
    for column in ("norm_scan", "post_scan"):
        if column not in table.colnames:
            raise ValueError(f"flux points have no {column!r} column (no norm posterior kept)")
    ax = _axes(ax)
    colors = plt.get_cmap(cmap)(np.linspace(0, 1, len(table)))
    for row, color in zip(table, colors, strict=True):
        if np.all(np.isfinite(row["post_scan"])):
            ax.plot(
                row["norm_scan"], row["post_scan"], color=color, label=f"{row['e_ref']:.3g} TeV"
            )
    ax.set_xlabel("norm")
    ax.set_ylabel("posterior density")
    ax.legend(fontsize="small")
    return ax


def norm_posterior_quantiles(flux_points, probs) -> np.ndarray:
    """Quantiles of each bin's norm posterior from the kept ``norm_scan``/``post_scan`` grid.

    The density is integrated by the trapezoidal rule on the grid (which spans the posterior
    to its ``1 - 1e-7`` quantile), normalised, and the CDF interpolated linearly.

    Parameters
    ----------
    flux_points : FluxPoints
        Output of :class:`~gammaprob.estimators.FluxPointsEstimator`.
    probs : array_like
        Probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray
        Norm quantiles, shape ``(n_bins, n_probs)``; NaN for bins without a posterior.
    """
    table = flux_points.table
    for column in ("norm_scan", "post_scan"):
        if column not in table.colnames:
            raise ValueError(f"flux points have no {column!r} column (no norm posterior kept)")
    probs = np.atleast_1d(np.asarray(probs, dtype=float))
    if np.any((probs < 0) | (probs > 1)):
        raise ValueError(f"probs must lie in [0, 1], got {probs}")
    out = np.full((len(table), probs.size), np.nan)
    for k, (grid, density) in enumerate(zip(table["norm_scan"], table["post_scan"], strict=True)):
        grid, density = np.asarray(grid, float), np.asarray(density, float)
        if not (np.all(np.isfinite(grid)) and np.all(np.isfinite(density))):
            continue
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
        if cdf[-1] <= 0:
            continue
        out[k] = np.interp(probs, cdf / cdf[-1], grid)
    return out


def plot_flux_points_posterior(
    flux_points,
    *,
    sed_type: str = "e2dnde",
    ci_probs=(0.68, 0.95),
    unit=None,
    ax=None,
    label: str | None = None,
    color: str | None = None,
):
    """Draw each bin's norm posterior as nested credible boxes across the bin, with its median.

    For every energy bin, a box spans the bin's energy range horizontally and the central
    credible interval of the flux (the norm posterior times the bin's reference flux)
    vertically, one box per level in ``ci_probs`` (darker for narrower); a line marks the
    posterior median. Units follow :mod:`gammaprob.visualization.units`, as for
    :func:`plot_flux_points`, so bands, points and model curves share the axes.

    Parameters
    ----------
    flux_points : FluxPoints
        Output of :class:`~gammaprob.estimators.FluxPointsEstimator` (needs ``norm_scan``,
        ``post_scan``, ``e_min``, ``e_max`` and the ``ref_<sed_type>`` column).
    sed_type : {"dnde", "e2dnde", "flux", "eflux"}
        Quantity on the y axis (TeV-1 cm-2 s-1, TeV cm-2 s-1, cm-2 s-1, TeV cm-2 s-1).
    ci_probs : sequence of float
        Credible levels of the boxes, each in (0, 1).
    unit : str, optional
        Override the y unit (must be a unit of ``sed_type``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).
    label : str, optional
        Legend label of the median line (the boxes are labelled with their level).
    color : str, optional
        Colour of the boxes and the median.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if sed_type not in SED_UNITS:
        raise ValueError(f"sed_type must be one of {tuple(SED_UNITS)}, got {sed_type!r}")
    ci_probs = sorted(float(p) for p in np.atleast_1d(ci_probs))
    if not ci_probs or any(not 0 < p < 1 for p in ci_probs):
        raise ValueError(f"ci_probs must be levels in (0, 1), got {ci_probs}")
    unit = sed_unit(sed_type, unit)
    table = flux_points.table
    for column in ("e_min", "e_max", f"ref_{sed_type}"):
        if column not in table.colnames:
            raise ValueError(f"flux points have no {column!r} column")
    ax = _axes(ax)
    tails = [(1 - p) / 2 for p in ci_probs]
    probs = [0.5, *tails, *(1 - t for t in tails)]
    quantiles = (
        norm_posterior_quantiles(flux_points, probs)
        * _column(table, f"ref_{sed_type}", unit)[:, None]
    )
    e_min, e_max = _column(table, "e_min", "TeV"), _column(table, "e_max", "TeV")
    if color is None:  # the next colour of the axes' cycle
        (probe,) = ax.plot([], [])
        color = probe.get_color()
        probe.remove()
    n = len(ci_probs)
    for level, prob in enumerate(ci_probs):
        lower, upper = quantiles[:, 1 + level], quantiles[:, 1 + n + level]
        ok = np.isfinite(lower) & np.isfinite(upper)
        ax.bar(
            e_min[ok],
            (upper - lower)[ok],
            bottom=lower[ok],
            width=(e_max - e_min)[ok],
            align="edge",
            color=color,
            alpha=0.55 * (1 - level / (n + 1)) if n > 1 else 0.4,
            linewidth=0,
            label=f"{prob:.0%} credible",
        )
    median = quantiles[:, 0]
    ok = np.isfinite(median)
    ax.hlines(median[ok], e_min[ok], e_max[ok], color=color, lw=1.5, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(energy_label())
    ax.set_ylabel(sed_label(sed_type, unit))
    return ax


def plot_light_curve(
    light_curve,
    *,
    quantity: str = "flux",
    ax=None,
    label: str | None = None,
    color: str | None = None,
):
    """Plot a light curve: posterior medians with credible error bars and upper-limit arrows.

    Parameters
    ----------
    light_curve : astropy.table.Table or object with ``table``
        Columns ``time_min``, ``time_max`` (MJD), ``<quantity>``, ``<quantity>_errn/errp``,
        ``<quantity>_ul`` and ``is_ul`` (one energy bin), as written by
        :class:`~gammaprob.estimators.LightCurveEstimator`.
    quantity : str
        Column to plot (``"flux"``, ``"norm"``, ...).
    ax : matplotlib.axes.Axes, optional
    label, color : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    table = getattr(light_curve, "table", light_curve)
    t_min = np.asarray(table["time_min"], dtype=float)
    t_max = np.asarray(table["time_max"], dtype=float)
    t = 0.5 * (t_min + t_max)

    def col(name):
        values = np.asarray(table[name], dtype=float)
        return values.reshape(len(table), -1)[:, 0]

    value = col(quantity)
    is_ul = np.asarray(table["is_ul"], dtype=bool).reshape(len(table), -1)[:, 0]
    ok = ~is_ul
    container = ax.errorbar(
        t[ok],
        value[ok],
        yerr=[col(f"{quantity}_errn")[ok], col(f"{quantity}_errp")[ok]],
        xerr=[(t - t_min)[ok], (t_max - t)[ok]],
        fmt="o",
        label=label,
        color=color,
    )
    if np.any(is_ul):
        ul = col(f"{quantity}_ul")[is_ul]
        ax.errorbar(
            t[is_ul],
            ul,
            yerr=0.3 * np.abs(ul),
            xerr=[(t - t_min)[is_ul], (t_max - t)[is_ul]],
            uplims=True,
            fmt="none",
            color=container[0].get_color(),
        )
    unit = table[quantity].unit
    ax.set_xlabel("Time [MJD]")
    ax.set_ylabel(f"{quantity}" + (f" [{unit}]" if unit is not None else ""))
    return ax


def plot_flux_map(image, *, ax=None, cmap: str = "viridis", label: str = "", **kwargs):
    """Show one 2-D map (a flux, TS or probability image) in its WCS.

    Parameters
    ----------
    image : gammaprob Map
        A map with a WCS geometry (the first image plane is shown when it has extra axes).
    ax : matplotlib.axes.Axes, optional
        Axes (default: new axes with the map's WCS projection).
    cmap : str
        Colour map.
    label : str
        Colour-bar label.
    **kwargs
        Passed to ``imshow``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    data = np.asarray(image.data, dtype=float)
    while data.ndim > 2:
        data = data[0]
    wcs = getattr(image.geom, "wcs", None)
    if ax is None:
        fig = plt.figure()
        ax = fig.add_subplot(projection=wcs) if wcs is not None else fig.add_subplot()
    im = ax.imshow(data, origin="lower", cmap=cmap, **kwargs)
    ax.figure.colorbar(im, ax=ax, label=label)
    return ax
