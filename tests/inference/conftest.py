"""Fixtures of the inference tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def forward_helpers():
    """``tests/forward/_helpers.py`` (loaded by path: tests run with --import-mode=importlib)."""
    name = "gammaprob_test_forward_helpers"
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "forward" / "_helpers.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
