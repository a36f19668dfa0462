"""Analysis: models from the library, prior overrides, systematics, cached reductions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from gammaprob.analysis.analysis import Analysis, AnalysisError, library_models
from gammaprob.analysis.config import AnalysisConfig
from gammaprob.analysis.templates import template
from gammaprob.modeling import Normal


def _config(tmp_path, **changes) -> AnalysisConfig:
    data = yaml.safe_load(template("1d"))
    data["datasets"][0]["observations"]["obs_ids"] = [23523, 23526]
    data["outputs"]["directory"] = str(tmp_path / "out")
    for key, value in changes.items():
        data[key] = value
    return AnalysisConfig.from_dict(data)


def test_library_lists_the_models_folder():
    library = library_models()
    assert {"crab_logparabola", "blazar_ebl_powerlaw"} <= set(library)
    assert all(path.is_file() for path in library.values())


def test_models_from_library_with_overrides(tmp_path):
    overrides = {"crab::beta": 0.0, "crab::alpha": {"type": "Normal", "mu": 2.6, "sigma": 0.3}}
    config = _config(tmp_path, priors={"overrides": overrides})
    models = Analysis(config, progress=False).get_models()
    params = models.parameters
    assert not params["crab::beta"].is_free and params["crab::beta"].value == 0.0
    assert params["crab::alpha"].prior == Normal(2.6, 0.3)
    assert params["crab::amplitude"].is_free  # untouched: the library's prior
    assert (tmp_path / "out" / "analysis.log").read_text().count("prior override") == 2


def test_unknown_library_entry_and_parameter_are_named(tmp_path):
    config = _config(tmp_path, models={"library": "crab_logparabol"})
    with pytest.raises(AnalysisError, match=r"models.library: no entry 'crab_logparabol' \(did"):
        Analysis(config, progress=False).get_models()
    config = _config(tmp_path, priors={"overrides": {"crab::alfa": 2.0}})
    with pytest.raises(
        AnalysisError,
        match=r"priors.overrides: no parameter 'crab::alfa' \(did you mean 'crab::alpha'",
    ):
        Analysis(config, progress=False).get_models()


def test_models_from_a_file_relative_to_the_config(tmp_path):
    (tmp_path / "m.yaml").write_text(library_models()["crab_logparabola"].read_text())
    data = yaml.safe_load(template("1d"))
    data["models"] = {"file": "m.yaml"}
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(data))
    models = Analysis(path, progress=False).get_models()
    assert models.names == ["crab"]
    assert (tmp_path / "gammaprob-analysis" / "analysis.log").is_file()


def test_missing_datastore_names_the_field(tmp_path):
    data = yaml.safe_load(template("1d"))
    data["datasets"][0]["observations"]["datastore"] = str(tmp_path / "nowhere")
    data["outputs"]["directory"] = str(tmp_path / "out")
    analysis = Analysis(AnalysisConfig.from_dict(data), progress=False)
    with pytest.raises(AnalysisError, match=r"datasets\[hess\].observations.datastore: no folder"):
        analysis.get_observations()
    assert "step observations failed" in (tmp_path / "out" / "analysis.log").read_text()


def test_existing_outputs_are_refused_before_any_work(tmp_path):
    config = _config(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "result.nc").write_text("x")
    analysis = Analysis(config, progress=False)
    with pytest.raises(FileExistsError, match=r"outputs\.overwrite"):
        analysis.run()
    assert analysis.timings == {}


@pytest.mark.requires_data
def test_reduction_is_reused_after_a_prior_change(tmp_path):
    first = Analysis(_config(tmp_path), progress=False)
    (fresh,) = first.get_datasets()
    assert first.reduction["hess"]["reused"] is False
    key = first.reduction["hess"]["key"]
    assert key.startswith("sha256:")
    cache = json.loads((tmp_path / "out" / "datasets" / "hess" / "reduction.json").read_text())
    assert cache["key"] == key

    # a prior change: same inputs, same settings -> the reduction is read back
    changed = _config(tmp_path, priors={"overrides": {"crab::alpha": 2.5}})
    second = Analysis(changed, progress=False)
    (reused,) = second.get_datasets()
    assert second.reduction["hess"] == {"key": key, "reused": True}
    for name in ("counts", "counts_off", "alpha", "mask_safe", "exposure", "edisp"):
        np.testing.assert_array_equal(getattr(reused, name), getattr(fresh, name), err_msg=name)
    assert "reduction reused" in (tmp_path / "out" / "analysis.log").read_text()

    # a reduction setting changes -> reduced again, with a new key
    data = yaml.safe_load(changed.to_yaml())
    data["datasets"][0]["energy_axis"]["nbins"] = 10
    third = Analysis(AnalysisConfig.from_dict(data), progress=False)
    (again,) = third.get_datasets()
    assert third.reduction["hess"]["reused"] is False
    assert third.reduction["hess"]["key"] != key
    assert again.energy_axis.nbin == 10

    # a different observation -> a new key
    data["datasets"][0]["observations"]["obs_ids"] = [23523]
    fourth = Analysis(AnalysisConfig.from_dict(data), progress=False)
    fourth.get_observations()
    assert fourth._reduction_key(fourth.config.datasets[0]) != third.reduction["hess"]["key"]


@pytest.mark.requires_data
def test_ogip_blocks_with_energy_scale_systematics(tmp_path):
    data = {
        "datasets": [
            {
                "name": "hess",
                "type": "ogip",
                "files": ["$GAMMAPY_DATA/joint-crab/spectra/hess/pha_obs23523.fits"],
                "energy_range": {"min": 0.66, "max": 30},
            },
            {
                "name": "veritas",
                "type": "ogip",
                "files": [
                    "$GAMMAPY_DATA/joint-crab/spectra/veritas/pha_obs54809.fits",
                    "$GAMMAPY_DATA/joint-crab/spectra/veritas/pha_obs57993.fits",
                ],
            },
        ],
        "models": {"library": "crab_logparabola"},
        "priors": {"systematics": {"veritas": {"energy_scale": 0.1}}},
        "outputs": {"directory": str(tmp_path)},
    }
    analysis = Analysis(AnalysisConfig.from_dict(data), progress=False)
    datasets = analysis.get_datasets()
    assert [ds.name for ds in datasets] == ["hess", "veritas-0", "veritas-1"]
    edges = datasets[0].energy_axis.edges.to_value("TeV")
    fit = datasets[0].mask_fit
    assert edges[:-1][fit].min() >= 0.66 * (1 - 1e-6) and edges[1:][fit].max() <= 30 * (1 + 1e-6)
    assert datasets[1].mask_fit is None
    models = analysis.get_models()
    assert models.names == ["crab", "crab@veritas"]
    assert models["crab"].datasets_names == ["hess"]
    assert models["crab@veritas"].datasets_names == ["veritas-0", "veritas-1"]
    params = models.parameters
    # the physical parameters are shared (one random variable), the bias is the block's own
    assert params["crab@veritas::alpha"] is params["crab::alpha"]
    prior = params["crab@veritas::energy_scale"].prior.to_dict()
    assert (prior["type"], prior["sigma"]) == ("TruncatedNormal", pytest.approx(0.1))
    # provenance: the content hash of every OGIP file (PHA, ARF, RMF, BKG)
    hashed = {Path(p).name for p in analysis.reduction["veritas"]["files"]}
    assert hashed == {
        f"{kind}_obs{i}.fits" for kind in ("pha", "arf", "rmf", "bkg") for i in (54809, 57993)
    }


@pytest.mark.requires_data
@pytest.mark.parametrize(
    ("background", "kind"),
    [
        ({"method": "fov"}, "MapDataset"),
        ({"method": "ring", "r_in": 0.5, "width": 0.3}, "MapDatasetOnOff"),
    ],
)
def test_map_block_reduces_and_is_cached(tmp_path, background, kind):
    data = yaml.safe_load(template("3d"))
    block = data["datasets"][0]
    block["observations"]["obs_ids"] = [23523]
    block["geom"].update(width=2.0, binsz=0.05)
    block["background"] = background
    block["stack"] = kind == "MapDataset"  # on/off maps cannot be stacked yet
    data["outputs"]["directory"] = str(tmp_path)
    config = AnalysisConfig.from_dict(data)
    first = Analysis(config, progress=False)
    (dataset,) = first.get_datasets()
    assert type(dataset).__name__ == kind
    assert dataset.name == ("hess-3d" if block["stack"] else "hess-3d-23523")
    assert dataset.counts.data.shape == (4, 40, 40)
    assert dataset.counts.data.sum() > 0
    second = Analysis(config, progress=False)
    (again,) = second.get_datasets()
    assert second.reduction["hess-3d"]["reused"] is True
    assert type(again).__name__ == kind
    np.testing.assert_array_equal(again.counts.data, dataset.counts.data)
    np.testing.assert_array_equal(again.mask_safe.data, dataset.mask_safe.data)


@pytest.mark.requires_data
@pytest.mark.sampling
def test_light_curve_per_run_and_flux_points(tmp_path):
    from gammaprob.estimators import LightCurve

    data = yaml.safe_load(template("1d"))
    block = data["datasets"][0]
    block["observations"]["obs_ids"] = [23523, 23526]
    block["stack"] = False
    data["priors"] = {"overrides": {"crab::beta": 0.0}}
    data["sampler"].update(draws=300, tune=300, chains=2, seed=3)
    data["products"] = {
        "light_curve": {"source": "crab", "energy_edges": {"min": 1, "max": 10, "nbins": 1}},
        "flux_points": {"source": "crab", "energy_edges": {"min": 1, "max": 10, "nbins": 2}},
    }
    data["outputs"].update(directory=str(tmp_path), report=None)
    analysis = Analysis(AnalysisConfig.from_dict(data), progress=False)
    written = analysis.run()
    assert [ds.name for ds in analysis.datasets] == ["hess-23523", "hess-23526"]
    assert set(written) == {"result", "flux_points_crab", "light_curve_crab", "config", "log"}
    curve = LightCurve.read(written["light_curve_crab"])
    table = curve.table
    assert len(table) == 2  # one time bin per run
    # the two runs of 2004-12-04, in time order
    assert table["time_min"][0] < table["time_max"][0] <= table["time_min"][1]
    assert 53343.9 < table["time_min"][0] < 53344.0
    assert np.all(np.asarray(table["norm"]) > 0)
    assert len(analysis.products["flux_points_crab"]) == 2


@pytest.mark.requires_data
def test_cone_and_time_selection_and_catalog_models(tmp_path):
    data = yaml.safe_load(template("1d"))
    observations = data["datasets"][0]["observations"]
    observations.update(
        obs_ids=None,
        cone={"lon": 83.633, "lat": 22.014, "radius": 3.0},
        time_range={"start": "2004-12-04T00:00:00", "stop": "2004-12-05T00:00:00"},
    )
    data["models"] = {
        "catalog": {
            "catalog": "3FHL",
            "sources": ["Crab Nebula"],
            "cone": {"lon": 83.633, "lat": 22.014, "radius": 0.5},
            "policy": "catalog-errors",
        }
    }
    data["outputs"]["directory"] = str(tmp_path)
    analysis = Analysis(AnalysisConfig.from_dict(data), progress=False)
    selected = analysis.get_observations()["hess"]
    # the Crab runs of that night (23559 and 23592 were taken on later nights)
    assert [obs.obs_id for obs in selected] == [23523, 23526]
    models = analysis.get_models()
    # by name and in the cone: one model, not two
    assert models.names == ["3FHL J0534.5+2201"]
    assert models[0].meta["prior_policy"] == "catalog-errors"
    assert models.parameters["3FHL J0534.5+2201::index"].is_free
    assert "prior policy 'catalog-errors'" in (tmp_path / "analysis.log").read_text()
    data["models"]["catalog"]["sources"] = ["Crab Nebul"]
    with pytest.raises(AnalysisError, match=r"models.catalog.sources: "):
        Analysis(AnalysisConfig.from_dict(data), progress=False).get_models()
