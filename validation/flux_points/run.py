"""Flux points of gammaprob against gammapy's FluxPointsEstimator on the same data.

Cases: the four H.E.S.S. Crab runs of the joint-Crab release (power law, 0.7-30 TeV) and all
five joint-Crab instruments together (log-parabola, 0.03-30 TeV, published fit ranges). For a
like-for-like comparison of the flux-point step, both estimators use the spectral shape of
gammapy's maximum-likelihood fit and the same requested bin edges (both snap them to the
nearest reconstructed-energy edge of each dataset). gammaprob runs in
conditional mode with a flat prior on norm >= 0, once with the OFF background profiled (WStat,
gammapy's likelihood) and marginalised with a Jeffreys (the default) and a flat prior on the
OFF expectation of each bin.

Writes ``results.ecsv`` (one row per case, bin and background treatment), ``summary.json`` and
``flux_points.png``. Run: ``python validation/flux_points/run.py`` (needs gammapy and
``$GAMMAPY_DATA``).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table, vstack

HERE = Path(__file__).resolve().parent
SPECTRA = Path(os.environ.get("GAMMAPY_DATA", "")) / "joint-crab" / "spectra"
RANGES = {
    "fermi": (0.03, 2.0),
    "magic": (0.08, 30.0),
    "veritas": (0.15, 30.0),
    "fact": (0.4, 30.0),
    "hess": (0.66, 30.0),
}
CASES = {
    "hess": {"instruments": ["hess"], "model": "pl", "edges": np.geomspace(0.7, 30, 9)},
    "joint": {"instruments": list(RANGES), "model": "lp", "edges": np.geomspace(0.03, 30, 13)},
}
#: bins where the data constrain the norm: the 68 % interval is narrower than the norm
CONSTRAINED_TS = 25.0


def gammapy_datasets(instruments):
    from gammapy.datasets import Datasets, SpectrumDatasetOnOff

    out = Datasets()
    for inst in instruments:
        lo, hi = RANGES[inst] if len(instruments) > 1 else (None, None)
        for path in sorted((SPECTRA / inst).glob("pha_*.fits")):
            ds = SpectrumDatasetOnOff.read(path)
            if lo is not None:
                ds.mask_fit = ds.counts.geom.energy_mask(lo * u.TeV, hi * u.TeV)
            out.append(ds.copy(name=f"{inst}-{path.stem.removeprefix('pha_')}"))
    return out


def our_datasets(instruments):
    from gammaprob.datasets import SpectrumDatasetOnOff

    out = []
    for inst in instruments:
        lo, hi = RANGES[inst] if len(instruments) > 1 else (None, None)
        for path in sorted((SPECTRA / inst).glob("pha_*.fits")):
            ds = SpectrumDatasetOnOff.read(path, name=f"{inst}-{path.stem.removeprefix('pha_')}")
            if lo is not None:
                e = ds.energy_axis.edges.to_value(u.TeV)
                ds = ds.replace(mask_fit=(e[:-1] >= lo * (1 - 1e-6)) & (e[1:] <= hi * (1 + 1e-6)))
            out.append(ds)
    return out


def run_gammapy(case):
    from gammapy.estimators import FluxPointsEstimator
    from gammapy.modeling import Fit
    from gammapy.modeling.models import (
        LogParabolaSpectralModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    datasets = gammapy_datasets(case["instruments"])
    if case["model"] == "pl":
        spectral = PowerLawSpectralModel(index=2.5, amplitude="3e-11 cm-2 s-1 TeV-1")
    else:
        spectral = LogParabolaSpectralModel(
            amplitude="3e-11 cm-2 s-1 TeV-1", reference="1 TeV", alpha=2.5, beta=0.1
        )
    datasets.models = [SkyModel(spectral_model=spectral, name="crab")]
    Fit().run(datasets)
    params = {p.name: p.value for p in spectral.parameters}
    start = time.perf_counter()
    edges = case["edges"] * u.TeV
    fpe = FluxPointsEstimator(
        energy_edges=edges, source="crab", selection_optional=["errn-errp", "ul"]
    )
    # bin by bin: gammapy's FluxPoints container cannot hold datasets with different energy
    # axes (joint case), the per-bin results are what we compare
    rows = [fpe.estimate_flux_point(datasets, lo, hi) for lo, hi in itertools.pairwise(edges)]
    table = Table()
    for key in ("norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts"):
        table[key] = [float(np.ravel(r[key])[0]) for r in rows]
    elapsed = time.perf_counter() - start
    return params, table, elapsed


def run_gammaprob(case, params, edges, background):
    from gammaprob.estimators import FluxPointsEstimator
    from gammaprob.modeling import SkyModel
    from gammaprob.modeling.spectral import LogParabola, PowerLaw

    if case["model"] == "pl":
        spectral = PowerLaw(
            index=params["index"],
            amplitude=params["amplitude"] * u.Unit("cm-2 s-1 TeV-1"),
            reference=params["reference"] * u.TeV,
        )
    else:
        spectral = LogParabola(
            amplitude=params["amplitude"] * u.Unit("cm-2 s-1 TeV-1"),
            reference=params["reference"] * u.TeV,
            alpha=params["alpha"],
            beta=params["beta"],
        )
    source = SkyModel(spectral, name="crab")
    datasets = our_datasets(case["instruments"])
    start = time.perf_counter()
    fp = FluxPointsEstimator(source, edges * u.TeV, background=background).run(datasets)
    return fp, time.perf_counter() - start


def compare(name, gp, ours, background):
    t = ours.table
    sigma = np.where(t["norm"] >= gp["norm"], gp["norm_errp"], gp["norm_errn"])
    out = Table()
    out["case"] = [name] * len(t)
    out["background"] = [background] * len(t)
    out["e_min"] = t["e_min"]
    out["e_max"] = t["e_max"]
    out["counts"] = t["counts"]
    out["gp_norm"] = gp["norm"]
    out["gp_errn"] = gp["norm_errn"]
    out["gp_errp"] = gp["norm_errp"]
    out["gp_ul"] = gp["norm_ul"]
    out["gp_ts"] = gp["ts"]
    out["gp_norm_best_ours"] = t["norm_best"]
    out["norm"] = t["norm"]
    out["norm_errn"] = t["norm_errn"]
    out["norm_errp"] = t["norm_errp"]
    out["norm_ul"] = t["norm_ul"]
    out["ts"] = t["ts"]
    out["is_ul"] = t["is_ul"]
    out["delta_sigma"] = (t["norm"] - gp["norm"]) / sigma
    out["errn_ratio"] = t["norm_errn"] / gp["norm_errn"]
    out["errp_ratio"] = t["norm_errp"] / gp["norm_errp"]
    out["ul_ratio"] = t["norm_ul"] / gp["norm_ul"]
    out["constrained"] = np.asarray(gp["ts"]) >= CONSTRAINED_TS
    return out


def plot(results, fps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(CASES), figsize=(6 * len(CASES), 8), sharex="col")
    for j, name in enumerate(CASES):
        sel = results[(results["case"] == name) & (results["background"] == "jeffreys")]
        e = np.sqrt(sel["e_min"] * sel["e_max"])
        ax = axes[0, j]
        ax.errorbar(
            e * 0.97,
            sel["gp_norm"],
            yerr=[sel["gp_errn"], sel["gp_errp"]],
            fmt="s",
            label="gammapy (MLE, profile errors)",
        )
        ax.errorbar(
            e * 1.03,
            sel["norm"],
            yerr=[sel["norm_errn"], sel["norm_errp"]],
            fmt="o",
            label="gammaprob (median, 68 % credible, Jeffreys OFF prior)",
        )
        ax.plot(e * 1.03, sel["norm_ul"], "v", color="C1", label="gammaprob 95 % UL")
        ax.plot(e * 0.97, sel["gp_ul"], "v", color="C0", mfc="none", label="gammapy 2 sigma UL")
        ax.set_xscale("log")
        ax.set_ylabel("norm")
        ax.set_title(name)
        ax.legend(fontsize="small")
        ax = axes[1, j]
        for bkg, marker in (("marginal", "o"), ("jeffreys", "+"), ("profile", "x")):
            sel = results[(results["case"] == name) & (results["background"] == bkg)]
            ax.plot(
                np.sqrt(sel["e_min"] * sel["e_max"]),
                sel["delta_sigma"],
                marker,
                label=f"background {bkg}",
            )
        ax.axhspan(-0.3, 0.3, color="0.9")
        ax.set_xscale("log")
        ax.set_xlabel("Energy [TeV]")
        ax.set_ylabel("(median - gammapy norm) / gammapy error")
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(HERE / "flux_points.png", dpi=120)


def main() -> None:
    import gammapy

    import gammaprob

    rows, summary, fps = [], {}, {}
    for name, case in CASES.items():
        params, gp, t_gp = run_gammapy(case)
        edges = case["edges"]
        for background in ("marginal", "jeffreys", "profile"):
            fp, t_ours = run_gammaprob(case, params, edges, background)
            table = compare(name, gp, fp, background)
            rows.append(table)
            fps[name, background] = fp
            c = table["constrained"]
            summary[f"{name}/{background}"] = {
                "n_bins": len(table),
                "n_constrained": int(c.sum()),
                "max_abs_delta_sigma_constrained": float(np.max(np.abs(table["delta_sigma"][c]))),
                "errn_ratio_range": [
                    float(table["errn_ratio"][c].min()),
                    float(table["errn_ratio"][c].max()),
                ],
                "errp_ratio_range": [
                    float(table["errp_ratio"][c].min()),
                    float(table["errp_ratio"][c].max()),
                ],
                "max_rel_diff_ts_profile_constrained": float(
                    np.max(np.abs(table["ts"][c] / table["gp_ts"][c] - 1))
                )
                if background == "profile"
                else None,
                "time_gammaprob_s": t_ours,
                "time_gammapy_s": t_gp,
            }
            print(name, background, json.dumps(summary[f"{name}/{background}"]))
    results = vstack(rows)
    results.write(HERE / "results.ecsv", overwrite=True)
    summary["versions"] = {"gammaprob": gammaprob.__version__, "gammapy": gammapy.__version__}
    (HERE / "summary.json").write_text(json.dumps(summary, indent=2))
    plot(results, fps)


if __name__ == "__main__":
    main()
