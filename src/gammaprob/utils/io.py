"""Writing files safely: never overwrite unless asked, always atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "check_overwrite"]


def check_overwrite(path: str | os.PathLike, overwrite: bool) -> Path:
    """Raise if ``path`` exists and ``overwrite`` is False.

    Parameters
    ----------
    path : str or path-like
        Target file.
    overwrite : bool
        Whether an existing file may be replaced.

    Returns
    -------
    pathlib.Path
        The target as a Path.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` and move it into place on success.

    A reader never sees a half-written file, and a failed write leaves any existing file
    untouched.

    Parameters
    ----------
    path : str or path-like
        Final file name.
    overwrite : bool
        Whether an existing file may be replaced.

    Yields
    ------
    pathlib.Path
        Temporary file to write to (same folder and suffixes as ``path``).
    """
    path = check_overwrite(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as astropy refuse to write over an existing file
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"nothing was written to the temporary file for {str(path)!r}")
        if path.exists() and not overwrite:
            raise FileExistsError(f"{str(path)!r} appeared while writing; not replaced.")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
