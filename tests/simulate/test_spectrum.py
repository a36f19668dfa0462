"""Simulated spectrum datasets against analytic IRFs, integrals and Poisson moments."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammaprob.datasets import SpectrumDataset, SpectrumDatasetOnOff
from gammaprob.modeling import SkyModel, spectral
from gammaprob.simulate import (
    parametric_spectrum_dataset,
    predicted_counts,
    simulate_spectrum_dataset,
)

AMPLITUDE, INDEX = 2e-12, 2.6  # cm-2 s-1 TeV-1 at 1 TeV


def _truth():
    pl = spectral.PowerLaw(index=INDEX, amplitude=AMPLITUDE * u.Unit("cm-2 s-1 TeV-1"))
    return SkyModel(pl, name="src")


@pytest.fixture(scope="module")
def template():
    return parametric_spectrum_dataset(name="sim", livetime=2 * u.h, n_bins=8, n_bins_true=20)


def test_template_exposure_and_background_match_the_formulas(template):
    e_true = template.energy_axis_true.center.to_value("TeV")
    # A(E, offset) = A_max / (1 + (E/E_thr)^-3) * exp(-offset^2 / (2 sigma^2)), 0.5 deg, 2 deg
    area = 1e5 / (1 + (e_true / 0.1) ** -3) * np.exp(-0.5 * (0.5 / 2) ** 2)
    np.testing.assert_allclose(template.exposure.to_value("m2 s"), area * 7200, rtol=1e-9)
    # Background: 3e-5 s-1 MeV-1 sr-1 (E/TeV)^-2.7 in a 0.2 deg cone for 2 h, integrated.
    edges = template.energy_axis.edges.to_value("TeV")
    omega = 2 * np.pi * (1 - np.cos(np.deg2rad(0.2)))
    integral = (edges[:-1] ** -1.7 - edges[1:] ** -1.7) / 1.7  # TeV, power law of index 2.7
    expected = 3e-5 * 1e6 * integral * omega * 7200
    np.testing.assert_allclose(template.background, expected, rtol=1e-6)
    assert template.counts.sum() == 0
    assert template.livetime == 2 * u.h


def test_predicted_counts_match_an_independent_fold(template):
    e = template.energy_axis_true.edges.to_value("TeV")
    flux = AMPLITUDE * (e[:-1] ** (1 - INDEX) - e[1:] ** (1 - INDEX)) / (INDEX - 1)
    exposure = template.exposure.to_value("cm2 s")
    expected = (flux * exposure) @ template.edisp
    np.testing.assert_allclose(predicted_counts(_truth(), template), expected, rtol=1e-10)


def test_counts_have_poisson_mean_and_variance(template):
    mu = predicted_counts(_truth(), template) + template.background
    rng = np.random.default_rng(4)
    draws = np.array(
        [simulate_spectrum_dataset(_truth(), template, rng=rng).counts for _ in range(400)]
    )
    z = (draws.mean(axis=0) - mu) / np.sqrt(mu / draws.shape[0])
    assert np.all(np.abs(z) < 4.5)
    big = mu > 20
    np.testing.assert_allclose(draws.var(axis=0, ddof=1)[big], mu[big], rtol=0.25)


def test_onoff_simulation(template):
    ds = simulate_spectrum_dataset(_truth(), template, rng=1, alpha=0.25, name="onoff")
    assert isinstance(ds, SpectrumDatasetOnOff)
    assert ds.name == "onoff" and ds.meta["simulated"]
    np.testing.assert_allclose(ds.alpha, 0.25)
    # from an on/off template the OFF counts of the template are the OFF expectation
    again = simulate_spectrum_dataset(_truth(), ds, rng=2)
    assert isinstance(again, SpectrumDatasetOnOff)
    np.testing.assert_allclose(again.alpha, 0.25)
    rng = np.random.default_rng(3)
    off = np.array(
        [
            simulate_spectrum_dataset(_truth(), template, rng=rng, alpha=0.25).counts_off
            for _ in range(300)
        ]
    )
    expected = template.background / 0.25
    assert np.all(np.abs(off.mean(axis=0) - expected) < 5 * np.sqrt(expected / 300) + 1e-3)


def test_seed_reproduces_and_known_background_kept(template):
    a = simulate_spectrum_dataset(_truth(), template, rng=7)
    b = simulate_spectrum_dataset(_truth(), template, rng=7)
    assert type(a) is SpectrumDataset
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.background, template.background)


def test_bad_input(template):
    with pytest.raises(ValueError, match="alpha"):
        simulate_spectrum_dataset(_truth(), template, alpha=0.0)
    onoff = simulate_spectrum_dataset(_truth(), template, rng=1, alpha=0.2)
    with pytest.raises(ValueError, match="taken from the on/off template"):
        simulate_spectrum_dataset(_truth(), onoff, alpha=0.2)
    no_bkg = template.replace(background=None)
    with pytest.raises(ValueError, match="needs a template with a background"):
        simulate_spectrum_dataset(_truth(), no_bkg, alpha=0.2)
    with pytest.raises(TypeError, match="rng"):
        simulate_spectrum_dataset(_truth(), template, rng="seed")
    with pytest.raises(TypeError, match="template"):
        simulate_spectrum_dataset(_truth(), object())
    with pytest.raises(ValueError, match="livetime"):
        parametric_spectrum_dataset(livetime=0 * u.s)


def test_models_restricted_to_other_datasets_add_no_counts(template):
    pl = spectral.PowerLaw(index=INDEX, amplitude=AMPLITUDE * u.Unit("cm-2 s-1 TeV-1"))
    only_b = SkyModel(pl, name="src", datasets_names=["b"])
    np.testing.assert_allclose(
        predicted_counts(only_b, template, name="b"), predicted_counts(_truth(), template)
    )
    assert np.all(predicted_counts(only_b, template, name="a") == 0)
    ds = simulate_spectrum_dataset(only_b, template, rng=0, name="b")
    signal = predicted_counts(_truth(), template).sum()
    assert ds.counts.sum() > template.background.sum() + 0.5 * signal
