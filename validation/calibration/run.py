"""Simulation-based calibration of gammaprob's default analyses (issue 14, "Calibration").

Each case is a model a user builds with gammaprob's defaults; :func:`gammaprob.calibrate.run_sbc`
draws truth and data from the model's prior predictive, samples with the default sampler
(nutpie, 4 x (1000 + 1000)), thins to ``L = --draws`` draws and ranks the truth. Results
(replications actually run, rank-test p-values, coverage of 50/68/90/95 % central intervals
with binomial bands, convergence) go to ``results.yaml``; plots to ``<case>_ranks.png`` and
``<case>_ecdf.png``.

Cases (1D, built-in parametric IRFs, ``gammaprob.simulate.parametric_spectrum_dataset``):

* ``cash_1d``: known background, Cash (Poisson) likelihood; power law, index Normal(2.5, 0.3),
  amplitude LogUniform(1e-12, 1e-11) cm-2 s-1 TeV-1.
* ``onoff_marginal_1d``, ``onoff_latent_1d``: the same source on on/off data (alpha = 0.2),
  ``onoff="marginal"`` (default) and ``"latent"`` (OFF rates sampled; their Gamma(1/4, 1e-4)
  prior is the simulator of the OFF counts).
* ``flux_point_bin_1d``: the model a flux-point estimate samples in one energy bin
  (1-3 TeV, spectral shape fixed at index 2.5, amplitude free, on/off marginal).
* ``upper_limit_1d``: a faint source (amplitude LogUniform(1e-14, 1e-12)), on/off marginal;
  besides the ranks, the one-sided 95 % upper-limit coverage (truth <= the 95 % quantile).
* ``lightcurve_bin_1d``: one light-curve bin: 10 min livetime, index fixed, amplitude free,
  on/off marginal.

Not run (recorded in ``results.yaml`` with the reason): ``onoff="wstat"`` (a ``pm.Potential``:
the OFF rates are profiled, not given a prior, so there is no joint distribution to simulate
from and :func:`~gammaprob.calibrate.run_sbc` refuses it) and the 3D cases (point source with a
free position, Gaussian source): ``run_sbc`` does not yet put simulated counts into map
datasets (the map likelihood compresses the bins outside the cutouts).

Run: ``python validation/calibration/run.py [--replications 500] [--cases cash_1d ...]
[--workers 4]``.
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import yaml

HERE = Path(__file__).parent
AMPLITUDE_UNIT = "cm-2 s-1 TeV-1"

NOT_RUN = {
    "onoff_wstat_1d": (
        "excluded: onoff='wstat' is a pm.Potential (profiled OFF rates, no prior on them), not "
        "a generative model; SBC needs a joint distribution of parameters and data, and "
        "run_sbc refuses potentials"
    ),
    "point_source_3d": "not run: run_sbc does not yet simulate into map datasets",
    "gaussian_source_3d": "not run: run_sbc does not yet simulate into map datasets",
}


def _source(amplitude=(1e-12, 1e-11), index=None):
    from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral

    spectrum = spectral.PowerLaw(
        index=Normal(2.5, 0.3) if index is None else index,
        amplitude=LogUniform(*amplitude, unit=AMPLITUDE_UNIT),
    )
    return SkyModel(spectrum, name="src")


def _dataset(alpha=None, **template):
    from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset

    template = parametric_spectrum_dataset(
        name="sim", **{"n_bins": 8, "n_bins_true": 16, **template}
    )
    return simulate_spectrum_dataset(_source(), template, rng=1, alpha=alpha)


def cases() -> dict:
    """Case name -> (datasets, models, build_model keywords)."""
    return {
        "cash_1d": (_dataset(), _source(), {}),
        "onoff_marginal_1d": (_dataset(alpha=0.2), _source(), {"onoff": "marginal"}),
        "onoff_latent_1d": (_dataset(alpha=0.2), _source(), {"onoff": "latent"}),
        "flux_point_bin_1d": (
            _dataset(alpha=0.2, energy_bounds=[1, 3] * u.TeV, n_bins=2),
            _source(index=2.5),
            {},
        ),
        "upper_limit_1d": (_dataset(alpha=0.2), _source(amplitude=(1e-14, 1e-12)), {}),
        "lightcurve_bin_1d": (
            _dataset(alpha=0.2, livetime=10 * u.min),
            _source(index=2.5),
            {},
        ),
    }


def _round(obj):
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, float):
        return round(obj, 4)
    return obj


def run_case(name: str, replications: int, draws: int, workers: int, seed: int) -> dict:
    """Run one case; write its plots; return its summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gammaprob.calibrate import run_sbc

    datasets, models, build_kwargs = cases()[name]
    start = time.perf_counter()
    result = run_sbc(
        datasets,
        models,
        n_replications=replications,
        n_draws=draws,
        build_kwargs=build_kwargs,
        random_seed=seed,
        n_workers=workers,
    )
    summary = result.summary()
    summary["wall_time_s"] = round(time.perf_counter() - start, 1)
    summary["build_kwargs"] = dict(build_kwargs)
    if name == "upper_limit_1d":
        # truth at or below the 95 % quantile of the L thinned draws: rank <= floor(0.95 L),
        # which a calibrated posterior gives with probability (floor(0.95 L) + 1) / (L + 1)
        from gammaprob.calibrate import coverage

        limit = int(np.floor(0.95 * draws))
        inside = result.ranks["src::amplitude"] <= limit
        summary["upper_limit_95_coverage"] = coverage(inside, (limit + 1) / (draws + 1))
    for kind in ("ranks", "ecdf"):
        axes = getattr(result, f"plot_{kind}")()
        axes[0].figure.tight_layout()
        axes[0].figure.savefig(HERE / f"{name}_{kind}.png", dpi=90)
        plt.close(axes[0].figure)
    return _round(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=500)
    parser.add_argument("--draws", type=int, default=100, help="thinned draws L per replication")
    parser.add_argument("--cases", nargs="*", default=list(cases()))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = HERE / "results.yaml"
    results = yaml.safe_load(path.read_text()) if path.exists() else {}
    results.setdefault("cases", {})
    results["not_run"] = NOT_RUN
    for name in args.cases:
        print(f"{name}: {args.replications} replications", flush=True)
        summary = run_case(name, args.replications, args.draws, args.workers, args.seed)
        summary["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        results["cases"][name] = summary
        worst = min(r["ecdf_corrected"] for r in summary["rank_tests"].values())
        print(f"  smallest corrected ECDF p-value {worst}, {summary['wall_time_s']} s", flush=True)
        path.write_text(yaml.safe_dump(results, sort_keys=False))


if __name__ == "__main__":
    main()
