"""Where gammaprob finds public data: the ``GAMMAPY_DATA`` environment variable."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataNotFoundError

__all__ = ["gammapy_data_path", "resolve_data_path"]


def gammapy_data_path(required: bool = True) -> Path | None:
    """Return the folder named by ``$GAMMAPY_DATA``.

    Parameters
    ----------
    required : bool
        Raise if the variable is unset or the folder does not exist; otherwise return None.

    Returns
    -------
    pathlib.Path or None
        The data folder.
    """
    value = os.environ.get("GAMMAPY_DATA")
    if not value:
        if required:
            raise DataNotFoundError(
                "GAMMAPY_DATA is not set. Point it at your gammapy-data folder, e.g. "
                "`export GAMMAPY_DATA=$HOME/gammapy-data`."
            )
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        if required:
            raise DataNotFoundError(f"GAMMAPY_DATA={value!r} is not an existing folder.")
        return None
    return path


def resolve_data_path(path: str | os.PathLike) -> Path:
    """Expand ``$GAMMAPY_DATA`` (and other variables and ``~``) in a path.

    Parameters
    ----------
    path : str or path-like
        A path such as ``"$GAMMAPY_DATA/hess-dl3-dr1"``.

    Returns
    -------
    pathlib.Path
        The expanded path.
    """
    text = os.fspath(path)
    if "$GAMMAPY_DATA" in text or "${GAMMAPY_DATA}" in text:
        gammapy_data_path(required=True)
    return Path(os.path.expandvars(text)).expanduser()
