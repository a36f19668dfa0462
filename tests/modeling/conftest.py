"""Fixtures of the modeling tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def gammapy_models():
    """``gammapy.modeling.models`` (validation extra), imported inside the tests."""
    import gammapy.modeling.models as models

    return models
