"""Plots of estimator products: SED with upper-limit arrows, norm posteriors, light curves, maps."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from gammaprob.datasets import FluxPoints, SpectrumDatasetOnOff
from gammaprob.estimators import FluxPointsEstimator
from gammaprob.maps import Map, MapAxis, WcsGeom
from gammaprob.modeling import SkyModel
from gammaprob.modeling.spectral import PowerLaw
from gammaprob.visualization import (
    plot_flux_map,
    plot_flux_points,
    plot_light_curve,
    plot_norm_posteriors,
)

EDGES = [0.5, 1, 2, 4, 8, 16] * u.TeV


@pytest.fixture
def flux_points():
    e = MapAxis.from_edges(EDGES, interp="log", name="energy")
    et = MapAxis.from_edges(EDGES, interp="log", name="energy_true")
    ds = SpectrumDatasetOnOff(
        name="syn",
        counts=[60, 30, 12, 3, 0],
        counts_off=[100, 40, 10, 10, 4],
        acceptance=np.full(5, 0.2),
        acceptance_off=np.ones(5),
        exposure=np.full(5, 3e9) * u.Unit("m2 s"),
        energy_axis=e,
        energy_axis_true=et,
    )
    source = SkyModel(PowerLaw(index=2.0, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1")), name="s")
    return FluxPointsEstimator(source, EDGES).run(ds)


def test_plot_flux_points_points_and_arrows(flux_points):
    import matplotlib.pyplot as plt

    ax = plot_flux_points(flux_points, sed_type="e2dnde", label="syn")
    n_ul = int(flux_points.is_ul.sum())
    assert 0 < n_ul < len(flux_points)
    # first errorbar: detected points; second: the upper limits at their UL values
    lines = list(ax.containers)
    points = lines[0].lines[0].get_ydata()
    expected = flux_points.table["e2dnde"].quantity.to_value("TeV cm-2 s-1")[~flux_points.is_ul]
    np.testing.assert_allclose(points, expected, rtol=1e-12)
    ul = lines[1].lines[0].get_ydata() if lines[1].lines[0] is not None else None
    assert ul is None or len(ul) == n_ul
    assert ax.get_xscale() == "log" and "TeV" in ax.get_ylabel() and "erg" not in ax.get_ylabel()
    plt.close("all")
    with pytest.raises(ValueError, match="sed_type"):
        plot_flux_points(flux_points, sed_type="norm")


def test_plot_flux_points_converts_other_sed_types():
    import matplotlib.pyplot as plt

    table = Table()
    table["e_ref"] = [1.0, 3.0] * u.TeV
    table["dnde"] = [1e-11, 1e-12] * u.Unit("cm-2 s-1 TeV-1")
    table["dnde_err"] = [1e-12, 2e-13] * u.Unit("cm-2 s-1 TeV-1")
    ax = plot_flux_points(FluxPoints(table), sed_type="e2dnde")
    y = ax.containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(y, [1e-11, 9e-12])  # TeV cm-2 s-1, the plotting convention
    plt.close("all")


def test_plot_norm_posteriors(flux_points):
    import matplotlib.pyplot as plt

    ax = plot_norm_posteriors(flux_points)
    assert len(ax.lines) == len(flux_points)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), flux_points.table["norm_scan"][0])
    plt.close("all")
    table = flux_points.table
    table.remove_column("post_scan")
    with pytest.raises(ValueError, match="post_scan"):
        plot_norm_posteriors(FluxPoints(table))


def test_plot_light_curve_and_map():
    import matplotlib.pyplot as plt

    table = Table()
    table["time_min"] = [60000.0, 60001.0, 60002.0]
    table["time_max"] = [60000.5, 60001.5, 60002.5]
    table["flux"] = np.array([[1.0], [2.0], [0.1]]) * u.Unit("cm-2 s-1")
    table["flux_errn"] = np.array([[0.1], [0.2], [0.1]]) * u.Unit("cm-2 s-1")
    table["flux_errp"] = np.array([[0.1], [0.3], [0.1]]) * u.Unit("cm-2 s-1")
    table["flux_ul"] = np.array([[1.3], [2.5], [0.4]]) * u.Unit("cm-2 s-1")
    table["is_ul"] = np.array([[False], [False], [True]])
    ax = plot_light_curve(table)
    np.testing.assert_allclose(ax.containers[0].lines[0].get_xdata(), [60000.25, 60001.25])
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), [1.0, 2.0])
    assert "MJD" in ax.get_xlabel()
    plt.close("all")
    geom = WcsGeom.create(npix=(5, 4), binsz=0.1, skydir=(83.6, 22.0), frame="icrs")
    image = Map(geom, data=np.arange(20.0).reshape(4, 5))
    ax = plot_flux_map(image, label="TS")
    assert ax.images[0].get_array().shape == (4, 5)
    plt.close("all")
