"""LightCurveEstimator: time grouping, per-bin flux points and the variability test."""

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time
from numpy.testing import assert_allclose

from gammaprob.data import GTI
from gammaprob.datasets import SpectrumDatasetOnOff
from gammaprob.estimators import FluxPointsEstimator, LightCurve, LightCurveEstimator
from gammaprob.maps import MapAxis
from gammaprob.modeling import SkyModel
from gammaprob.modeling.spectral import PowerLaw

EDGES = [1, 3, 10] * u.TeV


def _dataset(name, counts, counts_off, mjd):
    e = MapAxis.from_edges(EDGES, interp="log", name="energy")
    et = MapAxis.from_edges(EDGES, interp="log", name="energy_true")
    t0 = Time(mjd, format="mjd", scale="tt")
    return SpectrumDatasetOnOff(
        name=name,
        counts=counts,
        counts_off=counts_off,
        acceptance=np.full(2, 0.25),
        acceptance_off=np.ones(2),
        exposure=np.full(2, 1e9) * u.Unit("m2 s"),
        energy_axis=e,
        energy_axis_true=et,
        gti=GTI.from_time_intervals([(t0, t0 + 0.02 * u.d)]),
    )


def _source():
    return SkyModel(PowerLaw(index=2.0, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1")), name="src")


def test_per_dataset_bins_equal_flux_points(rng):
    mu = 1e-11 * 1e13 * np.array([1 / 1 - 1 / 3, 1 / 3 - 1 / 10])  # reference counts per bin
    datasets = []
    for i, level in enumerate([1.0, 1.0, 3.0]):
        off = rng.poisson([80, 20])
        on = rng.poisson(level * mu + 0.25 * np.array([80, 20]))
        datasets.append(_dataset(f"run{i}", on, off, 60000 + i))
    est = LightCurveEstimator(_source(), EDGES, onoff="wstat")
    lc = est.run(datasets[::-1])  # sorted by time whatever the input order
    t = lc.table
    assert isinstance(lc, LightCurve) and len(lc) == 3
    assert_allclose(t["time_min"], [60000, 60001, 60002])
    assert t["norm"].shape == (3, 2) and t["flux_ul"].unit == u.Unit("cm-2 s-1")
    single = FluxPointsEstimator(_source(), EDGES, onoff="wstat").run(datasets[1]).table
    assert_allclose(t["norm"][1], single["norm"], rtol=1e-12)
    assert_allclose(t["ts"][1], single["ts"], rtol=1e-12)
    # a flare in the third bin: strong evidence for variability
    p_values = np.array(eval(t.meta["VARPVAL"]))
    assert np.all(p_values < 1e-3)
    assert np.all(np.array(eval(t.meta["VARLBF"])) > 2)


def test_constant_source_and_intervals(rng, tmp_path):
    mu = 1e-11 * 1e13 * np.array([1 / 1 - 1 / 3, 1 / 3 - 1 / 10])
    datasets = [
        _dataset(f"run{i}", rng.poisson(mu + 20), rng.poisson([80, 80]), 60000 + 0.1 * i)
        for i in range(6)
    ]
    intervals = [
        (Time(60000, format="mjd"), Time(60000.25, format="mjd")),
        (Time(60000.25, format="mjd"), Time(60001, format="mjd")),
    ]
    est = LightCurveEstimator(_source(), EDGES, intervals, onoff="wstat")
    lc = est.run(datasets)
    t = lc.table
    assert list(t["n_datasets"]) == [3, 3]
    # the variability TS equals the direct likelihood-ratio computation
    fpe = FluxPointsEstimator(_source(), EDGES, onoff="wstat")
    terms = [
        [row[0] for row in fpe.estimate_bins(datasets[:3])[1]],
        [row[0] for row in fpe.estimate_bins(datasets[3:])[1]],
    ]
    var = LightCurveEstimator(_source(), EDGES, onoff="wstat").variability(terms)
    from scipy.optimize import minimize_scalar

    from gammaprob.estimators.norm_posterior import log_likelihood

    for e in range(2):
        fits = [
            -minimize_scalar(
                lambda k, b=b, e=e: -log_likelihood([k], b[e], "wstat")[0],
                bounds=(0, 10),
                method="bounded",
            ).fun
            for b in terms
        ]
        joint = -minimize_scalar(
            lambda k, e=e: -sum(log_likelihood([k], b[e], "wstat")[0] for b in terms),
            bounds=(0, 10),
            method="bounded",
        ).fun
        assert_allclose(var["ts"][e], 2 * (sum(fits) - joint), atol=2e-3)
    lc.write(tmp_path / "lc.fits")
    back = LightCurve.read(tmp_path / "lc.fits")
    assert_allclose(back.table["norm_ul"], t["norm_ul"])
    assert back.table.meta["UL_PROB"] == 0.95
    assert_allclose(back.variability["ts"], lc.variability["ts"])
    assert_allclose(lc.variability["ts"], var["ts"], rtol=1e-12)
    assert np.all(lc.variability["p_value"] > 1e-3)  # constant source


def test_errors():
    ds = _dataset("a", [1, 1], [1, 1], 60000)
    ds = ds.replace(gti=None)
    with pytest.raises(ValueError, match="no GTI"):
        LightCurveEstimator(_source(), EDGES).run([ds])
    with pytest.raises(TypeError, match="conditional"):
        LightCurveEstimator(_source(), EDGES, mode="marginal")


def test_every_time_bin_reports_the_common_energy_range(rng):
    """A run with a higher safe threshold gives its flux over the same range as the others."""
    mu = 1e-11 * 1e13 * np.array([1 / 1 - 1 / 3, 1 / 3 - 1 / 10])
    full = _dataset("low-threshold", rng.poisson(mu + 20), rng.poisson([80, 80]), 60000)
    high = _dataset("high-threshold", rng.poisson(mu + 20), rng.poisson([80, 80]), 60001)
    high = high.replace(mask_safe=np.array([False, True]))
    one_bin = [1, 10] * u.TeV
    t = LightCurveEstimator(_source(), one_bin, onoff="wstat").run([full, high]).table
    assert_allclose(t["e_min"].quantity.to_value("TeV").ravel(), [1, 1])
    assert_allclose(t["e_max"].quantity.to_value("TeV").ravel(), [10, 10])
    ref_flux = t["ref_flux"].quantity.to_value("cm-2 s-1").ravel()
    assert_allclose(ref_flux, 1e-11 * 0.9)  # power law index 2 integrated over 1-10 TeV
    assert_allclose(t["flux"].quantity.to_value("cm-2 s-1").ravel(), t["norm"].ravel() * ref_flux)
    # the high-threshold run alone measures its norm above 3 TeV only
    alone = FluxPointsEstimator(_source(), one_bin, onoff="wstat").run(high).table
    assert_allclose(alone["e_min"].quantity.to_value("TeV"), [3])
    assert_allclose(t["norm"][1], alone["norm"], rtol=1e-12)
