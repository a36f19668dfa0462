"""Temporal components: parity, gradients, exact integrals, light-curve files, errors."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from astropy.io import fits
from astropy.time import Time
from pytensor.gradient import verify_grad
from scipy.integrate import quad

from gammaprob.modeling import Models, SkyModel, registered
from gammaprob.modeling import spectral as S
from gammaprob.modeling import temporal as T
from gammaprob.modeling.prior import Normal
from gammaprob.utils.errors import FormatError

T0 = 55000.0  # MJD
FAST = "FAST_COMPILE"


def _light_curve():
    nodes = np.array([0.0, 0.5, 1.5, 2.0, 4.0, 7.0])
    norm = np.array([0.1, 1.0, 0.4, 0.6, 0.2, 0.3])
    return T.LightCurveTemplate(nodes * u.d, norm, t_ref=T0)


CASES = {
    "Constant": (T.Constant, {}),
    "Linear": (T.Linear, {"alpha": 1.2, "beta": 0.3, "t_ref": T0 + 1.0}),
    "ExpDecay": (T.ExpDecay, {"t0": 2.0, "t_ref": T0}),
    "Gaussian": (T.Gaussian, {"t_ref": T0 + 2.0, "sigma": 0.7}),
    "GeneralizedGaussian": (
        T.GeneralizedGaussian,
        {"t_ref": T0 + 2.0, "t_rise": 0.5, "t_decay": 2.0, "eta": 0.8},
    ),
    "PowerLaw": (T.PowerLaw, {"alpha": -1.3, "t_ref": T0 - 1.0, "t0": 1.5}),
    "PowerLawLog": (T.PowerLaw, {"alpha": -1.0 + 3e-7, "t_ref": T0 - 1.0, "t0": 1.5}),
    "Sine": (T.Sine, {"amp": 0.5, "omega": 2.0, "t_ref": T0}),
}


def _times(rng, n=50):
    return T0 + np.sort(rng.uniform(0.05, 6.9, n))


def _bins(rng, n=12):
    lo = T0 + rng.uniform(0.05, 6.0, n)
    return lo, lo + rng.uniform(0.01, 0.9, n)


def test_registry_has_all_temporal_models_with_gammapy_aliases():
    names = set(registered("temporal"))
    expected = {"Constant", "Linear", "ExpDecay", "Gaussian", "GeneralizedGaussian"}
    assert expected | {"PowerLaw", "Sine", "LightCurveTemplate"} <= names
    for cls in registered("temporal").values():
        assert f"{cls.tag}TemporalModel" in cls.aliases


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("epoch, rtol", [(T0, 1e-12), (0.0, 1e-12)])
def test_numpy_and_compiled_pytensor_agree(case, epoch, rtol, rng):
    """Parity with times relative to an epoch (how the forward model passes them) and in MJD.

    With absolute MJD (~5e4 d) the float64 resolution is 7e-12 d, and numba's fastmath
    (pytensor's default) may reassociate ``omega * (t - t_ref)``; the ``epoch = T0`` case
    subtracts the epoch from times and ``t_ref`` before building the graph.
    """
    cls, params = CASES[case]
    shift = T0 - epoch  # 0: absolute MJD; T0: times relative to T0
    params = {k: (v - shift if k == "t_ref" else v) for k, v in params.items()}
    time, (lo, hi) = _times(rng) - shift, tuple(x - shift for x in _bins(rng))
    symbols = {name: pt.dscalar(name) for name in params}
    t, a, b = pt.dvector("t"), pt.dvector("a"), pt.dvector("b")
    outputs = [cls.evaluate(t, **symbols), cls.integrate(a, b, **symbols)]
    compiled = pytensor.function([t, a, b, *symbols.values()], outputs)
    got_value, got_integral = compiled(time, lo, hi, *params.values())
    tol = rtol if shift else 1e-10
    np.testing.assert_allclose(got_value, cls.evaluate(time, **params), rtol=tol)
    np.testing.assert_allclose(got_integral, cls.integrate(lo, hi, **params), rtol=tol)


@pytest.mark.parametrize("case", sorted(set(CASES) - {"Constant"}))
def test_gradients_in_all_parameters(case, rng):
    cls, params = CASES[case]
    time, (lo, hi) = _times(rng, 20), _bins(rng, 6)
    names = list(params)

    def value(*args):
        return cls.evaluate(time, **dict(zip(names, args, strict=True)))

    def integral(*args):
        return cls.integrate(lo, hi, **dict(zip(names, args, strict=True)))

    point = [np.array(params[k]) for k in names]
    verify_grad(value, point, rng=rng, mode=FAST)
    verify_grad(integral, point, rng=rng, mode=FAST)


@pytest.mark.parametrize("case", sorted(CASES))
def test_analytic_integrals_match_quadrature(case, rng):
    cls, params = CASES[case]
    lo, hi = _bins(rng)
    got = cls.integrate(lo, hi, **params)
    expected = [
        quad(lambda t: cls.evaluate(t, **params), a, b, epsabs=0, epsrel=1e-12)[0]
        for a, b in zip(lo, hi, strict=True)
    ]
    # MJD ~ 5e4 limits the relative precision of (t - t_ref) to ~1e-11
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_light_curve_interpolation_and_exact_integral(rng):
    model = _light_curve()
    nodes, norm = model.nodes, model.norm
    t = T0 + np.array([-1.0, 0.0, 0.25, 1.0, 5.5, 7.0, 8.0])
    np.testing.assert_allclose(
        model.evaluate(t, T0), [0.0, 0.1, 0.55, 0.7, 0.25, 0.3, 0.0], rtol=1e-12, atol=0
    )
    lo, hi = T0 + np.array([-1.0, 0.3, 2.0]), T0 + np.array([0.7, 1.9, 9.0])
    expected = [
        quad(lambda x: np.interp(x, nodes, norm, 0, 0), a - T0, b - T0, points=nodes)[0]
        for a, b in zip(lo, hi, strict=True)
    ]
    np.testing.assert_allclose(model.integrate(lo, hi, T0), expected, rtol=1e-12)
    # tensors: parity and gradient in t_ref
    t_ref = pt.dscalar("t_ref")
    compiled = pytensor.function(
        [t_ref], [model.evaluate(t, t_ref), model.integrate(lo, hi, t_ref)]
    )
    got_v, got_i = compiled(T0)
    np.testing.assert_allclose(got_v, model.evaluate(t, T0), rtol=1e-12)
    np.testing.assert_allclose(got_i, model.integrate(lo, hi, T0), rtol=1e-12)
    times = T0 + rng.uniform(0.1, 6.9, 20)
    verify_grad(lambda r: model.evaluate(times, r), [np.array(T0 + 0.01)], rng=rng, mode=FAST)


def test_integral_convention_mean_over_total_duration():
    model = T.Linear(alpha=1.0, beta=0.5, t_ref=Time(T0, format="mjd"))
    t_min = Time(T0, format="mjd") + [0.0, 2.0] * u.d
    t_max = Time(T0, format="mjd") + [1.0, 4.0] * u.d
    # bin integrals 1.25 and 5.0 (days), total duration 3 days
    np.testing.assert_allclose(model.integral(t_min, t_max), [1.25 / 3, 5.0 / 3], rtol=1e-12)
    single = model.integral(t_min[:1], t_max[:1])
    assert single[0] == pytest.approx(1.25, rel=1e-12)  # one bin: the mean norm


def test_time_scales_and_quantities():
    t_ref = Time("2020-01-01T00:00:00", scale="utc")
    model = T.Gaussian(t_ref=t_ref, sigma=2.0 * u.h, scale="tt")
    assert model.values()["t_ref"] == pytest.approx(t_ref.tt.mjd, abs=1e-12)
    assert model.sigma.value == pytest.approx(2.0 / 24.0)
    assert model.reference_time.scale == "tt"
    # peak at t_ref whatever the scale of the input time
    assert float(model(t_ref)) == pytest.approx(1.0, abs=1e-12)
    later = Time(t_ref.tai + 2.0 * u.h)
    assert float(model(later)) == pytest.approx(np.exp(-0.5), rel=1e-9)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: T.Gaussian(sigma=-1.0), ValueError, "sigma"),
        (lambda: T.Gaussian(sigma=0.0), ValueError, "sigma"),
        (lambda: T.ExpDecay(t0=1.0 * u.m), u.UnitConversionError, "t0"),
        (lambda: T.Sine(scale="martian"), ValueError, "time scale"),
        (lambda: T.GeneralizedGaussian(eta=0.0), ValueError, "eta"),
        (lambda: T.LightCurveTemplate([0, 1] * u.d, [1.0, -1.0]), ValueError, ">= 0"),
        (lambda: T.LightCurveTemplate([1, 0] * u.d, [1.0, 1.0]), ValueError, "increasing"),
        (lambda: T.LightCurveTemplate([0, 1] * u.m, [1.0, 1.0]), TypeError, "time unit"),
    ],
)
def test_bad_input_is_rejected(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_integral_bins():
    model = T.Constant()
    t = Time(T0, format="mjd")
    with pytest.raises(ValueError, match="t_max"):
        model.integral(t + [1.0] * u.d, t + [0.0] * u.d)
    with pytest.raises(TypeError, match="Time"):
        model.integral(T0, T0 + 1)
    # a decay that diverges at t_ref: infinite, not a silent wrong number
    decay = T.PowerLaw(alpha=-1.5, t_ref=T0)
    assert np.isinf(decay.integrate(T0 - 1.0, T0 + 1.0, **decay.values()))


def _write_light_curve(path, unit="s", timesys="TT"):
    cols = [
        fits.Column("TIME", "D", unit=unit, array=np.array([0.0, 86400.0, 3 * 86400.0])),
        fits.Column("NORM", "D", array=np.array([0.0, 1.0, 0.5])),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="LIGHTCURVE")
    hdu.header.update(MJDREFI=55000, MJDREFF=0.5, TIMESYS=timesys)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def test_light_curve_read_and_yaml_round_trip(tmp_path):
    path = _write_light_curve(tmp_path / "lc.fits")
    model = T.LightCurveTemplate.read(path)
    assert model.reference_time.utc.mjd == pytest.approx(
        Time(55000, 0.5, format="mjd", scale="tt").utc.mjd, abs=1e-12
    )
    np.testing.assert_allclose(model.nodes, [0.0, 1.0, 3.0])
    t_ref = model.reference_time
    assert float(model(t_ref + 2.0 * u.d)) == pytest.approx(0.75, rel=1e-9)
    sky = SkyModel(S.PowerLaw(), temporal=model, name="flare")
    Models([sky]).write(tmp_path / "m.yaml")
    back = Models.read(tmp_path / "m.yaml")[0].temporal
    assert type(back) is T.LightCurveTemplate
    np.testing.assert_allclose(back.norm, model.norm)
    assert back.values()["t_ref"] == pytest.approx(model.values()["t_ref"], abs=1e-12)


def test_light_curve_read_errors(tmp_path):
    path = _write_light_curve(tmp_path / "lc.fits", unit="m")
    with pytest.raises(FormatError, match="TIME"):
        T.LightCurveTemplate.read(path)
    with pytest.raises(ValueError, match="filename"):
        _light_curve().to_dict()


def test_yaml_round_trip_with_priors(tmp_path):
    model = T.GeneralizedGaussian(t_ref=Normal(T0, 0.5, unit="d"), t_rise=0.3, scale="tt")
    sky = SkyModel(S.PowerLaw(), temporal=model, name="flare")
    Models([sky]).write(tmp_path / "m.yaml")
    back = Models.read(tmp_path / "m.yaml")[0].temporal
    assert type(back) is T.GeneralizedGaussian and back.scale == "tt"
    assert back.t_ref.prior == model.t_ref.prior
    assert back.values() == pytest.approx(model.values())


@pytest.mark.requires_data
def test_gammapy_light_curve_file(gammapy_data):
    path = gammapy_data / "tests/models/light_curve/lightcrv_PKSB1222+216.fits"
    model = T.LightCurveTemplate.read(path)
    assert model.nodes.size == 2551
    # values quoted in gammapy's documentation of this file
    assert model.values()["t_ref"] == pytest.approx(59000.49919925926, abs=1e-9)
    value = model(Time(59001.195, format="mjd"))
    assert float(value) == pytest.approx(0.02288737, rel=1e-6)
