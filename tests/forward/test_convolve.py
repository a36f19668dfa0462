"""The FFT convolution Op: equal to scipy's direct convolution, gradients of first and second
order; its numba form (rocket-fft, no object mode) equals scipy's and is cached on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key
from scipy.signal import convolve

from gammaprob.forward.convolve import FFTConvolve, KernelFFT, convolve_images


def test_equals_direct_convolution_broadcast_and_batched(rng):
    kernels = rng.uniform(size=(3, 5, 7))
    image = rng.uniform(size=(6, 9))
    images = rng.uniform(size=(3, 6, 9))
    x, xs = pt.matrix("x", shape=(6, 9)), pt.tensor3("xs", shape=(3, 6, 9))
    f = pytensor.function([x, xs], [convolve_images(x, kernels), convolve_images(xs, kernels)])
    one, many = f(image, images)
    for i in range(3):
        np.testing.assert_allclose(one[i], convolve(image, kernels[i], method="direct"), atol=1e-13)
        np.testing.assert_allclose(
            many[i], convolve(images[i], kernels[i], method="direct"), atol=1e-13
        )


def test_gradients(rng):
    kernels = rng.uniform(size=(3, 5, 7))
    weights = rng.uniform(size=(3, 10, 15))
    pytensor.gradient.verify_grad(
        lambda a: (convolve_images(a, kernels) * weights).sum(),
        [rng.uniform(size=(6, 9))],
        rng=rng,
        mode="FAST_COMPILE",
    )
    probe = rng.uniform(size=(3, 6, 9))

    def second(a):
        grad = pt.grad((convolve_images(a, kernels) ** 2).sum(), a)
        return (grad * probe).sum()

    pytensor.gradient.verify_grad(
        second, [rng.uniform(size=(3, 6, 9))], rng=rng, mode="FAST_COMPILE"
    )


def _scipy_reference(mode, x, kernels, image_shape, batch):
    """The scipy FFT products FFTConvolve evaluated in numba object mode before (complex)."""
    from scipy import fft

    out_shape = tuple(n + k - 1 for n, k in zip(image_shape, kernels.shape[1:], strict=True))
    shape = tuple(fft.next_fast_len(n, real=True) for n in out_shape)
    spectra = fft.rfft2(kernels, s=shape)
    if mode == "full":
        out = fft.irfft2(fft.rfft2(x, s=shape) * spectra, s=shape)
        return out[:, : out_shape[0], : out_shape[1]]
    spectrum = fft.rfft2(x, s=shape) * np.conj(spectra)
    if batch == 1:
        spectrum = spectrum.sum(axis=0, keepdims=True)
    return fft.irfft2(spectrum, s=shape)[:, : image_shape[0], : image_shape[1]]


@pytest.mark.parametrize("mode", ["full", "adjoint"])
@pytest.mark.parametrize("batch", [1, 4])
def test_numba_form_equals_scipy_without_object_mode(rng, mode, batch):
    kernels = rng.uniform(size=(4, 9, 7))
    image_shape = (13, 11)
    kernel = KernelFFT(kernels, image_shape)
    op = FFTConvolve(kernel, mode, batch)
    shape = (batch, *image_shape) if mode == "full" else (4, *kernel.out_shape)
    x0 = rng.normal(size=shape)
    x = pt.tensor3("x", shape=shape)
    expected = _scipy_reference(mode, x0, kernels, image_shape, batch)
    node = op.make_node(x)
    _, key = numba_funcify_and_cache_key(op, node=node)
    assert key is not None  # a cacheable numba form, not pytensor's object-mode fallback
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Numba will use object mode" or "Cannot cache"
        for backend in ("NUMBA", "FAST_COMPILE"):
            out = pytensor.function([x], op(x), mode=backend)(x0)
            np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_no_numba_object_mode_in_the_package():
    """The forward-folding graph runs without Python object mode: no ``objmode`` in src."""
    import gammaprob

    root = Path(gammaprob.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "objmode" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


_CACHE_SCRIPT = """
import json, sys, time
import numpy as np
import pytensor, pytensor.tensor as pt
from gammaprob.forward.convolve import convolve_images
kernels = np.random.default_rng(1).uniform(size=(40, 33, 33))  # spectra 1.3 MB > numba's 1 MB
x = pt.tensor3("x", shape=(1, 32, 32))
out = convolve_images(x, kernels)
start = time.perf_counter()
f = pytensor.function([x], [out, pt.grad((out**2).sum(), x)], mode="NUMBA")
value, grad = f(np.ones((1, 32, 32)))  # numba compiles (or loads) on the first call
seconds = time.perf_counter() - start
print(json.dumps([seconds, float(value.sum()), float(grad.sum())]))
"""


@pytest.mark.slow
def test_second_process_loads_the_compiled_op_from_numbas_cache(tmp_path):
    """Kernels beyond numba's 1 MB frozen-array limit: the Op is still cached on disk."""
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path}"}

    def run():
        done = subprocess.run(
            [sys.executable, "-W", "error", "-c", _CACHE_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout.splitlines()[-1])

    def op_files():
        files = (tmp_path / "numba").glob("*gammaprob-fft-convolve-*")
        return {path.name: path.stat().st_mtime_ns for path in files}

    first = run()
    cached = op_files()
    # the forward Op and its adjoint: an index and compiled code each
    assert sum(name.endswith(".nbi") for name in cached) == 2
    assert sum(name.endswith(".nbc") for name in cached) == 2
    second = run()
    assert op_files() == cached  # loaded, not compiled and stored again
    assert second[1:] == first[1:]
