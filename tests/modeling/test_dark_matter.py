"""Dark-matter annihilation: PPPC4 tables, interpolation, the flux model, J-factor priors,
and the stacked upper limit over simulated dwarfs (validation/dark_matter/study.py)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

from gammaprob.modeling import (
    DarkMatterAnnihilation,
    Models,
    Uniform,
    jfactor_prior,
    read_annihilation_table,
)
from gammaprob.modeling.dark_matter import stacked_annihilation_models

STUDY = Path(__file__).parents[2] / "validation" / "dark_matter" / "study.py"
DNDE = u.Unit("cm-2 s-1 TeV-1")


def _study():
    spec = importlib.util.spec_from_file_location("dm_study", STUDY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def table():
    return read_annihilation_table()


@pytest.mark.requires_data
def test_table_grid_and_channels(table, gammapy_data):
    path = gammapy_data / "dark_matter_spectra" / "PPPC4DMID" / "AtProduction_gammas.dat"
    raw = np.loadtxt(path, skiprows=1)
    assert table.mass.size == 62 and table.log10x.size == 179
    assert table.mass[0] == 5.0 and table.mass[-1] == 1e5 and table.log10x[-1] == 0.0
    for name in ("b", "tau", "mu", "W", "Z", "gamma", "h", "t", "nu_mu", "V->tau", "muL"):
        assert name in table.channels
    # every tabulated value is read at its place: b bbar is column 13, tau column 10
    for column, channel in ((13, "b"), (10, "tau"), (17, "W")):
        values = raw[:, column].reshape(62, 179)
        np.testing.assert_array_equal(table.dnd_log10x[channel], values)


@pytest.mark.requires_data
def test_interpolation_reproduces_table_at_nodes_and_is_linear_in_ln_mass(table):
    values = table.dnd_log10x["b"]
    for i in (0, 17, 40, 61):
        np.testing.assert_array_equal(table.spectrum("b", table.mass[i]), values[i])
    # between two tabulated masses: linear in ln m at every tabulated log10 x
    m0, m1 = table.mass[30], table.mass[31]
    m = m0**0.3 * m1**0.7
    w = math.log(m / m0) / math.log(m1 / m0)
    np.testing.assert_allclose(
        table.spectrum("b", m), (1 - w) * values[30] + w * values[31], rtol=1e-14, atol=0
    )
    # the flux model at a tabulated mass and tabulated x equals the table row
    model = DarkMatterAnnihilation(mass=m1 * u.GeV, channel="b")
    energy = m1 * 10.0 ** table.log10x[60:170:7] / 1e3  # TeV
    expected = values[31][60:170:7] / (energy * math.log(10))
    np.testing.assert_allclose(model.dnde_per_annihilation(energy), expected, rtol=1e-12)


@pytest.mark.requires_data
def test_spectrum_is_zero_above_the_mass(table):
    model = DarkMatterAnnihilation(mass=500 * u.GeV, channel="tau")
    energy = np.array([0.499, 0.5, 0.501, 2.0])
    out = model.dnde_per_annihilation(energy)
    assert out[0] > 0 and out[1] > 0 and out[2] == 0 and out[3] == 0


@pytest.mark.requires_data
def test_exact_integral_against_fine_quadrature():
    model = DarkMatterAnnihilation(mass=800 * u.GeV, channel="b", sigma_v=1e-24, jfactor=1e19)
    lo = np.array([0.01, 0.1, 0.5, 0.7, 1.0])  # one bin contains the edge at 0.8 TeV
    hi = np.array([0.1, 0.5, 0.7, 1.0, 3.0])
    got = model.integrate_with(lo, hi)
    for a, b, value in zip(lo[:-1], hi[:-1], got[:-1], strict=True):
        e = np.geomspace(a, min(b, 0.8), 400001)
        f = model.evaluate_with(e)
        ref = np.sum(0.5 * (f[1:] + f[:-1]) * np.diff(e))
        np.testing.assert_allclose(value, ref, rtol=1e-6)
    assert got[-1] == 0.0


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.parametrize(
    ("mass", "channel", "k"),
    [(1 * u.TeV, "b", 2), (1.7 * u.TeV, "tau", 2), (1234 * u.GeV, "W", 4), (100 * u.TeV, "mu", 2)],
)
def test_equals_gammapy(mass, channel, k):
    """gammapy's model with scale = sigma_v / 3e-26 (masses between table nodes included)."""
    from gammapy.astro.darkmatter import DarkMatterAnnihilationSpectralModel

    energy = np.geomspace(0.01, 200.0, 57) * u.TeV
    ours = DarkMatterAnnihilation(mass=mass, channel=channel, sigma_v=6e-26, jfactor=3e19, k=k)
    theirs = DarkMatterAnnihilationSpectralModel(
        mass=mass, channel=channel, scale=2.0, jfactor=3e19 * u.Unit("GeV2 cm-5"), k=k
    )
    a = ours(energy).to_value(DNDE)
    b = theirs(energy).to_value(DNDE)
    np.testing.assert_array_equal(a == 0, b == 0)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)


@pytest.mark.parametrize("median", [0.0, -1e19, math.nan, -3e18 * u.Unit("GeV2 cm-5")])
def test_jfactor_prior_non_positive_median_is_an_error(median):
    with pytest.raises(ValueError, match=r"J-factor prior: the median must be a positive"):
        jfactor_prior(median, 0.3)


def test_jfactor_prior_units_and_width():
    prior = jfactor_prior(1e19, 0.3)
    assert prior.unit == u.Unit("GeV2 cm-5")
    np.testing.assert_allclose(prior.mu, math.log(1e19))
    np.testing.assert_allclose(prior.sigma, 0.3 * math.log(10))
    draws = np.log10(prior.sample(np.random.default_rng(1), 20000))
    assert abs(np.median(draws) - 19) < 0.01 and abs(np.std(draws) - 0.3) < 0.01
    converted = jfactor_prior(1e16 * u.Unit("TeV2 cm-5"), 0.3)  # = 1e22 GeV2 cm-5
    np.testing.assert_allclose(converted.mu, math.log(1e22), rtol=1e-12)
    with pytest.raises(u.UnitConversionError, match="J-factor median"):
        jfactor_prior(1e19 * u.TeV, 0.3)
    with pytest.raises(ValueError, match="sigma_log10 must be > 0"):
        jfactor_prior(1e19, 0.0)


@pytest.mark.requires_data
def test_bad_mass_channel_and_k():
    with pytest.raises(ValueError, match=r"mass 200000 GeV is outside the table"):
        DarkMatterAnnihilation(mass=200 * u.TeV, channel="b")
    with pytest.raises(ValueError, match="unknown annihilation channel 'bb'"):
        DarkMatterAnnihilation(mass=1 * u.TeV, channel="bb")
    with pytest.raises(ValueError, match="k must be 2"):
        DarkMatterAnnihilation(mass=1 * u.TeV, channel="b", k=3)
    with pytest.raises(TypeError, match="mass must be an energy Quantity"):
        DarkMatterAnnihilation(mass=1000.0, channel="b")


@pytest.mark.requires_data
def test_yaml_round_trip_and_shared_sigma_v(tmp_path):
    models, sigma_v = stacked_annihilation_models(
        {"a": jfactor_prior(1e19, 0.2), "b": jfactor_prior(3e18, 0.4)},
        mass=2 * u.TeV,
        channel="tau",
        sigma_v=Uniform(0.0, 1e-22, unit="cm3 s-1"),
    )
    assert models[0].spectral.sigma_v is sigma_v is models[1].spectral.sigma_v
    assert models[1].datasets_names == ["b"]
    path = tmp_path / "dm.yaml"
    Models(models).write(path)
    back = Models.read(path)
    spectra = [m.spectral for m in back]
    assert spectra[0].sigma_v is spectra[1].sigma_v  # the link survives
    assert spectra[1].jfactor.prior == models[1].spectral.jfactor.prior
    assert spectra[0].mass == 2 * u.TeV and spectra[0].channel == "tau"
    energy = np.geomspace(0.05, 3, 9) * u.TeV
    np.testing.assert_allclose(spectra[1](energy).value, models[1].spectral(energy).value)


@pytest.mark.requires_data
def test_stacked_upper_limit_coverage_small():
    """20 replications at a true sigma_v near the sensitivity: the 95 % limit covers."""
    study = _study()
    built = study.build(seed=2)
    assert built.sigma_v_name == "dwarf_a::sigma_v"
    names = [v.name for v in built.model.free_RVs]
    assert sum("sigma_v" in n for n in names) == 1  # one shared cross-section
    assert sum("jfactor" in n for n in names) == len(study.DWARFS)
    result = study.quadrature_coverage(built, 3e-24, n=20, seed=11)
    assert result["covered"] >= 18  # expected 19 of 20; binomial P(<= 17) = 0.075
    # limits are informative: well below the prior's upper end and above the truth scale
    assert 3e-24 < result["median_limit"] < 3e-23


@pytest.mark.slow
@pytest.mark.sampling
@pytest.mark.requires_data
def test_stacked_nuts_limit_equals_quadrature():
    """NUTS marginal posterior of sigma_v equals direct marginalisation of the J-factors."""
    study = _study()
    built = study.build(seed=3)
    rng = np.random.default_rng(5)
    result, _ = study.replicate(built, 3e-24, rng, draws=1000, tune=600)
    grid, density = study.quadrature_posterior(built, study.unit_counts(built))
    nuts = study.upper_limit(result, built.sigma_v_name)
    quad = study.quadrature_upper_limit(grid, density)
    assert nuts == pytest.approx(quad, rel=0.05)
    samples = np.asarray(result["posterior"][built.sigma_v_name]).ravel()
    mean = np.trapezoid(grid * density, grid) / np.trapezoid(density, grid)
    assert samples.mean() == pytest.approx(mean, rel=0.05)
