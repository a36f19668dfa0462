"""Simulation-based calibration on a 1D Cash model: calibrated passes, miscalibrated fails."""

import numpy as np
import pytest

from gammaprob.calibrate import SBCError, run_sbc
from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral
from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset

FAST = {"draws": 500, "tune": 1000, "chains": 2}  # ESS ~ 400-1000 per replication


def _source(index=None):
    index = Normal(2.5, 0.3) if index is None else index
    spectrum = spectral.PowerLaw(
        index=index, amplitude=LogUniform(1e-12, 1e-11, unit="cm-2 s-1 TeV-1")
    )
    return SkyModel(spectrum, name="src")


def _template(alpha=None):
    template = parametric_spectrum_dataset(name="sim", n_bins=8, n_bins_true=16)
    return simulate_spectrum_dataset(_source(), template, rng=1, alpha=alpha)


def test_improper_prior_is_refused_naming_the_variable():
    from gammaprob.likelihood import flat_background

    with pytest.raises(SBCError, match=r"improper prior on sim::mu_off"):
        run_sbc(
            _template(alpha=0.2),
            _source(),
            n_replications=2,
            build_kwargs={"onoff": "latent", "background_prior": flat_background},
        )


def test_wstat_potential_is_refused():
    with pytest.warns(UserWarning, match="(?i)wstat"), pytest.raises(SBCError, match="potential"):
        run_sbc(_template(alpha=0.2), _source(), build_kwargs={"onoff": "wstat"})


def test_unknown_variable_is_refused():
    with pytest.raises(SBCError, match="src::nope"):
        run_sbc(_template(), _source(), var_names=["src::nope"])


@pytest.mark.slow
@pytest.mark.sampling
def test_sbc_cash_calibrated_and_miscalibrated():
    # calibrated: the default sampler on the model's own prior predictive
    good = run_sbc(
        _template(), _source(), n_replications=40, n_draws=50, sample_kwargs=FAST, random_seed=3
    )
    assert set(good.ranks) == {"src::index", "src::amplitude"}
    assert good.n_replications == 40
    tests = good.rank_tests()
    for name, row in tests.items():
        assert row["ecdf_corrected"] > 0.01, (name, row)
        assert row["chi2"] > 0.01 / len(tests), (name, row)
    assert np.all(good.diagnostics["rhat_max"] < 1.05)
    summary = good.summary()
    assert summary["coverage"]["src::index"]["0.90"]["within"]
    assert summary["diagnostics"]["replications_below_ess"] == 0
    good.plot_ranks()
    good.plot_ecdf()
    # miscalibrated: truth drawn from a prior other than the one fitted
    bad = run_sbc(
        _template(),
        _source(index=Normal(3.0, 0.1)),
        simulation_models=_source(index=Normal(2.0, 0.3)),
        n_replications=20,
        n_draws=50,
        sample_kwargs=FAST,
        random_seed=4,
    )
    assert bad.rank_tests()["src::index"]["ecdf_corrected"] < 0.01


@pytest.mark.slow
@pytest.mark.sampling
def test_marginal_onoff_counts_above_the_template_are_handled():
    """Simulated ON counts above the template's largest (the marginal's table limit) sample.

    The template has no ON count at all: a model that only swapped the observed value would
    evaluate the marginal with tables made for zero counts (a failed start)."""
    template = _template(alpha=0.2)
    template = template.replace(counts=np.zeros_like(np.asarray(template.counts)))
    result = run_sbc(template, _source(), n_replications=2, n_draws=20, sample_kwargs=FAST)
    assert result.n_replications == 2
    assert np.all(result.diagnostics["rhat_max"] < 1.05)


@pytest.mark.slow
@pytest.mark.sampling
def test_dask_workers_give_the_serial_ranks():
    """Replication k draws the same truth and data on a worker as in the serial loop.

    The ranks agree to within 2 of 20, not bitwise: a structure compiled in this process and
    the same structure loaded from the compile cache by a worker differ in the last ulp of
    logp (numba's fresh and cached machine code), which NUTS amplifies over a run. A seeding
    error (other truths or data per replication) moves ranks across the whole 0-20 range.
    """
    kwargs = {"n_replications": 3, "n_draws": 20, "sample_kwargs": FAST, "random_seed": 5}
    serial = run_sbc(_template(), _source(), **kwargs)
    parallel = run_sbc(_template(), _source(), n_workers=2, **kwargs)
    for name in serial.ranks:
        assert np.all(np.abs(serial.ranks[name] - parallel.ranks[name]) <= 2), name


def test_simulated_counts_go_into_the_safe_mask_bins():
    from gammaprob.calibrate.inject import with_simulated_data

    template = _template(alpha=0.2)
    mask = np.ones(8, bool)
    mask[:2] = False
    template = template.replace(mask_safe=mask)
    (out,) = with_simulated_data(
        [template], {"sim::counts": np.arange(6), "sim::counts_off": np.arange(6) + 10}
    )
    np.testing.assert_array_equal(np.asarray(out.counts)[2:], np.arange(6))
    np.testing.assert_array_equal(np.asarray(out.counts)[:2], np.asarray(template.counts)[:2])
    np.testing.assert_array_equal(np.asarray(out.counts_off)[2:], np.arange(6) + 10)
    with pytest.raises(SBCError, match=r"sim::counts.*\(6,\)"):
        with_simulated_data([template], {"sim::counts": np.arange(8)})


def test_thinning_keeps_l_draws_spaced_by_the_autocorrelation_length():
    from gammaprob.calibrate.sbc import _thin

    posterior = np.arange(4000.0).reshape(4, 1000)
    draws, enough = _thin(posterior, 100, ess=400.0)
    assert enough and draws.size == 100
    assert np.all(np.isin(draws % 10, [0]))  # stride ceil(4000 / 400) = 10 within each chain
    draws, enough = _thin(posterior, 100, ess=50.0)
    assert not enough and draws.size == 100


def test_unsupported_dataset_is_refused_by_name():
    from gammaprob.calibrate.inject import observed_names

    class Fake:
        name = "map-ds"

    with pytest.raises(SBCError, match=r"'map-ds' of type Fake.*not supported"):
        observed_names(Fake())
