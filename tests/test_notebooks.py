"""Execute every tutorial notebook in ``notebooks/`` from top to bottom.

Each notebook runs in a fresh kernel with its own folder as the working directory, on an
in-memory copy (nothing is written back into the repository). A cell that raises fails the
test with the cell's source and the error; a notebook that runs past its timeout fails too.
The notebooks read ``$GAMMAPY_DATA``, hence ``requires_data``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
#: Wall-clock limit of one notebook (all cells together), in seconds.
NOTEBOOK_TIMEOUT_S = 900
#: Wall-clock limit of one cell, in seconds.
CELL_TIMEOUT_S = 450
#: Terminal colour codes in IPython tracebacks.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _has_outputs(notebook) -> bool:
    return any(
        cell.get("outputs") or cell.get("execution_count") is not None
        for cell in notebook.cells
        if cell.cell_type == "code"
    )


def test_notebooks_are_found():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert not _has_outputs(notebook), (
        f"{path.name} is stored with outputs; clear them before committing "
        "(jupyter nbconvert --clear-output --inplace)"
    )


#: An import of gammapy in a code cell (``import gammapy``, ``from gammapy... import``,
#: ``importlib.import_module("gammapy")``).
_GAMMAPY_IMPORT = re.compile(
    r"^\s*(import\s+gammapy|from\s+gammapy[\s.])|import_module\(\s*[\"']gammapy", re.MULTILINE
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_never_imports_gammapy(path):
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    importing = [src.splitlines()[0] for src in cells if _GAMMAPY_IMPORT.search(src)]
    assert not importing, (
        f"{path.name} imports gammapy in the cells starting {importing}; read the reference "
        "from validation/<name>/gammapy_reference.yaml instead"
    )


def test_gammapy_import_pattern_catches_imports():
    for src in (
        "import gammapy",
        "x = 1\nfrom gammapy.maps import Map",
        'import_module("gammapy")',
    ):
        assert _GAMMAPY_IMPORT.search(src), src
    for src in ("# gammapy's fit", "ref = yaml.safe_load(open('gammapy_reference.yaml'))"):
        assert not _GAMMAPY_IMPORT.search(src), src


@pytest.mark.slow
@pytest.mark.requires_data
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
@pytest.mark.timeout(NOTEBOOK_TIMEOUT_S + 60)
def test_notebook_runs(path, gammapy_data):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = nbformat.read(path, as_version=4)  # in memory: the file is never rewritten
    env = {"GAMMAPY_DATA": str(gammapy_data), "MPLBACKEND": "Agg"}
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},  # cwd of the kernel
        allow_errors=False,
    )
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        pytest.fail(f"{path.name} failed:\n{_ANSI.sub('', str(error))}", pytrace=False)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    executed = [c for c in notebook.cells if c.cell_type == "code"]
    assert executed and all(c.execution_count is not None for c in executed)
    warned = [
        c.source.splitlines()[0] for c in executed if _WARNING.search(_output_text(c)) is not None
    ]
    assert not warned, f"{path.name}: cells printed a warning: {warned}"


#: What a warning printed by a cell looks like (``warnings.warn`` writes "<Category>: ..."),
#: except tqdm's note that the Jupyter environment lacks ipywidgets (not gammaprob's to fix)
_WARNING = re.compile(r"\b(?!TqdmWarning)\w*Warning: |convergence checks failed")


def _output_text(cell) -> str:
    """The text a code cell printed (streams, results and errors)."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)
