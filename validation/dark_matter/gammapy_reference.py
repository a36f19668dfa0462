"""gammapy's dark-matter annihilation spectra, the reference of ``notebooks/dark_matter.ipynb``.

Evaluates ``gammapy.astro.darkmatter.DarkMatterAnnihilationSpectralModel`` (PPPC 4 DM ID
table of ``$GAMMAPY_DATA``) for a 1 TeV particle annihilating into b bbar, tau+ tau- and
W+ W- with ``<sigma v> = 3e-26 cm3 s-1`` (gammapy's ``scale = 1``), ``J = 1e19 GeV2 cm-5``
and ``k = 2`` at ``ENERGIES``, and writes ``dN/dE`` in cm-2 s-1 TeV-1 to
``gammapy_reference.yaml``.

Run with the validation extra installed: ``python validation/dark_matter/gammapy_reference.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
MASS_TEV = 1.0
JFACTOR = 1e19  # GeV2 cm-5
SIGMA_V = 3e-26  # cm3 s-1
CHANNELS = ("b", "tau", "W")
ENERGIES = [float(e) for e in np.geomspace(0.02, 0.95, 12)]  # TeV


def main() -> None:
    """Write ``gammapy_reference.yaml``."""
    import astropy.units as u
    import gammapy
    from gammapy.astro.darkmatter import DarkMatterAnnihilationSpectralModel

    energy = np.asarray(ENERGIES) * u.TeV
    dnde = {}
    for channel in CHANNELS:
        model = DarkMatterAnnihilationSpectralModel(
            mass=MASS_TEV * u.TeV,
            channel=channel,
            scale=SIGMA_V / 3e-26,
            jfactor=JFACTOR * u.Unit("GeV2 cm-5"),
        )
        dnde[channel] = [float(v) for v in model(energy).to_value("cm-2 s-1 TeV-1")]
    out = {
        "gammapy": gammapy.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "model": "DarkMatterAnnihilationSpectralModel (k=2, z=0)",
        "mass_TeV": MASS_TEV,
        "jfactor_GeV2_cm-5": JFACTOR,
        "sigma_v_cm3_s-1": SIGMA_V,
        "energy_TeV": ENERGIES,
        "dnde_cm-2_s-1_TeV-1": dnde,
    }
    (HERE / "gammapy_reference.yaml").write_text(
        yaml.safe_dump(out, sort_keys=False), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
