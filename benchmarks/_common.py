"""Helpers shared by the benchmark scripts: timing and writing results JSON."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def best_time(func: Callable[[], object], repeat: int = 7, min_time: float = 0.2) -> float:
    """Return the best per-call time in seconds over ``repeat`` timed loops."""
    func()
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            func()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            break
        number *= 2
    best = elapsed / number
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def median_of(runs: list[dict], key: str) -> float:
    """Median of ``key`` over the per-process records ``runs``."""
    return statistics.median(r[key] for r in runs)


def versions(*names: str) -> dict[str, str | None]:
    """Installed versions of the named distributions (None when absent)."""
    out = {"python": platform.python_version()}
    for name in ("gammaprob", "pytensor", "pymc", "numpy", "numba", *names):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_results(
    name: str, metrics: dict, extra: dict | None = None, packages=(), folder: Path = RESULTS
) -> Path:
    """Write ``FOLDER/NAME.json`` (atomically; default ``benchmarks/results``), print a summary."""
    payload = {
        "metrics": metrics,
        "versions": versions(*packages),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    if extra:
        payload.update(extra)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
    for metric, row in metrics.items():
        print(f"{metric:<45} {row}")
    print(f"wrote {path}")
    return path
