"""Run a chain of makers over many observations, in parallel on Dask."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from gammaprob.datasets import Datasets, MapDataset, SpectrumDataset, stack_spectra
from gammaprob.utils.errors import ReductionError

from .stack import stack_map_datasets

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
        Observations.
    makers : sequence
        Dataset maker first, then background / safe-mask makers (see :func:`reduce_one`).
    stack : bool
        Stack the datasets into one (spectra: :func:`stack_spectra`, maps:
        :func:`stack_map_datasets`) instead of keeping one per observation.
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
    observations = list(observations)
    makers = list(makers)
    if not observations:
        raise ValueError("no observations to reduce")
    if n_workers is not None and int(n_workers) < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers!r}")
    if client is not None:
        outcomes = _run_dask(client, template, observations, makers, progress, skip)
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
            outcomes = _run_dask(local, template, observations, makers, progress, skip)
    else:
        outcomes = []
        for obs in _progress(observations, progress):
            try:
                outcomes.append(_task(template, obs, makers, skip))
            except Exception as exc:
                raise ReductionError(obs.obs_id, describe_error(exc)) from exc
    datasets, skipped = [], {}
    for obs_id, dataset, error in outcomes:
        if error is None:
            datasets.append(dataset)
        else:
            skipped[obs_id] = error
    if not datasets:
        raise ReductionError(
            None,
            f"reduce: every observation failed (on_error='skip'):\n{_skipped_lines(skipped)}",
        )
    if skipped:
        warnings.warn(
            f"reduce: skipped {len(skipped)} of {len(observations)} observation(s) "
            f"(on_error='skip'):\n{_skipped_lines(skipped)}",
            stacklevel=2,
        )
    if stack:
        if isinstance(datasets[0], SpectrumDataset):
            datasets = [stack_spectra(datasets, name=name)]
        elif isinstance(datasets[0], MapDataset):
            datasets = [stack_map_datasets(datasets, name=name)]
    return ReductionResult(Datasets(datasets), skipped)


def _skipped_lines(skipped: dict) -> str:
    return "\n".join(f"  {obs_id}: {error}" for obs_id, error in skipped.items())


def _progress(items, enabled: bool):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="reduce", unit="obs")


def _run_dask(client, template, observations, makers, progress: bool, skip: bool):
    """Run one task per observation on ``client``; outcomes in the order of ``observations``."""
    from dask.distributed import as_completed

    futures = [
        client.submit(_task, template, obs, makers, skip, pure=False) for obs in observations
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    outcomes = [None] * len(futures)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(futures), desc="reduce", unit="obs")
    try:
        for future in as_completed(futures):
            i = index[future.key]
            try:
                outcomes[i] = future.result()
            except Exception as exc:
                client.cancel([f for f in futures if not f.done()])
                raise ReductionError(observations[i].obs_id, describe_error(exc)) from exc
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return outcomes
