"""Fixtures of the likelihood tests (reuse the forward tests' helpers module)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_NAME = "gammaprob_test_forward_helpers"


@pytest.fixture(scope="session")
def helpers():
    """The shared test helpers module ``tests/forward/_helpers.py``."""
    if _NAME not in sys.modules:
        path = Path(__file__).parents[1] / "forward" / "_helpers.py"
        spec = importlib.util.spec_from_file_location(_NAME, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_NAME]


#: Position of the Crab in the Fermi-LAT 3FHL dataset (deg, galactic).
FERMI_CRAB = (184.5575, -5.7844)


@pytest.fixture(scope="module")
def fermi(gammapy_data, helpers):
    """gammapy's Fermi-LAT 3FHL Crab MapDataset and our response built from it at the Crab."""
    helpers.import_gammapy()
    from astropy.coordinates import SkyCoord
    from gammapy.datasets import MapDataset

    path = gammapy_data / "fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits"
    dataset = MapDataset.read(path, name="fermi")
    position = SkyCoord(*FERMI_CRAB, unit="deg", frame="galactic")
    return dataset, helpers.map_response_from_gammapy(dataset, position)
