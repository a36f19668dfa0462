"""SensitivityEstimator: definitions on synthetic spectra and parity with gammapy (prod5)."""

import astropy.units as u
import numpy as np
import pytest
from numpy.testing import assert_allclose

from gammaprob.datasets import SpectrumDataset, SpectrumDatasetOnOff
from gammaprob.estimators import SensitivityEstimator
from gammaprob.estimators.sensitivity import apply_sensitivity_thresholds
from gammaprob.maps import MapAxis
from gammaprob.stats import li_ma_significance


def _axes(edges):
    return (
        MapAxis.from_edges(edges, interp="log", name="energy"),
        MapAxis.from_edges(edges, interp="log", name="energy_true"),
    )


@pytest.fixture
def spectrum():
    e, et = _axes([0.1, 0.3, 1, 3, 10] * u.TeV)
    return SpectrumDataset(
        name="syn",
        counts=np.zeros(4),
        exposure=[1e8, 3e8, 5e8, 6e8] * u.Unit("m2 s"),
        energy_axis=e,
        energy_axis_true=et,
        background=[40000.0, 300.0, 20.0, 0.5],
    )


def test_definitions(spectrum):
    table = SensitivityEstimator(gamma_min=10, n_sigma=5, bkg_syst_fraction=0.05).run(
        spectrum, alpha=0.2
    )
    assert list(table["criterion"]) == ["bkg", "significance", "significance", "gamma"]
    bkg = np.array(spectrum.background)
    assert_allclose(table["background"], bkg, rtol=1e-14)
    excess = np.array(table["excess"])
    assert_allclose(excess[0], 0.05 * 40000)
    assert excess[3] == 10
    assert_allclose(li_ma_significance(excess[1:3] + bkg[1:3], bkg[1:3] / 0.2, 0.2), 5, rtol=1e-10)
    # diagonal response, index 2: npred = exposure * A E0 (1/E1 - 1/E2); e2dnde = norm A E0^2
    edges = spectrum.energy_axis.edges.to_value("TeV")
    npred = spectrum.exposure.to_value("cm2 s") * (1 / edges[:-1] - 1 / edges[1:])
    expected = (excess / npred * u.Unit("TeV cm-2 s-1")).to_value("erg cm-2 s-1")
    assert_allclose(table["e2dnde"].quantity.to_value("erg cm-2 s-1"), expected, rtol=1e-12)
    assert table.meta["n_sigma"] == 5 and "index=2" in table.meta["reference"]


def test_thresholds_and_errors(spectrum):
    excess, crit = apply_sensitivity_thresholds(
        np.array([5.0, 50.0, 50.0]), np.array([1, 10, 2000.0]), 10, 0.05
    )
    assert_allclose(excess, [10, 50, 100]) and list(crit) == ["gamma", "significance", "bkg"]
    with pytest.raises(ValueError, match="alpha"):
        SensitivityEstimator().run(spectrum)
    with pytest.raises(ValueError, match="alpha must be finite and positive"):
        SensitivityEstimator().run(spectrum, alpha=-1)
    with pytest.raises(ValueError, match="not on/off"):
        SensitivityEstimator().run(spectrum.replace(background=None), alpha=0.2)
    with pytest.raises(ValueError, match="n_sigma"):
        SensitivityEstimator(n_sigma=0)
    with pytest.raises(TypeError, match="SpectrumDataset"):
        SensitivityEstimator().run(np.zeros(3), alpha=0.2)


def _gammapy_prod5(gammapy_data):
    from astropy.coordinates import SkyCoord
    from gammapy.data import FixedPointingInfo, Observation, observatory_locations
    from gammapy.datasets import SpectrumDataset as GSpectrum
    from gammapy.irf import load_irf_dict_from_file
    from gammapy.makers import SpectrumDatasetMaker
    from gammapy.maps import MapAxis as GAxis
    from gammapy.maps import RegionGeom
    from regions import CircleSkyRegion

    axis = GAxis.from_energy_bounds(0.03 * u.TeV, 30 * u.TeV, nbin=20)
    axis_true = GAxis.from_energy_bounds(0.01 * u.TeV, 100 * u.TeV, nbin=100, name="energy_true")
    region = CircleSkyRegion(SkyCoord(0, 0.5, unit="deg"), 0.1 * u.deg)
    empty = GSpectrum.create(
        geom=RegionGeom.create(region, axes=[axis]), energy_axis_true=axis_true
    )
    path = (
        gammapy_data / "cta-caldb" / "Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
    )
    obs = Observation.create(
        pointing=FixedPointingInfo(fixed_icrs=SkyCoord(0, 0, unit="deg")),
        irfs=load_irf_dict_from_file(path),
        livetime=50 * u.h,
        location=observatory_locations["cta_south"],
    )
    dataset = SpectrumDatasetMaker(selection=["exposure", "edisp", "background"]).run(empty, obs)
    e, et = (MapAxis.from_edges(a.edges, interp="log", name=a.name) for a in (axis, axis_true))
    ours = SpectrumDataset(
        name="cta-south",
        counts=np.zeros(axis.nbin),
        exposure=dataset.exposure.quantity.ravel(),
        energy_axis=e,
        energy_axis_true=et,
        edisp=dataset.edisp.get_edisp_kernel().pdf_matrix,
        background=dataset.background.data.ravel(),
        livetime=50 * u.h,
    )
    return dataset, ours


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_prod5_against_gammapy(gammapy_data):
    from gammapy.datasets import SpectrumDatasetOnOff as GOnOff
    from gammapy.estimators import SensitivityEstimator as GSensitivity

    gds, ours = _gammapy_prod5(gammapy_data)
    settings = {"gamma_min": 20, "n_sigma": 5, "bkg_syst_fraction": 0.1}
    # expected OFF counts (alpha = 1/5), as in gammapy's CTA sensitivity tutorial
    theirs = GSensitivity(**settings).run(
        GOnOff.from_spectrum_dataset(dataset=gds, acceptance=1, acceptance_off=5)
    )
    table = SensitivityEstimator(**settings).run(ours, alpha=0.2)
    assert set(table["criterion"]) == {"significance", "gamma", "bkg"}
    assert list(table["criterion"]) == list(theirs["criterion"])
    for name in ("e_ref", "e_min", "e_max", "excess", "background"):
        assert_allclose(
            table[name].quantity.value,
            theirs[name].quantity.to_value(table[name].unit or ""),
            rtol=1e-9,
        )
    assert_allclose(
        table["e2dnde"].quantity.to_value("erg cm-2 s-1"),
        theirs["e2dnde"].quantity.to_value("erg cm-2 s-1"),
        rtol=1e-9,
    )

    # measured (integer) OFF counts through SpectrumDatasetOnOff
    counts_off = np.round(5 * np.asarray(ours.background))
    onoff = SpectrumDatasetOnOff(
        name="onoff",
        counts=np.zeros(20),
        counts_off=counts_off,
        acceptance=np.ones(20),
        acceptance_off=5 * np.ones(20),
        exposure=ours.exposure,
        energy_axis=ours.energy_axis,
        energy_axis_true=ours.energy_axis_true,
        edisp=ours.edisp,
    )
    gonoff = GOnOff.from_spectrum_dataset(dataset=gds, acceptance=1, acceptance_off=5)
    gonoff.counts_off.data = counts_off.reshape(gonoff.counts_off.data.shape)
    theirs = GSensitivity(**settings).run(gonoff)
    table = SensitivityEstimator(**settings).run(onoff)
    assert_allclose(
        table["e2dnde"].quantity.to_value("erg cm-2 s-1"),
        theirs["e2dnde"].quantity.to_value("erg cm-2 s-1"),
        rtol=1e-9,
    )
