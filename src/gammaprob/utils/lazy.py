"""Lazy package namespaces: a public name imports its module on first access (PEP 562).

A package ``__init__`` that re-exports names from many sub-modules would otherwise import
all of them, and their heavy dependencies (healpy, regions, scipy.ndimage, ...), whenever
any one sub-module is used. With :func:`lazy_exports` the package stays cheap to import:
``from gammaprob.maps import MapAxis`` imports ``gammaprob.maps.axes`` only.

Examples
--------
In a package ``__init__.py``::

    __getattr__, __dir__ = lazy_exports(__name__, globals(), {".axes": ("MapAxis",)})
    __all__ = ["MapAxis"]
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, namespace: dict[str, Any], exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the module-level ``__getattr__`` and ``__dir__`` of a lazy package.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    namespace : dict
        The package's ``globals()``; a resolved name is stored there, so later accesses cost
        nothing.
    exports : mapping
        ``{".submodule": ("Name", ...)}``: where each public name is defined (relative
        module names resolve against ``package``).

    Returns
    -------
    getattr, dir : callable
        Assign them to ``__getattr__`` and ``__dir__`` in the package. ``__getattr__`` also
        imports a sub-module accessed as an attribute (``gammaprob.maps.hpx``), as an eager
        package would have; anything else is an ``AttributeError``.

    Raises
    ------
    ValueError
        A name is listed under two modules.
    """
    owner: dict[str, str] = {}
    for module, names in exports.items():
        for name in names:
            if name in owner:
                raise ValueError(f"{package}: {name!r} is exported by {owner[name]} and {module}")
            owner[name] = module

    def __getattr__(name: str) -> Any:
        module = owner.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module, package), name)
        elif name.startswith("__"):
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        else:
            full = f"{package}.{name}"
            try:
                value = importlib.import_module(full)
            except ModuleNotFoundError as exc:
                if exc.name != full:
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(owner))

    return __getattr__, __dir__
