"""Low-rank PSF and exposure factors: equal to the full-table formulation, verify_grad."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from gammaprob.forward import MapFold
from gammaprob.forward.map_response import haversine
from gammaprob.forward.psf import LOW_RANK_RTOL, PointFold, PsfRows, low_rank

N_TRUE, N_RECO, N = 4, 3, 31
PIX = 0.02  # deg


def _exposure(flat: bool):
    def exposure(lon, lat):
        if flat:
            return np.full((N_TRUE, N, N), 1e12) * np.linspace(1, 2, N_TRUE)[:, None, None]
        # energy-dependent gradient across the map: not separable
        out = 1e12 * (1 + np.linspace(0, 0.5, N_TRUE)[:, None, None] * lon[None] / 0.3)
        return out * (1 + 0.2 * np.sin(7 * lat)[None] * np.arange(N_TRUE)[:, None, None])

    return exposure


def _response(rng, helpers, *, sigmas, flat_exposure, psf_energy="true"):
    return helpers.grid_response(
        rng,
        n_true=N_TRUE,
        n_reco=N_RECO,
        n=N,
        pix=PIX,
        sigmas=sigmas,
        exposure=_exposure(flat_exposure),
        signal_counts=1.0,
        psf_energy=psf_energy,
    )


def _reference(fold: MapFold, flux: np.ndarray, lon_0: float, lat_0: float) -> np.ndarray:
    """Signal counts from the full PSF table (the formulation before the factorisation)."""
    r = fold.response
    lon, lat = fold.lon_nodes, fold.lat_nodes
    dlon = np.deg2rad(lon - lon_0)
    dlat = np.deg2rad(lat - lat_0)
    h = np.sin(0.5 * dlat) ** 2 + np.cos(np.deg2rad(lat)) * np.cos(np.deg2rad(lat_0)) * (
        np.sin(0.5 * dlon) ** 2
    )
    x = np.sqrt(h + 1e-12) / fold.psf_ds
    grid = np.arange(fold.psf_table.shape[1]).astype(float)
    psf = np.stack([np.interp(x, grid, row).mean(axis=-1) for row in fold.psf_table])
    exposure = r.exposure[:, fold.cutout] * r.solid_angle[fold.cutout]
    if r.psf_energy == "reco":
        return (r.edisp.T @ (flux[:, None] * exposure)) * psf
    return r.edisp.T @ (flux[:, None] * psf * exposure)


def test_low_rank_tolerance_and_exact_cases(rng):
    rows = np.exp(-(np.linspace(0, 5, 200) ** 2))
    left, right = low_rank(np.outer(np.linspace(1, 3, 6), rows))
    assert left.shape == (6, 1) and right.shape == (1, 200)
    np.testing.assert_allclose(left @ right, np.outer(np.linspace(1, 3, 6), rows), rtol=1e-14)
    # Gaussians of different widths: few components within the tolerance
    r = np.linspace(0, 1, 400)
    table = np.exp(-0.5 * (r[None, :] / np.linspace(0.07, 0.08, 12)[:, None]) ** 2)
    left, right = low_rank(table)
    assert left.shape[1] == 7
    assert np.max(np.abs(left @ right - table)) <= LOW_RANK_RTOL * table.max()
    # a random matrix is full rank: reproduced exactly
    full = rng.normal(size=(5, 7))
    left, right = low_rank(full)
    np.testing.assert_array_equal(left @ right, full)
    left, right = low_rank(np.zeros((3, 4)))
    assert left.shape == (3, 1) and not right.any()
    with pytest.raises(ValueError, match="non-empty 2-d"):
        low_rank(np.zeros(4))


@pytest.mark.parametrize(
    ("sigmas", "flat", "psf_energy", "oversampling", "fused", "ranks"),
    [
        ([0.08] * N_TRUE, True, "true", 1, True, (1, 1)),  # rank 1 PSF and exposure
        ([0.1, 0.08, 0.06, 0.05], False, "true", 3, False, (4, 3)),  # density form
        ([0.08] * N_TRUE, False, "true", 2, True, (1, 3)),
        ([0.07] * N_RECO, False, "reco", 2, True, (1, 3)),
    ],
)
def test_point_fold_equals_full_table(
    rng, helpers, sigmas, flat, psf_energy, oversampling, fused, ranks
):
    response = _response(rng, helpers, sigmas=sigmas, flat_exposure=flat, psf_energy=psf_energy)
    source = helpers.Source("src", helpers.PowerLaw(), helpers.Point())
    fold = MapFold.build(
        response, [source], {"src": (0.0, 0.0)}, position_margin=0.05, oversampling=oversampling
    )
    point = fold.point_fold
    assert isinstance(point, PointFold)
    assert point.fused is fused and point.rank == ranks
    assert "PointFold(PSF rank" in repr(point)
    lon_0, lat_0, index = pt.dscalar("lon_0"), pt.dscalar("lat_0"), pt.dscalar("index")
    values = {"src::amplitude": 1e-12, "src::reference": 1.0}
    params = dict(values, **{"src::lon_0": lon_0, "src::lat_0": lat_0, "src::index": index})
    f = pytensor.function([lon_0, lat_0, index], fold.signal_cutout(params))
    for lon, lat, gamma in [(0.0, 0.0, 2.2), (0.013, -0.027, 2.7), (359.96, 0.031, 1.9)]:
        ours = f(lon, lat, gamma)
        flux = helpers.PowerLaw.integrate(
            response.energy_true_edges[:-1], response.energy_true_edges[1:], gamma, 1e-12, 1.0
        )
        expected = _reference(fold, flux, lon, lat)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9 * expected.max())
        big = expected > 1e-3 * expected.max()
        np.testing.assert_allclose(ours[big], expected[big], rtol=1e-9)

    def signal(lon, lat, gamma):
        p = dict(values, **{"src::lon_0": lon, "src::lat_0": lat, "src::index": gamma})
        return (fold.signal_cutout(p) * weights).sum()

    weights = rng.uniform(size=(N_RECO, fold.cutout.size))
    helpers.verify_grad(signal, [0.013, -0.027, 2.2], seed=5)


def test_psf_rows_op_numba_equals_numpy_and_grad(rng, helpers):
    """The compiled lookup = numpy interpolation; its gradient in the position by verify_grad."""
    sigmas = np.geomspace(0.1, 0.04, 6)
    r = np.linspace(0.0, 0.6, 400)
    table = np.exp(-0.5 * (r[None, :] / sigmas[:, None]) ** 2)
    table[:, -1] = 0.0
    ds = 0.004
    lon_nodes = rng.uniform(-0.3, 0.3, (50, 4))
    lat_nodes = rng.uniform(-0.3, 0.3, (50, 4))
    op = PsfRows(table, ds, lon_nodes, lat_nodes)
    lon_0, lat_0 = pt.dscalar("lon_0"), pt.dscalar("lat_0")
    compiled = pytensor.function([lon_0, lat_0], op(lon_0, lat_0)[0], mode="NUMBA")
    assert not any(
        type(n.op).__name__ == "FromFunctionOp" for n in compiled.maker.fgraph.apply_nodes
    )
    h = haversine(lon_nodes, lat_nodes, 0.013, -0.021)
    x = np.sqrt(h + 1e-12) / ds
    grid = np.arange(table.shape[1], dtype=float)
    expected = np.stack([np.interp(x, grid, row).mean(axis=-1) for row in table])
    np.testing.assert_allclose(compiled(0.013, -0.021), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(op.evaluate(0.013, -0.021)[0], expected, rtol=1e-12, atol=1e-15)
    assert np.all(np.isnan(compiled(np.nan, 0.0)))
    weights = rng.uniform(size=expected.shape)
    for mode in ("NUMBA", "FAST_COMPILE"):
        helpers.verify_grad(
            lambda lon, lat: (op(lon, lat)[0] * weights).sum(),
            [0.013, -0.021],
            seed=7,
            tol=1e-5,
            mode=mode,
        )


@pytest.mark.jax
def test_psf_rows_jax_graph_equals_numba_op(rng):
    """Under JAX (numpyro) the Op becomes a plain graph with the same values and gradient."""
    sigmas = np.geomspace(0.1, 0.04, 3)
    r = np.linspace(0.0, 0.6, 300)
    table = np.exp(-0.5 * (r[None, :] / sigmas[:, None]) ** 2)
    table[:, -1] = 0.0
    op = PsfRows(table, 0.004, rng.uniform(-0.3, 0.3, (40, 4)), rng.uniform(-0.3, 0.3, (40, 4)))
    lon_0, lat_0 = pt.dscalar("lon_0"), pt.dscalar("lat_0")
    weights = rng.uniform(size=(3, 40))
    cost = (op(lon_0, lat_0)[0] * weights).sum()
    outputs = [cost, *pytensor.grad(cost, [lon_0, lat_0])]
    numba_fn = pytensor.function([lon_0, lat_0], outputs, mode="NUMBA")
    jax_fn = pytensor.function([lon_0, lat_0], outputs, mode="JAX")
    assert not any(isinstance(n.op, PsfRows) for n in jax_fn.maker.fgraph.apply_nodes)
    for point in [(0.013, -0.021), (0.2, 0.1)]:
        np.testing.assert_allclose([float(v) for v in jax_fn(*point)], numba_fn(*point), rtol=1e-10)
