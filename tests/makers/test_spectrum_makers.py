"""1D makers on synthetic observations, checked against analytic expectations."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion, PointSkyRegion

from gammaprob.datasets import SpectrumDatasetOnOff
from gammaprob.irf import RadMax2D
from gammaprob.makers import (
    ReflectedRegionsBackgroundMaker,
    ReflectedRegionsFinder,
    SafeMaskMaker,
    SpectrumDatasetMaker,
    SpectrumTemplate,
)
from gammaprob.makers._irf_eval import trapz_loglog
from gammaprob.makers.safe import first_crossing
from gammaprob.maps import Map, MapAxis, WcsGeom

from .conftest import AREA, BKG_INDEX, BKG_NORM, DEADC, ONTIME, POINTING, SOURCE

E_RECO = MapAxis.from_energy_bounds(0.5 * u.TeV, 40 * u.TeV, 15)
E_TRUE = MapAxis.from_energy_bounds(0.3 * u.TeV, 60 * u.TeV, 30, name="energy_true")


def _template(radius=0.11, center=SOURCE):
    return SpectrumTemplate(CircleSkyRegion(center, radius * u.deg), E_RECO, E_TRUE)


def test_trapz_loglog_is_exact_for_power_laws():
    x = np.geomspace(0.1, 100, 11)
    for index in (2.7, 1.0, 0.0):
        y = 3.0 * x**-index
        if index == 1.0:
            exact = 3.0 * np.log(x[1:] / x[:-1])
        else:
            exact = 3.0 * (x[1:] ** (1 - index) - x[:-1] ** (1 - index)) / (1 - index)
        np.testing.assert_allclose(trapz_loglog(y, x), exact, rtol=1e-12)
    y = np.array([1.0, 0.0, 2.0, 1.0])
    assert np.array_equal(trapz_loglog(y, x[:4])[:2], [0.0, 0.0])


def test_first_crossing_linear_and_log():
    x = np.geomspace(1, 100, 5)
    y = np.log10(x)  # 0 .. 2, linear in log x
    assert first_crossing(x, y, 1.5, 1, 100, log_values=False) == pytest.approx(10**1.5)
    assert np.isnan(first_crossing(x, y, 3.0, 1, 100, log_values=False))
    z = x**2.0  # a power law is exact with log values
    assert first_crossing(x, z, 500.0, 1, 100, log_values=True) == pytest.approx(500**0.5)


def test_spectrum_dataset_matches_analytic(make_observation):
    obs = make_observation()
    template = _template()
    ds = SpectrumDatasetMaker(containment_correction=False).run(template, obs)
    assert ds.name == "spectrum-1"
    # counts: independent count on the sphere
    events = obs.events
    inside = events.radec.separation(SOURCE).deg < 0.11
    expected, _ = np.histogram(events.energy.to_value("TeV")[inside], E_RECO.edges.to_value("TeV"))
    assert np.array_equal(ds.counts, expected)
    assert ds.counts.sum() > 100
    # exposure: flat area x livetime (ONTIME x DEADC)
    np.testing.assert_allclose(ds.exposure.to_value("m2 s"), AREA * ONTIME * DEADC, rtol=1e-12)
    # background: power-law rate integrated over each bin x cap solid angle x ontime
    e = E_RECO.edges.to_value("TeV")
    integral = (
        BKG_NORM * 1e6 * (e[1:] ** (1 - BKG_INDEX) - e[:-1] ** (1 - BKG_INDEX)) / (1 - BKG_INDEX)
    )
    omega = 2 * np.pi * (1 - np.cos(np.deg2rad(0.11)))
    np.testing.assert_allclose(ds.background, integral * omega * ONTIME, rtol=1e-9)
    # edisp rows sum to ~1 where the true energy is well inside the reco range
    rows = ds.edisp.sum(axis=1)
    mid = (E_TRUE.center > 1 * u.TeV) & (E_TRUE.center < 20 * u.TeV)
    np.testing.assert_allclose(rows[mid], 1, atol=1e-3)


def test_containment_correction(make_observation):
    obs = make_observation()
    ds = SpectrumDatasetMaker(containment_correction=True).run(_template(), obs)
    gauss = 1 - np.exp(-(0.11**2) / (2 * 0.1**2))
    np.testing.assert_allclose(
        ds.exposure.to_value("m2 s") / (AREA * ONTIME * DEADC), gauss, rtol=2e-3
    )


def test_point_like_rad_max(make_observation):
    obs = make_observation(pointlike=True)
    rad_max = RadMax2D(
        [E_RECO.copy(name="energy"), MapAxis.from_edges([0, 3] * u.deg, name="offset")],
        np.linspace(0.08, 0.15, 15)[:, None],
    )
    obs._slots["rad_max"] = rad_max
    template = SpectrumTemplate(PointSkyRegion(SOURCE), E_RECO, E_TRUE)
    ds = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"]).run(template, obs)
    sep = obs.events.radec.separation(SOURCE).deg
    energy = obs.events.energy.to_value("TeV")
    idx = np.digitize(energy, E_RECO.edges.to_value("TeV")) - 1
    ok = (idx >= 0) & (idx < 15)
    cut = np.linspace(0.08, 0.15, 15)
    expected = np.bincount(idx[ok][sep[ok] <= cut[idx[ok]]], minlength=15)
    assert np.array_equal(ds.counts, expected)
    with pytest.raises(ValueError, match="point-like"):
        SpectrumDatasetMaker(containment_correction=True).run(_template(), obs)
    on_off = ReflectedRegionsBackgroundMaker().run(ds, obs)
    assert on_off.acceptance_off[0] == len(on_off.meta["off_regions"]) > 3


def test_reflected_regions_geometry_and_counts(make_observation):
    obs = make_observation()
    ds = SpectrumDatasetMaker().run(_template(), obs)
    on_off = ReflectedRegionsBackgroundMaker().run(ds, obs)
    assert isinstance(on_off, SpectrumDatasetOnOff)
    regions = on_off.meta["off_regions"]
    n = len(regions)
    # ON at 0.5 deg, radius 0.11 deg: angular size ~2 asin(0.22) = 0.444 rad -> 12 regions
    assert 11 <= n <= 13
    centers = SkyCoord([r.center for r in regions])
    np.testing.assert_allclose(centers.separation(POINTING).deg, 0.5, atol=2e-3)
    for i in range(n):
        sep = centers[i].separation(centers).deg
        assert np.all(sep[np.arange(n) != i] > 0.2)
    assert np.all(centers.separation(SOURCE).deg > 0.22)
    np.testing.assert_allclose(on_off.alpha, 1 / n)
    # OFF counts: independent count on the sphere
    inside = np.zeros(len(obs.events), bool)
    for c in centers:
        inside |= obs.events.radec.separation(c).deg < 0.11
    expected, _ = np.histogram(
        obs.events.energy.to_value("TeV")[inside], E_RECO.edges.to_value("TeV")
    )
    assert np.array_equal(on_off.counts_off, expected)
    assert on_off.background is None


def test_reflected_regions_exclusion_and_limits(make_observation):
    obs = make_observation()
    ds = SpectrumDatasetMaker().run(_template(), obs)
    opposite = SkyCoord(83.633, 21.014, unit="deg")
    geom = WcsGeom.create(skydir=POINTING, width=3, binsz=0.02, frame="icrs", proj="TAN")
    mask = Map(geom, data=~geom.region_mask([CircleSkyRegion(opposite, 0.3 * u.deg)]))
    on_off = ReflectedRegionsBackgroundMaker(exclusion_mask=mask).run(ds, obs)
    centers = SkyCoord([r.center for r in on_off.meta["off_regions"]])
    assert np.all(centers.separation(opposite).deg > 0.3 + 0.11 - 0.03)
    limited = ReflectedRegionsBackgroundMaker(max_region_number=3).run(ds, obs)
    assert len(limited.meta["off_regions"]) == 3
    np.testing.assert_allclose(limited.alpha, 1 / 3)
    # an exclusion mask that leaves the ring empty: warning, nothing silently usable
    ring_mask = Map(geom, data=geom.separation(POINTING).deg > 0.8)
    with pytest.warns(UserWarning, match="no OFF region"):
        empty = ReflectedRegionsBackgroundMaker(exclusion_mask=ring_mask).run(ds, obs)
    assert not empty.mask_safe.any()
    assert empty.counts_off.sum() == 0
    with pytest.raises(ValueError, match="excludes every pixel"):
        ReflectedRegionsBackgroundMaker(
            exclusion_mask=Map(geom, data=np.zeros(geom.data_shape, bool))
        )
    with pytest.raises(ValueError, match="contains the pointing"):
        ReflectedRegionsFinder().run(CircleSkyRegion(POINTING, 0.2 * u.deg), POINTING)


def test_safe_mask_methods(make_observation):
    obs = make_observation()
    ds = SpectrumDatasetMaker().run(_template(), obs)
    edges = E_RECO.edges.to_value("TeV")
    default = SafeMaskMaker(["aeff-default"]).run(ds, obs)
    assert np.array_equal(default.mask_safe, (edges[:-1] >= 0.8) & (edges[1:] <= 50))
    peak = SafeMaskMaker(["bkg-peak"]).run(ds, obs)  # falling power law: peak in the first bin
    assert peak.mask_safe.all()
    flat = SafeMaskMaker(["aeff-max"]).run(ds, obs)  # flat area: nothing cut
    assert flat.mask_safe.all()
    far = SafeMaskMaker(["offset-max"], offset_max="0.4 deg").run(ds, obs)
    assert not far.mask_safe.any()
    bias = SafeMaskMaker(["edisp-bias"], bias_percent=10).run(ds, obs)
    assert bias.mask_safe.sum() >= 13  # unbiased Gaussian dispersion: at most the edges go
    with pytest.raises(ValueError, match="unknown safe-mask methods"):
        SafeMaskMaker(["aeff-min"])


def test_bad_input(make_observation):
    obs = make_observation(bkg=False)
    with pytest.raises(ValueError, match="no background IRF"):
        SpectrumDatasetMaker().run(_template(), obs)
    far = _template(center=SkyCoord(83.633, 26.0, unit="deg"))
    with pytest.raises(ValueError, match="outside the field of view"):
        SpectrumDatasetMaker(selection=["counts"]).run(far, obs)
    with pytest.raises(ValueError, match="without 'edisp'"):
        SpectrumDatasetMaker(selection=["counts", "exposure"]).run(_template(), obs)
    with pytest.raises(ValueError, match="unknown selection"):
        SpectrumDatasetMaker(selection=["psf"])
    with pytest.raises(TypeError, match="SpectrumTemplate"):
        SpectrumDatasetMaker().run("not a template", obs)
    with pytest.raises(TypeError, match="energy_true"):
        SpectrumTemplate(CircleSkyRegion(SOURCE, 0.1 * u.deg), E_RECO, E_RECO)
