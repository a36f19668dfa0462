"""Shared fixtures and the rules for optional-resource markers.

``requires_data`` tests need ``$GAMMAPY_DATA``; ``requires_gammapy`` tests need the
``validation`` extra; ``jax`` tests need jax and numpyro (in the ``test`` extra). Locally a
missing resource skips the test with the reason. In CI (``CI`` set) a missing resource is an
error: those tests must run there.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


def _data_path() -> Path | None:
    value = os.environ.get("GAMMAPY_DATA")
    if value and Path(value).is_dir():
        return Path(value)
    return None


def _missing(item: pytest.Item) -> str | None:
    if item.get_closest_marker("requires_data") and _data_path() is None:
        return "GAMMAPY_DATA is not set or not a folder"
    if item.get_closest_marker("requires_gammapy") and importlib.util.find_spec("gammapy") is None:
        return "gammapy is not installed (pip install -e '.[validation]')"
    if item.get_closest_marker("jax") and (
        importlib.util.find_spec("jax") is None or importlib.util.find_spec("numpyro") is None
    ):
        return "jax/numpyro are not installed (pip install -e '.[jax]')"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _missing(item)
    if reason is None:
        return
    if _in_ci():
        pytest.fail(f"CI must run this test, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def gammapy_data() -> Path:
    """Path of ``$GAMMAPY_DATA`` (tests using it must be marked ``requires_data``)."""
    path = _data_path()
    if path is None:  # pragma: no cover - guarded by the marker
        pytest.fail("GAMMAPY_DATA is not set; mark the test requires_data", pytrace=False)
    return path


@pytest.fixture(scope="session")
def helpers():
    """``tests/forward/_helpers.py``, the synthetic responses and sources of the forward,
    likelihood and inference tests (loaded by path: tests run with --import-mode=importlib)."""
    import sys

    name = "gammaprob_test_forward_helpers"
    if name not in sys.modules:
        path = Path(__file__).with_name("forward") / "_helpers.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def rng():
    """A seeded numpy random generator."""
    import numpy as np

    return np.random.default_rng(20261126)
