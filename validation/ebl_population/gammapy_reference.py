"""gammapy's fit of the H.E.S.S. DR1 PKS 2155-304 spectrum with a free EBL scale.

The reference of ``notebooks/ebl_population.ipynb``: the OGIP spectrum
``$GAMMAPY_DATA/PKS2155-steady/pks2155-304_steady.fits.gz`` fitted (WStat, gammapy's
``Fit``) with a power law (reference 1 TeV) times
``EBLAbsorptionNormSpectralModel.read_builtin("dominguez", redshift=0.116)`` with
``alpha_norm`` free in [0, 3] (the support of ``pks2155.py``'s uniform prior). Writes the
best-fit values, their Hessian errors and a profile-likelihood 68 % interval of
``alpha_norm`` (scanned over [0, 3]; delta stat <= 1) to ``gammapy_reference.yaml``.

Run with the validation extra installed: ``python validation/ebl_population/gammapy_reference.py``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
FILE = "$GAMMAPY_DATA/PKS2155-steady/pks2155-304_steady.fits.gz"
REDSHIFT = 0.116


def main() -> None:
    """Fit and write ``gammapy_reference.yaml``."""
    import astropy.units as u
    import gammapy
    from gammapy.datasets import SpectrumDatasetOnOff
    from gammapy.modeling import Fit
    from gammapy.modeling.models import (
        EBLAbsorptionNormSpectralModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    dataset = SpectrumDatasetOnOff.read(FILE)
    intrinsic = PowerLawSpectralModel(
        index=2.5, amplitude="1e-11 cm-2 s-1 TeV-1", reference=1 * u.TeV
    )
    absorption = EBLAbsorptionNormSpectralModel.read_builtin("dominguez", redshift=REDSHIFT)
    absorption.alpha_norm.frozen = False
    absorption.alpha_norm.min, absorption.alpha_norm.max = 0.0, 3.0
    dataset.models = [SkyModel(spectral_model=intrinsic * absorption, name="pks2155")]
    start = time.perf_counter()
    fit = Fit()
    result = fit.run([dataset])
    seconds = time.perf_counter() - start
    par = dataset.models.parameters
    values = {
        name: {"value": float(par[name].value), "error": float(par[name].error)}
        for name in ("index", "amplitude", "alpha_norm")
    }
    values["amplitude"]["unit"] = "cm-2 s-1 TeV-1"
    par["alpha_norm"].scan_values = np.linspace(0.0, 3.0, 61)  # the prior's support
    profile = fit.stat_profile([dataset], par["alpha_norm"], reoptimize=True)
    scan = np.asarray(profile["pks2155.spectral.model2.alpha_norm_scan"], dtype=float)
    stat = np.asarray(profile["stat_scan"], dtype=float)
    inside = scan[stat - stat.min() <= 1.0]
    out = {
        "gammapy": gammapy.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "file": FILE,
        "redshift": REDSHIFT,
        "model": "PowerLaw(reference 1 TeV) x EBLAbsorptionNorm(dominguez), alpha_norm in [0, 3]",
        "success": bool(result.success),
        "stat": "wstat",
        "total_stat": float(result.total_stat),
        "fit": values,
        "alpha_norm_profile_68": [float(inside.min()), float(inside.max())],
        "fit_seconds": round(seconds, 2),
    }
    (HERE / "gammapy_reference.yaml").write_text(
        yaml.safe_dump(out, sort_keys=False), encoding="utf-8"
    )
    print(out)


if __name__ == "__main__":
    main()
