"""reduce(): failures raise by default; on_error="skip" leaves runs out, one line each;
stack=True stacks each dataset as it arrives (RunningStack), equal to stacking at once."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from regions import CircleSkyRegion

from gammaprob.datasets import stack_spectra
from gammaprob.makers import (
    MapDatasetMaker,
    ReflectedRegionsBackgroundMaker,
    SafeMaskMaker,
    SpectrumDatasetMaker,
    SpectrumTemplate,
    reduce,
    stack_map_datasets,
)
from gammaprob.makers.reduce import ReductionError
from gammaprob.makers.stack import RunningStack

from .conftest import SOURCE
from .test_map_makers import _wcs_template
from .test_spectrum_makers import E_RECO, E_TRUE


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


# ---- stack=True: a running stack, equal to stacking every dataset at once --------------------
def _onoff_spectra(make_observation, n: int = 5) -> list:
    """Reflected-region spectra of ``n`` runs, each with its own random safe mask."""
    template = SpectrumTemplate(CircleSkyRegion(SOURCE, 0.11 * u.deg), E_RECO, E_TRUE)
    makers = [SpectrumDatasetMaker(), ReflectedRegionsBackgroundMaker()]
    observations = [make_observation(i) for i in range(1, n + 1)]
    datasets = reduce(template, observations, makers, progress=False).datasets
    masks = np.random.default_rng(3).uniform(size=(n, E_RECO.nbin)) < 0.7
    masks[0] = False  # one run without any safe bin: left out of exposure and livetime
    return [d.replace(mask_safe=m) for d, m in zip(datasets, masks, strict=True)]


def _assert_same_spectrum(a, b) -> None:
    assert type(a) is type(b) and a.name == b.name
    assert a.meta["stacked_from"] == b.meta["stacked_from"]
    np.testing.assert_array_equal(a.mask_safe, b.mask_safe)
    for attr in ("counts", "counts_off", "alpha", "acceptance", "edisp_matrix"):
        np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a.exposure.to_value("m2 s"), b.exposure.to_value("m2 s"), 1e-12)
    assert a.livetime.to_value("s") == pytest.approx(b.livetime.to_value("s"), rel=1e-12)
    assert a.gti.time_sum.to_value("s") == pytest.approx(b.gti.time_sum.to_value("s"))


def test_running_stack_of_spectra_equals_stacking_at_once(make_observation):
    datasets = _onoff_spectra(make_observation)
    at_once = stack_spectra(datasets, name="all")
    running = RunningStack("all")
    for i in (3, 0, 4, 1, 2):  # order of arrival differs from the input order
        running.add(i, datasets[i])
    assert len(running) == 5
    _assert_same_spectrum(running.result(), at_once)
    assert at_once.counts.sum() > 0 and at_once.counts_off.sum() > 0
    assert at_once.livetime.to_value("s") == pytest.approx(4 * 0.9 * 1800.0)


def test_reduce_stacked_spectra_equal_stacking_at_once(make_observation, dask_client):
    template = SpectrumTemplate(CircleSkyRegion(SOURCE, 0.11 * u.deg), E_RECO, E_TRUE)
    makers = [
        SpectrumDatasetMaker(),
        ReflectedRegionsBackgroundMaker(),
        SafeMaskMaker(["aeff-max"]),
    ]
    observations = [make_observation(i) for i in range(1, 7)]
    runs = reduce(template, observations, makers, progress=False).datasets
    at_once = stack_spectra(runs, name="stacked")
    serial = reduce(template, observations, makers, stack=True, progress=False).datasets
    parallel = reduce(
        template, observations, makers, stack=True, client=dask_client, progress=False
    ).datasets
    for result in (serial, parallel):
        assert len(result) == 1
        _assert_same_spectrum(result[0], at_once)
    assert at_once.meta["stacked_from"] == [d.name for d in runs]


def test_reduce_stacked_maps_equal_stacking_at_once(make_observation, dask_client):
    template = _wcs_template(width=1.0, binsz=0.1)
    makers = [MapDatasetMaker(), SafeMaskMaker(["offset-max"], offset_max=1.0 * u.deg)]
    observations = [make_observation(i) for i in range(1, 6)]
    runs = reduce(template, observations, makers, progress=False).datasets
    at_once = stack_map_datasets(runs, name="stacked")
    stacked = reduce(
        template, observations, makers, stack=True, client=dask_client, progress=False
    ).datasets[0]
    assert stacked.meta["obs_ids"] == at_once.meta["obs_ids"] == [1, 2, 3, 4, 5]
    assert stacked.meta["livetime"] == pytest.approx(at_once.meta["livetime"], rel=1e-12)
    np.testing.assert_array_equal(stacked.mask_safe.data, at_once.mask_safe.data)
    for attr in ("counts", "background", "exposure"):
        a, b = getattr(stacked, attr), getattr(at_once, attr)
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=0)
    for attr in ("psf", "edisp"):
        a, b = getattr(stacked, attr), getattr(at_once, attr)
        np.testing.assert_allclose(a.irf_map.data, b.irf_map.data, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(a.exposure_map.data, b.exposure_map.data, rtol=1e-12)
    assert stacked.counts.data.sum() > 0


def test_reduce_takes_observations_one_at_a_time(make_observation):
    """Serial reduction draws the next observation only after the previous one is stacked."""
    drawn: list[int] = []

    def observations():
        for i in range(1, 5):
            drawn.append(i)
            yield make_observation(i)

    class _Check:
        def run(self, dataset, observation):
            assert drawn[-1] == observation.obs_id  # nothing drawn ahead
            return dataset

    template = _wcs_template(width=1.0, binsz=0.1)
    makers = [MapDatasetMaker(selection=["counts"]), _Check()]
    result = reduce(template, observations(), makers, stack=True, progress=False)
    assert drawn == [1, 2, 3, 4]
    assert result.datasets[0].meta["obs_ids"] == [1, 2, 3, 4]


def test_running_stack_rejects_bad_input(make_observation):
    running = RunningStack()
    with pytest.raises(ValueError, match="nothing was added"):
        running.result()
    with pytest.raises(TypeError, match="SpectrumDataset or MapDataset, got str"):
        running.add(0, "not a dataset")
    dataset = _onoff_spectra(make_observation, n=1)[0]
    running.add(0, dataset)
    with pytest.raises(ValueError, match="index 0 was already added"):
        running.add(0, dataset)


def test_reduce_rejects_empty_observations():
    with pytest.raises(ValueError, match="no observations to reduce"):
        reduce(_wcs_template(), iter([]), [MapDatasetMaker()])
