"""Fixtures of the likelihood tests (``helpers``: tests/conftest.py)."""

from __future__ import annotations

import pytest

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
