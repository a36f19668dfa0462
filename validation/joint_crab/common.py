"""Facts of the published joint-Crab analysis (Nigro et al. 2019, A&A 625, A10) used here."""

from __future__ import annotations

import math
import os
from pathlib import Path

#: Fit ranges per instrument in TeV, as in the published analysis.
ENERGY_RANGES = {
    "fermi": (0.03, 2.0),
    "magic": (0.08, 30.0),
    "veritas": (0.15, 30.0),
    "fact": (0.4, 30.0),
    "hess": (0.66, 30.0),
}
INSTRUMENTS = tuple(ENERGY_RANGES)
#: Energy-scale systematic (1 sigma) per instrument for the prior-informed variant.
ENERGY_SCALE_SIGMA = {"fermi": 0.05, "magic": 0.15, "veritas": 0.15, "fact": 0.15, "hess": 0.15}
REFERENCE_TEV = 1.0
#: beta of the log10 form from beta of the natural-log form: beta10 = beta_ln * ln(10).
LN10 = math.log(10.0)

HERE = Path(__file__).resolve().parent


def spectra_folder() -> Path:
    """``$GAMMAPY_DATA/joint-crab/spectra``."""
    return Path(os.environ["GAMMAPY_DATA"]) / "joint-crab" / "spectra"


def pha_files(instrument: str) -> list[Path]:
    """The PHA (ON) files of one instrument, sorted."""
    folder = spectra_folder() / instrument
    return sorted(folder.glob("pha_*.fits"))
