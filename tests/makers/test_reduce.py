"""reduce(): failures raise by default; on_error="skip" leaves runs out, one line each."""

from __future__ import annotations

import numpy as np
import pytest

from gammaprob.makers import MapDatasetMaker, reduce
from gammaprob.makers.reduce import ReductionError

from .test_map_makers import _wcs_template


class _Recorder:
    """A pass-through maker that records the observations it saw."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def run(self, dataset, observation):
        self.seen.append(observation.obs_id)
        return dataset


class _Broken:
    """A maker with a programming error on observation 2 (a multi-line message)."""

    def run(self, dataset, observation):
        if observation.obs_id == 2:
            raise KeyError("bug in a maker\nsecond line")
        return dataset


@pytest.fixture
def setup(make_observation):
    template = _wcs_template(width=1.0, binsz=0.1)
    observations = [make_observation(1), make_observation(2, bkg=False), make_observation(3)]
    return template, observations


def test_reduce_raises_on_the_first_failing_observation(setup):
    template, observations = setup
    recorder = _Recorder()
    makers = [MapDatasetMaker(selection=["counts", "background"]), recorder]
    with pytest.raises(ReductionError, match=r"^observation 2: ValueError: .*background") as info:
        reduce(template, observations, makers, progress=False)
    assert info.value.obs_id == 2
    assert isinstance(info.value.__cause__, ValueError)
    assert "no background IRF" in str(info.value.__cause__)
    assert recorder.seen == [1]  # observation 3 was not reduced after the failure


def test_reduce_programming_errors_are_not_warnings(setup):
    template, observations = setup
    makers = [MapDatasetMaker(selection=["counts"]), _Broken()]
    with pytest.raises(ReductionError, match="observation 2: KeyError") as info:
        reduce(template, observations, makers, progress=False)
    assert isinstance(info.value.__cause__, KeyError)


def test_reduce_skip_reports_one_line_per_run(setup, make_observation):
    template, observations = setup
    observations.append(make_observation(4, bkg=False))
    makers = [MapDatasetMaker(selection=["counts", "background"]), _Broken()]
    with pytest.warns(UserWarning, match=r"skipped 2 of 4 observation\(s\)") as record:
        result = reduce(template, observations, makers, progress=False, on_error="skip")
    assert [d.name for d in result.datasets] == ["map-1", "map-3"]
    assert sorted(result.skipped) == [2, 4]
    assert result.failed is result.skipped
    for obs_id, line in result.skipped.items():
        assert "\n" not in line and "Traceback" not in line
        assert line.startswith("ValueError: ") and "no background IRF" in line, obs_id
    message = str(record[0].message)
    lines = message.splitlines()
    assert lines[1:] == [f"  {i}: {result.skipped[i]}" for i in (2, 4)]
    assert "skipped=[2, 4]" in repr(result)


def test_reduce_skip_collapses_multiline_messages(setup):
    template, observations = setup
    makers = [MapDatasetMaker(selection=["counts"]), _Broken()]
    with pytest.warns(UserWarning, match="skipped 1 of 3"):
        result = reduce(template, observations, makers, progress=False, on_error="skip")
    assert result.skipped == {2: "KeyError: 'bug in a maker\\nsecond line'"}


def test_reduce_skip_every_observation_failing(make_observation):
    template = _wcs_template(width=1.0, binsz=0.1)
    makers = [MapDatasetMaker(selection=["counts", "background"])]
    observations = [make_observation(4, bkg=False), make_observation(5, bkg=False)]
    with pytest.raises(ReductionError, match=r"every observation failed.*\n  4: ValueError"):
        reduce(template, observations, makers, progress=False, on_error="skip")


def test_reduce_rejects_unknown_on_error(setup):
    template, observations = setup
    with pytest.raises(ValueError, match="on_error must be one of"):
        reduce(template, observations, [MapDatasetMaker()], on_error="ignore")


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0"
    ) as client:
        yield client


def test_reduce_on_dask_raises_with_the_obs_id(setup, dask_client):
    template, observations = setup
    makers = [MapDatasetMaker(selection=["counts", "background"])]
    with pytest.raises(ReductionError, match=r"^observation 2: ValueError: ") as info:
        reduce(template, observations, makers, client=dask_client, progress=False)
    assert info.value.obs_id == 2
    assert isinstance(info.value.__cause__, ValueError)


def test_reduce_on_dask_skip_matches_serial(setup, dask_client):
    template, observations = setup
    makers = [MapDatasetMaker(selection=["counts", "background"])]
    with pytest.warns(UserWarning, match="skipped 1 of 3"):
        serial = reduce(template, observations, makers, progress=False, on_error="skip")
    with pytest.warns(UserWarning, match="skipped 1 of 3"):
        parallel = reduce(
            template, observations, makers, client=dask_client, progress=False, on_error="skip"
        )
    assert parallel.skipped == serial.skipped
    assert [d.name for d in parallel.datasets] == ["map-1", "map-3"]
    for a, b in zip(serial.datasets, parallel.datasets, strict=True):
        assert np.array_equal(a.counts.data, b.counts.data)
