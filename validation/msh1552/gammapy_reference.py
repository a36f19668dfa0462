"""Gammapy's reduction and Minuit fit of MSH 15-52 (the frequentist reference of issue 17).

Writes ``gammapy_reference.yaml``: best-fit values and symmetric errors of the Gaussian +
power-law + background norm/tilt model, the fit time (fit + covariance), the number of
function evaluations and the reduction time. The position is bounded to +-0.3 deg and the
width to 0.01-0.5 deg (without bounds on the position the fit does not converge, as noted in
issue 17).

Run with the validation extra installed: ``python validation/msh1552/gammapy_reference.py``.
"""

from __future__ import annotations

import time

import yaml
from common import HERE, STACKING


def fit(dataset) -> dict:
    from gammapy.modeling import Fit
    from gammapy.modeling.models import (
        FoVBackgroundModel,
        GaussianSpatialModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    ra, dec = STACKING.target
    spatial = GaussianSpatialModel(
        lon_0=f"{ra} deg", lat_0=f"{dec} deg", sigma="0.1 deg", frame="icrs"
    )
    spatial.lon_0.min, spatial.lon_0.max = ra - 0.3, ra + 0.3
    spatial.lat_0.min, spatial.lat_0.max = dec - 0.3, dec + 0.3
    spatial.sigma.min, spatial.sigma.max = 0.01, 0.5
    spectral = PowerLawSpectralModel(index=2.3, amplitude="5e-12 cm-2 s-1 TeV-1", reference="1 TeV")
    background = FoVBackgroundModel(dataset_name=dataset.name)
    background.spectral_model.tilt.frozen = False
    dataset.models = [
        SkyModel(spectral_model=spectral, spatial_model=spatial, name="msh"),
        background,
    ]
    start = time.perf_counter()
    result = Fit().run([dataset])
    elapsed = time.perf_counter() - start
    out = {
        "success": bool(result.success),
        "fit_and_covariance_s": elapsed,
        "n_evaluations": int(result.optimize_result.nfev),
        "stat_sum": float(result.total_stat),
    }
    for model in (spatial, spectral, background.spectral_model):
        for name in ("lon_0", "lat_0", "sigma", "index", "amplitude", "norm", "tilt"):
            if name in model.parameters.names:
                p = model.parameters[name]
                out[name] = float(p.value)
                out[f"{name}_err"] = float(p.error)
    return out


def main() -> None:
    import gammapy

    start = time.perf_counter()
    dataset, n_runs = STACKING.gammapy_stacked()
    reduction_s = time.perf_counter() - start
    reference = fit(dataset)
    reference.update(
        {
            "reduction_s": reduction_s,
            "n_runs": n_runs,
            "gammapy": gammapy.__version__,
            "counts": int(dataset.counts.data.sum()),
        }
    )
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(reference, sort_keys=False))
    print(yaml.safe_dump(reference, sort_keys=False))


if __name__ == "__main__":
    main()
