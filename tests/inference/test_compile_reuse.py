"""nutpie's compiled code is keyed by model structure: other data and bins reuse it."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

pytest.importorskip("nutpie")

from gammaprob.inference import nutpie_backend
from gammaprob.inference.nutpie_backend import compile_nutpie, data_buffer


def _power_law(n_bins: int, seed: int, *, deterministic: bool = True):
    """Counts of a power law in ``n_bins`` energy bins of three observations."""
    import pymc as pm

    rng = np.random.default_rng(seed)
    energy = np.geomspace(1.0, 10.0, n_bins)
    exposure = rng.uniform(1.0, 2.0, (3, n_bins))
    counts = rng.poisson(20.0 * energy**-2.0 * exposure)
    with pm.Model() as model:
        amplitude = pm.HalfNormal("amplitude", 50.0)
        index = pm.Normal("index", 2.0, 1.0)
        mu = amplitude * energy**-index * exposure
        pm.Poisson("counts", mu=mu, observed=counts)
        if deterministic:
            pm.Deterministic("total", mu.sum())
    return model


@pytest.fixture
def compile_calls(monkeypatch, tmp_path):
    """Count PyTensor compilations made by the nutpie backend (a spy on PyMC's compile).

    The in-memory cache starts empty and the functions stored on disk go to ``tmp_path``.
    """
    import pymc.pytensorf

    nutpie_backend._COMPILED.clear()
    monkeypatch.setattr(nutpie_backend, "_function_cache_dir", lambda: tmp_path)
    calls = []
    compile_ = pymc.pytensorf.compile

    def spy(*args, **kwargs):
        calls.append(args)
        return compile_(*args, **kwargs)

    monkeypatch.setattr(pymc.pytensorf, "compile", spy)
    return calls


def _entry_logp(compiled, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Call the compiled C entry point as nutpie does (with the model's data buffer)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    logp = np.zeros((), dtype=np.float64)
    status = compiled.compiled_logp_func.ctypes(
        ctypes.c_uint64(x.size),
        x.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        grad.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        logp.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    assert status == 0
    return float(logp), grad


def _pymc_logp(model, compiled, x: np.ndarray) -> tuple[float, np.ndarray]:
    """PyMC's own log-density and gradient at the flat unconstrained point ``x``."""
    names, slices, shapes = compiled.shape_info
    point = {
        name: x[s].reshape(shape)
        for name, s, shape in zip(names, slices, shapes, strict=True)
        if name in {v.name for v in model.value_vars}
    }
    grad = model.compile_dlogp()(point)
    return float(model.compile_logp()(point)), np.asarray(grad)


def test_other_data_and_bins_reuse_the_compiled_functions(compile_calls):
    first = compile_nutpie(_power_law(12, seed=1))
    assert len(compile_calls) == 2  # log-density + gradient, and the expansion
    assert nutpie_backend.compilations() >= 1
    before = nutpie_backend.compilations()
    model = _power_law(7, seed=2)  # other counts, exposure and number of bins
    second = compile_nutpie(model)
    assert len(compile_calls) == 2  # nothing compiled again
    assert nutpie_backend.compilations() == before
    assert second.compiled_logp_func is first.compiled_logp_func
    assert not np.array_equal(second.user_data, first.user_data)
    # the reused code computes the new model's log-density and gradient
    for x in ([0.3, 2.1], [-1.0, 1.5]):
        x = np.array(x)
        logp, grad = _entry_logp(second, x)
        expected_logp, expected_grad = _pymc_logp(model, second, x)
        np.testing.assert_allclose(logp, expected_logp, rtol=1e-12)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-10)
    assert _entry_logp(first, np.array([0.3, 2.1]))[0] != pytest.approx(
        _entry_logp(second, np.array([0.3, 2.1]))[0]
    )


def test_a_new_process_loads_the_stored_functions_without_compiling(compile_calls, tmp_path):
    first = compile_nutpie(_power_law(12, seed=1))
    assert len(compile_calls) == 2
    assert len(list(tmp_path.glob("*.pkl"))) == 1
    nutpie_backend._COMPILED.clear()  # as in a new process: only the disk remains
    model = _power_law(5, seed=6)
    second = compile_nutpie(model)
    assert len(compile_calls) == 2  # loaded, not compiled
    assert second.logp_func is not first.logp_func
    x = np.array([0.1, 2.4])
    logp, grad = _entry_logp(second, x)
    expected_logp, expected_grad = _pymc_logp(model, second, x)
    np.testing.assert_allclose(logp, expected_logp, rtol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10)


def test_structure_hash_ignores_data_and_sees_the_structure():
    def digest(model):
        graphs = nutpie_backend._model_graphs(model)
        outputs, inputs, _ = nutpie_backend._lift_data(graphs.outputs)
        graphs = nutpie_backend.dataclasses.replace(graphs, outputs=outputs)
        return nutpie_backend.structure_hash(graphs, inputs)

    reference = digest(_power_law(12, seed=1))
    assert len(reference) == 64
    assert digest(_power_law(7, seed=2)) == reference
    assert digest(_power_law(12, seed=1, deterministic=False)) != reference


def test_another_structure_is_compiled(compile_calls):
    compile_nutpie(_power_law(12, seed=1))
    compile_nutpie(_power_law(12, seed=1, deterministic=False))
    assert len(compile_calls) == 4


def test_reused_code_samples_the_same_draws(compile_calls):
    import nutpie

    def draws(model):
        compiled = compile_nutpie(model)
        tree = nutpie.sample(compiled, draws=50, tune=50, chains=2, seed=3, progress_bar=False)
        return np.asarray(tree.posterior["index"]), np.asarray(tree.posterior["total"])

    fresh = draws(_power_law(9, seed=4))
    again = draws(_power_law(9, seed=4))  # a new model object: the compiled code is reused
    assert len(compile_calls) == 2
    np.testing.assert_array_equal(fresh[0], again[0])
    np.testing.assert_array_equal(fresh[1], again[1])
    assert np.all(fresh[1] > 0)


def test_data_buffer_layout():
    values = [np.arange(6.0).reshape(2, 3), np.array([7.0, 8.0])]
    buffer = data_buffer(values)
    header = 1 + (1 + 2) + (1 + 1)
    assert buffer[0] == buffer.size == header + 8
    assert list(buffer[1:4]) == [header, 2, 3]
    assert list(buffer[4:6]) == [header + 6, 2]
    np.testing.assert_array_equal(buffer[header:], [0, 1, 2, 3, 4, 5, 7, 8])


def test_log_likelihood_recorded_while_sampling_equals_the_draw_by_draw_one():
    import pymc as pm

    from gammaprob.inference import sample
    from gammaprob.inference.samplers import reduced_log_likelihood
    from gammaprob.likelihood.groups import register_energy_groups

    rng = np.random.default_rng(5)
    energy = np.geomspace(1.0, 10.0, 4)
    with pm.Model() as model:
        amplitude = pm.HalfNormal("src::amplitude", 50.0)
        index = pm.Normal("src::index", 2.0, 1.0)
        mu = amplitude * energy**-index
        pm.Poisson("spec::counts", mu=mu, observed=rng.poisson(20.0 * energy**-2.0))
        # a "map": 4 energies x 3 pixels, summed per energy bin in the group
        pixels = np.repeat(mu, 3) * np.tile([0.5, 1.0, 2.0], 4)
        pm.Poisson("map::counts", mu=pixels, observed=rng.poisson(np.ones(12)))
        register_energy_groups("map", np.repeat([0, 1, 2, 3], 3))
    tree = sample(model, draws=40, tune=40, chains=2, random_seed=1, progressbar=False, check=False)
    recorded = tree["log_likelihood"].to_dataset()
    assert set(tree["posterior"].data_vars) == {"src::amplitude", "src::index"}
    expected = reduced_log_likelihood(tree["posterior"].to_dataset(), model)
    assert recorded["map::counts"].dims == ("chain", "draw", "map::counts_energy")
    assert recorded["spec::counts"].dims == ("chain", "draw", "spec::counts_dim_0")
    for name in ("spec::counts", "map::counts"):
        np.testing.assert_allclose(recorded[name].values, expected[name].values, rtol=1e-12)
    np.testing.assert_array_equal(recorded["map::counts_energy"].values, [0, 1, 2, 3])


def test_other_bins_sample_with_their_log_likelihood_after_one_compilation(compile_calls):
    from gammaprob.inference import sample

    shapes = []
    for n_bins in (6, 11):
        tree = sample(
            _power_law(n_bins, seed=n_bins),
            draws=20,
            tune=20,
            chains=2,
            random_seed=2,
            progressbar=False,
            check=False,
        )
        shapes.append(tree["log_likelihood"]["counts"].shape)
        assert np.all(np.isfinite(tree["log_likelihood"]["counts"].values))
    assert shapes == [(2, 20, 3, 6), (2, 20, 3, 11)]
    assert len(compile_calls) == 2


def test_shared_data_models_use_nutpie_s_own_compilation_and_keep_their_log_likelihood(
    compile_calls,
):
    import pymc as pm

    from gammaprob.inference import sample

    with pm.Model() as model:
        counts = pm.Data("observed_counts", np.array([3, 5, 4]))
        rate = pm.HalfNormal("rate", 10.0)
        pm.Poisson("counts", mu=rate, observed=counts)
    before = nutpie_backend.compilations()
    tree = sample(model, draws=30, tune=30, chains=2, random_seed=0, progressbar=False, check=False)
    assert nutpie_backend.compilations() == before  # not through the structure-keyed path
    assert not nutpie_backend._COMPILED
    assert tree["log_likelihood"]["counts"].shape == (2, 30, 3)
    assert set(tree["posterior"].data_vars) == {"rate"}


_MAP_SCRIPT = """
import importlib.util
import sys

import numpy as np

from gammaprob.inference import nutpie_backend


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


helpers = load("gammaprob_test_forward_helpers", sys.argv[1])
sparse = load("gammaprob_test_map_sparse", sys.argv[2])
response = sparse._response(np.random.default_rng(0), helpers)
model = sparse._model(response, sparse._models())[0]
nutpie_backend.compile_nutpie(model)
print(nutpie_backend.compilations(), len(nutpie_backend._COMPILED))
"""


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="issue 17: FusedMapPoisson, BoxBounds (no numba cache key) and FollowingBox "
    "(not picklable: model tensors, per-process numba dispatcher ids) keep map models with a "
    "following box off the cached path",
)
def test_a_new_process_loads_a_map_model_with_a_following_box(tmp_path):
    """A small map model (Gaussian on a following box, FoV background) compiled in one
    process is loaded from the stores by a fresh process: nothing compiled there."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).parents[1]
    command = [
        sys.executable,
        "-c",
        _MAP_SCRIPT,
        str(tests / "forward" / "_helpers.py"),
        str(tests / "likelihood" / "test_map_sparse.py"),
    ]
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path}"}
    results = []
    for _ in range(2):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-2000:]
        results.append(done.stdout.split()[-2:])
    # compiled once and kept on the structure-keyed path, then loaded without compiling
    assert results == [["1", "1"], ["0", "1"]]


def _onoff_spectra(n: int, *, other_grid: int = 0) -> list:
    """``n`` on/off spectra on one true-energy grid and ``other_grid`` on another one."""
    import astropy.units as u

    from gammaprob.datasets import SpectrumDatasetOnOff
    from gammaprob.maps.axes import MapAxis

    datasets = []
    for i in range(n + other_grid):
        rng = np.random.default_rng(100 + i)
        n_reco = 6 + i % 3  # other numbers of bins too
        n_true = 10 if i < n else 14
        axis = MapAxis.from_energy_bounds(0.1 * u.TeV, 10 * u.TeV, n_reco, name="energy")
        axis_true = MapAxis.from_energy_bounds(0.05 * u.TeV, 20 * u.TeV, n_true, name="energy_true")
        edisp = rng.uniform(0, 1, (n_true, n_reco))
        edisp /= edisp.sum(axis=1, keepdims=True) * 1.25
        datasets.append(
            SpectrumDatasetOnOff(
                name=f"run-{i}",
                counts=rng.poisson(20, n_reco),
                counts_off=rng.poisson(60, n_reco),
                acceptance=np.ones(n_reco),
                acceptance_off=rng.uniform(3, 6, n_reco),
                exposure=rng.uniform(1e8, 1e9, n_true) * u.cm**2 * u.s,
                energy_axis=axis,
                energy_axis_true=axis_true,
                edisp=edisp,
            )
        )
    return datasets


def _onoff_model(datasets):
    import astropy.units as u

    from gammaprob.inference import build_model
    from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral

    law = spectral.PowerLaw(
        index=Normal(2.5, 1.0),
        amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1"),
        reference=1 * u.TeV,
    )
    return build_model(datasets, [SkyModel(law, name="src")])


def _op_count(graph, op_type) -> int:
    from pytensor.graph.traversal import io_toposort

    return sum(isinstance(node.op, op_type) for node in io_toposort([], [graph]))


def test_onoff_spectra_are_joined_into_one_term_with_one_product_per_true_energy_grid():
    from pytensor.tensor.math import Dot

    from gammaprob.likelihood.onoff_marginal import MarginalOnOffLogp

    model = _onoff_model(_onoff_spectra(4, other_grid=2))
    rvs, per_bin = nutpie_backend._joined_terms(model)
    assert sorted(rv.name for rv in rvs) == sorted(rv.name for rv in model.observed_RVs)
    assert _op_count(per_bin, MarginalOnOffLogp) == 1
    assert _op_count(per_bin, Dot) == 2  # one per true-energy grid, not one per dataset
    # the joined bins are each dataset's bins, in the order of ``rvs``
    import pytensor

    point = model.initial_point()
    inputs = [model.rvs_to_values[rv] for rv in model.free_RVs]
    point[inputs[0].name] = point[inputs[0].name] + 0.3
    joined = pytensor.function(inputs, per_bin, on_unused_input="ignore")
    one_by_one = pytensor.function(
        inputs, model.logp(vars=rvs, sum=False), on_unused_input="ignore"
    )
    args = [point[v.name] for v in inputs]
    np.testing.assert_allclose(joined(*args), np.concatenate(one_by_one(*args)), rtol=1e-14)


def test_other_numbers_of_onoff_spectra_reuse_the_compiled_functions(compile_calls):
    """The joined graph does not grow with the datasets: 3 runs or 7, one compilation."""
    compiled = {}
    for n in (3, 7):
        model = _onoff_model(_onoff_spectra(n))
        compiled[n] = (model, compile_nutpie(model, log_likelihood=True))
    assert len(compile_calls) == 2  # log-density + gradient, and the expansion: once
    for n, (model, c) in compiled.items():
        names = [name for name in c.shape_info[0] if name.startswith("__log_likelihood__")]
        assert len(names) == n
        rng = np.random.default_rng(n)
        for _ in range(3):
            x = rng.normal(0.0, 0.5, c.n_dim)
            logp, grad = _entry_logp(c, x)
            expected_logp, expected_grad = _pymc_logp(model, c, x)
            np.testing.assert_allclose(logp, expected_logp, rtol=1e-12)
            np.testing.assert_allclose(grad, expected_grad, rtol=1e-9, atol=1e-9)
