"""Batched 2D convolution of an image stack with constant kernels, as a pytensor Op.

``convolve_images(images, kernels)`` is the full linear convolution of every image with the
kernel of the same batch index (one image may be broadcast against many kernels), computed by
FFT (``scipy.signal.fftconvolve``) in a single call for the whole batch. Its gradient with
respect to the images is the same Op in ``"valid"`` mode with the flipped kernels (and vice
versa), so gradients of any order stay FFT convolutions. The kernels must be constants (they
are PSF kernels built once per dataset); the images may depend on parameters.

The Op runs inside compiled numba graphs through an explicit object-mode call (numba has no
FFT), and in the C/Python backends through :meth:`perform`.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import grad_undefined
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.variable import TensorConstant
from scipy.signal import fftconvolve

__all__ = ["FFTConvolve", "convolve_images"]

_MODES = ("full", "valid")


class FFTConvolve(Op):
    """Convolution over the last two axes of ``(B or 1, H, W)`` images with ``(B, h, w)`` kernels.

    Parameters
    ----------
    mode : {"full", "valid"}
        Output size ``(H + h - 1, W + w - 1)`` or ``(H - h + 1, W - w + 1)`` (as scipy).
    """

    __props__ = ("mode",)

    def __init__(self, mode: str = "full"):
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self.mode = mode

    def make_node(self, images, kernels):
        images = pt.as_tensor_variable(images).astype("float64")
        kernels = pt.as_tensor_variable(kernels).astype("float64")
        if images.type.ndim != 3 or kernels.type.ndim != 3:
            raise TypeError("FFTConvolve takes 3-d images (B, H, W) and kernels (B, h, w)")
        batch = kernels.type.shape[0] if images.type.shape[0] == 1 else images.type.shape[0]
        out = pt.tensor(dtype="float64", shape=(batch, None, None))
        return Apply(self, [images, kernels], [out])

    def perform(self, node, inputs, output_storage):
        images, kernels = inputs
        out = fftconvolve(images, kernels, mode=self.mode, axes=(1, 2))
        output_storage[0][0] = np.ascontiguousarray(out, dtype=np.float64)

    def pullback(self, inputs, outputs, output_grads):
        images, kernels = inputs
        (grad,) = output_grads
        other = FFTConvolve("valid" if self.mode == "full" else "full")
        grad_images = other(grad, kernels[:, ::-1, ::-1])
        if images.type.shape[0] == 1:
            grad_images = grad_images.sum(axis=0, keepdims=True)
        if isinstance(kernels, TensorConstant):
            grad_kernels = grad_undefined(self, 1, kernels, "FFTConvolve kernels are constants")
        else:
            raise NotImplementedError("FFTConvolve has no gradient with respect to its kernels")
        return [grad_images, grad_kernels]


def convolve_images(images, kernels: np.ndarray):
    """Full 2D convolution of images with constant kernels (tensor in, tensor out).

    Parameters
    ----------
    images : tensor
        ``(H, W)`` (one image for every kernel) or ``(B, H, W)``.
    kernels : numpy.ndarray
        ``(B, h, w)`` constant kernels.

    Returns
    -------
    tensor
        ``(B, H + h - 1, W + w - 1)``.
    """
    images = pt.as_tensor_variable(images)
    if images.type.ndim == 2:
        images = images[None, :, :]
    kernels = pt.constant(np.ascontiguousarray(kernels, dtype=np.float64))
    return FFTConvolve("full")(images, kernels)


def _register_numba() -> None:
    """Run the Op in numba-compiled graphs through object mode (scipy's FFT)."""
    import numba
    from pytensor.link.numba.dispatch.basic import (
        get_numba_type,
        numba_njit,
        register_funcify_default_op_cache_key,
    )

    @register_funcify_default_op_cache_key(FFTConvolve)
    def _numba_fft_convolve(op, node, **kwargs):
        out_type = get_numba_type(node.outputs[0].type)
        mode = op.mode

        def convolve(images, kernels):
            out = fftconvolve(images, kernels, mode=mode, axes=(1, 2))
            return np.ascontiguousarray(out, dtype=np.float64)

        @numba_njit
        def fft_convolve(images, kernels):
            with numba.objmode(out=out_type):
                out = convolve(images, kernels)
            return out

        return fft_convolve


_register_numba()
