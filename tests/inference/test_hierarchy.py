"""Hierarchical priors: API, non-centred graph, YAML, single-member error and recovery."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pymc as pm
import pytensor
import pytest

from gammaprob.inference import build_model, check_convergence, sample
from gammaprob.inference.build import model_metadata
from gammaprob.modeling import (
    FoVBackgroundModel,
    HalfNormal,
    HierarchicalPrior,
    Hierarchy,
    LogNormal,
    LogUniform,
    Models,
    Normal,
    SkyModel,
    Systematics,
    check_hierarchies,
    spectral,
)
from gammaprob.modeling.hierarchy import HIERARCHY_DRAWS, HIERARCHY_TARGET_ACCEPT, hierarchies_in
from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset


def _norms():
    return Hierarchy(
        "bkg_norm", location=LogNormal(0.0, 0.1), scale=HalfNormal(0.1), population="lognormal"
    )


def test_non_centred_graph_values():
    """Members are location * exp(scale * offset), offsets standard normal (non-centred)."""
    runs = _norms()
    models = Models([FoVBackgroundModel(n, norm=p) for n, p in runs.priors(["r1", "r2"]).items()])
    with pm.Model() as model:
        models.build()
    free = {v.name for v in model.free_RVs}
    assert free == {
        "bkg_norm::location",
        "bkg_norm::scale",
        "r1-bkg::norm_offset",
        "r2-bkg::norm_offset",
    }
    point = {
        "bkg_norm::location_log__": np.log(1.2),
        "bkg_norm::scale_log__": np.log(0.3),
        "r1-bkg::norm_offset": 0.5,
        "r2-bkg::norm_offset": -1.0,
    }
    outputs = model.replace_rvs_by_values(model.deterministics)
    values = pytensor.function(model.value_vars, outputs)(**point)
    np.testing.assert_allclose(values, [1.2 * np.exp(0.3 * 0.5), 1.2 * np.exp(-0.3)], rtol=1e-12)


def test_centred_and_normal_population():
    h = Hierarchy("cal", location=Normal(1.0, 0.1), scale=HalfNormal(0.05), centred=True)
    models = Models(
        [
            FoVBackgroundModel(n, spectral=spectral.PowerLawNorm(norm=1.0, tilt=p))
            for n, p in h.priors(["a", "b", "c"]).items()
        ]
    )
    with pm.Model() as model:
        models.build()
    assert {"a-bkg::tilt_centred", "cal::location", "cal::scale"} <= set(model.named_vars)
    draws = h.member("x").sample(np.random.default_rng(0), 20000)
    assert np.std(draws) == pytest.approx(np.sqrt(0.1**2 + 0.05**2), rel=0.05)


def test_single_member_is_an_error():
    runs = _norms()
    with pytest.raises(ValueError, match=r"hierarchy 'bkg_norm' has 1 member.*at least two"):
        runs.priors(["only"])
    lone = SkyModel(
        spectral.PowerLaw(
            index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1")
        ),
        name="src",
    )
    dataset = simulate_spectrum_dataset(
        lone, parametric_spectrum_dataset(name="d", n_bins=4), rng=1
    )
    with pytest.raises(
        ValueError, match=r"'bkg_norm' has 1 member\(s\) \['src@d::effective_area'\]"
    ):
        build_model([dataset], lone, systematics=Systematics("d", effective_area=runs.member("d")))
    with pytest.raises(ValueError, match="hierarchy names must be unique"):
        other = _norms()
        check_hierarchies(
            Models(
                [
                    FoVBackgroundModel("a", norm=runs.member("a")),
                    FoVBackgroundModel("b", norm=runs.member("b")),
                    FoVBackgroundModel("c", norm=other.member("c")),
                    FoVBackgroundModel("e", norm=other.member("e")),
                ]
            ).parameters
        )


def test_bad_hyperpriors():
    with pytest.raises(ValueError, match=r"hierarchy 'h'.*physical bounds"):
        Hierarchy("h", location=Normal(1.0, 0.1), scale=Normal(0.0, 0.1))  # scale can be < 0
    with pytest.raises(ValueError, match=r"hierarchy 'h'.*physical bounds"):
        Hierarchy("h", location=Normal(1.0, 0.1), scale=HalfNormal(0.1), population="lognormal")
    with pytest.raises(ValueError, match="population must be one of"):
        Hierarchy("h", location=Normal(1.0, 0.1), scale=HalfNormal(0.1), population="cauchy")
    with pytest.raises(ValueError, match="non-empty string without '::'"):
        Hierarchy("a::b", location=Normal(1.0, 0.1), scale=HalfNormal(0.1))


def test_yaml_round_trip_keeps_one_population():
    runs = _norms()
    models = Models([FoVBackgroundModel(n, norm=p) for n, p in runs.priors(["a", "b"]).items()])
    again = Models.from_yaml(models.to_yaml())
    priors = [m.parameters["norm"].prior for m in again]
    assert all(isinstance(p, HierarchicalPrior) for p in priors)
    assert priors[0].hierarchy is priors[1].hierarchy
    assert [p.member for p in priors] == ["a", "b"]
    assert priors[0].hierarchy.location.prior == LogNormal(0.0, 0.1)
    with pm.Model() as model:
        again.build()
    assert {"bkg_norm::location", "bkg_norm::scale", "a-bkg::norm"} <= set(model.named_vars)


def test_member_unit_conversion():
    h = Hierarchy("e0", location=Normal(1.0, 0.1, unit="TeV"), scale=HalfNormal(0.1, unit="TeV"))
    gev = h.member("x").to_unit("GeV")
    assert gev.factor == pytest.approx(1000.0)
    assert gev.typical() == pytest.approx(1000.0)
    with pytest.raises(u.UnitConversionError, match="hierarchy 'e0'"):
        h.member("x").to_unit("cm")


INDICES = {"s0": 2.3, "s1": 2.5, "s2": 2.65, "s3": 2.45}


@pytest.mark.sampling
def test_hierarchy_recovers_members_and_population():
    """Four sources with indices from one population: a short NUTS run recovers them."""
    population = Hierarchy("index", location=Normal(2.5, 0.5), scale=HalfNormal(0.3))
    priors = population.priors(INDICES)
    models, datasets = [], []
    for i, (name, index) in enumerate(INDICES.items()):
        pl = spectral.PowerLaw(
            index=priors[name], amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1")
        )
        pl.parameters["index"].value = index
        pl.parameters["amplitude"].value = 5e-12
        source = SkyModel(pl, name=name, datasets_names=[f"d{i}"])
        template = parametric_spectrum_dataset(name=f"d{i}", n_bins=10, livetime=0.5 * u.h)
        datasets.append(simulate_spectrum_dataset(source, template, rng=10 + i))
        models.append(source)
    model = build_model(datasets, models)
    assert "HierarchicalPrior" in model_metadata(model)["model_yaml"]
    result = sample(
        model,
        draws=500,
        tune=500,
        chains=2,
        random_seed=3,
        target_accept=0.95,
        progressbar=False,
        check=False,
    )
    report = check_convergence(result, warn=False)
    assert report.n_divergent == 0, str(report)
    for name, index in INDICES.items():
        draws = np.asarray(result.posterior[f"{name}::index"]).ravel()
        assert abs(draws.mean() - index) < 3 * draws.std(), name
    location = np.asarray(result.posterior["index::location"]).ravel()
    truth = np.mean(list(INDICES.values()))
    assert abs(location.mean() - truth) < 3 * location.std()


def test_cross_calibration_of_effective_areas():
    """Effective areas of three instruments from one population, through Systematics."""
    source = SkyModel(
        spectral.PowerLaw(
            index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1")
        ),
        name="src",
    )
    datasets = [
        simulate_spectrum_dataset(source, parametric_spectrum_dataset(name=n, n_bins=4), rng=i)
        for i, n in enumerate(["i1", "i2", "i3"])
    ]
    calibration = Hierarchy(
        "aeff", location=LogNormal(0.0, 0.1), scale=HalfNormal(0.1), population="lognormal"
    )
    systematics = [
        Systematics(ds.name, effective_area=calibration.member(ds.name)) for ds in datasets
    ]
    model = build_model(datasets, source, systematics=systematics)
    free = {v.name for v in model.free_RVs}
    assert {"aeff::location", "aeff::scale", "i1::effective_area_offset"} <= free
    assert {"i1::effective_area", "i3::effective_area"} <= {v.name for v in model.deterministics}
    again = Models.from_yaml(model_metadata(model)["model_yaml"])
    priors = [m.spectral.parameters["effective_area"].prior for m in again if "@" in m.name]
    assert len(priors) == 3 and len({id(p.hierarchy) for p in priors}) == 1


def _index_population_models(n_bins: int = 8):
    """The ``hierarchy_1d`` coverage case: four power laws, indices from one population."""
    population = Hierarchy("index", location=Normal(2.5, 0.3), scale=HalfNormal(0.2))
    priors = population.priors([f"s{i}" for i in range(4)])
    models = [
        SkyModel(
            spectral.PowerLaw(
                index=prior, amplitude=LogUniform(1e-12, 1e-11, unit="cm-2 s-1 TeV-1")
            ),
            name=name,
            datasets_names=[f"d{i}"],
        )
        for i, (name, prior) in enumerate(priors.items())
    ]
    datasets = [
        parametric_spectrum_dataset(name=f"d{i}", n_bins=n_bins, n_bins_true=16) for i in range(4)
    ]
    return datasets, models


def _target_accept(result) -> float:
    return json.loads(result.attrs["sampler_settings"])["target_accept"]


def _draws(result) -> int:
    return json.loads(result.attrs["sampler_settings"])["draws"]


def _plain_and_hierarchy_models():
    datasets, models = _index_population_models(n_bins=4)
    plain = SkyModel(
        spectral.PowerLaw(
            index=Normal(2.5, 0.3), amplitude=LogUniform(1e-12, 1e-11, unit="cm-2 s-1 TeV-1")
        ),
        name="src",
    )
    return build_model(datasets[:1], plain), build_model(datasets, models)


def test_hierarchies_in_names_the_model_hierarchies():
    """A model with members of a hierarchy is recognised; one without is not."""
    plain, hierarchical = _plain_and_hierarchy_models()
    assert hierarchies_in(hierarchical) == ["index"]
    assert hierarchies_in(plain) == []


def test_sample_raises_target_accept_for_hierarchies():
    """sample() uses 0.99 for a model with a hierarchy, 0.9 otherwise; an explicit value wins."""
    plain, hierarchical = _plain_and_hierarchy_models()
    short = {"draws": 5, "tune": 5, "chains": 1, "random_seed": 0, "progressbar": False}
    short |= {"check": False, "log_likelihood": False}
    assert _target_accept(sample(hierarchical, **short)) == HIERARCHY_TARGET_ACCEPT == 0.99
    assert _target_accept(sample(hierarchical, target_accept=0.8, **short)) == 0.8
    assert _target_accept(sample(plain, **short)) == 0.9


def test_sample_takes_more_draws_for_hierarchies():
    """sample() keeps 2000 draws per chain with a hierarchy, 1000 otherwise; explicit wins."""
    plain, hierarchical = _plain_and_hierarchy_models()
    short = {"tune": 5, "chains": 1, "random_seed": 0, "progressbar": False}
    short |= {"check": False, "log_likelihood": False}
    result = sample(hierarchical, **short)
    assert _draws(result) == HIERARCHY_DRAWS == 2000
    assert result.posterior.sizes["draw"] == 2000
    assert _draws(sample(hierarchical, draws=7, **short)) == 7
    plain_result = sample(plain, **short)
    assert _draws(plain_result) == plain_result.posterior.sizes["draw"] == 1000


@pytest.mark.sampling
def test_hierarchy_coverage_replication_without_divergences():
    """Replication 2 of the hierarchy_1d SBC (seed 0): 54 divergences at target_accept 0.9;
    none with the hierarchy default of sample()."""
    from gammaprob.calibrate.inject import with_simulated_data

    datasets, models = _index_population_models()
    fit = build_model(datasets, models)
    observed = [rv.name for rv in fit.observed_RVs]
    ranked = ["index::location", "index::scale"]  # the SBC's draw: its ranked variables too
    ranked += [f"s{i}::{p}" for p in ("index", "amplitude") for i in range(4)]
    prior = pm.sample_prior_predictive(
        draws=3, model=fit, var_names=[*ranked, *observed], random_seed=0
    )
    assert prior["prior"]["index::scale"].values[0, 2] == pytest.approx(0.6993, abs=1e-4)
    data = {k: np.asarray(prior["prior_predictive"][k].values[0, 2]) for k in observed}
    model = build_model(with_simulated_data(datasets, data, rng=3), models)
    result = sample(model, random_seed=3, progressbar=False, log_likelihood=False, check=False)
    assert _target_accept(result) == 0.99
    report = check_convergence(result, warn=False)
    assert report.n_divergent == 0, str(report)
    assert report.rhat_max < 1.02, str(report)  # measured 1.0100 (ESS bulk 436)
