"""Shared EBL optical-depth scale over a simulated blazar sample: recovery and coverage.

``--n-sources`` blazars (default 20, redshifts 0.03-0.6), CTA South prod5 IRFs (see
``study.py``), true ``alpha_norm = 1``; ``--n`` replications, each with new intrinsic spectra
and counts. Writes ``results.yaml`` next to this file: the median posterior median and
standard deviation of ``alpha_norm``, and the observed coverage of the 68 % and 95 % central
intervals with binomial standard errors. With ``--pks2155`` it also fits the H.E.S.S. DR1
PKS 2155-304 spectrum (``pks2155.py``) and adds its ``alpha_norm`` posterior.

Run: ``python validation/ebl_population/run.py [--n 100 --n-sources 20]``.
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
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--pks2155", action="store_true")
    args = parser.parse_args()
    import gammaprob

    start = time.perf_counter()
    redshifts = study.sample_redshifts(args.n_sources, args.seed)
    built = study.build(redshifts, seed=args.seed)
    result = study.coverage(
        built, args.alpha, args.n, args.seed + 1, draws=args.draws, tune=args.tune
    )
    out = {
        "study": "shared EBL optical-depth scale over a simulated blazar sample",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "gammaprob": gammaprob.__version__,
        "irfs": study.PROD5,
        "livetime_h": float(study.LIVETIME.to_value("h")),
        "ebl_model": study.EBL_MODEL,
        "alpha_prior": f"Uniform{study.ALPHA_PRIOR}",
        "redshifts": {k: round(v, 4) for k, v in redshifts.items()},
        "draws": args.draws,
        "tune": args.tune,
        "chains": 2,
        "result": result,
    }
    if args.pks2155:
        import pks2155

        out["pks2155"] = pks2155.fit()
    out["seconds"] = round(time.perf_counter() - start, 1)
    with open(HERE / "results.yaml", "w") as fh:
        yaml.safe_dump(out, fh, sort_keys=False)


if __name__ == "__main__":
    main()
