"""Settings shared by the gammapy reference and the notebook (gammapy's light-curve-flare tutorial).

H.E.S.S. DR1 runs 33787-33793 of the PKS 2155-304 flare night (2006-07-29/30), cut into
10-minute bins from 20:30 UTC (34 bins), reflected-region on/off spectra (ON radius 0.11 deg,
reco energy 0.4-20 TeV in 10 bins, true energy 0.4-20 TeV in 20 bins, safe mask ``aeff-max``
at 10 %), a power law with index 3.4 for the light curve in 0.7-20 TeV.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
OBS_IDS = list(range(33787, 33794))
TARGET_DEG = (329.71693826, -30.2255890)  # ICRS
ON_RADIUS_DEG = 0.11
T_START = "2006-07-29T20:30:00"  # UTC
BIN_MIN = 10.0
N_BINS = 34
ENERGY_RECO_TEV = (0.4, 20.0, 10)
ENERGY_TRUE_TEV = (0.4, 20.0, 20)
LC_ENERGY_TEV = (0.7, 20.0)
LC_INDEX = 3.4
LC_AMPLITUDE = 2e-11  # cm-2 s-1 TeV-1 at 1 TeV
AEFF_PERCENT = 10.0
#: start of gammapy's fit (and centre of the notebook's priors): power law x Gaussian in time
FIT_START = {"amplitude": 2.5e-10, "index": 3.4, "t_ref": 53945.90, "sigma": 0.04}  # t_ref MJD UTC
