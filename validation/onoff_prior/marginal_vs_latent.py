"""Joint Crab, ten on/off spectra: latent OFF rates (default prior) vs the analytic marginal.

Both use the default Gamma(1/4, 1e-4) prior on each OFF rate, so the posteriors must agree;
the marginal (:func:`gammaprob.likelihood.onoff.onoff_marginal_term`) has no latent variable
per bin. Prints wall time (including compilation), leapfrog steps per draw, the bulk ESS of
alpha and the 16/50/84 % quantiles of alpha and beta for nutpie, 4 x (1000 + 1000).

Run: ``GAMMAPY_DATA=... python validation/onoff_prior/marginal_vs_latent.py``
"""

from __future__ import annotations

import time
import warnings

import numpy as np


def build(kind: str, datasets, responses):
    """The PyMC model of all spectra: ``"latent"`` (build_model) or ``"marginal"``."""
    import pymc as pm

    from gammaprob.analysis.joint_crab import joint_crab_models
    from gammaprob.forward import build_params, fold_spectra
    from gammaprob.inference import build_model
    from gammaprob.likelihood import poisson_term
    from gammaprob.likelihood.onoff_marginal import onoff_marginal_term

    models = joint_crab_models()
    if kind == "latent":
        return build_model(datasets, models)
    with pm.Model() as model:
        npred = fold_spectra(responses, models, build_params(models))
        for r in responses:
            if r.counts_off is None:
                poisson_term(r.name, npred[r.name], r.counts)
            else:
                onoff_marginal_term(r.name, npred[r.name], r.counts, r.counts_off, r.alpha)
    return model


def main() -> None:
    import arviz as az

    from gammaprob.analysis.joint_crab import load_joint_crab_datasets
    from gammaprob.forward.response import SpectrumResponse
    from gammaprob.inference import sample

    datasets = load_joint_crab_datasets()
    responses = [SpectrumResponse.from_dataset(d) for d in datasets]
    n_bins = sum(r.counts.size for r in responses)
    print(
        f"{len(responses)} spectra, {n_bins} bins, largest ON count {max(r.counts.max() for r in responses)}"
    )
    for kind in ("latent", "marginal"):
        model = build(kind, datasets, responses)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sample(
                model,
                sampler="nutpie",
                draws=1000,
                tune=1000,
                chains=4,
                random_seed=0,
                progressbar=False,
                check=False,
                log_likelihood=False,
            )
        wall = time.perf_counter() - start
        ess = az.ess(result, var_names=["crab::alpha"], method="bulk")
        ess = float(np.asarray(getattr(ess, "posterior", ess)["crab::alpha"]))
        steps = float(np.asarray(result.sample_stats["n_steps"]).mean())
        quantiles = {
            p: np.quantile(np.asarray(result.posterior[f"crab::{p}"]).ravel(), [0.16, 0.5, 0.84])
            .round(4)
            .tolist()
            for p in ("alpha", "beta")
        }
        print(f"{kind}: {wall:.1f} s, {steps:.1f} steps/draw, alpha ESS {ess:.0f}, {quantiles}")


if __name__ == "__main__":
    main()
