"""Importing the joint-Crab workflow and reading its ten OGIP spectra: gammaprob vs gammapy.

Each repeat is a fresh Python process (nothing cached in memory; the files are in the OS
page cache after the first repeat), timed inside the process:

- ``import_workflow_s``: ``import gammaprob.analysis.joint_crab, gammaprob.inference,
  gammaprob.datasets, gammaprob.modeling`` against ``import gammapy.datasets,
  gammapy.modeling`` (each from a bare interpreter, so numpy and astropy are included);
- ``read_joint_crab_s``: then the first read of the ten spectra of
  ``$GAMMAPY_DATA/joint-crab/spectra`` with the published fit range of each instrument as the
  fit mask (``load_joint_crab_datasets()`` against ``SpectrumDatasetOnOff.read`` plus
  ``energy_mask`` for each file, as in ``bench_sampling.py``), including any module the read
  imports on first use;
- ``read_joint_crab_warm_s``: the best of five more reads in the same process;
- ``import_and_read_s``: the sum of the first two, and ``import_and_read_cpu_s`` the CPU time
  of the process over the same span (less sensitive to other jobs on the machine);
- ``whole_process_s``: launch to exit of the process (interpreter start-up included).

Every metric is the best over ``--repeat`` processes (default 7), alternating the two
libraries, because the machine is shared. ``--before-src DIR`` also times an older source
tree of gammaprob (``DIR`` is its ``src`` folder, put first on ``PYTHONPATH``) and stores
it under ``"before"`` in the results.

Run: ``GAMMAPY_DATA=... python benchmarks/bench_io.py`` -> ``benchmarks/results/io.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

WORKFLOW = (
    "gammaprob.analysis.joint_crab",
    "gammaprob.inference",
    "gammaprob.datasets",
    "gammaprob.modeling",
)
GAMMAPY_WORKFLOW = ("gammapy.datasets", "gammapy.modeling")
WARM_REPEATS = 5


# -- workers (run in a fresh process) ----------------------------------------------------------
def _time_workflow(modules, read, count_bins) -> dict:
    """Import ``modules``, then ``read()`` once (first read) and WARM_REPEATS more times."""
    import importlib

    t0, c0 = time.perf_counter(), time.process_time()
    for module in modules:
        importlib.import_module(module)
    t1 = time.perf_counter()
    datasets = read()
    t2, c2 = time.perf_counter(), time.process_time()
    warm = []
    for _ in range(WARM_REPEATS):
        start = time.perf_counter()
        read()
        warm.append(time.perf_counter() - start)
    return {
        "import_s": t1 - t0,
        "read_s": t2 - t1,
        "read_warm_s": min(warm),
        "import_and_read_cpu_s": c2 - c0,
        "n_datasets": len(datasets),
        "n_fit_bins": count_bins(datasets),
    }


def worker_gammaprob() -> dict:
    """Import the workflow modules, read the spectra (first and warm)."""

    def read() -> list:
        from gammaprob.analysis.joint_crab import load_joint_crab_datasets

        return load_joint_crab_datasets()

    return _time_workflow(WORKFLOW, read, lambda ds: int(sum(d.mask.sum() for d in ds)))


def worker_gammapy(files: list[list]) -> dict:
    """Import gammapy.datasets and gammapy.modeling, read the same spectra (first and warm)."""

    def read() -> list:
        import astropy.units as u
        from gammapy.datasets import SpectrumDatasetOnOff

        out = []
        for path, name, e_min, e_max in files:
            ds = SpectrumDatasetOnOff.read(path)
            ds.mask_fit = ds.counts.geom.energy_mask(e_min * u.TeV, e_max * u.TeV)
            out.append(ds.copy(name=name))
        return out

    return _time_workflow(
        GAMMAPY_WORKFLOW, read, lambda ds: int(sum(d.mask.data.sum() for d in ds))
    )


# -- driver -------------------------------------------------------------------------------------
def _spawn(args: list[str], src: str | None = None) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args[:1]} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["import_and_read_s"] = out["import_s"] + out["read_s"]
    out["whole_process_s"] = wall
    return out


def _best(runs: list[dict]) -> dict:
    keys = (
        "import_s",
        "read_s",
        "read_warm_s",
        "import_and_read_s",
        "import_and_read_cpu_s",
        "whole_process_s",
    )
    return {key: min(run[key] for run in runs) for key in keys}


def _files() -> list[list]:
    from gammaprob.analysis.joint_crab import ENERGY_RANGES, INSTRUMENTS, pha_files

    return [
        [str(path), f"{instrument}-{path.stem}", *ENERGY_RANGES[instrument]]
        for instrument in INSTRUMENTS
        for path in pha_files(instrument)
    ]


def main() -> None:
    from _common import write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--before-src", default=None)
    args = parser.parse_args()
    if not os.environ.get("GAMMAPY_DATA"):
        raise SystemExit("set GAMMAPY_DATA to run this benchmark")
    files = json.dumps(_files())
    ours, theirs, before = [], [], []
    for i in range(args.repeat):
        ours.append(_spawn(["gammaprob"]))
        theirs.append(_spawn(["gammapy", files]))
        if args.before_src:
            before.append(_spawn(["gammaprob"], src=args.before_src))
        print(
            f"repeat {i}: gammaprob import+read {ours[-1]['import_and_read_s']:.3f} s, "
            f"gammapy {theirs[-1]['import_and_read_s']:.3f} s"
            + (f", before {before[-1]['import_and_read_s']:.3f} s" if before else ""),
            flush=True,
        )
    if ours[0]["n_datasets"] != theirs[0]["n_datasets"] or (
        ours[0]["n_fit_bins"] != theirs[0]["n_fit_bins"]
    ):
        raise RuntimeError(f"the two reads differ: {ours[0]} vs {theirs[0]}")
    best_ours, best_theirs = _best(ours), _best(theirs)
    names = {
        "import_s": "import_workflow_s",
        "read_s": "read_joint_crab_s",
        "read_warm_s": "read_joint_crab_warm_s",
        "import_and_read_s": "import_and_read_s",
        "import_and_read_cpu_s": "import_and_read_cpu_s",
        "whole_process_s": "whole_process_s",
    }
    metrics = {
        metric: {
            "gammaprob": best_ours[key],
            "gammapy": best_theirs[key],
            "ratio": best_theirs[key] / best_ours[key],
            "unit": "s",
        }
        for key, metric in names.items()
    }
    extra = {
        "notes": (
            "ratio = gammapy / gammaprob (> 1: gammaprob is faster). Best of "
            f"{args.repeat} fresh processes each on a 2-core machine shared with other jobs. "
            f"Workflow imports: {', '.join(WORKFLOW)} vs {', '.join(GAMMAPY_WORKFLOW)}. "
            f"{ours[0]['n_datasets']} spectra, {ours[0]['n_fit_bins']} fitted bins in both."
        ),
        "runs": {"gammaprob": ours, "gammapy": theirs},
    }
    if before:
        best_before = _best(before)
        extra["before"] = {
            "src": args.before_src,
            "best": {names[k]: v for k, v in best_before.items()},
            "speedup": {names[k]: best_before[k] / best_ours[k] for k in best_before},
            "runs": before,
        }
    write_results("io", metrics, extra=extra, packages=("gammapy", "astropy"))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        if sys.argv[2] == "gammapy":
            payload = worker_gammapy(json.loads(sys.argv[3]))
        else:
            payload = worker_gammaprob()
        print(json.dumps(payload))
    else:
        main()
