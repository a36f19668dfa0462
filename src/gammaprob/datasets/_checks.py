"""Validation of the arrays a dataset holds: clear errors instead of silent NaNs."""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np

from gammaprob.maps.axes import MapAxis

__all__ = [
    "as_background",
    "as_counts",
    "as_mask",
    "as_nonnegative",
    "as_quantity",
    "check_axis",
    "frozen",
]


def frozen(array: np.ndarray) -> np.ndarray:
    """Return ``array`` (a private copy) with the write flag cleared."""
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


def as_counts(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Validate observed counts: finite, non-negative, integer-valued, of the given shape.

    Parameters
    ----------
    value : array_like
        Counts.
    shape : tuple of int
        Expected shape.
    what : str
        Name used in error messages, e.g. ``"dataset 'crab': counts"``.

    Returns
    -------
    numpy.ndarray
        Read-only float64 copy.
    """
    array = np.asarray(value, dtype=np.float64)
    if array.shape != tuple(shape):
        raise ValueError(f"{what}: expected shape {tuple(shape)}, got {array.shape}")
    bad = ~np.isfinite(array) | (array < 0) | (array != np.round(array))
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{what}: counts must be finite non-negative integers; {int(bad.sum())} bin(s) are not "
            f"(first at index {idx}: {array[idx]!r})"
        )
    return frozen(array)


def as_nonnegative(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Validate a finite, non-negative float array (background, acceptance, edisp)."""
    array = np.asarray(value, dtype=np.float64)
    if array.shape != tuple(shape):
        raise ValueError(f"{what}: expected shape {tuple(shape)}, got {array.shape}")
    bad = ~np.isfinite(array) | (array < 0)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{what}: values must be finite and non-negative; {int(bad.sum())} bin(s) are not "
            f"(first at index {idx}: {array[idx]!r})"
        )
    return frozen(array)


def as_background(value: Any, shape: tuple[int, ...], what: str, rtol: float = 1e-9) -> np.ndarray:
    """Validate predicted background counts: finite, and non-negative up to rounding noise.

    Values down to ``-rtol * max(|b|)`` are accepted unchanged (files written by other codes
    carry such noise, e.g. -8e-18 in the HAWC nHit-5 background); anything more negative is
    an error.
    """
    array = np.asarray(value, dtype=np.float64)
    if array.shape != tuple(shape):
        raise ValueError(f"{what}: expected shape {tuple(shape)}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: {int((~np.isfinite(array)).sum())} bin(s) are NaN or inf")
    floor = -rtol * (np.abs(array).max() if array.size else 0.0)
    if np.any(array < floor):
        idx = tuple(int(i) for i in np.argwhere(array < floor)[0])
        raise ValueError(
            f"{what}: background counts must be non-negative; bin {idx} is {array[idx]!r}"
        )
    return frozen(array)


def as_quantity(
    value: Any, unit: str | u.UnitBase, shape: tuple[int, ...], what: str
) -> u.Quantity:
    """Validate a finite, non-negative Quantity convertible to ``unit``; return it in ``unit``."""
    if not isinstance(value, u.Quantity):
        raise TypeError(
            f"{what}: expected an astropy Quantity in units of {unit}, got {type(value).__name__}"
        )
    try:
        data = value.to_value(unit)
    except u.UnitConversionError as exc:
        raise ValueError(f"{what}: unit {value.unit} is not convertible to {unit}") from exc
    data = as_nonnegative(data, shape, what)
    return u.Quantity(data, unit, copy=False)


def as_mask(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray | None:
    """Validate a boolean mask of the given shape (None stays None)."""
    if value is None:
        return None
    array = np.asarray(value)
    if array.dtype != bool:
        if not np.all(np.isin(array, (0, 1))):
            raise ValueError(
                f"{what}: a mask must be boolean (or 0/1), got values {np.unique(array)[:5]}"
            )
        array = array.astype(bool)
    if array.shape != tuple(shape):
        raise ValueError(f"{what}: expected shape {tuple(shape)}, got {array.shape}")
    return frozen(array)


def check_axis(axis: Any, name: str, what: str) -> MapAxis:
    """Check that ``axis`` is an energy :class:`MapAxis` called ``name`` with edges."""
    if not isinstance(axis, MapAxis):
        raise TypeError(f"{what}: expected a MapAxis, got {type(axis).__name__}")
    if axis.name != name:
        raise ValueError(f"{what}: expected an axis named {name!r}, got {axis.name!r}")
    if axis.node_type != "edges" or not axis.unit.is_equivalent(u.TeV):
        raise ValueError(f"{what}: expected an energy axis with bin edges, got {axis!r}")
    return axis
