"""One physics code path for numpy arrays and pytensor tensors.

Model components write their formulas once against the namespace returned by
:func:`namespace`; the same function then evaluates plain numpy arrays (plots, products,
simulation) and builds pytensor graphs (likelihoods, gradients for NUTS).

Examples
--------
>>> import numpy as np
>>> def power_law(energy, index, amplitude, reference):
...     xp = namespace(energy, index, amplitude, reference)
...     return amplitude * xp.power(energy / reference, -index)
>>> float(power_law(np.array(2.0), 2.0, 1.0, 1.0))
0.25
"""

from __future__ import annotations

import functools
import types
from functools import cache

import numpy as np

__all__ = ["is_tensor", "namespace", "numpy_namespace", "pytensor_namespace"]

# Functions every component may use. numpy/scipy and pytensor spell a few differently.
#: Taken from scipy.special when the numpy namespace is first built (scipy loads lazily).
_SCIPY_SPECIAL = ("erf", "erfc", "gamma", "gammainc", "gammaincc", "gammaln")
_NUMPY = {
    "abs": np.abs,
    "arccos": np.arccos,
    "arcsin": np.arcsin,
    "arctan2": np.arctan2,
    "clip": np.clip,
    "cos": np.cos,
    "cosh": np.cosh,
    "exp": np.exp,
    "expm1": np.expm1,
    "log": np.log,
    "log10": np.log10,
    "log1p": np.log1p,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "power": np.power,
    "sin": np.sin,
    "sinh": np.sinh,
    "sqrt": np.sqrt,
    "square": np.square,
    "sum": np.sum,
    "tan": np.tan,
    "tanh": np.tanh,
    "where": np.where,
    "stack": np.stack,
    "concatenate": np.concatenate,
    "asarray": np.asarray,
    "zeros_like": np.zeros_like,
    "ones_like": np.ones_like,
    "pi": np.pi,
}


# Functions whose arguments are sequences or shapes, not numbers.
_NO_SCALAR_CAST = {"stack", "concatenate", "sum", "zeros_like", "ones_like"}


def _float64_scalars(func):
    """Pass Python floats to ``func`` as float64 numpy scalars.

    pytensor turns a Python float into the narrowest exact dtype (``4.0`` becomes float32), so
    ``pt.log(4.0)`` would be computed in single precision.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        args = tuple(np.float64(a) if type(a) is float else a for a in args)
        kwargs = {k: np.float64(v) if type(v) is float else v for k, v in kwargs.items()}
        return func(*args, **kwargs)

    return wrapper


def numpy_namespace() -> types.SimpleNamespace:
    """Return the numpy/scipy flavour of the namespace."""
    return _numpy_ns()


@cache
def _numpy_ns() -> types.SimpleNamespace:
    import scipy.special

    special = {name: getattr(scipy.special, name) for name in _SCIPY_SPECIAL}
    return types.SimpleNamespace(name="numpy", **_NUMPY, **special)


@cache
def pytensor_namespace() -> types.SimpleNamespace:
    """Return the pytensor flavour of the namespace (imports pytensor on first use)."""
    import pytensor.tensor as pt

    names = (*_NUMPY, *_SCIPY_SPECIAL)
    funcs = {name: getattr(pt, name) for name in names if hasattr(pt, name)}
    funcs.update(
        abs=pt.abs,
        arctan2=pt.arctan2,
        asarray=pt.as_tensor_variable,
        clip=pt.clip,
        concatenate=pt.concatenate,
        gammainc=pt.gammainc,
        gammaincc=pt.gammaincc,
        gammaln=pt.gammaln,
        power=pt.power,
        stack=pt.stack,
        sum=pt.sum,
        where=pt.where,
        zeros_like=pt.zeros_like,
        ones_like=pt.ones_like,
        pi=np.pi,
    )
    funcs = {
        name: f if name in _NO_SCALAR_CAST or not callable(f) else _float64_scalars(f)
        for name, f in funcs.items()
    }
    missing = set(names) - set(funcs)
    if missing:  # pragma: no cover - guards against pytensor renames
        raise ImportError(f"pytensor lacks functions gammaprob needs: {sorted(missing)}")
    return types.SimpleNamespace(name="pytensor", **funcs)


def is_tensor(value) -> bool:
    """Return True for pytensor variables (without importing pytensor if unused)."""
    module = type(value).__module__
    return module.startswith("pytensor")


def namespace(*values) -> types.SimpleNamespace:
    """Return the pytensor namespace if any value is a pytensor variable, else numpy's.

    Parameters
    ----------
    *values
        Arrays, numbers or tensors passed to a physics function.

    Returns
    -------
    types.SimpleNamespace
        Functions ``exp``, ``log``, ``where``, ``erf``, ... for that array type.
    """
    if any(is_tensor(v) for v in values):
        return pytensor_namespace()
    return numpy_namespace()
