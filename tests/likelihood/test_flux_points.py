"""Flux-point likelihoods against gammapy (HAWC 2019 Crab points: 9 measured, 1 upper limit)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from gammaprob.likelihood import FluxPointsData, flux_points_statistic, flux_points_term

PATH = "hawc/crab_flux/HAWC19_flux_points.fits"
POINTS = [(2.6, 2.5e-13, 0.1), (2.8, 3e-13, 0.05)]


@pytest.fixture(scope="module")
def data(gammapy_data):
    from gammaprob.datasets.flux_points import FluxPointsDataset

    return FluxPointsData.from_dataset(FluxPointsDataset.read(gammapy_data / PATH))


def _values(alpha, amplitude, beta):
    return {
        "crab::alpha": alpha,
        "crab::beta": beta,
        "crab::amplitude": amplitude,
        "crab::reference": 7.0,
    }


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.parametrize("stat", ["chi2", "distrib"])
@pytest.mark.parametrize(("alpha", "amplitude", "beta"), POINTS)
def test_statistic_equals_gammapy(gammapy_data, helpers, data, stat, alpha, amplitude, beta):
    helpers.import_gammapy()
    from gammapy.datasets import FluxPointsDataset
    from gammapy.estimators import FluxPoints
    from gammapy.modeling.models import LogParabolaSpectralModel, SkyModel

    model = LogParabolaSpectralModel(
        alpha=alpha, beta=beta, amplitude=f"{amplitude} cm-2 s-1 TeV-1", reference="7 TeV"
    )
    gp = FluxPointsDataset(
        models=[SkyModel(spectral_model=model, name="crab")],
        data=FluxPoints.read(gammapy_data / PATH),
        stat_type=stat,
    )
    sources = [helpers.Source("crab", helpers.LogParabola())]
    ours = flux_points_statistic(data, sources, _values(alpha, amplitude, beta), stat=stat)
    assert ours == pytest.approx(gp.stat_sum(), rel=1e-8)


@pytest.mark.requires_data
def test_graph_terms_equal_numpy(helpers, data):
    sources = [helpers.Source("crab", helpers.LogParabola())]
    values = _values(*POINTS[0])
    for stat in ("chi2", "distrib"):
        with pm.Model() as model:
            alpha = pm.Flat("crab::alpha")
            pred = data.predict(sources, dict(values, **{"crab::alpha": alpha}))
            flux_points_term(data.name, data, pred, stat=stat)
        logp = model.compile_logp()({"crab::alpha": values["crab::alpha"]})
        expected = -0.5 * flux_points_statistic(data, sources, values, stat=stat)
        if stat == "chi2":
            valid = ~data.is_ul
            sigma = 0.5 * (data.errn + data.errp)[valid]
            expected -= np.sum(np.log(sigma * np.sqrt(2 * np.pi)))
            assert [v.name for v in model.observed_RVs] == [f"{data.name}::dnde"]
        assert logp == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="stat must be one of"):
        flux_points_statistic(data, sources, values, stat="wstat")
    with pytest.raises(ValueError, match="has no norm profiles"):
        flux_points_statistic(data, sources, values, stat="profile")
