import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator

from gammaprob.irf.interpolation import LOG_FLOOR, cumulative_integral, inside_edges, interp_grid


def test_interp_grid_matches_scipy_with_extrapolation(rng):
    x = np.sort(rng.uniform(0, 10, 7))
    y = np.exp(np.sort(rng.uniform(0, 3, 5)))
    values = rng.uniform(0.5, 2.0, (7, 5))
    px = rng.uniform(-1, 11, 500)
    py = np.exp(rng.uniform(-0.2, 3.2, 500))
    ours = interp_grid([x, y], values, [px, py], ["lin", "log"])
    ref = RegularGridInterpolator((x, np.log(y)), values, bounds_error=False, fill_value=None)
    expected = np.clip(ref(np.stack([px, np.log(py)], axis=-1)), 0, None)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14)


def test_interp_grid_log_values_reproduce_power_law():
    energy = np.geomspace(0.1, 100, 6)
    values = 3.0 * energy**-2.7
    e = np.geomspace(0.13, 90, 50)
    out = interp_grid([energy], values, [e], ["log"], values_scale="log")
    np.testing.assert_allclose(out, 3.0 * e**-2.7, rtol=1e-12)


def test_interp_grid_log_values_zero_nodes():
    out = interp_grid(
        [np.array([1.0, 2.0])], np.array([0.0, 1.0]), [np.array([1.0, 1.5, 2.0])], ["lin"], "log"
    )
    assert out[0] == 0.0
    assert out[2] == pytest.approx(1.0)
    assert out[1] == pytest.approx(np.sqrt(LOG_FLOOR), rel=1e-9)


def test_interp_grid_single_node_axis_and_nearest():
    values = np.array([[1.0], [3.0]])
    out = interp_grid(
        [np.array([0.0, 1.0]), np.array([5.0])],
        values,
        [np.array([0.25, 0.75]), 123.0],
        ["lin", "lin"],
    )
    np.testing.assert_allclose(out, [1.5, 2.5])
    near = interp_grid(
        [np.array([0.0, 1.0, 2.0])],
        np.array([1.0, 2.0, 4.0]),
        [np.array([0.4, 0.6, 1.6, 5.0])],
        ["lin"],
        method="nearest",
    )
    np.testing.assert_allclose(near, [1.0, 2.0, 4.0, 4.0])


def test_interp_grid_clips_negative_and_checks_arguments():
    out = interp_grid([np.array([0.0, 1.0])], np.array([1.0, 0.0]), [np.array([2.0])], ["lin"])
    assert out[0] == 0.0
    with pytest.raises(ValueError, match="method"):
        interp_grid([np.array([0.0, 1.0])], np.ones(2), [0.5], ["lin"], method="cubic")
    with pytest.raises(ValueError, match="scale"):
        interp_grid([np.array([0.0, 1.0])], np.ones(2), [0.5], ["sqrt"])
    with pytest.raises(ValueError, match="one node array"):
        interp_grid([np.array([0.0, 1.0])], np.ones((2, 2)), [0.5], ["lin"])


def test_inside_edges():
    np.testing.assert_array_equal(
        inside_edges(np.array([0.0, 1.0, 2.0]), [-0.1, 0.0, 2.0, 2.1]), [False, True, True, False]
    )


def test_cumulative_integral_radial_gaussian():
    edges = np.linspace(0, 1, 2001)
    center = 0.5 * (edges[1:] + edges[:-1])
    sigma = 0.1
    pdf = np.exp(-0.5 * center**2 / sigma**2) / (2 * np.pi * sigma**2)
    cum = cumulative_integral(pdf[None, :], edges, axis=1, radial=True)[0]
    assert cum[0] == 0.0
    np.testing.assert_allclose(cum, 1 - np.exp(-0.5 * edges**2 / sigma**2), atol=2e-6)
    flat = cumulative_integral(
        np.ones((2, 3)), np.array([0.0, 1.0, 3.0, 6.0]), axis=1, radial=False
    )
    np.testing.assert_allclose(flat, [[0, 1, 3, 6], [0, 1, 3, 6]])
