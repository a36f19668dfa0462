"""Gammapy's joint fit of the four-instrument Crab analysis of ``config.yaml`` (issue 12 item 7).

The same reductions and model as the configuration, done with gammapy 2.1: H.E.S.S. DR1 (four
runs, reflected regions, stacked), MAGIC point-like DL3 (ON size from RAD_MAX,
``WobbleRegionsFinder(n_off_regions=1)``, stacked), the Fermi-LAT 3FHL map dataset with a free
background norm (as gammapy's multi-instrument tutorial) and HAWC's flux points (chi2 on dN/dE);
one log-parabola (natural log, E0 = 1 TeV) at the fixed Crab position of ``models.yaml``.

Two fits are written to ``gammapy_reference.yaml``:

* ``statistical``: the spectral parameters and the Fermi background norm only;
* ``energy_scale``: as the configuration, each Cherenkov telescope (H.E.S.S., MAGIC) sees the
  Crab through an energy-scale bias ``z`` (``phi(E/(1+z))/(1+z)``) with a
  ``GaussianPrior(0, 0.15)`` penalty (the Bayesian analysis uses the same Gaussian truncated
  to +-0.5): a penalised-likelihood fit with the nuisances profiled.

Run with the validation extra installed: ``python validation/multi_instrument/gammapy_reference.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar

import yaml

HERE = Path(__file__).resolve().parent
PARAMS = ("amplitude", "alpha", "beta")
SYSTEMATIC_BLOCKS = ("hess", "magic")


def _config() -> dict:
    return yaml.safe_load((HERE / "config.yaml").read_text())


def _expand(name: str) -> str:
    if not os.environ.get("GAMMAPY_DATA"):
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder")
    return os.path.expandvars(name)


def _axis(cfg: dict, name: str):
    from gammapy.maps import MapAxis

    return MapAxis.from_energy_bounds(
        cfg["min"], cfg["max"], cfg["nbins"], unit=cfg.get("unit", "TeV"), name=name
    )


def reduce_spectrum(block: dict):
    """Reduce a ``spectrum`` block of the configuration (reflected or wobble OFF regions)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
        WobbleRegionsFinder,
    )
    from gammapy.maps import RegionGeom
    from regions import CircleSkyRegion, PointSkyRegion

    obs_cfg = block["observations"]
    store = DataStore.from_dir(_expand(obs_cfg["datastore"]))
    observations = store.get_observations(
        obs_cfg.get("obs_ids"), required_irf=obs_cfg["required_irf"]
    )
    on = block["on_region"]
    center = SkyCoord(on["lon"], on["lat"], unit="deg", frame=on.get("frame", "icrs"))
    region = (
        PointSkyRegion(center)
        if on.get("radius") is None
        else CircleSkyRegion(center, on["radius"] * u.deg)
    )
    geom = RegionGeom.create(region=region, axes=[_axis(block["energy_axis"], "energy")])
    empty = SpectrumDataset.create(
        geom=geom, energy_axis_true=_axis(block["energy_axis_true"], "energy_true")
    )
    methods = block["safe_mask"]["methods"]
    selection = ["counts", "exposure", "edisp"] + (["background"] if "bkg-peak" in methods else [])
    maker = SpectrumDatasetMaker(
        selection=selection, containment_correction=block.get("containment_correction", False)
    )
    background = block.get("background", {"method": "reflected"})
    if background["method"] == "wobble":
        finder = WobbleRegionsFinder(n_off_regions=background["n_off_regions"])
        bkg_maker = ReflectedRegionsBackgroundMaker(region_finder=finder)
    else:
        bkg_maker = ReflectedRegionsBackgroundMaker()
    safe = SafeMaskMaker(
        methods=methods,
        aeff_percent=block["safe_mask"].get("aeff_percent", 10),
        bias_percent=block["safe_mask"].get("bias_percent", 10),
    )
    datasets = Datasets()
    for obs in observations:
        dataset = maker.run(empty.copy(name=f"{block['name']}-{obs.obs_id}"), obs)
        datasets.append(safe.run(bkg_maker.run(dataset, obs), obs))
    return datasets.stack_reduce(name=block["name"])


def read_inputs(config: dict) -> dict:
    """Every dataset of the configuration, by block name."""
    from gammapy.datasets import FluxPointsDataset, MapDataset
    from gammapy.estimators import FluxPoints
    from gammapy.modeling.models import create_crab_spectral_model

    out = {}
    for block in config["datasets"]:
        name = block["name"]
        if block["type"] == "spectrum":
            out[name] = reduce_spectrum(block)
        elif block["type"] == "map-file":
            out[name] = MapDataset.read(_expand(block["file"]), name=name)
        elif block["type"] == "flux-points":
            points = FluxPoints.read(
                _expand(block["file"]), reference_model=create_crab_spectral_model("meyer")
            )
            out[name] = FluxPointsDataset(data=points, name=name)
        else:
            raise ValueError(f"block type {block['type']!r} is not part of this study")
    return out


def energy_scale_model_class():
    """A gammapy spectral model seeing another one through an energy-scale bias ``z``."""
    from gammapy.modeling import Parameter, Parameters
    from gammapy.modeling.models import SpectralModel

    class EnergyScaleSpectralModel(SpectralModel):
        """``phi(E / (1 + z)) / (1 + z)``; the wrapped model's parameters stay shared.

        Its ``parameters`` list the wrapped model's too (the same objects): gammapy's
        evaluators cache the predicted counts until one of a model's parameters changes, so
        without them the datasets seeing this model would not follow the shared spectrum.
        """

        tag: ClassVar[list[str]] = ["EnergyScaleSpectralModel", "energy-scale"]
        z = Parameter("z", 0.0, unit="", min=-0.5, max=0.5)

        def __init__(self, model, z=0.0):
            self.model = model
            super().__init__(z=z)

        @property
        def parameters(self):
            return Parameters([self.z, *self.model.parameters])

        def evaluate(self, energy, z, **_):
            return self.model(energy / (1 + z)) / (1 + z)

    return EnergyScaleSpectralModel


def build_models(datasets: dict, energy_scale: bool):
    """The Crab (shared) and the Fermi background norm; optionally one bias per instrument."""
    import astropy.units as u
    from gammapy.modeling.models import (
        FoVBackgroundModel,
        GaussianPrior,
        LogParabolaSpectralModel,
        Models,
        PointSpatialModel,
        SkyModel,
    )

    spec = yaml.safe_load((HERE / "models.yaml").read_text())["components"][0]
    values = {p["name"]: p["value"] for p in spec["spectral"]["parameters"]}
    position = {p["name"]: p["value"] for p in spec["spatial"]["parameters"]}
    crab = LogParabolaSpectralModel(
        amplitude=values["amplitude"] * u.Unit("cm-2 s-1 TeV-1"),
        reference=values["reference"] * u.TeV,
        alpha=values["alpha"],
        beta=values["beta"],
    )
    spatial = PointSpatialModel(
        lon_0=position["lon_0"] * u.deg, lat_0=position["lat_0"] * u.deg, frame="icrs"
    )
    spatial.parameters.freeze_all()
    background = FoVBackgroundModel(dataset_name="fermi")
    background.spectral_model.tilt.frozen = True
    scaled = [n for n in SYSTEMATIC_BLOCKS if energy_scale]
    plain = [n for n in datasets if n not in scaled]
    models = [SkyModel(crab, spatial, name="crab", datasets_names=plain)]
    wrapper = energy_scale_model_class()
    for name in scaled:
        shifted = wrapper(crab)
        shifted.z.prior = GaussianPrior(mu=0.0, sigma=0.15)
        models.append(SkyModel(shifted, spatial.copy(), name=f"crab@{name}", datasets_names=[name]))
    return Models([*models, background]), crab


def fit(datasets: dict, energy_scale: bool) -> dict:
    """Fit the joint likelihood; best-fit values and symmetric (Hessian) errors."""
    from gammapy.datasets import Datasets
    from gammapy.modeling import Fit

    joint = Datasets([ds.copy(name=name) for name, ds in datasets.items()])
    models, crab = build_models(datasets, energy_scale)
    joint.models = models
    start = time.perf_counter()
    result = Fit().run(joint)
    out = {
        "success": bool(result.success),
        "fit_and_covariance_s": time.perf_counter() - start,
        "n_evaluations": int(result.optimize_result.nfev),
        "stat_sum": float(result.total_stat),
    }
    for name in PARAMS:
        out[name] = float(crab.parameters[name].value)
        out[f"{name}_err"] = float(crab.parameters[name].error)
    norm = joint.models["fermi-bkg"].spectral_model.norm
    out["fermi_bkg_norm"], out["fermi_bkg_norm_err"] = float(norm.value), float(norm.error)
    if energy_scale:
        for name in SYSTEMATIC_BLOCKS:
            z = joint.models[f"crab@{name}"].spectral_model.z
            out[f"{name}_energy_scale"], out[f"{name}_energy_scale_err"] = (
                float(z.value),
                float(z.error),
            )
    return out


def summary(datasets: dict) -> dict:
    """Counts and safe ranges of the reduced datasets (to compare the reductions)."""
    out = {}
    for name, ds in datasets.items():
        if name in ("hess", "magic"):
            mask = ds.mask_safe.data.ravel()
            edges = ds.counts.geom.axes["energy"].edges.to_value("TeV")
            out[name] = {
                "counts": int(ds.counts.data.ravel()[mask].sum()),
                "counts_off": int(ds.counts_off.data.ravel()[mask].sum()),
                "acceptance_off_mean": float(ds.acceptance_off.data.ravel()[mask].mean()),
                "safe_energy_tev": [float(edges[:-1][mask].min()), float(edges[1:][mask].max())],
            }
        elif name == "fermi":
            out[name] = {"counts": int(ds.counts.data.sum())}
    return out


def main() -> None:
    import gammapy

    config = _config()
    start = time.perf_counter()
    datasets = read_inputs(config)
    reduction_s = time.perf_counter() - start
    reference = {
        "gammapy": gammapy.__version__,
        "amplitude_unit": "cm-2 s-1 TeV-1",
        "reference_energy_tev": 1.0,
        "beta_form": "natural log (gammapy LogParabolaSpectralModel)",
        "reduction_s": reduction_s,
        "datasets": summary(datasets),
        "fits": {
            "statistical": fit(datasets, energy_scale=False),
            "energy_scale": fit(datasets, energy_scale=True),
        },
    }
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(reference, sort_keys=False))
    print(yaml.safe_dump(reference, sort_keys=False))


if __name__ == "__main__":
    main()
