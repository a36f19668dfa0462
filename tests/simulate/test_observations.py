"""Simulated observations: CTA IRF files, map/1D datasets by Poisson draws, survey patterns."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

from gammaprob.irf import Background3D, EffectiveArea2D, EnergyDispersion2D, PSF3Gauss
from gammaprob.makers import MapTemplate, SpectrumTemplate
from gammaprob.maps import MapAxis, WcsGeom
from gammaprob.modeling import LogUniform, SkyModel, Uniform, spatial, spectral
from gammaprob.simulate import (
    SimulatedSurvey,
    make_observation,
    read_irfs,
    simulate_map_dataset,
    simulate_observation_spectrum,
    survey_pointings,
)

PROD5 = "$GAMMAPY_DATA/cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
DC1 = "$GAMMAPY_DATA/cta-1dc/caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits"
POINTING = SkyCoord(83.63, 22.01, unit="deg")
SOURCE = SkyCoord(83.63, 22.51, unit="deg")


def _crab(amplitude=3e-11, index=2.5):
    return SkyModel(
        spectral.PowerLaw(index=index, amplitude=amplitude * u.Unit("cm-2 s-1 TeV-1")),
        spatial.Point(lon_0=SOURCE.ra, lat_0=SOURCE.dec),
        name="crab",
    )


def _map_template(center=SOURCE, name="map"):
    energy = MapAxis.from_energy_bounds(0.3 * u.TeV, 10 * u.TeV, 4, name="energy")
    energy_true = MapAxis.from_energy_bounds(0.1 * u.TeV, 30 * u.TeV, 12, name="energy_true")
    geom = WcsGeom.create(skydir=center, npix=(20, 20), binsz=0.05, axes=[energy])
    return MapTemplate(geom, energy_true, name=name)


@pytest.mark.requires_data
@pytest.mark.parametrize("path", [PROD5, DC1], ids=["prod5", "1dc"])
def test_read_irfs(path):
    irfs = read_irfs(path)
    assert isinstance(irfs["aeff"], EffectiveArea2D)
    assert isinstance(irfs["edisp"], EnergyDispersion2D)
    assert isinstance(irfs["psf"], PSF3Gauss)
    assert isinstance(irfs["bkg"], Background3D)


@pytest.mark.requires_data
def test_simulated_observation_pickles_for_dask_workers():
    """Plain pickle (what Dask sends to workers): the same IRFs, still read-only."""
    import pickle

    obs = make_observation(read_irfs(PROD5), POINTING, 0.5 * u.h, obs_id=7)
    back = pickle.loads(pickle.dumps(obs))
    for name in ("aeff", "edisp", "psf", "bkg"):
        irf, copy = getattr(obs, name), getattr(back, name)
        assert type(copy) is type(irf)
        assert dict(copy.meta) == dict(irf.meta)
        with pytest.raises(TypeError):
            copy.meta["NEW"] = 1  # read-only mapping, as built
        data = copy.data if isinstance(copy.data, np.ndarray) else copy.data["sigma_1"]
        with pytest.raises(ValueError, match="read-only"):
            data[...] = 0.0
    energy = [0.5, 2.0, 8.0] * u.TeV
    offset = [0.2, 0.5, 1.0] * u.deg
    np.testing.assert_array_equal(
        back.aeff.evaluate(energy_true=energy, offset=offset),
        obs.aeff.evaluate(energy_true=energy, offset=offset),
    )


@pytest.mark.requires_data
@pytest.mark.parametrize("path", [PROD5, DC1], ids=["prod5", "1dc"])
def test_map_dataset_counts_are_poisson_draws_of_npred(path):
    from gammaprob.simulate.observations import _npred_map

    obs = make_observation(read_irfs(path), POINTING, 0.5 * u.h)
    template = _map_template()
    totals = []
    for seed in range(20):
        ds = simulate_map_dataset([_crab()], template, obs, random_state=seed)
        totals.append(ds.counts.data.sum())
    assert ds.meta["simulated"] and ds.name == "map-1"
    assert ds.background is not None and ds.background.data.sum() > 0
    npred = _npred_map(ds, [_crab()])
    source = npred - ds.background.data
    assert source.sum() > 100  # the source is there, on top of the background
    # the brightest pixel of the source image is at the source position
    image = source.sum(axis=0)
    iy, ix = np.unravel_index(np.argmax(image), image.shape)
    peak = template.geom.to_image().get_coord().skycoord[iy, ix]
    assert peak.separation(SOURCE).deg < 0.05
    z = (np.mean(totals) - npred.sum()) / np.sqrt(npred.sum() / len(totals))
    assert abs(z) < 4.5


@pytest.mark.requires_data
def test_survey_of_hundreds_of_pointings_is_lazy():
    pointings = survey_pointings([-60, 60] * u.deg, [-1, 1] * u.deg, 1 * u.deg)
    assert len(pointings) == 242
    survey = SimulatedSurvey(read_irfs(PROD5), pointings, 0.5 * u.h, first_obs_id=1000)
    assert len(survey) == 242 and survey.obs_ids[-1] == 1241
    last = survey.observation(241)
    assert last.obs_id == 1241
    assert last.get_pointing_icrs().separation(pointings[241]).deg < 1e-9
    # start times follow one another
    assert (last.tstart - survey.observation(0).tstart).to_value(u.h) == pytest.approx(241 * 0.5)
    datasets = survey.map_datasets([_crab()], _map_template(), random_state=1)
    first, second = next(datasets), next(datasets)
    assert first.name == "map-1000" and second.name == "map-1001"
    for ds, pointing in zip((first, second), pointings[:2], strict=True):
        centre = ds.counts.geom.to_image().center_skydir
        assert centre.separation(pointing).deg < 1e-6


def test_survey_pointings_bad_input():
    with pytest.raises(ValueError, match="lon_step must be > 0"):
        survey_pointings(lon_step=0 * u.deg)


@pytest.mark.sampling
def test_simulated_then_fitted_truth_is_recovered():
    """1D dataset from parametric IRFs via the makers; the MAP recovers the truth."""
    from gammaprob.inference import build_model, find_map

    from .test_events import _irfs

    obs = make_observation(_irfs(), SkyCoord(83.6, 22.0, unit="deg"), 20 * u.h)
    template = SpectrumTemplate(
        CircleSkyRegion(SkyCoord(83.6, 22.5, unit="deg"), 0.2 * u.deg),
        MapAxis.from_energy_bounds(0.5 * u.TeV, 20 * u.TeV, 12, name="energy"),
        MapAxis.from_energy_bounds(0.2 * u.TeV, 50 * u.TeV, 30, name="energy_true"),
    )
    truth = {"amplitude": 2e-12, "index": 2.4}
    dataset = simulate_observation_spectrum(
        [_crab(truth["amplitude"], truth["index"])], template, obs, random_state=3
    )
    fit = SkyModel(
        spectral.PowerLaw(
            index=Uniform(1.0, 4.0),
            amplitude=LogUniform(1e-14, 1e-10, unit="cm-2 s-1 TeV-1"),
        ),
        name="crab",
    )
    point = find_map(build_model([dataset], [fit]), random_seed=1)
    # statistical errors of this exposure: about 1 % on the amplitude, 0.01 on the index
    assert float(point["crab::index"]) == pytest.approx(truth["index"], abs=0.05)
    assert float(point["crab::amplitude"]) == pytest.approx(truth["amplitude"], rel=0.06)


def test_dataset_without_background_irf_is_a_clear_error():
    from gammaprob.simulate import SamplingError

    from .test_events import _irfs

    irfs = {k: v for k, v in _irfs().items() if k != "bkg"}
    obs = make_observation(irfs, POINTING, 1 * u.h)
    template = _map_template()
    with pytest.raises(SamplingError, match=r"no background IRF \(bkg\).*background=False"):
        simulate_map_dataset([_crab()], template, obs, random_state=1)
    region = CircleSkyRegion(SOURCE, 0.2 * u.deg)
    spectrum = SpectrumTemplate(
        region, template.energy_axis, template.energy_axis_true, name="spec"
    )
    with pytest.raises(SamplingError, match=r"no background IRF \(bkg\)"):
        simulate_observation_spectrum([_crab()], spectrum, obs, random_state=1)
    ds = simulate_map_dataset([_crab()], template, obs, random_state=1, background=False)
    assert ds.background is None and ds.counts.data.sum() > 0
