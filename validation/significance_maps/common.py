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
radius (gammapy: kernel_width 0.6 deg) and the energy bins summed. The run selection and
gammapy's reduction are ``validation/_hess_dr1.py``'s.
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

#: the runs and the map (MSH 15-52 as in gammapy's tutorial at the centre)
STACKING = _hess_dr1.Stacking(
    target=(228.32, -59.08),
    cone_deg=2.5,
    width_deg=3.0,
    binsz_deg=0.02,
    energy_tev=(0.5, 5.0, 10),
    energy_true_tev=(0.3, 20.0, 16),
    offset_max_deg=2.5,
)
EXCLUSION_RADIUS_DEG = 0.3
RING_R_IN_DEG, RING_WIDTH_DEG = 0.5, 0.3
CORRELATION_RADIUS_DEG = 0.04
KERNEL_RADIUS_DEG = 0.3
#: pixels whose ``sqrt_ts`` the gammapy reference stores: a grid (these rows x these
#: columns, 0.36 deg apart), a cross through the peak (these offsets along x and along y)
SAMPLE_GRID = tuple(range(12, 150, 18))
PEAK_OFFSETS = tuple(range(-10, 11, 2))
QUANTILE_LEVELS = (0.001, 0.01, 0.16, 0.5, 0.84, 0.99, 0.999)
