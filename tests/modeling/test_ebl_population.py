"""A shared EBL optical-depth scale across a blazar sample (ebl_population_models)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammaprob.inference import build_model, find_map
from gammaprob.modeling import EBLAbsorption, LogUniform, Normal, SkyModel, Uniform, spectral
from gammaprob.modeling.ebl import ebl_population_models
from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset

DNDE = u.Unit("cm-2 s-1 TeV-1")


def _intrinsic(_name):
    return spectral.PowerLaw(
        index=Normal(2.2, 0.5), amplitude=LogUniform(1e-13, 1e-9, unit=DNDE), reference=0.5 * u.TeV
    )


def _sample(n, alpha, seed):
    """Parametric-IRF datasets of ``n`` blazars (z in [0.03, 0.6]) at the true ``alpha``."""
    rng = np.random.default_rng(seed)
    redshifts = {f"b{i:02d}": float(z) for i, z in enumerate(rng.uniform(0.03, 0.6, n))}
    datasets = []
    for name, z in redshifts.items():
        truth = SkyModel(
            spectral.PowerLaw(
                index=float(rng.normal(2.2, 0.2)),
                amplitude=float(np.exp(rng.uniform(np.log(5e-12), np.log(5e-11)))) * DNDE,
                reference=0.5 * u.TeV,
            )
            * EBLAbsorption("dominguez", redshift=z, alpha_norm=alpha),
            name=name,
        )
        template = parametric_spectrum_dataset(
            name=name, n_bins=10, n_bins_true=24, livetime=2 * u.h,
            energy_bounds=[0.05, 20] * u.TeV, energy_threshold=0.05 * u.TeV,
        )  # fmt: skip
        datasets.append(simulate_spectrum_dataset(truth, template, rng=rng, name=name))
    return redshifts, datasets


def test_one_shared_scale_and_per_source_intrinsic_spectra():
    models, alpha = ebl_population_models(
        {"a": 0.1, "b": 0.3, "c": 0.5}, _intrinsic, alpha_norm=Uniform(0.0, 3.0)
    )
    assert [m.name for m in models] == ["a", "b", "c"]
    assert all(m.spectral.model2.alpha_norm is alpha for m in models)
    assert [m.spectral.model2.redshift.value for m in models] == [0.1, 0.3, 0.5]
    assert models[2].datasets_names == ["c"]
    _, datasets = _sample(3, 1.0, 0)
    for m, ds in zip(models, datasets, strict=True):  # dataset names follow the sources
        m.name, m.datasets_names = ds.name, [ds.name]
    model = build_model(datasets, models)
    names = sorted(v.name for v in model.free_RVs)
    assert sum("alpha_norm" in n for n in names) == 1
    assert sum(n.endswith("::index") for n in names) == 3


def test_redshift_beyond_the_table_is_a_clear_error():
    with pytest.raises(ValueError, match=r"source 'far': redshift 12.0 is outside the EBL table"):
        ebl_population_models({"near": 0.1, "far": 12.0}, _intrinsic, alpha_norm=1.0)
    with pytest.raises(ValueError, match="at least one source"):
        ebl_population_models({}, _intrinsic, alpha_norm=1.0)
    with pytest.raises(TypeError, match="must return a SpectralModel"):
        ebl_population_models({"a": 0.1}, lambda name: None, alpha_norm=1.0)


@pytest.mark.slow
@pytest.mark.parametrize("alpha_true", [0.7, 1.3])
def test_map_recovers_the_shared_scale_from_twenty_blazars(alpha_true):
    redshifts, datasets = _sample(20, alpha_true, seed=7)
    models, _ = ebl_population_models(redshifts, _intrinsic, alpha_norm=Uniform(0.0, 3.0))
    point = find_map(build_model(datasets, models))
    assert float(point["b00::alpha_norm"]) == pytest.approx(alpha_true, abs=0.1)


@pytest.mark.slow
@pytest.mark.sampling
def test_posterior_of_the_shared_scale_is_near_the_truth():
    from gammaprob.inference import sample

    redshifts, datasets = _sample(20, 1.0, seed=11)
    models, _ = ebl_population_models(redshifts, _intrinsic, alpha_norm=Uniform(0.0, 3.0))
    result = sample(build_model(datasets, models), draws=500, tune=700, random_seed=2)
    alpha = np.asarray(result["posterior"]["b00::alpha_norm"]).ravel()
    z = (np.median(alpha) - 1.0) / np.std(alpha)
    # within 3 posterior standard deviations (a calibrated posterior fails this 0.3 % of the
    # time; the 95 % coverage itself is measured over replications in validation/)
    assert abs(z) < 3, (np.median(alpha), np.std(alpha))
    assert np.std(alpha) < 0.15  # twenty blazars constrain the scale
