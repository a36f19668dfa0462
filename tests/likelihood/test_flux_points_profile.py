"""Norm-profile (``likelihood`` SED) flux-point statistic against gammapy's ``stat_type="profile"``."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pymc as pm
import pytest
from astropy.table import Table

from gammaprob.likelihood import FluxPointsData, flux_points_statistic, flux_points_term

E_EDGES = np.geomspace(1.0, 30.0, 6)


def _write_likelihood_sed(path, rows=slice(None)):
    """Five points of a likelihood SED with parabolic-ish profiles (one with a NaN scan)."""
    rng = np.random.default_rng(11)
    e_min, e_max = E_EDGES[:-1], E_EDGES[1:]
    e_ref = np.sqrt(e_min * e_max)
    ref_dnde = 1e-12 * e_ref**-2.5
    g = -1.5
    ref_flux = 1e-12 * (e_max**g - e_min**g) / g
    ref_eflux = 1e-12 * (np.log(e_max) - np.log(e_min)) * 1.602176634  # erg cm-2 s-1 (approx.)
    norm = np.array([1.1, 0.9, 1.05, 0.8, 1.3])
    err = np.array([0.05, 0.08, 0.15, 0.3, 0.6])
    norm_scan = np.stack([np.linspace(0.2, 2.5, 15)] * 5)
    stat_scan = ((norm_scan - norm[:, None]) / err[:, None]) ** 2 + 7.0
    stat_scan += rng.normal(0, 0.02, stat_scan.shape) * np.abs(norm_scan - norm[:, None])
    stat_scan[4, 3] = np.nan
    table = Table(
        {
            "e_ref": e_ref * u.TeV,
            "e_min": e_min * u.TeV,
            "e_max": e_max * u.TeV,
            "ref_dnde": ref_dnde * u.Unit("cm-2 s-1 TeV-1"),
            "ref_flux": ref_flux * u.Unit("cm-2 s-1"),
            "ref_eflux": ref_eflux * u.Unit("erg cm-2 s-1") * 1e-12,
            "norm": norm,
            "norm_err": err,
            "stat": np.full(5, 7.0),
            "norm_scan": norm_scan,
            "stat_scan": stat_scan,
        },
        meta={"SED_TYPE": "likelihood"},
    )
    table[rows].write(path, format="fits")
    return path


VALUES = [(2.5, 1.1e-12), (2.3, 0.8e-12), (2.8, 1.4e-12)]


def _values(index, amplitude):
    return {"src::index": index, "src::amplitude": amplitude, "src::reference": 1.0}


@pytest.fixture
def sed(tmp_path):
    from gammaprob.datasets.flux_points import FluxPointsDataset

    path = _write_likelihood_sed(tmp_path / "sed.fits")
    return path, FluxPointsData.from_dataset(FluxPointsDataset.read(path))


def test_profile_is_quadratic_near_the_minimum(sed, helpers):
    """At a prediction of norm = best fit + 1 sigma every profile rises by about 1."""
    _, data = sed
    assert data.profile_points.tolist() == [0, 1, 2, 3]  # the NaN scan is left out
    norm = np.array([1.1, 0.9, 1.05, 0.8]) + np.array([0.05, 0.08, 0.15, 0.3])
    stat = data.profile.evaluate(norm)
    np.testing.assert_allclose(stat, 1.0, atol=0.02)


def test_graph_equals_numpy_and_gradient(sed, helpers):
    import pytensor

    _, data = sed
    models = [helpers.Source("src", helpers.PowerLaw())]
    with pm.Model() as model:
        index = pm.Normal("src::index", 2.5, 1.0)
        pred = data.predict(
            models, {"src::index": index, "src::amplitude": 1.1e-12, "src::reference": 1.0}
        )
        flux_points_term("fp", data, pred, stat="profile")
    logp = model.compile_fn(model.potentiallogp)
    for idx in (2.3, 2.5, 2.8):
        expected = flux_points_statistic(data, models, _values(idx, 1.1e-12), stat="profile")
        assert logp({"src::index": idx}) == pytest.approx(-0.5 * expected, rel=1e-12)
    pytensor.gradient.verify_grad(
        lambda i: data.profile.evaluate(
            data.predict(models, _values(i, 1.1e-12))[:4] / data.dnde_ref[:4]
        ).sum(),
        [np.array(2.45)],
        rng=np.random.default_rng(1),
        mode="FAST_COMPILE",
    )


@pytest.mark.requires_gammapy
@pytest.mark.parametrize(("index", "amplitude"), VALUES)
def test_profile_statistic_equals_gammapy(sed, helpers, index, amplitude):
    helpers.import_gammapy()
    from gammapy.datasets import FluxPointsDataset
    from gammapy.estimators import FluxPoints
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    _, data = sed
    # gammapy's stat_sum is NaN with the NaN scan: compare with the four finite points
    path = _write_likelihood_sed(sed[0].with_name("finite.fits"), rows=slice(0, 4))
    points = FluxPoints.read(path, sed_type="likelihood")
    model = SkyModel(
        spectral_model=PowerLawSpectralModel(
            index=index, amplitude=f"{amplitude} cm-2 s-1 TeV-1", reference="1 TeV"
        ),
        name="src",
    )
    dataset = FluxPointsDataset(data=points, models=[model], stat_type="profile")
    ours = flux_points_statistic(
        data, [helpers.Source("src", helpers.PowerLaw())], _values(index, amplitude), stat="profile"
    )
    assert ours == pytest.approx(dataset.stat_sum(), rel=1e-9)
