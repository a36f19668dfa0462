"""FluxPointsEstimator and the grid posterior of a norm: analytic cases, gammapy parity, coverage."""

import astropy.units as u
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, stats
from scipy.special import gammaln

from gammaprob.datasets import FluxPoints, SpectrumDataset, SpectrumDatasetOnOff
from gammaprob.estimators import (
    FluxPointsEstimator,
    LightCurveEstimator,
    NormTerms,
    norm_posterior,
)
from gammaprob.estimators.norm_posterior import log_likelihood, prior_logpdf
from gammaprob.maps import MapAxis
from gammaprob.modeling import HalfNormal, LogUniform, Normal, SkyModel
from gammaprob.modeling.spectral import PowerLaw
from gammaprob.stats import li_ma_significance, wstat

EDGES = [0.5, 1, 2, 4, 8, 16] * u.TeV


def _onoff(rng=None, counts=None, counts_off=None, alpha=0.2, exposure=3e9):
    e = MapAxis.from_edges(EDGES, interp="log", name="energy")
    et = MapAxis.from_edges(EDGES, interp="log", name="energy_true")
    return SpectrumDatasetOnOff(
        name="syn",
        counts=counts,
        counts_off=counts_off,
        acceptance=np.full(5, alpha),
        acceptance_off=np.ones(5),
        exposure=np.full(5, exposure) * u.Unit("m2 s"),
        energy_axis=e,
        energy_axis_true=et,
    )


def _source():
    return SkyModel(PowerLaw(index=2.0, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1")), name="src")


def _mu_ref(ds):
    edges = ds.energy_axis.edges.to_value("TeV")
    return ds.exposure.to_value("cm2 s") * 1e-11 * (1 / edges[:-1] - 1 / edges[1:])


def test_marginal_onoff_likelihood_equals_numerical_integral():
    n, m, a = np.array([7, 0, 25]), np.array([12, 3, 0]), np.array([0.2, 0.5, 0.1])
    mu = np.array([3.0, 1.0, 10.0])
    terms = NormTerms(mu, n, np.zeros(3), np.zeros(3), m, a)
    norms = np.array([0.0, 0.5, 1.3, 2.0])
    ours = log_likelihood(norms, terms, "marginal", "flat")  # flat prior on the OFF rate
    ref = []
    for k in norms:
        total = 0.0
        for i in range(3):
            f = lambda b, i=i, k=k: (  # noqa: E731
                stats.poisson.pmf(n[i], k * mu[i] + a[i] * b) * stats.poisson.pmf(m[i], b)
            )
            total += np.log(integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0])
        ref.append(total)
    const = (gammaln(n + 1) + gammaln(m + 1)).sum()
    assert_allclose(ours - const, ref, rtol=0, atol=1e-10)
    # the profiled version is -WStat/2 up to a norm-independent constant
    prof = log_likelihood(norms, terms, "wstat")
    w = np.array([wstat(n, m, a, k * mu).sum() for k in norms])
    assert_allclose(-2 * prof - w, (-2 * prof - w)[0], atol=1e-9)


def test_cash_without_background_is_a_gamma_posterior():
    # flat prior, s = k mu, n counts, b = 0: k mu ~ Gamma(n + 1)
    n, mu = 12, 4.0
    terms = NormTerms(np.array([mu]), np.array([n]), *np.zeros((4, 1)))
    post = norm_posterior(terms, n_grid=2000)
    q = [0.16, 0.5, 0.84, 0.95]
    assert_allclose(post.quantile(q), stats.gamma.ppf(q, n + 1) / mu, rtol=2e-5)
    assert_allclose(post.mean, (n + 1) / mu, rtol=1e-5)
    assert_allclose(post.norm_best, n / mu, rtol=1e-6)
    assert_allclose(post.probability_above(n / mu), stats.gamma.sf(n, n + 1), rtol=1e-4)
    # a LogUniform prior multiplies by 1/k: Gamma(n)
    post = norm_posterior(terms, LogUniform(1e-6, 1e6), n_grid=2000)
    assert_allclose(post.quantile(q), stats.gamma.ppf(q, n) / mu, rtol=2e-5)


def test_prior_logpdf():
    x = np.array([-1.0, 0.5, 2.0])
    assert_allclose(prior_logpdf("flat", x), [-np.inf, 0, 0])
    assert_allclose(prior_logpdf(HalfNormal(2.0), x[1:]), stats.halfnorm(scale=2).logpdf(x[1:]))
    with pytest.raises(ValueError, match="flat"):
        prior_logpdf("jeffreys", x)


def test_flux_points_single_bin_analytics():
    ds = _onoff(counts=[60, 30, 12, 3, 0], counts_off=[100, 40, 10, 10, 4])
    mu = _mu_ref(ds)
    fp = FluxPointsEstimator(_source(), EDGES, onoff="wstat").run(ds)
    assert isinstance(fp, FluxPoints) and fp.sed_type == "likelihood" and len(fp) == 5
    t = fp.table
    n, m = np.array(ds.counts, float), np.array(ds.counts_off, float)
    excess = n - 0.2 * m
    # profiled WStat: MLE = excess / mu where positive, TS = Li & Ma significance squared
    positive = excess > 0
    assert_allclose(t["norm_best"][positive], (excess / mu)[positive], rtol=1e-6)
    sig = li_ma_significance(n, m, 0.2)
    assert_allclose(t["ts"][positive], sig[positive] ** 2, rtol=1e-6)
    assert t["ts"][~positive] == pytest.approx(0, abs=1e-9)
    assert list(t["is_ul"]) == list(~(t["ts"] >= 4))
    # derived quantities: norm times the reference
    ref = 1e-11 * np.sqrt(EDGES[:-1] * EDGES[1:]).to_value("TeV") ** -2.0
    assert_allclose(t["ref_dnde"].quantity.to_value("cm-2 s-1 TeV-1"), ref, rtol=1e-10)
    assert_allclose(t["dnde_ul"].quantity.value, t["norm_ul"] * ref, rtol=1e-12)
    e = EDGES.to_value("TeV")
    assert_allclose(t["ref_flux"].quantity.value, 1e-11 * (1 / e[:-1] - 1 / e[1:]), rtol=1e-9)
    assert_allclose(t["counts"], n)
    # npred at the median: signal + alpha * profiled OFF expectation
    assert np.all(t["npred"] > t["npred_background"])
    assert t.meta["CREDPROB"] == 0.68 and t.meta["UL_PROB"] == 0.95
    assert "flat" in t.meta["NORMPRIO"] and t.meta["ONOFF"] == "wstat"
    assert np.all(t["norm_errn"] > 0) and np.all(t["norm_ul"] > t["norm"])
    # the kept posterior integrates to one
    for row in t:
        assert_allclose(np.trapezoid(row["post_scan"], row["norm_scan"]), 1, rtol=2e-3)


def test_flux_points_io_roundtrip(tmp_path):
    ds = _onoff(counts=[60, 30, 12, 3, 0], counts_off=[100, 40, 10, 10, 4])
    fp = FluxPointsEstimator(_source(), EDGES, ul_prob=0.9).run(ds)
    for name in ("fp.fits", "fp.ecsv"):
        fp.write(tmp_path / name)
        back = FluxPoints.read(tmp_path / name)
        assert back.sed_type == "likelihood"
        assert_allclose(back.table["norm_ul"], fp.table["norm_ul"], rtol=1e-12)
        assert_allclose(back.norm_scan, fp.norm_scan, rtol=1e-12)
        assert back.table.meta["UL_PROB"] == 0.9
        assert list(back.is_ul) == list(fp.is_ul)
    with pytest.raises(FileExistsError):
        fp.write(tmp_path / "fp.fits")
    assert_allclose(
        fp.to_sed_type("e2dnde").value.value, fp.table["e2dnde"].quantity.value, rtol=1e-12
    )


def test_cash_dataset_and_other_models():
    e = MapAxis.from_edges(EDGES, interp="log", name="energy")
    et = MapAxis.from_edges(EDGES, interp="log", name="energy_true")
    ds = SpectrumDataset(
        name="cash",
        counts=[40, 20, 9, 2, 1],
        exposure=np.full(5, 3e9) * u.Unit("m2 s"),
        energy_axis=e,
        energy_axis_true=et,
        background=[10.0, 5, 2, 1, 0.5],
    )
    other = SkyModel(PowerLaw(index=2.0, amplitude=2e-12 * u.Unit("cm-2 s-1 TeV-1")), name="o")
    fp = FluxPointsEstimator("src", EDGES).run(ds, [_source(), other])
    mu = _mu_ref(ds)
    offset = 0.2 * mu
    b = np.array(ds.background)
    mle = (np.array(ds.counts) - b - offset) / mu
    assert_allclose(fp.table["norm_best"], np.maximum(mle, 0), rtol=1e-6)
    with pytest.raises(ValueError, match="not among the models"):
        FluxPointsEstimator("nope", EDGES).run(ds, [_source()])


def test_posterior_medians_fix_the_shape():
    import xarray as xr

    ds = _onoff(counts=[60, 30, 12, 3, 0], counts_off=[100, 40, 10, 10, 4])
    post = xr.Dataset({"src::index": (("chain", "draw"), np.full((2, 10), 3.0))})
    fp = FluxPointsEstimator(_source(), EDGES).run(ds, posterior=post)
    e_ref = np.sqrt(EDGES[:-1] * EDGES[1:]).to_value("TeV")
    assert_allclose(fp.table["ref_dnde"].quantity.value, 1e-11 * e_ref**-3.0, rtol=1e-10)


def test_bad_input():
    with pytest.raises(ValueError, match="mode"):
        FluxPointsEstimator(_source(), EDGES, mode="sampled")
    with pytest.raises(ValueError, match="non-negative support"):
        FluxPointsEstimator(_source(), EDGES, norm_prior=Normal(0, 1))
    with pytest.raises(ValueError, match="prob"):
        FluxPointsEstimator(_source(), EDGES, prob=1.5)
    with pytest.raises(ValueError, match="increasing"):
        FluxPointsEstimator(_source(), [2, 1] * u.TeV)
    with pytest.raises(TypeError, match="not supported"):
        FluxPointsEstimator(_source(), EDGES).run([object()])


def test_onoff_choice_is_named_as_in_build_model():
    """``onoff=`` as in build_model, the OFF prior ``background_prior=``; old names refused."""
    fpe = FluxPointsEstimator(_source(), EDGES, onoff="wstat")
    assert (fpe.onoff, fpe.background_prior) == ("wstat", "jeffreys")
    with pytest.raises(TypeError, match=r"'background', which was renamed: use onoff="):
        FluxPointsEstimator(_source(), EDGES, background="profile")
    with pytest.raises(ValueError, match="'profile' is the former name of 'wstat'"):
        FluxPointsEstimator(_source(), EDGES, onoff="profile")
    with pytest.raises(ValueError, match=r"use onoff='marginal', background_prior='jeffreys'"):
        FluxPointsEstimator(_source(), EDGES, onoff="jeffreys")
    with pytest.raises(ValueError, match="background_prior must be one of"):
        FluxPointsEstimator(_source(), EDGES, background_prior="gamma")
    with pytest.raises(ValueError, match="'marginal' is the former name of 'joint'"):
        FluxPointsEstimator(_source(), EDGES, mode="marginal")
    with pytest.raises(ValueError, match="former name of 'wstat'"):
        log_likelihood([1.0], NormTerms(*[np.ones(1)] * 6), "profile")
    with pytest.raises(TypeError, match="'background', which was renamed"):
        LightCurveEstimator(_source(), EDGES, background="jeffreys")


def test_coverage_of_intervals_and_upper_limits():
    # 400 simulated on/off bins with a known norm: the 68 % interval and 95 % limit cover it
    rng = np.random.default_rng(7)
    mu, alpha, beta, true = 20.0, 0.2, 50.0, 1.0
    n_sim = 400
    inside = below = 0
    for _ in range(n_sim):
        n = rng.poisson(true * mu + alpha * beta)
        m = rng.poisson(beta)
        terms = NormTerms(*(np.array([v], float) for v in (mu, n, 0, 0, m, alpha)))
        post = norm_posterior(terms, n_grid=200)
        lo, hi, ul = post.quantile([0.16, 0.84, 0.95])
        inside += lo <= true <= hi
        below += true <= ul
    assert 0.68 - 0.07 < inside / n_sim < 0.68 + 0.07
    assert 0.95 - 0.035 < below / n_sim < 0.95 + 0.035


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_against_gammapy_hess_crab(gammapy_data):
    from gammapy.datasets import Datasets
    from gammapy.datasets import SpectrumDatasetOnOff as GPDataset
    from gammapy.estimators import FluxPointsEstimator as GPEstimator
    from gammapy.modeling.models import PowerLawSpectralModel
    from gammapy.modeling.models import SkyModel as GPSkyModel

    paths = sorted((gammapy_data / "joint-crab" / "spectra" / "hess").glob("pha_*.fits"))[:2]
    edges = np.array([0.7079457843841385, 1.7782794100389235, 4.466835921509632, 31.6227766])
    index, amplitude = 2.7, 4.6e-11
    gp = Datasets([GPDataset.read(p) for p in paths])
    gp.models = [
        GPSkyModel(
            PowerLawSpectralModel(index=index, amplitude=f"{amplitude} cm-2 s-1 TeV-1"), name="crab"
        )
    ]
    ref = GPEstimator(
        energy_edges=edges * u.TeV, source="crab", selection_optional=["errn-errp"]
    ).run(gp)
    ref = ref.to_table(sed_type="likelihood", format="gadf-sed")
    ours = [SpectrumDatasetOnOff.read(p) for p in paths]
    source = SkyModel(
        PowerLaw(index=index, amplitude=amplitude * u.Unit("cm-2 s-1 TeV-1")), name="crab"
    )
    t = FluxPointsEstimator(source, edges * u.TeV, onoff="wstat").run(ours).table
    assert_allclose(t["ts"], ref["ts"], rtol=1e-5)
    assert_allclose(t["norm_best"], ref["norm"], rtol=2e-3)
    # median and 68 % interval within 0.3 sigma / 10 % of gammapy's profile errors
    sigma = np.where(t["norm"] > ref["norm"], ref["norm_errp"], ref["norm_errn"])
    assert np.all(np.abs(t["norm"] - ref["norm"]) / sigma < 0.3)
    assert_allclose(t["norm_errn"], ref["norm_errn"], rtol=0.1)
    assert_allclose(t["norm_errp"], ref["norm_errp"], rtol=0.1)


@pytest.mark.sampling
def test_joint_mode_matches_conditional_quadrature():
    # one source, on/off data: NUTS over (norm, latent OFF rates) = the analytic marginal,
    # with the same prior on the OFF rates (the flat one was sampled with Gamma(1/4) before)
    ds = _onoff(counts=[60, 30, 12, 3, 0], counts_off=[100, 40, 10, 10, 4])
    edges = [0.5, 2] * u.TeV
    kwargs = {"draws": 1500, "tune": 700, "chains": 2, "random_seed": 3}
    for prior in ("jeffreys", "flat"):
        fp = FluxPointsEstimator(
            _source(), edges, mode="joint", background_prior=prior, sampler_kwargs=kwargs
        ).run(ds)
        ref = FluxPointsEstimator(_source(), edges, background_prior=prior).run(ds)
        t, r = fp.table, ref.table
        assert t.meta["MODE"] == "joint" and t.meta["BKGPRIOR"] == prior
        assert_allclose(t["norm"], r["norm"], atol=0.1 * r["norm_err"][0])
        assert_allclose(t["norm_err"], r["norm_err"], rtol=0.1)
        assert_allclose(t["norm_ul"], r["norm_ul"], rtol=0.05)


def test_shape_from_a_gammaprob_fit():
    from gammaprob.inference import build_model, find_map
    from gammaprob.modeling import LogNormal
    from gammaprob.modeling import Normal as NormalPrior

    ds = _onoff(counts=[300, 150, 60, 20, 6], counts_off=[500, 250, 90, 30, 10])
    source = SkyModel(
        PowerLaw(
            index=NormalPrior(2.0, 1.0),
            amplitude=LogNormal(np.log(1e-11), 1.0, unit="cm-2 s-1 TeV-1"),
        ),
        name="src",
    )
    with pytest.warns(UserWarning, match="WStat"):
        model = build_model(ds, source, onoff="wstat")
    mode = find_map(model, random_seed=1)
    fp = FluxPointsEstimator("src", EDGES, onoff="wstat").run(ds, [source], posterior=mode)
    e_ref = np.sqrt(EDGES[:-1] * EDGES[1:]).to_value("TeV")
    expected = mode["src::amplitude"] * e_ref ** -mode["src::index"]
    assert_allclose(fp.table["ref_dnde"].quantity.value, expected, rtol=1e-10)
    # at the best-fit shape the flux points scatter around norm = 1
    assert abs(np.average(fp.table["norm_best"], weights=fp.table["ts"]) - 1) < 0.1


def test_table_reports_the_snapped_edges_used(caplog):
    """Requested 0.8-2.5-16 TeV on 0.5-1-2-4-8-16 TeV bins: 1-2 and 2-16 TeV are measured."""
    import json
    import logging

    ds = _onoff(counts=[60, 30, 12, 3, 0], counts_off=[100, 40, 10, 10, 4])
    with caplog.at_level(logging.INFO, logger="gammaprob.estimators.flux_points"):
        t = FluxPointsEstimator(_source(), [0.8, 2.5, 16] * u.TeV).run(ds).table
    assert_allclose(t["e_min"].quantity.to_value("TeV"), [1, 2], rtol=1e-12)
    assert_allclose(t["e_max"].quantity.to_value("TeV"), [2, 16], rtol=1e-12)
    assert_allclose(t["e_ref"].quantity.to_value("TeV"), [np.sqrt(2), np.sqrt(32)], rtol=1e-12)
    assert_allclose(t["ref_flux"].quantity.value, 1e-11 * np.array([0.5, 0.5 - 1 / 16]), rtol=1e-9)
    assert json.loads(t.meta["EREQ"]) == [0.8, 2.5, 16.0] and t.meta["EREQUNIT"] == "TeV"
    assert "requested 0.8-2.5 TeV, measured 1-2 TeV" in caplog.text
    assert "requested 2.5-16 TeV, measured 2-16 TeV" in caplog.text
    # the same numbers as when the edges actually used are requested
    same = FluxPointsEstimator(_source(), [1, 2, 16] * u.TeV).run(ds).table
    for column in ("e_ref", "ref_dnde", "ref_eflux", "norm", "norm_ul", "dnde", "e2dnde", "ts"):
        assert_allclose(t[column], same[column], rtol=1e-12)


def test_reported_edges_follow_the_safe_mask():
    ds = _onoff(counts=[60, 30, 12, 3, 0], counts_off=[100, 40, 10, 10, 4])
    ds = ds.replace(mask_safe=np.array([False, True, True, True, False]))
    t = FluxPointsEstimator(_source(), [0.5, 2, 16] * u.TeV).run(ds).table
    assert_allclose(t["e_min"].quantity.to_value("TeV"), [1, 2], rtol=1e-12)
    assert_allclose(t["e_max"].quantity.to_value("TeV"), [2, 8], rtol=1e-12)


@pytest.mark.requires_data
def test_snapped_edges_on_hess_crab(gammapy_data):
    """0.93-2.15 TeV requested: the H.E.S.S. bins measured span 0.891-2.239 TeV."""
    paths = sorted((gammapy_data / "joint-crab" / "spectra" / "hess").glob("pha_*.fits"))[:2]
    datasets = [SpectrumDatasetOnOff.read(p) for p in paths]
    edges = datasets[0].energy_axis.edges.to_value("TeV")
    t = FluxPointsEstimator(_source(), [0.93, 2.15, 5] * u.TeV).run(datasets).table
    lo, mid, hi = (edges[np.argmin(np.abs(np.log(edges / e)))] for e in (0.93, 2.15, 5))
    assert_allclose([lo, mid, hi], [0.891251, 2.238721, 5.011872], rtol=1e-6)
    assert_allclose(t["e_min"].quantity.to_value("TeV"), [lo, mid], rtol=1e-12)
    assert_allclose(t["e_max"].quantity.to_value("TeV"), [mid, hi], rtol=1e-12)


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_snapped_edges_and_references_as_gammapy(gammapy_data):
    from gammapy.datasets import Datasets
    from gammapy.datasets import SpectrumDatasetOnOff as GPDataset
    from gammapy.estimators import FluxPointsEstimator as GPEstimator
    from gammapy.modeling.models import PowerLawSpectralModel
    from gammapy.modeling.models import SkyModel as GPSkyModel

    paths = sorted((gammapy_data / "joint-crab" / "spectra" / "hess").glob("pha_*.fits"))[:2]
    edges = [0.93, 2.15, 5] * u.TeV
    gp = Datasets([GPDataset.read(p) for p in paths])
    gp.models = [
        GPSkyModel(PowerLawSpectralModel(index=2.7, amplitude="4.6e-11 cm-2 s-1 TeV-1"), name="c")
    ]
    ref = GPEstimator(energy_edges=edges, source="c").run(gp)
    ref = ref.to_table(sed_type="likelihood", format="gadf-sed")
    source = SkyModel(PowerLaw(index=2.7, amplitude=4.6e-11 * u.Unit("cm-2 s-1 TeV-1")), name="c")
    ours = [SpectrumDatasetOnOff.read(p) for p in paths]
    t = FluxPointsEstimator(source, edges, onoff="wstat").run(ours).table
    for column in ("e_min", "e_max", "e_ref", "ref_dnde", "ref_flux", "ref_eflux"):
        assert_allclose(t[column].quantity, ref[column].quantity, rtol=1e-6, err_msg=column)
    assert_allclose(t["norm_best"], ref["norm"], rtol=2e-3)
