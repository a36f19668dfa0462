"""Map likelihood that follows the sources: equal to the dense graph, exact gradients, generative."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import get_mode

from gammaprob.forward import MapFold, build_params, nominal_positions
from gammaprob.forward.map_response import MapResponse
from gammaprob.likelihood import add_likelihood
from gammaprob.likelihood.map_sparse import FusedMapPoisson
from gammaprob.likelihood.poisson import poisson_logp
from gammaprob.modeling import (
    FoVBackgroundModel,
    LogNormal,
    LogUniform,
    Normal,
    SkyModel,
    spatial,
    spectral,
)

N_TRUE, N_RECO, N, PIX = 4, 3, 61, 0.02
DENSE = get_mode("NUMBA").excluding("gammaprob_fused_map_poisson")


def _response(rng, helpers) -> MapResponse:
    """A 61 x 61 map; part of the mask off and a few bins with counts but no background."""
    arrays = helpers.grid_arrays(
        rng,
        n_true=N_TRUE,
        n_reco=N_RECO,
        n=N,
        pix=PIX,
        sigmas=[0.06, 0.05, 0.04, 0.03],
        exposure=lambda lon, lat: np.full((N_TRUE, N, N), 1e12) * (1 + 0.3 * lon[None] ** 2),
        signal_counts=0.5,
    )
    # bins with counts but no background (full terms at every call), where the sources shine:
    # far from them ``2 log s`` of a tail ``s`` of 1e-10 counts makes the gradient ill-conditioned
    arrays["background"][1, 29:31, 31:33] = 0.0
    arrays["counts"][1, 29:31, 31:33] = 2
    mask = np.ones((N_RECO, N, N), bool)
    mask[0, :, :6] = False
    return MapResponse.from_arrays("syn", **arrays, mask_safe=mask, psf_energy="true")


def _models(point: bool = False, n_extended: int = 1, gradient: bool = False):
    models = []
    for i in range(n_extended):
        models.append(
            SkyModel(
                spectral=spectral.PowerLaw(
                    index=Normal(2.2, 0.2),
                    amplitude=LogUniform(1e-13, 1e-11, unit="cm-2 s-1 TeV-1"),
                    reference=1.0,
                ),
                spatial=spatial.Gaussian(
                    lon_0=Normal(0.05 * i, 0.02, unit="deg"),
                    lat_0=Normal(-0.03 * i, 0.02, unit="deg"),
                    sigma=LogUniform(0.02, 0.3, unit="deg"),
                    frame="galactic",
                ),
                name=f"ext{i}",
            )
        )
    if point:
        models.append(
            SkyModel(
                spectral=spectral.PowerLaw(
                    index=Normal(2.5, 0.2),
                    amplitude=LogUniform(1e-13, 1e-11, unit="cm-2 s-1 TeV-1"),
                    reference=1.0,
                ),
                spatial=spatial.Point(
                    lon_0=Normal(-0.25, 0.01, unit="deg"),
                    lat_0=Normal(0.2, 0.01, unit="deg"),
                    frame="galactic",
                ),
                name="pt",
            )
        )
    extra = {
        "gradient_lon": Normal(0.0, 0.05, unit="deg-1"),
        "gradient_lat": Normal(0.0, 0.05, unit="deg-1"),
    }
    models.append(
        FoVBackgroundModel(
            dataset_name="syn",
            norm=LogNormal(0.0, 0.1),
            tilt=Normal(0.0, 0.1),
            **(extra if gradient else {}),
        )
    )
    return models


def _model(response, models):
    """The PyMC model, its observed term, the dense reference (the former graph), fold, npred."""
    with pm.Model() as model, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        params = build_params(models)
        npred = add_likelihood([response], models, params)["syn"]
        fold = MapFold.build(response, models, nominal_positions(models))
        dense = pt.sum(poisson_logp(_reference_npred(fold, params, models), fold.counts))
    # the dense npred of the draws, in the value variables
    reference, npred = model.replace_rvs_by_values([dense, npred])
    return model, model["syn::counts"], reference, fold, npred


def _reference_npred(fold, params, models):
    """npred of the former dense graph, each point source on the pixels it reaches alone.

    The dense graph evaluates a point source on every cutout pixel, so also beyond its 99.9 %
    containment radius wherever an extended source widens the cutout; the likelihood that
    follows the sources keeps it on its own reach (as for a point source alone).
    """
    signal = fold.signal_cutout(params)
    if fold.sources:
        own = [m for m in models if m in fold.sources or m.name == "syn-bkg"]
        alone = MapFold.build(fold.response, own, nominal_positions(own))
        beyond = ~np.isin(fold.cutout, alone.cutout)
        assert beyond.any()
        points = replace(fold, extended=(), gathers=()).signal_cutout(params)
        signal = signal - points * beyond[None, :]
    reference = replace(fold)
    object.__setattr__(reference, "signal_cutout", lambda params, **kwargs: signal)
    return reference.npred(params)


def _points(model, n, seed):
    """Points near the prior centre: positions within 0.02 deg, other values within ~0.3."""
    rng = np.random.default_rng(seed)
    start = model.initial_point()
    for _ in range(n):
        yield [
            start[v.name] + rng.normal(0, 0.02 if v.name.endswith(("lon_0", "lat_0")) else 0.3)
            for v in model.value_vars
        ]


@pytest.mark.parametrize(
    ("point", "n_extended"), [(False, 1), (True, 1), (True, 2)], ids=["ext", "ext+pt", "2ext+pt"]
)
def test_equals_dense_graph_value_and_gradient(rng, helpers, point, n_extended):
    response = _response(rng, helpers)
    model, observed, reference, fold, _ = _model(response, _models(point, n_extended))
    assert fold.dense_reason is None and "likelihood follows the sources" in repr(fold)
    values = model.value_vars
    ours = model.logp(vars=[observed])
    fused = pytensor.function(values, [ours, *pt.grad(ours, values)], mode="NUMBA")
    nodes = [n.op for n in fused.maker.fgraph.apply_nodes]
    assert sum(isinstance(op, FusedMapPoisson) for op in nodes) == 1
    dense = pytensor.function(values, [reference, *pt.grad(reference, values)], mode=DENSE)
    unfused = pytensor.function(values, [ours, *pt.grad(ours, values)], mode=DENSE)
    for args in _points(model, 3, seed=n_extended):
        got, want, plain = fused(*args), dense(*args), unfused(*args)
        assert np.isfinite(want[0])
        # every entry is a sum over the same ~1e4 bins as logp: rounding scales with |logp|
        scale = 1e-10 * abs(want[0])
        for a, b, c in zip(got, want, plain, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=scale)
            np.testing.assert_allclose(c, b, rtol=1e-10, atol=scale)


def test_gradient_matches_finite_differences(rng, helpers):
    response = _response(rng, helpers)
    model, observed, *_ = _model(response, _models(point=True))
    values = model.value_vars
    ours = model.logp(vars=[observed])
    f = pytensor.function(values, ours, mode="NUMBA")
    g = pytensor.function(values, pt.grad(ours, values), mode="NUMBA")
    (args,) = _points(model, 1, seed=7)
    grads = g(*args)
    # logp ~ 2e4 and the box edge moves with the parameters (a tail below 1e-5 of the peak
    # enters or leaves), so central differences are good to ~1e-5 relative, not better
    h = 1e-5
    for i, x in enumerate(args):
        up = [a if k != i else x + h for k, a in enumerate(args)]
        down = [a if k != i else x - h for k, a in enumerate(args)]
        numeric = (f(*up) - f(*down)) / (2 * h)
        np.testing.assert_allclose(grads[i], numeric, rtol=2e-4, atol=1e-3)


def test_pointwise_logp_and_predictive_draws(rng, helpers):
    response = _response(rng, helpers)
    models = _models(point=True)
    model, observed, _, fold, npred = _model(response, models)
    values = model.value_vars
    (args,) = _points(model, 1, seed=3)
    # per-bin values (LOO, compute_log_likelihood) equal the dense per-bin Poisson terms
    pointwise = pytensor.function(values, model.logp(vars=[observed], sum=False)[0], mode="NUMBA")
    mu = pytensor.function(values, npred, mode="NUMBA", on_unused_input="ignore")(*args)
    expected = pytensor.function([], poisson_logp(pt.as_tensor(mu), fold.counts))()
    np.testing.assert_allclose(pointwise(*args), expected, rtol=1e-12)
    assert pointwise(*args).shape == fold.counts.shape
    # prior and posterior predictive draws are Poisson of the dense npred
    with model:
        prior = pm.sample_prior_predictive(draws=20, random_seed=1)
        point = dict(zip([v.name for v in values], args, strict=True))
        trace = pm.sample_posterior_predictive(
            _as_posterior(model, point), random_seed=2, progressbar=False
        )
    draws = prior["prior_predictive"]["syn::counts"].values
    assert draws.shape[-1] == fold.counts.size and np.all(draws >= 0)
    post = np.asarray(trace["posterior_predictive"]["syn::counts"].values).reshape(-1, mu.size)
    assert post.dtype.kind == "i" and post.shape[1] == fold.counts.size
    # one draw of ~1e4 bins: the summed counts are within 5 sigma of the summed npred
    assert abs(post.sum() / post.shape[0] - mu.sum()) < 5 * np.sqrt(mu.sum())


def _as_posterior(model, value_point):
    """One-draw posterior (untransformed values) from a point of the value variables."""
    import xarray as xr

    fn = model.compile_fn(model.unobserved_value_vars, inputs=model.value_vars, point_fn=False)
    names = [v.name for v in model.unobserved_value_vars]
    arrays = fn(*[value_point[v.name] for v in model.value_vars])
    return xr.Dataset(
        {
            name: (("chain", "draw", *[f"{name}_{i}" for i in range(np.ndim(a))]), a[None, None])
            for name, a in zip(names, map(np.asarray, arrays), strict=True)
        }
    )


def test_dense_path_kept_and_named(rng, helpers):
    response = _response(rng, helpers)
    with_gradient = MapFold.build(
        response, _models(gradient=True), nominal_positions(_models(gradient=True))
    )
    assert with_gradient.dense_reason == "FoV background gradient"
    assert "dense: FoV background gradient" in repr(with_gradient)
    points_only = [m for m in _models(point=True) if m.name != "ext0"]
    fold = MapFold.build(response, points_only, nominal_positions(points_only))
    assert fold.dense_reason == "no extended source on a following box"
    model, observed, reference, *_ = _model(response, _models(gradient=True))
    values = model.value_vars
    ours = model.logp(vars=[observed])
    f = pytensor.function(values, ours, mode="NUMBA")
    assert not any(isinstance(n.op, FusedMapPoisson) for n in f.maker.fgraph.apply_nodes)
    (args,) = _points(model, 1, seed=4)
    np.testing.assert_allclose(f(*args), pytensor.function(values, reference)(*args), rtol=1e-12)


def test_logp_graph_holds_no_dense_bin_array(rng, helpers):
    """Compiled logp + gradient: no array of every cutout bin, only the boxes' own outputs."""
    response = _response(rng, helpers)
    model, observed, _, fold, _ = _model(response, _models())
    values = model.value_vars
    ours = model.logp(vars=[observed])
    f = pytensor.function(values, [ours, *pt.grad(ours, values)], mode="NUMBA")
    n_bins = N_RECO * fold.cutout.size
    for node in f.maker.fgraph.apply_nodes:
        if type(node.op).__name__ in ("FollowingBoxConvolve", "FusedMapPoisson"):
            continue
        for out in node.outputs:
            shape = out.type.shape
            assert None in shape or np.prod(shape, dtype=int) < n_bins, node


def _template_models():
    from gammaprob.maps import Map, WcsGeom

    geom = WcsGeom.create(skydir=(0.0, 0.0), binsz=0.01, width=(0.8, 0.8), frame="galactic")
    coords = geom.get_coord()
    lon, lat = (np.asarray(coords.lon) + 180.0) % 360.0 - 180.0, np.asarray(coords.lat)
    image = np.exp(-0.5 * (lon**2 + (lat - 0.05) ** 2) / 0.08**2) + 1e-3
    template = SkyModel(
        spectral=spectral.PowerLaw(
            index=Normal(2.2, 0.2),
            amplitude=LogUniform(1e-13, 1e-11, unit="cm-2 s-1 TeV-1"),
            reference=1.0,
        ),
        spatial=spatial.Template(Map.from_geom(geom, data=image)),
        name="tpl",
    )
    return [template, *_models()]


def test_template_follows_with_one_convolution(rng, helpers):
    """A template (no free spatial parameter) takes the fused path; its image is convolved once."""
    from gammaprob.forward import npred_map
    from gammaprob.forward.following_box import FollowingBoxConvolve

    response = _response(rng, helpers)
    models = _template_models()
    model, observed, reference, fold, npred = _model(response, models)
    template = next(s for s in fold.extended if s.name == "tpl")
    assert template.follows and fold.dense_reason is None
    values = model.value_vars
    ours = model.logp(vars=[observed])
    fused = pytensor.function(values, [ours, *pt.grad(ours, values)], mode="NUMBA")
    assert any(isinstance(n.op, FusedMapPoisson) for n in fused.maker.fgraph.apply_nodes)
    boxes = [n.op.box for n in fused.maker.fgraph.apply_nodes if type(n.op) is FollowingBoxConvolve]
    assert sum(box.constant is not None and not box.free for box in boxes) == 1
    dense = pytensor.function(values, [reference, *pt.grad(reference, values)], mode=DENSE)
    for args in _points(model, 2, seed=11):
        got, want = fused(*args), dense(*args)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * abs(want[0]))
    # the predicted counts equal the numpy reference (image on the static box, FFT by scipy)
    (args,) = _points(model, 1, seed=12)
    point = dict(zip([v.name for v in values], args, strict=True))
    mu = pytensor.function(values, npred, on_unused_input="ignore")(*args)[: fold.inside.size]
    untransformed = model.compile_fn(model.unobserved_value_vars)(point)
    named = dict(zip([v.name for v in model.unobserved_value_vars], untransformed, strict=True))
    params = {  # fixed values, then the free ones at the point
        f"{m.name}::{name}": value
        for m in models
        for component in (getattr(m, "spectral", None), getattr(m, "spatial", None))
        if component is not None
        for name, value in component.values().items()
    }
    params.update({name: float(named[name]) for name in named if "::" in name})
    expected = npred_map(response, models, params)[:, fold.cutout].reshape(-1)[fold.inside]
    np.testing.assert_allclose(mu, expected, rtol=0, atol=1e-9 * expected.max())
