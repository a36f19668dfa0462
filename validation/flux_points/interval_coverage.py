"""Frequentist coverage of gammaprob's flux-point intervals and upper limits.

Simulated on/off flux points with a known norm: reference signal ``mu`` counts at norm 1 spread
over 5 reconstructed bins, background ``beta`` OFF counts per bin at ``alpha = 0.2``. For each
true norm, 1000 data sets; the posterior of the norm (flat prior on norm >= 0, Jeffreys OFF
prior, as ``FluxPointsEstimator``) gives the central 68 % interval and the 95 % upper limit.
Writes ``coverage.json`` and ``coverage.png``. Run: ``python validation/flux_points/interval_coverage.py``.

Expected: close to nominal once the signal is a few sigma; at a true norm of 0 the central
interval never covers (its lower end is above 0 by construction) while the upper limit
over-covers; in between the credible intervals are not exact confidence intervals.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gammaprob.estimators import NormTerms, norm_posterior

HERE = Path(__file__).resolve().parent
MU = np.array([8.0, 5.0, 3.0, 2.0, 1.0])  # reference counts per bin (sum 19)
BETA, ALPHA = 25.0, 0.2
TRUE_NORMS = [0.0, 0.25, 0.5, 1.0, 2.0, 4.0]
N_SIM = 1000


def main() -> None:
    rng = np.random.default_rng(2026)
    out = {}
    for true in TRUE_NORMS:
        inside = below = 0
        for _ in range(N_SIM):
            n = rng.poisson(true * MU + ALPHA * BETA)
            m = rng.poisson(np.full(MU.size, BETA))
            z = np.zeros(MU.size)
            terms = NormTerms(MU, n.astype(float), z, z, m.astype(float), np.full(MU.size, ALPHA))
            lo, hi, ul = norm_posterior(terms, n_grid=200).quantile([0.16, 0.84, 0.95])
            inside += lo <= true <= hi
            below += true <= ul
        out[str(true)] = {"interval_68": inside / N_SIM, "upper_limit_95": below / N_SIM}
        print(true, out[str(true)])
    out["n_sim"] = N_SIM
    out["binomial_sigma_68"] = float(np.sqrt(0.68 * 0.32 / N_SIM))
    (HERE / "coverage.json").write_text(json.dumps(out, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(
        TRUE_NORMS, [out[str(t)]["interval_68"] for t in TRUE_NORMS], "o-", label="68 % interval"
    )
    ax.plot(TRUE_NORMS, [out[str(t)]["upper_limit_95"] for t in TRUE_NORMS], "s-", label="95 % UL")
    for level in (0.68, 0.95):
        ax.axhline(level, color="0.6", ls="--")
    ax.set_xlabel("true norm (signal = norm x 19 counts)")
    ax.set_ylabel("coverage")
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "coverage.png", dpi=120)


if __name__ == "__main__":
    main()
