"""Event sampler against independent integrals of the IRFs, temporal models and DataStore."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import scipy.stats
from astropy.coordinates import SkyCoord
from astropy.time import Time

from gammaprob.data import DataStore, write_data_store
from gammaprob.irf import PSF3D, Background2D, EffectiveArea2D, EnergyDispersion2D
from gammaprob.maps import MapAxis
from gammaprob.modeling import SkyModel, spatial, spectral, temporal
from gammaprob.simulate import EventSampler, SamplingError, make_observation

POINTING = SkyCoord(83.6, 22.0, unit="deg")
SOURCE = SkyCoord(83.6, 22.5, unit="deg")  # 0.5 deg offset
SIGMA_PSF, SIGMA_EDISP, BIAS_EDISP = 0.1, 0.1, 0.15  # deg, relative, relative
BKG_NORM, BKG_INDEX = 1e-4, 2.7  # s-1 MeV-1 sr-1 at 1 TeV, flat in offset
AMPLITUDE, INDEX = 1e-10, 2.5  # cm-2 s-1 TeV-1 at 1 TeV
LIVETIME = 4 * 3600.0  # s
E_RECO = np.geomspace(0.5, 5, 7)  # TeV: six reconstructed-energy bins
RINGS = np.array([0.0, 0.15, 0.3])  # deg around the source


def _irfs() -> dict:
    e_true = MapAxis.from_energy_bounds(0.05 * u.TeV, 100 * u.TeV, 40, name="energy_true")
    offset = MapAxis.from_edges(np.linspace(0, 3, 7) * u.deg, name="offset")
    migra = MapAxis.from_edges(np.linspace(0.2, 2.0, 721), name="migra")
    rad = MapAxis.from_edges(np.linspace(0, 1.0, 401) * u.deg, name="rad")
    energy = MapAxis.from_energy_bounds(0.05 * u.TeV, 100 * u.TeV, 30, name="energy")
    return {
        "aeff": EffectiveArea2D.from_parametrization(e_true, offset),
        "edisp": EnergyDispersion2D.from_gauss(
            e_true, migra, offset, sigma=SIGMA_EDISP, bias=BIAS_EDISP
        ),
        "psf": PSF3D.from_gauss(e_true, offset, rad, sigma=SIGMA_PSF * u.deg),
        "bkg": Background2D.from_power_law(
            energy, offset, norm=BKG_NORM * u.Unit("s-1 MeV-1 sr-1"), index=BKG_INDEX
        ),
    }


@pytest.fixture(scope="module")
def irfs():
    return _irfs()


@pytest.fixture(scope="module")
def observation(irfs):
    return make_observation(irfs, POINTING, LIVETIME * u.s, obs_id=11)


def _point(temporal_model=None, amplitude=AMPLITUDE):
    return SkyModel(
        spectral.PowerLaw(index=INDEX, amplitude=amplitude * u.Unit("cm-2 s-1 TeV-1")),
        spatial.Point(lon_0=SOURCE.ra, lat_0=SOURCE.dec),
        temporal=temporal_model,
        name="src",
    )


def _sampler(seed):
    return EventSampler(
        random_state=seed,
        max_offset=0.9 * u.deg,  # covers the rings (source at 0.5 deg)
        energy_true_range=[0.2, 30] * u.TeV,
        energy_range=[0.4, 12] * u.TeV,
        bins_per_decade=40,
    )


def _expected(irfs) -> np.ndarray:
    """Expected counts in (reco-energy bin, ring) by quadrature of the IRF formulas."""
    e = np.geomspace(0.2, 30, 6001)  # TeV
    area = irfs["aeff"].evaluate(energy_true=e * u.TeV, offset=0.5 * u.deg).to_value("cm2")
    rate = AMPLITUDE * e**-INDEX * area * LIVETIME  # TeV-1
    # Gaussian migration with a bias: P(E_reco in bin | E_true)
    cdf = scipy.stats.norm.cdf((E_RECO[None, :] / e[:, None] - 1 - BIAS_EDISP) / SIGMA_EDISP)
    p_energy = np.diff(cdf, axis=1)
    # Gaussian PSF on the sphere (sigma << 1 rad): P(ring) from the radial Rayleigh law
    p_ring = np.diff(-np.exp(-0.5 * (RINGS / SIGMA_PSF) ** 2))
    source = np.trapezoid(rate[:, None] * p_energy, e, axis=0)[:, None] * p_ring[None, :]
    # flat power-law background in rings (spherical caps)
    index = BKG_INDEX - 1
    per_sr = BKG_NORM * 1e6 * (E_RECO[:-1] ** -index - E_RECO[1:] ** -index) / index
    caps = 2 * np.pi * (1 - np.cos(np.deg2rad(RINGS)))
    return source + per_sr[:, None] * np.diff(caps)[None, :] * LIVETIME


def _binned(events) -> np.ndarray:
    sep = events.radec.separation(SOURCE).to_value(u.deg)
    energy = events.energy.to_value(u.TeV)
    counts, _, _ = np.histogram2d(energy, sep, bins=[E_RECO, RINGS])
    return counts


def _cash(n, mu):
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n > 0, n * np.log(n / mu), 0.0)
    return 2 * np.sum(mu - n + term, axis=(-2, -1))


def test_binned_events_match_npred_over_many_seeds(irfs, observation):
    """Deviance p-values (against exact Poisson draws of npred) are uniform over 200 seeds."""
    mu = _expected(irfs)
    assert mu.min() > 5 and mu.sum() > 500
    null = _cash(np.random.default_rng(0).poisson(mu, size=(20000, *mu.shape)), mu)
    model = [_point()]
    p_values, totals = [], []
    for seed in range(200):
        events = _sampler(seed).run(observation, model).events
        counts = _binned(events)
        p_values.append(np.mean(null >= _cash(counts, mu)))
        totals.append(counts.sum())
    ks = scipy.stats.kstest(p_values, "uniform")
    assert ks.pvalue > 0.01, (ks, np.mean(totals), mu.sum())
    # the mean total is right to well within its Monte Carlo error
    assert abs(np.mean(totals) - mu.sum()) < 4 * np.sqrt(mu.sum() / 200)


def test_mc_id_and_header(observation):
    sim = _sampler(3).run(observation, [_point()])
    table = sim.events.table
    assert set(np.unique(table["MC_ID"])) == {0, 1}
    assert np.all(np.diff(table["TIME"]) >= 0)
    assert table.meta["OBS_ID"] == 11 and sim.obs_id == 11
    assert table.meta["RA_PNT"] == pytest.approx(83.6)
    assert table.meta["LIVETIME"] == pytest.approx(LIVETIME)
    # source photons are within a few PSF widths of the source
    source = table[table["MC_ID"] == 1]
    sep = SkyCoord(source["RA"], source["DEC"]).separation(SOURCE).deg
    assert np.percentile(sep, 68) == pytest.approx(SIGMA_PSF * np.sqrt(-2 * np.log(0.32)), rel=0.1)


def test_extended_source_radial_profile(irfs, observation):
    """Disk events: uniform inside the disk before the PSF; mean squared distance adds."""
    model = SkyModel(
        spectral.PowerLaw(index=2.0, amplitude=5e-11 * u.Unit("cm-2 s-1 TeV-1")),
        spatial.Gaussian(lon_0=SOURCE.ra, lat_0=SOURCE.dec, sigma=0.2 * u.deg),
        name="ext",
    )
    table = _sampler(5).run(observation, [model], background=False).events.table
    sep = SkyCoord(table["RA"], table["DEC"]).separation(SOURCE).deg
    assert len(table) > 3000
    # a 2D Gaussian convolved with a Gaussian PSF: <r^2> = 2 (s^2 + s_psf^2); the exposure
    # falls with offset (sigma 2 deg), which changes this by far less than the tolerance
    expected = 2 * (0.2**2 + SIGMA_PSF**2)
    assert np.mean(sep**2) == pytest.approx(expected, rel=0.05)


def _two_gtis():
    t0 = Time("2025-03-01T00:00:00", scale="tt")
    return t0, [(t0, t0 + 2 * u.h), (t0 + 3 * u.h, t0 + 6 * u.h)]


@pytest.mark.parametrize(
    "light_curve",
    [
        lambda t0: temporal.Gaussian(t_ref=t0 + 3.5 * u.h, sigma=1.5 / 24),
        lambda t0: temporal.ExpDecay(t_ref=t0, t0=2.0 / 24),
        lambda t0: temporal.Linear(alpha=1.0, beta=0.5, t_ref=t0),
    ],
    ids=["gaussian", "expdecay", "linear"],
)
def test_arrival_times_follow_the_temporal_model(irfs, light_curve):
    t0, gtis = _two_gtis()
    obs = make_observation(irfs, POINTING, 5 * u.h, tstart=t0, gti=gtis, obs_id=2)
    model = light_curve(t0)
    table = (
        _sampler(9)
        .run(obs, [_point(temporal_model=model, amplitude=3e-11)], background=False)
        .events.table
    )
    assert len(table) > 1000
    times = (t0 + table["TIME"].quantity.to(u.s)).tt.mjd
    lo = np.array([a.tt.mjd for a, _ in gtis])
    hi = np.array([b.tt.mjd for _, b in gtis])
    values = model.values()
    weights = model.integrate(lo, hi, **values)

    def cdf(t):
        t = np.asarray(t)
        inside = np.clip(t[:, None], lo[None, :], hi[None, :])
        return np.sum(model.integrate(lo[None, :], inside, **values), axis=1) / weights.sum()

    assert np.all((times >= lo[0] - 1e-9) & (times <= hi[-1] + 1e-9))
    assert not np.any((times > hi[0] + 1e-9) & (times < lo[1] - 1e-9))  # none between GTIs
    assert scipy.stats.kstest(times, cdf).pvalue > 0.01


def test_constant_source_times_are_uniform_over_gtis(irfs):
    t0, gtis = _two_gtis()
    obs = make_observation(irfs, POINTING, 5 * u.h, tstart=t0, gti=gtis)
    table = _sampler(2).run(obs, [_point(amplitude=1e-12)], background=True).events.table
    met = table["TIME"].quantity.to_value(u.s)
    in_first = np.mean(met < 2 * 3600)
    # 2 h of 5 h: binomial fraction 0.4
    assert in_first == pytest.approx(0.4, abs=4 * np.sqrt(0.24 / len(met)))


def test_data_store_round_trip(tmp_path, observation):
    sims = [_sampler(seed).run(observation, [_point()], obs_id=100 + seed) for seed in range(2)]
    store = write_data_store(sims, tmp_path / "dl3")
    assert isinstance(store, DataStore)
    again = DataStore.from_dir(tmp_path / "dl3")
    assert again.obs_ids == [100, 101]
    np.testing.assert_allclose(again.obs_table["LIVETIME"], LIVETIME)
    np.testing.assert_allclose(again.obs_table["RA_PNT"], 83.6)
    for sim in sims:
        obs = again.obs(sim.obs_id)
        for column in ("EVENT_ID", "TIME", "RA", "DEC", "ENERGY", "MC_ID"):
            np.testing.assert_array_equal(obs.events.table[column], sim.events.table[column])
        assert obs.gti == sim.gti
        for name in ("aeff", "edisp", "psf", "bkg"):
            np.testing.assert_array_equal(getattr(obs, name).data, getattr(sim, name).data)
        assert obs.get_pointing_icrs().separation(POINTING).deg < 1e-9
        assert obs.livetime.to_value(u.s) == pytest.approx(LIVETIME)
    # no overwrite unless asked, and nothing is written before the check
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_data_store(sims, tmp_path / "dl3")
    write_data_store(sims, tmp_path / "dl3", overwrite=True)


def test_missing_background_irf_is_a_clear_error(irfs):
    obs = make_observation({k: v for k, v in irfs.items() if k != "bkg"}, POINTING, 1 * u.h)
    with pytest.raises(SamplingError, match=r"no background IRF \(bkg\).*background=False"):
        _sampler(1).run(obs, [_point()])
    # without background the sources still simulate
    events = _sampler(1).run(obs, [_point()], background=False).events
    assert len(events) > 0 and set(np.unique(events.table["MC_ID"])) == {1}


def test_missing_source_irf_is_a_clear_error(irfs):
    obs = make_observation({k: v for k, v in irfs.items() if k != "psf"}, POINTING, 1 * u.h)
    with pytest.raises(SamplingError, match=r"no 'psf' IRF.*source 'src'"):
        _sampler(1).run(obs, [_point()], background=False)


def test_negative_temporal_model_is_a_clear_error(irfs):
    t0, gtis = _two_gtis()
    obs = make_observation(irfs, POINTING, 5 * u.h, tstart=t0, gti=gtis)
    falling = temporal.Linear(alpha=1.0, beta=-8.0, t_ref=t0)  # negative after 3 h
    with pytest.raises(SamplingError, match=r"source 'src'.*Linear is negative.*must be >= 0"):
        _sampler(1).run(obs, [_point(temporal_model=falling)], background=False)


def test_observation_without_events_header_is_a_clear_error(irfs):
    from gammaprob.data import Observation

    obs = Observation(1, **irfs)
    with pytest.raises(SamplingError, match=r"no events header.*make_observation"):
        _sampler(1).run(obs, [_point()])


def test_background_gradient_is_refused_not_ignored(irfs):
    from gammaprob.modeling import FoVBackgroundModel

    obs = make_observation(irfs, POINTING, 1 * u.h)
    background = FoVBackgroundModel(dataset_name="any", gradient_lon=0.1, gradient_lat=0.0)
    with pytest.raises(SamplingError, match=r"spatial gradient.*does not apply"):
        _sampler(1).run(obs, [_point(), background])
