import astropy.units as u
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gammaprob.datasets import SpectrumDataset, SpectrumDatasetOnOff

from .conftest import make_onoff


def test_frozen_and_derived_arrays(onoff):
    with pytest.raises(AttributeError):
        onoff.name = "other"
    with pytest.raises(ValueError, match="read-only"):
        onoff.counts[0] = 5
    assert_allclose(onoff.alpha, onoff.acceptance / onoff.acceptance_off)
    assert_allclose(onoff.background_estimate, onoff.alpha * onoff.counts_off)
    assert onoff.exposure.unit == u.Unit("m2 s")
    assert_allclose(onoff.aeff.to_value("m2"), onoff.exposure.value / 100.0)
    assert_array_equal(onoff.mask, onoff.mask_safe)
    fit = np.array([True, True, False, True, True, True])
    assert_array_equal(onoff.replace(mask_fit=fit).mask, onoff.mask_safe & fit)
    text = repr(onoff)
    assert "SpectrumDatasetOnOff(name='obs1')" in text and "5/6 bins" in text


def test_bad_counts_and_axes(onoff):
    with pytest.raises(
        ValueError, match=r"counts: counts must be finite non-negative integers.*index \(2,\)"
    ):
        onoff.replace(counts=[1, 2, 2.5, 3, 4, 5])
    with pytest.raises(ValueError, match="counts_off: counts must be"):
        onoff.replace(counts_off=[1, -2, 2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"counts: expected shape \(6,\), got \(5,\)"):
        onoff.replace(counts=[1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"exposure: expected shape \(8,\)"):
        onoff.replace(exposure=np.ones(6) * u.Unit("m2 s"))
    with pytest.raises(ValueError, match=r"edisp \[E_true, E_reco\]: expected shape \(8, 6\)"):
        onoff.replace(edisp=np.eye(6))
    with pytest.raises(ValueError, match="edisp rows must sum to at most 1"):
        onoff.replace(edisp=np.full((8, 6), 0.5))
    with pytest.raises(ValueError, match="diagonal response"):
        onoff.replace(edisp=None)
    with pytest.raises(ValueError, match="acceptance_off must be positive"):
        onoff.replace(acceptance_off=np.zeros(6))
    with pytest.raises(ValueError, match="not convertible to m2 s"):
        onoff.replace(exposure=np.ones(8) * u.s)
    with pytest.raises(ValueError, match="takes counts_off, not a background"):
        onoff.replace(background=np.ones(6))


def test_all_masked_is_not_fittable(onoff):
    masked = onoff.replace(mask_fit=np.zeros(6, bool))
    with pytest.raises(
        ValueError, match=r"all 6 bins are masked \(mask_safe keeps 5, mask_fit keeps 0\)"
    ):
        masked.check_fittable()
    onoff.check_fittable()


def test_slice_by_energy(onoff):
    sliced = onoff.slice_by_energy(0.2 * u.TeV, 5 * u.TeV, name="cut")
    edges = onoff.energy_axis.edges.to_value("TeV")
    keep = (edges[:-1] >= 0.2 * (1 - 1e-6)) & (edges[1:] <= 5 * (1 + 1e-6))
    assert sliced.name == "cut"
    assert_array_equal(sliced.counts, onoff.counts[keep])
    assert_array_equal(sliced.edisp, onoff.edisp[:, keep])
    assert_array_equal(sliced.alpha, onoff.alpha[keep])
    assert sliced.energy_axis_true == onoff.energy_axis_true
    with pytest.raises(ValueError, match="no energy bin lies inside"):
        onoff.slice_by_energy(2.0 * u.TeV, 2.1 * u.TeV)


def test_spectrum_dataset_with_background():
    on = make_onoff()
    ds = SpectrumDataset(
        name="bkg",
        counts=on.counts,
        exposure=on.exposure,
        energy_axis=on.energy_axis,
        energy_axis_true=on.energy_axis_true,
        edisp=on.edisp,
        background=on.background_estimate,
    )
    assert_allclose(ds.background, on.alpha * on.counts_off)
    assert ds.mask_safe.all()
    with pytest.raises(ValueError, match=r"background: 6 bin\(s\) are NaN or inf"):
        ds.replace(background=np.full(6, np.nan))


def test_stack_rules():
    from gammaprob.datasets.stack import stack_spectra

    a = make_onoff("a", seed=1)
    mask_b = np.array([False, False, True, True, True, False])
    b = make_onoff("b", seed=2, mask_safe=mask_b, livetime=50.0)
    stacked = stack_spectra([a, b], name="ab")
    ma, mb = a.mask_safe, b.mask_safe
    assert_array_equal(stacked.counts, a.counts * ma + b.counts * mb)
    assert_array_equal(stacked.counts_off, a.counts_off * ma + b.counts_off * mb)
    assert_array_equal(stacked.mask_safe, ma | mb)
    assert_allclose(stacked.exposure.value, a.exposure.value + b.exposure.value)
    assert stacked.livetime == 150 * u.s
    safe = stacked.mask_safe
    expected_alpha = (a.alpha * a.counts_off * ma + b.alpha * b.counts_off * mb)[safe] / (
        a.counts_off * ma + b.counts_off * mb
    )[safe]
    assert_allclose(stacked.alpha[safe], expected_alpha, rtol=1e-14)
    # bins no dataset marks safe get the mean alpha instead of 0/0
    assert np.all(np.isfinite(stacked.alpha))
    weighted = a.edisp * a.exposure.value[:, None] * ma + b.edisp * b.exposure.value[:, None] * mb
    assert_allclose(
        stacked.edisp, weighted / (a.exposure.value + b.exposure.value)[:, None], rtol=1e-14
    )
    assert stacked.meta["stacked_from"] == ["a", "b"]


def test_stack_incompatible_axes():
    from gammaprob.datasets.stack import stack_spectra

    with pytest.raises(ValueError, match="cannot stack 'b' onto 'a': their energy_axis differ"):
        stack_spectra([make_onoff("a"), make_onoff("b", n_reco=5)])
    with pytest.raises(ValueError, match="energy_axis_true differ"):
        stack_spectra([make_onoff("a"), make_onoff("b", n_true=7)])


def test_onoff_is_a_spectrum_dataset(onoff):
    assert isinstance(onoff, SpectrumDataset)
    assert SpectrumDatasetOnOff.kind == "SpectrumDatasetOnOff"
