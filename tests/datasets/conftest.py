import astropy.units as u
import numpy as np
import pytest

from gammaprob.datasets import SpectrumDatasetOnOff
from gammaprob.maps.axes import MapAxis


def make_onoff(name="obs1", n_reco=6, n_true=8, seed=1, mask_safe=None, livetime=100.0):
    rng = np.random.default_rng(seed)
    axis = MapAxis.from_energy_bounds(0.1 * u.TeV, 10 * u.TeV, n_reco, name="energy")
    axis_true = MapAxis.from_energy_bounds(0.05 * u.TeV, 20 * u.TeV, n_true, name="energy_true")
    edisp = rng.uniform(0, 1, (n_true, n_reco))
    edisp /= edisp.sum(axis=1, keepdims=True) * 1.25  # rows sum to 0.8
    if mask_safe is None:
        mask_safe = np.ones(n_reco, bool)
        mask_safe[0] = False
    return SpectrumDatasetOnOff(
        name=name,
        counts=rng.poisson(20, n_reco),
        counts_off=rng.poisson(60, n_reco),
        acceptance=np.ones(n_reco),
        acceptance_off=rng.uniform(3, 6, n_reco),
        exposure=rng.uniform(1e4, 1e5, n_true) * u.m**2 * livetime * u.s,
        energy_axis=axis,
        energy_axis_true=axis_true,
        edisp=edisp,
        mask_safe=mask_safe,
        livetime=livetime * u.s,
        meta={"TELESCOP": "TEST"},
    )


@pytest.fixture
def onoff():
    return make_onoff()
