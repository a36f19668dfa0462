"""Flux points drawn as per-bin credible boxes: quantiles from the kept norm posterior."""

from types import SimpleNamespace

import astropy.units as u
import matplotlib
import numpy as np
import pytest
from astropy.table import Table
from numpy.testing import assert_allclose
from scipy import stats

from gammaprob.datasets import SpectrumDatasetOnOff
from gammaprob.estimators import FluxPointsEstimator
from gammaprob.maps import MapAxis
from gammaprob.modeling import SkyModel
from gammaprob.modeling.spectral import PowerLaw
from gammaprob.visualization.products import (
    norm_posterior_quantiles,
    plot_flux_points_posterior,
)

matplotlib.use("Agg")
EDGES = [0.5, 1, 2, 4, 8] * u.TeV


@pytest.fixture(scope="module")
def flux_points():
    e = MapAxis.from_edges(EDGES, interp="log", name="energy")
    et = MapAxis.from_edges(EDGES, interp="log", name="energy_true")
    dataset = SpectrumDatasetOnOff(
        name="syn",
        counts=np.array([60, 30, 9, 2]),
        counts_off=np.array([50, 20, 10, 5]),
        acceptance=np.full(4, 0.2),
        acceptance_off=np.ones(4),
        exposure=np.full(4, 3e9) * u.Unit("m2 s"),
        energy_axis=e,
        energy_axis_true=et,
    )
    source = SkyModel(PowerLaw(index=2.0, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1")), name="s")
    return FluxPointsEstimator(source, EDGES, prob=0.68).run([dataset])


def test_quantiles_match_the_table(flux_points):
    # the table's median and 68 % interval come from the exact grid posterior
    table = flux_points.table
    q = norm_posterior_quantiles(flux_points, [0.16, 0.5, 0.84])
    norm = np.asarray(table["norm"])
    assert_allclose(q[:, 1], norm, rtol=2e-3)
    assert_allclose(norm - q[:, 0], table["norm_errn"], rtol=1e-2)
    assert_allclose(q[:, 2] - norm, table["norm_errp"], rtol=1e-2)


def test_quantiles_of_a_known_density():
    # a Gamma(5) density on a grid: quantiles to the grid's accuracy
    grid = np.linspace(0, 25, 2001)

    points = SimpleNamespace(
        table=Table({"norm_scan": grid[None], "post_scan": stats.gamma.pdf(grid, 5)[None]})
    )
    probs = [0.025, 0.5, 0.975]
    assert_allclose(
        norm_posterior_quantiles(points, probs)[0], stats.gamma.ppf(probs, 5), rtol=1e-4
    )


def test_boxes_span_the_credible_intervals(flux_points):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    flux_points.plot_posterior(sed_type="e2dnde", ci_probs=(0.95, 0.68), ax=ax, color="C1")
    table = flux_points.table
    ref = table["ref_e2dnde"].quantity.to_value("TeV cm-2 s-1")
    q = norm_posterior_quantiles(flux_points, [0.16, 0.84, 0.025, 0.975]) * ref[:, None]
    boxes = [(p.get_x(), p.get_y(), p.get_y() + p.get_height()) for p in ax.patches]
    assert len(boxes) == 2 * len(table)  # one box per level and bin, 68 % drawn first
    x68, lo68, hi68 = np.array(boxes[: len(table)]).T
    _, lo95, hi95 = np.array(boxes[len(table) :]).T
    assert_allclose(x68, table["e_min"].quantity.to_value("TeV"))
    assert_allclose(lo68, q[:, 0]) and assert_allclose(hi68, q[:, 1])
    assert_allclose(lo95, q[:, 2]) and assert_allclose(hi95, q[:, 3])
    assert "TeV" in ax.get_ylabel() and ax.get_yscale() == "log"
    plt.close(fig)


def test_errors(flux_points):
    with pytest.raises(ValueError, match="sed_type"):
        plot_flux_points_posterior(flux_points, sed_type="counts")
    with pytest.raises(ValueError, match="ci_probs"):
        plot_flux_points_posterior(flux_points, ci_probs=(0.68, 1.2))
    with pytest.raises(ValueError, match="probs must lie"):
        norm_posterior_quantiles(flux_points, [-0.1])
