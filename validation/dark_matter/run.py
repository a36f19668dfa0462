"""Stacked dark-matter upper limits over simulated dwarfs: NUTS vs quadrature, and coverage.

Four simulated dwarfs (``study.DWARFS``: J-factors 2e18-1e19 GeV2 cm-5 with 0.2-0.5 dex
log-normal uncertainties), CTA South prod5 IRFs, 20 h each, b bbar at 1 TeV. Writes
``results.yaml`` next to this file with

* ``nuts_vs_quadrature``: the 95 % upper limit on ``sigma_v`` from NUTS and from direct
  numerical marginalisation of the J-factors (Gauss-Hermite) on the same simulated data;
* ``coverage``: for several true ``sigma_v`` (J-factors drawn from their priors in each
  replication), the fraction of replications whose 95 % upper limit is above the truth,
  with the binomial standard error (``--n`` replications by quadrature, ``--n-nuts`` by
  NUTS).

Run: ``python validation/dark_matter/run.py [--n 400 --n-nuts 20]``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import study  # noqa: E402

TRUTHS = (0.0, 1e-24, 3e-24, 1e-23)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="replications per truth (quadrature)")
    parser.add_argument("--n-nuts", type=int, default=20, help="replications per truth (NUTS)")
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    import gammaprob

    start = time.perf_counter()
    built = study.build(seed=args.seed)
    units = study.unit_counts(built)
    rng = np.random.default_rng(args.seed)
    comparison = []
    for truth in (0.0, 3e-24):
        result, _ = study.replicate(built, truth, rng, draws=1000, tune=1000)
        grid, density = study.quadrature_posterior(built, units)
        comparison.append(
            {
                "sigma_v_true": truth,
                "nuts_upper_limit": study.upper_limit(result, built.sigma_v_name),
                "quadrature_upper_limit": study.quadrature_upper_limit(grid, density),
            }
        )
    coverage = {"quadrature": [], "nuts": []}
    for i, truth in enumerate(TRUTHS):
        entry = study.quadrature_coverage(built, truth, args.n, args.seed + i)
        entry["within_2_sigma_or_above"] = bool(
            entry["coverage"] >= study.LEVEL - 2 * entry["binomial_sigma"]
        )
        coverage["quadrature"].append(entry)
        if args.n_nuts and truth > 0:
            nuts = study.coverage(built, truth, args.n_nuts, args.seed + 100 + i)
            nuts.pop("limits")
            coverage["nuts"].append(nuts)
        print(f"truth {truth:g}: {entry['coverage']:.3f}", flush=True)
    out = {
        "study": "stacked dark-matter annihilation upper limit (validation/dark_matter)",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "gammaprob": gammaprob.__version__,
        "irfs": study.PROD5,
        "livetime_h": float(study.LIVETIME.to_value("h")),
        "mass_TeV": float(study.MASS.to_value("TeV")),
        "channel": study.CHANNEL,
        "sigma_v_prior": f"Uniform(0, {study.SIGMA_V_MAX:g}) cm3 s-1",
        "dwarfs": {k: {"median_J": v[2], "sigma_log10_J": v[3]} for k, v in study.DWARFS.items()},
        "level": study.LEVEL,
        "nuts_vs_quadrature": comparison,
        "coverage": coverage,
        "seconds": round(time.perf_counter() - start, 1),
    }
    with open(HERE / "results.yaml", "w") as fh:
        yaml.safe_dump(out, fh, sort_keys=False)


if __name__ == "__main__":
    main()
