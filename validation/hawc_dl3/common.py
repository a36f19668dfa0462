"""Settings shared by the HAWC DL3 Crab study (gammapy reference and gammaprob posterior).

HAWC's public Pass 4 Crab release (``$GAMMAPY_DATA/hawc/crab_events_pass4``), energy
estimator NN, fHit bins 5-9, each reduced as gammapy's HAWC tutorial does: a 3 x 3 deg map at
0.05 deg around the Crab (CAR, ICRS) with the background map's 10 reconstructed-energy bins
(1-316 TeV), the effective-area map's 140 true-energy bins, exposure and background times the
number of transits at the map centre, safe mask aeff-max 10 %. The model: a point source at
the Crab's position (fixed) with a log-parabola (natural log) at 7 TeV, the background maps
fixed.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
CENTER = (83.63, 22.01)  # map centre, ICRS (deg), as the tutorial
CRAB = (83.6331, 22.0145)  # source position, ICRS (deg)
WIDTH_DEG, BINSZ_DEG = 3.0, 0.05
FHIT_BINS = (5, 6, 7, 8, 9)
ESTIMATOR = "NN"
EDGES_TEV = (1.00, 1.78, 3.16, 5.62, 10.0, 17.8, 31.6, 56.2, 100, 177, 316)
REFERENCE_TEV = 7.0
OBS_ID = 103000133
#: parameters compared, with gammapy's names
PARAMS = ("amplitude", "alpha", "beta")


def data_root() -> Path:
    root = os.environ.get("GAMMAPY_DATA")
    if not root:
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder")
    return Path(root).expanduser()


def release() -> Path:
    return data_root() / "hawc" / "crab_events_pass4"
