"""A point source defined in one sky frame, folded on a dataset in another: exact conversion."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from astropy.coordinates import SkyCoord

from gammaprob.forward import MapFold
from gammaprob.forward.map_response import to_frame

from .test_map import _models
from .test_map import response as response  # fixture

GAL = (0.013, -0.021)  # deg, near the map centre (0, 0) galactic


def _no_brightness(lon, lat, lon_0, lat_0):
    raise TypeError("a point source has no surface brightness")


# the forward layer recognises point sources by the class name
IcrsPoint = type("Point", (), {"frame": "icrs", "evaluate": staticmethod(_no_brightness)})


def _icrs_of(lon, lat):
    c = SkyCoord(lon, lat, unit="deg", frame="galactic").icrs
    return float(c.ra.deg), float(c.dec.deg)


def test_to_frame_equals_astropy_both_ways():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(0, 360, 50), np.rad2deg(np.arcsin(rng.uniform(-1, 1, 50)))
    c = SkyCoord(lon, lat, unit="deg", frame="icrs")
    gl, gb = to_frame(lon, lat, "icrs", "galactic")
    assert np.allclose(
        c.separation(SkyCoord(gl, gb, unit="deg", frame="galactic")).deg, 0, atol=1e-10
    )
    back = to_frame(gl, gb, "galactic", "icrs")
    sep = c.separation(SkyCoord(*back, unit="deg", frame="icrs")).deg
    assert np.max(sep) < 1e-10


def _point_models(helpers, spatial, lon, lat):
    models, values = _models(helpers)
    src = helpers.Source("src", helpers.PowerLaw(), spatial)
    return [src, models[1]], dict(values, **{"src::lon_0": lon, "src::lat_0": lat})


def test_icrs_point_on_a_galactic_dataset_equals_the_galactic_point(response, helpers):
    ra, dec = _icrs_of(*GAL)
    icrs_models, icrs_values = _point_models(helpers, IcrsPoint(), ra, dec)
    gal_models, gal_values = _point_models(helpers, helpers.Point(), *GAL)
    # the graph, with the position free (sampled in ICRS), and its gradient
    fold = MapFold.build(
        response, icrs_models, {"src": (ra, dec, 0.05)}, position_margin=0.05, oversampling=4
    )
    ref = MapFold.build(
        response, gal_models, {"src": (*GAL, 0.05)}, position_margin=0.05, oversampling=4
    )
    np.testing.assert_array_equal(fold.cutout, ref.cutout)
    lon0, lat0 = pt.dscalar("lon0"), pt.dscalar("lat0")
    mu = fold.npred(dict(icrs_values, **{"src::lon_0": lon0, "src::lat_0": lat0}))
    f = pytensor.function([lon0, lat0], [mu, *pt.grad(mu.sum(), [lon0, lat0])])
    value, *grads = f(ra, dec)
    expected = ref.npred(gal_values).eval()
    np.testing.assert_allclose(value, expected, rtol=1e-9)
    assert np.max(np.abs(value - ref.npred(dict(gal_values, **{"src::lon_0": 0.0})).eval())) > 1e-6
    assert np.all(np.isfinite(grads)) and np.any(np.asarray(grads) != 0)


def test_extended_source_in_another_frame_is_a_clear_error(response, helpers):
    class IcrsDisk:
        frame = "icrs"

        @staticmethod
        def evaluate(lon, lat, lon_0, lat_0, r_0):
            return lon * 0 + 1.0

        @staticmethod
        def evaluation_radius(**values):
            return 0.1

    models, _ = _point_models(helpers, IcrsDisk(), 266.4, -28.9)
    with pytest.raises(ValueError, match=r"point sources are converted .* extended ones not yet"):
        MapFold.build(response, models, {"src": (266.4, -28.9, 0.0)})
