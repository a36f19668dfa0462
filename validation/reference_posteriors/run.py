"""Long-run reference posteriors of real analyses (issue 14), and every sampler against them.

``python validation/reference_posteriors/run.py reference [--cases ...]`` samples each case
(``cases.py``) with nutpie, 8 chains x (1000 + 5000) draws, checks R-hat < 1.005 and bulk/tail
ESS > 10000 for every parameter (a case that fails is not written), and stores a compact
summary in ``<case>.json``: per-parameter mean, sd, MCSE, ESS, R-hat, quantiles at
``cases.QUANTILES``, the covariance, the run's settings and wall time. Raw draws are not kept.

``python validation/reference_posteriors/run.py compare [--cases ...] [--samplers ...]``
samples the (expensive) cases with every sampler of :func:`gammaprob.inference.sample` that is
installed and writes the agreement (mean difference in combined MCSE, sd difference in its
standard error, see ``cases.compare``) to ``comparison.yaml``. The CI test
``tests/inference/test_reference_posteriors.py`` does the same on the cheap case.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402

RHAT_MAX = 1.005
ESS_MIN = 10_000
#: settings of each sampler in ``compare`` (draws kept per chain; emcee: walkers as chains)
SAMPLER_SETTINGS = {
    "nutpie": {"chains": 4, "tune": 1000, "draws": 1000},
    "pymc": {"chains": 4, "tune": 1000, "draws": 1000},
    "numpyro": {"chains": 4, "tune": 1000, "draws": 1000},
    "emcee": {"chains": 32, "tune": 1000, "draws": 2000},
    "smc": {"chains": 4, "tune": 0, "draws": 2000},
}


def reference(name: str, seed: int) -> dict:
    """Sample case ``name`` long with nutpie and return its checked summary."""
    from gammaprob.inference import sample

    model, names = cases.build_case(name)
    start = time.perf_counter()
    result = sample(
        model,
        chains=8,
        tune=1000,
        draws=5000,
        random_seed=seed,
        progressbar=False,
        log_likelihood=False,
        check=False,
    )
    wall = time.perf_counter() - start
    summary = cases.summarize(result, names)
    params = summary["parameters"].values()
    diverging = result.sample_stats.get("diverging", None)
    summary["diagnostics"] = {
        "rhat_max": max(p["rhat"] for p in params),
        "ess_bulk_min": min(p["ess_bulk"] for p in params),
        "ess_tail_min": min(p["ess_tail"] for p in params),
        "divergences": int(diverging.sum()) if diverging is not None else 0,
    }
    summary["settings"] = {
        "sampler": "nutpie",
        "chains": 8,
        "tune": 1000,
        "draws": 5000,
        "seed": seed,
        "wall_time_s": round(wall, 1),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return summary


def compare_case(name: str, samplers: list[str], seed: int) -> dict:
    """Sample case ``name`` with each sampler; agreement with its stored reference."""
    from gammaprob.inference import sample

    ref = json.loads((HERE / f"{name}.json").read_text())
    model, names = cases.build_case(name)
    out = {}
    for sampler in samplers:
        start = time.perf_counter()
        result = sample(
            model,
            sampler=sampler,
            random_seed=seed,
            progressbar=False,
            log_likelihood=False,
            check=False,
            **SAMPLER_SETTINGS[sampler],
        )
        agreement = cases.compare(cases.summarize(result, names), ref)
        out[sampler] = {
            "wall_time_s": round(time.perf_counter() - start, 1),
            "ok": all(v["ok"] for v in agreement.values()),
            "parameters": {
                k: {"mean_z": round(v["mean_z"], 2), "sd_z": round(v["sd_z"], 2)}
                for k, v in agreement.items()
            },
        }
        print(f"  {sampler}: {out[sampler]}", flush=True)
    return out


def installed(sampler: str) -> bool:
    """Whether the packages of ``sampler`` are importable."""
    from gammaprob.inference.samplers import _REQUIRES

    return all(importlib.util.find_spec(p) is not None for p in _REQUIRES.get(sampler, ()))


def main() -> None:
    from gammaprob.inference import SAMPLERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["reference", "compare"])
    parser.add_argument("--cases", nargs="*", default=list(cases.CASES))
    parser.add_argument("--samplers", nargs="*", default=list(SAMPLERS))
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    if args.what == "reference":
        for name in args.cases:
            print(f"{name}: reference", flush=True)
            summary = reference(name, args.seed)
            diag = summary["diagnostics"]
            print(f"  {diag}, {summary['settings']['wall_time_s']} s", flush=True)
            if (
                diag["rhat_max"] >= RHAT_MAX
                or min(diag["ess_bulk_min"], diag["ess_tail_min"]) <= ESS_MIN
            ):
                print(f"  not written: R-hat < {RHAT_MAX} and ESS > {ESS_MIN} required", flush=True)
                continue
            (HERE / f"{name}.json").write_text(json.dumps(summary, indent=1) + "\n")
        return
    path = HERE / "comparison.yaml"
    results = yaml.safe_load(path.read_text()) if path.exists() else {}
    missing = [s for s in args.samplers if not installed(s)]
    results["not_installed"] = missing
    for name in args.cases:
        print(f"{name}: compare", flush=True)
        results[name] = compare_case(
            name, [s for s in args.samplers if s not in missing], args.seed
        )
        path.write_text(yaml.safe_dump(results, sort_keys=False))


if __name__ == "__main__":
    main()
