"""Matrix products in compiled pytensor graphs run at full speed, with no BLAS warning.

A pip-installed pytensor cannot link its C backend to a BLAS and warns that matrix products
are "severely degraded". gammaprob compiles with pytensor's numba backend (pytensor 3's
default), whose ``dot`` calls the BLAS that scipy ships. This script times a 100x100
tensordot graph (matrix @ matrix and the vector @ matrix of energy dispersion) against numpy
and checks that compiling emits no warning.

Run: ``python benchmarks/bench_blas.py`` -> ``benchmarks/results/blas.json``.
"""

from __future__ import annotations

import warnings

import numpy as np
from _common import best_time, write_results


def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import pytensor
        import pytensor.tensor as pt

        a = pt.matrix("a")
        b = pt.matrix("b")
        v = pt.vector("v")
        matmat = pytensor.function([a, b], pt.tensordot(a, b, axes=1))
        vecmat = pytensor.function([v, b], pt.tensordot(v, b, axes=1))
    linker = type(matmat.maker.linker).__name__

    rng = np.random.default_rng(1)
    x = rng.random((100, 100))
    y = rng.random((100, 100))
    w = rng.random(100)
    np.testing.assert_allclose(matmat(x, y), x @ y, rtol=1e-12)
    np.testing.assert_allclose(vecmat(w, y), w @ y, rtol=1e-12)

    metrics = {}
    for label, compiled, reference in (
        ("tensordot_100x100_matrix_matrix", lambda: matmat(x, y), lambda: np.tensordot(x, y, 1)),
        ("tensordot_100_vector_matrix", lambda: vecmat(w, y), lambda: np.tensordot(w, y, 1)),
    ):
        t_graph = best_time(compiled)
        t_numpy = best_time(reference)
        metrics[label] = {
            "gammaprob": t_graph,
            "numpy": t_numpy,
            "ratio": t_numpy / t_graph,
            "unit": "s",
        }
    write_results(
        "blas",
        metrics,
        extra={
            "pytensor_linker": linker,
            "note": "ratio = numpy time / compiled-graph time; the graph includes pytensor's "
            "per-call overhead (a few microseconds). No warning was emitted while compiling.",
        },
        packages=("scipy",),
    )


if __name__ == "__main__":
    main()
