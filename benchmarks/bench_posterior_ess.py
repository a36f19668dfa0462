"""Posterior sampling of the joint Crab: effective samples per second, gammaprob vs gammapy's sampler.

Both codes sample the same posterior shape: the ten joint-Crab OGIP spectra (published fit
ranges), a log-parabola at 1 TeV with the priors of
:func:`gammaprob.analysis.joint_crab.crab_spectrum` (amplitude LogUniform(1e-13, 1e-9)
cm-2 s-1 TeV-1, alpha Normal(2.5, 1), log10 curvature Normal(0, 1)).

- **gammaprob**: the default path, ``build_model`` + ``sample`` with no options (nutpie NUTS,
  OFF rates integrated out, 4 chains x (1000 + 1000)). ESS: the smallest bulk ESS of the
  three parameters (ArviZ, rank-normalised).
- **gammapy 2.1**: ``gammapy.modeling.Sampler`` with its defaults, the only sampler gammapy
  offers (UltraNest nested sampling, 400 live points; gammapy 2.1 has no emcee or other
  MCMC sampler, so there is no such row). Its likelihood is WStat (OFF rates profiled) and
  its curvature is the natural-log one, so its prior is Normal(0, 1 / ln 10) (the same prior
  on the same curve). ESS: Kish's effective size of the weighted posterior samples,
  ``(sum w)^2 / sum w^2`` (one number for all parameters).

Each row's time is the sampler call in a warm process (read and model built before;
gammaprob's compiled code loaded from its cache, which an unmeasured process filled), so
``ess_per_s`` compares what the samplers deliver per second of the call. Every number is the
median of ``--repeat`` (default 3) runs per code, the two codes alternating, after one
unmeasured run of each. ``ratio`` is gammaprob / gammapy for ESS/s (> 1: gammaprob gives more
effective samples per second) and gammapy / gammaprob for times.

Needs ``ultranest`` (``pip install ultranest``; not a dependency of gammaprob or of its
validation extra).

Run: ``GAMMAPY_DATA=... python benchmarks/bench_posterior_ess.py [--repeat 3]`` ->
``benchmarks/results/posterior_ess.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

PARAMS = ("crab::amplitude", "crab::alpha", "crab::beta")


def worker_gammaprob() -> dict:
    """Read, build, then time ``sample`` with the defaults; return ESS and times."""
    import numpy as np
    from arviz_stats import ess

    from gammaprob.analysis.joint_crab import joint_crab_models, load_joint_crab_datasets
    from gammaprob.inference import build_model, check_convergence, sample

    model = build_model(load_joint_crab_datasets(), joint_crab_models(False))
    start = time.perf_counter()
    result = sample(model, random_seed=0, progressbar=False)
    call = time.perf_counter() - start
    values = ess(result.posterior.to_dataset()[list(PARAMS)], method="bulk")
    conv = check_convergence(result, warn=False)
    return {
        "sample_call_s": call,
        "sampling_s": float(result.posterior.attrs["sampling_time"]),
        "ess": min(float(np.asarray(values[p])) for p in PARAMS),
        "r_hat_max": float(conv.rhat_max),
        "converged": bool(conv.ok),
        "alpha_median": float(np.median(np.asarray(result.posterior["crab::alpha"]))),
    }


def worker_gammapy() -> dict:
    """Read, set the priors, then time gammapy's ``Sampler().run``; return ESS and times."""
    import numpy as np
    from bench_sampling import gammapy_joint_crab_datasets  # the same reading
    from gammapy.modeling import Sampler
    from gammapy.modeling.models import (
        GaussianPrior,
        LogParabolaSpectralModel,
        LogUniformPrior,
        SkyModel,
    )

    datasets = gammapy_joint_crab_datasets()
    spectral = LogParabolaSpectralModel(
        amplitude="3e-11 cm-2 s-1 TeV-1", reference="1 TeV", alpha=2.5, beta=0.1
    )
    spectral.amplitude.prior = LogUniformPrior(min=1e-13, max=1e-9)
    spectral.alpha.prior = GaussianPrior(mu=2.5, sigma=1.0)
    spectral.beta.prior = GaussianPrior(mu=0.0, sigma=1.0 / math.log(10.0))
    datasets.models = [SkyModel(spectral_model=spectral, name="crab")]
    sampler = Sampler(backend="ultranest", run_opts={"show_status": False, "viz_callback": False})
    start = time.perf_counter()
    result = sampler.run(datasets)
    call = time.perf_counter() - start
    weights = np.asarray(result.sampler_results["weighted_samples"]["weights"])
    samples = np.asarray(result.samples)
    return {
        "sample_call_s": call,
        "ess": float(weights.sum() ** 2 / np.sum(weights**2)),
        "n_likelihood_calls": int(result.nfev),
        "converged": bool(result.success),
        "alpha_median": float(np.median(samples[:, 1])),
        "beta_log10_median": float(np.median(samples[:, 2]) * math.log(10.0)),
    }


def _spawn(kind: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", kind],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(repeat: int) -> None:
    """Run ``repeat`` measured processes per code (alternating) and write the results."""
    import importlib.util

    from _common import median_of, write_results

    if not os.environ.get("GAMMAPY_DATA"):
        raise SystemExit("set GAMMAPY_DATA to run this benchmark")
    if importlib.util.find_spec("ultranest") is None:
        raise SystemExit("gammapy's sampler needs ultranest: pip install ultranest")
    runs: dict[str, list[dict]] = {"gammaprob": [], "gammapy": []}
    for kind in runs:  # unmeasured: fills gammaprob's compile cache, warms the file cache
        _spawn(kind)
    for i in range(repeat):
        for kind in runs:
            run = _spawn(kind)
            run["ess_per_s"] = run["ess"] / run["sample_call_s"]
            runs[kind].append(run)
            print(
                f"{kind} {i + 1}/{repeat}: call {run['sample_call_s']:.1f} s, "
                f"ESS {run['ess']:.0f}, ESS/s {run['ess_per_s']:.0f}",
                flush=True,
            )
    ours, theirs = runs["gammaprob"], runs["gammapy"]
    metrics = {
        "ess_per_s": {
            "gammaprob": median_of(ours, "ess_per_s"),
            "gammapy": median_of(theirs, "ess_per_s"),
            "ratio": median_of(ours, "ess_per_s") / median_of(theirs, "ess_per_s"),
            "unit": "1/s",
        },
        "sampler_call_s": {
            "gammaprob": median_of(ours, "sample_call_s"),
            "gammapy": median_of(theirs, "sample_call_s"),
            "ratio": median_of(theirs, "sample_call_s") / median_of(ours, "sample_call_s"),
            "unit": "s",
        },
        "ess": {
            "gammaprob": median_of(ours, "ess"),
            "gammapy": median_of(theirs, "ess"),
            "ratio": median_of(ours, "ess") / median_of(theirs, "ess"),
            "unit": "",
        },
    }
    write_results(
        "posterior_ess",
        metrics,
        extra={
            "notes": (
                f"median of {repeat} warm processes per code, alternating, after one "
                "unmeasured run of each; time = the sampler call only (data read and model "
                "built before). gammaprob: sample() defaults (nutpie, marginal on/off, "
                "4 x (1000 + 1000)), ESS = smallest bulk ESS of the 3 parameters. gammapy: "
                "Sampler() defaults (UltraNest, 400 live points, WStat), ESS = Kish size of "
                "the weighted samples. ratio: gammaprob / gammapy for ESS/s and ESS, "
                "gammapy / gammaprob for times (> 1: gammaprob better). gammapy 2.1 has no "
                "emcee sampler."
            ),
            "runs": runs,
            "repeats": repeat,
        },
        packages=("nutpie", "gammapy", "ultranest", "arviz"),
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker = worker_gammaprob if sys.argv[2] == "gammaprob" else worker_gammapy
        print(json.dumps(worker()))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
        parser.add_argument("--repeat", type=int, default=3, help="measured runs per code")
        main(parser.parse_args().repeat)
