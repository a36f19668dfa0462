"""The four-instrument Crab configuration (validation/multi_instrument/config.yaml) gives the
posterior of the notebook notebooks/multi_instrument_crab.ipynb when run by the CLI."""

from __future__ import annotations

from pathlib import Path

import arviz as az
import astropy.units as u
import numpy as np
import pytest
import yaml
from astropy.coordinates import SkyCoord
from click.testing import CliRunner
from regions import CircleSkyRegion, PointSkyRegion

from gammaprob.analysis.cli import main
from gammaprob.analysis.config import AnalysisConfig, SystematicsConfig
from gammaprob.inference import load_result

STUDY = Path(__file__).parents[2] / "validation" / "multi_instrument"
PARAMS = ("crab::amplitude", "crab::alpha", "crab::beta", "hess::energy_scale",
          "magic::energy_scale", "fermi-bkg::norm")  # fmt: skip
QUANTILES = (0.16, 0.5, 0.84)


def _config_data(tmp_path) -> dict:
    data = yaml.safe_load((STUDY / "config.yaml").read_text())
    data["models"]["file"] = str(STUDY / "models.yaml")
    data["outputs"].update(directory=str(tmp_path / "out"), report=None)
    return data


def test_config_validates_with_the_four_instruments_and_the_systematics(tmp_path):
    config = AnalysisConfig.from_dict(_config_data(tmp_path))
    assert [b.name for b in config.datasets] == ["hess", "magic", "fermi", "hawc"]
    assert [b.type for b in config.datasets] == ["spectrum", "spectrum", "map-file", "flux-points"]
    assert config.datasets[1].on_region.radius is None  # MAGIC: RAD_MAX
    assert config.datasets[1].background.method == "wobble"
    assert config.priors.systematics == {
        "hess": SystematicsConfig(energy_scale=0.15),
        "magic": SystematicsConfig(energy_scale=0.15),
    }


def _notebook_datasets(config: dict) -> list:
    """The notebook's reduction, written out with the makers (not through the config)."""
    import os

    from gammaprob.data import DataStore
    from gammaprob.datasets import FluxPoints, FluxPointsDataset, read_map_dataset
    from gammaprob.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
        SpectrumTemplate,
        WobbleRegionsFinder,
        reduce,
    )
    from gammaprob.maps import MapAxis

    data = Path(os.environ["GAMMAPY_DATA"])
    blocks = {b["name"]: b for b in config["datasets"]}
    crab = SkyCoord(83.633, 22.014, unit="deg", frame="icrs")

    def axis(cfg, name="energy"):
        return MapAxis.from_energy_bounds(cfg["min"], cfg["max"], cfg["nbins"], "TeV", name=name)

    def spectrum(block, on_region, store, makers, required_irf):
        observations = DataStore.from_dir(data / store).get_observations(
            block["observations"].get("obs_ids"), required_irf=required_irf
        )
        template = SpectrumTemplate(
            on_region,
            axis(block["energy_axis"]),
            axis(block["energy_axis_true"], "energy_true"),
            name=block["name"],
        )
        out = reduce(template, observations, makers, stack=True, progress=False)
        return out.datasets[0].replace(name=block["name"])

    hess = spectrum(
        blocks["hess"],
        CircleSkyRegion(crab, 0.11 * u.deg),
        "hess-dl3-dr1",
        [
            SpectrumDatasetMaker(
                selection=["counts", "exposure", "edisp", "background"],
                containment_correction=True,
            ),
            ReflectedRegionsBackgroundMaker(),
            SafeMaskMaker(["aeff-max", "edisp-bias", "bkg-peak"]),
        ],
        "full-enclosure",
    )
    magic = spectrum(
        blocks["magic"],
        PointSkyRegion(crab),
        "magic/rad_max/data",
        [
            SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"]),
            ReflectedRegionsBackgroundMaker(region_finder=WobbleRegionsFinder(n_off_regions=1)),
            SafeMaskMaker(["aeff-default"]),
        ],
        "point-like",
    )
    fermi = read_map_dataset(
        data / "fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits", name="fermi"
    )
    hawc = FluxPointsDataset(
        "hawc", FluxPoints.read(data / "hawc/crab_flux/HAWC19_flux_points.fits")
    )
    return [hess, magic, fermi, hawc]


def _notebook_posterior(config: dict):
    from gammaprob.inference import build_model, sample
    from gammaprob.modeling import Models, Systematics
    from gammaprob.modeling.spectral import energy_scale_prior

    datasets = _notebook_datasets(config)
    systematics = [
        Systematics([name], name=name, energy_scale=energy_scale_prior(cfg["energy_scale"]))
        for name, cfg in config["priors"]["systematics"].items()
    ]
    model = build_model(datasets, Models.read(STUDY / "models.yaml"), systematics=systematics)
    s = config["sampler"]
    return sample(
        model,
        draws=s["draws"],
        tune=s["tune"],
        chains=s["chains"],
        random_seed=s["seed"],
        target_accept=s["target_accept"],
        progressbar=False,
        check=False,
    )


@pytest.mark.requires_data
@pytest.mark.slow
@pytest.mark.sampling
def test_cli_run_gives_the_notebook_posterior(tmp_path):
    """``gammaprob run config.yaml`` and the notebook's step-by-step analysis: every
    parameter's 16/50/84 % quantiles agree within 4 Monte Carlo standard errors."""
    data = _config_data(tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    run = CliRunner().invoke(main, ["run", str(path), "--no-progress"])
    assert run.exit_code == 0, run.output
    assert "R-hat" in run.output
    cli = load_result(tmp_path / "out" / "result.nc")
    notebook = _notebook_posterior(data)
    for result in (cli, notebook):
        assert int(result["sample_stats"]["diverging"].sum()) == 0
        rhat = az.rhat(result, var_names=list(PARAMS))
        assert max(float(rhat[name]) for name in PARAMS) < 1.01
    for name in PARAMS:
        a = np.asarray(cli["posterior"][name]).ravel()
        b = np.asarray(notebook["posterior"][name]).ravel()
        ess = min(
            float(az.ess(cli, var_names=[name])[name]),
            float(az.ess(notebook, var_names=[name])[name]),
        )
        sd = 0.5 * (a.std() + b.std())
        # a quantile's Monte Carlo error is about sd * sqrt(q (1 - q)) / pdf / sqrt(ESS)
        # (1.25 sd / sqrt(ESS) at the median of a Gaussian, 1.52 at 16 and 84 %); 4 of them,
        # for two runs
        tolerance = 4 * np.sqrt(2) * 1.6 * sd / np.sqrt(ess)
        for q in QUANTILES:
            assert abs(np.quantile(a, q) - np.quantile(b, q)) < tolerance, (name, q)
