"""Settings shared by the MSH 15-52 3D study (gammapy reference and gammaprob posterior).

The workload of issue 17: the H.E.S.S. DR1 runs whose pointing is within 2.5 deg of MSH 15-52,
stacked on 2 x 2 deg at 0.02 deg (100 x 100 pixels, CAR, ICRS) with 10 reconstructed energy
bins from 0.5 to 50 TeV and 20 true-energy bins from 0.3 to 100 TeV; safe mask offset-max
2.5 deg; a Gaussian source with a power law and the IRF background with a free norm and tilt.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = (228.53, -59.16)  # MSH 15-52, ICRS (deg)
WIDTH_DEG, BINSZ_DEG = 2.0, 0.02
ENERGY_TEV = (0.5, 50.0, 10)
ENERGY_TRUE_TEV = (0.3, 100.0, 20)
OFFSET_MAX_DEG = 2.5
#: parameters compared, with gammapy's names
PARAMS = ("lon_0", "lat_0", "sigma", "index", "amplitude", "norm", "tilt")


def data_root() -> Path:
    root = os.environ.get("GAMMAPY_DATA")
    if not root:
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder")
    return Path(root).expanduser()


def obs_ids() -> list[int]:
    """The runs pointed within 2.5 deg of the target (from the DR1 observation index)."""
    import numpy as np
    from astropy.table import Table

    table = Table.read(data_root() / "hess-dl3-dr1" / "obs-index.fits.gz")
    ra, dec = np.deg2rad(table["RA_PNT"]), np.deg2rad(table["DEC_PNT"])
    ra0, dec0 = np.deg2rad(TARGET[0]), np.deg2rad(TARGET[1])
    cos = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    return [int(i) for i in table["OBS_ID"][np.rad2deg(np.arccos(np.clip(cos, -1, 1))) < 2.5]]
