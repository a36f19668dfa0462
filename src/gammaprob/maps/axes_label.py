"""Axis of named bins: :class:`LabelMapAxis` (e.g. one bin per dataset or per source)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import astropy.units as u
import numpy as np

from .axis_interp import pix_to_idx

__all__ = ["LabelMapAxis"]


class LabelMapAxis:
    """Axis whose bins are named by unique string labels, in the given order.

    Parameters
    ----------
    labels : iterable of str
        Unique, non-empty labels.
    name : str
        Axis name (e.g. ``"dataset"``).

    Examples
    --------
    >>> axis = LabelMapAxis(["hess", "magic", "fermi"], name="dataset")
    >>> axis.coord_to_idx(["fermi", "hess"])
    array([2, 0])
    """

    node_type = "label"
    interp = "lin"
    unit = u.one

    def __init__(self, labels: Iterable[str], name: str = "") -> None:
        labels = [str(label) for label in labels]
        if not labels:
            raise ValueError("LabelMapAxis needs at least one label")
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"LabelMapAxis labels must be unique, got duplicates {duplicates}")
        self._labels = np.array(labels)
        self._labels.setflags(write=False)
        self._index = {label: i for i, label in enumerate(labels)}
        self._name = name

    @property
    def name(self) -> str:
        """Axis name."""
        return self._name

    @property
    def nbin(self) -> int:
        """Number of labels."""
        return self._labels.size

    def __len__(self) -> int:
        return self.nbin

    @property
    def center(self) -> np.ndarray:
        """The labels (string array)."""
        return self._labels

    labels = center

    def coord_to_idx(self, labels: Any, clip: bool = False) -> np.ndarray:
        """Return the bin index of each label.

        Parameters
        ----------
        labels : str or array-like of str
            Labels to look up.
        clip : bool
            Unused (labels have no order to clip to); accepted for interface compatibility.

        Returns
        -------
        numpy.ndarray of int
            Bin indices.

        Raises
        ------
        KeyError
            A label is not on the axis.
        """
        values = np.asarray(labels, dtype=str)
        flat = [self._lookup(str(v)) for v in values.ravel()]
        return np.array(flat, dtype=np.int64).reshape(values.shape)

    def _lookup(self, label: str) -> int:
        try:
            return self._index[label]
        except KeyError:
            raise KeyError(
                f"label {label!r} is not on axis {self._name!r}; labels: {list(self._labels)}"
            ) from None

    def coord_to_pix(self, labels: Any) -> np.ndarray:
        """Pixel coordinate of each label (its index as float)."""
        return self.coord_to_idx(labels).astype(float)

    def pix_to_idx(self, pix: Any, clip: bool = False) -> np.ndarray:
        """Round pixel coordinates to bin indices (``-1`` outside or NaN, unless ``clip``)."""
        return pix_to_idx(pix, self.nbin, clip)

    def pix_to_coord(self, pix: Any) -> np.ndarray:
        """Label of the bin nearest to each pixel coordinate.

        Raises
        ------
        IndexError
            A pixel lies outside ``[-0.5, nbin - 0.5)``.
        """
        idx = np.floor(np.asarray(pix, dtype=float) + 0.5)
        if np.any(~np.isfinite(idx)) or np.any((idx < 0) | (idx >= self.nbin)):
            raise IndexError(
                f"pixel coordinates outside label axis {self._name!r} of {self.nbin} bins"
            )
        return self._labels[idx.astype(int)]

    def slice(self, slc: slice | int) -> LabelMapAxis:
        """Return the labels selected by ``slc``."""
        selected = self._labels[slc]
        return LabelMapAxis(np.atleast_1d(selected), name=self._name)

    def squash(self) -> LabelMapAxis:
        """Return one bin labelled ``"first...last"``."""
        label = self._labels[0] if self.nbin == 1 else f"{self._labels[0]}...{self._labels[-1]}"
        return LabelMapAxis([label], name=self._name)

    def copy(self, **changes: Any) -> LabelMapAxis:
        """Return a copy with ``labels`` and/or ``name`` replaced."""
        kwargs = {"labels": self._labels, "name": self._name}
        kwargs.update(changes)
        return LabelMapAxis(**kwargs)

    def is_aligned(self, other: Any, rtol: float = 0.0) -> bool:
        """Return True if ``other`` has the same labels in the same order."""
        return isinstance(other, LabelMapAxis) and list(other.center) == list(self._labels)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelMapAxis):
            return NotImplemented
        return self._name == other._name and self.is_aligned(other)

    def __hash__(self) -> int:
        return hash((self._name, tuple(self._labels)))

    def __repr__(self) -> str:
        shown = list(self._labels[:5]) + (["..."] if self.nbin > 5 else [])
        return f"LabelMapAxis(name={self._name!r}, nbin={self.nbin}, labels={shown})"
