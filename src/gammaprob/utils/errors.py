"""Exception types that name where bad input came from."""

from __future__ import annotations

from os import PathLike


class GammaprobError(Exception):
    """Base class of all gammaprob errors."""


class FormatError(GammaprobError, ValueError):
    """A file does not follow the format it claims to follow.

    The message names the file, the HDU and the column (where known) and says what was
    expected, so the user can find and fix the problem.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    path : str or path-like, optional
        File that was read.
    hdu : str or int, optional
        HDU name or index.
    column : str, optional
        Column or header keyword.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike | None = None,
        hdu: str | int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.hdu = hdu
        self.column = column
        where = []
        if path is not None:
            where.append(f"file {str(path)!r}")
        if hdu is not None:
            where.append(f"HDU {hdu!r}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DataNotFoundError(GammaprobError, FileNotFoundError):
    """Data the user asked for are not where gammaprob looked."""


class ReductionError(GammaprobError, RuntimeError):
    """Reducing one observation to a dataset failed.

    Raised by :func:`gammaprob.makers.reduce` (with its default ``on_error="raise"``) with the
    original exception chained as ``__cause__``.

    Parameters
    ----------
    obs_id : int, str or None
        Id of the observation that failed (None when the error concerns several).
    message : str
        What went wrong (``"ExceptionType: message"`` of the original error).
    """

    def __init__(self, obs_id: int | str | None, message: str) -> None:
        self.obs_id = obs_id
        super().__init__(message if obs_id is None else f"observation {obs_id}: {message}")
