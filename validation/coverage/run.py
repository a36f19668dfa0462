"""Coverage of credible intervals over simulated datasets (simulation-based calibration).

For each of ``--n`` datasets the true power-law parameters are drawn from the prior, counts
are simulated from the built-in parametric IRFs (known background, Cash likelihood), and the
posterior is sampled with PyMC's NUTS. When the truth is drawn from the prior, a correct
inference puts it inside the central credible interval at level ``p`` with probability
exactly ``p``; the observed fraction is binomial with standard error ``sqrt(p (1 - p) / n)``.

Speed: the model is built once by :func:`gammaprob.inference.build_model` and its NUTS step
compiled once; the observed counts are then a shared variable whose value is swapped for
each simulated dataset (``model.rvs_to_values`` of the observed term), so no dataset pays for
a compilation. The priors are the same for every dataset, as calibration requires.

Run: ``python validation/coverage/run.py [--n 200]``. Writes ``results.yaml`` and
``coverage.png`` next to this file.
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).parent
LEVELS = (0.68, 0.95)
CURVE = np.linspace(0.05, 0.95, 19)
PARAMS = ("index", "amplitude")
INDEX_PRIOR = (2.5, 0.3)  # Normal(mu, sigma)
AMPLITUDE_PRIOR = (1e-12, 1e-11)  # LogUniform, cm-2 s-1 TeV-1 at 1 TeV


def _priors():
    from gammaprob.modeling import LogUniform, Normal

    return {
        "index": Normal(*INDEX_PRIOR),
        "amplitude": LogUniform(*AMPLITUDE_PRIOR, unit="cm-2 s-1 TeV-1"),
    }


def _ranks(draws: np.ndarray, truth: float) -> tuple[float, dict]:
    """Fraction of draws below the truth, and whether the truth is inside each interval."""
    frac = float(np.mean(draws < truth))
    inside = {}
    for level in (*LEVELS, *CURVE):
        lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
        inside[round(float(level), 4)] = bool(lo <= truth <= hi)
    return frac, inside


def run(n: int, draws: int, tune: int, chains: int, seed: int) -> dict:
    """Run the study; return the per-dataset records and convergence numbers."""
    import pymc as pm
    import pytensor

    from gammaprob.inference import build_model, check_convergence
    from gammaprob.modeling import SkyModel, spectral
    from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset

    rng = np.random.default_rng(seed)
    template = parametric_spectrum_dataset(name="sim", n_bins=8, n_bins_true=16)
    priors = _priors()
    spectrum = spectral.PowerLaw(index=priors["index"], amplitude=priors["amplitude"])
    source = SkyModel(spectrum, name="src")
    model = build_model(simulate_spectrum_dataset(source, template, rng=rng), source)
    counts = pytensor.shared(
        np.zeros(template.energy_axis.nbin, dtype="int64"),
        shape=(template.energy_axis.nbin,),
        name="sim::counts_data",
    )
    model.rvs_to_values[model["sim::counts"]] = counts
    step = pm.NUTS(model=model, target_accept=0.9)
    records, diagnostics = [], []
    t0 = time.perf_counter()
    for i in range(n):
        truth = {k: float(p.sample(rng, 1)[0]) for k, p in priors.items()}
        for key, value in truth.items():
            spectrum.parameters[key].value = value
        dataset = simulate_spectrum_dataset(source, template, rng=rng)
        counts.set_value(np.asarray(dataset.counts, dtype="int64"))
        result = pm.sample(
            model=model,
            step=step,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=1,
            random_seed=seed + i,
            progressbar=False,
            compute_convergence_checks=False,
        )
        report = check_convergence(result, warn=False, ess_min=100)
        diagnostics.append(
            {
                "rhat_max": report.rhat_max,
                "ess_bulk_min": report.ess_bulk_min,
                "divergences": report.n_divergent,
            }
        )
        for key in PARAMS:
            samples = np.asarray(result["posterior"][f"src::{key}"].values).ravel()
            frac, inside = _ranks(samples, truth[key])
            records.append({"dataset": i, "param": key, "rank": frac, "inside": inside})
        if (i + 1) % 20 == 0:
            print(f"{i + 1}/{n} datasets, {time.perf_counter() - t0:.0f} s", flush=True)
    return {"records": records, "diagnostics": diagnostics}


def _ks(records: list) -> dict:
    """Kolmogorov-Smirnov p-value of the ranks against a uniform distribution, per parameter."""
    from scipy.stats import kstest

    return {
        key: round(
            float(kstest([r["rank"] for r in records if r["param"] == key], "uniform").pvalue), 4
        )
        for key in PARAMS
    }


def summarise(records: list, n: int) -> dict:
    """Observed coverage per parameter and level, with the binomial standard error."""
    out = {}
    for key in PARAMS:
        rows = [r for r in records if r["param"] == key]
        entry = {}
        for level in LEVELS:
            hits = sum(r["inside"][level] for r in rows)
            sigma = float(np.sqrt(level * (1 - level) / len(rows)))
            observed = hits / len(rows)
            entry[f"{level:.2f}"] = {
                "nominal": level,
                "observed": round(observed, 4),
                "binomial_sigma": round(sigma, 4),
                "z": round((observed - level) / sigma, 2),
                "within_2_sigma": bool(abs(observed - level) <= 2 * sigma),
            }
        out[key] = entry
    return out


def plot(records: list, path: Path) -> None:
    """Coverage curve (observed vs nominal) and rank histograms of the NUTS run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    ax = axes[0]
    n = len([r for r in records if r["param"] == PARAMS[0]])
    band = 2 * np.sqrt(CURVE * (1 - CURVE) / n)
    ax.fill_between(
        CURVE, CURVE - band, CURVE + band, color="0.85", label="nominal ± 2σ (binomial)"
    )
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    for key in PARAMS:
        rows = [r for r in records if r["param"] == key]
        observed = [np.mean([r["inside"][round(float(c), 4)] for r in rows]) for c in CURVE]
        ax.plot(CURVE, observed, "-o", ms=3, label=key)
    ax.set_xlabel("credible level (central interval)")
    ax.set_ylabel("fraction of datasets with the truth inside")
    ax.set_title(f"Coverage over {n} simulated datasets")
    ax.legend(fontsize=8)
    for ax, key in zip(axes[1:], PARAMS, strict=True):
        ranks = [r["rank"] for r in records if r["param"] == key]
        expected = n / 10
        ax.axhspan(
            expected - 2 * np.sqrt(expected),
            expected + 2 * np.sqrt(expected),
            color="0.85",
            zorder=0,
            label="uniform ± 2σ",
        )
        ax.hist(ranks, bins=10, range=(0, 1), color="C0", edgecolor="k", alpha=0.8, zorder=2)
        ax.legend(fontsize=8)
        ax.set_xlabel(f"posterior CDF at the true {key} (NUTS)")
        ax.set_title("rank histogram (uniform if calibrated)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of simulated datasets")
    parser.add_argument("--draws", type=int, default=600)
    parser.add_argument("--tune", type=int, default=600)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--output", type=Path, default=HERE)
    args = parser.parse_args()
    import gammaprob

    start = time.perf_counter()
    out = run(args.n, args.draws, args.tune, args.chains, args.seed)
    wall = time.perf_counter() - start
    summary = summarise(out["records"], args.n)
    diagnostics = out["diagnostics"]
    results = {
        "description": (
            "Coverage of central (equal-tailed) credible intervals: truths drawn from the prior "
            "(index Normal(2.5, 0.3), amplitude LogUniform(1e-12, 1e-11) cm-2 s-1 TeV-1 at "
            "1 TeV), 8-bin spectra from parametric IRFs (1 h, known background, Cash), "
            "PyMC NUTS; the truth is inside a central interval at level p with probability p."
        ),
        "n_datasets": args.n,
        "sampler": {
            "name": "pymc",
            "draws": args.draws,
            "tune": args.tune,
            "chains": args.chains,
            "seed": args.seed,
        },
        "coverage": summary,
        "rank_uniformity_ks_pvalue": _ks(out["records"]),
        "convergence": {
            "rhat_max": round(max(d["rhat_max"] for d in diagnostics), 4),
            "ess_bulk_min": round(min(d["ess_bulk_min"] for d in diagnostics), 1),
            "divergences": int(sum(d["divergences"] for d in diagnostics)),
            "datasets_rhat_above_1.01": int(sum(d["rhat_max"] > 1.01 for d in diagnostics)),
            "datasets_rhat_above_1.05": int(sum(d["rhat_max"] > 1.05 for d in diagnostics)),
            "datasets_with_divergences": int(sum(d["divergences"] > 0 for d in diagnostics)),
            "note": "rhat_max, ess_bulk_min, divergences: worst or total over all datasets",
        },
        "wall_time_s": round(wall, 1),
        "gammaprob_version": gammaprob.__version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "results.yaml").write_text(yaml.safe_dump(results, sort_keys=False))
    plot(out["records"], args.output / "coverage.png")
    print(yaml.safe_dump(results["coverage"], sort_keys=False))
    print(f"wrote {args.output / 'results.yaml'} and {args.output / 'coverage.png'} ({wall:.0f} s)")


if __name__ == "__main__":
    main()
