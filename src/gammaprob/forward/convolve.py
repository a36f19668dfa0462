"""Batched 2D convolution of images with constant kernels, as a pytensor Op (FFT).

``convolve_images(images, kernels)`` is the full linear convolution of every image with the
kernel of the same batch index (one image may be broadcast against all kernels). The kernels
are constants (PSF kernels built once per dataset), so their FFTs are computed once
(:class:`KernelFFT`); a call costs one forward FFT per image and one inverse FFT per output.
The gradient with respect to the images is the adjoint (a correlation with the same kernels,
``mode="adjoint"``), whose gradient is in turn the convolution, so derivatives of any order
stay FFT products.

The Op runs in compiled numba graphs through an explicitly registered object-mode call, in JAX
graphs as ``jax.numpy.fft`` products (numpyro, blackjax) and in the C/Python backends through
:meth:`FFTConvolve.perform`. It is off the default path: extended sources are convolved by the
following-box Op (numba FFTs, :mod:`gammaprob.forward.following_box`); this Op serves only the
PSF per reconstructed energy (HAWC) and models that are not elementwise in the coordinates.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from scipy import fft

__all__ = ["FFTConvolve", "KernelFFT", "convolve_images"]

_MODES = ("full", "adjoint")


class KernelFFT:
    """Constant kernels ``(B, h, w)`` with their FFTs for images of shape ``(H, W)``.

    Parameters
    ----------
    kernels : numpy.ndarray
        ``(B, h, w)`` kernels.
    image_shape : tuple of int
        ``(H, W)`` of the images they are applied to.
    """

    def __init__(self, kernels: np.ndarray, image_shape: tuple[int, int]):
        kernels = np.ascontiguousarray(kernels, dtype=np.float64)
        if kernels.ndim != 3:
            raise ValueError(f"kernels must be (B, h, w), got shape {kernels.shape}")
        self.kernels = kernels
        self.image_shape = tuple(int(n) for n in image_shape)
        self.out_shape = tuple(
            n + k - 1 for n, k in zip(self.image_shape, kernels.shape[1:], strict=True)
        )
        self.fft_shape = tuple(fft.next_fast_len(n, real=True) for n in self.out_shape)
        self.kernels_fft = fft.rfft2(kernels, s=self.fft_shape)
        digest = hashlib.sha1(kernels.tobytes()).hexdigest()
        self._key = (digest, kernels.shape, self.image_shape)

    def __eq__(self, other) -> bool:
        return isinstance(other, KernelFFT) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def convolve(self, images: np.ndarray) -> np.ndarray:
        """Full convolution ``(B or 1, H, W) -> (B, H + h - 1, W + w - 1)`` (numpy)."""
        spectrum = fft.rfft2(images, s=self.fft_shape) * self.kernels_fft
        out = fft.irfft2(spectrum, s=self.fft_shape)[:, : self.out_shape[0], : self.out_shape[1]]
        return np.ascontiguousarray(out)

    def adjoint(self, grads: np.ndarray, batch: int) -> np.ndarray:
        """Adjoint of :meth:`convolve`: ``(B, H + h - 1, W + w - 1) -> (batch, H, W)``."""
        spectrum = fft.rfft2(grads, s=self.fft_shape) * np.conj(self.kernels_fft)
        if batch == 1:
            spectrum = spectrum.sum(axis=0, keepdims=True)
        out = fft.irfft2(spectrum, s=self.fft_shape)
        return np.ascontiguousarray(out[:, : self.image_shape[0], : self.image_shape[1]])

    def __repr__(self) -> str:
        return f"KernelFFT({self.kernels.shape[0]} kernels {self.kernels.shape[1:]}, images {self.image_shape})"


class FFTConvolve(Op):
    """Convolution of ``(B or 1, H, W)`` images with constant kernels, or its adjoint.

    Parameters
    ----------
    kernel : KernelFFT
        The kernels and their FFTs.
    mode : {"full", "adjoint"}
        ``"full"``: images ``(B or 1, H, W)`` -> ``(B, H + h - 1, W + w - 1)``;
        ``"adjoint"``: the transposed map, ``(B, H + h - 1, W + w - 1)`` -> ``(batch, H, W)``.
    batch : int
        Leading size of the images (1: one image for all kernels, or ``B``).
    """

    __props__ = ("kernel", "mode", "batch")

    def __init__(self, kernel: KernelFFT, mode: str = "full", batch: int = 1):
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self.kernel = kernel
        self.mode = mode
        self.batch = int(batch)

    def make_node(self, images):
        """Apply the Op to a 3-d float64 tensor."""
        images = pt.as_tensor_variable(images).astype("float64")
        if images.type.ndim != 3:
            raise TypeError("FFTConvolve takes 3-d inputs")
        n_kernels = self.kernel.kernels.shape[0]
        shape = (
            (n_kernels, *self.kernel.out_shape)
            if self.mode == "full"
            else (self.batch, *self.kernel.image_shape)
        )
        return Apply(self, [images], [pt.tensor(dtype="float64", shape=shape)])

    def perform(self, node, inputs, output_storage):
        """Evaluate with numpy/scipy FFTs."""
        (x,) = inputs
        if self.mode == "full":
            output_storage[0][0] = self.kernel.convolve(x)
        else:
            output_storage[0][0] = self.kernel.adjoint(x, self.batch)

    def pullback(self, inputs, outputs, output_grads):
        """Gradient: the adjoint of the full convolution, and vice versa."""
        (grad,) = output_grads
        other = "adjoint" if self.mode == "full" else "full"
        return [FFTConvolve(self.kernel, other, self.batch)(grad)]


def convolve_images(images, kernels):
    """Full 2D convolution of images with constant kernels (tensor in, tensor out).

    Parameters
    ----------
    images : tensor
        ``(H, W)`` (one image for every kernel) or ``(B, H, W)``.
    kernels : numpy.ndarray or KernelFFT
        ``(B, h, w)`` constant kernels.

    Returns
    -------
    tensor
        ``(B, H + h - 1, W + w - 1)``.
    """
    images = pt.as_tensor_variable(images)
    if images.type.ndim == 2:
        images = images[None, :, :]
    shape = images.type.shape[1:]
    if not isinstance(kernels, KernelFFT):
        if None in shape:
            raise ValueError("convolve_images needs images with a static (H, W) shape")
        kernels = KernelFFT(kernels, shape)
    batch = images.type.shape[0]
    if batch is None:
        raise ValueError("convolve_images needs images with a static leading size")
    return FFTConvolve(kernels, "full", batch)(images)


def _register_numba() -> None:
    """Run the Op in numba-compiled graphs through object mode (scipy's FFT)."""
    import numba
    from pytensor.link.numba.dispatch.basic import (
        get_numba_type,
        numba_funcify,
        numba_njit,
    )

    @numba_funcify.register(FFTConvolve)
    def _numba_fft_convolve(op, node, **kwargs):
        out_type = get_numba_type(node.outputs[0].type)

        def evaluate(x):
            if op.mode == "full":
                return op.kernel.convolve(x)
            return op.kernel.adjoint(x, op.batch)

        @numba_njit
        def fft_convolve(x):
            with numba.objmode(out=out_type):
                out = evaluate(x)
            return out

        return fft_convolve


_register_numba()


_JAX_REGISTERED = []


def _register_jax() -> None:
    """Run the Op in JAX graphs with ``jax.numpy.fft`` (registered on the first JAX compile)."""
    if _JAX_REGISTERED:
        return
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(FFTConvolve)
    def _jax_fft_convolve(op, node=None, **kwargs):
        import jax.numpy as jnp

        kernel = op.kernel
        spectra = jnp.asarray(kernel.kernels_fft)
        fft_shape, (n_rows, n_cols) = kernel.fft_shape, kernel.out_shape
        image_rows, image_cols = kernel.image_shape

        def full(x):
            out = jnp.fft.irfft2(jnp.fft.rfft2(x, s=fft_shape) * spectra, s=fft_shape)
            return out[:, :n_rows, :n_cols]

        def adjoint(x):
            spectrum = jnp.fft.rfft2(x, s=fft_shape) * jnp.conj(spectra)
            if op.batch == 1:
                spectrum = spectrum.sum(axis=0, keepdims=True)
            return jnp.fft.irfft2(spectrum, s=fft_shape)[:, :image_rows, :image_cols]

        return full if op.mode == "full" else adjoint

    _JAX_REGISTERED.append(True)


def _register_jax_hook() -> None:
    """Register the JAX form when a JAX graph is compiled (keeps jax out of plain imports)."""
    from pytensor.compile import optdb
    from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter

    @node_rewriter([FFTConvolve])
    def _register_on_jax_compile(fgraph, node):
        _register_jax()
        return None

    optdb.register(
        "gammaprob_fft_convolve_jax", dfs_rewriter(_register_on_jax_compile), "jax", position=100
    )


_register_jax_hook()
