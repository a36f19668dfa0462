"""Fixtures of the forward tests: test components and the gammapy import helper."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_NAME = "gammaprob_test_forward_helpers"


def load_helpers():
    """Load ``tests/forward/_helpers.py`` by path (tests run with --import-mode=importlib)."""
    if _NAME not in sys.modules:
        path = Path(__file__).with_name("_helpers.py")
        spec = importlib.util.spec_from_file_location(_NAME, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_NAME]


@pytest.fixture(scope="session")
def helpers():
    """The shared test helpers module."""
    return load_helpers()
