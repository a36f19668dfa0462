"""Spatial components against gammapy's same-named models (validation extra)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammaprob.modeling import spatial

pytestmark = pytest.mark.requires_gammapy

N_DRAWS = 15


def _draw(rng, name):
    """Random parameter values (ours, in deg) for one model."""
    pos = {"lon_0": rng.uniform(0, 360), "lat_0": rng.uniform(-75, 75)}
    ell = {"e": rng.choice([0.0, rng.uniform(0.05, 0.95)]), "phi": rng.uniform(-180, 180)}
    size = rng.uniform(0.1, 3.0)
    return {
        "Gaussian": {**pos, "sigma": size, **ell},
        "GeneralizedGaussian": {**pos, "r_0": size, "eta": rng.uniform(0.05, 1.0), **ell},
        "Disk": {**pos, "r_0": size, **ell, "edge_width": rng.uniform(0.0, 0.5)},
        "Shell": {**pos, "radius": size, "width": rng.uniform(0.05, 1.0)},
        "Shell2": {**pos, "r_0": size, "eta": rng.uniform(0.05, 1.0)},
        "Constant": {"value": rng.uniform(0.1, 10.0)},
    }[name], 4.0 * size


def _gammapy_kwargs(params):
    angles = {"lon_0", "lat_0", "sigma", "r_0", "phi", "radius", "width"}
    out = {k: (v * u.deg if k in angles else v) for k, v in params.items()}
    if "value" in out:
        out["value"] = out["value"] * u.Unit("sr-1")
    return out


@pytest.mark.parametrize(
    "name", ["Gaussian", "GeneralizedGaussian", "Disk", "Shell", "Shell2", "Constant"]
)
def test_equals_gammapy_at_random_parameters(name, rng):
    from gammapy.modeling import models as gm

    ours = getattr(spatial, name)
    theirs = getattr(gm, f"{name}SpatialModel")
    worst = 0.0
    for _ in range(N_DRAWS):
        params, radius = _draw(rng, name)
        lon_0, lat_0 = params.get("lon_0", 10.0), params.get("lat_0", 20.0)
        lat = np.clip(lat_0 + rng.uniform(-radius, radius, 300), -90, 90)
        lon = lon_0 + rng.uniform(-radius, radius, 300) / np.cos(np.radians(lat_0))
        expected = theirs.evaluate(lon * u.deg, lat * u.deg, **_gammapy_kwargs(params))
        expected = np.broadcast_to(expected.to_value("sr-1"), lon.shape)
        got = ours.evaluate(lon, lat, **params)
        peak = np.max(np.abs(expected))
        # rtol 1e-9; values below 1e-12 of the peak (far tails) compared absolutely
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * peak)
        big = np.abs(expected) > 1e-6 * peak
        worst = max(worst, np.max(np.abs(got[big] / expected[big] - 1)))
    assert worst < 1e-9


def test_point_weights_equal_gammapy(rng):
    from gammapy.maps import WcsGeom
    from gammapy.modeling.models import PointSpatialModel

    geom = WcsGeom.create(skydir=(83.6, 22.0), binsz=0.05, width=(2.0, 1.5), frame="icrs")
    for _ in range(5):
        lon_0, lat_0 = 83.6 + rng.uniform(-0.8, 0.8), 22.0 + rng.uniform(-0.6, 0.6)
        expected = PointSpatialModel(lon_0=lon_0 * u.deg, lat_0=lat_0 * u.deg).integrate_geom(geom)
        got = spatial.Point(lon_0=lon_0, lat_0=lat_0).integrate_geom((geom.wcs, geom.data_shape))
        np.testing.assert_allclose(got, expected.data, rtol=1e-9, atol=1e-15)


def test_template_equals_gammapy(tmp_path, rng):
    from gammapy.maps import Map as GammapyMap
    from gammapy.maps import WcsGeom
    from gammapy.modeling.models import TemplateSpatialModel

    geom = WcsGeom.create(skydir=(10.0, -3.0), binsz=0.1, width=(4.0, 3.0), frame="galactic")
    lon = geom.get_coord().lon.to_value("deg")
    data = np.exp(-0.5 * (lon - 10.0) ** 2) * rng.uniform(1, 2, geom.data_shape)
    path = tmp_path / "template.fits"
    GammapyMap.from_geom(geom, data=data, unit="").write(path)
    lon = 10.0 + rng.uniform(-1.9, 1.9, 500)
    lat = -3.0 + rng.uniform(-1.4, 1.4, 500)
    # interpolation (log-bilinear in pixel coordinates): equal to 1e-9
    theirs = TemplateSpatialModel.read(path, normalize=False)
    ours = spatial.Template.read(path, normalize=False)
    assert ours.frame == "galactic"
    expected = theirs.evaluate(lon * u.deg, lat * u.deg).to_value("sr-1")
    np.testing.assert_allclose(ours.evaluate(lon, lat, **ours.values()), expected, rtol=1e-9)
    # normalised: gammapy's pixel solid angles are approximate (5e-7 here), ours exact
    theirs = TemplateSpatialModel.read(path, normalize=True)
    ours = spatial.Template.read(path, normalize=True)
    expected = theirs.evaluate(lon * u.deg, lat * u.deg).to_value("sr-1")
    np.testing.assert_allclose(ours.evaluate(lon, lat, **ours.values()), expected, rtol=2e-6)
    # the pixel integrals sum to one
    assert ours.integrate_geom((geom.wcs, geom.data_shape)).sum() == pytest.approx(1.0, rel=1e-12)
