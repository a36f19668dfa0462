"""gammaprob: Bayesian-native gamma-ray astronomy.

Sub-packages are imported on demand (``from gammaprob.maps import Map``); importing
``gammaprob`` itself is cheap and loads neither PyMC nor matplotlib (nor, until
``gammaprob.__version__`` is asked for, :mod:`importlib.metadata`).
"""

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    """Resolve ``__version__`` from the installed distribution on first access."""
    if name != "__version__":
        raise AttributeError(f"module 'gammaprob' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("gammaprob")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        value = "0.0.0+unknown"
    globals()["__version__"] = value
    return value
