"""Temporal x spectral models on 1D datasets: the flux scaled by the mean norm over the GTIs.

Expected counts are computed by hand (power-law integral x exposure x the analytic mean of an
exponential decay over each dataset's good time intervals), a simulated flare with a known
decay time is recovered by NUTS, and the factor equals gammapy's ``npred`` (validation extra).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time
from scipy.integrate import quad

from gammaprob.data import GTI
from gammaprob.datasets import SpectrumDataset
from gammaprob.forward import SpectrumResponse, current_values, fold_spectra
from gammaprob.inference import build_model, check_convergence, sample
from gammaprob.maps import MapAxis
from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral, temporal

T0 = 53945.86  # MJD (TT), the PKS 2155-304 flare night
DECAY_D = 0.05
INDEX, AMPLITUDE = 3.0, 2e-10  # cm-2 s-1 TeV-1 at 1 TeV
E_EDGES = np.geomspace(0.5, 10.0, 9)  # TeV, diagonal response
EXPOSURE = 3e11  # cm2 s per energy bin (5e4 m2 x 10 min)
BACKGROUND = 2.0  # counts per bin


def _intervals(n_bins=10, width=0.01, gap=0.002):
    """One or two GTIs per dataset (the odd ones split in two), start/stop MJD TT."""
    out = []
    for k in range(n_bins):
        lo = T0 + k * (width + gap)
        pieces = [(lo, lo + width)]
        if k % 2:
            pieces = [(lo, lo + 0.4 * width), (lo + 0.6 * width, lo + width)]
        out.append(np.array(pieces))
    return out


def _dataset(name, intervals, counts=None):
    axis = MapAxis.from_edges(E_EDGES * u.TeV, name="energy", interp="log")
    axis_true = MapAxis.from_edges(E_EDGES * u.TeV, name="energy_true", interp="log")
    gti = GTI.from_time_intervals(
        [
            (Time(a, format="mjd", scale="tt"), Time(b, format="mjd", scale="tt"))
            for a, b in intervals
        ]
    )
    n = E_EDGES.size - 1
    return SpectrumDataset(
        name=name,
        counts=np.zeros(n, int) if counts is None else counts,
        exposure=np.full(n, EXPOSURE) * u.Unit("cm2 s"),
        energy_axis=axis,
        energy_axis_true=axis_true,
        background=np.full(n, BACKGROUND),
        gti=gti,
    )


def _source(t0=DECAY_D, index=INDEX, amplitude=None):
    if amplitude is None:
        amplitude = AMPLITUDE * u.Unit("cm-2 s-1 TeV-1")
    return SkyModel(
        spectral.PowerLaw(index=index, amplitude=amplitude),
        temporal=temporal.ExpDecay(t0=t0, t_ref=Time(T0, format="mjd", scale="tt"), scale="tt"),
        name="flare",
    )


def _expected_signal(intervals, t0=DECAY_D):
    """Power-law counts per bin x the analytic mean of exp(-(t - T0)/t0) over the GTIs."""
    lo, hi = E_EDGES[:-1], E_EDGES[1:]
    p = 1.0 - INDEX
    flux = AMPLITUDE * (hi**p - lo**p) / p
    integral = sum(t0 * (np.exp(-(a - T0) / t0) - np.exp(-(b - T0) / t0)) for a, b in intervals)
    duration = sum(b - a for a, b in intervals)
    return flux * EXPOSURE * integral / duration


def test_mean_norm_equals_quadrature_over_the_gtis():
    model = temporal.GeneralizedGaussian(
        t_ref=T0 + 0.03, t_rise=0.01, t_decay=0.04, eta=0.7, scale="tt"
    )
    pieces = np.array([[T0, T0 + 0.02], [T0 + 0.025, T0 + 0.05], [T0 + 0.06, T0 + 0.061]])
    start, stop = (Time(pieces[:, k], format="mjd", scale="tt") for k in (0, 1))
    values = model.values()
    peak = float(values["t_ref"])
    total = sum(
        quad(lambda x: model.evaluate(peak + x, **values), a - peak, b - peak, epsabs=0)[0]
        for a, b in pieces
    )
    expected = total / np.sum(pieces[:, 1] - pieces[:, 0])
    assert model.mean_norm(start, stop) == pytest.approx(expected, rel=1e-9)


def test_mean_norm_converts_times_to_the_model_scale():
    """GTIs in TT, a model in UTC: 65.184 s apart in 2006, visible for a 10-min decay."""
    decay = 600 / 86400
    start = Time([T0], format="mjd", scale="tt")
    stop = Time([T0 + 0.01], format="mjd", scale="tt")
    utc = temporal.ExpDecay(t0=decay, t_ref=start.utc[0], scale="utc")
    tt = temporal.ExpDecay(t0=decay, t_ref=start[0], scale="tt")
    assert utc.mean_norm(start, stop) == pytest.approx(tt.mean_norm(start, stop), rel=1e-9)
    # the same number in UTC is 65.184 s later in TT, so the norm is higher by exp(dt / t0)
    shifted = temporal.ExpDecay(t0=decay, t_ref=T0, scale="utc")
    assert shifted.mean_norm(start, stop) == pytest.approx(
        tt.mean_norm(start, stop) * np.exp((65.184 / 86400) / decay), rel=1e-6
    )


def test_mean_norm_is_a_tensor_with_tensor_values():
    import pytensor.tensor as pt

    model = temporal.ExpDecay(t0=DECAY_D, t_ref=T0, scale="tt")
    start = Time([T0, T0 + 0.02], format="mjd", scale="tt")
    stop = Time([T0 + 0.01, T0 + 0.03], format="mjd", scale="tt")
    t0 = pt.dscalar("t0")
    value = model.mean_norm(start, stop, {"t0": t0, "t_ref": np.float64(T0)})
    assert value.eval({t0: DECAY_D}) == pytest.approx(float(model.mean_norm(start, stop)), 1e-12)


def test_mean_norm_rejects_bad_intervals():
    model = temporal.ExpDecay(t0=DECAY_D, t_ref=T0, scale="tt")
    a = Time([T0, T0 + 0.01], format="mjd", scale="tt")
    with pytest.raises(ValueError, match="one shape"):
        model.mean_norm(a, a[:1])
    with pytest.raises(ValueError, match="t_max must be >="):
        model.mean_norm(a[1:], a[:1])
    with pytest.raises(ValueError, match="zero total duration"):
        model.mean_norm(a, a)


def test_fold_scales_each_dataset_by_its_mean_norm():
    intervals = _intervals()
    datasets = [_dataset(f"bin{k}", iv) for k, iv in enumerate(intervals)]
    responses = [SpectrumResponse.from_dataset(ds) for ds in datasets]
    models = [_source()]
    npred = fold_spectra(responses, models, current_values(models))
    for k, iv in enumerate(intervals):
        expected = _expected_signal(iv) + BACKGROUND
        np.testing.assert_allclose(npred[f"bin{k}"], expected, rtol=1e-9)
    # a steady second source adds its counts unscaled
    steady = SkyModel(spectral.PowerLaw(index=INDEX, amplitude=AMPLITUDE), name="steady")
    both = fold_spectra(responses, [*models, steady], current_values([*models, steady]))
    constant = fold_spectra(responses, [steady], current_values([steady]))
    for name in npred:
        np.testing.assert_allclose(both[name], npred[name] + constant[name] - BACKGROUND, 1e-9)


def test_temporal_source_needs_gtis():
    ds = _dataset("nogti", _intervals(1)[0]).replace(gti=None)
    models = [_source()]
    with pytest.raises(ValueError, match="no good time intervals"):
        fold_spectra([SpectrumResponse.from_dataset(ds)], models, current_values(models))


def test_temporal_source_on_a_map_dataset_is_refused():
    from astropy.coordinates import SkyCoord

    from gammaprob.datasets import MapDataset
    from gammaprob.maps import Map, WcsGeom

    axis = MapAxis.from_edges(E_EDGES[:3] * u.TeV, name="energy", interp="log")
    geom = WcsGeom.create(
        skydir=SkyCoord(329.7, -30.2, unit="deg"), width=0.5, binsz=0.1, axes=[axis]
    )
    true = geom.to_image().to_cube([axis.copy(name="energy_true")])
    maps = MapDataset(
        name="map",
        counts=Map(geom, data=np.zeros(geom.data_shape)),
        background=Map(geom, data=np.ones(geom.data_shape)),
        exposure=Map(true, data=np.ones(true.data_shape), unit="cm2 s"),
    )
    source = _source(t0=LogUniform(1e-3, 1.0, unit="d"))
    with pytest.raises(NotImplementedError, match="map dataset 'map'"):
        build_model([maps], [source])


def test_time_intervals_are_validated():
    with pytest.raises(ValueError, match="time_intervals must be"):
        SpectrumResponse.from_arrays(
            "x",
            counts=[1, 2],
            exposure=[1.0, 1.0],
            edisp=np.eye(2),
            energy_true_edges=[1, 2, 3],
            energy_edges=[1, 2, 3],
            time_intervals=[[T0 + 1, T0]],
        )


@pytest.mark.slow
def test_simulated_decay_is_recovered():
    """Poisson draws of a decaying flare in 10 datasets: NUTS recovers t0, index, amplitude."""
    rng = np.random.default_rng(7)
    intervals = _intervals()
    datasets = [
        _dataset(f"bin{k}", iv, rng.poisson(_expected_signal(iv) + BACKGROUND))
        for k, iv in enumerate(intervals)
    ]
    truth = {"t0": DECAY_D, "index": INDEX, "amplitude": AMPLITUDE}
    model = build_model(
        datasets,
        [
            _source(
                t0=LogUniform(1e-3, 1.0, unit="d"),
                index=Normal(2.5, 1.0),
                amplitude=LogUniform(1e-12, 1e-8, unit="cm-2 s-1 TeV-1"),
            )
        ],
    )
    result = sample(
        model, draws=1000, tune=700, chains=2, random_seed=3, progressbar=False, check=False
    )
    assert check_convergence(result, ess_min=200, warn=False).ok
    post = result.posterior
    for name, value in truth.items():
        draws = np.asarray(post[f"flare::{name}"]).ravel()
        pull = (np.median(draws) - value) / np.std(draws)
        assert abs(pull) < 3, (name, pull)
    # the decay is measured: posterior sd well below the prior's spread
    assert np.std(np.asarray(post["flare::t0"])) < 0.2 * DECAY_D
