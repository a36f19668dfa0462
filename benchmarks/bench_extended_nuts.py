"""NUTS on extended sources (issue 17): MSH 15-52 whole process, and 1/2/3/5 overlapping sources.

**MSH 15-52** (``--only msh``). Every run is a fresh Python process, timed by this script from
launch to exit; the phases are timed inside it.

- gammaprob: import, reduce the H.E.S.S. DR1 runs of ``validation/msh1552/common.py`` with
  gammaprob's makers (``reduce`` of ``validation/msh1552/run.py``), ``build_model`` with that
  script's priors, ``sample`` with its defaults (nutpie, 4 chains x (1000 tuning + 1000
  draws), log-likelihood group, convergence check; progress bar off, seed fixed), then R-hat,
  bulk/tail ESS, divergences and the posterior medians.
- gammapy: import, reduce the same runs on the same geometry with gammapy's makers, Minuit fit
  + covariance (``STACKING.gammapy_stacked`` of ``validation/msh1552/common.py`` and ``fit`` of
  ``validation/msh1552/gammapy_reference.py``).
- cold: the gammaprob process starts with empty compilation caches -- PyTensor's compile
  directory (``PYTENSOR_FLAGS=base_compiledir=...``, which also holds the numba cache of the
  graph nutpie compiles), numba's cache of gammaprob's own ``cache=True`` kernels
  (``NUMBA_CACHE_DIR``, otherwise ``__pycache__`` next to the sources) and ``XDG_CACHE_HOME``
  -- all in a new temporary folder. nutpie keeps no cache of its own.
- warm: the same caches, filled by the first cold run (so no unmeasured warm-up is needed).

Runs are interleaved per repeat (gammapy, gammaprob cold, gammaprob warm), after one
unmeasured gammapy process that fills the operating system's file cache; every row is the
median over ``--repeats`` runs (cold: over ``--cold-repeats``, default 1: a cold run costs a
warm run plus the compilation, and one full MSH sampling run takes minutes). The posterior
medians are compared with the gammapy fits of the same invocation in units of gammapy's error.

**Overlapping sources** (``--only overlap``). A survey-like region seen by CTA South (prod5,
20 deg zenith, one 4 h pointing 1 deg away) with k = 1, 2, 3, 5 Gaussian sources of sizes
0.1-0.3 deg whose centres are 0.30-0.34 deg from their nearest neighbour (:data:`SOURCES`, the
first k), plus the IRF background; counts Poisson-drawn from the predicted counts with
``gammaprob.simulate.simulate_map_dataset`` (fixed seed), written in gammapy's DL4 layout.
gammaprob samples the k-source model with defaults (priors: position Normal(catalogue, 0.1 deg)
per axis where the catalogue position is the truth moved by 0.03 deg, size LogUniform(0.02,
0.5) deg, index Normal(2.5, 1), amplitude LogUniform(1e-13, 1e-10) cm-2 s-1 TeV-1, background
norm LogNormal(0, 0.5), tilt Normal(0, 0.5)); gammapy reads the same file and fits the same
model with Minuit from the priors' centres (position bounded to +-0.3 deg, size to 0.02-0.5
deg). One process per code and k, warm caches (the MSH runs' when both parts run). Rows:
``sample_s`` (the ``sample`` call, compiling the k-source graph included) and ``sampling_s``
(nutpie's sampling time alone) against gammapy's fit + covariance; pulls against the truth
per run in ``runs``.

``ratio`` is gammapy / gammaprob (> 1: gammaprob faster); the issue's target is the MSH whole
process within 10x gammapy's (ratio >= 0.1).

Run: ``GAMMAPY_DATA=... python benchmarks/bench_extended_nuts.py [--repeats 3]
[--cold-repeats 1] [--ks 1 2 3 5] [--only msh|overlap] [--out PATH.json]`` ->
``benchmarks/results/extended_nuts.json``. ``--draws``/``--tune`` (default 1000/1000) shorten
development runs; ``--timeout`` (default 1800 s) limits each process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MSH_DIR = HERE.parent / "validation" / "msh1552"
SEED = 1
#: the MSH 15-52 parameters (gammapy's names) of the source "msh" and the background model
MSH_SOURCE_PARAMS = ("lon_0", "lat_0", "sigma", "index", "amplitude")
MSH_BACKGROUND_PARAMS = ("norm", "tilt")

# -- the overlapping-source region ---------------------------------------------------------------
IRF_FILE = "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
CENTER = (266.0, -29.0)  # ICRS (deg), a Galactic-plane-like field
POINTING_OFFSET_DEG = 1.0
LIVETIME_H = 4.0
WIDTH_DEG, BINSZ_DEG = 2.4, 0.04
ENERGY_TEV = (0.3, 30.0, 6)
ENERGY_TRUE_TEV = (0.2, 50.0, 16)
OFFSET_MAX_DEG = 2.5
CATALOGUE_SHIFT_DEG = 0.03  # prior centres (and gammapy's start) = truth + this, per axis
#: true sources: offsets (deg) from CENTER along RA (as an angle) and Dec, Gaussian sigma (deg),
#: index, amplitude (cm-2 s-1 TeV-1 at 1 TeV); k sources = the first k
SOURCES = (
    (0.0, 0.0, 0.10, 2.4, 6e-12),
    (0.30, 0.0, 0.20, 2.6, 8e-12),
    (0.15, 0.30, 0.15, 2.2, 5e-12),
    (-0.30, 0.10, 0.30, 2.5, 1.2e-11),
    (-0.10, -0.30, 0.25, 2.8, 1e-11),
)
DEFAULT_KS = (1, 2, 3, 5)
OVERLAP_PARAMS = ("lon_0", "lat_0", "sigma", "index", "amplitude")


def _data_root() -> Path:
    root = os.environ.get("GAMMAPY_DATA")
    if not root:
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder to run this benchmark")
    return Path(root).expanduser()


def _load(name: str, path: Path):
    """Import a validation script as a module (its folder on ``sys.path`` for ``common``).

    ``validation/msh1552/common.py`` puts ``validation/`` on ``sys.path``, where the folder
    ``validation/coverage`` would pass for the ``coverage`` package that numba probes at its
    import: import numba (through gammaprob) before loading the script.
    """
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _diagnostics(result, variables: dict[str, str]) -> dict:
    """Convergence summary and posterior median / standard deviation of each parameter."""
    import numpy as np

    from gammaprob.inference import check_convergence

    report = check_convergence(result, warn=False)
    sampling = result.posterior.attrs.get("sampling_time")
    steps = result.sample_stats.get("n_steps")
    draws = {k: np.asarray(result.posterior[v], dtype=float).ravel() for k, v in variables.items()}
    return {
        "converged": bool(report.ok),
        "r_hat_max": float(report.rhat_max),
        "ess_bulk_min": float(report.ess_bulk_min),
        "ess_tail_min": float(report.ess_tail_min),
        "divergences": int(report.n_divergent),
        "sampling_s": float(sampling) if sampling is not None else None,
        "leapfrog_steps_per_draw": float(np.mean(steps)) if steps is not None else None,
        "median": {k: float(np.median(d)) for k, d in draws.items()},
        "sd": {k: float(np.std(d)) for k, d in draws.items()},
    }


# -- workers (each runs in a fresh process) ------------------------------------------------------
def worker_msh_gammaprob(draws: int, tune: int) -> dict:
    """Import, reduce, build and sample MSH 15-52 with gammaprob's defaults."""
    t0 = time.perf_counter()
    import gammaprob.data
    import gammaprob.forward  # imports numba before validation/ joins sys.path (see _load)
    import gammaprob.makers  # noqa: F401
    from gammaprob.inference import build_model, sample

    run = _load("msh1552_run", MSH_DIR / "run.py")
    t1 = time.perf_counter()
    dataset = run.reduce()
    t2 = time.perf_counter()
    model = build_model([dataset], run.models(dataset.name))
    t3 = time.perf_counter()
    result = sample(model, draws=draws, tune=tune, random_seed=SEED, progressbar=False)
    t4 = time.perf_counter()
    variables = {name: f"msh::{name}" for name in MSH_SOURCE_PARAMS}
    variables |= {name: f"{dataset.name}-bkg::{name}" for name in MSH_BACKGROUND_PARAMS}
    return {
        "import_s": t1 - t0,
        "reduction_s": t2 - t1,
        "build_s": t3 - t2,
        "sample_call_s": t4 - t3,
        "n_counts": int(dataset.counts.data.sum()),
        **_diagnostics(result, variables),
    }


def worker_msh_gammapy() -> dict:
    """Import gammapy, reduce the same runs with its makers, Minuit fit + covariance."""
    t0 = time.perf_counter()
    import gammapy.datasets
    import gammapy.makers
    import gammapy.modeling  # noqa: F401

    reference = _load("msh1552_gammapy_reference", MSH_DIR / "gammapy_reference.py")
    t1 = time.perf_counter()
    dataset, n_runs = reference.STACKING.gammapy_stacked()
    t2 = time.perf_counter()
    fit = reference.fit(dataset)
    return {
        "import_s": t1 - t0,
        "reduction_s": t2 - t1,
        "n_runs": n_runs,
        "n_counts": int(dataset.counts.data.sum()),
        **fit,
    }


def _offset_position(center: tuple[float, float], d_lon: float, d_lat: float):
    """Sky position (deg) ``d_lon`` deg along the parallel (an angle) and ``d_lat`` in Dec."""
    import numpy as np

    lat = center[1] + d_lat
    return center[0] + d_lon / np.cos(np.deg2rad(lat)), lat


def overlap_truth(k: int) -> dict[str, dict[str, float]]:
    """True parameters of the first ``k`` sources (``"src<i>"`` -> gammapy's names, deg)."""
    if k not in range(1, len(SOURCES) + 1):
        raise ValueError(f"k must be 1 to {len(SOURCES)}, got {k}")
    truth = {}
    for i, (d_lon, d_lat, sigma, index, amplitude) in enumerate(SOURCES[:k]):
        lon, lat = _offset_position(CENTER, d_lon, d_lat)
        truth[f"src{i}"] = {
            "lon_0": lon,
            "lat_0": lat,
            "sigma": sigma,
            "index": index,
            "amplitude": amplitude,
        }
    return truth


def _catalogue(source: dict[str, float]) -> tuple[float, float]:
    """The prior centre of a source's position: the truth moved by the catalogue shift."""
    return _offset_position(
        (source["lon_0"], source["lat_0"]), CATALOGUE_SHIFT_DEG, CATALOGUE_SHIFT_DEG
    )


def worker_simulate(folder: str, ks: list[int]) -> dict:
    """Simulate the datasets with k sources for each k of ``ks``; write them to ``folder``."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from gammaprob.makers import MapTemplate
    from gammaprob.maps import MapAxis, WcsGeom
    from gammaprob.modeling import FoVBackgroundModel, SkyModel, spatial, spectral
    from gammaprob.simulate import make_observation, read_irfs, simulate_map_dataset

    irf_path = _data_root() / IRF_FILE
    if not irf_path.is_file():
        raise SystemExit(f"CTA prod5 IRF file not found: {irf_path} (is GAMMAPY_DATA complete?)")
    irfs = read_irfs(irf_path)
    center = SkyCoord(*CENTER, unit="deg", frame="icrs")
    pointing = center.directional_offset_by(45 * u.deg, POINTING_OFFSET_DEG * u.deg)
    observation = make_observation(irfs, pointing, LIVETIME_H * u.h, obs_id=1)
    geom = WcsGeom.create(
        skydir=center,
        width=WIDTH_DEG,
        binsz=BINSZ_DEG,
        frame="icrs",
        proj="CAR",
        axes=[MapAxis.from_energy_bounds(*ENERGY_TEV[:2], ENERGY_TEV[2], unit="TeV")],
    )
    energy_true = MapAxis.from_energy_bounds(
        *ENERGY_TRUE_TEV[:2], ENERGY_TRUE_TEV[2], unit="TeV", name="energy_true"
    )
    out = {}
    for k in ks:
        name = f"overlap{k}"
        truth = overlap_truth(k)
        models = [
            SkyModel(
                spectral=spectral.PowerLaw(
                    index=p["index"],
                    amplitude=p["amplitude"] * u.Unit("cm-2 s-1 TeV-1"),
                    reference=1.0,
                ),
                spatial=spatial.Gaussian(
                    lon_0=p["lon_0"], lat_0=p["lat_0"], sigma=p["sigma"] * u.deg, frame="icrs"
                ),
                name=src,
            )
            for src, p in truth.items()
        ]
        models.append(FoVBackgroundModel(dataset_name=name, norm=1.0, tilt=0.0))
        dataset = simulate_map_dataset(
            models,
            MapTemplate(geom, energy_true, name=name),
            observation,
            random_state=SEED + k,
            name=name,
        )
        path = Path(folder) / f"{name}.fits.gz"
        dataset.write(path, overwrite=True)
        out[str(k)] = {
            "path": str(path),
            "n_counts": int(dataset.counts.data.sum()),
            "background": float(dataset.background.data.sum()),
        }
    return out


def worker_overlap_gammaprob(path: str, k: int, draws: int, tune: int) -> dict:
    """Read the simulated dataset, build the k-source model, sample with defaults."""
    t0 = time.perf_counter()
    from gammaprob.datasets import MapDataset
    from gammaprob.inference import build_model, sample
    from gammaprob.modeling import (
        FoVBackgroundModel,
        LogNormal,
        LogUniform,
        Normal,
        SkyModel,
        spatial,
        spectral,
    )

    t1 = time.perf_counter()
    dataset = MapDataset.read(path)
    models = []
    for src, p in overlap_truth(k).items():
        lon, lat = _catalogue(p)
        models.append(
            SkyModel(
                spectral=spectral.PowerLaw(
                    index=Normal(2.5, 1.0),
                    amplitude=LogUniform(1e-13, 1e-10, unit="cm-2 s-1 TeV-1"),
                    reference=1.0,
                ),
                spatial=spatial.Gaussian(
                    lon_0=Normal(lon, 0.1, unit="deg"),
                    lat_0=Normal(lat, 0.1, unit="deg"),
                    sigma=LogUniform(0.02, 0.5, unit="deg"),
                    frame="icrs",
                ),
                name=src,
            )
        )
    models.append(
        FoVBackgroundModel(
            dataset_name=dataset.name, norm=LogNormal(0.0, 0.5), tilt=Normal(0.0, 0.5)
        )
    )
    t2 = time.perf_counter()
    model = build_model([dataset], models)
    t3 = time.perf_counter()
    result = sample(model, draws=draws, tune=tune, random_seed=SEED, progressbar=False)
    t4 = time.perf_counter()
    variables = {
        f"{src}.{name}": f"{src}::{name}" for src in overlap_truth(k) for name in OVERLAP_PARAMS
    }
    variables |= {"bkg.norm": f"{dataset.name}-bkg::norm", "bkg.tilt": f"{dataset.name}-bkg::tilt"}
    return {
        "import_s": t1 - t0,
        "read_s": t2 - t1,
        "build_s": t3 - t2,
        "sample_call_s": t4 - t3,
        **_diagnostics(result, variables),
    }


def worker_overlap_gammapy(path: str, k: int) -> dict:
    """Read the simulated dataset with gammapy and fit the k-source model (Minuit)."""
    t0 = time.perf_counter()
    from gammapy.datasets import MapDataset
    from gammapy.modeling import Fit
    from gammapy.modeling.models import (
        FoVBackgroundModel,
        GaussianSpatialModel,
        Models,
        PowerLawSpectralModel,
        SkyModel,
    )

    t1 = time.perf_counter()
    dataset = MapDataset.read(path, name=Path(path).name.split(".")[0])
    models = []
    for src, p in overlap_truth(k).items():
        lon, lat = _catalogue(p)
        morphology = GaussianSpatialModel(
            lon_0=f"{lon} deg", lat_0=f"{lat} deg", sigma="0.1 deg", frame="icrs"
        )
        morphology.lon_0.min, morphology.lon_0.max = lon - 0.3, lon + 0.3
        morphology.lat_0.min, morphology.lat_0.max = lat - 0.3, lat + 0.3
        morphology.sigma.min, morphology.sigma.max = 0.02, 0.5
        models.append(
            SkyModel(
                spectral_model=PowerLawSpectralModel(
                    index=2.5, amplitude="3e-12 cm-2 s-1 TeV-1", reference="1 TeV"
                ),
                spatial_model=morphology,
                name=src,
            )
        )
    background = FoVBackgroundModel(dataset_name=dataset.name)
    background.spectral_model.tilt.frozen = False
    dataset.models = Models([*models, background])
    t2 = time.perf_counter()
    result = Fit().run([dataset])
    t3 = time.perf_counter()
    values, errors = {}, {}
    for model in models:
        for name in OVERLAP_PARAMS:
            par = model.parameters[name]
            values[f"{model.name}.{name}"] = float(par.value)
            errors[f"{model.name}.{name}"] = float(par.error)
    for name in ("norm", "tilt"):
        par = background.spectral_model.parameters[name]
        values[f"bkg.{name}"], errors[f"bkg.{name}"] = float(par.value), float(par.error)
    return {
        "import_s": t1 - t0,
        "read_s": t2 - t1,
        "fit_and_covariance_s": t3 - t2,
        "success": bool(result.success),
        "n_evaluations": int(result.optimize_result.nfev),
        "value": values,
        "error": errors,
    }


WORKERS = {
    "msh-gammaprob": worker_msh_gammaprob,
    "msh-gammapy": worker_msh_gammapy,
    "simulate": worker_simulate,
    "overlap-gammaprob": worker_overlap_gammaprob,
    "overlap-gammapy": worker_overlap_gammapy,
}


# -- orchestration -------------------------------------------------------------------------------
def _spawn(kind: str, kwargs: dict, cache: Path | None, timeout: float) -> dict:
    """Run one worker in a fresh process; add its wall and CPU time from launch to exit."""
    import resource

    env = dict(os.environ)
    if cache is not None:
        env["PYTENSOR_FLAGS"] = f"base_compiledir={cache / 'pytensor'}"
        env["NUMBA_CACHE_DIR"] = str(cache / "numba")
        env["XDG_CACHE_HOME"] = str(cache / "xdg")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", kind, json.dumps(kwargs)],
            env=env,
            cwd=HERE,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as err:
        raise RuntimeError(f"worker {kind} {kwargs} exceeded --timeout {timeout:.0f} s") from err
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {kind} {kwargs} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["whole_process_s"] = wall
    out["whole_process_cpu_s"] = (after.ru_utime - before.ru_utime) + (
        after.ru_stime - before.ru_stime
    )
    return out


def _row(ours: float | None, theirs: float | None, unit: str = "s") -> dict:
    """A metric row; ratio = gammapy / gammaprob (> 1: gammaprob faster)."""
    ratio = theirs / ours if ours and theirs is not None else None
    return {"gammaprob": ours, "gammapy": theirs, "ratio": ratio, "unit": unit}


def _say(label: str, run: dict) -> None:
    extra = ""
    if "r_hat_max" in run:
        extra = (
            f", sample call {run['sample_call_s']:.1f} s, R-hat {run['r_hat_max']:.4f}, "
            f"ESS bulk/tail {run['ess_bulk_min']:.0f}/{run['ess_tail_min']:.0f}, "
            f"divergences {run['divergences']}"
        )
    elif "fit_and_covariance_s" in run:
        extra = f", fit + covariance {run['fit_and_covariance_s']:.2f} s"
    print(f"{label}: whole {run['whole_process_s']:.1f} s{extra}", flush=True)


def run_msh(repeats: int, cold_repeats: int, draws: int, tune: int, tmp: Path, timeout: float):
    """Interleaved MSH 15-52 runs; returns (metrics, targets, runs)."""
    from _common import median_of

    runs: dict[str, list[dict]] = {"gammapy": [], "cold": [], "warm": []}
    sampler = {"draws": draws, "tune": tune}
    _say("gammapy warm-up (not measured)", _spawn("msh-gammapy", {}, None, timeout))
    for i in range(repeats):
        runs["gammapy"].append(_spawn("msh-gammapy", {}, None, timeout))
        _say(f"gammapy {i + 1}/{repeats}", runs["gammapy"][-1])
        if i < cold_repeats:  # the first cold run fills the cache that the warm runs use
            cold = tmp / ("warm" if i == 0 else f"cold-{i}")
            runs["cold"].append(_spawn("msh-gammaprob", sampler, cold, timeout))
            _say(f"gammaprob cold {i + 1}/{cold_repeats}", runs["cold"][-1])
        runs["warm"].append(_spawn("msh-gammaprob", sampler, tmp / "warm", timeout))
        _say(f"gammaprob warm {i + 1}/{repeats}", runs["warm"][-1])

    gp = runs["gammapy"]
    gp_whole, gp_fit = median_of(gp, "whole_process_s"), median_of(gp, "fit_and_covariance_s")
    metrics = {
        "msh1552/reduction_s": _row(
            median_of(runs["warm"], "reduction_s"), median_of(gp, "reduction_s")
        )
    }
    targets = {}
    for variant in ("warm", "cold"):
        ours = runs[variant]
        whole = median_of(ours, "whole_process_s")
        metrics[f"msh1552/whole_process_s[{variant}]"] = _row(whole, gp_whole)
        metrics[f"msh1552/whole_process_cpu_s[{variant}]"] = _row(
            median_of(ours, "whole_process_cpu_s"), median_of(gp, "whole_process_cpu_s")
        )
        metrics[f"msh1552/fit_or_sample_s[{variant}]"] = _row(
            median_of(ours, "sample_call_s"), gp_fit
        )
        metrics[f"msh1552/build_s[{variant}]"] = _row(median_of(ours, "build_s"), None)
        targets[f"msh1552_whole_process_{variant}_within_10x_gammapy"] = whole <= 10 * gp_whole
        targets[f"msh1552_all_{variant}_runs_converged"] = all(r["converged"] for r in ours)
    metrics["msh1552/import_s"] = _row(
        median_of(runs["warm"], "import_s"), median_of(gp, "import_s")
    )
    sampled = [r.get("sampling_s") for r in runs["warm"]]
    if all(s is not None for s in sampled):
        metrics["msh1552/sampling_s[warm]"] = _row(statistics.median(sampled), gp_fit)
    # posterior medians against gammapy's best fit of this invocation, in gammapy's errors
    for run in runs["cold"] + runs["warm"]:
        run["pull_vs_gammapy"] = {
            name: (run["median"][name] - median_of(gp, name)) / median_of(gp, f"{name}_err")
            for name in (*MSH_SOURCE_PARAMS, *MSH_BACKGROUND_PARAMS)
        }
    targets["msh1552_max_abs_pull_vs_gammapy_le_0.3"] = all(
        max(abs(p) for p in r["pull_vs_gammapy"].values()) <= 0.3
        for r in runs["cold"] + runs["warm"]
    )
    return metrics, targets, runs


def _pulls(values: dict, spread: dict, truth: dict) -> dict:
    """(estimate - truth) / spread for every source parameter (background: truth 1, 0)."""
    reference = {f"{s}.{n}": v for s, p in truth.items() for n, v in p.items()}
    reference |= {"bkg.norm": 1.0, "bkg.tilt": 0.0}
    return {key: (values[key] - reference[key]) / spread[key] for key in values}


def _ratio(run: dict, reference: dict, key: str) -> float | None:
    """``run[key] / reference[key]``, None where either is missing or zero."""
    if not run.get(key) or not reference.get(key):
        return None
    return run[key] / reference[key]


def run_overlap(ks: list[int], draws: int, tune: int, tmp: Path, cache: Path, timeout: float):
    """k overlapping Gaussians for each k of ``ks``: gammaprob NUTS and gammapy's fit."""
    folder = tmp / "overlap"
    folder.mkdir(exist_ok=True)
    simulated = _spawn("simulate", {"folder": str(folder), "ks": ks}, cache, timeout)
    metrics, targets, runs = {}, {}, {"simulation": simulated}
    for k in ks:
        path = simulated[str(k)]["path"]
        gp = _spawn("overlap-gammapy", {"path": path, "k": k}, None, timeout)
        _say(f"gammapy {k} source(s)", gp)
        ours = _spawn(
            "overlap-gammaprob",
            {"path": path, "k": k, "draws": draws, "tune": tune},
            cache,
            timeout,
        )
        _say(f"gammaprob {k} source(s)", ours)
        truth = overlap_truth(k)
        ours["pull_vs_truth"] = _pulls(ours["median"], ours["sd"], truth)
        gp["pull_vs_truth"] = _pulls(gp["value"], gp["error"], truth)
        ours["pull_vs_gammapy"] = {
            key: (ours["median"][key] - gp["value"][key]) / gp["error"][key] for key in gp["value"]
        }
        for run in (ours, gp):
            run["max_abs_pull_vs_truth"] = max(abs(p) for p in run["pull_vs_truth"].values())
        ours["max_abs_pull_vs_gammapy"] = max(abs(p) for p in ours["pull_vs_gammapy"].values())
        runs[f"{k}src"] = {"gammaprob": ours, "gammapy": gp, "truth": truth}
        fit = gp["fit_and_covariance_s"]
        metrics[f"overlap_{k}src/sample_s"] = _row(ours["sample_call_s"], fit)
        metrics[f"overlap_{k}src/sampling_s"] = _row(ours.get("sampling_s"), fit)
        metrics[f"overlap_{k}src/whole_process_s"] = _row(
            ours["whole_process_s"], gp["whole_process_s"]
        )
        metrics[f"overlap_{k}src/ess_bulk_min"] = _row(ours["ess_bulk_min"], None, "draws")
        targets[f"overlap_{k}src_converged"] = ours["converged"]
        targets[f"overlap_{k}src_gammapy_fit_success"] = gp["success"]
    first = runs[f"{ks[0]}src"]
    scaling = {
        f"{k}src_over_{ks[0]}src": {
            "gammaprob_sampling_s": _ratio(
                runs[f"{k}src"]["gammaprob"], first["gammaprob"], "sampling_s"
            ),
            "gammaprob_leapfrog_steps_per_draw": _ratio(
                runs[f"{k}src"]["gammaprob"], first["gammaprob"], "leapfrog_steps_per_draw"
            ),
            "gammapy_fit_and_covariance_s": _ratio(
                runs[f"{k}src"]["gammapy"], first["gammapy"], "fit_and_covariance_s"
            ),
            "gammapy_n_evaluations": _ratio(
                runs[f"{k}src"]["gammapy"], first["gammapy"], "n_evaluations"
            ),
        }
        for k in ks
    }
    return metrics, targets, runs, scaling


def main(args: argparse.Namespace) -> None:
    from _common import write_results

    root = _data_root()
    if not (root / "hess-dl3-dr1").is_dir():
        raise SystemExit(f"{root / 'hess-dl3-dr1'} not found: GAMMAPY_DATA must hold hess-dl3-dr1")
    if not 1 <= args.cold_repeats <= args.repeats:
        raise SystemExit(
            f"need 1 <= --cold-repeats <= --repeats, got {args.cold_repeats}, {args.repeats}"
        )
    if not args.ks or not set(args.ks) <= set(range(1, len(SOURCES) + 1)):
        raise SystemExit(f"--ks must be among 1 to {len(SOURCES)}, got {args.ks}")
    if args.draws < 1 or args.tune < 0:
        raise SystemExit(f"--draws must be >= 1 and --tune >= 0, got {args.draws}, {args.tune}")
    out = Path(args.out).resolve() if args.out else None
    if out is not None and out.suffix != ".json":
        raise SystemExit(f"--out must name a .json file, got {args.out}")
    metrics, targets, extra = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="gammaprob-bench-nuts-") as tmp:
        tmp = Path(tmp)
        if args.only in (None, "msh"):
            msh = run_msh(args.repeats, args.cold_repeats, args.draws, args.tune, tmp, args.timeout)
            metrics |= msh[0]
            targets |= msh[1]
            extra["msh1552_runs"] = msh[2]
        if args.only in (None, "overlap"):
            overlap = run_overlap(args.ks, args.draws, args.tune, tmp, tmp / "warm", args.timeout)
            metrics |= overlap[0]
            targets |= overlap[1]
            extra["overlap_runs"], extra["overlap_scaling"] = overlap[2:]
    for key, value in targets.items():
        print(f"target {key}: {value}")
    # an absolute name makes _common.write_results write to --out (pathlib joins onto it)
    name = str(out.with_suffix("")) if out is not None else "extended_nuts"
    write_results(
        name,
        metrics,
        extra={
            "notes": (
                "ratio = gammapy / gammaprob (> 1: gammaprob faster). msh1552: fresh processes "
                "timed from launch to exit, median of the repeats, interleaved (gammapy, "
                "gammaprob cold, gammaprob warm); cold = empty pytensor/numba/XDG caches, warm "
                "= caches filled by the first cold run; fit_or_sample_s = gammaprob's sample "
                "call (compilation included) vs gammapy's Minuit fit + covariance. overlap: one "
                "process per code and k, simulated CTA prod5 region with k Gaussians; "
                "sample_s includes compiling the k-source graph, sampling_s is nutpie's "
                "sampling time."
            ),
            "targets": targets,
            "settings": {
                "repeats": args.repeats,
                "cold_repeats": args.cold_repeats,
                "ks": args.ks,
                "draws": args.draws,
                "tune": args.tune,
                "chains": 4,
                "seed": SEED,
                "only": args.only,
            },
            **extra,
        },
        packages=("nutpie", "gammapy", "arviz", "iminuit"),
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        payload = WORKERS[sys.argv[2]](**json.loads(sys.argv[3]))
        print(json.dumps(payload))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
        parser.add_argument(
            "--repeats", type=int, default=3, help="MSH runs of gammapy and warm gammaprob"
        )
        parser.add_argument(
            "--cold-repeats", type=int, default=1, help="MSH cold gammaprob runs (<= --repeats)"
        )
        parser.add_argument(
            "--ks", type=int, nargs="+", default=list(DEFAULT_KS), help="numbers of sources"
        )
        parser.add_argument("--only", choices=("msh", "overlap"), help="run one part only")
        parser.add_argument("--out", help="results file (default results/extended_nuts.json)")
        parser.add_argument("--draws", type=int, default=1000, help="draws per chain")
        parser.add_argument("--tune", type=int, default=1000, help="tuning steps per chain")
        parser.add_argument("--timeout", type=float, default=1800.0, help="limit per process (s)")
        main(parser.parse_args())
