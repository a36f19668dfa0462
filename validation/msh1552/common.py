"""Settings shared by the MSH 15-52 3D study (gammapy reference and gammaprob posterior).

The workload of issue 17: the H.E.S.S. DR1 runs whose pointing is within 2.5 deg of MSH 15-52,
stacked on 2 x 2 deg at 0.02 deg (100 x 100 pixels, CAR, ICRS) with 10 reconstructed energy
bins from 0.5 to 50 TeV and 20 true-energy bins from 0.3 to 100 TeV; safe mask offset-max
2.5 deg; a Gaussian source with a power law and the IRF background with a free norm and tilt.
The run selection and gammapy's reduction are ``validation/_hess_dr1.py``'s.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import _hess_dr1  # noqa: E402

TARGET = (228.53, -59.16)  # MSH 15-52, ICRS (deg)
CONE_DEG = 2.5
WIDTH_DEG, BINSZ_DEG = 2.0, 0.02
ENERGY_TEV = (0.5, 50.0, 10)
ENERGY_TRUE_TEV = (0.3, 100.0, 20)
OFFSET_MAX_DEG = 2.5
#: parameters compared, with gammapy's names
PARAMS = ("lon_0", "lat_0", "sigma", "index", "amplitude", "norm", "tilt")

data_root = _hess_dr1.data_root


def obs_ids() -> list[int]:
    """The runs pointed within ``CONE_DEG`` of the target (from the DR1 observation index)."""
    return _hess_dr1.obs_ids(TARGET, CONE_DEG)


def gammapy_stacked():
    """gammapy's stacked ``MapDataset`` of :func:`obs_ids` and the number of runs."""
    return _hess_dr1.gammapy_stacked(
        TARGET,
        cone_deg=CONE_DEG,
        width_deg=WIDTH_DEG,
        binsz_deg=BINSZ_DEG,
        energy_tev=ENERGY_TEV,
        energy_true_tev=ENERGY_TRUE_TEV,
        offset_max_deg=OFFSET_MAX_DEG,
        name="msh",
    )
