"""Where gammaprob finds public data: the ``GAMMAPY_DATA`` environment variable.

This module is the one place that reads ``GAMMAPY_DATA``. The variable is read at every call
(never cached), so a process (or a test) can point it elsewhere at any time; ``~`` and other
environment variables in its value are expanded.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import DataNotFoundError

__all__ = ["GAMMAPY_DATA", "gammapy_data_path", "resolve_data_path"]

GAMMAPY_DATA = "GAMMAPY_DATA"
"""Name of the environment variable that points at the gammapy-data folder."""

_REFERENCE = re.compile(r"\$(?:GAMMAPY_DATA\b|\{GAMMAPY_DATA\})")


def gammapy_data_path(required: bool = True) -> Path | None:
    """Return the folder named by ``$GAMMAPY_DATA``, read from the environment now.

    ``~`` and environment variables in the value are expanded.

    Parameters
    ----------
    required : bool
        Raise if the variable is unset or the folder does not exist; otherwise return None.

    Returns
    -------
    pathlib.Path or None
        The data folder.

    Raises
    ------
    gammaprob.utils.errors.DataNotFoundError
        ``required`` and the variable is unset, empty, or not an existing folder.
    """
    value = os.environ.get(GAMMAPY_DATA, "").strip()
    if not value:
        if required:
            raise DataNotFoundError(
                f"{GAMMAPY_DATA} is not set. Point it at your gammapy-data folder, e.g. "
                f"`export {GAMMAPY_DATA}=$HOME/gammapy-data`."
            )
        return None
    path = Path(os.path.expandvars(value)).expanduser()
    if not path.is_dir():
        if required:
            raise DataNotFoundError(
                f"{GAMMAPY_DATA}={value!r} is not an existing folder (expanded: {str(path)!r})."
            )
        return None
    return path


def resolve_data_path(path: str | os.PathLike) -> Path:
    """Expand ``$GAMMAPY_DATA`` (or ``${GAMMAPY_DATA}``), other variables and ``~`` in a path.

    Parameters
    ----------
    path : str or path-like
        A path such as ``"$GAMMAPY_DATA/hess-dl3-dr1"`` or ``"~/data/run.fits"``.

    Returns
    -------
    pathlib.Path
        The expanded path (the file need not exist).

    Raises
    ------
    gammaprob.utils.errors.DataNotFoundError
        The path refers to ``$GAMMAPY_DATA`` and the variable is unset or not a folder.
    """
    text = os.fspath(path)
    if _REFERENCE.search(text):
        root = str(gammapy_data_path(required=True))
        text = _REFERENCE.sub(lambda _: root, text)
    return Path(os.path.expandvars(text)).expanduser()
