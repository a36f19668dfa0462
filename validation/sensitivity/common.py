"""Settings shared by the CTA sensitivity study (gammapy reference and gammaprob notebook).

The setup of gammapy's point-source sensitivity tutorial (``analysis-1d/cta_sensitivity``):
a source 0.5 deg from the pointing, a 0.1 deg ON circle, 20 reconstructed-energy bins from
0.03 to 30 TeV, 100 true-energy bins from 0.01 to 100 TeV, 5 h live time, the exposure scaled
by the 68 % PSF containment and the background by the ratio of the 68 % containment circle to
the ON circle, and OFF counts expected from an ON/OFF acceptance ratio alpha = 1/5. The IRFs are
CTA prod5 South (20 deg zenith, average azimuth, 14 MSTs + 37 SSTs, 50 h optimisation)
instead of the tutorial's 1DC file, and the estimator runs with gammapy's defaults: at least
10 excess counts, 5 sigma (Li & Ma), an excess of at least 5 % of the background.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
IRF_FILE = "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
POINTING_DEG = (0.0, 0.0)  # ICRS
SOURCE_DEG = (0.0, 0.5)  # ICRS, 0.5 deg offset
ON_RADIUS_DEG = 0.1
OFFSET_DEG = 0.5
ENERGY_TEV = (0.03, 30.0, 20)  # reconstructed energy: min, max, number of bins (log)
ENERGY_TRUE_TEV = (0.01, 100.0, 100)
LIVETIME_H = 5.0
CONTAINMENT = 0.68
ALPHA = 0.2  # acceptance 1 / acceptance_off 5
SETTINGS = {"gamma_min": 10, "n_sigma": 5.0, "bkg_syst_fraction": 0.05}


def data_root() -> Path:
    root = os.environ.get("GAMMAPY_DATA")
    if not root:
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder")
    return Path(root).expanduser()
