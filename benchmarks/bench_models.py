"""Spectral-model evaluation speed: gammaprob (numpy and compiled pytensor) vs gammapy.

Every registered spectral model of gammaprob with a gammapy counterpart is evaluated at
10^5 energies with the same parameter values; results are checked to agree (1e-9 relative;
EBL 1e-4 where the absorption exceeds 1e-6, because gammapy interpolates in float32) before
timing.

* ``<model>_numpy``: ``Model.evaluate_with`` on a float64 array vs gammapy's
  ``Model.evaluate`` on a Quantity array (both without the Quantity wrapping of ``__call__``
  on our side; gammapy's evaluate works on Quantities).
* ``<model>_pytensor``: a compiled pytensor function (numba backend, parameters as inputs,
  compile time excluded) vs the same gammapy evaluate.

Run: ``GAMMAPY_DATA=... python benchmarks/bench_models.py`` -> ``benchmarks/results/models.json``.
"""

from __future__ import annotations

import math
import warnings

import astropy.units as u
import numpy as np
from _common import best_time, write_results

N_ENERGY = 100_000


def _import_gammapy_models():
    import gammapy.modeling.models as gp

    return gp


def _cases():
    from gammaprob.modeling import EBLAbsorption
    from gammaprob.modeling import spectral as S

    e = np.geomspace(0.01, 300, 40)
    return {
        "PowerLaw": S.PowerLaw(index=2.3, amplitude=3e-12),
        "PowerLaw2": S.PowerLaw2(amplitude=2e-11, index=2.2),
        "BrokenPowerLaw": S.BrokenPowerLaw(index1=2.0, index2=3.0, amplitude=1e-12, ebreak=2.0),
        "SmoothBrokenPowerLaw": S.SmoothBrokenPowerLaw(
            index1=2.0, index2=3.0, amplitude=1e-12, ebreak=2.0
        ),
        "LogParabola": S.LogParabola(amplitude=3e-11, alpha=2.5, beta=0.1, reference=1.0),
        "ExpCutoffPowerLaw": S.ExpCutoffPowerLaw(index=2.0, amplitude=1e-12, lambda_=0.1),
        "ExpCutoffPowerLaw3FGL": S.ExpCutoffPowerLaw3FGL(index=2.0, amplitude=1e-12, ecut=10.0),
        "SuperExpCutoffPowerLaw4FGL": S.SuperExpCutoffPowerLaw4FGL(
            amplitude=1e-12, expfactor=1e-15, index_1=1.8, index_2=0.67
        ),
        "SuperExpCutoffPowerLaw4FGLDR3": S.SuperExpCutoffPowerLaw4FGLDR3(
            amplitude=1e-12, expfactor=0.5, index_1=1.8, index_2=0.67
        ),
        "Constant": S.Constant(const=1e-12),
        "GaussianLine": S.GaussianLine(amplitude=1e-12, mean=3.0, sigma=1.0),
        "PowerLawNorm": S.PowerLawNorm(norm=1.1, tilt=0.2),
        "Template": S.Template(e * u.TeV, 1e-12 * e**-2.4 * u.Unit("cm-2 s-1 TeV-1")),
        "PiecewiseNorm": S.PiecewiseNorm(
            np.geomspace(0.1, 30, 6) * u.TeV, norms=[1, 1.2, 0.9, 1.1, 1, 0.8]
        ),
        "EBLAbsorption": EBLAbsorption("dominguez", redshift=0.2, source="gammapy-data"),
    }


def _gammapy_twin(gp, model):
    from gammaprob.modeling import EBLAbsorption
    from gammaprob.modeling import spectral as S

    if isinstance(model, S.Template):
        return gp.TemplateSpectralModel(model.energy, model.table_values)
    if isinstance(model, S.PiecewiseNorm):
        return gp.PiecewiseNormSpectralModel(
            model.energy, norms=[p.value for p in model.parameters.values()]
        )
    if isinstance(model, EBLAbsorption):
        return gp.EBLAbsorptionNormSpectralModel.read_builtin("dominguez", redshift=0.2)
    name = next(a for a in model.aliases if a.endswith("SpectralModel"))
    cls = gp.SPECTRAL_MODEL_REGISTRY.get_cls(name)
    return cls(**{k: u.Quantity(p.value, p.unit) for k, p in model.parameters.items()})


def _compiled(model, energy):
    import pytensor
    import pytensor.tensor as pt

    e = pt.dvector("energy")
    symbols = {id(p): pt.dscalar(n) for n, p in model.parameters.items()}
    out = model.evaluate_with(e, params=model.values(symbols))
    with warnings.catch_warnings():  # numba cannot cache graphs with large constants
        warnings.simplefilter("ignore")
        f = pytensor.function([e, *symbols.values()], out, on_unused_input="ignore")
    values = [p.value for p in model.parameters.values()]
    return lambda: f(energy, *values)


def main() -> None:
    gp = _import_gammapy_models()
    rng = np.random.default_rng(0)
    energy = np.sort(np.exp(rng.uniform(math.log(0.05), math.log(50), N_ENERGY)))
    energy_q = energy * u.TeV
    metrics = {}
    for label, model in _cases().items():
        twin = _gammapy_twin(gp, model)
        ours_np = lambda m=model: m.evaluate_with(energy)  # noqa: E731
        ours_pt = _compiled(model, energy)
        if label == "PiecewiseNorm":  # gammapy's evaluate takes the norms positionally
            norms = [p.quantity for p in twin.parameters]
            theirs = lambda t=twin, n=norms: t.evaluate(energy_q, *n)  # noqa: E731
        else:
            kw = {p.name: p.quantity for p in twin.parameters}
            theirs = lambda t=twin, q=kw: t.evaluate(energy_q, **q)  # noqa: E731
        expected = u.Quantity(theirs()).to_value(model.output_unit)
        # EBL: gammapy works in float32 (and floors at float32 tiny): compare above 1e-6
        rtol, keep = (1e-4, expected > 1e-6) if label == "EBLAbsorption" else (1e-9, ...)
        np.testing.assert_allclose(ours_np()[keep], expected[keep], rtol=rtol)
        np.testing.assert_allclose(ours_pt()[keep], expected[keep], rtol=rtol)
        t_gp = best_time(theirs, repeat=5)
        for flavour, func in (("numpy", ours_np), ("pytensor", ours_pt)):
            t = best_time(func, repeat=5)
            metrics[f"{label}_{flavour}_1e5_energies"] = {
                "gammaprob": t,
                "gammapy": t_gp,
                "ratio": t_gp / t,
                "unit": "s",
            }
    write_results("models", metrics, packages=("gammapy", "astropy", "ebltable"))


if __name__ == "__main__":
    main()
