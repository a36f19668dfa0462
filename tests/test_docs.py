"""The documentation: the Sphinx build, the getting-started code and the Gammapy-users page.

- The site builds with warnings as errors (``sphinx-build -W``), offline, with the API
  reference and the notebook gallery (needs the ``docs`` extra; skipped locally without
  Sphinx, an error in CI).
- The code blocks of ``docs/getting-started.md`` ("From DL3 events to flux points") run, in
  order, on ``$GAMMAPY_DATA``.
- Every gammaprob name on ``docs/gammapy-users.md`` exists.
- README.md and .ci/run install the same extras, ``docs`` among them.
- The extended-source benchmark table of ``docs/forward.md`` is the render of
  ``benchmarks/results/extended.json`` (``benchmarks/render_docs.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PUBLIC_PACKAGES = (
    "data",
    "irf",
    "maps",
    "makers",
    "datasets",
    "modeling",
    "forward",
    "likelihood",
    "inference",
    "estimators",
    "simulate",
    "catalog",
    "analysis",
    "visualization",
    "stats",
    "calibrate",
)


def _section_code(page: Path, heading: str) -> str:
    """The ```python blocks of one ``## heading`` section of a Markdown page, joined."""
    text = page.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end > 0 else None]
    blocks = re.findall(r"^```python\n(.*?)^```", section, flags=re.M | re.S)
    return "\n".join(blocks)


def _resolve(dotted: str):
    """Import ``gammaprob.a.b.Name.attr``: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:n]))
        except ModuleNotFoundError:
            continue
        for attr in parts[n:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.slow
def test_sphinx_build_warnings_as_errors(tmp_path):
    if importlib.util.find_spec("sphinx") is None:  # the README's test command installs it
        pytest.fail("Sphinx is missing: install the docs extra (pip install -e '.[docs]')")
    out = tmp_path / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    cmd += ["-d", str(tmp_path / "doctrees"), str(DOCS), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, f"sphinx-build -W failed:\n{proc.stdout}\n{proc.stderr}"
    # API reference: one page per public package, rendered from the docstrings.
    for name in PUBLIC_PACKAGES:
        page = out / "api" / f"{name}.html"
        assert page.is_file(), page
    estimators = (out / "api" / "estimators.html").read_text(encoding="utf-8")
    assert "FluxPointsEstimator" in estimators
    assert "energy_edges" in estimators  # a numpydoc Parameters entry
    # Gallery: every notebook of notebooks/ has a page with its code.
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        page = out / "gallery" / f"{nb.stem}.html"
        assert page.is_file(), f"{nb.name} is not in the gallery"
        assert "import" in page.read_text(encoding="utf-8")
    for page in ("getting-started", "gammapy-users", "gallery"):
        assert (out / f"{page}.html").is_file(), page


def test_getting_started_has_the_dl3_to_flux_points_code():
    code = _section_code(DOCS / "getting-started.md", "From DL3 events to flux points")
    for step in ("DataStore", "ReflectedRegionsBackgroundMaker", "sample(", "FluxPointsEstimator"):
        assert step in code, f"getting-started.md lacks the {step} step"
    page = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    assert "## Getting the data" in page
    assert "without gammapy" in page.lower() or "not** needed" in page


@pytest.mark.slow
@pytest.mark.sampling
@pytest.mark.requires_data
def test_getting_started_code_runs():
    import matplotlib.pyplot as plt

    code = _section_code(DOCS / "getting-started.md", "From DL3 events to flux points")
    namespace: dict = {"__name__": "getting_started"}
    try:
        exec(compile(code, str(DOCS / "getting-started.md"), "exec"), namespace)
    finally:
        plt.close("all")
    from gammaprob.inference import check_convergence

    assert check_convergence(namespace["result"], warn=False).ok
    index = np.median(namespace["result"]["posterior"]["crab::index"].values)
    assert 2.3 < index < 3.0  # the Crab's index near 1 TeV is about 2.6-2.7
    table = namespace["flux_points"].table
    assert len(table) == 5
    norm = np.asarray(table["norm"], dtype=float)
    assert np.all(np.isfinite(norm))
    # the points scatter about the posterior-median power law they are normalised to
    assert np.all((norm > 0.3) & (norm < 3.0)), norm


def test_gammapy_users_names_exist():
    page = (DOCS / "gammapy-users.md").read_text(encoding="utf-8")
    names = sorted(set(re.findall(r"`(gammaprob(?:\.\w+)+)`", page)))
    assert len(names) >= 80, names
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{name}: {exc}")
    assert not missing, "names on docs/gammapy-users.md that gammaprob lacks:\n" + "\n".join(
        missing
    )
    # every table row maps to something in gammaprob
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert len(rows) >= 60
    for row in rows:
        ours = row.split("|")[2]
        assert "gammaprob." in ours or "result[" in ours or "build_model(" in ours, row
    # the keyword spelled out for WStat exists
    import inspect

    from gammaprob.inference import build_model
    from gammaprob.likelihood import ONOFF_MODES

    assert 'onoff="wstat"' in page
    assert "wstat" in ONOFF_MODES
    assert "onoff" in inspect.signature(build_model).parameters


def _readme_test_command() -> str:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    i = lines.index("Install the test extras and run the tests:")
    return next(line for line in lines[i + 1 :] if line.startswith("python3.12 -m venv"))


def test_readme_and_ci_install_the_docs_extra():
    command = _readme_test_command()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci, "README.md's test command differs from .ci/run's"
    extras = re.search(r'-e "\.\[([\w,]+)\]"', command)
    assert extras is not None, command
    assert {"test", "validation", "docs"} <= set(extras.group(1).split(","))


def _render_docs():
    spec = importlib.util.spec_from_file_location(
        "render_docs", ROOT / "benchmarks" / "render_docs.py"
    )
    render_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_docs)
    return render_docs


def test_every_benchmark_block_of_the_docs_is_the_render_of_its_results_file():
    render_docs = _render_docs()
    assert set(render_docs.BLOCKS) >= {
        "extended",
        "whole_process",
        "posterior_ess",
        "scale_out_posterior",
    }
    assert render_docs.stale_blocks() == [], "run python benchmarks/render_docs.py --write"


def test_whole_process_table_shows_each_variant_against_gammapy():
    render_docs = _render_docs()
    results = json.loads(
        (ROOT / "benchmarks/results/whole_process.json").read_text(encoding="utf-8")
    )
    block = render_docs.marked_block(
        (DOCS / "inference.md").read_text(encoding="utf-8"), "whole_process"
    )
    rows = [line for line in block.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(render_docs.WHOLE_PROCESS_VARIANTS)
    warm = results["metrics"]["whole_process_s[warm]"]
    assert f"| {warm['ratio']:.2f} |" in rows[1]


def test_extended_benchmark_table_is_generated_from_its_results_file():
    """docs/forward.md's extended-source table is the render of its results file, not typed."""
    render_docs = _render_docs()
    results = json.loads((ROOT / "benchmarks/results/extended.json").read_text(encoding="utf-8"))
    block = render_docs.marked_block((DOCS / "forward.md").read_text(encoding="utf-8"), "extended")
    assert block == render_docs.render_extended(results), (
        "docs/forward.md's extended table is stale: run python benchmarks/render_docs.py --write"
    )
    # one table line per (target, morphology, size): a logp and a logp + gradient row each
    table = [line for line in block.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(table) - 1 == len(results["metrics"]) // 2 > 0
    first = next(iter(results["metrics"].values()))
    assert f"{first['ratio']:.1f}x" in table[1]
