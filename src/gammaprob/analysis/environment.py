"""A summary of the installation: versions, compute backend and data availability."""

from __future__ import annotations

import importlib.metadata
import os
import platform

from ..utils.paths import GAMMAPY_DATA, gammapy_data_path

__all__ = ["environment_report"]

_PACKAGES = (
    "pymc",
    "pytensor",
    "arviz",
    "nutpie",
    "numpy",
    "scipy",
    "astropy",
    "regions",
    "healpy",
    "numba",
)
_OPTIONAL = ("jax", "numpyro", "gammapy")


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_report() -> dict:
    """Describe the installation as a plain dictionary.

    Returns
    -------
    dict
        ``gammaprob`` and Python versions, required and optional package versions
        (None when absent), pytensor's compile mode and the ``GAMMAPY_DATA`` status.
    """
    import gammaprob

    data = gammapy_data_path(required=False)
    return {
        "gammaprob": gammaprob.__version__,
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "optional": {name: _version(name) for name in _OPTIONAL},
        "pytensor_linker": _pytensor_linker(),
        "GAMMAPY_DATA": {
            "value": os.environ.get(GAMMAPY_DATA),
            "found": data is not None,
        },
    }


def _pytensor_linker() -> str:
    import pytensor

    return f"mode={pytensor.config.mode}, linker={pytensor.config.linker}"
