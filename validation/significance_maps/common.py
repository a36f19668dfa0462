"""Settings shared by the significance-map study (gammapy reference and the notebook).

gammapy's ring-background tutorial on MSH 15-52: the H.E.S.S. DR1 runs pointed within 2.5 deg
of (228.32, -59.08) deg (ICRS), a 3 x 3 deg map at 0.02 deg (CAR, ICRS), 10 reconstructed
energy bins from 0.5 to 5 TeV, an exclusion circle of 0.3 deg around the source, a ring of
inner radius 0.5 deg and width 0.3 deg, and a correlation radius of 0.04 deg. Two choices
differ from the tutorial and are made in both codes: the runs are stacked before the ring is
applied (one ring on the stacked counts and background), and the safe mask is offset-max 2.5
deg (the tutorial has none, which leaves ring artefacts at the field edges, gammapy issue
5245). The TS map uses the IRF background scaled by its maximum-likelihood norm outside the
exclusion region (sum of counts / sum of background there), a point-like test source with a
power law of index 2 (amplitude 1e-12 cm-2 s-1 TeV-1 at 1 TeV), a PSF kernel of 0.3 deg
radius (gammapy: kernel_width 0.6 deg) and the energy bins summed.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = (228.32, -59.08)  # MSH 15-52 as in gammapy's tutorial, ICRS (deg)
CONE_DEG = 2.5
WIDTH_DEG, BINSZ_DEG = 3.0, 0.02
ENERGY_TEV = (0.5, 5.0, 10)
ENERGY_TRUE_TEV = (0.3, 20.0, 16)
OFFSET_MAX_DEG = 2.5
EXCLUSION_RADIUS_DEG = 0.3
RING_R_IN_DEG, RING_WIDTH_DEG = 0.5, 0.3
CORRELATION_RADIUS_DEG = 0.04
KERNEL_RADIUS_DEG = 0.3


def data_root() -> Path:
    """The gammapy-data folder (``$GAMMAPY_DATA``)."""
    root = os.environ.get("GAMMAPY_DATA")
    if not root:
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder")
    return Path(root).expanduser()


def obs_ids() -> list[int]:
    """The runs pointed within ``CONE_DEG`` of the target (from the DR1 observation index)."""
    import numpy as np
    from astropy.table import Table

    table = Table.read(data_root() / "hess-dl3-dr1" / "obs-index.fits.gz")
    ra, dec = np.deg2rad(table["RA_PNT"]), np.deg2rad(table["DEC_PNT"])
    ra0, dec0 = np.deg2rad(TARGET[0]), np.deg2rad(TARGET[1])
    cos = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    sep = np.rad2deg(np.arccos(np.clip(cos, -1, 1)))
    return [int(i) for i in table["OBS_ID"][sep < CONE_DEG]]
