"""Temporal components against gammapy's same-named models (validation extra)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time
from scipy.integrate import quad

from gammaprob.modeling import temporal as T

pytestmark = pytest.mark.requires_gammapy

T0 = 58000.0


def _draw(rng, name):
    t_ref = T0 + rng.uniform(-1, 1)
    return {
        "Constant": {},
        "Linear": {"alpha": rng.uniform(0.5, 2), "beta": rng.uniform(-0.2, 0.2), "t_ref": t_ref},
        "ExpDecay": {"t0": rng.uniform(0.3, 5), "t_ref": t_ref},
        "Gaussian": {"t_ref": t_ref, "sigma": rng.uniform(0.2, 3)},
        "GeneralizedGaussian": {
            "t_ref": t_ref,
            "t_rise": rng.uniform(0.2, 2),
            "t_decay": rng.uniform(0.2, 4),
            "eta": rng.uniform(0.2, 2),
        },
        "PowerLaw": {"alpha": rng.uniform(-2.5, 1), "t_ref": T0 - 3.0, "t0": rng.uniform(0.5, 2)},
        "Sine": {"amp": rng.uniform(-1, 1), "omega": rng.uniform(0.1, 5), "t_ref": t_ref},
    }[name]


_UNITS = {
    "beta": "d-1",
    "t0": "d",
    "t_ref": "d",
    "sigma": "d",
    "t_rise": "d",
    "t_decay": "d",
    "omega": "rad / d",
}

NAMES = ["Constant", "Linear", "ExpDecay", "Gaussian", "GeneralizedGaussian", "PowerLaw", "Sine"]
# gammapy's own integral is exact for these (others: rectangle rule, or wrong for Sine)
ANALYTIC_IN_GAMMAPY = {"Constant", "Linear", "ExpDecay", "Gaussian", "PowerLaw"}


def _gammapy_model(name, params):
    from gammapy.modeling import models as gm

    cls = getattr(gm, f"{name}TemporalModel")
    return cls(**{k: v * u.Unit(_UNITS.get(k, "")) for k, v in params.items()})


@pytest.mark.parametrize("name", NAMES)
def test_values_and_integrals_equal_gammapy(name, rng):
    for _ in range(10 if name in ANALYTIC_IN_GAMMAPY else 4):
        params = _draw(rng, name)
        ours = getattr(T, name)(**params)
        theirs = _gammapy_model(name, params)
        times = Time(T0 + np.sort(rng.uniform(-2.5, 4, 200)), format="mjd")
        np.testing.assert_allclose(ours(times).value, theirs(times).value, rtol=1e-9, atol=1e-300)
        t_min = Time(T0 + rng.uniform(-2.5, 3, 8), format="mjd")
        t_max = t_min + rng.uniform(0.05, 1.0, 8) * u.d
        got = ours.integral(t_min, t_max)
        if name in ANALYTIC_IN_GAMMAPY:
            expected = u.Quantity(theirs.integral(t_min, t_max)).to_value("")
        else:  # quadrature of gammapy's evaluate, divided by the summed duration
            total = np.sum((t_max - t_min).to_value("d"))
            expected = [
                quad(
                    lambda t, th=theirs: float(th(Time(t, format="mjd")).value),
                    a,
                    b,
                    epsabs=0,
                    epsrel=1e-11,
                    points=[ours.values()["t_ref"]] if a < ours.values()["t_ref"] < b else None,
                )[0]
                / total
                for a, b in zip(t_min.mjd, t_max.mjd, strict=True)
            ]
        np.testing.assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.requires_data
def test_light_curve_equals_gammapy(gammapy_data, rng):
    from gammapy.modeling.models import LightCurveTemplateTemporalModel

    path = gammapy_data / "tests/models/light_curve/lightcrv_PKSB1222+216.fits"
    ours = T.LightCurveTemplate.read(path)
    theirs = LightCurveTemplateTemporalModel.read(str(path))
    assert ours.values()["t_ref"] == pytest.approx(theirs.t_ref.value, abs=1e-10)
    start, stop = ours.values()["t_ref"] + ours.nodes[[0, -1]]
    times = Time(rng.uniform(start, stop, 500), format="mjd")
    np.testing.assert_allclose(ours(times).value, theirs(times).value, rtol=1e-9)
    # exact integral of the interpolated curve versus gammapy's evaluate: between nodes
    # the curve is linear, so the trapezoid rule on the nodes inside each bin is exact
    t_min = Time(start + rng.uniform(1, 100, 4), format="mjd")
    t_max = t_min + rng.uniform(0.5, 5, 4) * u.d
    total = np.sum((t_max - t_min).to_value("d"))
    nodes = ours.values()["t_ref"] + ours.nodes
    expected = []
    for a, b in zip(t_min.mjd, t_max.mjd, strict=True):
        edges = np.concatenate([[a], nodes[(nodes > a) & (nodes < b)], [b]])
        values = theirs(Time(edges, format="mjd")).value.ravel()
        expected.append(np.sum(0.5 * (values[1:] + values[:-1]) * np.diff(edges)) / total)
    np.testing.assert_allclose(ours.integral(t_min, t_max), expected, rtol=1e-9)
