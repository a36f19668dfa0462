"""Run-time region checks: posterior draws that leave a cutout, a static box or the sub-pixel grid."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from gammaprob.forward import build_params
from gammaprob.forward.checks import RegionWarning, check_regions, model_regions
from gammaprob.forward.positions import nominal_positions
from gammaprob.inference.samplers import _check_regions
from gammaprob.likelihood import add_likelihood
from gammaprob.modeling import LogUniform, Normal, SkyModel, spatial, spectral

N_TRUE, N_RECO, N, PIX = 3, 2, 41, 0.02


@pytest.fixture
def response(rng, helpers):
    return helpers.grid_response(
        rng,
        n_true=N_TRUE,
        n_reco=N_RECO,
        n=N,
        pix=PIX,
        sigmas=[0.05, 0.04, 0.03],
        exposure=lambda lon, lat: np.full((N_TRUE, N, N), 1e12),
        signal_counts=1.0,
        psf_energy="true",
    )


def _models(kind):
    where = {"lon_0": Normal(0.0, 0.01, unit="deg"), "lat_0": Normal(0.0, 0.01, unit="deg")}
    morphology = (
        spatial.Point(frame="galactic", **where)
        if kind == "point"
        else spatial.Gaussian(sigma=LogUniform(0.02, 0.06, unit="deg"), frame="galactic", **where)
    )
    return [
        SkyModel(
            spectral=spectral.PowerLaw(
                index=Normal(2.2, 0.2),
                amplitude=LogUniform(1e-13, 1e-11, unit="cm-2 s-1 TeV-1"),
                reference=1.0,
            ),
            spatial=morphology,
            name="src",
        )
    ]


def _regions(response, kind):
    models = _models(kind)
    with pm.Model() as model:
        add_likelihood([response], models, build_params(models))
    return model, model_regions(model)


def test_margin_is_an_angle_on_the_sky():
    """A longitude half-width at Dec -59 deg is half as wide on the sky."""
    model = SkyModel(
        spectral=spectral.PowerLaw(index=2.2, amplitude=1e-12, reference=1.0),
        spatial=spatial.Point(
            lon_0=Normal(228.5, 0.1, unit="deg"), lat_0=Normal(-59.2, 0.05, unit="deg")
        ),
        name="src",
    )
    _lon, _lat, margin = nominal_positions([model])["src"]
    # 5 sigma of lon at the window's latitude closest to the equator (-59.2 + 0.25)
    assert margin == pytest.approx(0.5 * np.cos(np.deg2rad(58.95)))
    assert margin < 0.26


def test_point_source_draws_outside_the_cutout_margin(response):
    _model, regions = _regions(response, "point")
    (region,) = regions
    assert region.reach is None and region.margin == pytest.approx(0.05)
    inside = {"src::lon_0": np.full(100, 0.01), "src::lat_0": np.zeros(100)}
    assert check_regions(regions, inside) == []
    outside = dict(inside, **{"src::lon_0": np.r_[np.full(90, 0.01), np.full(10, 0.2)]})
    (message,) = check_regions(regions, outside)
    assert "'src'" in message and "10.0%" in message and "margin" in message
    assert check_regions(regions, outside, tolerance=0.2) == []


def test_extended_source_draws_beyond_the_box_and_the_sub_pixels(response):
    _model, regions = _regions(response, "gauss")
    (region,) = regions
    assert region.reach == pytest.approx(0.05 + 5 * 0.06, rel=0.02)
    k = region.oversampling
    centre = {"src::lon_0": np.zeros(10), "src::lat_0": np.zeros(10)}
    fine = dict(centre, **{"src::sigma": np.full(10, 0.04)})
    assert check_regions(regions, fine) == []
    wide = dict(centre, **{"src::sigma": np.r_[np.full(8, 0.04), np.full(2, 0.1)]})
    (message,) = check_regions(regions, wide)
    assert "20.0%" in message and "static box" in message
    # a size below what k sub-pixels resolve (gammapy's rule: a sub-pixel <= sigma / 3)
    narrow = dict(centre, **{"src::sigma": np.full(10, PIX / k)})  # needs 3 k sub-pixels
    messages = check_regions(regions, narrow)
    assert any("model_oversampling=" in m for m in messages)


def test_sample_warns_on_regions(response):
    model, _ = _regions(response, "point")
    posterior = xr.Dataset(
        {
            "src::lon_0": (("chain", "draw"), np.full((2, 5), 0.3)),
            "src::lat_0": (("chain", "draw"), np.zeros((2, 5))),
        }
    )
    tree = xr.DataTree.from_dict({"posterior": posterior})
    with pytest.warns(RegionWarning, match="100.0% of the posterior draws"):
        _check_regions(tree, model)
