"""FluxMapEstimator: Laplace per-pixel posteriors against brute force and exact grids."""

import astropy.units as u
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import optimize, stats

from gammaprob.estimators import FluxMapEstimator, FluxMaps


def _patches(rng, n_pix=40, size=30):
    m = rng.uniform(0.1, 2.0, (n_pix, size))
    b = rng.uniform(0.5, 3.0, (n_pix, size))
    k_true = rng.uniform(0, 3, n_pix)[:, None]
    n = rng.poisson(k_true * m + b).astype(float)
    return n, b, m


def test_laplace_maximum_and_curvature(rng):
    n, b, m = _patches(rng)
    est = FluxMapEstimator(ul_prob=0.9)
    out = est._laplace(n, b, m)
    for i in range(n.shape[0]):

        def nll(k, i=i):
            return -(stats.poisson.logpmf(n[i], k * m[i] + b[i])).sum()

        lo = max(-b[i][n[i] > 0].min() / m[i][n[i] > 0].max(), -b[i].min() / m[i].max()) + 1e-9
        fit = optimize.minimize_scalar(
            nll, bounds=(lo, 20), method="bounded", options={"xatol": 1e-12}
        )
        assert_allclose(out["norm_best"][i], fit.x, atol=1e-6)
        ts = 2 * (nll(0.0) - fit.fun)
        assert_allclose(out["ts"][i], ts, rtol=1e-6, atol=1e-6)
        mu = fit.x * m[i] + b[i]
        assert_allclose(out["norm_sigma"][i], (n[i] * m[i] ** 2 / mu**2).sum() ** -0.5, rtol=1e-5)
    # truncated-normal summaries
    k, s = out["norm_best"], out["norm_sigma"]
    ref_ul = stats.truncnorm.ppf(0.9, -k / s, np.inf, loc=k, scale=s)
    assert_allclose(out["norm_ul"], ref_ul, rtol=1e-9)
    assert_allclose(out["prob_positive"], stats.norm.cdf(k / s), rtol=1e-12)


def test_negative_norm_stops_where_a_prediction_reaches_zero():
    """As gammapy's norm_min_total: npred >= 0 in every bin, also where no counts are seen."""
    m = np.array([[1.0, 2.0, 1.0], [1.0, 2.0, 1.0]])
    b = np.array([[1.0, 1.0, 4.0], [1.0, 1.0, 4.0]])
    n = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    out = FluxMapEstimator()._laplace(n, b, m)
    # no counts: exp(-k sum m) grows as k falls, up to k = -min(b / m) = -0.5
    assert out["norm_best"][0] == pytest.approx(-0.5)
    assert out["ts"][0] == pytest.approx(2 * 0.5 * m[0].sum())
    # the unconstrained maximum, k = -3.5 (2 / (k + 4) = 4), is clipped to the bound
    assert out["norm_best"][1] == pytest.approx(-0.5)
    mu = -0.5 * m[1] + b[1]
    ts = 2 * (2 * np.log(mu[2] / b[1, 2]) - (-0.5) * m[1].sum())
    assert out["ts"][1] == pytest.approx(ts)


def test_grid_method_agrees_with_laplace_for_many_counts(rng):
    m = np.full((5, 50), 4.0)
    b = np.full((5, 50), 20.0)
    n = rng.poisson(1.5 * m + b).astype(float)
    lap = FluxMapEstimator()._laplace(n, b, m)
    grid = FluxMapEstimator(method="grid", n_grid=400)._grid(n, b, m)
    assert_allclose(grid["norm"], lap["norm"], atol=0.03 * lap["norm_sigma"].max())
    assert_allclose(grid["norm_errp"], lap["norm_errp"], rtol=0.05)
    assert_allclose(grid["norm_ul"], lap["norm_ul"], rtol=0.02)


def test_bad_input():
    with pytest.raises(ValueError, match="method"):
        FluxMapEstimator(method="mcmc")
    with pytest.raises(ValueError, match="angle"):
        FluxMapEstimator(kernel_radius=3 * u.TeV)
    with pytest.raises(TypeError, match="MapDataset"):
        FluxMapEstimator().run(object())


@pytest.mark.requires_data
def test_fermi_crab_flux_map(gammapy_data, tmp_path):
    from gammaprob.datasets import MapDataset

    path = gammapy_data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
    dataset = MapDataset.read(path)
    maps = FluxMapEstimator(0.3 * u.deg).run(dataset)
    assert maps.geom.data_shape == (40, 50)
    ts = maps["ts"].data
    peak = np.unravel_index(np.nanargmax(ts), ts.shape)
    # the Crab is at the map centre; gammapy's TSMapEstimator gives TS = 26251 there
    assert abs(peak[0] - 20) <= 1 and abs(peak[1] - 25) <= 1
    assert_allclose(np.nanmax(ts), 26251, rtol=0.01)
    assert maps["prob_positive"].data[peak] == pytest.approx(1.0)
    assert np.all(maps["norm_ul"].data[np.isfinite(ts)] > maps["norm"].data[np.isfinite(ts)])
    assert maps["flux_ul"].unit == u.Unit("cm-2 s-1")
    maps.write(tmp_path / "maps.fits")
    back = FluxMaps.read(tmp_path / "maps.fits")
    assert set(back.names) == set(maps.names)
    assert_allclose(back["norm_ul"].data, maps["norm_ul"].data, rtol=1e-12, equal_nan=True)
    assert back.meta["ul_prob"] == 0.95


@pytest.mark.requires_gammapy
def test_against_gammapy_ts_map(tmp_path):
    import warnings

    from astropy.coordinates import SkyCoord
    from gammapy.datasets import MapDataset as GPMapDataset
    from gammapy.estimators import TSMapEstimator
    from gammapy.irf import PSFMap
    from gammapy.maps import MapAxis, WcsGeom

    from gammaprob.datasets import MapDataset

    rng = np.random.default_rng(1)
    edges = [1.0, 3.0, 10.0, 30.0] * u.TeV
    axis = MapAxis.from_energy_edges(edges)
    axis_true = MapAxis.from_energy_edges(edges, name="energy_true")
    geom = WcsGeom.create(
        skydir=SkyCoord(83.63, 22.01, unit="deg"), width=0.8, binsz=0.02, axes=[axis]
    )
    gp = GPMapDataset.create(geom, energy_axis_true=axis_true, binsz_irf=0.5, name="syn")
    gp.exposure.data += 1e11
    gp.mask_safe.data[...] = True
    gp.background.data += 0.5 * np.array([1.0, 0.4, 0.1])[:, None, None]
    yy, xx = np.mgrid[:40, :40]
    source = 0.4 * np.exp(-((yy - 20) ** 2 + (xx - 20) ** 2) / 50)
    gp.counts.data = rng.poisson(gp.background.data + source).astype(float)
    gp.psf = PSFMap.from_gauss(axis_true, sigma=0.1 * u.deg, geom=geom.to_image().to_binsz(0.5))
    gp.write(tmp_path / "syn.fits")
    ours = MapDataset.read(tmp_path / "syn.fits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = TSMapEstimator(
            kernel_width=0.6 * u.deg, selection_optional=[], sum_over_energy_groups=True
        ).run(gp)
    maps = FluxMapEstimator(0.3 * u.deg, sum_over_energy=True).run(ours)
    # same likelihood (energies summed, exposure at the test position): signed sqrt(TS) to
    # 0.05 and norms to 2 % where detected
    assert np.nanmax(np.abs(maps["sqrt_ts"].data - ref["sqrt_ts"].data[0])) < 0.05
    detected = ref["ts"].data[0] > 9
    assert detected.sum() > 50
    assert_allclose(maps["norm_best"].data[detected], ref["norm"].data[0][detected], rtol=0.02)
