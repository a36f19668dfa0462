"""Energy integration: quadrature accuracy and analytic pass-through."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.integrate import quad

from gammaprob.forward import integrate_component, quadrature_nodes
from gammaprob.utils.xp import namespace


class CutoffPowerLaw:
    @staticmethod
    def evaluate(energy, index, amplitude, reference, lambda_):
        xp = namespace(energy, index, amplitude, lambda_)
        return amplitude * xp.power(energy / reference, -index) * xp.exp(-energy * lambda_)


@pytest.mark.parametrize("decade_width", [0.05, 0.1])
def test_quadrature_relative_error_below_1e12(helpers, decade_width):
    edges = 10 ** np.arange(-2, 2 + 1e-9, decade_width)
    lo, hi = edges[:-1], edges[1:]
    cases = [
        (helpers.LogParabola(), {"amplitude": 1e-11, "reference": 1.0, "alpha": 2.4, "beta": 0.3}),
        (
            CutoffPowerLaw(),
            {"index": 2.0, "amplitude": 1e-11, "reference": 1.0, "lambda_": 1 / 10.0},
        ),
    ]
    for component, params in cases:
        ours = integrate_component(component, lo, hi, params)
        ref = np.array(
            [
                quad(lambda e, c=component, p=params: c.evaluate(e, **p), a, b, epsrel=1e-14)[0]
                for a, b in zip(lo, hi, strict=True)
            ]
        )
        # cut-off bins above ~30 x E_c are ~1e-140 of the peak and irrelevant
        keep = ref > 1e-30 * ref.max()
        assert np.max(np.abs(ours[keep] / ref[keep] - 1)) < 1e-12


def test_nodes_and_weights_integrate_power_law_exactly():
    lo, hi = np.array([1.0, 2.0]), np.array([2.0, 10.0])
    nodes, weights = quadrature_nodes(lo, hi, 8)
    assert nodes.shape == weights.shape == (2, 8)
    assert np.all((nodes > lo[:, None]) & (nodes < hi[:, None]))
    np.testing.assert_allclose((weights * nodes**-1.0).sum(axis=1), np.log(hi / lo), rtol=1e-14)
    with pytest.raises(ValueError, match="n_nodes"):
        quadrature_nodes(lo, hi, 0)


def test_analytic_integral_used_and_graph_matches_numpy(helpers):
    lo, hi = np.array([1.0, 3.0]), np.array([3.0, 9.0])
    params = {"index": 2.0, "amplitude": 2.0, "reference": 1.0}
    np.testing.assert_allclose(
        integrate_component(helpers.PowerLaw(), lo, hi, params), 2.0 * (1 / lo - 1 / hi), rtol=1e-14
    )
    index = pt.dscalar("index")
    graph = integrate_component(helpers.PowerLaw(), lo, hi, dict(params, index=index))
    np.testing.assert_allclose(
        pytensor.function([index], graph)(2.0), 2.0 * (1 / lo - 1 / hi), rtol=1e-14
    )
