"""Settings shared by the H.E.S.S. DR1 Crab 1D study (gammapy reference and gammaprob notebook).

gammapy's spectral-analysis tutorial (``analysis-1d/spectral_analysis``): the four Crab runs
23523, 23526, 23559, 23592; a 0.11 deg ON circle at (83.63, 22.01) deg ICRS; reflected OFF
regions outside an exclusion mask (a 150 x 150 px TAN image at 0.05 deg around the Crab that
excludes 0.5 deg around RGB J0521+212 at GLON 183.604, GLAT -8.708 deg); 10 reconstructed
bins per decade from 0.1 to 40 TeV, 20 true bins per decade from 0.05 to 100 TeV; the
exposure corrected for the PSF containment; safe mask ``aeff-max`` at 10 %. The four runs are
stacked. Models: power law and log-parabola (natural log) at 1 TeV, fitted with WStat; flux
points on every second reconstructed bin with the log-parabola's shape.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
OBS_IDS = (23523, 23526, 23559, 23592)
TARGET_DEG = (83.63, 22.01)  # ICRS
ON_RADIUS_DEG = 0.11
EXCLUSION_GALACTIC_DEG = (183.604, -8.708)  # RGB J0521+212
EXCLUSION_RADIUS_DEG = 0.5
EXCLUSION_NPIX, EXCLUSION_BINSZ_DEG = 150, 0.05
ENERGY_TEV = (0.1, 40.0, 10)  # min, max, bins per decade
ENERGY_TRUE_TEV = (0.05, 100.0, 20)
AEFF_PERCENT = 10
REFERENCE_TEV = 1.0
#: flux-point edges (TeV): every second reconstructed edge from 0.63 to 40 TeV (snapped)
FLUX_POINT_EDGES_TEV = (0.631, 1.0, 1.585, 2.512, 3.981, 6.31, 10.0, 15.85, 25.12, 40.0)


def data_root() -> Path:
    root = os.environ.get("GAMMAPY_DATA")
    if not root:
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder")
    return Path(root).expanduser()
