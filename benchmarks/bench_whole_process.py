"""The whole joint-Crab analysis as a user runs it, with default settings, against gammapy.

One run is one fresh Python process, timed from launch to exit: import gammaprob, read the
ten joint-Crab OGIP spectra (``$GAMMAPY_DATA/joint-crab/spectra``, published fit ranges),
``build_model(datasets, models)`` and ``sample(model)`` with the defaults (on/off OFF rates
integrated out analytically, nutpie, 4 chains x (1000 tuning + 1000 draws), the
log-likelihood group and the convergence checks; only the progress bar is off and the seed is
fixed). Inside the process the phases are recorded too (import, read, build, ``sample`` call).

- **cold**: the process starts with empty compilation caches (PyTensor's compile directory,
  which holds its numba cache, numba's own cache and the XDG cache, all pointed at a new
  temporary folder through ``PYTENSOR_FLAGS=base_compiledir=...``, ``NUMBA_CACHE_DIR`` and
  ``XDG_CACHE_HOME``): a machine where this model structure was never compiled.
- **warm**: the same, with caches filled by an earlier (unmeasured) process.
- **gammapy**: a fresh process that imports gammapy, reads the same files with the same fit
  ranges and runs its MINUIT fit + covariance of the same log-parabola (gammapy 2.x
  ``Fit().run``; the worker of ``bench_sampling.py``). Its caches are the same in every run,
  so it gets the same unmeasured warm-up process as the warm gammaprob runs.

Every measured number is the median of ``--repeat`` runs (default 3) per variant, all on this
machine in this invocation. ``ratio`` is gammapy / gammaprob (> 1: gammaprob is faster);
issue 16's targets are ratio >= 1 warm and >= 0.5 cold.

Run: ``GAMMAPY_DATA=... python benchmarks/bench_whole_process.py [--repeat 3]`` ->
``benchmarks/results/whole_process.json`` (``--dev``: print only, no file).

The cold variant also empties gammaprob's store of rewritten nutpie functions (it lives in
PyTensor's compile folder). **other_bins**: a process with the warm caches that analyses
other data of the same structure (every instrument's fit range cut by 25 % at both ends,
so other bins and counts): the compiled code depends on the model structure only
(:mod:`gammaprob.inference.nutpie_backend`), so it should cost what a warm run costs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PARAMS = ("crab::amplitude", "crab::alpha", "crab::beta")
SEED = 0


# -- worker (runs in a fresh process) ------------------------------------------------------------
#: Fit ranges of the other_bins variant: each instrument's range cut by 25 % at both ends.
OTHER_BINS_CUT = 1.25


def worker_gammaprob(other_bins: bool = False) -> dict:
    """Import, read, build and sample with default settings; return phases and diagnostics."""
    t0 = time.perf_counter()
    from gammaprob.analysis.joint_crab import (
        ENERGY_RANGES,
        joint_crab_models,
        load_joint_crab_datasets,
    )
    from gammaprob.inference import build_model, check_convergence, sample

    t1 = time.perf_counter()
    ranges = ENERGY_RANGES
    if other_bins:
        cut = OTHER_BINS_CUT
        ranges = {name: (low * cut, high / cut) for name, (low, high) in ranges.items()}
    datasets = load_joint_crab_datasets(ranges=ranges)
    t2 = time.perf_counter()
    model = build_model(datasets, joint_crab_models(False))
    t3 = time.perf_counter()
    result = sample(model, random_seed=SEED, progressbar=False)
    t4 = time.perf_counter()
    import numpy as np

    conv = check_convergence(result, warn=False)
    settings = json.loads(result.attrs["sampler_settings"])
    return {
        "import_s": t1 - t0,
        "read_s": t2 - t1,
        "build_s": t3 - t2,
        "sample_call_s": t4 - t3,
        "settings": {k: settings.get(k) for k in ("sampler", "onoff", "chains", "tune", "draws")},
        "converged": conv.ok,
        "r_hat_max": float(conv.rhat_max),
        "ess_bulk_min": float(conv.ess_bulk_min),
        "ess_tail_min": float(conv.ess_tail_min),
        "alpha_median": float(np.median(np.asarray(result.posterior["crab::alpha"]))),
    }


def worker_gammapy() -> dict:
    """gammapy's whole-process fit: the worker of ``bench_sampling.py`` (same files, model)."""
    from bench_sampling import worker_gammapy as gammapy_fit

    return gammapy_fit()


# -- orchestration -------------------------------------------------------------------------------
def _spawn(kind: str, cache: Path | None) -> dict:
    """Run one worker in a fresh process; add its wall and CPU time (launch to exit)."""
    import resource

    env = dict(os.environ)
    if cache is not None:
        env["PYTENSOR_FLAGS"] = f"base_compiledir={cache / 'pytensor'}"
        env["NUMBA_CACHE_DIR"] = str(cache / "numba")
        env["XDG_CACHE_HOME"] = str(cache / "xdg")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", kind],
        env=env,
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["whole_process_s"] = wall
    out["whole_process_cpu_s"] = (after.ru_utime - before.ru_utime) + (
        after.ru_stime - before.ru_stime
    )
    out["stderr_tail"] = proc.stderr[-500:]
    return out


def _report(label: str, run: dict) -> None:
    extra = ""
    if "sample_call_s" in run:
        extra = (
            f", sample call {run['sample_call_s']:.1f} s, R-hat {run['r_hat_max']:.4f}, "
            f"tail ESS {run['ess_tail_min']:.0f}"
        )
    print(f"{label}: whole {run['whole_process_s']:.1f} s{extra}", flush=True)


def main(repeat: int, dev: bool = False) -> None:
    """Run ``repeat`` processes per variant; ``dev``: print only, write no results file."""
    from _common import median_of, write_results

    if not os.environ.get("GAMMAPY_DATA"):
        raise SystemExit("set GAMMAPY_DATA to run this benchmark")
    if repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    runs: dict[str, list[dict]] = {"cold": [], "warm": [], "other_bins": [], "gammapy": []}
    with tempfile.TemporaryDirectory(prefix="gammaprob-bench-") as tmp:
        tmp = Path(tmp)
        _report("gammapy warm-up (not measured)", _spawn("gammapy", None))
        for i in range(repeat):
            run = _spawn("gammaprob", tmp / f"cold-{i}")  # a new, empty cache every time
            _report(f"gammaprob cold {i + 1}/{repeat}", run)
            runs["cold"].append(run)
        warm = tmp / "warm"
        _report("gammaprob warm-up (not measured)", _spawn("gammaprob", warm))
        for i in range(repeat):  # alternate the two codes so that load drifts hit both
            run = _spawn("gammaprob", warm)
            _report(f"gammaprob warm {i + 1}/{repeat}", run)
            runs["warm"].append(run)
            run = _spawn("gammapy", None)
            _report(f"gammapy {i + 1}/{repeat}", run)
            runs["gammapy"].append(run)
        for i in range(repeat):
            run = _spawn("gammaprob-other-bins", warm)
            _report(f"gammaprob other bins, warm caches {i + 1}/{repeat}", run)
            runs["other_bins"].append(run)

    gp_wall = median_of(runs["gammapy"], "whole_process_s")
    gp_cpu = median_of(runs["gammapy"], "whole_process_cpu_s")
    metrics, targets = {}, {}
    for variant in ("cold", "warm", "other_bins"):
        wall = median_of(runs[variant], "whole_process_s")
        cpu = median_of(runs[variant], "whole_process_cpu_s")
        metrics[f"whole_process_s[{variant}]"] = {
            "gammaprob": wall,
            "gammapy": gp_wall,
            "ratio": gp_wall / wall,
            "unit": "s",
        }
        metrics[f"whole_process_cpu_s[{variant}]"] = {
            "gammaprob": cpu,
            "gammapy": gp_cpu,
            "ratio": gp_cpu / cpu,
            "unit": "s",
        }
        for phase in ("import_s", "read_s", "build_s", "sample_call_s"):
            metrics[f"{phase}[{variant}]"] = {
                "gammaprob": median_of(runs[variant], phase),
                "unit": "s",
            }
        limit = 2.0 if variant == "cold" else 1.0
        targets[f"whole_process_{variant}_within_{limit:g}x_gammapy"] = wall <= limit * gp_wall
        targets[f"all_{variant}_runs_converged"] = all(r["converged"] for r in runs[variant])
    for phase in ("import_s", "read_s", "fit_and_covariance_s"):
        metrics[f"gammapy_{phase}"] = {"gammapy": median_of(runs["gammapy"], phase), "unit": "s"}
    for key, value in targets.items():
        print(f"target {key}: {value}")
    for key, metric in metrics.items():
        print(f"{key}: {metric}")
    if dev:
        print("dev run: no results file written")
        return
    write_results(
        "whole_process",
        metrics,
        extra={
            "notes": (
                f"median of {repeat} fresh processes per variant, timed from launch to exit; "
                "ratio = gammapy / gammaprob (> 1: gammaprob faster). gammaprob: default "
                "build_model + sample (onoff='marginal', nutpie, 4 x (1000 + 1000), "
                "log-likelihood and convergence checks; progress bar off, seed 0). cold: empty "
                "pytensor (base_compiledir) / numba / XDG caches; warm: caches filled by an unmeasured process; "
                "other_bins: warm caches, every fit range cut by 25 % at both ends (other data "
                "and bins, same model structure; its ratio compares with the gammapy fit of "
                "the full ranges). "
                "gammapy: import, read, MINUIT fit + covariance, after one unmeasured warm-up "
                "process. whole_process_cpu_s is user + system CPU (all threads), less "
                "sensitive to other jobs on the machine than wall time."
            ),
            "targets": targets,
            "runs": runs,
            "settings": {"repeat": repeat, "draws": 1000, "tune": 1000, "chains": 4},
        },
        packages=("nutpie", "gammapy", "arviz", "iminuit"),
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        kind = sys.argv[2]
        if kind == "gammapy":
            payload = worker_gammapy()
        else:
            payload = worker_gammaprob(other_bins=kind == "gammaprob-other-bins")
        print(json.dumps(payload))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
        parser.add_argument("--repeat", type=int, default=3, help="measured runs per variant")
        parser.add_argument("--dev", action="store_true", help="print only; write no results file")
        arguments = parser.parse_args()
        main(arguments.repeat, arguments.dev)
