"""MSH 15-52 in 3D with gammaprob's defaults: posterior vs gammapy's fit (issue 17).

Reduces the H.E.S.S. DR1 runs of ``common.py`` with gammaprob's makers, builds the model
(Gaussian + power law + FoV background norm and tilt; priors below) with ``build_model`` and
samples it with ``sample`` at its defaults (nutpie, 4 chains x 1000 + 1000), then writes
``results.yaml``: the posterior median and 16/84 % quantiles of every parameter, the pull
``(median - best fit) / gammapy error`` against ``gammapy_reference.yaml``, the convergence
summary and the wall time of each step and of the whole process.

Priors: position Normal(nominal, 0.1 deg) per axis, sigma LogUniform(0.01, 0.5) deg, index
Normal(2.5, 1), amplitude LogUniform(1e-13, 1e-10) cm-2 s-1 TeV-1, background norm
LogNormal(0, 0.5) and tilt Normal(0, 0.5).

Run: ``python validation/msh1552/run.py``.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from common import HERE, PARAMS, STACKING, data_root  # noqa: E402


def reduce():
    from astropy.coordinates import SkyCoord

    from gammaprob.data import DataStore
    from gammaprob.makers import MapDatasetMaker, MapTemplate, SafeMaskMaker, reduce
    from gammaprob.maps import MapAxis, WcsGeom

    store = DataStore.from_dir(data_root() / "hess-dl3-dr1")
    observations = store.get_observations(STACKING.obs_ids())
    e_min, e_max, n_bins = STACKING.energy_tev
    geom = WcsGeom.create(
        skydir=SkyCoord(*STACKING.target, unit="deg", frame="icrs"),
        width=STACKING.width_deg,
        binsz=STACKING.binsz_deg,
        frame="icrs",
        proj="CAR",
        axes=[MapAxis.from_energy_bounds(e_min, e_max, n_bins, unit="TeV")],
    )
    e_min, e_max, n_bins = STACKING.energy_true_tev
    template = MapTemplate(
        geom,
        MapAxis.from_energy_bounds(e_min, e_max, n_bins, unit="TeV", name="energy_true"),
        name=STACKING.name,
    )
    offset_max = f"{STACKING.offset_max_deg} deg"
    makers = [MapDatasetMaker(), SafeMaskMaker(["offset-max"], offset_max=offset_max)]
    return reduce(template, observations, makers, stack=True, progress=False).datasets[0]


def models(dataset_name: str):
    from gammaprob.modeling import (
        FoVBackgroundModel,
        LogNormal,
        LogUniform,
        Normal,
        SkyModel,
        spatial,
        spectral,
    )

    source = SkyModel(
        spectral=spectral.PowerLaw(
            index=Normal(2.5, 1.0),
            amplitude=LogUniform(1e-13, 1e-10, unit="cm-2 s-1 TeV-1"),
            reference=1.0,
        ),
        spatial=spatial.Gaussian(
            lon_0=Normal(STACKING.target[0], 0.1, unit="deg"),
            lat_0=Normal(STACKING.target[1], 0.1, unit="deg"),
            sigma=LogUniform(0.01, 0.5, unit="deg"),
            frame="icrs",
        ),
        name="msh",
    )
    background = FoVBackgroundModel(
        dataset_name=dataset_name, norm=LogNormal(0.0, 0.5), tilt=Normal(0.0, 0.5)
    )
    return [source, background]


def main() -> None:
    from gammaprob.inference import build_model, check_convergence, sample

    times = {"import_s": time.perf_counter() - START}
    t = time.perf_counter()
    dataset = reduce()
    times["reduction_s"] = time.perf_counter() - t
    t = time.perf_counter()
    model = build_model([dataset], models(dataset.name))
    times["build_s"] = time.perf_counter() - t
    t = time.perf_counter()
    result = sample(model, random_seed=1, progressbar=False, log_likelihood=False)
    times["sample_s"] = time.perf_counter() - t
    times["whole_process_s"] = time.perf_counter() - START
    report = check_convergence(result)
    reference = yaml.safe_load((HERE / "gammapy_reference.yaml").read_text())
    names = {
        "lon_0": "msh::lon_0",
        "lat_0": "msh::lat_0",
        "sigma": "msh::sigma",
        "index": "msh::index",
        "amplitude": "msh::amplitude",
        "norm": f"{dataset.name}-bkg::norm",
        "tilt": f"{dataset.name}-bkg::tilt",
    }
    posterior = result.posterior
    rows = {}
    for name in PARAMS:
        draws = np.asarray(posterior[names[name]]).reshape(-1)
        lo, med, hi = np.quantile(draws, [0.16, 0.5, 0.84])
        rows[name] = {
            "median": float(med),
            "q16": float(lo),
            "q84": float(hi),
            "gammapy": reference[name],
            "gammapy_err": reference[f"{name}_err"],
            "pull": float((med - reference[name]) / reference[f"{name}_err"]),
        }
    out = {
        "parameters": rows,
        "max_abs_pull": max(abs(r["pull"]) for r in rows.values()),
        "convergence": {"ok": bool(report.ok), "summary": str(report)},
        "times": times,
        "gammapy_fit_s": reference["fit_and_covariance_s"],
        "ratio_whole_process_to_gammapy_fit": times["whole_process_s"]
        / reference["fit_and_covariance_s"],
        "n_counts": int(dataset.counts.data.sum()),
    }
    (HERE / "results.yaml").write_text(yaml.safe_dump(out, sort_keys=False))
    print(yaml.safe_dump(out, sort_keys=False))


if __name__ == "__main__":
    main()
