"""Reprojection HEALPix <-> WCS: nearest values, conserved sums, round trips."""

from __future__ import annotations

import astropy.units as u
import healpy as hp
import numpy as np
import pytest

from gammaprob.maps.axes import MapAxis
from gammaprob.maps.hpx import HpxGeom
from gammaprob.maps.hpx_wcs import hpx_to_wcs, hpx_to_wcs_data, wcs_to_hpx, wcs_to_hpx_data
from gammaprob.maps.map import Map
from gammaprob.maps.wcs import WcsGeom


@pytest.fixture
def counts(rng):
    axis = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, nbin=2)
    geom = HpxGeom(16, nest=False, frame="galactic", axes=[axis])
    return Map(geom, data=rng.poisson(20.0, geom.data_shape).astype(float), unit="")


def test_hpx_to_wcs_nearest_matches_healpy(counts):
    wcs_map = hpx_to_wcs(counts, proj="CAR", oversample=2)
    geom = wcs_map.geom
    assert geom.projection == "CAR" and geom.frame == "galactic" and geom.axes == counts.geom.axes
    coord = geom.to_image().get_coord()
    ipix = hp.ang2pix(16, coord.lon, coord.lat, nest=False, lonlat=True)
    np.testing.assert_array_equal(wcs_map.data, counts.data[:, ipix])


def test_hpx_to_wcs_preserves_counts_and_round_trips(counts):
    wcs_map = hpx_to_wcs(counts, proj="CAR", oversample=4, preserve_counts=True)
    np.testing.assert_allclose(wcs_map.data.sum(axis=(1, 2)), counts.data.sum(axis=1), rtol=1e-12)
    back = wcs_to_hpx(wcs_map, counts.geom, preserve_counts=True)
    assert back.geom == counts.geom
    np.testing.assert_allclose(back.data, counts.data, rtol=1e-12)
    mean_back = wcs_to_hpx(
        hpx_to_wcs(counts, proj="CAR", oversample=4), counts.geom, preserve_counts=False
    )
    np.testing.assert_allclose(mean_back.data, counts.data, rtol=1e-12)


def test_ait_outside_projection_is_fill_value(counts):
    wcs_map = hpx_to_wcs(counts, proj="AIT", oversample=2)
    lon, _ = wcs_map.geom.wcs.wcs_pix2world(*wcs_map.geom._spatial_pix_grid(), 0)
    outside = ~np.isfinite(lon)
    assert outside.any()
    assert np.all(np.isnan(wcs_map.data[:, outside]))
    assert np.all(np.isfinite(wcs_map.data[:, ~outside]))


def test_wcs_to_hpx_partial_sky_sum():
    wcs_geom = WcsGeom.create(skydir=(83.6, 22.0), width=6.0, binsz=0.05, proj="TAN")
    values = np.ones(wcs_geom.data_shape)
    hpx_geom = HpxGeom(64, region="DISK(83.6,22.0,2.0)")
    summed = wcs_to_hpx_data(values, wcs_geom, hpx_geom, preserve_counts=True)
    # every HEALPix pixel of the disc gets the WCS pixels whose centres it contains:
    # the sum of their solid angles approximates the HEALPix pixel solid angle
    omega_wcs = wcs_geom.solid_angle().value.mean()
    np.testing.assert_allclose(summed * omega_wcs, hp.nside2pixarea(64), rtol=0.1)
    mean = wcs_to_hpx_data(values * 3.0, wcs_geom, hpx_geom, preserve_counts=False)
    np.testing.assert_allclose(mean, 3.0, rtol=1e-12)


def test_wcs_to_hpx_mean_fills_empty_pixels_from_nearest():
    # WCS pixels much larger than HEALPix pixels: most HEALPix pixels contain no WCS centre.
    wcs_geom = WcsGeom.create(
        skydir=(0.0, 0.0), width=10.0, binsz=2.0, proj="CAR", frame="galactic"
    )
    data = np.arange(25.0).reshape(5, 5)
    hpx_geom = HpxGeom(64, frame="galactic", region="DISK(0,0,3)")
    out = wcs_to_hpx_data(data, wcs_geom, hpx_geom, preserve_counts=False)
    ix, iy = wcs_geom.pix_to_idx(wcs_geom.coord_to_pix(hpx_geom.get_skycoord()))
    np.testing.assert_array_equal(out, data[iy, ix])


def test_shape_errors(counts):
    wcs_geom = counts.geom.to_wcs_geom(proj="CAR")
    with pytest.raises(ValueError, match="spatial shape"):
        hpx_to_wcs_data(np.zeros(5), counts.geom, wcs_geom)
    with pytest.raises(ValueError, match="spatial shape"):
        wcs_to_hpx_data(np.zeros((3, 4)), wcs_geom, counts.geom)
    with pytest.raises(TypeError, match="HpxGeom"):
        hpx_to_wcs(Map(wcs_geom.to_image()))
    with pytest.raises(TypeError, match="WcsGeom"):
        wcs_to_hpx(counts, counts.geom)
