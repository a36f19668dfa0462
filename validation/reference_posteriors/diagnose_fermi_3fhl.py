"""Why the Fermi-LAT 3FHL Crab case failed at the model file's reference energy (issue 14).

Builds the case's model twice, with the file's log-parabola at its own reference energy
(50.5 MeV) and re-pivoted to ``cases.FERMI_REFERENCE_TEV`` (what ``cases.py`` samples), both
with ``prior_policy="broad"``, and writes ``diagnosis.yaml``:

* ``starts``: ln p and the largest gradient component at the nutpie chain starts of seeds
  0-15 (gammaprob's jittered support point, ``nutpie_backend``);
* ``file_reference_small_jitter``: nutpie 8 x (1000 + 2000) at the file's reference energy
  with the start jitter shrunk to 5 % (so that no chain starts where the counts overflow):
  divergences, R-hat, ESS and the amplitude's 1-99 % range.

Run: ``python validation/reference_posteriors/diagnose_fermi_3fhl.py`` (about 3 min on a
shared 2-core machine).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402

NAMES = ("Crab Nebula::amplitude", "Crab Nebula::alpha", "Crab Nebula::beta", "Fermi-LAT-bkg::norm")
#: start-jitter factor of the run at the file's reference energy
SMALL_JITTER = 0.05


def _model(repivoted: bool):
    from gammaprob.datasets import read_map_dataset
    from gammaprob.inference import build_model
    from gammaprob.modeling import Models

    data = cases.fermi_3fhl_models_dict()
    if repivoted:
        data = cases.repivot_models_dict(data)
    dataset = read_map_dataset(
        cases.fermi_3fhl_folder() / "Fermi-LAT-3FHL_data_Fermi-LAT.fits", name="Fermi-LAT"
    )
    return build_model([dataset], Models.from_dict(data, prior_policy="broad"))


def starts(model, seeds=range(16)) -> list[dict]:
    """ln p, max |gradient| and beta at gammaprob's nutpie chain starts."""
    from gammaprob.inference.nutpie_backend import _initial_point_fn

    point_fn = _initial_point_fn(model, None)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    out = []
    for seed in seeds:
        point = point_fn(seed)
        out.append(
            {
                "seed": seed,
                "beta": round(float(point["Crab Nebula::beta"]), 3),
                "logp": float(f"{float(logp(point)):.4g}"),
                "max_abs_grad": float(f"{float(np.abs(dlogp(point)).max()):.3g}"),
            }
        )
    return out


def small_jitter_run(model) -> dict:
    """nutpie 8 x (1000 + 2000) with the start jitter scaled by :data:`SMALL_JITTER`."""
    import arviz as az

    from gammaprob.inference import nutpie_backend, sample

    original = nutpie_backend.jitter_scales

    def shrunk(m, **kwargs):
        return {k: SMALL_JITTER * v for k, v in original(m, **kwargs).items()}

    nutpie_backend.jitter_scales = shrunk
    try:
        result = sample(
            model,
            chains=8,
            tune=1000,
            draws=2000,
            random_seed=20261207,
            progressbar=False,
            log_likelihood=False,
            check=False,
        )
    finally:
        nutpie_backend.jitter_scales = original
    post, stats = result.posterior, result.sample_stats
    amplitude = np.asarray(post[NAMES[0]]).ravel()
    return {
        "divergences": int(stats["diverging"].sum()),
        "mean_leapfrog_steps": round(float(stats["n_steps"].mean()), 1),
        "rhat_max": round(max(float(az.rhat(post[n])) for n in NAMES), 4),
        "ess_bulk_min": round(min(float(az.ess(post[n], method="bulk")) for n in NAMES)),
        "ess_tail_min": round(min(float(az.ess(post[n], method="tail")) for n in NAMES)),
        "amplitude_q01_q99": [float(f"{q:.4g}") for q in np.quantile(amplitude, [0.01, 0.99])],
    }


def main() -> None:
    at_file, repivoted = _model(False), _model(True)
    report = {
        "starts": {"file_reference": starts(at_file), "case_reference": starts(repivoted)},
        "file_reference_small_jitter": small_jitter_run(at_file),
    }
    (HERE / "diagnosis.yaml").write_text(yaml.safe_dump(report, sort_keys=False))
    print(yaml.safe_dump(report, sort_keys=False))


if __name__ == "__main__":
    main()
