"""gammapy 2.1 reference of the 3D simulation notebook: its fit of the same reduced dataset.

Simulates and reduces exactly as ``notebooks/simulation_3d.ipynb`` does (gammaprob's event
sampler, DL3 written and read back, gammaprob's makers; :func:`common.simulate_dataset`, same
seeds), writes the stacked dataset with gammaprob's ``MapDataset.write`` (gammapy's DL4
layout), reads it with gammapy's ``MapDataset.read`` and fits the two sources (point source and
Gaussian, power laws) and the FoV background norm and tilt with gammapy's ``Fit`` (Minuit),
starting from the truth. Writes ``gammapy_reference.yaml``: best fit and Hesse error of every
parameter (gammapy's names, amplitude in cm-2 s-1 TeV-1, angles in deg), their correlation
matrix (one block per model, as gammapy's ``Models.covariance`` keeps it: no cross-source
terms), the Cash statistic, the dataset's counts, the fit time, and each source's predicted
counts at the truth and at the best fit (total and brightest pixel of the energy-summed
image), which the notebook compares with gammaprob's forward model.

Run: ``python validation/simulation_3d/gammapy_reference.py`` (needs ``GAMMAPY_DATA``).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from common import CENTER, HERE, PARAMS, TRUTH, simulate_dataset


def gammapy_models(dataset_name: str):
    """The fitted models, started at the truth (gammapy objects)."""
    from gammapy.modeling.models import (
        FoVBackgroundModel,
        GaussianSpatialModel,
        Models,
        PointSpatialModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    p, g = TRUTH["point"], TRUTH["gauss"]
    point = SkyModel(
        spectral_model=PowerLawSpectralModel(
            index=p["index"], amplitude=f"{p['amplitude']} cm-2 s-1 TeV-1", reference="1 TeV"
        ),
        spatial_model=PointSpatialModel(
            lon_0=f"{p['lon_0']} deg", lat_0=f"{p['lat_0']} deg", frame="icrs"
        ),
        name="point",
    )
    gauss = SkyModel(
        spectral_model=PowerLawSpectralModel(
            index=g["index"], amplitude=f"{g['amplitude']} cm-2 s-1 TeV-1", reference="1 TeV"
        ),
        spatial_model=GaussianSpatialModel(
            lon_0=f"{g['lon_0']} deg",
            lat_0=f"{g['lat_0']} deg",
            sigma=f"{g['sigma']} deg",
            frame="icrs",
        ),
        name="gauss",
    )
    background = FoVBackgroundModel(dataset_name=dataset_name)
    background.spectral_model.tilt.frozen = False
    return Models([point, gauss, background])


def npred_summary(dataset) -> dict:
    """Total and brightest-pixel predicted counts of each source (energy-summed image)."""
    out = {}
    for name in ("point", "gauss"):
        image = dataset.npred_signal(model_names=[name]).data.sum(axis=0)
        out[name] = {"total": float(image.sum()), "peak_pixel": float(image.max())}
    return out


def main() -> None:
    from gammapy.datasets import MapDataset
    from gammapy.modeling import Fit

    with tempfile.TemporaryDirectory() as folder:
        ours = simulate_dataset(Path(folder) / "dl3")
        path = Path(folder) / "sim3d.fits.gz"
        ours.write(path)
        dataset = MapDataset.read(path, name=ours.name)
    models = gammapy_models(dataset.name)
    dataset.models = models
    npred_truth = npred_summary(dataset)
    start = time.perf_counter()
    result = Fit().run([dataset])
    fit_s = time.perf_counter() - start
    if not result.success:
        raise SystemExit(f"gammapy's fit failed: {result.message}")
    npred_best = npred_summary(dataset)
    parameters = {}
    for key in PARAMS:
        source, name = key.split(".")
        model = models[f"{dataset.name}-bkg" if source == "bkg" else source]
        par = model.parameters[name]
        parameters[key] = {
            "value": float(par.value),
            "error": float(par.error),
            "unit": str(par.unit),
        }
    free = [
        models[f"{dataset.name}-bkg" if key.startswith("bkg") else key.split(".")[0]].parameters[
            key.split(".")[1]
        ]
        for key in PARAMS
    ]
    correlation = models.covariance.get_subcovariance(free).data
    sigma = np.sqrt(np.diag(correlation))
    correlation = correlation / np.outer(sigma, sigma)
    out = {
        "gammapy_version": __import__("gammapy").__version__,
        "center_deg": list(CENTER),
        "n_counts": int(dataset.counts.data.sum()),
        "background_total": float(dataset.background.data.sum()),
        "npred_at_truth": npred_truth,
        "npred_at_best_fit": npred_best,
        "stat_sum": float(result.total_stat),
        "fit_and_covariance_s": fit_s,
        "parameters": parameters,
        "correlation": {
            "names": list(PARAMS),
            "matrix": [[round(float(x), 4) for x in row] for row in correlation],
        },
    }
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(out, sort_keys=False))
    print(yaml.safe_dump(out, sort_keys=False))


if __name__ == "__main__":
    main()
