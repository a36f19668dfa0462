"""Run a chain of makers over many observations, in parallel on Dask."""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from gammaprob.datasets import Datasets, MapDataset, SpectrumDataset, stack_spectra

from .stack import stack_map_datasets

__all__ = ["ReductionResult", "reduce", "reduce_one"]


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


def _task(template, observation, makers):
    """Worker task: never raises, returns ``(obs_id, dataset, error_text)``."""
    try:
        return observation.obs_id, reduce_one(template, observation, makers), None
    except Exception as exc:  # reported per observation, not lost
        text = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        return observation.obs_id, None, text


@dataclass
class ReductionResult:
    """Outcome of :func:`reduce`.

    Attributes
    ----------
    datasets : Datasets
        One dataset per successful observation, or one stacked dataset.
    failed : dict
        ``{obs_id: error message}`` of the observations that raised.
    """

    datasets: Datasets
    failed: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        names = ", ".join(d.name for d in self.datasets)
        return (
            f"ReductionResult({len(self.datasets)} dataset(s): [{names}], "
            f"failed={sorted(self.failed)})"
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
        Stack the successful datasets into one (spectra: :func:`stack_spectra`, maps:
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

    Returns
    -------
    ReductionResult
        Datasets in the order of ``observations`` and the failures by observation id. A
        warning lists the failures; if every observation failed a ``RuntimeError`` is raised.
    """
    observations = list(observations)
    makers = list(makers)
    if not observations:
        raise ValueError("no observations to reduce")
    if n_workers is not None and int(n_workers) < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers!r}")
    if client is not None:
        outcomes = _run_dask(client, template, observations, makers, progress)
    elif n_workers is not None and int(n_workers) > 1:
        from dask.distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=int(n_workers),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as local,
        ):
            outcomes = _run_dask(local, template, observations, makers, progress)
    else:
        outcomes = [_task(template, obs, makers) for obs in _progress(observations, progress)]
    datasets, failed = [], {}
    for obs_id, dataset, error in outcomes:
        if error is None:
            datasets.append(dataset)
        else:
            failed[obs_id] = error
    if failed:
        first = next(iter(failed.values())).splitlines()[0]
        warnings.warn(
            f"reduce: {len(failed)} of {len(observations)} observation(s) failed: "
            f"{sorted(failed)}; first error: {first}",
            stacklevel=2,
        )
    if not datasets:
        raise RuntimeError(f"reduce: every observation failed: {failed}")
    if stack:
        if isinstance(datasets[0], SpectrumDataset):
            datasets = [stack_spectra(datasets, name=name)]
        elif isinstance(datasets[0], MapDataset):
            datasets = [stack_map_datasets(datasets, name=name)]
    return ReductionResult(Datasets(datasets), failed)


def _progress(items, enabled: bool):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="reduce", unit="obs")


def _run_dask(client, template, observations, makers, progress: bool):
    from dask.distributed import as_completed

    futures = [client.submit(_task, template, obs, makers, pure=False) for obs in observations]
    index = {f.key: i for i, f in enumerate(futures)}
    outcomes = [None] * len(futures)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(futures), desc="reduce", unit="obs")
    for future in as_completed(futures):
        outcomes[index[future.key]] = future.result()
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return outcomes
