"""nutpie with compilation cached on disk: the fast NUTS path of :func:`~gammaprob.inference.sample`.

nutpie runs NUTS in Rust and calls the model's log-density and gradient through a C function
pointer, so all chains run in parallel without the GIL. ``nutpie.compile_pymc_model`` builds
that pointer by wrapping PyTensor's numba function in a ``numba.cfunc`` that cannot be cached
(it captures the model's shared data as dynamic globals), so every process pays the full LLVM
compilation again: about 4-5 s for the joint-Crab likelihood, three times the sampling itself.

This module builds the log-density + gradient and the expansion of a draw into all recorded
variables itself, turns the model's data (every array constant of the graph, and the lengths
checked by ``SpecifyShape``) into inputs of the compiled functions, and generates the two C
entry points nutpie needs as plain source that refers only to the PyTensor-compiled
functions; the entry points read the data from a flat buffer (:func:`data_buffer`) that nutpie
passes as its user data. The compiled code thus depends on the model's structure only:

- in one process, a model of the same structure (other data, other numbers of bins) reuses the
  compiled functions from memory (:func:`compile_nutpie` compares the graphs; nothing is
  compiled, :func:`compilations` counts the structures compiled);
- in a new process, the rewritten functions stored on disk under a digest of the structure
  (:func:`structure_hash`, in PyTensor's compile folder) are linked from PyTensor's numba
  cache (under the key of the compiled graph, now free of data): no graph rewriting and no
  LLVM compilation.

The on/off spectra of a model with ``onoff="marginal"`` enter the compiled graph as one
term (:func:`_joined_terms`): one marginal Op call on all their bins and one response product
per true-energy grid, instead of one of each per dataset. numba compiles a graph as one
function, at ~1.3 s per dataset and term (and more for large graphs), so a graph that grows
with the datasets made every new number of runs a new, ever longer compilation; the joined
graph has the same structure for 3 runs or 100 and is compiled once.

With ``log_likelihood=True`` the expansion also records each observed term's log-likelihood
(spectrum bins as they are, map datasets summed per energy bin), so the ``log_likelihood``
group is computed while sampling, by the same compiled code, instead of by a second function
called draw by draw afterwards.

Models with shared variables (``pm.Data``) go through nutpie's own compilation.

The C signatures and the model container follow nutpie's PyMC interface
(``nutpie.compile_pymc``). That needs a few private nutpie and PyTensor functions; every one
is listed in :data:`PRIVATE_API` and reached only through :func:`_private` in this module, and
:func:`private_api_problems` checks them (installed nutpie within
:data:`SUPPORTED_NUTPIE`, each private name present with the parameters used). When a check
fails, :func:`compile_nutpie` says so (:class:`NutpieCacheWarning`) and uses nutpie's public
``compile_pymc_model`` instead (correct, but compiled again in every process).

A compiled entry point that numba cannot cache is reported with a :class:`NutpieCacheWarning`
naming the entry point and numba's reason. When a model cannot take the cached path at all
(an Op whose numba implementation has no cache key, shared variables) or its rewritten
functions cannot be stored on disk (an Op that cannot be pickled), the first such model of
each kind in a process is reported by an INFO message of this module's logger naming the Ops
(:func:`_report_once`): it is compiled again in every process, and with nutpie's own
compilation no log-likelihood is recorded while sampling.

**Chain starts.** Each chain starts at the model's support point (or the given initial
values) plus PyMC's uniform jitter on the unconstrained scale (the same draws for the same
seed), but the jitter of each variable is shrunk to ``+-min(1, 2 s)``, ``s`` being the
spread of its prior on that scale (:func:`jitter_scales`), instead of PyMC's fixed ``+-1``:
a start stays within two prior standard deviations, the prior's central ~95 %. Only variables
with a prior narrower than 0.5 on the sampler's scale start elsewhere than PyMC would start
them (same seed, same draws); every other seeded run is unchanged. A fixed ``+-1`` is ten prior
standard deviations for a curvature with a ``Normal(0.1, 0.1)`` prior: in the
multi-instrument Crab model (10 GeV to 100 TeV) such a start had a log-density of -2e19,
the step size adapted to 0.003 and the chain never left (R-hat 1.59, ``docs/analysis.md``).

A start whose log-density is non-finite or far below the unjittered initial point (by more
than 1e6 times ``max(|ln p|, 10 n_dim)`` there) gets its jitter halved until it is not (:class:`_GuardedStarts`),
and :func:`sample_nutpie` warns once (:class:`StartGuardWarning`); other starts are unchanged.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import importlib
import inspect
import logging
import math
import warnings

import numpy as np

__all__ = [
    "LOW_RANK_MAX_DIM",
    "PRIVATE_API",
    "SUPPORTED_NUTPIE",
    "NutpieCacheWarning",
    "StartGuardWarning",
    "compilations",
    "compile_nutpie",
    "data_buffer",
    "jitter_scales",
    "private_api_problems",
    "sample_nutpie",
    "structure_hash",
]


_LOG = logging.getLogger(__name__)

#: Messages of :func:`_report_once` already logged in this process.
_REPORTED: set[str] = set()


def _report_once(message: str) -> None:
    """Log ``message`` (INFO) the first time it occurs in this process."""
    if message not in _REPORTED:
        _REPORTED.add(message)
        _LOG.info(message)


class NutpieCacheWarning(UserWarning):
    """The compiled nutpie entry points of a model cannot be cached on disk (or reused)."""


#: nutpie versions this module's private-API use is written for: ``>= first, < second``
#: (the same range as the ``nutpie`` extra in pyproject.toml).
SUPPORTED_NUTPIE = ((0, 16, 10), (0, 17))

#: Private (underscore or internal) names used, with the parameters each must accept.
PRIVATE_API: dict[str, tuple[str, ...]] = {
    "nutpie.compile_pymc:_compute_shapes": ("model",),
    "nutpie.compile_pymc:_rv_dict_to_flat_array_wrapper": ("fn", "names", "shapes"),
    "nutpie.compile_pymc:_wrap_with_lock": ("func",),
    "nutpie.compile_pymc:_prepare_dims_and_coords": (
        "model",
        "shape_info",
        "reparameterized_names",
    ),
    "nutpie.compile_pymc:make_user_data": ("shared_var_keys", "shared_data"),
    "nutpie.compile_pymc:CompiledPyMCModel": (
        "dims",
        "compiled_logp_func",
        "compiled_expand_func",
        "initial_point_func",
        "shared_data",
        "shared_var_keys",
        "user_data",
        "n_expanded",
        "shape_info",
        "logp_func",
        "expand_func",
        "_n_dim",
        "_shapes",
        "_coords",
        "reparameterized_names",
    ),
    "pytensor.link.numba.cache:compile_numba_function_src": (
        "src",
        "function_name",
        "global_env",
        "cache_key",
    ),
    "pytensor.link.numba.cache:CACHED_SRC_FUNCTIONS": (),
}


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _private(qualified: str):
    """Return the private object ``"module:name"`` of :data:`PRIVATE_API`."""
    if qualified not in PRIVATE_API:
        raise KeyError(f"{qualified!r} is not declared in PRIVATE_API")
    module, name = qualified.split(":")
    return getattr(importlib.import_module(module), name)


@functools.cache
def private_api_problems() -> tuple[str, ...]:
    """Check the installed nutpie version and every name of :data:`PRIVATE_API`.

    Returns
    -------
    tuple of str
        One sentence per problem (empty when all is as expected).
    """
    import nutpie

    problems = []
    version = _version_tuple(getattr(nutpie, "__version__", "0"))
    low, high = SUPPORTED_NUTPIE
    if not low <= version < high:
        problems.append(
            f"nutpie {nutpie.__version__} is outside the supported range "
            f">={'.'.join(map(str, low))},<{'.'.join(map(str, high))}"
        )
    for qualified, params in PRIVATE_API.items():
        try:
            obj = _private(qualified)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{qualified} is missing ({exc})")
            continue
        if not params:
            continue
        try:
            accepted = set(inspect.signature(obj).parameters)
        except (TypeError, ValueError):
            problems.append(f"{qualified} has no inspectable signature")
            continue
        missing = [p for p in params if p not in accepted]
        if missing:
            problems.append(f"{qualified} no longer accepts {missing}")
    return tuple(problems)


def _public_compile(model, initial_points, reason: str):
    """Compile with nutpie's public API (entry points not cached on disk), warning why."""
    import nutpie

    warnings.warn(
        f"nutpie: {reason}; compiling with nutpie.compile_pymc_model instead (correct, but "
        "the model is compiled again in every process)",
        NutpieCacheWarning,
        stacklevel=3,
    )
    return nutpie.compile_pymc_model(model, backend="numba", initial_points=initial_points)


#: Prior draws used to measure each variable's prior spread on the unconstrained scale.
JITTER_PRIOR_DRAWS = 200

#: Half-width of the start jitter in units of the prior spread (capped at PyMC's 1).
JITTER_PRIOR_WIDTHS = 2.0


def _unconstrained(model, rv):
    """Return the graph of ``rv`` on the sampler's (unconstrained) scale."""
    transform = model.rvs_to_transforms.get(rv)
    return rv if transform is None else transform.forward(rv, *rv.owner.inputs)


def _spread(draws: np.ndarray) -> np.ndarray:
    """Half the central 68 % interval of ``draws`` along axis 0 (robust to heavy tails)."""
    low, high = np.quantile(draws, [0.16, 0.84], axis=0)
    return 0.5 * (high - low)


def jitter_scales(model, *, draws: int = JITTER_PRIOR_DRAWS, seed: int = 0) -> dict:
    """Half-width of each free variable's start jitter: ``min(1, 2 x prior spread)``.

    The spread is half the central 68 % interval of the prior on the unconstrained scale
    (the prior standard deviation for a normal prior), from ``draws`` prior draws; the
    factor is :data:`JITTER_PRIOR_WIDTHS`. A variable whose prior cannot be drawn (``Flat``,
    ``HalfFlat``) keeps PyMC's width 1.

    Parameters
    ----------
    model : pymc.Model
        The model.
    draws : int
        Prior draws per variable.
    seed : int
        Seed of the prior draws (the scales are the same for every chain).

    Returns
    -------
    dict
        Value-variable name (``"crab::beta"``, ``"crab::z_interval__"``) to an array of the
        variable's shape, each element in (0, 1].
    """
    import pymc as pm

    rvs = list(model.free_RVs)
    names = [model.rvs_to_values[rv].name for rv in rvs]

    def draw(variables):  # Python perform methods: no numba compilation for 200 draws
        return pm.draw(variables, draws=draws, random_seed=seed, mode="FAST_COMPILE")

    try:
        samples = draw([_unconstrained(model, rv) for rv in rvs])
    except NotImplementedError:  # an improper prior: one variable at a time
        samples = []
        for rv in rvs:
            try:
                samples.append(draw(_unconstrained(model, rv)))
            except NotImplementedError:
                samples.append(None)
    scales = {}
    for name, rv, drawn in zip(names, rvs, samples, strict=True):
        if drawn is None:
            scales[name] = np.ones(tuple(rv.shape.eval()))
            continue
        spread = _spread(np.asarray(drawn, dtype=float).reshape(draws, -1))
        spread = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
        width = np.minimum(JITTER_PRIOR_WIDTHS * spread, 1.0)
        scales[name] = width.reshape(np.shape(drawn)[1:])
    return scales


def _initial_point_fn(model, initial_points):
    """Seeded chain starts: the support point plus PyMC's jitter scaled by :func:`jitter_scales`.

    The uniform draws are PyMC's own for the same seed (the jittered minus the unjittered
    initial point), so a variable whose scale is 1 starts exactly where PyMC and nutpie would
    start it; only variables with a narrower prior get a proportionally smaller offset.

    Returns
    -------
    callable
        Seed to the jittered initial point (a dict on the sampler's scale); its ``center``
        attribute gives the unjittered one.
    """
    from pymc.initial_point import make_initial_point_fn

    def point_fn(jitter_rvs):
        return make_initial_point_fn(
            model=model,
            overrides=initial_points,
            default_strategy="support_point",
            jitter_rvs=jitter_rvs,
            return_transformed=True,
        )

    base, jittered = point_fn(set()), point_fn(set(model.free_RVs))
    scales = jitter_scales(model)

    def initial_point(seed):
        center, moved = base(seed), jittered(seed)
        out = {}
        for name, value in center.items():
            value = np.asarray(value)
            if np.issubdtype(value.dtype, np.floating):
                offset = np.asarray(moved[name]) - value
                value = (value + offset * scales[name]).astype(value.dtype)
            out[name] = value
        return out

    initial_point.center = base
    return initial_point


#: A chain start is "far" below the unjittered initial point when its log-density is lower by
#: more than ``START_DROP_FACTOR * max(|ln p(initial point)|, START_DROP_PER_DIM * n_dim)``.
START_DROP_FACTOR = 1e6

#: Per-dimension floor of the scale of the "far" threshold (log-density units).
START_DROP_PER_DIM = 10.0

#: Halvings of a far start's jitter tried before the chain starts at the unjittered point.
START_MAX_HALVINGS = 10


class StartGuardWarning(UserWarning):
    """Chain starts whose log-density was far below the initial point were drawn closer to it."""


class _GuardedStarts:
    """Chain starts with a guard against starts at an absurd log-density.

    A start whose ln p is non-finite or far below ln p at the unjittered initial point, by
    more than ``START_DROP_FACTOR * max(|ln p(initial point)|, START_DROP_PER_DIM * n_dim)``,
    gets its jitter halved (at most :data:`START_MAX_HALVINGS` times, then none) until it is
    within that margin; other starts are returned unchanged (same seed, same start).

    The scale: across the parameters the data allow, ln p changes by about its own magnitude
    (a model off by order unity in every bin) or, near the mode, by ``n_dim / 2``. NUTS
    recovers from starts far beyond that, but not from starts where the gradient is
    astronomically large. Measured on the 3FHL Crab map dataset (ln p -1759 at the initial
    point, 16 seeds, ``diagnosis.yaml``): re-pivoted to 20 GeV, starts down to -5.8e8
    (3e5 times that magnitude) converged; at the file's 50.5 MeV, starts from -5.2e11
    (3e8 times) to -2e46 did not move (step size 1e-61). The factor :data:`START_DROP_FACTOR`
    (1e6) lies between the two and leaves the starts of ordinary models alone.
    Shrunk starts are recorded in :attr:`shrunk` as ``(seed, factor, ln p before, after)``.
    """

    def __init__(self, center, start, logp, n_dim: int):
        self.center, self.start, self.logp, self.n_dim = center, start, logp, n_dim
        self.shrunk: list[tuple[int, float, float, float]] = []
        self.reference = math.nan  # ln p at the initial point, set when a start is shrunk
        self.call = _private("nutpie.compile_pymc:_wrap_with_lock")(self._guarded)

    def margin(self, reference: float) -> float:
        """Largest acceptable drop of ln p below ``reference``, the initial point's ln p."""
        return START_DROP_FACTOR * max(abs(reference), START_DROP_PER_DIM * self.n_dim)

    def __call__(self, seed):
        return self.call(seed)

    def _acceptable(self, value: float, reference: float) -> bool:
        return bool(np.isfinite(value) and value >= reference - self.margin(reference))

    def _guarded(self, seed):
        center, start = self.center(seed), self.start(seed)
        reference, first = self.logp(center), self.logp(start)
        if not np.isfinite(reference) or self._acceptable(first, reference):
            return start
        factor, value, point = 1.0, first, center
        for _ in range(START_MAX_HALVINGS):
            factor /= 2
            point = center + factor * (start - center)
            value = self.logp(point)
            if self._acceptable(value, reference):
                break
        else:
            factor, point, value = 0.0, center, reference
        self.shrunk.append((seed, factor, float(first), float(value)))
        self.reference = float(reference)
        return point

    def report(self, chains: int) -> None:
        """Warn once about the shrunk starts (nutpie passes seeds, not chain numbers)."""
        if not self.shrunk:
            return
        details = "; ".join(
            f"seed {seed}: ln p {before:.3g} -> {after:.3g}, jitter x{factor:g}"
            for seed, factor, before, after in self.shrunk
        )
        warnings.warn(
            f"nutpie: {len(self.shrunk)} of {chains} chain starts had a log-density more than "
            f"{self.margin(self.reference):.3g} below the unjittered initial point (ln p "
            f"{self.reference:.4g}) or a non-finite one; their jitter "
            f"was halved until within that margin ({details}). Such starts usually mean a "
            "parameter far from where the data constrain it (e.g. a reference energy far "
            "outside the data's energy range, or a broad prior on a curvature).",
            StartGuardWarning,
            stacklevel=3,
        )
        self.shrunk.clear()


def _has_shared(outputs) -> bool:
    """Return whether a graph reads shared variables (``pm.Data``)."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    return any(isinstance(v, SharedVariable) for v in graph_inputs(outputs))


@dataclasses.dataclass(frozen=True)
class _Graphs:
    """The model's log-density, gradient and expansion as graphs of one flat point."""

    point: object
    outputs: tuple  # (logp, gradient, expanded draw)
    shape_info: tuple  # (names, slices, shapes) of the expanded draw
    n_dim: int
    n_expanded: int
    reparameterized: list


#: Prefix of the recorded log-likelihood terms in the expanded draw (moved out after sampling).
LOG_LIKELIHOOD_PREFIX = "__log_likelihood__"


def _joined_terms(model) -> tuple[list, object] | None:
    """Return the model's marginal on/off terms joined into one Op call, or None.

    Observed spectrum variables whose log-probability is a
    :class:`~gammaprob.likelihood.onoff_marginal.MarginalOnOffLogp` (on/off spectra with
    ``onoff="marginal"``) are joined by
    :func:`~gammaprob.likelihood.onoff_marginal.join_marginal_terms`: one node and one
    response product per fold group instead of one per dataset, so the compiled graph does not
    grow with the number of datasets. Map datasets (recorded per energy bin) are left as they are.

    Returns
    -------
    tuple of (list, TensorVariable) or None
        The joined observed variables, in the order of their bins, and the per-bin graph.
    """
    from gammaprob.likelihood.groups import energy_groups
    from gammaprob.likelihood.onoff_marginal import join_marginal_terms

    groups = energy_groups(model)
    spectra = [rv for rv in model.observed_RVs if rv.name.split("::", 1)[0] not in groups]
    if len(spectra) < 2:
        return None
    joined = join_marginal_terms(model.logp(vars=spectra, sum=False))
    if joined is None:
        return None
    order, per_bin = joined
    return [spectra[i] for i in order], per_bin


def _log_likelihood_terms(model, joined=None) -> list[tuple[list, object, list]]:
    """Log-likelihood of each observed variable per draw, as recorded in the ``log_likelihood`` group.

    Spectrum terms per bin; map datasets summed per reconstructed-energy bin with the labels
    recorded at build time (as :func:`gammaprob.inference.samplers.reduced_log_likelihood`).
    The variables of ``joined`` (:func:`_joined_terms`) are recorded as one block: their
    per-bin graph, each variable's bins one after the other.

    Returns
    -------
    list of (list of str, TensorVariable, list of tuple)
        Per block: recorded names, graph (of the model's value variables, flat when the block
        holds several terms) and the shape of each term.
    """
    import pytensor.tensor as pt
    from pytensor.graph.basic import Constant

    from gammaprob.likelihood.groups import energy_groups

    def shape_of(rv):
        value = model.rvs_to_values[rv]
        if isinstance(value, Constant):
            return tuple(int(n) for n in np.shape(value.data))
        return tuple(int(n) for n in value.shape.eval())  # shared data (pm.Data)

    blocks = []
    if joined is not None:
        rvs, per_bin = joined
        names = [LOG_LIKELIHOOD_PREFIX + rv.name for rv in rvs]
        blocks.append((names, per_bin, [shape_of(rv) for rv in rvs]))
    done = set() if joined is None else set(joined[0])
    observed = [rv for rv in model.observed_RVs if rv not in done]
    if not observed:
        return blocks
    groups = energy_groups(model)
    for rv, logp in zip(observed, model.logp(vars=observed, sum=False), strict=True):
        shape = shape_of(rv)
        labels = groups.get(rv.name.split("::", 1)[0])
        if labels is not None:
            energies, inverse = np.unique(labels, return_inverse=True)
            if inverse.size != math.prod(shape):
                raise ValueError(
                    f"observed term {rv.name!r} has {math.prod(shape)} elements but "
                    f"{inverse.size} energy labels were recorded at build time"
                )
            logp = pt.zeros(energies.size)[inverse.ravel()].inc(logp.ravel())
            shape = (energies.size,)
        blocks.append(([LOG_LIKELIHOOD_PREFIX + rv.name], logp, [shape]))
    return blocks


def _model_graphs(model, *, log_likelihood: bool = False) -> _Graphs:
    """Build the graphs nutpie needs (as ``nutpie.compile_pymc._make_functions``, uncompiled).

    The free variables are slices of one flat float64 vector; the expanded draw joins
    them with every other recorded variable (deterministics, constrained values) and, with
    ``log_likelihood``, the terms of :func:`_log_likelihood_terms`.
    """
    import pytensor.tensor as pt
    from pytensor.graph import clone_replace, rewrite_graph

    shapes = _private("nutpie.compile_pymc:_compute_shapes")(model)
    joined = _joined_terms(model)
    if joined is None:
        logp = model.logp()
    else:  # the joined terms as one sum, every other term as PyMC sums it
        done = set(joined[0])
        rest = [
            v for v in (*model.free_RVs, *model.observed_RVs, *model.potentials) if v not in done
        ]
        logp = joined[1].sum()
        if rest:
            logp = model.logp(vars=rest) + logp
    rewrites = ["canonicalize", "stabilize"]
    if not model.check_bounds:
        rewrites.append("local_remove_check_parameter")
    logp = rewrite_graph(logp, include=rewrites)
    value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
    grad = pt.concatenate([pt.as_tensor(g).ravel() for g in pt.grad(logp, value_vars)])
    names, slices, var_shapes = [], [], []
    count = 0
    for value in value_vars:
        shape = tuple(shapes[value.name])
        names.append(value.name)
        var_shapes.append(shape)
        slices.append(slice(count, count + math.prod(shape)))
        count += math.prod(shape)
    n_dim = count
    point = pt.TensorType("float64", shape=(n_dim,))(name="_unconstrained_point")
    free = [point[s] for s in slices]
    replacements = {
        value: part.reshape(shape).astype(value.dtype)
        for value, part, shape in zip(value_vars, free, var_shapes, strict=True)
    }
    remaining = [v for v in model.unobserved_value_vars if v.name not in names]
    recorded = [([v.name], v, [tuple(shapes[v.name])]) for v in remaining]
    if log_likelihood:
        recorded += _log_likelihood_terms(model, joined)
    remaining = []
    for block_names, var, block_shapes in recorded:
        remaining.append(var)
        for name, shape in zip(block_names, block_shapes, strict=True):
            names.append(name)
            var_shapes.append(shape)
            slices.append(slice(count, count + math.prod(shape)))
            count += math.prod(shape)
    expanded = pt.concatenate([*free, *(pt.as_tensor(v).ravel() for v in remaining)])
    outputs = tuple(clone_replace([logp, grad, expanded], replacements))
    reparameterized = [
        model.rvs_to_values[rv].name
        for rv in model.free_RVs
        if model.rvs_to_transforms.get(rv) is not None
    ]
    return _Graphs(point, outputs, (names, slices, var_shapes), n_dim, count, reparameterized)


def _lift_data(outputs) -> tuple[tuple, list, list[np.ndarray]]:
    """Replace the array constants of ``outputs`` (the data) by float64 inputs.

    Every constant with at least two elements, and every length checked by a ``SpecifyShape``,
    becomes an input whose static shape keeps only its length-1 (broadcast) dimensions, so
    the compiled function depends on the model's structure, not on its data or number of
    bins. Integer and boolean data are cast back
    to their type inside the graph (float64 holds them exactly below 2**53).

    Returns
    -------
    outputs : tuple
        The graphs with the data replaced.
    inputs : list
        The new inputs, in the order of first use (the same for models of the same
        structure).
    values : list of numpy.ndarray
        Their float64 values.
    """
    import pytensor.tensor as pt
    from pytensor.graph import clone_replace
    from pytensor.graph.traversal import io_toposort
    from pytensor.tensor.shape import SpecifyShape
    from pytensor.tensor.variable import TensorConstant

    replace, inputs, values = {}, [], []
    for node in io_toposort([], list(outputs)):
        shape_check = isinstance(node.op, SpecifyShape)
        for position, var in enumerate(node.inputs):
            if var in replace or not isinstance(var, TensorConstant):
                continue
            data = np.asarray(var.data)
            if shape_check and position > 0 and data.ndim == 0:  # a number of bins
                new = pt.tensor(f"data_{len(inputs)}", dtype="float64", shape=(1,))
                replace[var] = new[0].astype(data.dtype)
                inputs.append(new)
                values.append(data.reshape(1).astype(np.float64))
                continue
            if data.ndim == 0 or data.size < 2 or data.dtype.kind not in "biuf":
                continue
            static = tuple(1 if n == 1 else None for n in data.shape)
            new = pt.tensor(f"data_{len(inputs)}", dtype="float64", shape=static)
            replace[var] = new if data.dtype == np.float64 else new.astype(data.dtype)
            inputs.append(new)
            values.append(np.ascontiguousarray(data, dtype=np.float64))
    if not replace:
        return tuple(outputs), [], []
    # rebuilt (not strict): the nodes infer their types again, without the data's shapes
    return tuple(clone_replace(list(outputs), replace, rebuild_strict=False)), inputs, values


def data_buffer(values: list[np.ndarray]) -> np.ndarray:
    """Pack data arrays into the flat float64 buffer the compiled entry points read.

    Layout: ``[total length, (offset, *shape) per array, array data...]``; the entry
    points unpack it with the positions of :func:`_unpack_source`.
    """
    header = 1 + sum(1 + v.ndim for v in values)
    total = header + sum(v.size for v in values)
    buffer = np.empty(total, dtype=np.float64)
    buffer[0] = total
    position, offset = 1, header
    for value in values:
        buffer[position] = offset
        buffer[position + 1 : position + 1 + value.ndim] = value.shape
        buffer[offset : offset + value.size] = value.ravel()
        position += 1 + value.ndim
        offset += value.size
    return buffer


def _unpack_source(ndims: list[int]) -> tuple[str, str]:
    """Source lines unpacking :func:`data_buffer` into ``d0, d1, ...``, and the argument list."""
    lines = [
        "    buf = carray(user_data_, (1,), np.float64)",
        "    buf = carray(user_data_, (int(buf[0]),), np.float64)",
    ]
    position = 1
    for k, ndim in enumerate(ndims):
        dims = [f"int(buf[{position + 1 + i}])" for i in range(ndim)]
        size = " * ".join(dims)
        lines.append(f"    o{k} = int(buf[{position}])")
        lines.append(f"    d{k} = buf[o{k} : o{k} + {size}].reshape(({', '.join(dims)},))")
        position += 1 + ndim
    return "\n".join(lines), "".join(f", d{k}" for k in range(len(ndims)))


def _own_compile(model, initial_points, center, start, n_dim: int, reason: str):
    """Compile with nutpie's own code (not cached on disk), keeping this module's starts.

    ``reason`` (why the cached path is not taken) is logged once per process.
    """
    import nutpie

    _report_once(
        f"nutpie: {reason}; this model is compiled with nutpie's own compilation, again in "
        "every process, and no log-likelihood is recorded while sampling"
    )
    compiled = nutpie.compile_pymc_model(model, backend="numba", initial_points=initial_points)
    starts = _GuardedStarts(center, start, lambda x: float(compiled.logp_func(x)[0]), n_dim)
    return dataclasses.replace(compiled, initial_point_func=starts)


#: Largest model (unconstrained dimensions) sampled with nutpie's low-rank mass matrix by default.
LOW_RANK_MAX_DIM = 50

#: Bump when the generated entry points change (invalidates their cache entries).
_ENTRY_POINT_VERSION = "gammaprob-nutpie-3"

_LOGP_SOURCE = """
def logp_entry(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    x = carray(x_, ({n_dim},))
    out = carray(out_, ({n_dim},))
    logp = carray(logp_, ())
{unpack}
    logp_value, grad = inner(x{args})
    logp[()] = logp_value
    out[...] = grad
    if not np.all(np.isfinite(out)):
        return 3
    if not np.isfinite(logp_value):
        return 4
    return 0
"""

_EXPAND_SOURCE = """
def expand_entry(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    x = carray(x_, ({n_dim},))
    out = carray(out_, (expanded,))
{unpack}
    (values,) = inner(x{args})
    if values.size != expanded:
        return -2
    out[...] = values
    return 0
"""


def _digest(text: str) -> str:
    """Return the SHA-256 hex digest of ``text``."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _cached_entry_point(source: str, name: str, inner, signature):
    """Compile ``source`` (calling the PyTensor numba function ``inner``) as a cached cfunc.

    Returns None when ``inner`` has no PyTensor cache key (then nothing can be cached). When
    numba compiles the entry point but cannot cache it, a :class:`NutpieCacheWarning` names
    the entry point and numba's reason; other numba warnings pass through unchanged.
    """
    import numba
    from numba.core.errors import NumbaWarning

    key = _private("pytensor.link.numba.cache:CACHED_SRC_FUNCTIONS").get(
        getattr(inner, "py_func", None)
    )
    if key is None:
        return None
    function = _private("pytensor.link.numba.cache:compile_numba_function_src")(
        source,
        name,
        # the module name lets numba rebuild the function's environment from the cache
        {"__name__": __name__, "inner": inner, "carray": numba.carray, "np": np},
        # the source is part of the key: numba returns what is cached under a key unread
        cache_key=f"{key}-{name}-{_ENTRY_POINT_VERSION}-{_digest(source)}",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NumbaWarning)
        entry = numba.cfunc(signature, cache=True)(function)
    for item in caught:
        text = str(item.message)
        if issubclass(item.category, NumbaWarning) and "Cannot cache compiled function" in text:
            reason = text.split(f'"{name}"', 1)[-1].strip() or text
            warnings.warn(
                f"nutpie entry point {name!r} of this model could not be cached on disk "
                f"(numba: {reason}); it is compiled again in every process.",
                NutpieCacheWarning,
                stacklevel=3,
            )
        else:
            warnings.warn_explicit(
                item.message, item.category, item.filename, item.lineno, source=item.source
            )
    return entry


@dataclasses.dataclass(frozen=True)
class _Compiled:
    """Compiled functions of one model structure (reused for every model of that structure)."""

    inputs: tuple  # the flat point, then the data inputs
    outputs: tuple  # logp, gradient, expanded draw (with the data as inputs)
    logp_fn: object
    expand_fn: object
    logp_entry: object
    expand_entry: object


#: Compiled structures of this process, most recently used last (at most :data:`CACHE_SIZE`).
_COMPILED: collections.OrderedDict = collections.OrderedDict()

#: Model structures whose compiled functions are kept in memory.
CACHE_SIZE = 16


#: Model structures compiled by :func:`compile_nutpie` in this process (a one-element list).
_COMPILATIONS = [0]


def compilations() -> int:
    """Return the number of model structures compiled by :func:`compile_nutpie` in this process."""
    return _COMPILATIONS[0]


def _structure_key(graphs: _Graphs, inputs: list) -> tuple:
    """Return a cheap key that tells structures apart (equal keys are then compared)."""
    from pytensor.graph.traversal import io_toposort

    nodes = io_toposort([graphs.point, *inputs], list(graphs.outputs))
    return (
        graphs.n_dim,
        tuple(str(v.type) for v in inputs),
        tuple(type(node.op).__name__ for node in nodes),
    )


def _lookup(key: tuple, graphs: _Graphs, inputs: list) -> _Compiled | None:
    """Return the compiled functions of an equal graph (same ops, constants and inputs)."""
    from pytensor.graph.basic import equal_computations

    compiled = _COMPILED.get(key)
    if compiled is None or not equal_computations(
        list(graphs.outputs),
        list(compiled.outputs),
        in_xs=[graphs.point, *inputs],
        in_ys=list(compiled.inputs),
    ):
        return None
    _COMPILED.move_to_end(key)
    return compiled


def structure_hash(graphs: _Graphs, inputs: list) -> str | None:
    """Return a digest of the graphs that is the same in every process for the same structure.

    Each node contributes its pickled Op, the positions of its inputs and its output types;
    the inputs their types; the remaining constants their type and a digest of their values;
    and the versions of PyTensor, numba and the entry points. None when an Op cannot be
    pickled (the functions are then not stored on disk).
    """
    import hashlib
    import pickle

    import numba
    import pytensor
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import io_toposort

    digest = hashlib.sha256()
    digest.update(repr((pytensor.__version__, numba.__version__, _ENTRY_POINT_VERSION)).encode())
    roots = [graphs.point, *inputs]
    index = {}
    for var in roots:
        index[var] = len(index)
        digest.update(repr(("input", str(var.type))).encode())
    for node in io_toposort(roots, list(graphs.outputs)):
        for var in node.inputs:
            if var in index:
                continue
            if not isinstance(var, Constant):
                return None
            data = np.ascontiguousarray(var.data)
            value = hashlib.sha256(data.tobytes()).hexdigest()
            digest.update(repr(("constant", str(var.type), data.dtype.str, value)).encode())
            index[var] = len(index)
        try:
            digest.update(pickle.dumps(node.op, protocol=4))
        except (pickle.PicklingError, TypeError, AttributeError):
            return None
        positions = [index[var] for var in node.inputs]
        digest.update(repr((positions, [str(out.type) for out in node.outputs])).encode())
        for out in node.outputs:
            index[out] = len(index)
    digest.update(repr([index[out] for out in graphs.outputs]).encode())
    return digest.hexdigest()


def _unpicklable_ops(graphs: _Graphs, inputs: list) -> list[str]:
    """Return the names of the Ops of the graphs that cannot be pickled, with the reason."""
    import pickle

    from pytensor.graph.traversal import io_toposort

    names = {}
    for node in io_toposort([graphs.point, *inputs], list(graphs.outputs)):
        name = type(node.op).__name__
        if name in names:
            continue
        try:
            pickle.dumps(node.op, protocol=4)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            names[name] = f"{name} ({exc})"
    return sorted(names.values())


def _uncached_ops(function) -> list[str]:
    """Return the names of the Ops of a compiled function whose numba code has no cache key."""
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

    names = set()
    for node in function.maker.fgraph.toposort():
        if numba_funcify_and_cache_key(node.op, node=node)[1] is None:
            names.add(type(node.op).__name__)
    return sorted(names)


def _function_cache_dir():
    """Folder of the compiled functions stored on disk (inside PyTensor's compile folder)."""
    from pathlib import Path

    import pytensor

    return Path(pytensor.config.compiledir) / "gammaprob-nutpie"


def _load_functions(digest: str | None):
    """Return the (log-density, expansion) functions stored under ``digest``, or None."""
    import pickle

    if digest is None:
        return None
    path = _function_cache_dir() / f"{digest}.pkl"
    try:
        with path.open("rb") as stream:
            return pickle.load(stream)
    except FileNotFoundError:
        return None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        warnings.warn(
            f"nutpie: the compiled functions stored in {path} cannot be read ({exc}); "
            "compiling again",
            NutpieCacheWarning,
            stacklevel=4,
        )
        return None


def _store_functions(digest: str | None, functions: tuple) -> None:
    """Store the compiled functions under ``digest`` (written atomically; best effort)."""
    import os
    import pickle
    import tempfile

    if digest is None:
        return
    folder = _function_cache_dir()
    temporary = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as stream:
            temporary = stream.name
            pickle.dump(functions, stream, protocol=4)
        os.replace(temporary, folder / f"{digest}.pkl")
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)
        warnings.warn(
            f"nutpie: the compiled functions cannot be stored in {folder} ({exc}); the next "
            "process compiles them again",
            NutpieCacheWarning,
            stacklevel=4,
        )


def _compile(model, graphs: _Graphs, inputs: list) -> tuple[_Compiled | None, str]:
    """Compile the log-density + gradient and the expansion, data as inputs (numba).

    PyTensor's graph rewriting runs once per structure: the rewritten functions are stored
    on disk under :func:`structure_hash` and loaded (linked from the numba cache) by later
    processes. Returns None and the reason when PyTensor's numba function cannot be reached
    or cached (then nutpie's own compilation is used).
    """
    from numba import types
    from pymc.pytensorf import compile as compile_pymc

    logp, grad, expanded = graphs.outputs
    arguments = (graphs.point, *inputs)
    digest = structure_hash(graphs, inputs)
    functions = _load_functions(digest)
    if functions is None:
        with model:
            functions = tuple(
                compile_pymc(arguments, outputs, mode="NUMBA", on_unused_input="ignore")
                for outputs in ((logp, grad), (expanded,))
            )
        _COMPILATIONS[0] += 1
        if digest is None:
            _report_once(
                "nutpie: the compiled functions of this model are not stored on disk (Ops that "
                f"cannot be pickled: {', '.join(_unpicklable_ops(graphs, inputs)) or 'none'}); "
                "every process rewrites and compiles its graph again"
            )
        _store_functions(digest, functions)
    logp_fn, expand_fn = functions
    jitted = [getattr(getattr(f, "vm", None), "jit_fn", None) for f in (logp_fn, expand_fn)]
    if any(j is None for j in jitted):
        return None, "PyTensor's compiled function has no numba function"
    unpack, args = _unpack_source([v.type.ndim for v in inputs])
    double_ptr = types.CPointer(types.double)
    logp_entry = _cached_entry_point(
        _LOGP_SOURCE.format(n_dim=graphs.n_dim, unpack=unpack, args=args),
        "logp_entry",
        jitted[0],
        types.int64(types.uint64, double_ptr, double_ptr, double_ptr, types.voidptr),
    )
    expand_entry = _cached_entry_point(
        _EXPAND_SOURCE.format(n_dim=graphs.n_dim, unpack=unpack, args=args),
        "expand_entry",
        jitted[1],
        types.int64(types.uint64, types.uint64, double_ptr, double_ptr, types.voidptr),
    )
    if logp_entry is None or expand_entry is None:
        missing = {
            label: _uncached_ops(function)
            for label, function, entry in (
                ("log-density", logp_fn, logp_entry),
                ("expansion", expand_fn, expand_entry),
            )
            if entry is None
        }
        reasons = "; ".join(f"{label}: {', '.join(ops)}" for label, ops in missing.items())
        return None, f"Ops whose numba implementation has no cache key ({reasons})"
    compiled = _Compiled(arguments, graphs.outputs, logp_fn, expand_fn, logp_entry, expand_entry)
    return compiled, ""


def compile_nutpie(model, *, initial_points=None, log_likelihood: bool = False):
    """Compile a PyMC model for nutpie, reusing compiled code of the same model structure.

    The model's data (every array constant of its graph) become inputs of the compiled
    functions, read from a buffer passed to nutpie as its user data. The compiled code
    depends on the structure of the model only, not on its data or numbers of bins: a model
    of the same structure reuses it from memory in this process (no compilation) and from
    the numba cache on disk in a new process.

    Parameters
    ----------
    model : pymc.Model
        The model.
    initial_points : dict, optional
        Initial values by variable name (as ``pm.sample``'s ``initvals``).
    log_likelihood : bool
        Also record the log-likelihood terms of :func:`_log_likelihood_terms` with each draw
        (named with :data:`LOG_LIKELIHOOD_PREFIX`), computed by the compiled code while
        sampling; :func:`sample_nutpie` moves them to the ``log_likelihood`` group. Only on
        the cached path (not for models with shared variables).

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        Ready for ``nutpie.sample``.

    Warns
    -----
    NutpieCacheWarning
        The installed nutpie (or PyTensor) does not offer the private functions this module
        uses (:func:`private_api_problems`; the public compilation is used), or an entry
        point cannot be cached.
    """
    problems = private_api_problems()
    if problems:
        return _public_compile(model, initial_points, "; ".join(problems))
    start_fn = _initial_point_fn(model, initial_points)
    graphs = _model_graphs(model, log_likelihood=log_likelihood)
    names, _, shapes = graphs.shape_info
    flat = functools.partial(
        _private("nutpie.compile_pymc:_rv_dict_to_flat_array_wrapper"),
        names=names[: len(model.free_RVs)],
        shapes=shapes[: len(model.free_RVs)],
    )
    center, start = flat(start_fn.center), flat(start_fn)
    if _has_shared(graphs.outputs):  # pm.Data: nutpie's own path
        reason = "the model has shared variables (pm.Data)"
        return _own_compile(model, initial_points, center, start, graphs.n_dim, reason)
    outputs, inputs, values = _lift_data(graphs.outputs)
    graphs = dataclasses.replace(graphs, outputs=outputs)
    key = _structure_key(graphs, inputs)
    compiled = _lookup(key, graphs, inputs)
    if compiled is None:
        compiled, reason = _compile(model, graphs, inputs)
        if compiled is None:
            return _own_compile(model, initial_points, center, start, graphs.n_dim, reason)
        _COMPILED[key] = compiled
        while len(_COMPILED) > CACHE_SIZE:
            _COMPILED.popitem(last=False)
    dims, coords = _private("nutpie.compile_pymc:_prepare_dims_and_coords")(
        model, graphs.shape_info, graphs.reparameterized
    )
    return _private("nutpie.compile_pymc:CompiledPyMCModel")(
        _n_dim=graphs.n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, shape in zip(names, shapes, strict=True)},
        compiled_logp_func=compiled.logp_entry,
        compiled_expand_func=compiled.expand_entry,
        initial_point_func=_GuardedStarts(
            center, start, lambda x: float(compiled.logp_fn(x, *values)[0]), graphs.n_dim
        ),
        shared_data={},
        shared_var_keys={},
        user_data=data_buffer(values),
        n_expanded=graphs.n_expanded,
        shape_info=graphs.shape_info,
        logp_func=compiled.logp_fn,
        expand_func=compiled.expand_fn,
        reparameterized_names=graphs.reparameterized,
    )


def sample_nutpie(
    model,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    target_accept: float,
    progressbar: bool,
    initvals: dict | None = None,
    adaptation: str | None = None,
    log_likelihood: bool = False,
    **kwargs,
):
    """Sample with nutpie; returns the ``xarray.DataTree`` that ``pm.sample`` would.

    Parameters
    ----------
    model : pymc.Model
        The model.
    draws, tune, chains : int
        Draws kept and tuning steps per chain, number of chains (run in parallel).
    random_seed : int, optional
        Seed.
    target_accept : float
        NUTS target acceptance rate.
    progressbar : bool
        Show nutpie's progress bar.
    initvals : dict, optional
        Initial values by variable name.
    adaptation : {"low_rank", "diag", "draw_diag", "flow"}, optional
        Mass-matrix adaptation. Default: ``"low_rank"`` for models with at most
        :data:`LOW_RANK_MAX_DIM` unconstrained dimensions, which learns the posterior
        correlations (amplitude, index and curvature of a spectrum are correlated unless the
        reference energy is the decorrelation energy): on the joint-Crab WStat posterior it
        gives about 3x the effective sample size of a diagonal mass matrix in less time.
        ``"diag"`` for larger models (hundreds of latent background rates), where the
        low-rank update costs more than it gains.
    log_likelihood : bool
        Add the ``log_likelihood`` group (spectrum terms per bin, map datasets per energy bin),
        computed by the compiled code with each draw; left out for models that go through
        nutpie's own compilation (shared variables), for which the caller computes it.
    **kwargs
        Passed to ``nutpie.sample`` (e.g. ``maxdepth``, ``cores``).

    Returns
    -------
    xarray.DataTree
        ``posterior``, ``sample_stats``, ``observed_data`` and ``constant_data`` (and
        ``log_likelihood``).
    """
    import time

    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    if initvals is not None and not isinstance(initvals, dict):
        raise ValueError("nutpie takes one dict of initial values for all chains (initvals=)")
    compiled = compile_nutpie(model, initial_points=initvals, log_likelihood=log_likelihood)
    if adaptation is None:
        adaptation = "low_rank" if compiled.n_dim <= LOW_RANK_MAX_DIM else "diag"
    start = time.perf_counter()
    tree = nutpie.sample(
        compiled,
        draws=draws,
        tune=max(tune, 1),  # nuts-rs needs at least one tuning step
        chains=chains,
        seed=random_seed,
        save_warmup=False,
        progress_bar=progressbar,
        target_accept=target_accept,
        adaptation=adaptation,
        **kwargs,
    )
    if isinstance(compiled.initial_point_func, _GuardedStarts):
        compiled.initial_point_func.report(chains)
    _move_log_likelihood(tree, model, compiled.shape_info)
    patch_nutpie_idata(tree, model, sampling_time=time.perf_counter() - start)
    return tree


def _move_log_likelihood(tree, model, shape_info) -> None:
    """Move the recorded log-likelihood terms from the posterior to a ``log_likelihood`` group.

    Dimensions and coordinates are those of
    :func:`gammaprob.inference.samplers.reduced_log_likelihood`: ``<name>_energy`` (the
    energy-bin index) for map datasets, ``<name>_dim_<k>`` for spectrum terms.
    """
    import xarray as xr

    from gammaprob.likelihood.groups import energy_groups

    names = [n for n in shape_info[0] if n.startswith(LOG_LIKELIHOOD_PREFIX)]
    if not names:
        return
    groups = energy_groups(model)
    posterior = tree["posterior"].to_dataset()
    data = {}
    for recorded in names:
        name = recorded.removeprefix(LOG_LIKELIHOOD_PREFIX)
        values = np.asarray(posterior[recorded].values, dtype=np.float64)
        labels = groups.get(name.split("::", 1)[0])
        if labels is not None:
            dim = f"{name}_energy"
            data[name] = xr.DataArray(
                values, dims=("chain", "draw", dim), coords={dim: np.unique(labels)}
            )
        else:
            dims = [f"{name}_dim_{k}" for k in range(values.ndim - 2)]
            data[name] = xr.DataArray(values, dims=("chain", "draw", *dims))
    dataset = xr.Dataset(data, coords={k: posterior.coords[k] for k in ("chain", "draw")})
    dataset.attrs["granularity"] = "per bin; map datasets summed per energy bin"
    tree["posterior"] = xr.DataTree(posterior.drop_vars(names))
    tree["log_likelihood"] = xr.DataTree(dataset)
