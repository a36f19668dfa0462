"""The EBL scale from the public H.E.S.S. DR1 spectrum of PKS 2155-304 (z = 0.116).

``$GAMMAPY_DATA/PKS2155-steady/pks2155-304_steady.fits.gz`` (OGIP, on/off; produced by a
gammapy analysis of the H.E.S.S. first public test data release) fitted with an intrinsic
power law times ``EBLAbsorption("dominguez", z=0.116, alpha_norm ~ Uniform(0, 3))``. With a
single source the intrinsic curvature and the EBL are degenerate, so the intrinsic spectrum
is a power law (the assumption the result depends on); the population fit of ``study.py``
is what constrains ``alpha_norm`` without that assumption dominating.

Run: ``python validation/ebl_population/pks2155.py`` (prints the summary).
"""

from __future__ import annotations

import numpy as np

FILE = "$GAMMAPY_DATA/PKS2155-steady/pks2155-304_steady.fits.gz"
REDSHIFT = 0.116


def fit(random_seed: int = 1) -> dict:
    """Sample the posterior; return alpha_norm's median and 68/95 % intervals."""
    import astropy.units as u

    from gammaprob.datasets import read_ogip
    from gammaprob.inference import build_model, check_convergence, sample
    from gammaprob.modeling import EBLAbsorption, LogUniform, Normal, SkyModel, Uniform, spectral

    dataset = read_ogip(FILE)
    intrinsic = spectral.PowerLaw(
        index=Normal(2.5, 1.0),
        amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1"),
        reference=1 * u.TeV,
    )
    absorption = EBLAbsorption("dominguez", redshift=REDSHIFT, alpha_norm=Uniform(0.0, 3.0))
    source = SkyModel(intrinsic * absorption, name="pks2155")
    model = build_model([dataset], [source])
    result = sample(model, random_seed=random_seed, target_accept=0.97)
    alpha = np.asarray(result["posterior"]["pks2155::alpha_norm"].values).ravel()
    index = np.asarray(result["posterior"]["pks2155::index"].values).ravel()
    q = np.quantile(alpha, [0.025, 0.16, 0.5, 0.84, 0.975])
    conv = check_convergence(result, warn=False)
    return {
        "file": FILE,
        "redshift": REDSHIFT,
        "ebl_model": "dominguez",
        "intrinsic": "PowerLaw(index ~ Normal(2.5, 1), amplitude ~ LogUniform(1e-13, 1e-9))",
        "alpha_norm_median": float(q[2]),
        "alpha_norm_68": [float(q[1]), float(q[3])],
        "alpha_norm_95": [float(q[0]), float(q[4])],
        "intrinsic_index_median": float(np.median(index)),
        "converged": bool(conv.ok),
    }


if __name__ == "__main__":
    print(fit())
