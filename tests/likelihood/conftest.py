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
