"""Driver shared by the SBC validation scripts (``calibration/run.py``, ``systematics_coverage/run.py``).

Each script declares its cases (``{name: function building its Case}``) and the cases it does not run, and calls
:func:`main`; this module runs :func:`gammaprob.calibrate.run_sbc` on them with the defaults
users get (nutpie, 4 x (1000 + 1000); ``--chains/--tune/--samples`` shorten it, and the
shortened settings are written with the results), writes each case's summary (replications
actually run, rank-test p-values, coverage of 50/68/90/95 % central intervals with binomial
bands, divergences and R-hat) into the script's ``results.yaml``, and keeps the entries of the
cases not rerun.

``--chunk K`` runs a case in chunks of ``K`` replications (the chunk that follows ``n``
replications with seed ``seed + 10000 (n + 1)``, each a valid SBC run of its own) and saves the replications done so far in
``sbc_records/<case>.npz`` next to ``results.yaml`` after every chunk, with the summary; with
``--resume`` a case continues from its saved replications (stop it at any time, restart later).

It also builds the small map dataset of the 3D cases, :func:`prod5_map_dataset`.
"""

from __future__ import annotations

import argparse
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

#: CTA prod5 South IRFs of the 3D cases (``$GAMMAPY_DATA``)
PROD5 = "$GAMMAPY_DATA/cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
#: map centre of the 3D cases (ICRS, deg); the pointing is 0.5 deg north of it
MAP_CENTRE = (83.63, 22.01)
AMPLITUDE_UNIT = "cm-2 s-1 TeV-1"
CHUNK_SEED_STEP = 10000


@dataclass
class Case:
    """One SBC case: the arguments of :func:`gammaprob.calibrate.run_sbc` for it.

    Attributes
    ----------
    datasets : list
        Templates.
    models : object
        The models fitted (proper priors).
    build_kwargs : dict
        Keywords of :func:`gammaprob.inference.build_model`.
    var_names : list of str or None
        Variables to rank (None: every free parameter).
    extra : callable or None
        ``extra(result, summary, draws)`` adds case-specific numbers to the summary.
    record_build_kwargs : bool
        Write ``build_kwargs`` into the summary (plain values only).
    """

    datasets: list
    models: object
    build_kwargs: dict = field(default_factory=dict)
    var_names: list | None = None
    extra: Callable | None = None
    record_build_kwargs: bool = True


def prod5_map_dataset(truth: list, *, name: str = "map", seed: int = 1):
    """A small CTA map dataset: 40 x 40 px of 0.05 deg, 5 energy bins, 30 min of prod5 South.

    Reconstructed energy 0.5-20 TeV (5 bins), true energy 0.3-50 TeV (10 bins), the map
    centred on :data:`MAP_CENTRE` with the pointing 0.5 deg away; exposure, PSF, energy
    dispersion and the IRF background from :class:`gammaprob.makers.MapDatasetMaker`, counts
    drawn from ``truth`` (the template's counts are replaced by every SBC replication).

    Parameters
    ----------
    truth : list
        Sky models with fixed values to draw the template's counts from.
    name : str
        Dataset name.
    seed : int
        Seed of the template's counts.

    Returns
    -------
    gammaprob.datasets.MapDataset
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from gammaprob.makers import MapTemplate
    from gammaprob.maps import MapAxis, WcsGeom
    from gammaprob.simulate import make_observation, read_irfs, simulate_map_dataset

    centre = SkyCoord(*MAP_CENTRE, unit="deg", frame="icrs")
    energy = MapAxis.from_energy_bounds(0.5 * u.TeV, 20 * u.TeV, 5, name="energy")
    energy_true = MapAxis.from_energy_bounds(0.3 * u.TeV, 50 * u.TeV, 10, name="energy_true")
    geom = WcsGeom.create(skydir=centre, npix=(40, 40), binsz=0.05, frame="icrs", axes=[energy])
    pointing = centre.directional_offset_by(0 * u.deg, 0.5 * u.deg)
    observation = make_observation(read_irfs(PROD5), pointing, 0.5 * u.h)
    template = MapTemplate(geom, energy_true, name=name)
    return simulate_map_dataset(truth, template, observation, random_state=seed, name=name)


def _round(obj):
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, 4)
    return obj


def _save(path: Path, result) -> None:
    arrays = {f"rank/{k}": v for k, v in result.ranks.items()}
    for k, levels in result.inside.items():
        arrays.update({f"inside/{k}/{lv}": v for lv, v in levels.items()})
    arrays.update({f"diag/{k}": v for k, v in result.diagnostics.items()})
    path.parent.mkdir(exist_ok=True)
    np.savez_compressed(path, n_draws=result.n_draws, **arrays)


def _load(path: Path):
    from gammaprob.calibrate import LEVELS, SBCResult

    with np.load(path) as f:
        ranks = {k[5:]: f[k] for k in f.files if k.startswith("rank/")}
        inside = {k: {lv: f[f"inside/{k}/{lv}"] for lv in LEVELS} for k in ranks}
        diagnostics = {k[5:]: f[k] for k in f.files if k.startswith("diag/")}
        return SBCResult(ranks, inside, int(f["n_draws"]), diagnostics)


def summarise(result, case: Case, draws: int, sample_kwargs: dict) -> dict:
    """The case's summary: ``result.summary()``, divergences and R-hat per replication."""
    summary = result.summary()
    d = result.diagnostics
    summary["diagnostics"]["replications_with_divergences"] = int(np.sum(d["n_divergent"] > 0))
    summary["diagnostics"]["replications_rhat_above_1.01"] = int(np.sum(d["rhat_max"] > 1.01))
    if case.record_build_kwargs:
        summary["build_kwargs"] = dict(case.build_kwargs)
    if sample_kwargs:
        summary["sample_kwargs"] = dict(sample_kwargs)
    if case.extra is not None:
        case.extra(result, summary, draws)
    return summary


def plot(result, name: str, folder: Path) -> None:
    """Write the rank histograms and ECDF plots ``<name>_ranks.png``, ``<name>_ecdf.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for kind in ("ranks", "ecdf"):
        axes = getattr(result, f"plot_{kind}")()
        axes[0].figure.tight_layout()
        axes[0].figure.savefig(folder / f"{name}_{kind}.png", dpi=90)
        plt.close(axes[0].figure)


def run_case(name: str, case: Case, args, on_progress: Callable, plots: bool = False) -> dict:
    """Run one case (in chunks when ``args.chunk``); call ``on_progress(summary)`` per chunk."""
    from gammaprob.calibrate import SBCResult, run_sbc

    records = args.output.parent / "sbc_records" / f"{name}.npz"
    done = [_load(records)] if args.resume and records.exists() else []
    chunk = args.chunk or args.replications
    sample_kwargs = {
        k: v
        for k, v in (("chains", args.chains), ("tune", args.tune), ("draws", args.samples))
        if v is not None
    }
    start, summary = time.perf_counter(), {}
    while (n_done := sum(r.n_replications for r in done)) < args.replications:
        n = min(chunk, args.replications - n_done)
        seed = args.seed + (CHUNK_SEED_STEP * (n_done + 1) if args.chunk else 0)
        done.append(
            run_sbc(
                case.datasets,
                case.models,
                n_replications=n,
                n_draws=args.draws,
                var_names=case.var_names,
                build_kwargs=case.build_kwargs,
                sample_kwargs=sample_kwargs or None,
                random_seed=seed,
                n_workers=args.workers,
            )
        )
        result = SBCResult.concatenate(done)
        if args.chunk:
            _save(records, result)
        summary = summarise(result, case, args.draws, sample_kwargs)
        summary["wall_time_s"] = round(time.perf_counter() - start, 1)
        if args.chunk:
            summary["chunk"] = args.chunk
        if plots:
            plot(result, name, args.output.parent)
        on_progress(_round(summary))
    return summary


def table(results: dict) -> str:
    """Markdown table of the recorded cases: replications, worst rank test, coverage, diagnostics."""
    rows = [
        "| case | replications | smallest ECDF p (corrected) | coverage 50/68/90/95 % outside "
        "the binomial band | divergences, max R-hat |",
        "|---|---|---|---|---|",
    ]
    for name, s in results["cases"].items():
        worst = min(s["rank_tests"], key=lambda v: s["rank_tests"][v]["ecdf"])
        test = s["rank_tests"][worst]
        outside = [
            f"{var} {level}: {c['empirical']} ({c['lower']}-{c['upper']})"
            for var, levels in s["coverage"].items()
            for level, c in levels.items()
            if not c["within"]
        ]
        diag = s["diagnostics"]
        rows.append(
            f"| `{name}` | {s['n_replications']} | {test['ecdf']} ({test['ecdf_corrected']}), "
            f"`{worst}` | {'; '.join(outside) or 'none'} | {diag['divergences']} in "
            f"{diag.get('replications_with_divergences', '?')} replications, "
            f"{diag['rhat_max']} ({diag.get('replications_rhat_above_1.01', '?')} above 1.01) |"
        )
    return "\n".join(rows)


def main(
    description: str,
    cases: Callable[[], dict],
    not_run: dict,
    here: Path,
    *,
    default_replications: int,
    default_workers: int = 1,
    plots: bool = False,
) -> None:
    """Command line of a validation script: run the chosen cases, update its results.yaml.

    Parameters
    ----------
    description : str
        First line of the script's docstring.
    cases : callable
        Returns ``{name: function returning its Case}`` (only the chosen cases are built).
    not_run : dict
        ``{name: reason}`` written as ``not_run``.
    here : pathlib.Path
        The script's folder (default output ``here / "results.yaml"``).
    default_replications, default_workers : int
        Defaults of ``--replications`` and ``--workers``.
    plots : bool
        Write each case's rank and ECDF plots next to the results (:func:`plot`).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--replications", type=int, default=default_replications)
    parser.add_argument("--draws", type=int, default=100, help="thinned draws L per replication")
    parser.add_argument("--cases", nargs="*", default=None, help="default: every case")
    parser.add_argument("--workers", type=int, default=default_workers)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chains", type=int, default=None, help="default: sample's (4)")
    parser.add_argument("--tune", type=int, default=None, help="default: sample's (1000)")
    parser.add_argument("--samples", type=int, default=None, help="default: sample's (1000)")
    parser.add_argument("--chunk", type=int, default=None, help="replications per saved chunk")
    parser.add_argument("--resume", action="store_true", help="continue from sbc_records/")
    parser.add_argument("--output", type=Path, default=here / "results.yaml")
    parser.add_argument("--table", action="store_true", help="print the recorded results")
    args = parser.parse_args()
    results = yaml.safe_load(args.output.read_text()) if args.output.exists() else {}
    if args.table:
        print(table(results))
        return
    all_cases = cases()
    unknown = sorted(set(args.cases or []) - set(all_cases))
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; choose among {sorted(all_cases)}")
    results.setdefault("cases", {})
    results["not_run"] = {k: v for k, v in not_run.items() if k not in results["cases"]}
    for name in args.cases or list(all_cases):
        print(f"{name}: {args.replications} replications", flush=True)

        def progress(summary, name=name):
            summary["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            results["cases"][name] = summary
            results["not_run"].pop(name, None)
            args.output.write_text(yaml.safe_dump(results, sort_keys=False))
            worst = min(r["ecdf_corrected"] for r in summary["rank_tests"].values())
            print(
                f"  {summary['n_replications']} done: smallest corrected ECDF p-value {worst}, "
                f"{summary['wall_time_s']} s",
                flush=True,
            )

        run_case(name, all_cases[name](), args, progress, plots=plots)
