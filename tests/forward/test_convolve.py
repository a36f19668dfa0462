"""The FFT convolution Op: equal to scipy's direct convolution, gradients of first and second order."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
from scipy.signal import convolve

from gammaprob.forward.convolve import convolve_images


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
