"""One resolver for $GAMMAPY_DATA: read at call time, ``~`` and variables expanded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import gammaprob
from gammaprob.utils.errors import DataNotFoundError
from gammaprob.utils.paths import gammapy_data_path, resolve_data_path


@pytest.fixture
def two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    return a, b


def test_environment_is_read_at_each_call(monkeypatch, two_folders):
    a, b = two_folders
    monkeypatch.setenv("GAMMAPY_DATA", str(a))
    assert resolve_data_path("$GAMMAPY_DATA/x.fits") == a / "x.fits"
    assert gammapy_data_path() == a
    monkeypatch.setenv("GAMMAPY_DATA", str(b))
    assert resolve_data_path("$GAMMAPY_DATA/x.fits") == b / "x.fits"
    assert resolve_data_path("${GAMMAPY_DATA}/x.fits") == b / "x.fits"
    assert gammapy_data_path() == b


def test_tilde_and_variables_in_the_value(monkeypatch, two_folders):
    a, _ = two_folders
    monkeypatch.setenv("HOME", str(a.parent))
    for value in ("~/a", "$HOME/a", "${HOME}/a"):
        monkeypatch.setenv("GAMMAPY_DATA", value)
        assert gammapy_data_path() == a, value
        assert resolve_data_path("$GAMMAPY_DATA/hess/x.fits") == a / "hess" / "x.fits", value
    assert resolve_data_path("~/a/y.fits") == a / "y.fits"


def test_unset_or_missing_folder_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("GAMMAPY_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match=r"GAMMAPY_DATA is not set.*export GAMMAPY_DATA"):
        resolve_data_path("$GAMMAPY_DATA/x.fits")
    assert resolve_data_path("data/x.fits") == Path("data/x.fits")  # no variable needed
    monkeypatch.setenv("GAMMAPY_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match=r"GAMMAPY_DATA=.*is not an existing folder"):
        resolve_data_path("${GAMMAPY_DATA}/x.fits")
    # a longer variable name is not GAMMAPY_DATA
    monkeypatch.setenv("GAMMAPY_DATA_OTHER", str(tmp_path))
    assert resolve_data_path("$GAMMAPY_DATA_OTHER/x") == tmp_path / "x"


def test_no_other_module_resolves_the_variable():
    """Every file name goes through gammaprob.utils.paths (no private expandvars/environ)."""
    src = Path(gammaprob.__file__).parent
    pattern = re.compile(r"expandvars\(|environ(?:\.get)?[\[(]\s*['\"]GAMMAPY_DATA")
    offenders = []
    for path in src.rglob("*.py"):
        if path.name == "paths.py" and path.parent.name == "utils":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code) and ">>>" not in code:
                offenders.append(f"{path.relative_to(src)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
