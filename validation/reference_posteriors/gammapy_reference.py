"""Gammapy's fit of the Fermi-LAT 3FHL Crab case of ``cases.py`` (issue 14), and its Cash values.

The dataset is ``$GAMMAPY_DATA/fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits`` (10 GeV to
2 TeV) with the model file ``Fermi-LAT-3FHL_models.yaml`` (log-parabola, natural log, at a fixed
position; FoV background norm free). Written to ``gammapy_reference.yaml``:

* ``file_reference``: Minuit from the file's values with the file's reference energy (50.5 MeV,
  three decades below the data): whether it converges, the fit statistic, the parameters and
  their correlations;
* ``case_reference``: the same model re-pivoted to ``cases.FERMI_REFERENCE_TEV`` (the
  parametrisation the case samples): best fit, errors, correlations, and that best fit
  expressed at the file's reference energy;
* ``decorrelation_energy_tev``: where the fitted ln dN/dE has the smallest error;
* ``cash_points``: gammapy's ``stat_sum`` (Cash) at the best fit and at points 2 sigma from
  it (case parametrisation), for the likelihood check of
  ``tests/inference/test_reference_posteriors.py``.

Run with the validation extra installed (about 20 s):
``python validation/reference_posteriors/gammapy_reference.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402

#: free parameters in the order of the stored correlation matrices
FREE = ("Crab Nebula::amplitude", "Crab Nebula::alpha", "Crab Nebula::beta", "Fermi-LAT-bkg::norm")


def _file_reference_tev(file_dict: dict) -> float:
    """Reference energy (TeV) of the Crab log-parabola in the model file."""
    (crab,) = [c for c in file_dict["components"] if c.get("name") == "Crab Nebula"]
    (ref,) = [p for p in crab["spectral"]["parameters"] if p["name"] == "reference"]
    return float(ref["value"])


def _dataset_and_models(file_dict: dict):
    from gammapy.datasets import MapDataset
    from gammapy.modeling.models import Models

    path = cases.fermi_3fhl_folder() / "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
    dataset = MapDataset.read(path, name="Fermi-LAT")
    models = Models.from_dict(file_dict)
    dataset.models = models
    return dataset, models


def _fit(dataset, models) -> dict:
    """Minuit fit; best fit, errors and correlations of the free parameters."""
    from gammapy.modeling import Fit

    result = Fit().run([dataset])
    free = models.parameters.free_parameters
    index = [models.parameters.index(p) for p in free]
    cov = models.covariance.data[np.ix_(index, index)]
    sd = np.sqrt(np.diag(cov))
    return {
        "success": bool(result.optimize_result.success),
        "message": str(result.optimize_result.message),
        "nfev": int(result.optimize_result.nfev),
        "stat_sum": float(dataset.stat_sum()),
        "parameters": {
            name: {"value": float(p.value), "error": float(s), "unit": p.unit.to_string()}
            for name, p, s in zip(FREE, free, sd, strict=True)
        },
        "correlation": np.round(cov / np.outer(sd, sd), 4).tolist(),
        "covariance": cov.tolist(),
    }


def _decorrelation_energy(fit: dict, reference_tev: float) -> float:
    """Energy (TeV) where the error of ln dN/dE of the fitted log-parabola is smallest."""
    energy = np.geomspace(0.01, 2.0, 2001)
    lx = np.log(energy / reference_tev)
    amplitude = fit["parameters"][FREE[0]]["value"]
    jac = np.stack([np.full_like(energy, 1.0 / amplitude), -lx, -(lx**2)], axis=1)
    cov = np.asarray(fit["covariance"])[:3, :3]
    return float(energy[np.argmin(np.einsum("ij,jk,ik->i", jac, cov, jac))])


def _error_ln_amplitude(fit: dict, reference_tev: float, energy_tev: float) -> float:
    """Error of ln dN/dE at ``energy_tev`` of the fitted log-parabola (linear propagation)."""
    shift = np.log(energy_tev / reference_tev)
    amplitude = fit["parameters"][FREE[0]]["value"]
    jac = np.array([1.0 / amplitude, -shift, -(shift**2)])
    return float(np.sqrt(jac @ np.asarray(fit["covariance"])[:3, :3] @ jac))


def _cash_points(dataset, models, fit: dict) -> list[dict]:
    """``stat_sum`` at the best fit and at +-2 sigma in each free parameter, one at a time."""
    free = models.parameters.free_parameters
    best = [fit["parameters"][n]["value"] for n in FREE]
    errors = [fit["parameters"][n]["error"] for n in FREE]
    points = [list(best)]
    for i, sign in [(i, s) for i in range(len(FREE)) for s in (-2.0, 2.0)]:
        point = list(best)
        point[i] += sign * errors[i]
        points.append(point)
    out = []
    for point in points:
        for p, value in zip(free, point, strict=True):
            p.value = value
        out.append(
            {
                "values": dict(zip(FREE, map(float, point), strict=True)),
                "stat_sum": float(dataset.stat_sum()),
            }
        )
    for p, value in zip(free, best, strict=True):
        p.value = value
    return out


def main() -> None:
    file_dict = cases.fermi_3fhl_models_dict()
    dataset, models = _dataset_and_models(file_dict)
    at_file = {"stat_sum_at_file_values": float(dataset.stat_sum())} | _fit(dataset, models)
    dataset, models = _dataset_and_models(cases.repivot_models_dict(file_dict))
    at_case = _fit(dataset, models)
    values = [at_case["parameters"][n]["value"] for n in FREE[:3]]
    file_reference = _file_reference_tev(file_dict)
    back = cases.repivot(*values, cases.FERMI_REFERENCE_TEV, file_reference)
    at_case["at_file_reference"] = dict(zip(FREE[:3], map(float, back), strict=True))
    at_case["at_file_reference"]["error_ln_amplitude"] = _error_ln_amplitude(
        at_case, cases.FERMI_REFERENCE_TEV, file_reference
    )
    reference = {
        "dataset": "fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits",
        "models": "fermi-3fhl-crab/Fermi-LAT-3FHL_models.yaml",
        "file_reference_tev": file_reference,
        "case_reference_tev": cases.FERMI_REFERENCE_TEV,
        "file_reference": at_file,
        "case_reference": at_case,
        "decorrelation_energy_tev": _decorrelation_energy(at_case, cases.FERMI_REFERENCE_TEV),
        "cash_points": _cash_points(dataset, models, at_case),
    }
    import gammapy

    reference["gammapy_version"] = gammapy.__version__
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(reference, sort_keys=False))
    print(yaml.safe_dump(reference, sort_keys=False))


if __name__ == "__main__":
    main()
