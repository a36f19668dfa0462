"""The repository's own quality gates run as part of the test suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; install the test extra: pip install -e '.[test]'")
    return found


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint_clean():
    result = _run(_tool("ruff"), "check", "src", "tests", "benchmarks", "validation")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_clean():
    result = _run(_tool("ruff"), "format", "--check", "src", "tests", "benchmarks", "validation")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_layers_respected():
    result = _run(_tool("lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
