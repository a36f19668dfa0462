"""Simulation-based calibration on map datasets: layout of the draws, known truth, ranks."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from gammaprob.calibrate import SBCError, SBCResult, run_sbc
from gammaprob.calibrate.inject import map_layouts, with_simulated_data
from gammaprob.irf import PSF3D, Background2D, EffectiveArea2D, EnergyDispersion2D
from gammaprob.makers import MapTemplate
from gammaprob.maps import MapAxis, WcsGeom
from gammaprob.modeling import LogUniform, Normal, SkyModel, spatial, spectral
from gammaprob.simulate import make_observation, simulate_map_dataset

CENTRE = SkyCoord(83.6, 22.0, unit="deg")
AMPLITUDE_UNIT = "cm-2 s-1 TeV-1"
FAST = {"chains": 2, "tune": 300, "draws": 300}


def _irfs() -> dict:
    """Flat-area, Gaussian-PSF (0.1 deg), Gaussian-edisp, power-law background IRFs."""
    e_true = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 12, name="energy_true")
    e_reco = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 12, name="energy")
    offset = MapAxis.from_edges(np.linspace(0, 3, 7) * u.deg, name="offset")
    migra = MapAxis.from_edges(np.linspace(0.2, 5, 241), name="migra")
    rad = MapAxis.from_edges(np.linspace(0, 1, 101) * u.deg, name="rad")
    return {
        "aeff": EffectiveArea2D([e_true, offset], np.full((12, 6), 1e5)),
        "edisp": EnergyDispersion2D.from_gauss(e_true, migra, offset, bias=0.0, sigma=0.1),
        "psf": PSF3D.from_gauss(e_true, offset, rad, sigma=0.1 * u.deg),
        "bkg": Background2D.from_power_law(
            e_reco, offset, norm=1e-5 * u.Unit("s-1 MeV-1 sr-1"), index=2.7
        ),
    }


def _source(position=None, amplitude=(1e-12, 1e-11), index=None) -> SkyModel:
    lon, lat = (CENTRE.ra.deg, CENTRE.dec.deg) if position is None else position
    return SkyModel(
        spectral.PowerLaw(
            index=Normal(2.5, 0.3) if index is None else index,
            amplitude=LogUniform(*amplitude, unit=AMPLITUDE_UNIT),
        ),
        spatial.Point(lon_0=lon, lat_0=lat, frame="icrs"),
        name="src",
    )


def _free_position() -> tuple:
    return (
        Normal(CENTRE.ra.deg, 0.05, unit="deg"),
        Normal(CENTRE.dec.deg, 0.05, unit="deg"),
    )


@pytest.fixture(scope="module")
def template():
    """30 x 30 px of 0.05 deg, 3 energy bins; the source's cutout leaves bins outside it."""
    energy = MapAxis.from_energy_bounds(0.5 * u.TeV, 10 * u.TeV, 3, name="energy")
    energy_true = MapAxis.from_energy_bounds(0.3 * u.TeV, 20 * u.TeV, 6, name="energy_true")
    geom = WcsGeom.create(skydir=CENTRE, npix=(30, 30), binsz=0.05, frame="icrs", axes=[energy])
    observation = make_observation(_irfs(), CENTRE, 10 * u.h)
    truth = SkyModel(
        spectral.PowerLaw(index=2.5, amplitude=3e-12 * u.Unit(AMPLITUDE_UNIT)),
        spatial.Point(lon_0=CENTRE.ra, lat_0=CENTRE.dec, frame="icrs"),
        name="src",
    )
    return simulate_map_dataset(
        [truth], MapTemplate(geom, energy_true, name="m"), observation, random_state=2, name="m"
    )


def _observed(template, models) -> np.ndarray:
    from gammaprob.inference import build_model

    model = build_model([template], models)
    return np.asarray(model.rvs_to_values[model["m::counts"]].data)


def test_layout_puts_the_likelihood_bins_back_where_they_came_from(template):
    models = [_source(_free_position())]
    layout = map_layouts([template], models, {})["m"]
    assert 0 < layout.cutout.size < 900  # a cutout, and aggregated bins outside it
    assert layout.outside_energy.tolist() == [0, 1, 2]
    observed = _observed(template, models)
    assert observed.shape == (layout.size,)
    (again,) = with_simulated_data(
        [template], {"m::counts": observed}, map_layouts([template], models, {}), rng=0
    )
    cube, original = np.asarray(again.counts.data), np.asarray(template.counts.data)
    flat, flat0 = cube.reshape(3, -1), original.reshape(3, -1)
    # the cutout bins are the template's, bin for bin
    np.testing.assert_array_equal(flat[:, layout.cutout], flat0[:, layout.cutout])
    # outside: the same totals per energy, spread over the pixels with background only
    outside = np.ones(900, bool)
    outside[layout.cutout] = False
    np.testing.assert_array_equal(flat[:, outside].sum(axis=1), flat0[:, outside].sum(axis=1))
    assert not np.array_equal(flat[:, outside], flat0[:, outside])  # a new multinomial split
    # and the model rebuilt on it observes the same likelihood bins
    np.testing.assert_array_equal(_observed(again, models), observed)


def test_draws_are_poisson_around_the_dense_npred_of_the_truth(template):
    """Known truth: prior draws pinned at one parameter value average to npred_map's cube."""
    import pymc as pm

    from gammaprob.forward import MapResponse, current_values, npred_map
    from gammaprob.inference import build_model

    pinned = _source(amplitude=(2.999e-12, 3.001e-12), index=Normal(2.5, 1e-6))
    truth = SkyModel(
        spectral.PowerLaw(index=2.5, amplitude=3e-12 * u.Unit(AMPLITUDE_UNIT)),
        spatial.Point(lon_0=CENTRE.ra, lat_0=CENTRE.dec, frame="icrs"),
        name="src",
    )
    expected = npred_map(MapResponse.from_dataset(template), [truth], current_values([truth]))
    n = 400
    prior = pm.sample_prior_predictive(
        draws=n, model=build_model([template], [pinned]), var_names=["m::counts"], random_seed=1
    )
    layouts = map_layouts([template], [pinned], {})
    rng = np.random.default_rng(3)
    total = np.zeros_like(expected)
    for draw in prior["prior_predictive"]["m::counts"].values[0]:
        (ds,) = with_simulated_data([template], {"m::counts": draw}, layouts, rng=rng)
        total += np.asarray(ds.counts.data, np.float64).reshape(expected.shape)
    mean = total / n
    mask = np.asarray(template.mask_safe.data, bool).reshape(expected.shape) & (expected > 0)
    z = (mean[mask] - expected[mask]) / np.sqrt(expected[mask] / n)
    assert abs(z.mean()) < 0.1  # mean offset: 0.1 / sqrt(n_bins) sigma would be 3.5 sigma
    assert 0.93 < z.std() < 1.07
    assert np.abs(z).max() < 5.5
    # the counts per energy bin (the source's and the aggregated background's)
    per_energy = expected.sum(axis=1)
    z_energy = (mean.sum(axis=1) - per_energy) / np.sqrt(per_energy / n)
    assert np.all(np.abs(z_energy) < 4), z_energy


def test_map_draw_of_the_wrong_size_and_onoff_maps_are_refused(template):
    from gammaprob.datasets import MapDatasetOnOff

    models = [_source()]
    layouts = map_layouts([template], models, {})
    with pytest.raises(SBCError, match=r"'m::counts' has shape \(7,\), expected"):
        with_simulated_data([template], {"m::counts": np.arange(7)}, layouts)
    with pytest.raises(SBCError, match="map dataset 'm': no layout"):
        with_simulated_data([template], {"m::counts": np.arange(7)})
    from gammaprob.calibrate.inject import observed_names
    from gammaprob.maps import Map

    geom = template.counts.geom
    onoff = MapDatasetOnOff(
        name="onoff",
        counts=template.counts,
        exposure=template.exposure,
        edisp=template.edisp,
        counts_off=Map(geom, data=np.full(geom.data_shape, 7.0)),
        acceptance=Map(geom, data=np.ones(geom.data_shape)),
        acceptance_off=Map(geom, data=np.full(geom.data_shape, 4.0)),
    )
    with pytest.raises(SBCError, match=r"'onoff' of type MapDatasetOnOff.*on/off map datasets"):
        observed_names(onoff)


def test_results_of_chunks_concatenate():
    rng = np.random.default_rng(0)

    def chunk(n):
        return SBCResult(
            {"a": rng.integers(0, 11, n)},
            {"a": {lv: rng.random(n) < lv for lv in (0.5, 0.68, 0.9, 0.95)}},
            10,
            {"rhat_max": np.ones(n), "n_divergent": np.zeros(n, int)},
        )

    first, second = chunk(3), chunk(4)
    joined = SBCResult.concatenate([first, second])
    assert joined.n_replications == 7
    np.testing.assert_array_equal(joined.ranks["a"], np.r_[first.ranks["a"], second.ranks["a"]])
    np.testing.assert_array_equal(joined.inside["a"][0.9][3:], second.inside["a"][0.9])
    other = SBCResult({"a": np.zeros(2, int)}, {"a": {}}, 20, {})
    with pytest.raises(ValueError, match="L = 20"):
        SBCResult.concatenate([first, other])


@pytest.mark.sampling
def test_sbc_on_a_map_dataset_runs_in_ci(template):
    """Two replications of a point source with free position (the CI version of the 3D case)."""
    result = run_sbc(
        template,
        _source(_free_position()),
        n_replications=2,
        n_draws=20,
        sample_kwargs=FAST,
        random_seed=1,
    )
    assert set(result.ranks) == {"src::index", "src::amplitude", "src::lon_0", "src::lat_0"}
    for ranks in result.ranks.values():
        assert ranks.shape == (2,) and np.all((ranks >= 0) & (ranks <= 20))
    assert np.all(result.diagnostics["rhat_max"] < 1.05)


@pytest.mark.slow
@pytest.mark.sampling
def test_sbc_map_ten_replications_ranks_in_range_and_truth_recovered(template):
    """Ten replications: ranks in 0..L, and the position known to the posterior's few sd."""
    result = run_sbc(
        template,
        _source(_free_position()),
        n_replications=10,
        n_draws=30,
        sample_kwargs=FAST,
        random_seed=7,
    )
    assert result.n_replications == 10
    for name, ranks in result.ranks.items():
        assert np.all((ranks >= 0) & (ranks <= 30)), name
        # truth outside the posterior (rank 0 or L): probability 2/31 each when calibrated
        assert np.sum((ranks == 0) | (ranks == 30)) <= 3, name
    assert result.coverage()["src::lon_0"]["0.95"]["empirical"] >= 0.7
    assert np.all(result.diagnostics["rhat_max"] < 1.05)


def test_bright_off_centre_draws_match_the_npred_the_fit_model_predicts(template):
    """SBC's own setting, bright: truth 0.15 deg off the cutout centre (3 prior sd), 1e-11.

    The prior-predictive draws (free-position prior, so the cutout is the one SBC uses) pinned
    at that truth, put back into the cube, average to the dense ``npred_map`` on every bin of
    the full map; and the model rebuilt on one simulated cube predicts, at the truth, exactly
    the npred the draws came from (nothing in the rebuilt model depends on the counts).
    """
    import pymc as pm
    from pymc.model.transform.conditioning import remove_value_transforms

    from gammaprob.forward import MapResponse, current_values, npred_map
    from gammaprob.inference import build_model

    lon, lat = CENTRE.ra.deg + 0.12, CENTRE.dec.deg - 0.09
    amplitude, index = 1e-11, 2.1
    models = [_source(_free_position())]
    model = build_model([template], models)
    values = {
        "src::index": index,
        "src::amplitude_ln": np.log(amplitude / np.sqrt(1e-12 * 1e-11)),
        "src::lon_0": lon,
        "src::lat_0": lat,
    }
    truth = SkyModel(
        spectral.PowerLaw(index=index, amplitude=amplitude * u.Unit(AMPLITUDE_UNIT)),
        spatial.Point(lon_0=lon * u.deg, lat_0=lat * u.deg, frame="icrs"),
        name="src",
    )
    expected = npred_map(MapResponse.from_dataset(template), [truth], current_values([truth]))
    n = 400
    pinned = pm.do(model, values)
    prior = pm.sample_prior_predictive(
        draws=n, model=pinned, var_names=["m::counts"], random_seed=5
    )
    layouts = map_layouts([template], models, {})
    rng = np.random.default_rng(6)
    total = np.zeros_like(expected)
    draws = prior["prior_predictive"]["m::counts"].values[0]
    for draw in draws:
        (ds,) = with_simulated_data([template], {"m::counts": draw}, layouts, rng=rng)
        total += np.asarray(ds.counts.data, np.float64).reshape(expected.shape)
    mean = total / n
    mask = np.asarray(template.mask_safe.data, bool).reshape(expected.shape) & (expected > 0)
    z = (mean[mask] - expected[mask]) / np.sqrt(expected[mask] / n)
    assert abs(z.mean()) < 0.1
    assert 0.93 < z.std() < 1.07
    assert np.abs(z).max() < 5.5
    # the source's bins (signal >= 1 count) summed: a 2 % flux offset moves z_core by 8.5
    signal = expected - MapResponse.from_dataset(template).background.reshape(expected.shape)
    core = mask & (signal > 1.0)
    z_core = (mean[core].sum() - expected[core].sum()) / np.sqrt(expected[core].sum() / n)
    assert abs(z_core) < 4, z_core

    def npred_at_truth(m):
        m = remove_value_transforms(m)
        (npred,) = [
            x for x in m["m::counts"].owner.inputs if getattr(x.type, "dtype", "") == "float64"
        ]
        (mu,) = m.replace_rvs_by_values([npred])
        return m.compile_fn(mu, inputs=m.value_vars, on_unused_input="ignore")(values)

    (again,) = with_simulated_data([template], {"m::counts": draws[0]}, layouts, rng=1)
    np.testing.assert_array_equal(
        npred_at_truth(build_model([again], models)), npred_at_truth(model)
    )
