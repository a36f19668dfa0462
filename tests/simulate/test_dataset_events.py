"""Events drawn from a map dataset's npred: binned back they are Poisson draws of npred."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import scipy.stats
from astropy.coordinates import SkyCoord

from gammaprob.irf import PSF3D, Background2D, EffectiveArea2D, EnergyDispersion2D
from gammaprob.makers import MapDatasetMaker, MapTemplate
from gammaprob.maps import MapAxis, WcsGeom
from gammaprob.modeling import FoVBackgroundModel, SkyModel, spatial, spectral
from gammaprob.simulate import (
    EventSampler,
    SamplingError,
    dataset_npred_components,
    make_observation,
    sample_dataset_events,
)

POINTING = SkyCoord(83.6, 22.0, unit="deg")
SOURCE = SkyCoord(83.7, 22.1, unit="deg")
N_SEEDS = 200


def _irfs() -> dict:
    e_true = MapAxis.from_energy_bounds(0.05 * u.TeV, 100 * u.TeV, 30, name="energy_true")
    offset = MapAxis.from_edges(np.linspace(0, 3, 7) * u.deg, name="offset")
    migra = MapAxis.from_edges(np.linspace(0.2, 2.0, 181), name="migra")
    rad = MapAxis.from_edges(np.linspace(0, 1.0, 201) * u.deg, name="rad")
    energy = MapAxis.from_energy_bounds(0.05 * u.TeV, 100 * u.TeV, 30, name="energy")
    return {
        "aeff": EffectiveArea2D.from_parametrization(e_true, offset),
        "edisp": EnergyDispersion2D.from_gauss(e_true, migra, offset, sigma=0.1, bias=0.0),
        "psf": PSF3D.from_gauss(e_true, offset, rad, sigma=0.08 * u.deg),
        "bkg": Background2D.from_power_law(
            energy, offset, norm=3e-4 * u.Unit("s-1 MeV-1 sr-1"), index=2.7
        ),
    }


def _models(norm=1.2, shift=0.0 * u.deg):
    source = SkyModel(
        spectral.PowerLaw(index=2.4, amplitude=2e-11 * u.Unit("cm-2 s-1 TeV-1")),
        spatial.Gaussian(
            lon_0=SOURCE.galactic.l + shift,
            lat_0=SOURCE.galactic.b,
            sigma=0.1 * u.deg,
            frame="galactic",
        ),
        name="src",
    )
    return [source, FoVBackgroundModel(dataset_name="sim", norm=norm)]


@pytest.fixture(scope="module")
def dataset():
    observation = make_observation(_irfs(), POINTING, 2 * u.h, obs_id=3)
    energy = MapAxis.from_energy_bounds(0.5 * u.TeV, 10 * u.TeV, 4, name="energy")
    energy_true = MapAxis.from_energy_bounds(0.2 * u.TeV, 30 * u.TeV, 12, name="energy_true")
    geom = WcsGeom.create(
        skydir=POINTING, npix=(16, 12), binsz=0.05, frame="galactic", axes=[energy]
    )
    dataset = MapDatasetMaker().run(MapTemplate(geom, energy_true), observation)
    return dataset.replace(name="sim")


def _binned(dataset, events, mc_id=None) -> np.ndarray:
    """Events histogrammed back onto the dataset's counts geometry."""
    table = events.table
    if mc_id is not None:
        table = table[table["MC_ID"] == mc_id]
    sky = SkyCoord(table["RA"], table["DEC"], frame="icrs")
    geom = dataset.counts.geom
    x, y = geom.to_image().coord_to_pix(sky)
    e = dataset.energy_axis.coord_to_pix(table["ENERGY"].quantity)
    ix, iy, ie = (np.rint(np.asarray(p)).astype(int) for p in (x, y, e))
    counts = np.zeros(dataset.counts.data.shape)
    np.add.at(counts, (ie, iy, ix), 1)
    return counts


def _deviance(counts: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Poisson deviance summed over the bins (last axes), for one or many count arrays."""
    term = mu - counts + scipy.special.xlogy(counts, counts / mu)
    return 2 * term.reshape(*counts.shape[: counts.ndim - mu.ndim], -1).sum(-1)


def _pvalues(dataset, npred, models, n_seeds) -> np.ndarray:
    """Deviance p-value of each seed's binned events against exact Poisson draws of npred."""
    reference = _deviance(np.random.default_rng(0).poisson(npred, (4000, *npred.shape)), npred)
    sampler = EventSampler(random_state=12345)
    values = []
    for _ in range(n_seeds):
        counts = _binned(dataset, sampler.run_dataset(dataset, models))
        values.append(np.mean(reference >= _deviance(counts, npred)))
    return np.array(values)


def test_binned_events_are_poisson_draws_of_npred(dataset):
    models = _models()
    components = dataset_npred_components(dataset, models)
    assert list(components) == ["background", "src"]
    npred = components["background"] + components["src"]
    assert npred.sum() > 800 and components["src"].sum() > 200
    pvalues = _pvalues(dataset, npred, models, N_SEEDS)
    assert scipy.stats.kstest(pvalues, "uniform").pvalue > 0.01


def test_goodness_of_fit_has_power(dataset):
    """Events of a source misplaced by 0.15 deg (three pixels) fail against the true npred."""
    npred = sum(dataset_npred_components(dataset, _models()).values())
    pvalues = _pvalues(dataset, npred, _models(shift=0.15 * u.deg), 40)
    assert scipy.stats.kstest(pvalues, "uniform").pvalue < 1e-6


def test_components_and_columns(dataset):
    models = _models()
    components = dataset_npred_components(dataset, models)
    gti = dataset.gti
    n = 30
    totals = {0: [], 1: []}
    events = None
    for seed in range(n):
        events = sample_dataset_events(dataset, models, random_state=seed)
        for mc_id in totals:
            totals[mc_id].append(_binned(dataset, events, mc_id))
    for mc_id, name in ((0, "background"), (1, "src")):
        mean = np.mean(totals[mc_id], axis=0)
        expected = components[name]
        # total per energy bin within 4 sigma of the mean of n Poisson draws
        per_energy, mu = mean.sum(axis=(1, 2)), expected.sum(axis=(1, 2))
        assert np.all(np.abs(per_energy - mu) < 4 * np.sqrt(mu / n) + 1e-9)
    table = events.table
    assert np.all(np.diff(table["TIME"].quantity.to_value("s")) >= 0)
    time = table["TIME"].quantity.to_value("s")
    assert time.min() >= gti.met_start.to_value("s").min()
    assert time.max() <= gti.met_stop.to_value("s").max()
    edges = dataset.energy_axis.edges.to_value("TeV")
    assert table["ENERGY"].quantity.to_value("TeV").min() >= edges[0]
    assert table["ENERGY"].quantity.to_value("TeV").max() <= edges[-1]
    assert table.meta["DATASET"] == "sim"
    assert table.meta["MJDREFI"] == gti.time_ref_info.to_header()["MJDREFI"]


def test_background_norm_scales_background_events(dataset):
    base = dataset_npred_components(dataset, _models(norm=1.0))["background"]
    scaled = dataset_npred_components(dataset, _models(norm=1.5))["background"]
    np.testing.assert_allclose(scaled, 1.5 * base, rtol=1e-12)
    assert np.allclose(base, dataset.background.data)


def test_without_background(dataset):
    events = sample_dataset_events(dataset, _models()[:1], random_state=1, background=False)
    assert set(np.unique(events.table["MC_ID"])) == {1}
    assert list(dataset_npred_components(dataset, _models(), background=False)) == ["src"]


def test_expected_counts_need_no_gti(dataset):
    """A dataset read from a file without GTIs still gives its npred (times need GTIs)."""
    with_gti = dataset_npred_components(dataset, _models())
    without = dataset_npred_components(dataset.replace(gti=None), _models())
    assert list(without) == ["background", "src"]
    for name, npred in with_gti.items():
        np.testing.assert_array_equal(without[name], npred)


def test_bad_datasets_are_clear_errors(dataset):
    with pytest.raises(SamplingError, match="no background map"):
        sample_dataset_events(dataset.replace(background=None), _models())
    with pytest.raises(SamplingError, match="no GTI"):
        sample_dataset_events(dataset.replace(gti=None), _models())
    with pytest.raises(SamplingError, match="no exposure map"):
        sample_dataset_events(dataset.replace(exposure=None), _models())
    with pytest.raises(SamplingError, match="more than one FoVBackgroundModel"):
        sample_dataset_events(dataset, [*_models(), FoVBackgroundModel(dataset_name="sim")])
    with pytest.raises(TypeError, match="must be a gammaprob MapDataset"):
        sample_dataset_events(object(), _models())
