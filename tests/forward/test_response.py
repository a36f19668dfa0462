"""SpectrumResponse: the fused constant matrix and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from gammaprob.forward import SpectrumResponse


def _arrays(rng, n_true=12, n_reco=8):
    e_true = np.geomspace(0.1, 100.0, n_true + 1)
    e_reco = np.geomspace(0.2, 50.0, n_reco + 1)
    edisp = rng.uniform(0, 1, (n_true, n_reco))
    edisp /= edisp.sum(axis=1, keepdims=True) * 1.1
    return {
        "counts": rng.poisson(5, n_reco),
        "exposure": rng.uniform(1e9, 1e10, n_true),
        "edisp": edisp,
        "energy_true_edges": e_true,
        "energy_edges": e_reco,
    }


def test_kernel_is_exposure_times_edisp_with_masked_bins_dropped(rng):
    kw = _arrays(rng)
    mask = np.array([0, 1, 1, 1, 0, 1, 1, 0], dtype=bool)
    r = SpectrumResponse.from_arrays(
        "a", mask_safe=mask, counts_off=kw["counts"] + 2, alpha=0.2, **kw
    )
    assert r.kernel.shape == (12, 5)
    np.testing.assert_array_equal(r.kernel, kw["exposure"][:, None] * kw["edisp"][:, mask])
    np.testing.assert_array_equal(r.counts, kw["counts"][mask])
    np.testing.assert_array_equal(r.alpha, np.full(5, 0.2))
    flux = rng.uniform(0, 1e-12, 12)
    np.testing.assert_allclose(
        r.fold(flux), (flux * kw["exposure"]) @ kw["edisp"][:, mask], rtol=1e-14
    )
    assert r.is_onoff and r.n_bins == 5
    assert "reco 5/8 bins kept" in repr(r) and "on/off" in repr(r)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"edisp": np.ones((12, 7))}, "edisp has shape"),
        ({"exposure": np.ones(11)}, "true-energy axis has 12 bins"),
        ({"counts": np.array([1, 2, -1, 0, 0, 0, 0, 0])}, "non-negative integer"),
        ({"counts": np.array([1, 2, 1.5, 0, 0, 0, 0, 0])}, "non-negative integer"),
        ({"mask_safe": np.zeros(8, dtype=bool)}, "no bin inside its safe mask"),
        ({"energy_edges": np.geomspace(50.0, 0.2, 9)}, "strictly increasing"),
        ({"exposure": np.full(12, np.nan)}, "NaN or infinite"),
        ({"counts_off": np.ones(8)}, "both counts_off and alpha"),
        ({"counts_off": np.ones(8), "alpha": -1.0}, "alpha"),
    ],
)
def test_bad_input_raises_clear_error(rng, change, match):
    kw = _arrays(rng)
    kw.update(change)
    with pytest.raises(ValueError, match=match):
        SpectrumResponse.from_arrays("bad", **kw)
