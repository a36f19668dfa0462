"""Systematics as priors: energy scale, effective area, background norm per bin and gradient.

Each nuisance is recovered on a simulation (MAP, or a short NUTS run), its graph equals the
numpy reference and its gradient passes ``verify_grad``.
"""

from __future__ import annotations

from types import SimpleNamespace

import astropy.units as u
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest

from gammaprob.forward import MapFold, MapResponse, build_params, current_values, npred_map
from gammaprob.inference import build_model, check_convergence, find_map, sample
from gammaprob.inference.build import model_metadata
from gammaprob.likelihood import add_likelihood
from gammaprob.modeling import (
    DEFAULT_PRIORS,
    DatasetSystematics,
    FoVBackgroundModel,
    LogNormal,
    LogUniform,
    Models,
    Normal,
    SkyModel,
    Systematics,
    apply_systematics,
    spectral,
)
from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset

LP_TRUTH = {"amplitude": 4e-12, "alpha": 2.4, "beta": 0.4}


def _log_parabola():
    lp = spectral.LogParabola10(
        amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1"),
        alpha=Normal(2.5, 0.5),
        beta=Normal(0.0, 1.0),
    )
    for key, value in LP_TRUTH.items():
        lp.parameters[key].value = value
    return lp


def _power_law():
    pl = spectral.PowerLaw(
        index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1")
    )
    pl.parameters["index"].value = 2.6
    pl.parameters["amplitude"].value = 4e-12
    return pl


def _pair(make_spectrum, energy_scale, effective_area, seed=1):
    """Dataset ``a`` with a nominal response, ``b`` simulated with the given nuisances."""
    source = SkyModel(make_spectrum(), name="src")
    seen = SkyModel(
        DatasetSystematics(make_spectrum(), energy_scale, effective_area, group="b", source="src"),
        name="src",
    )
    template = {"n_bins": 24, "n_bins_true": 48, "livetime": 20 * u.h}
    a = simulate_spectrum_dataset(
        source, parametric_spectrum_dataset(name="a", **template), rng=seed
    )
    b = simulate_spectrum_dataset(
        seen, parametric_spectrum_dataset(name="b", **template), rng=seed + 1
    )
    return source, a, b


def test_dataset_systematics_formula_and_neutral_values():
    """a phi(E/(1+z))/(1+z) written out; z=0, a=1 reproduce the model exactly."""
    lp = _log_parabola()
    energy = np.geomspace(0.1, 50, 9)
    lo, hi = energy[:-1], energy[1:]
    wrapped = DatasetSystematics(lp, 0.12, 1.3, group="g", source="s")
    expected = 1.3 * lp.evaluate_with(energy / 1.12) / 1.12
    np.testing.assert_allclose(wrapped.evaluate_with(energy), expected, rtol=1e-13)
    pl = _power_law()
    closed = DatasetSystematics(pl, 0.12, 1.3, group="g", source="s").integrate_with(lo, hi)
    np.testing.assert_allclose(closed, 1.3 * pl.integrate_with(lo / 1.12, hi / 1.12), rtol=1e-13)
    neutral = DatasetSystematics(pl, group="g", source="s")
    np.testing.assert_array_equal(neutral.integrate_with(lo, hi), pl.integrate_with(lo, hi))


def test_dataset_systematics_gradient():
    lp = _log_parabola()
    energy = np.geomspace(0.1, 50, 7)
    wrapped = DatasetSystematics(lp, group="g", source="s")

    def f(z, a):
        values = wrapped.values()
        values.update(energy_scale=z, effective_area=a)
        return pt.log(wrapped.integrate(energy[:-1], energy[1:], **values))

    pytensor.gradient.verify_grad(
        f, [np.float64(0.07), np.float64(1.1)], rng=np.random.default_rng(0), eps=1e-7
    )


def test_systematics_folded_into_models_and_provenance():
    source, a, b = _pair(_power_law, 0.0, 1.0)
    group = Systematics("b", energy_scale=True, effective_area=True)
    models = apply_systematics(Models([source]), [group], [a, b])
    assert models.names == ["src", "src@b"]
    assert models["src"].datasets_names == ["a"]
    assert models["src@b"].datasets_names == ["b"]
    wrapped = models["src@b"].spectral
    assert wrapped.parameters["index"] is source.spectral.parameters["index"]  # linked
    assert wrapped.parameters["energy_scale"].prior == DEFAULT_PRIORS["energy_scale"]
    model = build_model([a, b], source, systematics=group)
    names = set(model.named_vars)
    assert {"b::energy_scale", "b::effective_area", "src::index", "src::amplitude"} <= names
    assert not any(n.startswith("src@b::") for n in names)
    text = model_metadata(model)["model_yaml"]
    rebuilt = Models.from_yaml(text)  # the provenance records the systematics and round-trips
    assert rebuilt["src@b"].spectral.parameters["effective_area"].prior == LogNormal(0.0, 0.1)
    with pm.Model() as again:
        rebuilt.build()
    assert {"b::energy_scale", "b::effective_area"} <= set(again.named_vars)


def test_systematics_bad_input():
    source, a, b = _pair(_power_law, 0.0, 1.0)
    with pytest.raises(ValueError, match="unknown dataset 'c'"):
        build_model([a, b], source, systematics=Systematics("c", effective_area=True))
    with pytest.raises(ValueError, match="in two Systematics groups"):
        build_model(
            [a, b],
            source,
            systematics=[
                Systematics(["a", "b"], name="x", effective_area=True),
                Systematics("b", energy_scale=True),
            ],
        )
    with pytest.raises(ValueError, match="needs a group name"):
        Systematics(["a", "b"], effective_area=True)
    with pytest.raises(ValueError, match="no nuisance is switched on"):
        Systematics("a")
    with pytest.raises(ValueError, match=r"Systematics 'b': prior Normal.*energy_scale"):
        Systematics("b", energy_scale=Normal(0.0, 0.2))  # 1 + z must stay positive
    with pytest.raises(ValueError, match="is a spectrum dataset"):
        build_model([a, b], source, systematics=Systematics("a", background_norm=True))


@pytest.mark.sampling
def test_energy_scale_recovered_on_simulation():
    """b's energy scale is off by +12 %: the curvature identifies it (short NUTS run)."""
    source, a, b = _pair(_log_parabola, 0.12, 1.0, seed=3)
    model = build_model(
        [a, b],
        source,
        systematics=Systematics("b", energy_scale=spectral.energy_scale_prior(0.2)),
    )
    result = sample(
        model, draws=300, tune=300, chains=2, random_seed=2, progressbar=False, check=False
    )
    assert check_convergence(result, warn=False).ok
    z = np.asarray(result.posterior["b::energy_scale"]).ravel()
    assert abs(z.mean() - 0.12) < 3 * z.std()
    assert z.std() < 0.2 / 2  # the data, not the prior, constrain it
    alpha = np.asarray(result.posterior["src::alpha"]).ravel()
    assert abs(alpha.mean() - LP_TRUTH["alpha"]) < 3 * alpha.std()


def test_effective_area_recovered_on_simulation():
    """b's exposure is 30 % higher than nominal; a (nominal) fixes the flux (MAP)."""
    source, a, b = _pair(_power_law, 0.0, 1.3, seed=5)
    model = build_model(
        [a, b], source, systematics=Systematics("b", effective_area=LogNormal(0.0, 0.5))
    )
    best = find_map(model, random_seed=1)
    assert float(best["b::effective_area"]) == pytest.approx(1.3, rel=0.06)
    assert float(best["src::amplitude"]) == pytest.approx(4e-12, rel=0.06)


# -- map datasets: background norm per energy bin and spatial gradient ----------------------

N_TRUE, N_RECO, N, PIX = 3, 3, 31, 0.03
GRADIENT = {"gradient_lon": 0.6, "gradient_lat": -0.4}  # deg-1
BIN_NORMS = np.array([0.9, 1.1, 1.25])


def _map_response(helpers, counts=None, seed=0):
    rng = np.random.default_rng(seed)
    lat, lon = np.meshgrid(
        (np.arange(N) - N // 2) * PIX, (np.arange(N) - N // 2) * PIX, indexing="ij"
    )
    rad, psf = helpers.gaussian_psf_table([0.1, 0.08, 0.06])
    bkg = np.full((N_RECO, N, N), 40.0) * rng.uniform(0.8, 1.2, (1, N, N))
    edisp = np.eye(N_TRUE, N_RECO)
    kw = {
        "exposure": np.full((N_TRUE, N, N), 1e12),
        "edisp": edisp,
        "energy_true_edges": np.geomspace(1.0, 10.0, N_TRUE + 1),
        "energy_edges": np.geomspace(1.0, 10.0, N_RECO + 1),
        "lon": lon % 360,
        "lat": lat,
        "solid_angle": np.deg2rad(PIX) ** 2 * np.cos(np.deg2rad(lat)),
        "psf_rad": rad,
        "psf_values": psf,
        "frame": "galactic",
        "background": bkg,
    }
    if counts is None:
        counts = np.zeros((N_RECO, N, N), dtype=int)
    return MapResponse.from_arrays("syn", counts=counts, **kw)


def _true_background(response):
    """Background with the per-bin norms and the gradient, as the model writes it."""
    truth = FoVBackgroundModel("syn", norm=1.0, gradient_lon=0.6, gradient_lat=-0.4)
    spatial = truth.spatial_factor(response.lon, response.lat, GRADIENT, (0.0, 0.0))
    return BIN_NORMS[:, None] * response.background * spatial[None, :]


def test_gradient_graph_equals_numpy_and_verify_grad(helpers):
    response = _map_response(helpers)
    background = FoVBackgroundModel(
        "syn",
        norm=1.1,
        gradient_lon=Normal(0.0, 1.0, unit="deg-1"),
        gradient_lat=Normal(0.0, 1.0, unit="deg-1"),
    )
    flat = {"syn-bkg::norm": 1.1, "syn-bkg::tilt": 0.0, "syn-bkg::reference": 1.0}
    values = {**flat, "syn-bkg::gradient_lon": 0.6, "syn-bkg::gradient_lat": -0.4}
    expected = npred_map(response, [background], values)
    lon_c, lat_c = response.lon[(N // 2) * N + N // 2], response.lat[(N // 2) * N + N // 2]
    assert (lon_c, lat_c) == (0.0, 0.0)
    by_hand = (
        1.1
        * response.background
        * np.exp(0.6 * ((response.lon + 180) % 360 - 180) - 0.4 * response.lat)
    )
    np.testing.assert_allclose(expected, by_hand, rtol=1e-12)
    from gammaprob.forward import MapFold

    fold = MapFold.build(response, [background], {})
    assert fold.cutout.size == N * N  # no compression with a gradient
    g_lon, g_lat = pt.dscalar("g_lon"), pt.dscalar("g_lat")
    graph = fold.npred({**flat, "syn-bkg::gradient_lon": g_lon, "syn-bkg::gradient_lat": g_lat})
    got = graph.eval({g_lon: 0.6, g_lat: -0.4})
    np.testing.assert_allclose(got, expected.reshape(-1)[fold.inside], rtol=1e-12)

    def total(a, b):
        out = fold.npred({**flat, "syn-bkg::gradient_lon": a, "syn-bkg::gradient_lat": b})
        return pt.log(out).sum()

    pytensor.gradient.verify_grad(
        total, [np.float64(0.3), np.float64(-0.2)], rng=np.random.default_rng(1), eps=1e-7
    )


def test_gradient_yaml_round_trip():
    background = FoVBackgroundModel(
        "syn",
        gradient_lon=Normal(0.0, 0.05, unit="deg-1"),
        gradient_lat=0.01 * u.Unit("deg-1"),
        centre=(83.6, 22.0),
    )
    again = Models.from_yaml(Models([background]).to_yaml())[0]
    assert again.centre == (83.6, 22.0)
    assert again.gradient["gradient_lon"].prior == Normal(0.0, 0.05, unit="deg-1")
    assert again.gradient["gradient_lat"].value == pytest.approx(0.01)
    assert list(again.parameters) == ["norm", "tilt", "reference", "gradient_lon", "gradient_lat"]
    with pytest.raises(ValueError, match="give both gradient_lon and gradient_lat"):
        FoVBackgroundModel("syn", gradient_lon=0.1)


def test_background_norm_per_bin_and_gradient_recovered(helpers):
    """Counts drawn with per-bin norms (0.9, 1.1, 1.25) and a gradient: MAP recovers both."""
    template = _map_response(helpers)
    rng = np.random.default_rng(7)
    counts = rng.poisson(_true_background(template)).reshape(N_RECO, N, N)
    response = _map_response(helpers, counts=counts)
    dataset = SimpleNamespace(
        name="syn",
        background=response.background,
        energy_axis=SimpleNamespace(
            center=np.sqrt(response.energy_edges[:-1] * response.energy_edges[1:]) * u.TeV
        ),
    )
    group = Systematics("syn", background_norm=True, background_gradient=True)
    source = SkyModel(_power_law(), name="src", datasets_names=["none"])
    models = apply_systematics(Models([source]), [group], [dataset, SimpleNamespace(name="none")])
    background = models["syn-bkg"]
    assert [p.prior for p in background.spectral.parameters.values()] == [LogNormal(0.0, 0.1)] * 3
    with pm.Model() as model:
        params = build_params(models.select(name="syn-bkg"))
        add_likelihood([response], models.select(name="syn-bkg"), params)
    best = find_map(model, random_seed=0)
    norms = [float(best[f"syn-bkg::norm_{i}"]) for i in range(3)]
    np.testing.assert_allclose(norms, BIN_NORMS, rtol=0.03)
    assert float(best["syn-bkg::gradient_lon"]) == pytest.approx(0.6, abs=0.08)
    assert float(best["syn-bkg::gradient_lat"]) == pytest.approx(-0.4, abs=0.08)


@pytest.mark.requires_data
def test_joint_crab_energy_scale_equals_the_energy_scale_models():
    """Systematics(energy_scale=...) per instrument is the paper's EnergyScale model exactly."""
    from gammaprob.analysis.joint_crab import (
        ENERGY_SCALE_SIGMA,
        SOURCE,
        crab_spectrum,
        dataset_instrument,
        joint_crab_models,
        load_joint_crab_datasets,
    )

    datasets = load_joint_crab_datasets()
    reference = build_model(datasets, joint_crab_models(True, datasets=datasets))
    groups: dict[str, list[str]] = {}
    for ds in datasets:
        groups.setdefault(dataset_instrument(ds.name), []).append(ds.name)
    systematics = [
        Systematics(
            names, name=inst, energy_scale=spectral.energy_scale_prior(ENERGY_SCALE_SIGMA[inst])
        )
        for inst, names in groups.items()
    ]
    model = build_model(datasets, SkyModel(crab_spectrum(), name=SOURCE), systematics=systematics)
    rng = np.random.default_rng(4)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    renamed = {}
    for key, value in point.items():  # "<inst>::energy_scale_interval__" -> "crab-<inst>::z_..."
        inst = key.split("::")[0]
        renamed[key.replace(f"{inst}::energy_scale", f"crab-{inst}::z")] = value
    assert set(renamed) == set(reference.initial_point())
    got = model.compile_logp()(point)
    expected = reference.compile_logp()(renamed)
    assert np.isfinite(expected)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-9)


# -- PSF width scale (map datasets, point sources) -----------------------------------------


def _point(psf_scale, lon=0.0, lat=0.0):
    from gammaprob.modeling.spatial import Point

    pl = spectral.PowerLaw(index=2.2, amplitude=1e-9 * u.Unit("cm-2 s-1 TeV-1"))
    wrapped = DatasetSystematics(pl, psf_scale=psf_scale, group="syn", source="src")
    return SkyModel(
        wrapped, Point(lon_0=lon * u.deg, lat_0=lat * u.deg, frame="galactic"), name="src@syn"
    )


def _scaled(values, name, scale):
    """Parameter values with the source's PSF scale replaced (nested layout)."""
    out = {k: {kind: dict(v) for kind, v in entry.items()} for k, entry in values.items()}
    out[name]["spectral"]["psf_scale"] = scale
    return out


def test_psf_scale_graph_equals_numpy_and_keeps_normalisation(helpers):
    response = _map_response(helpers)
    model = _point(1.3)
    values = current_values([model])
    reference = npred_map(response, [model], values)
    fold = MapFold.build(response, [model], {"src@syn": (0.0, 0.0, 0.0)})
    s = pt.dscalar("s")
    graph = fold.npred(_scaled(values, "src@syn", s))
    for scale, expected in ((1.3, reference), (1.0, npred_map(response, [_point(1.0)], values))):
        got = graph.eval({s: scale})[: fold.inside.size]
        want = expected[:, fold.cutout].reshape(-1)[fold.inside]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3 * want.max())
    # a wider PSF keeps the flux: the same total signal, a lower peak (PSF(r/s)/s**2)
    signal = reference - response.background
    unscaled = npred_map(response, [_point(1.0)], values) - response.background
    assert signal.sum() == pytest.approx(unscaled.sum(), rel=3e-3)
    assert signal.max() == pytest.approx(unscaled.max() / 1.3**2, rel=0.05)

    def total(scale):
        return pt.log(fold.npred(_scaled(values, "src@syn", scale))).sum()

    pytensor.gradient.verify_grad(total, [np.float64(1.2)], rng=np.random.default_rng(5), eps=1e-7)


def test_psf_scale_bad_input(helpers):
    response = _map_response(helpers)
    from gammaprob.modeling.spatial import Gaussian

    extended = _point(1.2)
    extended.spatial = Gaussian(
        lon_0=0 * u.deg, lat_0=0 * u.deg, sigma=0.1 * u.deg, frame="galactic"
    )
    with pytest.raises(ValueError, match="for point sources with psf_mode='exact' only"):
        MapFold.build(response, [extended], {"src@syn": (0.0, 0.0)})
    source, a, b = _pair(_power_law, 0.0, 1.0)
    with pytest.raises(ValueError, match="psf_scale applies to map datasets"):
        build_model([a, b], source, systematics=Systematics("b", psf_scale=True))


def test_psf_scale_recovered_on_simulation(helpers):
    """Counts drawn with a PSF 25 % wider than nominal: MAP recovers the scale."""
    template = _map_response(helpers)
    truth = npred_map(template, [_point(1.25)], current_values([_point(1.25)]))
    counts = np.random.default_rng(11).poisson(truth).reshape(N_RECO, N, N)
    response = _map_response(helpers, counts=counts)
    model = _point(LogNormal(0.0, 0.3))
    with pm.Model() as pm_model:
        add_likelihood([response], [model], build_params([model]))
    best = find_map(pm_model, random_seed=0)
    assert float(best["syn::psf_scale"]) == pytest.approx(1.25, abs=0.05)


def test_energy_scale_and_effective_area_on_map_datasets(helpers):
    """On a map dataset the wrapper scales a power law by a (1+z)^(index-1), graph and numpy."""
    from gammaprob.modeling.spatial import Point

    response = _map_response(helpers)

    def source(spectrum):
        point = Point(lon_0=0.01 * u.deg, lat_0=-0.02 * u.deg, frame="galactic")
        return SkyModel(spectrum, point, name="src")

    pl = spectral.PowerLaw(index=2.2, amplitude=1e-9 * u.Unit("cm-2 s-1 TeV-1"))
    seen = source(DatasetSystematics(pl, 0.1, 1.2, group="syn", source="src"))
    factor = 1.2 * 1.1 ** (2.2 - 1)
    same = source(spectral.PowerLaw(index=2.2, amplitude=factor * 1e-9 * u.Unit("cm-2 s-1 TeV-1")))
    expected = npred_map(response, [same], current_values([same]))
    got = npred_map(response, [seen], current_values([seen]))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    fold = MapFold.build(response, [seen], {"src": (0.01, -0.02, 0.0)})
    graph = fold.npred(current_values([seen])).eval()
    np.testing.assert_allclose(
        graph[: fold.inside.size], expected[:, fold.cutout].reshape(-1)[fold.inside], rtol=1e-6
    )
