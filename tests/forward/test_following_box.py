"""The following-box Op: same numbers as the static-box path, gradients, cost follows the source."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.traversal import io_toposort

import gammaprob.forward.extended as extended_module
from gammaprob.forward import MapFold, npred_map
from gammaprob.forward.following_box import FollowingBoxConvolve
from gammaprob.forward.following_box_kernels import forward_kernel, next_fast_length
from gammaprob.modeling import SkyModel, spatial, spectral

N_TRUE, N_RECO, N, PIX = 4, 3, 41, 0.02
PSF_SIGMAS = [0.06, 0.05, 0.04, 0.03]


def _response(rng, helpers):
    return helpers.grid_response(
        rng,
        n_true=N_TRUE,
        n_reco=N_RECO,
        n=N,
        pix=PIX,
        sigmas=PSF_SIGMAS,
        exposure=lambda lon, lat: (
            np.full((N_TRUE, N, N), 1e12) * np.linspace(0.9, 1.1, N)[None, None, :]
        ),
        signal_counts=3.0,
        psf_energy="true",
    )


MORPHOLOGIES = {
    "gauss": (
        lambda: spatial.Gaussian(lon_0=0.0, lat_0=0.0, sigma=0.05, frame="galactic"),
        {"sigma": 0.05},
    ),
    "disk": (
        lambda: spatial.Disk(lon_0=0.0, lat_0=0.0, r_0=0.08, edge_width=0.2, frame="galactic"),
        {"r_0": 0.08},
    ),
    "gen_gauss": (
        lambda: spatial.GeneralizedGaussian(
            lon_0=0.0, lat_0=0.0, r_0=0.05, eta=0.6, frame="galactic"
        ),
        {"r_0": 0.05},
    ),
    "shell": (
        lambda: spatial.Shell(lon_0=0.0, lat_0=0.0, radius=0.06, width=0.04, frame="galactic"),
        {"radius": 0.06},
    ),
}


def _model(kind):
    morphology, _ = MORPHOLOGIES[kind]
    return SkyModel(
        spectral=spectral.PowerLaw(index=2.2, amplitude=1e-12, reference=1.0),
        spatial=morphology(),
        name="ext",
    )


def _values(model, **changes):
    values = {f"ext::{k}": v for k, v in model.spatial.values().items()}
    values.update({"ext::index": 2.2, "ext::amplitude": 1e-12, "ext::reference": 1.0})
    values.update({f"ext::{k}": v for k, v in changes.items()})
    return values


@pytest.fixture
def response(rng, helpers):
    return _response(rng, helpers)


@pytest.mark.parametrize("separable", [True, False], ids=["lines", "nodes"])
@pytest.mark.parametrize("kind", sorted(MORPHOLOGIES))
def test_equals_static_box_and_gradients(response, helpers, monkeypatch, kind, separable):
    if not separable:  # force the sub-pixel node layout of non-separable grids
        monkeypatch.setattr(extended_module, "_separable_lines", lambda *args: None)
    model = _model(kind)
    size_name, size = next(iter(MORPHOLOGIES[kind][1].items()))
    fold = MapFold.build(
        response,
        [model],
        {"ext": (0.0, 0.0, 0.03)},
        oversampling=2,
        model_oversampling=2,
        size_quantile=0.5,
        containment=0.99,
    )
    source = fold.extended[0]
    assert source.follows and (source.lon_line is not None) == separable
    names = ("ext::lon_0", "ext::lat_0", f"ext::{size_name}")
    point = (0.006, -0.004, size)
    tensors = [pt.dscalar(n) for n in names]
    values = _values(model, lon_0=0.006, lat_0=-0.004)
    mu = fold.npred(dict(values, **dict(zip(names, tensors, strict=True))))
    ops = [n.op for n in io_toposort(tensors, [mu])]
    assert any(isinstance(op, FollowingBoxConvolve) for op in ops)
    reference = npred_map(
        response, [model], values, oversampling=2, model_oversampling=2, containment=0.99
    )[:, fold.cutout].reshape(-1)[fold.inside]
    modes = ("NUMBA", "FAST_COMPILE") if kind == "gauss" else ("FAST_COMPILE",)
    for mode in modes:
        ours = pytensor.function(tensors, mu, mode=mode)(*point)[: fold.inside.size]
        # the boxes differ by the truncation at the evaluation radius (below 1e-5 of the peak)
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6 * reference.max())

    # gradients equal those of the static-box graph (PyTensor's own autodiff through the image)
    params = dict(values, **dict(zip(names, tensors, strict=True)))
    index = fold.gathers[0]
    weights = np.random.default_rng(2).uniform(0.5, 1.5, (N_TRUE, index.size))
    following = pt.sum(weights * source.convolve_following(params, index))
    static = pt.sum(weights * source.convolve(source.image(params), index))
    f = pytensor.function(tensors, [following, *pt.grad(following, tensors)], mode="FAST_COMPILE")
    g = pytensor.function(tensors, [static, *pt.grad(static, tensors)], mode="FAST_COMPILE")
    (value, *grads), (value_ref, *grads_ref) = f(*point), g(*point)
    np.testing.assert_allclose(value, value_ref, rtol=1e-6)
    # the static box also differentiates the tail beyond the evaluation radius, which weighs
    # more in a gradient (a factor r / size) than in the value
    np.testing.assert_allclose(grads, grads_ref, rtol=1e-3, atol=1e-5 * abs(value_ref) / size)

    if kind == "gauss":
        counts = pt.as_tensor_variable(fold.counts.astype(float))

        def logp(lon, lat, width):
            m = fold.npred(dict(values, **dict(zip(names, (lon, lat, width), strict=True))))
            return (counts * pt.log(m) - m).sum()

        helpers.verify_grad(logp, list(point), seed=5)


def test_box_follows_the_source_not_the_prior(response):
    """The box at a small size is small although the static box holds a 10x larger size."""
    model = _model("gauss")
    fold = MapFold.build(
        response,
        [model],
        {"ext": (0.0, 0.0, 0.1)},
        model_oversampling=1,
        size_quantile=0.5,
    )
    source = fold.extended[0]
    params = {"ext::lon_0": pt.dscalar(), "ext::lat_0": pt.dscalar(), "ext::sigma": pt.dscalar()}
    params.update({"ext::e": 0.0, "ext::phi": 0.0})
    box = source.following_box(params, fold.gathers[0], source.kernel)
    r0, r1, c0, c1 = box.numpy_box(np.array([0.0, 0.0, 0.01]))
    # 5 sigma = 0.05 deg = 2.5 pixels each side (plus half a diagonal): 5 or 7 pixels
    assert r1 - r0 <= 7 and c1 - c0 <= 7
    assert source.box_shape[0] >= 3 * (r1 - r0)
    moved = box.numpy_box(np.array([0.2, 0.0, 0.01]))  # 0.2 deg = 10 columns to the east
    assert (moved[0], moved[1]) == (r0, r1)
    assert (moved[2] - c0, moved[3] - c1) == (10, 10)
    # a source out of reach of the static box gives an empty box and zero flux
    far = np.array([5.0, 5.0, 0.01])
    r0, r1, *_ = box.numpy_box(far)
    assert r1 <= r0
    assert not forward_kernel(box)(far).any()


def test_next_fast_length():
    for n in (1, 7, 11, 97, 101, 257, 1000):
        m = next_fast_length(n)
        assert m >= n
        rest = m
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        assert rest == 1
        assert not any(k >= n and all(_smooth(k) for _ in [0]) for k in range(n, m))  # none smaller


def _smooth(k):
    for p in (2, 3, 5):
        while k % p == 0:
            k //= p
    return k == 1


def test_pytensor_numba_entry_points_exist():
    """The PyTensor numba-backend entry points the Op relies on (fails when they change)."""
    from pytensor.link.numba.dispatch import basic

    assert callable(basic.numba_funcify_and_cache_key)
    assert callable(basic.register_funcify_and_cache_key)
    import rocket_fft  # noqa: F401  (numpy.fft inside numba)


@pytest.mark.jax
@pytest.mark.parametrize("separable", [True, False], ids=["lines", "nodes"])
def test_jax_form_equals_numba(response, monkeypatch, separable):
    """In JAX graphs the Op and its adjoint become the static-box graph (FFT by jax.numpy)."""
    if not separable:
        monkeypatch.setattr(extended_module, "_separable_lines", lambda *args: None)
    model = _model("gauss")
    fold = MapFold.build(
        response,
        [model],
        {"ext": (0.0, 0.0, 0.03)},
        oversampling=2,
        model_oversampling=2,
        size_quantile=0.5,
        containment=0.99,
    )
    names = ("ext::lon_0", "ext::lat_0", "ext::sigma")
    tensors = [pt.dscalar(n) for n in names]
    mu = fold.npred(dict(_values(model), **dict(zip(names, tensors, strict=True))))
    logp = (fold.counts * pt.log(mu) - mu).sum()
    outputs = [logp, *pt.grad(logp, tensors)]
    point = (0.006, -0.004, 0.05)
    numba_values = pytensor.function(tensors, outputs, mode="NUMBA")(*point)
    jax_values = pytensor.function(tensors, outputs, mode="JAX")(*point)
    np.testing.assert_allclose(jax_values[0], numba_values[0], rtol=1e-9)
    # gradients: the static box also differentiates the tail beyond 5 sigma
    np.testing.assert_allclose(jax_values[1:], numba_values[1:], rtol=3e-3)


def _gauss_box(response, sigma=0.05):
    model = _model("gauss")
    fold = MapFold.build(
        response, [model], {"ext": (0.0, 0.0, 0.1)}, model_oversampling=1, size_quantile=0.9
    )
    source = fold.extended[0]
    params = {"ext::lon_0": pt.dscalar(), "ext::lat_0": pt.dscalar(), "ext::sigma": pt.dscalar()}
    params.update({"ext::e": 0.0, "ext::phi": 0.0})
    return source.following_box(params, fold.gathers[0], source.kernel)


def test_tiled_convolution_equals_one_fft(response, monkeypatch):
    """Boxes larger than the largest stored FFT are convolved in tiles: same output and adjoint."""
    import gammaprob.forward.following_box_kernels as kernels_module

    box = _gauss_box(response)
    theta = np.array([0.013, -0.007, 0.05])
    r0, r1, c0, c1 = box.numpy_box(theta)
    assert min(r1 - r0, c1 - c0) >= 20  # several tiles below
    grad = np.random.default_rng(3).normal(size=(box.kernels.shape[0], box.n_out))
    one = forward_kernel(box)(theta), kernels_module.vjp_kernel(box)(theta, grad)
    h, w = r1 - r0, c1 - c0
    kh, kw = box.kernels.shape[1:]
    _, ty, tx = kernels_module.tiling(h, w, kh, kw, *_ladder_and_costs(box))
    assert (ty, tx) == (h, w)  # one FFT for the whole box
    monkeypatch.setattr(kernels_module, "MAX_FFT_SIZE", max(kh, kw) + 9)  # tiles of ~10 px
    monkeypatch.setattr(kernels_module, "_CACHE", {})
    _, ty, tx = kernels_module.tiling(h, w, kh, kw, *_ladder_and_costs(box))
    assert h // ty >= 2 and w // tx >= 2 and (h % ty, w % tx) != (0, 0)  # a remainder tile
    tiled = forward_kernel(box)(theta), kernels_module.vjp_kernel(box)(theta, grad)
    np.testing.assert_allclose(tiled[0], one[0], rtol=0, atol=1e-12 * abs(one[0]).max())
    np.testing.assert_allclose(tiled[1], one[1], rtol=1e-10)


def _ladder_and_costs(box):
    from gammaprob.forward.following_box_kernels import kernel_spectra

    ladder, _, costs, _ = kernel_spectra(box.kernels, box.solid_angle.shape)
    return ladder, costs


def test_fft_ladder_is_five_smooth_and_bounded():
    from gammaprob.forward.following_box_kernels import FFT_SIZE_RATIO, fft_ladder

    ladder = fft_ladder(67, 400, max_size=192)
    assert ladder[0] == next_fast_length(67) and ladder[-1] == 192
    assert all(_smooth(int(n)) for n in ladder)
    assert np.all(ladder[1:-1] >= FFT_SIZE_RATIO * ladder[:-2])  # the last one is the top
    # a kernel wider than the largest size still gets one size that holds it
    assert list(fft_ladder(300, 10, max_size=192)) == [next_fast_length(300)]


def test_large_captured_arrays_give_no_cache_key(response, monkeypatch):
    """numba cannot store closures over arrays above 1 MB: such boxes return no cache key."""
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

    import gammaprob.forward.following_box_kernels as kernels_module

    box = _gauss_box(response)
    op = FollowingBoxConvolve(box)
    node = op.make_node(pt.dvector())
    assert kernels_module.storable(box)
    assert numba_funcify_and_cache_key(op, node=node)[1] is not None
    monkeypatch.setattr(kernels_module, "NUMBA_FROZEN_BYTES", 1000)
    monkeypatch.setattr(kernels_module, "_CACHE", {})
    assert not kernels_module.storable(box)
    assert numba_funcify_and_cache_key(op, node=node)[1] is None


def _gen_gauss_box(response, separable, monkeypatch, **fixed):
    if not separable:
        monkeypatch.setattr(extended_module, "_separable_lines", lambda *args: None)
    model = _model("gen_gauss")
    fold = MapFold.build(
        response,
        [model],
        {"ext": (0.0, 0.0, 0.03)},
        model_oversampling=3,
        size_quantile=0.5,
        containment=0.99,
    )
    source = fold.extended[0]
    params = {f"ext::{n}": pt.dscalar() for n in ("lon_0", "lat_0", "r_0", "eta")}
    params.update({"ext::e": 0.0, "ext::phi": 0.0})
    params.update({f"ext::{n}": v for n, v in fixed.items()})
    return source.following_box(params, fold.gathers[0], source.kernel)


@pytest.mark.parametrize("separable", [True, False], ids=["lines", "nodes"])
def test_gen_gauss_profile_equals_generic_graph(response, monkeypatch, separable):
    """The hand-written generalised Gaussian kernels give the graph's numbers to 1e-10."""
    import gammaprob.forward.following_box_kernels as kernels_module
    import gammaprob.forward.following_box_profiles as profiles_module

    fast = _gen_gauss_box(response, separable, monkeypatch)
    assert fast.profile is not None and fast.separable == separable
    monkeypatch.setattr(profiles_module, "radial_profile", lambda *args: None)
    generic = _gen_gauss_box(response, separable, monkeypatch)
    assert generic.profile is None and generic.key != fast.key
    rng = np.random.default_rng(4)
    for theta in ([0.006, -0.004, 0.05, 0.6], [-0.02, 0.01, 0.03, 0.15], [0.0, 0.0, 0.08, 0.95]):
        theta = np.array(theta)
        ours, reference = forward_kernel(fast)(theta), forward_kernel(generic)(theta)
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-10 * reference.max())
        grad = rng.normal(size=reference.shape)
        np.testing.assert_allclose(
            kernels_module.vjp_kernel(fast)(theta, grad),
            kernels_module.vjp_kernel(generic)(theta, grad),
            rtol=1e-10,
        )


def test_gen_gauss_profile_only_when_circular(response, monkeypatch):
    """A free or non-zero eccentricity keeps the generic graph (its kernels are circular)."""
    assert _gen_gauss_box(response, True, monkeypatch, e=0.3).profile is None
    assert _gen_gauss_box(response, True, monkeypatch, e=pt.dscalar()).profile is None
    box = _gen_gauss_box(response, True, monkeypatch, r_0=0.05, eta=0.6)  # fixed size too
    assert box.profile is not None and box.free == ["lon_0", "lat_0"]
    theta = np.array([0.006, -0.004])
    assert forward_kernel(box)(theta).max() > 0


def test_digamma_equals_scipy():
    from scipy.special import digamma as reference

    from gammaprob.forward.following_box_profiles import digamma

    for x in (0.02, 0.3, 1.0, 1.9, 7.5, 12.0, 80.0):
        assert digamma(x) == pytest.approx(reference(x), rel=1e-14, abs=1e-14)


def test_squared_separation_series_and_arctan_branches():
    """Both branches of the squared separation equal 4 arcsin(sqrt(h))^2 and its derivative."""
    from gammaprob.forward.following_box_profiles import SERIES_HAVERSINE, _separation2

    for hav in (1e-12, 3e-6, 0.5 * SERIES_HAVERSINE, 0.999 * SERIES_HAVERSINE, 0.02, 0.4):
        sep = 2.0 * np.arcsin(np.sqrt(hav))
        slope = 2.0 * sep / np.sqrt(hav * (1.0 - hav))
        value, derivative = _separation2.py_func(hav)
        assert value == pytest.approx(sep**2, rel=1e-14)
        assert derivative == pytest.approx(slope, rel=1e-12)
