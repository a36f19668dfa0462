"""Registry-driven checks of every registered spectral component.

For each class: numpy and compiled pytensor (numba backend) agree to 1e-12 relative,
``verify_grad`` passes in every non-reference parameter (and in energy), and values equal
gammapy's same-named model at random parameter values to 1e-9 relative.
"""

from __future__ import annotations

import math
import operator

import astropy.units as u
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from gammaprob.modeling import EBLAbsorption, registered
from gammaprob.modeling import spectral as S
from gammaprob.modeling.prior import LogUniform, TruncatedNormal, Uniform
from gammaprob.modeling.systematics import DatasetSystematics

# numba cannot cache graphs holding large constant tables (EBL); harmless here
pytestmark = pytest.mark.filterwarnings(
    "ignore:Cannot cache compiled function:numba.core.errors.NumbaWarning"
)

DNDE = u.Unit("cm-2 s-1 TeV-1")
ENERGY = np.geomspace(0.05, 50.0, 23)  # TeV; avoids node/break coincidences
# parameters that stay fixed in these tests (reference energies, integration range, and the
# PSF width scale of DatasetSystematics, which does not change the spectrum)
FIXED = {"reference", "emin", "emax", "psf_scale"}


def _template() -> S.Template:
    e = np.geomspace(0.01, 300.0, 40)
    return S.Template(e * u.TeV, 1e-12 * e**-2.4 * np.exp(-e / 30.0) * DNDE)


EXAMPLES = {
    "EnergyScale": lambda: S.EnergyScale(S.PowerLaw()),
    "DatasetSystematics": lambda: DatasetSystematics(
        S.PowerLaw(), energy_scale=0.05, effective_area=1.1, group="g", source="s"
    ),
    "Template": _template,
    "PiecewiseNorm": lambda: S.PiecewiseNorm(np.geomspace(0.1, 30.0, 5) * u.TeV),
    "EBLAbsorption": lambda: EBLAbsorption(
        "dominguez", redshift=Uniform(0.02, 1.0), alpha_norm=TruncatedNormal(1.0, 0.2, 0.0, 3.0)
    ),
    "Compound": lambda: S.PowerLaw() * S.LogParabola(),
    # a cut-off inside the test range, not far below it (no underflow to 0 at 50 TeV)
    "SuperExpCutoffPowerLaw3FGL": lambda: S.SuperExpCutoffPowerLaw3FGL(
        ecut=LogUniform(5.0, 50.0, unit="TeV")
    ),
    # a line broad enough to be non-zero over the whole test energy range
    "GaussianLine": lambda: S.GaussianLine(
        mean=LogUniform(1.0, 10.0, unit="TeV"), sigma=LogUniform(3.0, 30.0, unit="TeV")
    ),
    "Scaled": lambda: S.ScaledSpectral(S.ExpCutoffPowerLaw()),
}


def make(cls) -> S.SpectralModel:
    return EXAMPLES.get(cls.tag, cls)()


SPECTRAL = sorted(registered("spectral"))
# components whose construction reads $GAMMAPY_DATA (skipped locally without it, as usual)
_NEEDS_DATA = {"DarkMatterAnnihilation"}
SPECTRAL_PARAMS = [
    pytest.param(t, marks=pytest.mark.requires_data) if t in _NEEDS_DATA else t for t in SPECTRAL
]


def test_registry_lists_all_spectral_models():
    expected = {
        "PowerLaw", "PowerLaw2", "PowerLawNorm", "BrokenPowerLaw", "SmoothBrokenPowerLaw",
        "LogParabola", "LogParabola10", "ExpCutoffPowerLaw", "ExpCutoffPowerLaw3FGL",
        "SuperExpCutoffPowerLaw4FGL", "SuperExpCutoffPowerLaw4FGLDR3", "Constant",
        "GaussianLine", "PiecewiseNorm", "Template", "Compound", "Scaled", "EBLAbsorption",
        "SuperExpCutoffPowerLaw3FGL", "ExpCutoffPowerLawNorm", "LogParabolaNorm",
    }  # fmt: skip
    assert expected <= set(SPECTRAL)


def _variables(model):
    """Distinct Parameter objects to vary (all but reference energies)."""
    out = {}
    for name, p in model.parameters.items():
        if name.split(".")[-1] not in FIXED and id(p) not in out:
            out[id(p)] = (name, p)
    return list(out.values())


def _random_values(model, rng):
    """Random values: inner quantiles of the prior, else +-20% around the default."""
    values = {}
    for _, p in _variables(model):
        if p.is_free:
            draws = np.sort(p.prior.sample(np.random.default_rng(1), 4001))
            values[id(p)] = float(draws[int(rng.uniform(0.25, 0.75) * 4000)])
        else:
            base = p.value if p.value != 0 else 0.1
            values[id(p)] = float(base * rng.uniform(0.8, 1.2))
    return values


@pytest.mark.parametrize("tag", SPECTRAL_PARAMS)
def test_numpy_pytensor_parity(tag, rng):
    model = make(registered("spectral")[tag])
    values = _random_values(model, rng)
    expected = np.asarray(model.evaluate_with(ENERGY, params=model.values(values)), dtype=float)
    assert np.all(np.isfinite(expected)) and np.any(expected != 0)

    energy = pt.dvector("energy")
    symbols = {key: pt.dscalar(f"p{i}") for i, key in enumerate(values)}
    out = model.evaluate_with(energy, params=model.values(symbols))
    f = pytensor.function([energy, *symbols.values()], out)
    got = f(ENERGY, *values.values())
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)

    # integrals over bins: numpy vs pytensor
    lo, hi = ENERGY[:-1], ENERGY[1:]
    expected_int = np.asarray(model.integrate_with(lo, hi, model.values(values)))
    out_int = model.integrate_with(pt.as_tensor(lo), pt.as_tensor(hi), model.values(symbols))
    g = pytensor.function(list(symbols.values()), out_int, on_unused_input="ignore")
    np.testing.assert_allclose(g(*values.values()), expected_int, rtol=1e-12, atol=0)


@pytest.mark.parametrize("tag", SPECTRAL_PARAMS)
def test_verify_grad(tag, rng):
    model = make(registered("spectral")[tag])
    values = _random_values(model, rng)
    keys = list(values)
    scales = np.array([abs(values[k]) or 1.0 for k in keys])
    ref = np.asarray(model.evaluate_with(ENERGY, params=model.values(values)), dtype=float)
    ref = np.where(np.abs(ref) > 1e-300, ref, 1.0)  # fully absorbed points stay zero

    def fun(*latent):  # O(1) inputs and outputs, as the sampler sees them
        params = model.values({k: x * s for k, x, s in zip(keys, latent, scales, strict=True)})
        return model.evaluate_with(ENERGY, params=params) / ref

    point = [np.asarray(1.0) for _ in keys]
    if point:
        pytensor.gradient.verify_grad(
            fun, point, rng=np.random.default_rng(3), eps=1e-7, mode="FAST_COMPILE"
        )

    def fun_energy(log_e):  # gradient in energy (for energy-dispersion/quadrature nodes)
        return model.evaluate_with(pt.exp(log_e), params=model.values(values)) / ref

    pytensor.gradient.verify_grad(
        fun_energy, [np.log(ENERGY)], rng=np.random.default_rng(4), eps=1e-7, mode="FAST_COMPILE"
    )


# -- gammapy comparison ---------------------------------------------------------------------


def _gammapy_model(model, gp):
    """The gammapy model with the same parameter values (``gp``: gammapy.modeling.models)."""

    def q(p):
        return u.Quantity(p.value, p.unit)

    if isinstance(model, S.CompoundSpectral):
        ops = {"mul": operator.mul, "add": operator.add}
        return gp.CompoundSpectralModel(
            _gammapy_model(model.model1, gp), _gammapy_model(model.model2, gp), ops[model.operator]
        )
    if isinstance(model, S.EnergyScale):
        # phi(E / (1 + z)) / (1 + z) of a power law is a power law with amplitude A (1+z)^(G-1).
        inner = model.model
        factor = (1 + model.z.value) ** (inner.index.value - 1)
        return gp.PowerLawSpectralModel(
            index=inner.index.value,
            amplitude=q(inner.amplitude) * factor,
            reference=q(inner.reference),
        )
    if isinstance(model, DatasetSystematics):
        # a phi(E / (1 + z)) / (1 + z) of a power law: a power law with amplitude
        # a A (1+z)^(G-1)
        inner = model.model
        factor = (1 + model.energy_scale.value) ** (inner.index.value - 1)
        return gp.PowerLawSpectralModel(
            index=inner.index.value,
            amplitude=q(inner.amplitude) * factor * model.effective_area.value,
            reference=q(inner.reference),
        )
    if isinstance(model, S.ScaledSpectral):
        return gp.ScaleSpectralModel(_gammapy_model(model.model, gp), norm=model.norm.value)
    if isinstance(model, S.Template):
        return gp.TemplateSpectralModel(model.energy, model.table_values)
    if isinstance(model, S.PiecewiseNorm):
        norms = [p.value for p in model.parameters.values()]
        return gp.PiecewiseNormSpectralModel(model.energy, norms=norms)
    if isinstance(model, S.LogParabola10):  # same curve, natural-log curvature
        v = model.values()
        return gp.LogParabolaSpectralModel(
            amplitude=q(model.amplitude), reference=q(model.reference), alpha=v["alpha"],
            beta=v["beta"] / math.log(10.0),
        )  # fmt: skip
    gp_name = next(a for a in model.aliases if a.endswith("SpectralModel"))
    cls = gp.SPECTRAL_MODEL_REGISTRY.get_cls(gp_name)
    return cls(**{name: q(p) for name, p in model.parameters.items()})


def _with_values(model, values):
    """Set the reference values of the varied parameters (numpy only)."""
    for _, p in _variables(model):
        p.value = values[id(p)]
    return model


@pytest.mark.requires_gammapy
@pytest.mark.parametrize(
    "tag", [t for t in SPECTRAL if t not in ("EBLAbsorption", "DarkMatterAnnihilation")]
)
def test_equals_gammapy(tag, rng, gammapy_models):
    """EBL absorption is compared in test_ebl.py (gammapy keeps its tables in float32), dark
    matter in test_dark_matter.py (gammapy's parameter is a scale of 3e-26 cm3 s-1)."""
    for _ in range(3):
        model = make(registered("spectral")[tag])
        _with_values(model, _random_values(model, rng))
        ours = model(ENERGY * u.TeV)
        theirs = _gammapy_model(model, gammapy_models)(ENERGY * u.TeV).to(ours.unit)
        np.testing.assert_allclose(ours.value, theirs.value, rtol=1e-9, atol=0)
