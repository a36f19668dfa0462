"""Scale-out (issue 16): many runs reduced on Dask, bounded memory, and a run-wise joint posterior.

Run as a script (needs ``$GAMMAPY_DATA``; gammapy for the ``dr1`` comparison row)::

    python benchmarks/bench_scale_out.py --posterior-n 10,25,50   # about 12 min on 2 cores
    python benchmarks/bench_scale_out.py --parts sim --sim-n 100,1000

Writes ``benchmarks/results/scale_out.json`` (``--out``); a rerun replaces the rows it
measures and keeps the others, so parts and sizes can be run one at a time. Every measurement
runs in a fresh Python process, so its peak resident memory (``ru_maxrss``) is its own; Dask
clusters are started inside that process (their start-up is timed apart) and their workers
are warmed by reducing two runs first, so the times are those of the reduction.

Parts:

``dr1``
    All 105 H.E.S.S. DR1 runs (``$GAMMAPY_DATA/hess-dl3-dr1``) reduced to one reflected-region
    spectrum each (ON circle of 0.11 deg, 0.5 deg north of each run's pointing, so every run
    has one; 15 reco / 30 true energy bins; containment correction; safe mask ``aeff-max``
    10 %): in this process (``n_workers=1``), on a ``LocalCluster`` of 1 and ``--workers``
    single-threaded worker processes, and through ``Client(address)`` to a scheduler and
    workers started apart with the ``dask scheduler`` / ``dask worker`` command lines (the
    same ``reduce`` call). Peak RSS of each worker (``memory_limit`` 2 GiB) is read with
    ``client.run`` at 20 and at 105 runs. gammapy's serial reduction of the same runs with
    the same regions and makers is the comparison row.
``sim``
    ``--sim-n`` CTA prod5 South observations of 0.5 h on a survey grid (``survey_pointings``:
    40 x 25 pointings 0.1 deg apart about l = b = 0; IRFs read from the IRF file where each
    observation is reduced) reduced on a scheduler and ``--workers`` workers started apart
    (as for ``dr1``; a fresh cluster for each size) and stacked as they arrive in the client
    (``reduce(stack=True)``): a spectrum each (ON circle of 0.1 deg at l = b = 0), or with
    ``--sim-kind map`` a 4 x 3 deg map at 0.05 deg (counts, exposure, background, energy
    dispersion). Wall time and peak RSS of the stacking process.
``posterior``
    Joint posterior of ``--posterior-n`` run-wise on/off spectra (not stacked): CTA prod5
    South observations of 0.5 h at 0.5 deg wobble offsets around a Crab-like power law,
    simulated with ``simulate_observation_spectrum`` (alpha 0.2); ``build_model`` (marginal
    on/off) and ``sample`` (nutpie, 4 chains, tune 1000, ``--draws`` default 500, half of
    ``sample``'s default; seed 1). Wall time of build and sample, each N in a process with
    empty PyTensor/numba caches, so the sample call includes compiling the model as in a
    first analysis (``sampling_only_s`` in the details excludes it); R-hat, ESS, divergences.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
MEMORY_LIMIT = "2GiB"  # per Dask worker
ON_RADIUS_DEG = 0.11
ON_OFFSET_DEG = 0.5  # ON circle this far north of each DR1 pointing
CTA_IRF = "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
IRF_CLASSES = {"aeff": "aeff_2d", "edisp": "edisp_2d", "psf": "psf_table", "bkg": "bkg_3d"}
SIM_LIVETIME_H = 0.5
TRUE_INDEX, TRUE_AMPLITUDE = 2.6, 3.5e-11  # cm-2 s-1 TeV-1 at 1 TeV (about the Crab)


def _data() -> Path:
    return Path(os.path.expandvars("$GAMMAPY_DATA"))


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---- DR1: one reflected-region spectrum per run ----------------------------------------------
def _dr1_runs(n: int | None = None) -> tuple[list[int], dict]:
    """First ``n`` DR1 run ids and each run's ON centre, 0.5 deg north of its pointing."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    table = Table.read(_data() / "hess-dl3-dr1" / "obs-index.fits.gz")
    ids = [int(i) for i in table["OBS_ID"]][:n]
    pointing = SkyCoord(table["RA_PNT"], table["DEC_PNT"], unit="deg")
    centres = pointing.directional_offset_by(0 * u.deg, ON_OFFSET_DEG * u.deg)
    return ids, {int(i): c for i, c in zip(table["OBS_ID"], centres, strict=True)}


class OnRegionSpectrumMaker:
    """``SpectrumDatasetMaker`` on an ON circle of its own for each run.

    ``reduce`` hands every task the same template; this first maker replaces its ON region
    by the run's circle (``centres[obs_id]``) and keeps its energy axes.
    """

    def __init__(self, centres: dict) -> None:
        self.centres = centres

    def run(self, template, observation):
        import astropy.units as u
        from regions import CircleSkyRegion

        from gammaprob.makers import SpectrumDatasetMaker, SpectrumTemplate

        region = CircleSkyRegion(self.centres[observation.obs_id], ON_RADIUS_DEG * u.deg)
        local = SpectrumTemplate(region, template.energy_axis, template.energy_axis_true)
        maker = SpectrumDatasetMaker(
            containment_correction=True, selection=["counts", "exposure", "edisp"]
        )
        return maker.run(local, observation)


def _dr1_setup(n_runs: int):
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammaprob.data import DataStore
    from gammaprob.makers import ReflectedRegionsBackgroundMaker, SafeMaskMaker, SpectrumTemplate
    from gammaprob.maps import MapAxis

    ids, centres = _dr1_runs(n_runs)
    template = SpectrumTemplate(  # the region is replaced per run by OnRegionSpectrumMaker
        CircleSkyRegion(SkyCoord(0, 0, unit="deg"), ON_RADIUS_DEG * u.deg),
        MapAxis.from_energy_bounds(0.5, 40, 15, unit="TeV"),
        MapAxis.from_energy_bounds(0.3, 60, 30, unit="TeV", name="energy_true"),
    )
    makers = [
        OnRegionSpectrumMaker(centres),
        ReflectedRegionsBackgroundMaker(),
        SafeMaskMaker(["aeff-max"], aeff_percent=10),
    ]
    store = DataStore.from_dir(_data() / "hess-dl3-dr1")
    return template, makers, store, ids


def _worker_peaks(client) -> list[float]:
    return sorted(client.run(_peak_rss_mb).values())


def child_dr1(mode: str, n_runs: int, workers: int = 1, address: str | None = None) -> dict:
    """Reduce the first ``n_runs`` DR1 runs: ``mode`` serial, local (LocalCluster) or address."""
    from dask.distributed import Client, LocalCluster

    from gammaprob.makers import reduce

    template, makers, store, ids = _dr1_setup(n_runs)

    def run(client=None, runs=ids):
        observations = (store.obs(i) for i in runs)  # built one at a time, as reduce asks
        return reduce(
            template, observations, makers, client=client, progress=False, on_error="skip"
        )

    out = {"mode": mode, "n_runs": n_runs, "workers": workers}
    cluster = None
    if mode == "serial":
        client = None
    else:
        start = time.perf_counter()
        if mode == "local":
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=MEMORY_LIMIT,
                dashboard_address=":0",
            )
            client = Client(cluster)
        else:
            client = Client(address)
            out["address"] = address
        out["cluster_start_s"] = time.perf_counter() - start
        out["memory_limit_per_worker"] = MEMORY_LIMIT
    try:
        run(client, ids[:2])  # warm imports and caches (workers import gammaprob here)
        start = time.perf_counter()
        result = run(client)
        out["reduce_s"] = time.perf_counter() - start
        if client is not None:
            out["worker_peak_rss_mb"] = _worker_peaks(client)
            out["n_workers_seen"] = len(client.nthreads())
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    datasets = result.datasets
    out.update(
        {
            "process_peak_rss_mb": _peak_rss_mb(),
            "n_datasets": len(datasets),
            "skipped": result.skipped,
            "counts_total": float(sum(d.counts[d.mask_safe].sum() for d in datasets)),
            "counts_off_total": float(sum(d.counts_off[d.mask_safe].sum() for d in datasets)),
        }
    )
    return out


def child_dr1_gammapy(n_runs: int) -> dict:
    """gammapy's serial reduction of the same runs, regions and makers (datasets kept)."""
    import astropy.units as u
    from gammapy.data import DataStore
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import ReflectedRegionsBackgroundMaker, SafeMaskMaker, SpectrumDatasetMaker
    from gammapy.maps import MapAxis, RegionGeom
    from regions import CircleSkyRegion

    ids, centres = _dr1_runs(n_runs)
    energy = MapAxis.from_energy_bounds(0.5, 40, 15, unit="TeV")
    energy_true = MapAxis.from_energy_bounds(0.3, 60, 30, unit="TeV", name="energy_true")
    maker = SpectrumDatasetMaker(
        containment_correction=True, selection=["counts", "exposure", "edisp"]
    )
    bkg_maker = ReflectedRegionsBackgroundMaker()
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    store = DataStore.from_dir(_data() / "hess-dl3-dr1")

    def run(runs):
        datasets = Datasets()
        for obs in store.get_observations(runs):
            region = CircleSkyRegion(centres[obs.obs_id], ON_RADIUS_DEG * u.deg)
            geom = RegionGeom.create(region=region, axes=[energy])
            empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_true)
            ds = maker.run(empty.copy(name=str(obs.obs_id)), obs)
            datasets.append(safe.run(bkg_maker.run(ds, obs), obs))
        return datasets

    run(ids[:2])  # warm imports and caches, as for gammaprob
    start = time.perf_counter()
    datasets = run(ids)
    wall = time.perf_counter() - start
    return {
        "n_runs": n_runs,
        "reduce_s": wall,
        "process_peak_rss_mb": _peak_rss_mb(),
        "n_datasets": len(datasets),
        "counts_total": float(sum(d.counts.data[d.mask_safe.data].sum() for d in datasets)),
        "counts_off_total": float(sum(d.counts_off.data[d.mask_safe.data].sum() for d in datasets)),
    }


# ---- simulated survey: reduced and stacked ---------------------------------------------------
def _lazy_cta_irfs() -> dict:
    """The prod5 IRFs as HDU locations: each observation reads them where it is reduced."""
    from gammaprob.data.hdu_index import HDULocation
    from gammaprob.simulate import IRF_HDUS

    path = _data() / CTA_IRF
    return {s: HDULocation(0, s, IRF_CLASSES[s], path, hdu) for s, hdu in IRF_HDUS.items()}


def _survey(n: int):
    import astropy.units as u
    import numpy as np

    from gammaprob.simulate import SimulatedSurvey, survey_pointings

    pointings = survey_pointings(
        [-1.95, 1.95] * u.deg, np.round(np.arange(-1.2, 1.25, 0.1), 1) * u.deg, 0.1 * u.deg
    )
    if n > len(pointings):
        raise SystemExit(f"--sim-n: at most {len(pointings)} observations, got {n}")
    return SimulatedSurvey(_lazy_cta_irfs(), pointings[:n], SIM_LIVETIME_H * u.h)


def _sim_setup(kind: str):
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammaprob.makers import (
        MapDatasetMaker,
        MapTemplate,
        SafeMaskMaker,
        SpectrumDatasetMaker,
        SpectrumTemplate,
    )
    from gammaprob.maps import MapAxis, WcsGeom

    centre = SkyCoord(0, 0, unit="deg", frame="galactic")
    if kind == "spectrum":
        template = SpectrumTemplate(
            CircleSkyRegion(centre, 0.1 * u.deg),
            MapAxis.from_energy_bounds(0.1, 100, 20, unit="TeV"),
            MapAxis.from_energy_bounds(0.05, 200, 40, unit="TeV", name="energy_true"),
        )
        makers = [
            SpectrumDatasetMaker(selection=["counts", "exposure", "edisp", "background"]),
            SafeMaskMaker(["aeff-max"], aeff_percent=10),
        ]
        return template, makers
    geom = WcsGeom.create(
        skydir=centre,
        width=(4, 3),
        binsz=0.05,
        frame="galactic",
        proj="CAR",
        axes=[MapAxis.from_energy_bounds(0.1, 100, 8, unit="TeV")],
    )
    template = MapTemplate(
        geom, MapAxis.from_energy_bounds(0.05, 200, 12, unit="TeV", name="energy_true")
    )
    makers = [
        MapDatasetMaker(selection=["counts", "exposure", "background", "edisp"]),
        SafeMaskMaker(["offset-max"], offset_max=2.5 * u.deg),
    ]
    return template, makers


def child_sim(n: int, workers: int, kind: str, address: str) -> dict:
    """Reduce and stack ``n`` simulated observations on the cluster at ``address``.

    The scheduler and workers run in other processes, so this process's peak RSS is that of
    the client that stacks (with a ``LocalCluster`` the scheduler's bookkeeping would add to
    it).
    """
    import pickle

    import numpy as np
    from dask.distributed import Client

    from gammaprob.makers import reduce

    template, makers = _sim_setup(kind)
    survey = _survey(n)
    with Client(address) as client:
        warm = _survey(2)
        one = reduce(template, warm.observations(), makers, client=client, progress=False)
        before = _peak_rss_mb()
        start = time.perf_counter()
        result = reduce(
            template, survey.observations(), makers, stack=True, client=client, progress=False
        )
        wall = time.perf_counter() - start
        workers_rss = _worker_peaks(client)
    stacked = result.datasets[0]
    exposure = stacked.exposure.data if kind == "map" else stacked.exposure.value
    return {
        "n_observations": n,
        "kind": kind,
        "workers": workers,
        "address": address,
        "reduce_stack_s": wall,
        "stacking_process_peak_rss_mb": _peak_rss_mb(),
        "stacking_process_peak_rss_before_mb": before,
        "worker_peak_rss_mb": workers_rss,
        "memory_limit_per_worker": MEMORY_LIMIT,
        "one_dataset_pickled_mb": len(pickle.dumps(one.datasets[0])) / 2**20,
        "n_stacked": len(stacked.meta["obs_ids" if kind == "map" else "stacked_from"]),
        "exposure_sum": float(np.sum(exposure)),
    }


# ---- joint posterior of run-wise spectra -----------------------------------------------------
def _crab_like(priors: bool):
    import astropy.units as u

    from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral

    if priors:
        law = spectral.PowerLaw(
            index=Normal(2.5, 1.0),
            amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1"),
            reference=1 * u.TeV,
        )
    else:
        law = spectral.PowerLaw(
            index=TRUE_INDEX,
            amplitude=TRUE_AMPLITUDE * u.Unit("cm-2 s-1 TeV-1"),
            reference=1 * u.TeV,
        )
    return SkyModel(law, name="src")


def _runwise_spectra(n: int) -> list:
    """``n`` on/off spectra of 0.5 h runs at 0.5 deg wobble offsets around the source."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammaprob.makers import SpectrumTemplate
    from gammaprob.maps import MapAxis
    from gammaprob.simulate import make_observation, read_irfs, simulate_observation_spectrum

    irfs = read_irfs(_data() / CTA_IRF)
    source = SkyCoord(83.633, 22.014, unit="deg")
    template = SpectrumTemplate(
        CircleSkyRegion(source, 0.1 * u.deg),
        MapAxis.from_energy_bounds(0.1, 100, 20, unit="TeV"),
        MapAxis.from_energy_bounds(0.05, 200, 40, unit="TeV", name="energy_true"),
    )
    truth = _crab_like(priors=False)
    datasets = []
    for i in range(n):
        pointing = source.directional_offset_by((90 * (i % 4)) * u.deg, 0.5 * u.deg)
        obs = make_observation(irfs, pointing, SIM_LIVETIME_H * u.h, obs_id=i + 1)
        ds = simulate_observation_spectrum(truth, template, obs, random_state=i, alpha=0.2)
        datasets.append(ds.replace(name=f"run-{i + 1}"))
    return datasets


def child_posterior(n: int, draws: int) -> dict:
    """Simulate ``n`` run-wise spectra, build the joint model and sample it."""
    import numpy as np

    from gammaprob.inference import build_model, check_convergence, sample

    start = time.perf_counter()
    datasets = _runwise_spectra(n)
    t_sim = time.perf_counter() - start
    start = time.perf_counter()
    model = build_model(datasets, [_crab_like(priors=True)])
    t_build = time.perf_counter() - start
    start = time.perf_counter()
    result = sample(
        model, draws=draws, tune=1000, chains=4, random_seed=1, progressbar=False, check=False
    )
    t_sample = time.perf_counter() - start
    sampling = result.posterior.attrs.get("sampling_time")
    report = check_convergence(result, warn=False)
    index = np.asarray(result["posterior"]["src::index"]).ravel()
    return {
        "n_runs": n,
        "draws": draws,
        "tune": 1000,
        "chains": 4,
        "simulate_s": t_sim,
        "build_s": t_build,
        "sample_s": t_sample,
        "sampling_only_s": None if sampling is None else float(sampling),
        "build_and_sample_s": t_build + t_sample,
        "rhat_max": float(report.rhat_max),
        "ess_bulk_min": float(report.ess_bulk_min),
        "ess_tail_min": float(report.ess_tail_min),
        "divergences": int(report.n_divergent),
        "converged": not report.problems,
        "index_median": float(np.median(index)),
        "index_sd": float(np.std(index)),
        "index_true": TRUE_INDEX,
        "process_peak_rss_mb": _peak_rss_mb(),
    }


CHILDREN = {
    "dr1": child_dr1,
    "dr1_gammapy": child_dr1_gammapy,
    "sim": child_sim,
    "posterior": child_posterior,
}


# ---- driver ----------------------------------------------------------------------------------
def _spawn(task: str, cold_compile: bool = False, **kwargs) -> dict:
    """Run ``CHILDREN[task](**kwargs)`` in a fresh process; return its JSON record.

    ``cold_compile``: give the process empty PyTensor and numba caches, so that a model is
    compiled as in a first analysis whatever an earlier run left in the caches.
    """
    print(f"-- {task} {kwargs}", flush=True)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        if cold_compile:
            flags = [env.get("PYTENSOR_FLAGS", ""), f"base_compiledir={cache}/pytensor"]
            env["PYTENSOR_FLAGS"] = ",".join(f for f in flags if f)
            env["NUMBA_CACHE_DIR"] = f"{cache}/numba"
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps({"task": task, **kwargs})],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"{task} {kwargs} failed:\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["whole_process_s"] = time.perf_counter() - start
    print(json.dumps(out)[:600], flush=True)
    return out


class ExternalCluster:
    """A scheduler and ``workers`` worker processes started with the ``dask`` command line."""

    def __init__(self, workers: int) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.file = Path(self.folder.name) / "scheduler.json"
        dask = [sys.executable, "-m", "dask"]
        logs = open(Path(self.folder.name) / "log.txt", "w")  # noqa: SIM115 (closed in close)
        self.logs = logs
        scheduler = ["scheduler", "--scheduler-file", str(self.file), "--port", "0"]
        worker = ["worker", "--scheduler-file", str(self.file), "--nworkers", str(workers)]
        worker += ["--nthreads", "1", "--memory-limit", MEMORY_LIMIT]
        self.procs = [
            subprocess.Popen([*dask, *scheduler, "--no-dashboard"], stdout=logs, stderr=logs)
        ]
        self._wait(lambda: self.file.exists())
        self.procs.append(
            subprocess.Popen([*dask, *worker, "--no-dashboard"], stdout=logs, stderr=logs)
        )
        from dask.distributed import Client

        with Client(scheduler_file=str(self.file)) as client:
            client.wait_for_workers(workers, timeout=120)
        self.address = json.loads(self.file.read_text())["address"]

    def _wait(self, ready, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > end or self.procs[0].poll() is not None:
                self.close()
                raise RuntimeError(f"dask scheduler did not start; see {self.logs.name}")
            time.sleep(0.2)

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.logs.close()
        self.folder.cleanup()


def part_dr1(runs: list[int], workers: int) -> tuple[dict, dict]:
    """Rows and details of the DR1 part."""
    full = max(runs)
    serial = _spawn("dr1", mode="serial", n_runs=full)
    local = {w: _spawn("dr1", mode="local", n_runs=full, workers=w) for w in (1, workers)}
    small = {n: _spawn("dr1", mode="local", n_runs=n, workers=workers) for n in runs if n != full}
    cluster = ExternalCluster(workers)
    try:
        address = _spawn(
            "dr1", mode="address", n_runs=full, workers=workers, address=cluster.address
        )
    finally:
        cluster.close()
    ref = _spawn("dr1_gammapy", n_runs=full)
    for run in (serial, *local.values(), address):
        if run["counts_total"] != ref["counts_total"] or run["n_datasets"] != ref["n_datasets"]:
            print(f"WARNING: {run['mode']} differs from gammapy: {run} vs {ref}", flush=True)
    many = local[workers]
    rows = {
        f"dr1_{full}runs_serial": _row(serial["reduce_s"], ref["reduce_s"], "s"),
        f"dr1_{full}runs_local_1worker": _row(local[1]["reduce_s"], ref["reduce_s"], "s"),
        f"dr1_{full}runs_local_{workers}workers": _row(many["reduce_s"], ref["reduce_s"], "s"),
        f"dr1_{full}runs_address_{workers}workers": _row(address["reduce_s"], ref["reduce_s"], "s"),
        f"dr1_speedup_{workers}workers_vs_1worker": _row(
            local[1]["reduce_s"] / many["reduce_s"], None, "x", "ratio of the two local rows"
        ),
        f"dr1_{full}runs_serial_peak_rss": _row(
            serial["process_peak_rss_mb"],
            ref["process_peak_rss_mb"],
            "MiB",
            "gammaprob: observations built one at a time by a generator; gammapy: its loop over "
            "DataStore.get_observations; both keep the 105 datasets",
        ),
    }
    for n, run in sorted({**small, full: many}.items()):
        rows[f"dr1_{n}runs_worker_peak_rss_max"] = _row(
            max(run["worker_peak_rss_mb"]),
            None,
            "MiB",
            f"largest ru_maxrss of the {workers} workers (memory_limit {MEMORY_LIMIT} each); "
            "gammapy has no Dask reduction",
        )
    details = {
        "serial": serial,
        "local": {str(k): v for k, v in local.items()},
        "local_fewer_runs": {str(k): v for k, v in small.items()},
        "address": address,
        "gammapy_serial": ref,
    }
    return rows, details


def part_sim(sizes: list[int], workers: int, kind: str) -> tuple[dict, dict]:
    runs = {}
    for n in sizes:  # a fresh scheduler and workers for each size
        cluster = ExternalCluster(workers)
        try:
            runs[n] = _spawn("sim", n=n, workers=workers, kind=kind, address=cluster.address)
        finally:
            cluster.close()
    rows = {}
    for n, run in runs.items():
        note = (
            f"{kind} per observation, stacked as they arrive in the client, on a scheduler and "
            f"{workers} workers in other processes; "
        )
        rows[f"sim_{n}obs_{kind}_reduce_stack"] = _row(
            run["reduce_stack_s"], None, "s", note + "gammapy has no parallel reduce"
        )
        rows[f"sim_{n}obs_{kind}_stacking_process_peak_rss"] = _row(
            run["stacking_process_peak_rss_mb"],
            None,
            "MiB",
            note + f"one dataset is {run['one_dataset_pickled_mb']:.3f} MiB pickled",
        )
    return rows, {str(k): v for k, v in runs.items()}


def part_posterior(sizes: list[int], draws: int) -> tuple[dict, dict]:
    runs = {n: _spawn("posterior", cold_compile=True, n=n, draws=draws) for n in sizes}
    rows = {}
    for n, run in runs.items():
        rows[f"posterior_{n}runs_build_and_sample"] = _row(
            run["build_and_sample_s"],
            None,
            "s",
            f"nutpie 4 chains x {draws} draws (tune 1000); R-hat {run['rhat_max']:.4f}, "
            f"bulk ESS {run['ess_bulk_min']:.0f}, {run['divergences']} divergences; "
            "gammapy has no sampler",
        )
    return rows, {str(k): v for k, v in runs.items()}


def _row(ours: float, ref: float | None, unit: str, note: str | None = None) -> dict:
    """A results row; ``ratio`` is gammapy / gammaprob (> 1: gammaprob faster or smaller)."""
    row = {
        "gammaprob": ours,
        "gammapy": ref,
        "ratio": None if ref is None else ref / ours,
        "unit": unit,
    }
    if note:
        row["note"] = note
    return row


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="dr1,sim,posterior")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dr1-runs", default="20,105", help="numbers of DR1 runs (largest: timed)")
    parser.add_argument("--sim-n", default="100,1000")
    parser.add_argument("--sim-kind", choices=("spectrum", "map"), default="spectrum")
    parser.add_argument("--posterior-n", default="10,25,50,100")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--note", default="", help="machine conditions, stored in the JSON")
    parser.add_argument("--out", type=Path, default=RESULTS / "scale_out.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        out = CHILDREN[spec.pop("task")](**spec)
        print(json.dumps(out))
        return
    if not os.environ.get("GAMMAPY_DATA"):
        raise SystemExit("set GAMMAPY_DATA to run this benchmark")
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import write_results

    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - {"dr1", "sim", "posterior"})
    if unknown:
        raise SystemExit(f"--parts: unknown {unknown}; choose from dr1, sim, posterior")
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    metrics = dict(old.get("metrics", {}))
    details = dict(old.get("details", {}))
    load_before = os.getloadavg()
    runs = {
        "dr1": lambda: part_dr1(_ints(args.dr1_runs), args.workers),
        "sim": lambda: part_sim(_ints(args.sim_n), args.workers, args.sim_kind),
        "posterior": lambda: part_posterior(_ints(args.posterior_n), args.draws),
    }
    start = time.perf_counter()
    for part in parts:
        rows, found = runs[part]()
        metrics.update(rows)  # a rerun replaces its own rows and keeps the others
        details[part] = {**details.get(part, {}), **found}
    invocation = {
        "command": shlex.join(["python", "benchmarks/bench_scale_out.py", *(argv or sys.argv[1:])]),
        "wall_s": time.perf_counter() - start,
        "note": args.note,
        "load_average_1_5_15min_before": load_before,
        "load_average_1_5_15min_after": os.getloadavg(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    extra = {
        "details": details,
        "invocations": [*old.get("invocations", []), invocation],
        "repeats": 1,
    }
    write_results(
        args.out.stem,
        metrics,
        extra=extra,
        packages=("gammapy", "dask", "distributed", "nutpie"),
        folder=args.out.parent,
    )


if __name__ == "__main__":
    main()
