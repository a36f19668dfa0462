from __future__ import annotations

import json

from click.testing import CliRunner

import gammaprob
from gammaprob.analysis.cli import main


def test_info_json_reports_versions_and_data(monkeypatch, tmp_path):
    monkeypatch.setenv("GAMMAPY_DATA", str(tmp_path))
    result = CliRunner().invoke(main, ["info", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["gammaprob"] == gammaprob.__version__
    assert report["GAMMAPY_DATA"] == {"value": str(tmp_path), "found": True}
    assert report["packages"]["pymc"].split(".")[0] >= "6"


def test_version_option():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert gammaprob.__version__ in result.output
