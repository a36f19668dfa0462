"""3D makers, background methods and reduce() on synthetic observations."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from regions import CircleSkyRegion

from gammaprob.data.gti import GTI
from gammaprob.datasets import MapDatasetOnOff
from gammaprob.irf.irf_maps import EDispKernelMap, PSFMap
from gammaprob.makers import (
    AdaptiveRingBackgroundMaker,
    FoVBackgroundMaker,
    MapDatasetMaker,
    MapTemplate,
    RingBackgroundMaker,
    SafeMaskMaker,
    reduce,
    stack_map_datasets,
)
from gammaprob.makers.ring import ring_kernel
from gammaprob.maps import HpxGeom, Map, MapAxis, WcsGeom

from .conftest import AREA, BKG_INDEX, BKG_NORM, DEADC, ONTIME, POINTING, SOURCE

E_RECO = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, 3)
E_TRUE = MapAxis.from_energy_bounds(0.5 * u.TeV, 20 * u.TeV, 6, name="energy_true")


def _bkg_integral():
    e = E_RECO.edges.to_value("TeV")
    return BKG_NORM * 1e6 * (e[1:] ** (1 - BKG_INDEX) - e[:-1] ** (1 - BKG_INDEX)) / (1 - BKG_INDEX)


def _wcs_template(width=2.0, binsz=0.05):
    geom = WcsGeom.create(
        skydir=SOURCE, width=width, binsz=binsz, frame="icrs", proj="CAR", axes=[E_RECO]
    )
    return MapTemplate(geom, E_TRUE, binsz_irf=0.5 * u.deg)


@pytest.mark.parametrize("kind", ["wcs", "hpx"])
def test_map_dataset_matches_analytic(make_observation, kind):
    obs = make_observation()
    if kind == "wcs":
        template = _wcs_template()
    else:
        geom = HpxGeom.create(nside=512, skydir=SOURCE, width=2.0, frame="icrs", axes=[E_RECO])
        template = MapTemplate(geom, E_TRUE, binsz_irf=0.5 * u.deg)
    ds = MapDatasetMaker().run(template, obs)
    assert np.prod(ds.psf.irf_map.geom.spatial_shape) < np.prod(template.geom.spatial_shape)
    np.testing.assert_allclose(ds.psf.containment(0.1 * u.deg, SOURCE), 1 - np.exp(-0.5), rtol=5e-3)
    geom = template.geom
    # counts: every event inside the geometry and the energy range, once
    coords = {"skycoord": obs.events.radec, "energy": obs.events.energy}
    inside = geom.contains(coords)
    assert ds.counts.data.sum() == inside.sum() > 100
    # exposure: flat area x livetime; background: analytic integral x pixel solid angle x ontime
    np.testing.assert_allclose(ds.exposure.data, AREA * ONTIME * DEADC, rtol=1e-12)
    omega = geom.to_image().solid_angle().to_value("sr")
    expected = _bkg_integral().reshape((-1,) + (1,) * omega.ndim) * omega * ONTIME
    np.testing.assert_allclose(ds.background.data, expected, rtol=1e-9)
    assert ds.meta["obs_id"] == 1
    assert ds.livetime.to_value("s") == pytest.approx(ONTIME * DEADC)


def test_irf_maps(make_observation):
    obs = make_observation()
    template = _wcs_template()
    ds = MapDatasetMaker().run(template, obs)
    assert isinstance(ds.psf, PSFMap) and isinstance(ds.edisp, EDispKernelMap)
    assert ds.psf.irf_map.geom.spatial_shape == (4, 4)
    # Gaussian PSF (sigma 0.1 deg): containment within 0.1 deg is 1 - exp(-1/2)
    np.testing.assert_allclose(ds.psf.containment(0.1 * u.deg), 1 - np.exp(-0.5), rtol=5e-3)
    np.testing.assert_allclose(ds.psf.containment(0.66 * u.deg), 1, rtol=1e-12)
    kernel = ds.edisp.get_edisp_kernel(SOURCE)
    direct = obs.edisp.to_edisp_kernel(SOURCE.separation(POINTING), E_TRUE, E_RECO).pdf_matrix
    assert kernel.pdf_matrix.shape == (6, 3)
    offset_pix = ds.edisp.irf_map.geom.separation(POINTING).deg
    assert np.ptp(offset_pix) > 0.5  # kernels really are per pixel
    np.testing.assert_allclose(kernel.pdf_matrix, direct, atol=0.05)
    # stacking: exposure-weighted mean
    other = PSFMap(
        Map(ds.psf.irf_map.geom, data=2 * ds.psf.irf_map.data, unit="sr-1"),
        Map(ds.psf.exposure_map.geom, data=3 * ds.psf.exposure_map.data, unit="m2 s"),
    )
    stacked = PSFMap.stack([ds.psf, other])
    np.testing.assert_allclose(stacked.irf_map.data, 1.75 * ds.psf.irf_map.data, rtol=1e-12)
    np.testing.assert_allclose(stacked.exposure_map.data, 4 * ds.psf.exposure_map.data)
    with pytest.raises(TypeError, match="cannot stack"):
        PSFMap.stack([ds.psf, ds.edisp])


def test_fov_background(make_observation):
    obs = make_observation()
    template = _wcs_template()
    ds = MapDatasetMaker(selection=["counts", "background"]).run(template, obs)
    image = template.geom.to_image()
    exclusion = Map(image, data=~image.region_mask([CircleSkyRegion(SOURCE, 0.3 * u.deg)]))
    scaled = FoVBackgroundMaker(exclusion_mask=exclusion).run(ds)
    keep = np.broadcast_to(exclusion.data, ds.counts.data.shape)
    norm = ds.counts.data[keep].sum() / ds.background.data[keep].sum()
    assert scaled.meta["bkg_norm"] == pytest.approx(norm, rel=1e-12)
    np.testing.assert_allclose(scaled.background.data, norm * ds.background.data)
    with pytest.raises(ValueError, match="excludes every pixel"):
        FoVBackgroundMaker(exclusion_mask=Map(image, data=np.zeros(image.data_shape, bool)))
    no_bkg = MapDatasetMaker(selection=["counts"]).run(template, obs)
    with pytest.raises(ValueError, match="no background to normalise"):
        FoVBackgroundMaker().run(no_bkg, obs)
    with pytest.raises(ValueError, match="no background IRF"):
        MapDatasetMaker().run(template, make_observation(bkg=False))
    with pytest.raises(ValueError, match="without 'edisp'"):
        MapDatasetMaker(selection=["counts", "exposure"]).run(template, obs)


def test_ring_background(make_observation):
    obs = make_observation()
    template = _wcs_template(width=3.0, binsz=0.05)
    ds = MapDatasetMaker(selection=["counts", "background"]).run(template, obs)
    on_off = RingBackgroundMaker("0.5 deg", "0.3 deg").run(ds)
    assert isinstance(on_off, MapDatasetOnOff)
    kernel = ring_kernel(0.5 / 0.05, 0.3 / 0.05)
    # in the map centre the OFF acceptance is the background summed over the ring pixels
    c, h = template.geom.data_shape[1] // 2, kernel.shape[0] // 2
    window = ds.background.data[:, c - h : c + h + 1, c - h : c + h + 1]
    np.testing.assert_allclose(
        on_off.acceptance_off.data[:, c, c], (window * kernel).sum(axis=(1, 2)), rtol=1e-9
    )
    # nearly flat background: alpha ~ 1 / (ring pixels)
    np.testing.assert_allclose(on_off.alpha[:, c, c], 1 / kernel.sum(), rtol=1e-3)
    assert np.all(on_off.counts_off.data == np.rint(on_off.counts_off.data))
    adaptive = AdaptiveRingBackgroundMaker(
        "0.3 deg", "1.2 deg", "0.2 deg", threshold_alpha=0.5
    ).run(ds)
    used = adaptive.mask_safe.data
    assert used.any()
    # the ON acceptance used for the choice: background summed in a 0.22 deg disc (direct sum)
    from astropy.convolution import Tophat2DKernel
    from scipy.ndimage import convolve

    disc = Tophat2DKernel(0.22 / 0.05).array > 0
    on_disc = np.stack(
        [convolve(b, disc.astype(float), mode="constant") for b in ds.background.data]
    )
    ratio = on_disc[used] / adaptive.acceptance_off.data[used]
    assert np.all(ratio <= 0.5 * (1 + 1e-9))
    assert ratio.max() > 0.2
    np.testing.assert_allclose(adaptive.acceptance.data[used], ds.background.data[used])
    image = template.geom.to_image()
    nothing = Map(image, data=np.zeros(image.data_shape, bool))
    with pytest.raises(ValueError, match="excludes every pixel"):
        RingBackgroundMaker("0.5 deg", "0.3 deg", exclusion_mask=nothing).run(ds)
    with pytest.raises(ValueError, match="no background"):
        RingBackgroundMaker("0.5 deg", "0.3 deg").run(
            MapDatasetMaker(selection=["counts"]).run(template, obs)
        )


def test_reduce_skips_failures_on_request_and_stacks(make_observation, capsys):
    template = _wcs_template()
    observations = [make_observation(1), make_observation(2, bkg=False), make_observation(3)]
    makers = [
        MapDatasetMaker(selection=["counts", "background"]),
        SafeMaskMaker(["offset-max"], offset_max="2 deg"),
    ]
    with pytest.warns(UserWarning, match=r"skipped 1 of 3 observation\(s\).*\n  2: ValueError"):
        result = reduce(template, observations, makers, progress=False, on_error="skip")
    assert [d.name for d in result.datasets] == ["map-1", "map-3"]
    assert "no background IRF" in result.skipped[2]
    with pytest.warns(UserWarning):
        stacked = reduce(template, observations, makers, stack=True, progress=True, on_error="skip")
    assert "3/3" in capsys.readouterr().err  # the tqdm progress bar
    (one,) = list(stacked.datasets)
    direct = stack_map_datasets(list(result.datasets))
    assert np.array_equal(one.counts.data, direct.counts.data)
    assert one.meta["obs_ids"] == [1, 3]
    # the stacked GTI is the union of the inputs' (reduce(stack=True) lost it before)
    assert one.gti is not None and direct.gti == one.gti
    expected = GTI.from_stack([d.gti for d in result.datasets]).union()
    assert one.gti == expected and len(one.gti) >= 1


@pytest.mark.slow
def test_reduce_on_a_local_dask_cluster(make_observation):
    template = _wcs_template()
    observations = [make_observation(i) for i in (1, 2, 3)]
    makers = [MapDatasetMaker(selection=["counts", "background"])]
    serial = reduce(template, observations, makers, progress=False)
    parallel = reduce(template, observations, makers, n_workers=2, progress=False)
    for a, b in zip(serial.datasets, parallel.datasets, strict=True):
        assert a.name == b.name
        assert np.array_equal(a.counts.data, b.counts.data)
        assert np.array_equal(a.background.data, b.background.data)
