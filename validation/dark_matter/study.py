"""Stacked dark-matter annihilation limits over simulated dwarf galaxies (machinery).

Each dwarf is a point source observed by CTA South (prod5 IRFs, ``LIVETIME`` each) in a
0.1 deg ON region with the IRF background known (a Poisson likelihood per bin). Its flux is
:class:`gammaprob.modeling.DarkMatterAnnihilation` with a log-normal J-factor prior
(:func:`gammaprob.modeling.jfactor_prior`); one ``sigma_v`` with a uniform prior is shared
by all dwarfs. The 95 % upper limit is the 0.95 quantile of the marginal posterior of
``sigma_v`` (the J-factors integrated out).

Coverage: for a fixed true ``sigma_v`` each replication draws the true J-factors from their
priors (the J-factor uncertainty is part of the experiment) and Poisson counts; the limit
covers when it is >= the truth. The model is built and NUTS compiled once; the counts are
shared variables swapped per replication (as ``validation/coverage/run.py``).

Used by ``run.py`` (many replications) and ``tests/modeling/test_dark_matter.py`` (a few).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import astropy.units as u
import numpy as np

PROD5 = "$GAMMAPY_DATA/cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
LIVETIME = 20 * u.h
MASS = 1 * u.TeV
CHANNEL = "b"
SIGMA_V_MAX = 1e-22  # cm3 s-1, upper end of the uniform prior
LEVEL = 0.95

#: name -> (RA, Dec deg, median J in GeV2 cm-5, sigma of log10 J in dex): made-up dwarfs
#: with J-factors and uncertainties typical of classical and ultra-faint dwarfs.
DWARFS = {
    "dwarf_a": (10.0, -30.0, 3e18, 0.2),
    "dwarf_b": (40.0, -50.0, 1e19, 0.3),
    "dwarf_c": (150.0, -20.0, 5e18, 0.5),
    "dwarf_d": (260.0, -40.0, 2e18, 0.25),
}


@dataclass
class Study:
    """Built model, compiled step and what is needed to simulate new replications."""

    model: object
    step: object
    templates: dict
    counts: dict
    spectra: dict
    sigma_v_name: str
    priors: dict


def templates(dwarfs: dict = DWARFS) -> dict:
    """Reduced (no counts) 1D datasets of each dwarf from the prod5 IRFs."""
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammaprob.makers import SpectrumDatasetMaker, SpectrumTemplate
    from gammaprob.maps import MapAxis
    from gammaprob.simulate import make_observation, read_irfs

    irfs = read_irfs(PROD5)
    energy = MapAxis.from_energy_bounds(0.05 * u.TeV, 2 * u.TeV, 10, name="energy")
    energy_true = MapAxis.from_energy_bounds(0.03 * u.TeV, 3 * u.TeV, 24, name="energy_true")
    out = {}
    for i, (name, (ra, dec, _, _)) in enumerate(dwarfs.items()):
        position = SkyCoord(ra, dec, unit="deg")
        pointing = SkyCoord(ra, dec + 0.5, unit="deg")
        obs = make_observation(irfs, pointing, LIVETIME, obs_id=i + 1, target=name)
        template = SpectrumTemplate(
            CircleSkyRegion(position, 0.1 * u.deg), energy, energy_true, name=name
        )
        dataset = SpectrumDatasetMaker(selection=["exposure", "edisp", "background"]).run(
            template, obs
        )
        out[name] = dataset
    return out


def build(dwarfs: dict = DWARFS, seed: int = 1, target_accept: float = 0.9) -> Study:
    """Build the stacked model once and compile its NUTS step."""
    import pymc as pm
    import pytensor

    from gammaprob.inference import build_model
    from gammaprob.modeling import Uniform, jfactor_prior
    from gammaprob.modeling.dark_matter import stacked_annihilation_models
    from gammaprob.simulate import simulate_spectrum_dataset

    temps = templates(dwarfs)
    priors = {name: jfactor_prior(j, s) for name, (_, _, j, s) in dwarfs.items()}
    models, _ = stacked_annihilation_models(
        priors, mass=MASS, channel=CHANNEL, sigma_v=Uniform(0.0, SIGMA_V_MAX, unit="cm3 s-1")
    )
    rng = np.random.default_rng(seed)
    datasets = [simulate_spectrum_dataset(m, temps[m.name], rng=rng, name=m.name) for m in models]
    model = build_model(datasets, models)
    counts = {}
    for ds in datasets:
        shared = pytensor.shared(np.asarray(ds.counts, dtype="int64"), name=f"{ds.name}::data")
        model.rvs_to_values[model[f"{ds.name}::counts"]] = shared
        counts[ds.name] = shared
    step = pm.NUTS(model=model, target_accept=target_accept)
    return Study(
        model=model,
        step=step,
        templates=temps,
        counts=counts,
        spectra={m.name: m for m in models},
        sigma_v_name=f"{models[0].name}::sigma_v",
        priors=priors,
    )


def replicate(study: Study, sigma_v_true: float, rng, draws: int = 500, tune: int = 500):
    """Simulate one replication (J-factors from their priors) and return its posterior."""
    import pymc as pm

    truth = simulate_counts(study, sigma_v_true, rng)
    result = pm.sample(
        model=study.model,
        step=study.step,
        draws=draws,
        tune=tune,
        chains=2,
        cores=1,
        random_seed=int(rng.integers(2**31)),
        progressbar=False,
        compute_convergence_checks=False,
    )
    return result, truth


def upper_limit(result, name: str, level: float = LEVEL) -> float:
    """The ``level`` quantile of the marginal posterior of ``sigma_v`` (cm3 s-1)."""
    samples = np.asarray(result["posterior"][name].values).ravel()
    return float(np.quantile(samples, level))


def coverage(study: Study, sigma_v_true: float, n: int, seed: int, **kwargs) -> dict:
    """Coverage of the upper limit over ``n`` replications at a fixed true ``sigma_v``."""
    rng = np.random.default_rng(seed)
    limits, t0 = [], time.perf_counter()
    for _ in range(n):
        result, _ = replicate(study, sigma_v_true, rng, **kwargs)
        limits.append(upper_limit(result, study.sigma_v_name))
    limits = np.asarray(limits)
    covered = int(np.sum(limits >= sigma_v_true))
    return {
        "sigma_v_true": sigma_v_true,
        "n": n,
        "covered": covered,
        "coverage": covered / n,
        "binomial_sigma": float(np.sqrt(LEVEL * (1 - LEVEL) / n)),
        "median_limit": float(np.median(limits)),
        "seconds": round(time.perf_counter() - t0, 1),
        "limits": [float(x) for x in limits],
    }


# -- the same posterior by quadrature (an independent check of the sampler, and fast) -------
def unit_counts(study: Study) -> dict:
    """Expected source counts per fitted bin for ``sigma_v = J = 1``, and the background."""
    from gammaprob.modeling import DarkMatterAnnihilation, SkyModel
    from gammaprob.simulate import predicted_counts

    out = {}
    for name, sky in study.spectra.items():
        unit = DarkMatterAnnihilation(
            mass=sky.spectral.mass, channel=sky.spectral.channel, sigma_v=1.0, jfactor=1.0
        )
        dataset = study.templates[name]
        mask = np.asarray(dataset.mask, dtype=bool)
        source = predicted_counts(SkyModel(unit, name=name), dataset, name=name)[mask]
        out[name] = (source, np.asarray(dataset.background, dtype=float)[mask], mask)
    return out


def quadrature_posterior(
    study: Study, units: dict, n_grid: int = 1500, n_hermite: int = 48
) -> tuple[np.ndarray, np.ndarray]:
    """Marginal posterior density of ``sigma_v`` on a grid, J-factors integrated out.

    ``p(s | data) ∝ prior(s) prod_i ∫ L_i(s J_i) LogNormal(J_i) dJ_i``, each integral by
    Gauss-Hermite quadrature in ``ln J_i``; the uniform prior is flat on ``[0, SIGMA_V_MAX]``.
    """
    from scipy.special import gammaln, logsumexp

    nodes, weights = np.polynomial.hermite_e.hermegauss(n_hermite)  # weight exp(-z^2/2)
    log_w = np.log(weights / np.sqrt(2 * np.pi))
    grid = np.concatenate([[0.0], np.geomspace(SIGMA_V_MAX * 1e-8, SIGMA_V_MAX, n_grid)])
    log_post = np.zeros_like(grid)
    for name, (source, background, mask) in units.items():
        counts = np.asarray(study.counts[name].get_value(), dtype=float)[mask]
        prior = study.priors[name]
        jf = np.exp(prior.mu + prior.sigma * nodes)  # (n_hermite,)
        mu = grid[:, None, None] * jf[None, :, None] * source + background  # (grid, node, bin)
        loglike = np.sum(counts * np.log(mu) - mu - gammaln(counts + 1), axis=-1)
        log_post += logsumexp(loglike + log_w, axis=1)
    density = np.exp(log_post - log_post.max())
    return grid, density


def quadrature_upper_limit(grid: np.ndarray, density: np.ndarray, level: float = LEVEL) -> float:
    """The ``level`` quantile of a density tabulated on ``grid`` (trapezoidal CDF)."""
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    return float(np.interp(level, cdf, grid))


def simulate_counts(study: Study, sigma_v_true: float, rng) -> dict:
    """Draw one replication's counts into the study's shared variables; return the true J."""
    from gammaprob.modeling import DarkMatterAnnihilation, SkyModel
    from gammaprob.simulate import simulate_spectrum_dataset

    truth = {}
    for name, sky in study.spectra.items():
        truth[name] = float(study.priors[name].sample(rng, 1)[0])
        spectral = DarkMatterAnnihilation(
            mass=sky.spectral.mass, channel=sky.spectral.channel, sigma_v=sigma_v_true,
            jfactor=truth[name],
        )  # fmt: skip
        ds = simulate_spectrum_dataset(
            SkyModel(spectral, name=name), study.templates[name], rng=rng, name=name
        )
        study.counts[name].set_value(np.asarray(ds.counts, dtype="int64"))
    return truth


def quadrature_coverage(study: Study, sigma_v_true: float, n: int, seed: int) -> dict:
    """Coverage of the (quadrature) upper limit over ``n`` replications."""
    rng = np.random.default_rng(seed)
    units = unit_counts(study)
    limits = []
    for _ in range(n):
        simulate_counts(study, sigma_v_true, rng)
        limits.append(quadrature_upper_limit(*quadrature_posterior(study, units)))
    limits = np.asarray(limits)
    covered = int(np.sum(limits >= sigma_v_true))
    return {
        "sigma_v_true": sigma_v_true,
        "n": n,
        "covered": covered,
        "coverage": covered / n,
        "binomial_sigma": float(np.sqrt(LEVEL * (1 - LEVEL) / n)),
        "median_limit": float(np.median(limits)),
    }
