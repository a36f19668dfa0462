"""Which background prior keeps the on/off posterior calibrated on sparse spectra?

Simulation study with known truth on spectra that look like the joint-Crab MAGIC and VERITAS
datasets: their real responses (exposure x dispersion kernels, ON/OFF ratios, fit ranges),
a true log-parabola (gammapy's maximum-likelihood fit of that instrument) and a true
background per bin (the observed OFF counts smoothed along energy, floored at 0.02 counts).
Each replica draws ``n_on ~ Poisson(mu_sig + alpha b)`` and ``n_off ~ Poisson(b)`` for both
runs of the instrument and fits the log-parabola (log10 form, E0 = 1 TeV, the analysis priors
of :func:`gammaprob.analysis.joint_crab.crab_spectrum`) with

* ``known``: the oracle, Poisson ON counts with the true background (no OFF measurement);
* ``flat``: latent OFF rates with a flat prior (``pm.HalfFlat``, the former default);
* ``jeffreys``: latent OFF rates with Jeffreys' prior made proper, Gamma(1/2, rate 1e-4);
* ``gamma_0.25``: latent OFF rates with Gamma(1/4, rate 1e-4), the new default of
  :func:`gammaprob.likelihood.onoff_term` (and of the analytic marginal
  :func:`gammaprob.likelihood.onoff.onoff_marginal_term`);
* ``wstat``: the profiled WStat as the likelihood.

Exact and cheap: with a Gamma(a, r) prior on each OFF rate ``b`` the rates integrate out in
closed form (``a = 1, r = 0`` is the flat prior), up to the prior's normalisation

    P(n_on, n_off | s) = e^-s / (n_on! n_off!) sum_k C(n_on, k) s^(n_on-k) alpha^k
                         Gamma(k + n_off + a) / (1 + alpha + r)^(k + n_off + a),

so the posterior of (amplitude, alpha, beta) of every latent variant is a 3-D density that
is evaluated exactly. Each posterior is computed by importance sampling (a Student-t proposal
from the mode and Hessian, 2000 draws; the effective sample size is recorded). A few replicas
are also sampled with NUTS (nutpie) on the PyMC models that ``add_likelihood`` builds with the
latent rates (flat, Jeffreys, default), to show they give the same posteriors.

Measured per method and parameter: the bias of the posterior median in units of the posterior
width ``sigma = (q84 - q16) / 2``, its offset from the WStat maximum-likelihood estimate
(as compared on the real data), and the 68 % / 95 % central-interval coverage with its
binomial error. The real MAGIC and VERITAS spectra are fitted the same way.

Run: ``python validation/onoff_prior/run.py [--n 400] [--nuts 0]`` (``GAMMAPY_DATA`` set),
then ``python validation/onoff_prior/run.py --nuts-only --nuts 1`` to add the NUTS check.
Writes ``results.yaml`` and ``results.json`` next to this file.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml
from scipy import optimize, stats
from scipy.special import gammaln, logsumexp

HERE = Path(__file__).resolve().parent
INSTRUMENTS = ("magic", "veritas")
PARAMS = ("amplitude", "alpha", "beta")
#: method: (Gamma shape, Gamma rate) of the prior on each OFF rate, or None for WStat
METHODS = {
    "known": "known",
    "flat": (1.0, 0.0),
    "jeffreys": (0.5, 1e-4),
    "gamma_0.25": (0.25, 1e-4),
    "wstat": None,
}
LEVELS = (0.68, 0.95)
N_DRAWS = 2000
LOG10_AMP_RANGE = (-13.0, -9.0)  # LogUniform(1e-13, 1e-9)
ALPHA_PRIOR = (2.5, 1.0)
BETA_PRIOR = (0.0, 1.0)


# ---- forward model (vectorised over parameter draws) -------------------------------------
class Forward:
    """Predicted signal counts of an instrument's runs for many parameter vectors at once."""

    def __init__(self, responses):
        from gammaprob.forward.integration import DEFAULT_NODES, quadrature_nodes

        edges = responses[0].energy_true_edges
        for r in responses:
            if not np.array_equal(r.energy_true_edges, edges):
                raise ValueError("the runs of one instrument must share the true-energy axis")
        nodes, weights = quadrature_nodes(edges[:-1], edges[1:], DEFAULT_NODES)
        self.x = np.log(nodes)  # ln(E / 1 TeV)
        self.w = weights
        self.kernel = np.concatenate([r.kernel for r in responses], axis=1)
        self.alpha = np.concatenate([r.alpha for r in responses])

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        """``theta[..., 3]`` = (log10 amplitude, alpha, beta) -> counts ``[..., n_bins]``."""
        theta = np.atleast_2d(theta)
        la, a, b = (theta[:, i, None, None] for i in range(3))
        x = self.x[None]
        dnde = np.exp(la * np.log(10.0) - (a + b * x / np.log(10.0)) * x)
        flux = np.sum(dnde * self.w[None], axis=2)
        return flux @ self.kernel


def check_forward(responses, forward: Forward, truth: dict) -> float:
    """Max relative difference of our vectorised fold vs gammaprob's ``fold_spectra``."""
    from gammaprob.analysis.joint_crab import joint_crab_models
    from gammaprob.forward import fold_spectra

    models = joint_crab_models()
    worst = 0.0
    for shift in (0.0, 0.3, -0.2):
        values = {
            "crab::amplitude": truth["amplitude"] * (1 + shift),
            "crab::alpha": truth["alpha"] + shift,
            "crab::beta": truth["beta"] - shift / 2,
            "crab::reference": 1.0,
        }
        ref = fold_spectra(responses, models, values)
        ref = np.concatenate([ref[r.name] for r in responses])
        theta = [np.log10(values["crab::amplitude"]), values["crab::alpha"], values["crab::beta"]]
        ours = forward(np.array(theta))[0]
        worst = max(worst, float(np.max(np.abs(ours / ref - 1))))
    return worst


# ---- likelihoods -------------------------------------------------------------------------
class Marginal:
    """Exact log-likelihood of the signal counts with the OFF rates integrated out."""

    def __init__(self, n_on, n_off, alpha, shape: float, rate: float):
        n_on = np.asarray(n_on, dtype=np.int64)
        n_off = np.asarray(n_off, dtype=np.float64)
        k = np.arange(n_on.max() + 1)[None, :]
        valid = k <= n_on[:, None]
        kk = np.where(valid, k, 0)
        n = n_on[:, None]
        c = (
            gammaln(n + 1.0)
            - gammaln(kk + 1.0)
            - gammaln(n - kk + 1.0)
            + kk * np.log(alpha[:, None])
            + gammaln(kk + n_off[:, None] + shape)
            - (kk + n_off[:, None] + shape) * np.log1p(alpha[:, None] + rate)
            - gammaln(n + 1.0)
            - gammaln(n_off[:, None] + 1.0)
        )
        self.c = np.where(valid, c, -np.inf)
        self.power = np.where(valid, n - kk, 0).astype(np.float64)

    def __call__(self, mu: np.ndarray) -> np.ndarray:
        """Total log-likelihood for signal counts ``mu[..., n_bins]``."""
        mu = np.atleast_2d(mu)
        terms = self.c[None] + self.power[None] * np.log(mu)[:, :, None]
        return np.sum(logsumexp(terms, axis=2) - mu, axis=1)


class Known:
    """Oracle: Poisson ON counts with the true background known (no OFF measurement needed)."""

    def __init__(self, n_on, background):
        self.n_on, self.background = n_on, background

    def __call__(self, mu: np.ndarray) -> np.ndarray:
        mu = np.atleast_2d(mu) + self.background
        return np.sum(self.n_on * np.log(mu) - mu, axis=1)


class WStat:
    """``-WStat / 2`` (gammapy's convention) for signal counts ``mu[..., n_bins]``."""

    def __init__(self, n_on, n_off, alpha):
        self.n_on, self.n_off, self.alpha = n_on, n_off, alpha

    def __call__(self, mu: np.ndarray) -> np.ndarray:
        from gammaprob.stats import wstat

        mu = np.atleast_2d(mu)
        return -0.5 * wstat(n_on=self.n_on, n_off=self.n_off, alpha=self.alpha, mu_sig=mu).sum(1)


def log_prior(theta: np.ndarray) -> np.ndarray:
    theta = np.atleast_2d(theta)
    inside = (theta[:, 0] > LOG10_AMP_RANGE[0]) & (theta[:, 0] < LOG10_AMP_RANGE[1])
    lp = stats.norm.logpdf(theta[:, 1], *ALPHA_PRIOR) + stats.norm.logpdf(theta[:, 2], *BETA_PRIOR)
    return np.where(inside, lp, -np.inf)


def _hessian(f, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = x.size
    out = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h[i], np.eye(n)[j] * h[j]
            out[i, j] = out[j, i] = (
                f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
            ) / (4 * h[i] * h[j])
    return out


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs) -> np.ndarray:
    order = np.argsort(values)
    cdf = np.cumsum(weights[order])
    cdf = (cdf - 0.5 * weights[order]) / cdf[-1]
    return np.interp(qs, cdf, values[order])


QS = (0.025, 0.16, 0.5, 0.84, 0.975)


def posterior(loglike, forward: Forward, start: np.ndarray, rng) -> dict:
    """Quantiles of the three parameters by importance sampling around the mode."""

    def neg(theta):
        value = -(loglike(forward(theta)) + log_prior(theta))[0]
        return value if np.isfinite(value) else 1e30

    opt = optimize.minimize(neg, start, method="BFGS")
    mode = opt.x
    hess = _hessian(neg, mode, np.array([1e-3, 1e-3, 1e-3]))
    cov = np.linalg.inv(hess)
    cov = 0.5 * (cov + cov.T)
    df = 6
    proposal = stats.multivariate_t(loc=mode, shape=1.3**2 * cov, df=df)
    draws = proposal.rvs(size=N_DRAWS, random_state=rng)
    logw = loglike(forward(draws)) + log_prior(draws) - proposal.logpdf(draws)
    w = np.exp(logw - logw.max())
    ess = float(w.sum() ** 2 / np.sum(w**2))
    values = {"amplitude": 10 ** draws[:, 0], "alpha": draws[:, 1], "beta": draws[:, 2]}
    out = {"ess": ess, "mode": mode.tolist()}
    for name, v in values.items():
        out[name] = _weighted_quantiles(v, w, QS).tolist()
    return out


# ---- simulation ---------------------------------------------------------------------------
def true_background(counts_off: np.ndarray) -> np.ndarray:
    """Observed OFF counts smoothed along energy (Gaussian, sigma 1.5 bins), floor 0.02."""
    idx = np.arange(counts_off.size)
    kern = np.exp(-0.5 * ((idx[:, None] - idx[None, :]) / 1.5) ** 2)
    smooth = kern @ counts_off / kern.sum(axis=1)
    return np.maximum(smooth, 0.02)


def setup(instrument: str):
    from gammaprob.analysis.joint_crab import load_joint_crab_datasets
    from gammaprob.forward.response import SpectrumResponse

    responses = [SpectrumResponse.from_dataset(ds) for ds in load_joint_crab_datasets([instrument])]
    reference = yaml.safe_load(
        (HERE.parent / "joint_crab" / "gammapy_reference.yaml").read_text(encoding="utf-8")
    )["fits"][instrument]
    truth = {p: float(reference[p]) for p in PARAMS}
    forward = Forward(responses)
    bkg = np.concatenate([true_background(r.counts_off.astype(float)) for r in responses])
    return responses, forward, truth, bkg, reference


def theta_of(truth: dict) -> np.ndarray:
    return np.array([np.log10(truth["amplitude"]), truth["alpha"], truth["beta"]])


def fit_all(n_on, n_off, alpha, forward, start, rng, background=None) -> dict:
    # the WStat maximum-likelihood estimate (no priors), as gammapy's fit
    like = WStat(n_on, n_off, alpha)
    ml = optimize.minimize(lambda t: -like(forward(t))[0], start, method="BFGS").x
    out = {"ml": {"amplitude": float(10 ** ml[0]), "alpha": float(ml[1]), "beta": float(ml[2])}}
    for method, prior in METHODS.items():
        if prior == "known":
            if background is None:
                continue
            like = Known(n_on, alpha * background)
        elif prior is None:
            like = WStat(n_on, n_off, alpha)
        else:
            like = Marginal(n_on, n_off, alpha, *prior)
        out[method] = posterior(like, forward, ml, rng)
    return out


def summarise(records: list, truth: dict) -> dict:
    summary = {}
    n = len(records)
    for method in METHODS:
        rows = {}
        for name in PARAMS:
            q = np.array([r[method][name] for r in records])  # (n, 5)
            sigma = 0.5 * (q[:, 3] - q[:, 1])
            z = (q[:, 2] - truth[name]) / sigma
            ml = np.array([r["ml"][name] for r in records])
            z_ml = (q[:, 2] - ml) / sigma
            row = {
                "bias_sigma": float(z.mean()),
                "bias_sigma_err": float(z.std(ddof=1) / np.sqrt(n)),
                "offset_from_ml_sigma": float(z_ml.mean()),
                "offset_from_ml_sigma_err": float(z_ml.std(ddof=1) / np.sqrt(n)),
            }
            for level, (lo, hi) in zip(LEVELS, ((1, 3), (0, 4)), strict=True):
                inside = (q[:, lo] <= truth[name]) & (truth[name] <= q[:, hi])
                row[f"coverage_{int(level * 100)}"] = float(inside.mean())
                row[f"coverage_{int(level * 100)}_err"] = float(np.sqrt(level * (1 - level) / n))
            rows[name] = row
        rows["min_importance_ess"] = float(min(r[method]["ess"] for r in records))
        summary[method] = rows
    return summary


def nuts_check(responses, sims, forward, records, seed: int) -> list:
    """Sample the PyMC latent models (flat, Jeffreys) with nutpie; compare with the exact values."""
    import warnings

    import pymc as pm

    from gammaprob.analysis.joint_crab import joint_crab_models
    from gammaprob.forward import build_params
    from gammaprob.inference import sample
    from gammaprob.likelihood import add_likelihood
    from gammaprob.likelihood.onoff import flat_background, gamma_background

    jeffreys = functools.partial(gamma_background, shape=0.5)
    priors = {"flat": flat_background, "jeffreys": jeffreys, "gamma_0.25": None}  # None: default
    out = []
    for (n_on, n_off), record in zip(sims, records, strict=False):
        sizes = np.cumsum([r.counts.size for r in responses])[:-1]
        on_parts, off_parts = np.split(n_on, sizes), np.split(n_off, sizes)
        sim_responses = [
            replace(r, counts=a, counts_off=b)
            for r, a, b in zip(responses, on_parts, off_parts, strict=True)
        ]
        row = {}
        for method, prior in priors.items():
            models = joint_crab_models()
            with pm.Model() as model:
                add_likelihood(
                    sim_responses,
                    models,
                    build_params(models),
                    onoff="latent",
                    background_prior=prior,
                )
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = sample(
                    model,
                    sampler="nutpie",
                    draws=1000,
                    tune=1000,
                    chains=2,
                    random_seed=seed,
                    progressbar=False,
                    check=False,
                    log_likelihood=False,
                )
            wall = time.perf_counter() - start
            post = result.posterior
            stats_ = result.sample_stats
            row[method] = {
                "wall_s": round(wall, 1),
                "divergences": int(np.asarray(stats_["diverging"]).sum()),
                "mean_leapfrog_steps": float(np.asarray(stats_["n_steps"]).mean()),
            }
            for name in PARAMS:
                draws = np.asarray(post[f"crab::{name}"]).ravel()
                q16, q50, q84 = np.quantile(draws, (0.16, 0.5, 0.84))
                exact = record[method][name]
                sigma = 0.5 * (exact[3] - exact[1])
                row[method][name] = {
                    "nuts_median": float(q50),
                    "exact_median": float(exact[2]),
                    "diff_sigma": float((q50 - exact[2]) / sigma),
                    "nuts_sigma_ratio": float(0.5 * (q84 - q16) / sigma),
                }
        out.append(row)
    return out


def add_nuts_check(n: int, seed: int) -> None:
    """Run :func:`nuts_check` on ``n`` fresh replicas per instrument; update the result files."""
    results = yaml.safe_load((HERE / "results.yaml").read_text(encoding="utf-8"))
    for i, instrument in enumerate(INSTRUMENTS):
        responses, forward, truth, bkg, _ = setup(instrument)
        rng = np.random.default_rng(seed + 1000 * i + 7)
        mu_true = forward(theta_of(truth))[0]
        sims, records = [], []
        for _ in range(n):
            n_off = rng.poisson(bkg)
            n_on = rng.poisson(mu_true + forward.alpha * bkg)
            sims.append((n_on, n_off))
            records.append(fit_all(n_on, n_off, forward.alpha, forward, theta_of(truth), rng, bkg))
        results[instrument]["nuts_check"] = nuts_check(responses, sims, forward, records, seed)
        print(yaml.safe_dump(results[instrument]["nuts_check"], sort_keys=False), flush=True)
    text = yaml.safe_dump(results, sort_keys=False)
    (HERE / "results.yaml").write_text(text, encoding="utf-8")
    (HERE / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="replicas per instrument")
    parser.add_argument("--nuts", type=int, default=0, help="replicas also sampled with NUTS")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--nuts-only",
        action="store_true",
        help="only run the NUTS check on --nuts fresh replicas and add it to results.yaml",
    )
    args = parser.parse_args()
    if args.nuts_only:
        add_nuts_check(args.nuts, args.seed)
        return

    import gammaprob

    t0 = time.perf_counter()
    results: dict = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "gammaprob": gammaprob.__version__,
            "replicas_per_instrument": args.n,
            "seed": args.seed,
            "methods": {
                k: (
                    "profiled WStat"
                    if v is None
                    else "Cash with the true background (oracle)"
                    if v == "known"
                    else f"latent b with a Gamma(shape={v[0]}, rate={v[1]}) prior (exact marginal)"
                )
                for k, v in METHODS.items()
            },
            "importance_draws": N_DRAWS,
            "bias": "mean over replicas of (posterior median - truth) / ((q84 - q16) / 2)",
            "offset_from_ml": "mean of (posterior median - WStat ML estimate) / same sigma",
        }
    }
    for i, instrument in enumerate(INSTRUMENTS):
        responses, forward, truth, bkg, _ = setup(instrument)
        rng = np.random.default_rng(args.seed + 1000 * i)
        alpha = forward.alpha
        n_on_obs = np.concatenate([r.counts for r in responses])
        n_off_obs = np.concatenate([r.counts_off for r in responses])
        start = theta_of(truth)
        real = fit_all(n_on_obs, n_off_obs, alpha, forward, start, rng)
        ref = yaml.safe_load(
            (HERE.parent / "joint_crab" / "gammapy_reference.yaml").read_text(encoding="utf-8")
        )["fits"][instrument]
        real_rows = {}
        for method in real:
            if method == "ml":
                continue
            real_rows[method] = {}
            for name in PARAMS:
                q = real[method][name]
                real_rows[method][name] = {
                    "median": q[2],
                    "q16": q[1],
                    "q84": q[3],
                    "offset_from_gammapy_ml_in_gammapy_err": (q[2] - ref[name])
                    / ref[name + "_err"],
                }
        mu_true = forward(start)[0]
        sims, records = [], []
        for _ in range(args.n):
            n_off = rng.poisson(bkg)
            n_on = rng.poisson(mu_true + alpha * bkg)
            sims.append((n_on, n_off))
            records.append(fit_all(n_on, n_off, alpha, forward, start, rng, bkg))
        results[instrument] = {
            "truth": truth,
            "forward_max_rel_diff_vs_fold_spectra": check_forward(responses, forward, truth),
            "bins": int(alpha.size),
            "bins_true_background_below_1": int(np.sum(bkg < 1)),
            "mean_true_signal_counts": float(mu_true.sum()),
            "mean_true_off_counts": float(bkg.sum()),
            "real_data": real_rows,
            "simulation": summarise(records, truth),
        }
        if args.nuts:
            results[instrument]["nuts_check"] = nuts_check(
                responses, sims[: args.nuts], forward, records, args.seed
            )
        print(f"{instrument}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
    results["meta"]["cpu_wall_s"] = round(time.perf_counter() - t0, 1)
    text = yaml.safe_dump(results, sort_keys=False)
    (HERE / "results.yaml").write_text(text, encoding="utf-8")
    (HERE / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
