"""Plot methods shared by spectrum and map datasets: one-line delegates to visualization.

``gammaprob.visualization.datasets`` (and matplotlib) are imported only when a plot is drawn.
"""

from __future__ import annotations

__all__ = ["DatasetPlots"]


class DatasetPlots:
    """``peek``, ``plot_excess``, ``plot_fit`` and ``plot_residuals`` of a dataset."""

    __slots__ = ()

    def peek(self):
        """Quick-look figure (see :func:`gammaprob.visualization.datasets.peek`)."""
        from gammaprob.visualization.datasets import peek

        return peek(self)

    def plot_excess(self, ax=None, **kwargs):
        """Excess counts (see :func:`gammaprob.visualization.datasets.plot_excess`)."""
        from gammaprob.visualization.datasets import plot_excess

        return plot_excess(self, ax=ax, **kwargs)

    def plot_fit(self, models, result=None, axes=None, method: str = "diff"):
        """Plot counts, prediction and residuals (:func:`gammaprob.visualization.datasets.plot_fit`)."""
        from gammaprob.visualization.datasets import plot_fit

        return plot_fit(self, models, result=result, axes=axes, method=method)

    def plot_residuals(self, models, result=None, method: str = "diff", ax=None, **kwargs):
        """Residuals (see :func:`gammaprob.visualization.datasets.plot_residuals`)."""
        from gammaprob.visualization.datasets import plot_residuals

        return plot_residuals(self, models, result=result, method=method, ax=ax, **kwargs)
