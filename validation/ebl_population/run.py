"""Shared EBL optical-depth scale over a simulated blazar sample: recovery and coverage.

``--n-sources`` blazars (default 20, redshifts 0.03-0.6), CTA South prod5 IRFs (see
``study.py``), true ``alpha_norm = 1``; ``--n`` replications, each with new intrinsic spectra
and counts. Writes ``results.yaml`` next to this file: the median posterior median and
standard deviation of ``alpha_norm``, and the observed coverage of the 68 % and 95 % central
intervals with binomial standard errors and 95 % bands. ``results.yaml`` is rewritten after
every replication, and no new replication starts once the process has used ``--max-cpu-seconds``
of CPU time (all threads) or ``--max-seconds`` of wall time, so a run within a time budget
keeps what it did. With ``--pks2155`` it also fits the H.E.S.S. DR1
PKS 2155-304 spectrum (``pks2155.py``) and adds its ``alpha_norm`` posterior.

Run: ``nice -n 10 python validation/ebl_population/run.py --n 1000 --max-cpu-seconds 2400``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import study  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="replications")
    parser.add_argument("--n-sources", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=float("inf"), help="wall time")
    parser.add_argument("--max-cpu-seconds", type=float, default=float("inf"))
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--pks2155", action="store_true")
    args = parser.parse_args()
    import gammaprob

    start = time.perf_counter()
    redshifts = study.sample_redshifts(args.n_sources, args.seed)
    built = study.build(redshifts, seed=args.seed)
    build_s = time.perf_counter() - start
    out = {
        "study": "shared EBL optical-depth scale over a simulated blazar sample",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "gammaprob": gammaprob.__version__,
        "irfs": study.PROD5,
        "livetime_h": float(study.LIVETIME.to_value("h")),
        "ebl_model": study.EBL_MODEL,
        "alpha_prior": f"Uniform{study.ALPHA_PRIOR}",
        "redshifts": {k: round(v, 4) for k, v in redshifts.items()},
        "sampler": "nutpie",
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "build_and_compile_s": round(build_s, 1),
        "build_and_compile_cpu_s": round(time.process_time(), 1),
    }

    def write(result: dict) -> None:
        out["result"] = result
        out["seconds"] = round(time.perf_counter() - start, 1)
        out["cpu_seconds"] = round(time.process_time(), 1)
        tmp = HERE / "results.yaml.tmp"
        with open(tmp, "w") as fh:
            yaml.safe_dump(out, fh, sort_keys=False)
        tmp.replace(HERE / "results.yaml")

    write(
        study.coverage(
            built,
            args.alpha,
            args.n,
            args.seed + 1,
            stop=lambda: (
                time.perf_counter() - start > args.max_seconds
                or time.process_time() > args.max_cpu_seconds
            ),
            on_record=write,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
        )
    )
    if args.pks2155:
        import pks2155

        out["pks2155"] = pks2155.fit()
        write(out["result"])


if __name__ == "__main__":
    main()
