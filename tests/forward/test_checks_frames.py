"""Region checks of a source in another sky frame than its map dataset."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from astropy.coordinates import SkyCoord

from gammaprob.forward import build_params
from gammaprob.forward.checks import check_regions, model_regions
from gammaprob.likelihood import add_likelihood
from gammaprob.modeling import LogUniform, Normal, SkyModel, spatial, spectral

N_TRUE, N_RECO, N, PIX = 3, 2, 41, 0.02


def test_draws_of_an_icrs_source_on_a_galactic_dataset_are_compared_in_its_frame(rng, helpers):
    response = helpers.grid_response(
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
    centre = SkyCoord(0.0, 0.0, unit="deg", frame="galactic").icrs
    ra, dec = float(centre.ra.deg), float(centre.dec.deg)
    models = [
        SkyModel(
            spectral=spectral.PowerLaw(
                index=Normal(2.2, 0.2),
                amplitude=LogUniform(1e-13, 1e-11, unit="cm-2 s-1 TeV-1"),
                reference=1.0,
            ),
            spatial=spatial.Point(
                lon_0=Normal(ra, 0.01, unit="deg"),
                lat_0=Normal(dec, 0.01, unit="deg"),
                frame="icrs",
            ),
            name="src",
        )
    ]
    with pm.Model() as model:
        add_likelihood([response], models, build_params(models))
    (region,) = model_regions(model)
    assert region.frame == "galactic"
    near = {"src::lon_0": np.full(50, ra + 0.01), "src::lat_0": np.full(50, dec)}
    assert check_regions([region], near) == []
    far = dict(near, **{"src::lat_0": np.full(50, dec + 0.5)})
    (message,) = check_regions([region], far)
    assert "100.0%" in message
    assert region.margin == pytest.approx(0.05, rel=0.2)
