"""Settings shared by the flux-profile study (gammapy reference and the notebook).

gammapy's flux-profile tutorial on the Fermi-LAT 3FHL Galactic-centre dataset
(``$GAMMAPY_DATA/fermi-3fhl-gc/fermi-3fhl-gc.fits.gz``, 400 x 200 pixels of 0.05 deg, 11
energy bins from 10 GeV to 500 GeV) with a power-law reference of index 2.3 (amplitude 1e-12
cm-2 s-1 TeV-1 at 1 TeV). The tutorial asks for edges up to 2 TeV, which gammapy snaps to the
last dataset edge, 500 GeV; gammaprob refuses edges outside the dataset range, so 500 GeV is
given here:

- a longitude profile: 45 rectangles of 0.4 deg (8 pixels) x 3 deg along the Galactic plane
  from l = 9 deg to l = 351 deg (through l = 0), one energy group 10 - 500 GeV. The tutorial
  has 51 boxes from l = 10 deg to 350 deg, but the dataset's safe mask leaves out a 1 deg
  border, and gammapy 2.1 refuses a region that is partly masked
  (``to_region_map_dataset``: "mask is [not] spatially uniform within the region"), so the
  profile is kept inside |l| <= 9 deg, with box edges on pixel edges;
- a radial profile: 10 concentric regions of 0.15 deg to 1.5 deg around (l, b) = (0, 0)
  (gammapy's helper takes the 11 edges, gammaprob's the 10 regions), two energy
  groups 10 - 100 GeV and 100 - 500 GeV (100 GeV snaps to the dataset edge at 84.5 GeV).
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASET = "fermi-3fhl-gc/fermi-3fhl-gc.fits.gz"
SPECTRAL_INDEX = 2.3
#: longitude profile: start and end (l, b) in deg, height in deg, number of boxes, edges in GeV
LINE_START, LINE_END, LINE_HEIGHT_DEG, LINE_NBIN = (9.0, 0.0), (351.0, 0.0), 3.0, 45
LINE_EDGES_GEV = (10.0, 500.0)
#: radial profile: centre (l, b) in deg, outer radius in deg, number of regions, edges in GeV
RADIAL_CENTER, RADIAL_RADIUS_DEG, RADIAL_NBIN = (0.0, 0.0), 1.5, 10
RADIAL_EDGES_GEV = (10.0, 100.0, 500.0)


def dataset_path() -> Path:
    """The dataset file under ``$GAMMAPY_DATA``."""
    root = os.environ.get("GAMMAPY_DATA")
    if not root:
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder")
    return Path(root).expanduser() / DATASET
