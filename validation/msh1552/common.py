"""Settings shared by the MSH 15-52 3D study (gammapy reference and gammaprob posterior).

The workload of issue 17: the H.E.S.S. DR1 runs whose pointing is within 2.5 deg of MSH 15-52,
stacked on 2 x 2 deg at 0.02 deg (100 x 100 pixels, CAR, ICRS) with 10 reconstructed energy
bins from 0.5 to 50 TeV and 20 true-energy bins from 0.3 to 100 TeV; safe mask offset-max
2.5 deg; a Gaussian source with a power law and the IRF background with a free norm and tilt.
The run selection and gammapy's reduction are ``validation/_hess_dr1.py``'s.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# imported by path: ``validation/`` on ``sys.path`` would shadow packages such as ``coverage``
# (numba imports it) with its folders
_SPEC = importlib.util.spec_from_file_location("_hess_dr1", HERE.parent / "_hess_dr1.py")
_hess_dr1 = sys.modules.setdefault("_hess_dr1", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(_hess_dr1)

#: the runs and the map (MSH 15-52 at the centre)
STACKING = _hess_dr1.Stacking(
    target=(228.53, -59.16),
    cone_deg=2.5,
    width_deg=2.0,
    binsz_deg=0.02,
    energy_tev=(0.5, 50.0, 10),
    energy_true_tev=(0.3, 100.0, 20),
    offset_max_deg=2.5,
)
#: parameters compared, with gammapy's names
PARAMS = ("lon_0", "lat_0", "sigma", "index", "amplitude", "norm", "tilt")
data_root = _hess_dr1.data_root
