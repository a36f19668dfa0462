"""Compiled graphs use a backend with fast matrix products and emit no BLAS warning."""

from __future__ import annotations

import subprocess
import sys

import numpy as np


def test_importing_gammaprob_is_cheap():
    code = "import sys, gammaprob; print('pymc' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_dot_graph_compiles_without_warning_and_is_exact():
    # pytest turns warnings into errors, so a "could not link to a BLAS" warning fails here.
    import pytensor
    import pytensor.tensor as pt

    v = pt.vector("v")
    m = pt.matrix("m")
    f = pytensor.function([v, m], pt.tensordot(v, m, axes=1))
    assert type(f.maker.linker).__name__ == "NumbaLinker"
    rng = np.random.default_rng(0)
    a, b = rng.random(100), rng.random((100, 100))
    np.testing.assert_allclose(f(a, b), a @ b, rtol=1e-13)
