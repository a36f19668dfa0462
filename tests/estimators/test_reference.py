"""Power-law reference spectrum: analytic integrals against quadrature, folding, errors."""

import astropy.units as u
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.integrate import quad

from gammaprob.estimators import PowerLawReference


@pytest.mark.parametrize("index", [1.0, 2.0, 2.7, -0.5])
def test_integral_matches_quadrature(index):
    ref = PowerLawReference(index, amplitude=3e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=2 * u.TeV)
    expected = quad(lambda e: ref.dnde(e * u.TeV).value, 0.3, 7.0, epsabs=0, epsrel=1e-12)[0]
    assert_allclose(
        ref.integral(0.3 * u.TeV, 7000 * u.GeV).to_value("cm-2 s-1"), expected, rtol=1e-10
    )
    assert_allclose(ref.dnde(2 * u.TeV).value, 3e-11)


def test_npred_folds_exposure_and_edisp():
    ref = PowerLawReference(2.0)
    edges = [1, 2, 4] * u.TeV
    flux = ref.integral(edges[:-1], edges[1:]).to_value("cm-2 s-1")
    exposure = np.array([[1e10, 2e10], [3e10, 4e10]])  # [E_true, pixel]
    edisp = np.array([[0.9, 0.1], [0.2, 0.8]])
    npred = ref.npred(exposure, edges, edisp)
    expected = np.einsum("tr,tp->rp", edisp, exposure * flux[:, None])
    assert_allclose(npred, expected, rtol=1e-14)
    with pytest.raises(ValueError, match="one row per true-energy bin"):
        ref.npred(exposure[:1], edges, edisp)


def test_bad_reference():
    with pytest.raises(ValueError, match="differential flux"):
        PowerLawReference(2.0, amplitude=1 * u.Unit("cm-2 s-1"))
    with pytest.raises(ValueError, match="positive energy"):
        PowerLawReference(2.0, reference=-1 * u.TeV)
    with pytest.raises(ValueError, match="index"):
        PowerLawReference(np.nan)
    assert "index=2" in repr(PowerLawReference())
