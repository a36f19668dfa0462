"""Run a chain of makers over many observations, in parallel on Dask."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence, Sized
from dataclasses import dataclass, field
from typing import Literal

from gammaprob.datasets import Datasets
from gammaprob.utils.errors import ReductionError

from .stack import RunningStack

__all__ = [
    "ON_ERROR",
    "ReductionError",
    "ReductionResult",
    "describe_error",
    "reduce",
    "reduce_one",
]

#: Accepted values of ``reduce(..., on_error=...)``.
ON_ERROR = ("raise", "skip")


def reduce_one(template, observation, makers: Sequence):
    """Apply ``makers`` in order to one observation.

    The first maker receives ``(template, observation)`` and makes the dataset; each following
    maker receives ``(dataset, observation)`` and returns a new dataset.

    Parameters
    ----------
    template : SpectrumTemplate or MapTemplate
        Binning.
    observation : gammaprob.data.Observation
        The observation.
    makers : sequence
        Maker objects with a ``run`` method.

    Returns
    -------
    SpectrumDataset or MapDataset
        The reduced dataset.
    """
    if not makers:
        raise ValueError("makers is empty: give at least a dataset maker")
    dataset = makers[0].run(template, observation)
    for maker in makers[1:]:
        dataset = maker.run(dataset, observation)
    return dataset


def describe_error(exc: BaseException) -> str:
    """One line ``"ExceptionType: message"`` for an exception (line breaks collapsed).

    Parameters
    ----------
    exc : BaseException
        The exception.

    Returns
    -------
    str
        The exception's type name and message on one line.
    """
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _task(template, observation, makers, skip: bool):
    """Worker task returning ``(obs_id, dataset, error_line)``.

    With ``skip`` an exception becomes its one-line description (``dataset`` is None);
    otherwise it propagates (Dask re-raises it, with its traceback, in the caller).
    """
    if not skip:
        return observation.obs_id, reduce_one(template, observation, makers), None
    try:
        return observation.obs_id, reduce_one(template, observation, makers), None
    except Exception as exc:  # on_error="skip": reported per observation by reduce()
        return observation.obs_id, None, describe_error(exc)


@dataclass
class ReductionResult:
    """Outcome of :func:`reduce`.

    Attributes
    ----------
    datasets : Datasets
        One dataset per reduced observation, or one stacked dataset.
    skipped : dict
        ``{obs_id: "ExceptionType: message"}`` of the observations that raised and were
        skipped (only with ``on_error="skip"``; empty otherwise).
    """

    datasets: Datasets
    skipped: dict = field(default_factory=dict)

    @property
    def failed(self) -> dict:
        """Same as :attr:`skipped` (the observations that raised and were left out)."""
        return self.skipped

    def __repr__(self) -> str:
        names = ", ".join(d.name for d in self.datasets)
        return (
            f"ReductionResult({len(self.datasets)} dataset(s): [{names}], "
            f"skipped={sorted(self.skipped)})"
        )


def reduce(
    template,
    observations,
    makers: Sequence,
    stack: bool = False,
    client=None,
    n_workers: int | None = None,
    progress: bool = True,
    name: str = "stacked",
    on_error: Literal["raise", "skip"] = "raise",
) -> ReductionResult:
    """Reduce observations to datasets, one task per observation.

    Parameters
    ----------
    template : SpectrumTemplate or MapTemplate
        Binning shared by all observations.
    observations : iterable of gammaprob.data.Observation
        Observations, consumed lazily: pass a generator (e.g.
        :meth:`gammaprob.simulate.SimulatedSurvey.observations`) to hold only the
        observations being reduced.
    makers : sequence
        Dataset maker first, then background / safe-mask makers (see :func:`reduce_one`).
    stack : bool
        Stack the datasets into one (spectra: :func:`stack_spectra`, maps:
        :func:`stack_map_datasets`) instead of keeping one per observation. Each dataset is
        stacked as soon as it is reduced (:class:`~gammaprob.makers.stack.RunningStack`), so
        memory does not grow with the number of observations; on Dask at most twice the
        cluster's threads (at least 4) tasks are in flight.
    client : dask.distributed.Client, optional
        Run on this client (any cluster). Without it, ``n_workers`` decides.
    n_workers : int, optional
        ``None`` or ``1``: run in this process. ``> 1``: start a local Dask cluster of
        ``n_workers`` single-threaded processes for this call.
    progress : bool
        Show a tqdm progress bar.
    name : str
        Name of the stacked dataset.
    on_error : {"raise", "skip"}
        ``"raise"`` (default): the first observation that fails stops the reduction with a
        :class:`~gammaprob.utils.errors.ReductionError` naming its observation id, the
        original exception chained (in this process the observations after it are not
        reduced; on Dask the pending tasks are cancelled). ``"skip"``: leave failing
        observations out, record them in :attr:`ReductionResult.skipped` and warn with one
        line per observation (``obs_id: ExceptionType: message``).

    Returns
    -------
    ReductionResult
        Datasets in the order of ``observations`` and the skipped observations.

    Raises
    ------
    ReductionError
        An observation failed (``on_error="raise"``), or every observation failed
        (``on_error="skip"``).
    ValueError
        No observations, ``n_workers < 1`` or an unknown ``on_error``.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    skip = on_error == "skip"
    makers = list(makers)
    total = len(observations) if isinstance(observations, Sized) else None
    todo = iter(observations)
    first = next(todo, None)
    if first is None:
        raise ValueError("no observations to reduce")
    todo = itertools.chain([first], todo)
    if n_workers is not None and int(n_workers) < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers!r}")
    outcomes = _Outcomes(RunningStack(name) if stack else None)
    bar = _progress_bar(total) if progress else None
    try:
        if client is not None:
            _run_dask(client, template, todo, makers, skip, outcomes, bar)
        elif n_workers is not None and int(n_workers) > 1:
            from dask.distributed import Client, LocalCluster

            with (
                LocalCluster(
                    n_workers=int(n_workers),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                ) as cluster,
                Client(cluster) as local,
            ):
                _run_dask(local, template, todo, makers, skip, outcomes, bar)
        else:
            for index, obs in enumerate(todo):
                try:
                    outcome = _task(template, obs, makers, skip)
                except Exception as exc:
                    raise ReductionError(obs.obs_id, describe_error(exc)) from exc
                outcomes.add(index, outcome)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    skipped = outcomes.skipped()
    if not outcomes.n_reduced:
        raise ReductionError(
            None,
            f"reduce: every observation failed (on_error='skip'):\n{_skipped_lines(skipped)}",
        )
    if skipped:
        warnings.warn(
            f"reduce: skipped {len(skipped)} of {outcomes.n_seen} observation(s) "
            f"(on_error='skip'):\n{_skipped_lines(skipped)}",
            stacklevel=2,
        )
    return ReductionResult(Datasets(outcomes.datasets()), skipped)


class _Outcomes:
    """Outcomes of the tasks as they arrive, in any order.

    Each dataset is kept by its input position, or stacked at once onto a
    :class:`RunningStack` (then only the running sum is held); failures are recorded.
    """

    def __init__(self, stack: RunningStack | None) -> None:
        self.stack = stack
        self.kept: dict[int, object] = {}
        self.failed: dict[int, tuple[int, str]] = {}
        self.n_seen = 0
        self.n_reduced = 0

    def add(self, index: int, outcome: tuple) -> None:
        obs_id, dataset, error = outcome
        self.n_seen += 1
        if error is not None:
            self.failed[index] = (obs_id, error)
            return
        self.n_reduced += 1
        if self.stack is None:
            self.kept[index] = dataset
        else:
            self.stack.add(index, dataset)

    def skipped(self) -> dict:
        return dict(self.failed[i] for i in sorted(self.failed))

    def datasets(self) -> list:
        if self.stack is not None:
            return [self.stack.result()]
        return [self.kept[i] for i in sorted(self.kept)]


def _skipped_lines(skipped: dict) -> str:
    return "\n".join(f"  {obs_id}: {error}" for obs_id, error in skipped.items())


def _progress_bar(total: int | None):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="reduce", unit="obs")


def _run_dask(client, template, observations, makers, skip: bool, outcomes: _Outcomes, bar):
    """Run one task per observation on ``client``, passing each outcome to ``outcomes``.

    At most :func:`_window` tasks are in flight: the next observation is taken from the
    iterator (and sent) only when a task finishes, and each finished result is handed over
    and released at once, so neither this process nor the workers hold more than the window's
    observations and datasets.
    """
    from dask.distributed import as_completed

    todo = enumerate(observations)
    pending: dict = {}  # future key -> (input index, obs_id, future)
    running = as_completed()

    def submit_next() -> None:
        item = next(todo, None)
        if item is not None:
            index, obs = item
            future = client.submit(_task, template, obs, makers, skip, pure=False)
            pending[future.key] = (index, obs.obs_id, future)
            running.add(future)

    for _ in range(_window(client)):
        submit_next()
    for future in running:
        index, obs_id, _ = pending.pop(future.key)
        try:
            outcome = future.result()
        except Exception as exc:
            client.cancel([f for _, _, f in pending.values()])
            raise ReductionError(obs_id, describe_error(exc)) from exc
        future.release()
        outcomes.add(index, outcome)
        if bar is not None:
            bar.update(1)
        submit_next()


def _window(client) -> int:
    """Tasks kept in flight: twice the cluster's threads (at least 4)."""
    return max(4, 2 * sum(client.nthreads().values()))
