"""Sampling the joint-Crab posterior: wall time and ESS per second, gammaprob vs gammapy.

The ten joint-Crab OGIP spectra (published fit ranges), a log-parabola at 1 TeV (log10
form) with the priors of :func:`gammaprob.analysis.joint_crab.crab_spectrum`, 4 chains x
(1000 tuning + 1000 draws), with each available sampler (PyMC's NUTS, nutpie, numpyro when
installed; emcee with 32 walkers on the WStat model only: an ensemble sampler cannot handle
the ~400 latent background rates) and the on/off treatments (``onoff=``): the latent
background ("latent", generative), the same model with the background rates integrated out
analytically ("marginal", the default, generative) and the profiled WStat (what gammapy fits).
``bench_whole_process.py`` times the default path alone, repeated.

Every run is a fresh Python process, timed from launch to exit ("whole process": imports,
reading the files, building and compiling the model, sampling, diagnostics). It runs twice
against one pytensor/numba cache directory: first empty (cold cache), then filled (warm
cache). Inside the process it records the phases: import, read, build, the ``sample`` call
(compilation + sampling) and the pure sampling time reported by the sampler. ESS is the
smallest bulk ESS of the three physical parameters; "ESS/s incl. compile" divides it by the
``sample`` call, "ESS/s" by the pure sampling time.

gammapy (same files, ranges and model; natural-log LogParabola, identical curve): the MINUIT
fit + covariance in the process, and the whole process (import, read, fit) from launch to
exit. Its UltraNest and emcee samplers are not run here (UltraNest is not installed), so no
ESS/s ratio against gammapy is written: gammaprob's ESS/s are recorded per run, without a
gammapy column.

Run: ``GAMMAPY_DATA=... python benchmarks/bench_sampling.py`` ->
``benchmarks/results/sampling.json``; ``--runs nutpie/marginal --dev`` runs the default path
alone and writes nothing (a development check).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PARAMS = ("crab::amplitude", "crab::alpha", "crab::beta")
RUNS = [
    ("nutpie", "latent"),
    ("pymc", "latent"),
    ("nutpie", "marginal"),
    ("nutpie", "wstat"),
    ("pymc", "wstat"),
    ("numpyro", "latent"),
    ("numpyro", "marginal"),
    ("numpyro", "wstat"),
    ("emcee", "wstat"),
]


# -- workers (run in a fresh process) ----------------------------------------------------------
def worker_gammaprob(sampler: str, onoff: str) -> dict:
    """Import, read, build, sample; return the phase timings and diagnostics."""
    t0, c0 = time.perf_counter(), time.process_time()
    import warnings

    import arviz as az
    import numpy as np

    from gammaprob.analysis.joint_crab import joint_crab_models, load_joint_crab_datasets
    from gammaprob.inference import build_model, check_convergence, sample

    t1 = time.perf_counter()
    datasets = load_joint_crab_datasets()
    t2 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # WStat: "no predictive checks"
        model = build_model(datasets, joint_crab_models(False), onoff=onoff)
    t3 = time.perf_counter()
    chains = 32 if sampler == "emcee" else 4
    result = sample(
        model,
        sampler=sampler,
        draws=1000,
        tune=1000,
        chains=chains,
        random_seed=0,
        progressbar=False,
        log_likelihood=False,
        check=False,
    )
    t4, c4 = time.perf_counter(), time.process_time()
    ess = az.ess(result, var_names=list(PARAMS), method="bulk")
    ess = ess.posterior if hasattr(ess, "posterior") else ess
    conv = check_convergence(result, warn=False)
    sampling = result.posterior.attrs.get("sampling_time")
    alpha = np.asarray(result.posterior["crab::alpha"]).ravel()
    return {
        "import_s": t1 - t0,
        "read_s": t2 - t1,
        "build_s": t3 - t2,
        "sample_call_s": t4 - t3,
        "cpu_until_sampled_s": c4 - c0,
        "sampling_s": float(sampling) if sampling is not None else None,
        "ess_bulk_min": min(float(np.asarray(ess[p])) for p in PARAMS),
        "ess_bulk_min_all": float(conv.ess_bulk_min),
        "r_hat_max_all": float(conv.rhat_max),
        "divergences": int(conv.n_divergent),
        "chains": chains,
        "alpha_median": float(np.median(alpha)),
    }


def gammapy_joint_crab_datasets():
    """The ten joint-Crab spectra read by gammapy, with the published fit ranges as mask_fit."""
    import astropy.units as u
    from gammapy.datasets import Datasets, SpectrumDatasetOnOff

    from gammaprob.analysis.joint_crab import ENERGY_RANGES, INSTRUMENTS, pha_files

    datasets = Datasets()
    for instrument in INSTRUMENTS:
        e_min, e_max = ENERGY_RANGES[instrument]
        for path in pha_files(instrument):
            ds = SpectrumDatasetOnOff.read(path)
            ds.mask_fit = ds.counts.geom.energy_mask(e_min * u.TeV, e_max * u.TeV)
            datasets.append(ds.copy(name=f"{instrument}-{path.stem}"))
    return datasets


def worker_gammapy() -> dict:
    """Import gammapy, read the ten spectra, fit (MINUIT + covariance)."""
    t0 = time.perf_counter()
    import gammapy.datasets  # noqa: F401  (imported before the read phase, as it always was)
    from gammapy.modeling import Fit
    from gammapy.modeling.models import LogParabolaSpectralModel, SkyModel

    t1 = time.perf_counter()
    datasets = gammapy_joint_crab_datasets()
    spectral = LogParabolaSpectralModel(
        amplitude="3e-11 cm-2 s-1 TeV-1", reference="1 TeV", alpha=2.5, beta=0.1
    )
    model = SkyModel(spectral_model=spectral, name="crab")
    datasets.models = [model]
    t2 = time.perf_counter()
    result = Fit().run(datasets)
    t3 = time.perf_counter()
    return {
        "import_s": t1 - t0,
        "read_s": t2 - t1,
        "fit_and_covariance_s": t3 - t2,
        "success": bool(result.success),
        "n_evaluations": int(result.optimize_result.nfev),
        "alpha": float(spectral.alpha.value),
    }


# -- orchestration -------------------------------------------------------------------------------
def _available(sampler: str) -> bool:
    import importlib.util

    needs = {"nutpie": ["nutpie"], "numpyro": ["jax", "numpyro"], "emcee": ["emcee"]}
    return all(importlib.util.find_spec(p) is not None for p in needs.get(sampler, []))


def _spawn(args: list[str], cache: Path | None) -> dict:
    import resource

    env = dict(os.environ)
    if cache is not None:
        env["PYTENSOR_FLAGS"] = f"base_compiledir={cache / 'pytensor'}"
        env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["whole_process_s"] = wall
    out["whole_process_cpu_s"] = cpu
    return out


def _derived(run: dict) -> dict:
    ess = run["ess_bulk_min"]
    run["ess_per_s_incl_compile"] = ess / run["sample_call_s"]
    if run.get("sampling_s"):
        run["ess_per_s"] = ess / run["sampling_s"]
    run["converged"] = run["r_hat_max_all"] < 1.01 and run["ess_bulk_min_all"] > 400
    run["target_ess_gt_1000"] = ess > 1000
    return run


def main(selected: list[str] | None = None, dev: bool = False) -> None:
    """Run the benchmark (``selected``: ``"sampler/onoff"`` keys of :data:`RUNS`, default all).

    ``dev``: a development check that prints the numbers and writes no results file.
    """
    from _common import write_results

    if not os.environ.get("GAMMAPY_DATA"):
        raise SystemExit("set GAMMAPY_DATA to run this benchmark")
    known = [f"{sampler}/{likelihood}" for sampler, likelihood in RUNS]
    unknown = sorted(set(selected or ()) - set(known))
    if unknown:
        raise SystemExit(f"--runs: unknown {unknown}; choose from {known}")
    runs: dict = {}
    for sampler, likelihood in RUNS:
        key = f"{sampler}/{likelihood}"
        if selected and key not in selected:
            continue
        if not _available(sampler):
            runs[key] = {"skipped": f"{sampler} is not installed"}
            print(f"{key}: not installed", flush=True)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            for cache in ("cold", "warm"):
                run = _derived(_spawn(["gammaprob", sampler, likelihood], Path(tmp)))
                runs[f"{key}/{cache}"] = run
                print(
                    f"{key}/{cache}: whole {run['whole_process_s']:.1f} s, sample call "
                    f"{run['sample_call_s']:.1f} s, sampling {run.get('sampling_s') or 0:.2f} s, "
                    f"ESS {run['ess_bulk_min']:.0f}, R-hat {run['r_hat_max_all']:.3f}, "
                    f"CPU {run['whole_process_cpu_s']:.1f} s",
                    flush=True,
                )
    gammapy_runs = [_spawn(["gammapy"], None) for _ in range(2)]
    gp = min(gammapy_runs, key=lambda r: r["whole_process_s"])
    print(
        f"gammapy: fit+cov {gp['fit_and_covariance_s']:.2f} s, whole {gp['whole_process_s']:.1f} s"
    )

    metrics = {}
    for key, run in runs.items():
        if "skipped" in run:
            continue
        metrics[f"sampling_s[{key}]"] = _metric(
            run.get("sampling_s"), gp["fit_and_covariance_s"], "s"
        )
        metrics[f"sample_incl_compile_s[{key}]"] = _metric(
            run["sample_call_s"], gp["fit_and_covariance_s"], "s"
        )
        metrics[f"whole_process_s[{key}]"] = _metric(
            run["whole_process_s"], gp["whole_process_s"], "s"
        )
        metrics[f"whole_process_cpu_s[{key}]"] = _metric(
            run["whole_process_cpu_s"], gp["whole_process_cpu_s"], "s"
        )
    targets = {
        key: _targets(run, gp)
        for key, run in runs.items()
        if "skipped" not in run and run.get("sampling_s")
    }
    for key, met in targets.items():
        print(f"targets {key}: {met}")
    if dev:
        print("dev run: no results file written")
        return
    write_results(
        "sampling",
        metrics,
        extra={
            "notes": (
                "ratio > 1 means gammaprob is better (gammapy / gammaprob times); ESS/s of "
                "gammaprob are in 'runs' (no gammapy sampler was run). 'targets' checks issue 6's goals per run. 'sampling_s' compares the pure sampling time with "
                "gammapy's MINUIT fit + covariance (a point estimate, not a posterior). The "
                "machine (2 cores) was shared with other jobs, so wall times include waiting "
                "for the CPU; 'whole_process_cpu_s' (user + system CPU of the process, all "
                "threads) is the less noisy comparison."
            ),
            "targets": targets,
            "runs": runs,
            "gammapy_runs": gammapy_runs,
            "settings": {"draws": 1000, "tune": 1000, "chains": 4, "emcee_walkers": 32},
        },
        packages=("nutpie", "emcee", "numpyro", "gammapy", "arviz"),
    )


def _metric(ours, theirs, unit: str) -> dict:
    """Ratio > 1 means gammaprob is better (gammapy / ours, times)."""
    ratio = None if not ours else theirs / ours
    return {"gammaprob": ours, "gammapy": theirs, "ratio": ratio, "unit": unit}


def _targets(run: dict, gp: dict) -> dict:
    """Issue 6's targets for one run: converged, faster than MINUIT, ESS/s, whole process."""
    return {
        "converged_rhat_lt_1.01_ess_gt_1000": run["r_hat_max_all"] < 1.01
        and run["ess_bulk_min"] > 1000,
        "sampling_faster_than_minuit_fit_and_covariance": run["sampling_s"]
        < gp["fit_and_covariance_s"],
        "ess_per_s_incl_compile_ge_700": run["ess_per_s_incl_compile"] >= 700,
        "whole_process_within_1.5x_gammapy": run["whole_process_s"] <= 1.5 * gp["whole_process_s"],
    }


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        if sys.argv[2] == "gammapy":
            payload = worker_gammapy()
        else:
            payload = worker_gammaprob(sys.argv[3], sys.argv[4])
        print(json.dumps(payload))
    else:
        import argparse

        parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
        parser.add_argument(
            "--runs", nargs="+", metavar="SAMPLER/ONOFF", help="only these rows (default: all)"
        )
        parser.add_argument("--dev", action="store_true", help="print only; write no results file")
        arguments = parser.parse_args()
        main(arguments.runs, arguments.dev)
