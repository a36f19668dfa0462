"""Fixtures of the IRF tests: small synthetic axes and the helpers module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

from gammaprob.maps import MapAxis

_NAME = "gammaprob_test_irf_helpers"


def _load_helpers():
    """Load ``tests/irf/_helpers.py`` by path (tests run with --import-mode=importlib)."""
    if _NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            _NAME, Path(__file__).with_name("_helpers.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_NAME]


@pytest.fixture(scope="session")
def irf_helpers():
    """The IRF test helpers module (synthetic HDU builders)."""
    return _load_helpers()


@pytest.fixture
def gammapy_irf():
    """The ``gammapy.irf`` module (tests using it must be marked ``requires_gammapy``)."""
    return _load_helpers().import_gammapy_irf()


@pytest.fixture
def energy_axis_true():
    return MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 12, name="energy_true")


@pytest.fixture
def offset_axis():
    return MapAxis.from_edges(np.linspace(0, 3, 7) * u.deg, name="offset")
