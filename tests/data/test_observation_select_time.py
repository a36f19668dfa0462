"""Observation.select_time: events and GTIs clipped to a time interval (H.E.S.S. DR1)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammaprob.data import DataStore

pytestmark = pytest.mark.requires_data


@pytest.fixture(scope="module")
def observation(gammapy_data):
    return DataStore.from_dir(gammapy_data / "hess-dl3-dr1").get_observations([33787])[0]


def test_select_time_clips_events_and_gti(observation):
    start = observation.gti.time_start[0] + 300 * u.s
    stop = start + 600 * u.s
    part = observation.select_time((start, stop))
    assert part.obs_id == observation.obs_id
    assert part.gti.time_sum.to_value("s") == pytest.approx(600.0, abs=1e-6)
    times = observation.events.time
    expected = int(np.sum((times >= start) & (times < stop)))
    assert 0 < len(part.events) == expected
    assert part.aeff is observation.aeff  # IRFs shared, not copied
    # an interval after the run: no events, an empty GTI
    later = observation.select_time((stop + 1 * u.d, stop + 2 * u.d))
    assert len(later.events) == 0 and len(later.gti) == 0


def test_select_time_livetime_follows_the_clipped_gti(observation):
    from gammaprob.makers._irf_eval import observation_times

    start = observation.gti.time_start[0]
    full_on, full_live = observation_times(observation)
    on, live = observation_times(observation.select_time((start, start + 600 * u.s)))
    assert on == pytest.approx(600.0, abs=1e-6)
    assert live / on == pytest.approx(full_live / full_on, rel=1e-12)


def test_select_time_rejects_bad_intervals(observation):
    start = observation.gti.time_start[0]
    with pytest.raises(ValueError, match="start < stop"):
        observation.select_time((start, start))
    with pytest.raises(ValueError, match="pair"):
        observation.select_time((start,))
