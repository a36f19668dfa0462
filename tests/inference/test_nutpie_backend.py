"""nutpie backend: private API pinned and checked, cache failures reported."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytensor.tensor as pt
import pytest
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

nutpie = pytest.importorskip("nutpie")

from gammaprob.inference import nutpie_backend  # noqa: E402
from gammaprob.inference.nutpie_backend import (  # noqa: E402
    PRIVATE_API,
    SUPPORTED_NUTPIE,
    NutpieCacheWarning,
    StartGuardWarning,
    compile_nutpie,
    private_api_problems,
    sample_nutpie,
)


def test_installed_nutpie_and_private_api_are_as_expected():
    """Fails when a nutpie or PyTensor upgrade changes what the backend relies on."""
    private_api_problems.cache_clear()
    assert private_api_problems() == ()
    version = nutpie_backend._version_tuple(nutpie.__version__)
    assert SUPPORTED_NUTPIE[0] <= version < SUPPORTED_NUTPIE[1]
    # the supported range is the one pinned in pyproject.toml
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    project = pyproject["project"]
    extras = project["optional-dependencies"].values()
    requirements = [*project["dependencies"], *(r for extra in extras for r in extra)]
    pin = next(r for r in requirements if r.startswith("nutpie>="))
    low, high = re.fullmatch(r"nutpie>=([\d.]+),<([\d.]+)", pin).groups()
    assert (
        nutpie_backend._version_tuple(low),
        nutpie_backend._version_tuple(high),
    ) == SUPPORTED_NUTPIE
    for qualified in PRIVATE_API:
        assert nutpie_backend._private(qualified) is not None


def _model(size=3):
    import pymc as pm

    with pm.Model() as model:
        a = pm.Normal("a", shape=size)
        pm.Normal("y", mu=a.sum(), sigma=1.0, observed=np.array([0.5, 1.0]))
    return model


def test_changed_private_api_is_reported_and_the_public_path_used(monkeypatch):
    # a private function that disappeared, and one whose parameters changed
    monkeypatch.setitem(PRIVATE_API, "nutpie.compile_pymc:_no_such_function", ())
    make = "nutpie.compile_pymc:_compute_shapes"
    monkeypatch.setitem(PRIVATE_API, make, (*PRIVATE_API[make], "no_such_parameter"))
    private_api_problems.cache_clear()
    try:
        problems = private_api_problems()
        assert any("_no_such_function is missing" in p for p in problems)
        assert any("_compute_shapes no longer accepts ['no_such_parameter']" in p for p in problems)
        with pytest.warns(
            NutpieCacheWarning, match="_no_such_function is missing.*compile_pymc_model"
        ):
            compiled = compile_nutpie(_model())
        assert compiled.n_dim == 3
        monkeypatch.setattr(nutpie, "__version__", "0.18.0")
        private_api_problems.cache_clear()
        assert any(
            "nutpie 0.18.0 is outside the supported range" in p for p in private_api_problems()
        )
    finally:
        monkeypatch.undo()
        private_api_problems.cache_clear()


def test_entry_point_that_cannot_be_cached_is_reported(monkeypatch):
    import numba
    from numba.core.errors import NumbaWarning

    cfunc = numba.cfunc

    def uncacheable(signature, **options):  # numba's warning for an entry point it cannot cache
        def compile_(function):
            warnings.warn(
                f'Cannot cache compiled function "{function.__name__}" as it uses dynamic globals',
                NumbaWarning,
                stacklevel=2,
            )
            return cfunc(signature, **options)(function)

        return compile_

    monkeypatch.setattr(numba, "cfunc", uncacheable)
    nutpie_backend._COMPILED.clear()
    with pytest.warns(NutpieCacheWarning, match=r"entry point 'logp_entry' .* could not be cached"):
        compile_nutpie(_model(4))


def test_small_model_compiles_without_cache_warning():

    with warnings.catch_warnings():
        warnings.simplefilter("error", NutpieCacheWarning)
        compiled = compile_nutpie(_model(2))
    assert compiled.n_dim == 2


class _Doubled(Op):
    """``2 x``, with a numba implementation that has no cache key and an unpicklable attribute."""

    __props__ = ()

    def __init__(self):
        self.factor = lambda: 2.0  # pickle cannot store a lambda

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = self.factor() * inputs[0]

    def pullback(self, inputs, outputs, output_grads):
        return [self.factor() * output_grads[0]]


@register_funcify_and_cache_key(_Doubled)
def _numba_doubled(op, node=None, **kwargs):
    import numba

    @numba.njit
    def doubled(x):
        return 2.0 * x

    return doubled, None


def test_model_off_the_cached_path_is_logged_once_with_the_reason(monkeypatch, caplog):
    import pymc as pm

    monkeypatch.setattr(nutpie_backend, "_REPORTED", set())
    with pm.Model() as model:
        a = pm.Normal("a", shape=2)
        pm.Normal("y", mu=_Doubled()(a).sum(), sigma=1.0, observed=np.array([0.5, 1.0]))
    logger = "gammaprob.inference.nutpie_backend"
    with caplog.at_level(logging.INFO, logger=logger), warnings.catch_warnings():
        warnings.simplefilter("error", NutpieCacheWarning)
        first = compile_nutpie(model)
        second = compile_nutpie(model)
    messages = [r.getMessage() for r in caplog.records if r.name == logger]
    assert len(messages) == 2, messages  # each reason once, not again for the second model
    assert "not stored on disk (Ops that cannot be pickled: _Doubled (" in messages[0]
    assert "no cache key (log-density: _Doubled)" in messages[1]
    assert "nutpie's own compilation" in messages[1]
    x = np.array([0.3, -0.2])
    for compiled in (first, second):  # nutpie's own functions: y ~ Normal(2 (a_1 + a_2), 1)
        logp, _ = compiled.logp_func(x)
        mu = 2.0 * x.sum()
        expected = -0.5 * (x @ x + (0.5 - mu) ** 2 + (1.0 - mu) ** 2) - 2.0 * np.log(2 * np.pi)
        assert logp == pytest.approx(expected, rel=1e-12)


def test_model_with_shared_data_is_logged_once(monkeypatch, caplog):
    import pymc as pm

    monkeypatch.setattr(nutpie_backend, "_REPORTED", set())
    with pm.Model() as model:
        a = pm.Normal("a")
        pm.Normal("y", mu=a, sigma=1.0, observed=pm.Data("y_obs", np.array([0.5, 1.0])))
    logger = "gammaprob.inference.nutpie_backend"
    with caplog.at_level(logging.INFO, logger=logger):
        compile_nutpie(model)
        compile_nutpie(model)
    messages = [r.getMessage() for r in caplog.records if r.name == logger]
    assert len(messages) == 1, messages
    assert "shared variables (pm.Data)" in messages[0]


def _curved_model():
    """A curvature with a narrow prior beside a wide and an improper one."""
    import pymc as pm

    with pm.Model() as model:
        pm.Normal("beta", 0.1, 0.1)
        pm.Normal("wide", 0.0, 10.0)
        pm.TruncatedNormal("z", 0.0, 0.15, lower=-0.5, upper=0.5)
        pm.HalfFlat("flat")
        pm.TruncatedNormal("narrow_z", 0.0, 0.05, lower=-0.5, upper=0.5)
    return model


def test_jitter_scales_follow_the_prior_spread_capped_at_one():
    """Two prior standard deviations, at most PyMC's 1."""
    scales = nutpie_backend.jitter_scales(_curved_model())
    assert scales["beta"] == pytest.approx(0.2, rel=0.15)
    assert scales["wide"] == 1.0
    # z = -0.5 + sigmoid(u): d u / d z = 4 at z = 0, so the spread of u is about 4 x 0.15
    assert scales["z_interval__"] == 1.0
    assert scales["narrow_z_interval__"] == pytest.approx(2 * 4 * 0.05, rel=0.15)
    assert scales["flat_log__"] == 1.0  # improper prior: PyMC's width


def test_chain_starts_stay_within_the_prior_spread():
    """PyMC's U(-1, 1) jitter put a Normal(0.1, 0.1) curvature up to 10 prior sd away (the
    stuck chain of the multi-instrument Crab template); the jitter is now prior-scaled."""
    compiled = compile_nutpie(_curved_model())
    scales = nutpie_backend.jitter_scales(_curved_model())
    starts = np.array([compiled.initial_point_func(seed) for seed in range(300)])
    names = ["beta", "wide", "z_interval__", "flat_log__", "narrow_z_interval__"]
    support = np.array([0.1, 0.0, 0.0, 0.0, 0.0])  # support points on the unconstrained scale
    offsets = np.abs(starts - support)
    for i, name in enumerate(names):
        assert offsets[:, i].max() <= float(scales[name]) + 1e-12, name
        assert offsets[:, i].max() > 0.9 * float(scales[name]), name  # jittered, not fixed
    assert len({tuple(s) for s in starts}) == 300  # every seed its own start


def test_chain_starts_are_pymc_draws_shrunk_per_variable():
    """The jitter is PyMC's own uniform draw for the seed, times the variable's scale: a
    variable with scale 1 starts where PyMC would start it (the random stream of the chains
    is unchanged), a narrow-prior one proportionally closer to its support point."""
    from pymc.initial_point import make_initial_point_fn

    model = _curved_model()
    compiled = compile_nutpie(model)
    scales = nutpie_backend.jitter_scales(model)
    pymc_start = make_initial_point_fn(
        model=model, jitter_rvs=set(model.free_RVs), return_transformed=True
    )
    names = ["beta", "wide", "z_interval__", "flat_log__", "narrow_z_interval__"]
    support = np.array([0.1, 0.0, 0.0, 0.0, 0.0])
    for seed in (0, 1, 12345678901234567890):
        ours = compiled.initial_point_func(seed)
        theirs = np.array([float(pymc_start(seed)[name]) for name in names])
        expected = support + (theirs - support) * np.array([float(scales[n]) for n in names])
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    assert ours[1] == pytest.approx(theirs[1], abs=1e-12)  # "wide": scale 1, PyMC's start


def _steep_model():
    """A unit-normal prior under a likelihood 1e5 times narrower: PyMC's jitter of +-1
    (the prior spread allows it) starts chains at ln p down to -5e9, while ln p at the
    initial point is 9.7: the margin is 1e6 x max(9.7, 10 x 1 dimension) = 1e7."""
    import pymc as pm

    with pm.Model() as model:
        x = pm.Normal("x", 0.0, 1.0)
        pm.Normal("y", mu=x, sigma=1e-5, observed=np.array([0.0]))
    return model


def _logp(model):
    fn = model.compile_logp()
    return lambda value: float(fn({"x": value}))


def test_chain_starts_far_below_the_initial_point_are_drawn_closer():
    """ln p more than 1e6 max(|ln p0|, 10 n_dim) below the initial point: jitter halved."""
    model = _steep_model()
    compiled = compile_nutpie(model)
    guard = compiled.initial_point_func
    logp = _logp(model)
    reference = logp(0.0)
    assert reference == pytest.approx(9.67, abs=0.01)
    assert guard.margin(reference) == 1e7
    limit = np.sqrt(1e7 / (0.5e10 + 0.5))  # |x| where ln p is 1e7 below the initial point
    unguarded = [float(guard.start(seed)[0]) for seed in range(20)]
    starts = [float(compiled.initial_point_func(seed)[0]) for seed in range(20)]
    assert min(logp(x) for x in unguarded) < reference - 1e8  # the jitter lands far away
    assert all(logp(x) >= reference - 1e7 for x in starts)
    shrunk = {seed: factor for seed, factor, _, _ in guard.shrunk}
    assert len(shrunk) >= 10
    for seed, (before, after) in enumerate(zip(unguarded, starts, strict=True)):
        if seed in shrunk:  # halved until within the margin, not further
            assert after == pytest.approx(before * shrunk[seed], abs=1e-12)
            assert abs(after) <= limit < abs(2 * after)
        else:
            assert after == before
            assert abs(after) <= limit


def test_shrunk_chain_starts_are_reported_once():
    model = _steep_model()
    with pytest.warns(StartGuardWarning, match=r"of 4 chain starts .*jitter x0\.") as caught:
        sample_nutpie(
            model,
            draws=5,
            tune=5,
            chains=4,
            random_seed=1,
            target_accept=0.9,
            progressbar=False,
        )
    assert len([w for w in caught if w.category is StartGuardWarning]) == 1


def test_chain_starts_of_a_well_posed_model_are_not_touched():
    """No warning (warnings are errors) and the starts of the unguarded draws."""
    model = _curved_model()
    compiled = compile_nutpie(model)
    for seed in range(20):
        np.testing.assert_array_equal(
            compiled.initial_point_func(seed), compiled.initial_point_func.start(seed)
        )
    assert compiled.initial_point_func.shrunk == []
    sample_nutpie(
        _model(), draws=5, tune=5, chains=2, random_seed=1, target_accept=0.9, progressbar=False
    )


_SIZES_SCRIPT = """
import nutpie
import pymc as pm

from gammaprob.inference.nutpie_backend import compile_nutpie

for n_normal in (1, 2):
    with pm.Model() as model:
        pm.Uniform("a", 0.0, 1.0)
        for i in range(n_normal):
            pm.Normal(f"b{i}", 0.0, 1.0)
    trace = nutpie.sample(
        compile_nutpie(model), draws=20, tune=20, chains=1, progress_bar=False, seed=1
    )
    print(n_normal, trace.posterior["a"].size)
"""


@pytest.mark.slow
def test_models_of_one_graph_shape_but_other_sizes_do_not_share_entry_points(tmp_path):
    """Regression: entry points were once cached under PyTensor's graph key alone.

    Two models whose graphs differ only in the number of free variables then shared the
    cached expand entry point, whose size check failed ("Expand function returned error code
    -1") in the second model. An empty PyTensor cache reproduces it in a fresh process.
    """
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path}"}
    done = subprocess.run(
        [sys.executable, "-c", _SIZES_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "20", "2", "20"]
