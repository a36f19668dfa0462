"""Re-pivoting a power law and a log-parabola keeps the spectrum (the 3FHL Crab case)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammaprob.modeling.prior import Normal
from gammaprob.modeling.spectral import LogParabola, PowerLaw, repivot_log_parabola

ENERGIES = np.geomspace(0.01, 2.0, 25) * u.TeV


def _crab_3fhl() -> LogParabola:
    """The 3FHL model file's Crab log-parabola (reference 50.5 MeV)."""
    return LogParabola(
        amplitude=0.3781 * u.Unit("cm-2 s-1 MeV-1"),
        reference=50.5 * u.MeV,
        alpha=1.484,
        beta=0.03922,
    )


def test_log_parabola_repivot_keeps_the_spectrum_and_moves_amplitude_and_index():
    old = _crab_3fhl()
    new = old.repivot(20 * u.GeV)
    np.testing.assert_allclose(new(ENERGIES).value, old(ENERGIES).value, rtol=1e-12)
    assert new.reference.value == pytest.approx(0.02)
    shift = np.log(20e3 / 50.5)  # 5.98
    assert new.alpha.value == pytest.approx(1.484 + 2 * 0.03922 * shift, rel=1e-12)
    assert new.beta.value == 0.03922
    assert new.amplitude.value == pytest.approx(old(20 * u.GeV).to_value("cm-2 s-1 TeV-1"))
    assert old.reference.value == pytest.approx(5.05e-5)  # the original is left alone


def test_power_law_repivot_keeps_the_spectrum():
    old = PowerLaw(index=2.3, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    new = old.repivot(100 * u.GeV)
    np.testing.assert_allclose(new(ENERGIES).value, old(ENERGIES).value, rtol=1e-12)
    assert new.amplitude.value == pytest.approx(1e-12 * 0.1**-2.3, rel=1e-12)
    assert new.index.value == 2.3


def test_repivot_function_matches_the_method_and_round_trips():
    there = repivot_log_parabola(0.3781, 1.484, 0.03922, 5.05e-5, 0.02)
    back = repivot_log_parabola(*there, 0.02, 5.05e-5)
    np.testing.assert_allclose(back, (0.3781, 1.484, 0.03922), rtol=1e-12)
    with pytest.raises(ValueError, match="new_reference=-1"):
        repivot_log_parabola(1.0, 2.0, 0.1, 1.0, -1)


def test_repivot_refuses_free_parameters():
    """A prior set for one reference energy means something else at another."""
    model = PowerLaw(index=Normal(2.5, 1.0), amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"))
    with pytest.raises(ValueError, match=r"fixed values of \['index'\]"):
        model.repivot(100 * u.GeV)
    with pytest.raises(TypeError, match="energy must be an astropy Quantity"):
        _crab_3fhl().repivot(0.02)
