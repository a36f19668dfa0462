"""PSFMap and EDispKernelMap: IRFs tabulated on a coarse sky grid."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from gammaprob.irf import PSF3D, EnergyDispersion2D
from gammaprob.irf.irf_maps import EDispKernelMap, IRFMap, PSFMap
from gammaprob.maps import Map, MapAxis, WcsGeom

POINTING = SkyCoord(83.6, 21.5, unit="deg")
E_TRUE = MapAxis.from_energy_bounds(0.5 * u.TeV, 20 * u.TeV, 4, name="energy_true")
E_RECO = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, 3)
OFFSET = MapAxis.from_edges(np.linspace(0, 3, 7) * u.deg, name="offset")
RAD = MapAxis.from_bounds(0, 0.66, nbin=66, unit="deg", name="rad")


@pytest.fixture
def image():
    return WcsGeom.create(skydir=(83.6, 22.0), width=2, binsz=0.5, frame="icrs", proj="CAR")


def _psf(sigma_deg):
    rad = MapAxis.from_edges(np.linspace(0, 1, 201) * u.deg, name="rad")
    return PSF3D.from_gauss(E_TRUE, OFFSET, rad, sigma=sigma_deg * u.deg)


def test_psf_map_normalised_gaussian(image):
    psf_map = PSFMap.from_psf(_psf(0.1), POINTING, image, E_TRUE, RAD)
    assert psf_map.irf_map.data.shape == (4, 66, 4, 4)
    assert psf_map.irf_map.unit == u.Unit("sr-1")
    # normalisation: sum(2 pi r dr psf) = 1 (bin-centre rule, r in sr units)
    r = RAD.center.to_value("rad")
    dr = RAD.bin_width.to_value("rad")
    total = (psf_map.irf_map.data * (2 * np.pi * r * dr)[None, :, None, None]).sum(axis=1)
    np.testing.assert_allclose(total, 1, rtol=1e-12)
    for radius in (0.05, 0.1, 0.2):
        expected = 1 - np.exp(-(radius**2) / (2 * 0.1**2))
        np.testing.assert_allclose(psf_map.containment(radius * u.deg), expected, rtol=3e-3)
    assert "PSFMap" in repr(psf_map) and "rad" in repr(psf_map)


def test_edisp_kernel_map_per_pixel(image):
    migra = MapAxis.from_edges(np.linspace(0.2, 5, 241), name="migra")
    # resolution worsening with offset: one Gaussian table per offset bin
    data = np.stack(
        [
            EnergyDispersion2D.from_gauss(E_TRUE, migra, OFFSET, sigma=s).data[..., 0]
            for s in np.linspace(0.05, 0.3, 6)
        ],
        axis=-1,
    )
    edisp = EnergyDispersion2D([E_TRUE, migra, OFFSET], data)
    kmap = EDispKernelMap.from_edisp(edisp, POINTING, image, E_RECO, E_TRUE)
    assert kmap.irf_map.data.shape == (4, 3, 4, 4)
    offsets = image.separation(POINTING).to(u.deg)
    for iy, ix in [(0, 0), (3, 2)]:
        pos = image.get_coord().skycoord[iy, ix]
        direct = edisp.to_edisp_kernel(offsets[iy, ix], E_TRUE, E_RECO).pdf_matrix
        assert kmap.pixel_index(pos) == (iy, ix)
        np.testing.assert_array_equal(kmap.get_edisp_kernel(pos).pdf_matrix, direct)
    far = SkyCoord(100, 60, unit="deg")
    assert kmap.pixel_index(far) in {(0, 0), (0, 3), (3, 0), (3, 3)}


def test_stack_is_exposure_weighted(image):
    a = PSFMap.from_psf(
        _psf(0.1),
        POINTING,
        image,
        E_TRUE,
        RAD,
        Map(image.to_cube([E_TRUE]), data=np.full((4, 4, 4), 1.0), unit="m2 s"),
    )
    b = PSFMap.from_psf(
        _psf(0.2),
        POINTING,
        image,
        E_TRUE,
        RAD,
        Map(image.to_cube([E_TRUE]), data=np.full((4, 4, 4), 3.0), unit="m2 s"),
    )
    stacked = PSFMap.stack([a, b])
    np.testing.assert_allclose(
        stacked.irf_map.data, 0.25 * a.irf_map.data + 0.75 * b.irf_map.data, rtol=1e-12
    )
    np.testing.assert_allclose(stacked.exposure_map.data, 4.0)
    with pytest.raises(ValueError, match="without an exposure map"):
        PSFMap.stack([PSFMap(a.irf_map), b])
    with pytest.raises(ValueError, match="at least one"):
        PSFMap.stack([])


def test_irf_map_validation(image):
    with pytest.raises(TypeError, match="irf_map must be a Map"):
        IRFMap(np.zeros(3))
    other = WcsGeom.create(skydir=(83.6, 22.0), width=1, binsz=0.5, frame="icrs")
    with pytest.raises(ValueError, match="share the sky grid"):
        IRFMap(Map(image.to_cube([E_TRUE])), Map(other.to_cube([E_TRUE])))
