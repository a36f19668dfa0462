from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.integrate import quad

from gammaprob.modeling import spectral as S
from gammaprob.modeling.spectral.base import quadrature_integral

EDGES = np.geomspace(0.1, 100.0, 31)  # 0.1-decade bins
LO, HI = EDGES[:-1], EDGES[1:]

ANALYTIC = [
    S.PowerLaw(index=2.7, amplitude=3e-12, reference=1.3),
    S.PowerLaw(index=1.0, amplitude=3e-12),
    S.PowerLaw2(amplitude=2e-11, index=2.2),
    S.PowerLaw2(amplitude=2e-11, index=1.0),
    S.PowerLawNorm(norm=1.2, tilt=0.3),
    S.Constant(const=2e-13),
    S.GaussianLine(amplitude=1e-11, mean=3.0, sigma=1.0),
]


@pytest.mark.parametrize("model", ANALYTIC, ids=repr)
def test_analytic_integrals_match_quadrature(model):
    p = model.values()
    n = 12  # well-converged reference (except in the line's far tail, > 1e-20 of the peak)
    reference = quadrature_integral(model.evaluate, LO, HI, p, n)
    keep = reference > 1e-20 * reference.max()
    assert keep.sum() >= 20
    np.testing.assert_allclose(model.integrate(LO, HI, **p)[keep], reference[keep], rtol=1e-8)
    if type(model).integrate_energy_flux is not S.SpectralModel.integrate_energy_flux:
        np.testing.assert_allclose(
            model.integrate_energy_flux(LO, HI, **p)[keep],
            quadrature_integral(model.evaluate, LO, HI, p, n, moment=1)[keep],
            rtol=1e-8,
        )


@pytest.mark.parametrize(
    "model",
    [
        S.LogParabola(alpha=2.3, beta=0.2, amplitude=1e-12),
        S.ExpCutoffPowerLaw(index=2.0, lambda_=0.05, amplitude=1e-12),
        S.SmoothBrokenPowerLaw(index1=1.5, index2=3.0, ebreak=2.0, amplitude=1e-12),
        S.SuperExpCutoffPowerLaw4FGLDR3(expfactor=0.5, index_1=1.8, index_2=0.67, amplitude=1e-12),
    ],
    ids=repr,
)
def test_public_integral_and_energy_flux_vs_scipy(model):
    p = model.values()
    emin, emax = 0.1, 100.0
    ref = quad(
        lambda e: model.evaluate(e, **p), emin, emax, epsrel=1e-13, limit=200, points=[1, 10]
    )[0]
    got = model.integral(emin * u.TeV, emax * u.TeV)
    assert got.unit == u.Unit("cm-2 s-1")
    assert got.value == pytest.approx(ref, rel=1e-10)
    ref_e = quad(lambda e: e * model.evaluate(e, **p), emin, emax, epsrel=1e-13, limit=200)[0]
    assert model.energy_flux(emin * u.TeV, emax * u.TeV).to_value("TeV cm-2 s-1") == (
        pytest.approx(ref_e, rel=1e-10)
    )


def test_documented_quadrature_accuracy():
    """6 nodes per bin: < 1e-10 for a power law of index 4 on 0.25-decade bins."""
    edges = np.geomspace(0.1, 100.0, 13)
    pl = S.PowerLaw(index=4.0, amplitude=1e-12)
    p = pl.values()
    quad6 = S.SpectralModel.integrate(pl, edges[:-1], edges[1:], **p)
    exact = pl.integrate(edges[:-1], edges[1:], **p)
    assert np.max(np.abs(quad6 / exact - 1)) < 1e-10


def test_power_law_integral_is_smooth_through_index_one():
    index = pt.dscalar("index")
    flux = S.PowerLaw.integrate(np.array([1.0]), np.array([10.0]), index, 1.0, 1.0)[0]
    f = pytensor.function([index], [flux, pytensor.grad(flux, index)])
    value_1, grad_1 = f(1.0)
    assert value_1 == pytest.approx(math.log(10.0), rel=1e-12)
    # d/dG of int x^-G dx at G=1 equals -ln(10)^2 / 2
    assert grad_1 == pytest.approx(-(math.log(10.0) ** 2) / 2, rel=1e-6)
    value_near, _ = f(1.0 + 1e-7)
    assert value_near == pytest.approx(value_1, rel=1e-6)


def test_power_law2_normalisation():
    m = S.PowerLaw2(amplitude=3e-11, index=2.4, emin=0.3, emax=30.0)
    assert m.integral(0.3 * u.TeV, 30 * u.TeV).value == pytest.approx(3e-11, rel=1e-12)


def test_gaussian_line_total_flux():
    m = S.GaussianLine(amplitude=1e-11, mean=5.0, sigma=0.5)
    assert m.integral(1 * u.TeV, 20 * u.TeV).value == pytest.approx(1e-11, rel=1e-12)


def test_compound_integrals():
    a, b = S.PowerLaw(index=2.0, amplitude=1e-12), S.PowerLaw(index=3.0, amplitude=2e-12)
    total = (a + b).integral(1 * u.TeV, 10 * u.TeV)
    assert total.value == pytest.approx(
        a.integral(1 * u.TeV, 10 * u.TeV).value + b.integral(1 * u.TeV, 10 * u.TeV).value,
        rel=1e-12,
    )
    scaled = S.ScaledSpectral(a, norm=0.5)
    assert scaled.integral(1 * u.TeV, 10 * u.TeV).value == pytest.approx(0.45e-12, rel=1e-12)
    product = a * S.PowerLawNorm(norm=2.0, tilt=1.0)  # = 2e-12 E^-3
    assert product.integral(1 * u.TeV, 10 * u.TeV).value == pytest.approx(
        2e-12 * (1 - 0.01) / 2, rel=1e-10
    )


def test_public_integral_input_checks():
    pl = S.PowerLaw(index=2.0)
    with pytest.raises(TypeError, match="Quantity"):
        pl.integral(1.0, 10.0)
    with pytest.raises(u.UnitConversionError, match="energy unit"):
        pl.integral(1 * u.m, 10 * u.m)
    with pytest.raises(ValueError, match="energy_min < energy_max"):
        pl.integral(10 * u.TeV, 1 * u.TeV)
    out = pl.integral([1, 2] * u.TeV, [10, 20] * u.TeV)
    assert out.shape == (2,)
