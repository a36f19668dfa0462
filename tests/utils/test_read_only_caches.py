"""Arrays that are cached and shared are read-only: writing to them raises ValueError."""

from __future__ import annotations

import numpy as np
import pytest

from gammaprob.forward.map_response import MapResponse
from gammaprob.maps import WcsGeom
from gammaprob.modeling.spectral.base import _legendre, gauss_legendre_log


def test_wcs_solid_angle_cache_is_read_only():
    geom = WcsGeom.create(skydir=(83.6, 22.0), width=1.0, binsz=0.1, frame="icrs", proj="CAR")
    omega = geom.solid_angle()
    assert geom.solid_angle() is omega  # cached and shared
    with pytest.raises(ValueError, match="read-only"):
        omega[0, 0] = 0 * omega.unit
    with pytest.raises(ValueError, match="read-only"):
        omega.to_value("sr")[0, 0] = 0.0
    before = omega.value.copy()
    doubled = 2 * omega  # arithmetic still works and leaves the cache alone
    np.testing.assert_array_equal(geom.solid_angle().value, before)
    assert doubled.flags.writeable


def test_legendre_nodes_are_read_only():
    nodes, weights = _legendre(6)
    for array in (nodes, weights):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0.0
    _, weight = gauss_legendre_log(np.array([1.0]), np.array([2.0]), 6)
    np.testing.assert_allclose(weight.sum(), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(_legendre(6)[0], np.polynomial.legendre.leggauss(6)[0])


def test_map_response_coordinates_are_read_only():
    n_true, n_reco, shape = 2, 2, (3, 4)
    rng = np.random.default_rng(0)
    lon, lat = np.meshgrid(np.linspace(83, 84, shape[1]), np.linspace(21, 22, shape[0]))
    response = MapResponse.from_arrays(
        "ds",
        counts=rng.poisson(5, (n_reco, *shape)),
        exposure=np.full((n_true, *shape), 1e9),
        edisp=np.eye(n_true, n_reco),
        energy_true_edges=np.array([1.0, 2.0, 4.0]),
        energy_edges=np.array([1.0, 2.0, 4.0]),
        lon=lon,
        lat=lat,
        solid_angle=np.full(shape, 1e-5),
        psf_rad=np.linspace(0, 1, 11),
        psf_values=np.ones((n_true, 11)),
    )
    for array in (response.solid_angle, response.lon, response.lat):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0.0
