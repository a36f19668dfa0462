"""Build-time warning about a reference energy far outside the data (the 3FHL Crab file)."""

from __future__ import annotations

import warnings

import astropy.units as u
import pytest

from gammaprob.inference import build_model
from gammaprob.inference.model_checks import ReferenceEnergyWarning, check_reference_energies
from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral
from gammaprob.simulate import parametric_spectrum_dataset

AMPLITUDE = LogUniform(1e-14, 1e-8, unit="cm-2 s-1 TeV-1")


def _crab(reference: u.Quantity) -> SkyModel:
    lp = spectral.LogParabola(
        amplitude=AMPLITUDE, reference=reference, alpha=Normal(2.0, 1.0), beta=Normal(0.04, 1.0)
    )
    return SkyModel(lp, name="crab")


def _dataset():
    """True energies 0.03 to 300 TeV: references from 3 GeV to 3 PeV pass."""
    return parametric_spectrum_dataset(name="d", n_bins=6, n_bins_true=12)


def test_reference_three_decades_below_the_data_warns_with_the_fix():
    with pytest.warns(ReferenceEnergyWarning) as caught:
        build_model(_dataset(), _crab(50.5 * u.MeV))
    (message,) = [str(w.message) for w in caught if w.category is ReferenceEnergyWarning]
    assert "'crab'" in message and "5.05e-05 TeV" in message and "LogParabola" in message
    assert "0.03 to 300 TeV" in message and "['d']" in message
    assert "spectral.repivot(3 * u.TeV)" in message  # geometric mean of the range


@pytest.mark.parametrize(
    ("reference", "warns"),
    [(3.1 * u.GeV, False), (2.9 * u.GeV, True), (2900 * u.TeV, False), (3100 * u.TeV, True)],
)
def test_one_decade_outside_the_true_energy_range_is_the_limit(reference, warns):
    ranges = {"d": (0.03, 300.0)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = check_reference_energies([_crab(reference)], ranges)
    assert bool(messages) is warns
    assert len(caught) == len(messages)


def test_fixed_amplitude_other_datasets_and_flux_points_are_respected():
    fixed = SkyModel(
        spectral.PowerLaw(index=Normal(2.5, 1.0), amplitude=1e-12, reference=1 * u.MeV),
        name="fixed",
    )
    assert check_reference_energies([fixed], {"d": (0.03, 300.0)}) == []
    only_d = _crab(50.5 * u.MeV)
    only_d.datasets_names = ["other"]  # applies to a dataset without energies given
    assert check_reference_energies([only_d], {"d": (0.03, 300.0)}) == []
    # the union of the ranges: a low-energy flux-point set covers 50.5 MeV
    ranges = {"d": (0.03, 300.0), "fermi": (1e-4, 0.1)}
    assert check_reference_energies([_crab(50.5 * u.MeV)], ranges) == []


def test_repivoted_model_builds_without_warning():
    """The fix the message names: re-pivot the values, then set the priors."""
    file_values = spectral.LogParabola(
        amplitude=0.3781 * u.Unit("cm-2 s-1 MeV-1"), reference=50.5 * u.MeV, alpha=1.48, beta=0.04
    )
    lp = file_values.repivot(3 * u.TeV)
    lp.amplitude.prior = AMPLITUDE
    build_model(_dataset(), SkyModel(lp, name="crab"))  # warnings are errors
