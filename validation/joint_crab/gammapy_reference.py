"""Gammapy's maximum-likelihood fit of the joint-Crab spectra: the frequentist reference.

Fits gammapy's (natural-log) LogParabola with the reference at 1 TeV, per instrument and to
all five jointly, on the published fit ranges, and writes values and symmetric errors in
the log10 form (beta10 = beta_ln * ln 10) to ``gammapy_reference.yaml``, with the time of
each fit (fit + covariance) and the number of function evaluations.

Run with the validation extra installed: ``python validation/joint_crab/gammapy_reference.py``.
"""

from __future__ import annotations

import time

import yaml
from common import ENERGY_RANGES, HERE, INSTRUMENTS, LN10, REFERENCE_TEV, pha_files


def read_datasets(instrument: str):
    import astropy.units as u
    from gammapy.datasets import Datasets, SpectrumDatasetOnOff

    e_min, e_max = ENERGY_RANGES[instrument]
    datasets = Datasets()
    for path in pha_files(instrument):
        ds = SpectrumDatasetOnOff.read(path)
        ds.mask_fit = ds.counts.geom.energy_mask(e_min * u.TeV, e_max * u.TeV)
        ds = ds.copy(name=f"{instrument}-{path.stem.removeprefix('pha_')}")
        datasets.append(ds)
    return datasets


def fit(datasets) -> dict:
    from gammapy.modeling import Fit
    from gammapy.modeling.models import LogParabolaSpectralModel, SkyModel

    spectral = LogParabolaSpectralModel(
        amplitude="3e-11 cm-2 s-1 TeV-1", reference=f"{REFERENCE_TEV} TeV", alpha=2.5, beta=0.1
    )
    model = SkyModel(spectral_model=spectral, name="crab")
    for ds in datasets:
        ds.models = [model]
    start = time.perf_counter()
    result = Fit().run(datasets)
    elapsed = time.perf_counter() - start
    pars = model.spectral_model.parameters
    return {
        "amplitude": float(pars["amplitude"].value),
        "amplitude_err": float(pars["amplitude"].error),
        "alpha": float(pars["alpha"].value),
        "alpha_err": float(pars["alpha"].error),
        "beta": float(pars["beta"].value * LN10),
        "beta_err": float(pars["beta"].error * LN10),
        "stat_sum": float(result.total_stat),
        "success": bool(result.success),
        "fit_and_covariance_s": elapsed,
        "n_evaluations": int(result.optimize_result.nfev),
    }


def main() -> None:
    from gammapy.datasets import Datasets

    out = {"amplitude_unit": "cm-2 s-1 TeV-1", "beta_form": "log10", "fits": {}}
    everything = Datasets()
    for instrument in INSTRUMENTS:
        datasets = read_datasets(instrument)
        out["fits"][instrument] = fit(datasets)
        everything.extend(read_datasets(instrument))
    out["fits"]["joint"] = fit(everything)
    import gammapy

    out["gammapy_version"] = gammapy.__version__
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(out, sort_keys=False))
    for name, row in out["fits"].items():
        print(
            f"{name:8s} amplitude {row['amplitude']:.3e} ± {row['amplitude_err']:.1e}  "
            f"alpha {row['alpha']:.3f} ± {row['alpha_err']:.3f}  beta10 {row['beta']:.3f} ± "
            f"{row['beta_err']:.3f}  ({row['fit_and_covariance_s']:.2f} s)"
        )


if __name__ == "__main__":
    main()
