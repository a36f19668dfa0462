"""Batched 2D convolution of images with constant kernels, as a pytensor Op (FFT).

``convolve_images(images, kernels)`` is the full linear convolution of every image with the
kernel of the same batch index (one image may be broadcast against all kernels). The kernels
are constants (PSF kernels built once per dataset), so their FFTs are computed once
(:class:`KernelFFT`); a call costs one forward FFT per image and one inverse FFT per output.
The gradient with respect to the images is the adjoint (a correlation with the same kernels,
``mode="adjoint"``), whose gradient is in turn the convolution, so derivatives of any order
stay FFT products.

The kernels' transforms enter the Op as a constant float64 input (:attr:`KernelFFT.spectra`,
real and imaginary parts), not as arrays captured by the compiled code, so the compiled Op
depends only on the shapes: numba caches it on disk whatever the kernels' size, and a second
process with the same shapes loads it instead of compiling it. The Op runs in compiled numba
graphs as ``numpy.fft`` products inside numba (rocket-fft, no object mode), in JAX graphs as
``jax.numpy.fft`` products (numpyro) and in the C/Python backends through
:meth:`FFTConvolve.perform` (scipy's FFT); all give the same numbers to rounding. It is off the
default path: extended sources are convolved by the following-box Op
(:mod:`gammaprob.forward.following_box`); this Op serves the PSF per reconstructed energy
(HAWC), ``psf_mode="kernel"`` and models that are not elementwise in the coordinates.
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
        #: ``(2, B, fft_h, fft_w // 2 + 1)``: real and imaginary parts of ``kernels_fft``
        self.spectra = np.ascontiguousarray(
            np.stack([self.kernels_fft.real, self.kernels_fft.imag])
        )
        digest = hashlib.sha1(kernels.tobytes()).hexdigest()
        self._key = (digest, kernels.shape, self.image_shape)

    def __eq__(self, other) -> bool:
        return isinstance(other, KernelFFT) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def convolve(self, images: np.ndarray) -> np.ndarray:
        """Full convolution ``(B or 1, H, W) -> (B, H + h - 1, W + w - 1)`` (scipy)."""
        return _convolve_scipy(images, self.spectra, self.fft_shape, self.out_shape)

    def adjoint(self, grads: np.ndarray, batch: int) -> np.ndarray:
        """Adjoint of :meth:`convolve`: ``(B, H + h - 1, W + w - 1) -> (batch, H, W)`` (scipy)."""
        return _adjoint_scipy(grads, self.spectra, self.fft_shape, self.image_shape, batch)

    def __repr__(self) -> str:
        return f"KernelFFT({self.kernels.shape[0]} kernels {self.kernels.shape[1:]}, images {self.image_shape})"


def _convolve_scipy(images, spectra, fft_shape, out_shape):
    """Full convolution of ``images`` with the kernels whose ``spectra`` are given (scipy)."""
    spectrum = fft.rfft2(images, s=fft_shape) * (spectra[0] + 1j * spectra[1])
    out = fft.irfft2(spectrum, s=fft_shape)[:, : out_shape[0], : out_shape[1]]
    return np.ascontiguousarray(out)


def _adjoint_scipy(grads, spectra, fft_shape, image_shape, batch):
    """Adjoint of :func:`_convolve_scipy` (a correlation with the kernels), ``batch`` images."""
    spectrum = fft.rfft2(grads, s=fft_shape) * (spectra[0] - 1j * spectra[1])
    if batch == 1:
        spectrum = spectrum.sum(axis=0, keepdims=True)
    out = fft.irfft2(spectrum, s=fft_shape)
    return np.ascontiguousarray(out[:, : image_shape[0], : image_shape[1]])


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
        """Apply the Op to a 3-d float64 tensor (the kernels' spectra are a constant input)."""
        images = pt.as_tensor_variable(images).astype("float64")
        if images.type.ndim != 3:
            raise TypeError("FFTConvolve takes 3-d inputs")
        n_kernels = self.kernel.kernels.shape[0]
        shape = (
            (n_kernels, *self.kernel.out_shape)
            if self.mode == "full"
            else (self.batch, *self.kernel.image_shape)
        )
        spectra = pt.constant(self.kernel.spectra, name="kernel_spectra")
        return Apply(self, [images, spectra], [pt.tensor(dtype="float64", shape=shape)])

    def perform(self, node, inputs, output_storage):
        """Evaluate with scipy's FFTs."""
        x, spectra = inputs
        kernel = self.kernel
        if self.mode == "full":
            out = _convolve_scipy(x, spectra, kernel.fft_shape, kernel.out_shape)
        else:
            out = _adjoint_scipy(x, spectra, kernel.fft_shape, kernel.image_shape, self.batch)
        output_storage[0][0] = out

    def connection_pattern(self, node):
        """Connect the output to the images only (the spectra are constants)."""
        return [[True], [False]]

    def pullback(self, inputs, outputs, output_grads):
        """Gradient: the adjoint of the full convolution, and vice versa."""
        from pytensor.gradient import DisconnectedType

        (grad,) = output_grads
        other = "adjoint" if self.mode == "full" else "full"
        return [FFTConvolve(self.kernel, other, self.batch)(grad), DisconnectedType()()]


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


#: Bump when the numba form changes (its compiled code is cached on disk under this version).
_NUMBA_VERSION = 1


def _register_numba() -> None:
    """Run the Op in numba-compiled graphs: ``numpy.fft`` inside numba (rocket-fft).

    The compiled function captures only the shapes (the spectra are an input), so its cache
    key is the mode, the batch and the shapes, and numba caches it on disk.
    """
    import rocket_fft  # noqa: F401  (registers numpy.fft for numba)
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key

    @register_funcify_and_cache_key(FFTConvolve)
    def _numba_fft_convolve(op, node=None, **kwargs):
        kernel = op.kernel
        fft_shape, (n_rows, n_cols) = kernel.fft_shape, kernel.out_shape
        image_rows, image_cols = kernel.image_shape
        sum_batches = op.batch == 1

        @numba_njit
        def full(x, spectra):
            spectrum = np.fft.rfft2(x, s=fft_shape) * (spectra[0] + 1j * spectra[1])
            out = np.fft.irfft2(spectrum, s=fft_shape)
            return np.ascontiguousarray(out[:, :n_rows, :n_cols])

        @numba_njit
        def adjoint(x, spectra):
            spectrum = np.fft.rfft2(x, s=fft_shape) * (spectra[0] - 1j * spectra[1])
            if sum_batches:
                total = np.zeros((1, *spectrum.shape[1:]), dtype=spectrum.dtype)
                for b in range(spectrum.shape[0]):
                    total[0] += spectrum[b]
                spectrum = total
            out = np.fft.irfft2(spectrum, s=fft_shape)
            return np.ascontiguousarray(out[:, :image_rows, :image_cols])

        shapes = (
            _NUMBA_VERSION,
            op.mode,
            op.batch,
            fft_shape,
            kernel.out_shape,
            kernel.image_shape,
        )
        key = "gammaprob-fft-convolve-" + hashlib.sha256(repr(shapes).encode()).hexdigest()
        return (full if op.mode == "full" else adjoint), key


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
        fft_shape, (n_rows, n_cols) = kernel.fft_shape, kernel.out_shape
        image_rows, image_cols = kernel.image_shape

        def full(x, spectra):
            spectrum = jnp.fft.rfft2(x, s=fft_shape) * (spectra[0] + 1j * spectra[1])
            return jnp.fft.irfft2(spectrum, s=fft_shape)[:, :n_rows, :n_cols]

        def adjoint(x, spectra):
            spectrum = jnp.fft.rfft2(x, s=fft_shape) * (spectra[0] - 1j * spectra[1])
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
