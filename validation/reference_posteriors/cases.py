"""Reference posteriors of real analyses: the cases, their summaries, and the agreement check.

Shared by ``run.py`` (long nutpie runs that write ``<case>.json``) and
``tests/inference/test_reference_posteriors.py`` (every sampler of
:func:`gammaprob.inference.sample` against the stored summaries).

Cases (all on ``$GAMMAPY_DATA``, gammaprob's defaults):

* ``joint_crab_hess``: the two H.E.S.S. spectra of the joint-Crab set (Nigro et al. 2019),
  log-parabola (log10 form) at 1 TeV, on/off marginal; the cheap case the CI test samples.
* ``joint_crab``: all ten joint-Crab spectra (five instruments), same model.
* ``hess_crab_1d``: H.E.S.S. DR1 Crab, the four runs of ``validation/hess_crab_1d`` reduced
  by gammaprob's makers (reflected regions, exclusion mask, ``aeff-max`` 10 %), stacked,
  power law with index Normal(2.5, 1) and amplitude LogUniform(1e-13, 1e-9) cm-2 s-1 TeV-1.
* ``pks2155_flare_bin``: one 10-minute bin of the PKS 2155-304 flare night (run 33787,
  20:30-20:40 UTC, settings of ``validation/pks2155_flare``), power law with index
  Normal(3.4, 1) and amplitude LogUniform(1e-12, 1e-8) cm-2 s-1 TeV-1.
* ``fermi_3fhl_crab_3d``: the Fermi-LAT 3FHL Crab map dataset (10 GeV to 2 TeV) with its
  gammapy model file (log-parabola, natural log, Crab at a fixed position, FoV background norm)
  read with ``prior_policy="broad"``, but with the log-parabola re-written at 20 GeV
  (:data:`FERMI_REFERENCE_TEV`, near the dataset's decorrelation energy 17.6 GeV) before the
  policy is applied. As written, the file's reference energy is 50.5 MeV, three decades below
  the data: the amplitude there is an extrapolation (gammapy: correlations 0.99 between
  amplitude, alpha and beta, Minuit stops at its call limit; re-pivoted it converges, and at
  50.5 MeV the amplitude's error is a factor e^1.05), the short nutpie chains press against the
  ``LogUniform`` upper bound (100 x the file value) of the amplitude, and the policy's
  ``beta ~ Normal(0.04, 1)`` puts much of the prior where ``beta L^2``, with
  ``L = ln(E / 50.5 MeV)`` up to 10.6, changes the predicted counts by factors beyond e^50:
  chains whose start jitter lands there begin at ln p -1e15 to -1e46 and never move (step
  size 1e-61). That is the 2026-12-07 failure (R-hat 2.4, ESS 10, 10017 divergences of 48000
  draws: two of eight chains stuck, 5000 divergent draws each). Safe starts alone do not fix
  it: with the start jitter shrunk to 5 %, 8 x (1000 + 2000) draws at the file's reference
  energy still give 123 divergences, R-hat 1.04 and tail ESS 74 (amplitude 1 to 99 %:
  0.03 to 1.3 cm-2 s-1 TeV-1, a factor 40; about 18 leapfrog steps per draw); the starts and
  this run are reproduced by ``diagnose_fermi_3fhl.py`` (``diagnosis.yaml``).
  Re-pivoted (same spectra, priors broad around the file's values at 20 GeV), the posterior
  is near Gaussian, nutpie takes about 5 leapfrog steps per draw and no chain diverges.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gammaprob.modeling.spectral import repivot_log_parabola

HERE = Path(__file__).resolve().parent
#: Quantile levels stored per parameter.
QUANTILES = (0.01, 0.025, 0.05, 0.1, 0.16, 0.25, 0.5, 0.75, 0.84, 0.9, 0.95, 0.975, 0.99)
#: A sampler's mean agrees when ``|mean - mean_ref| <= MEAN_Z * sqrt(mcse^2 + mcse_ref^2)``.
MEAN_Z = 4.0
#: A sampler's sd agrees when ``|sd / sd_ref - 1| <= SD_Z * se`` with
#: ``se = sqrt(1 / (2 ESS) + 1 / (2 ESS_ref))`` (normal-theory error of an sd estimate).
SD_Z = 4.0


def _data() -> Path:
    root = os.environ.get("GAMMAPY_DATA")
    if not root:
        raise RuntimeError("set GAMMAPY_DATA to the gammapy-data folder")
    return Path(root).expanduser()


def _joint_crab(instruments=None):
    from gammaprob.analysis import joint_crab as jc
    from gammaprob.inference import build_model

    datasets = jc.load_joint_crab_datasets(instruments)
    model = build_model(datasets, jc.joint_crab_models(energy_scale=False))
    return model, ["crab::amplitude", "crab::alpha", "crab::beta"]


def _onoff_reduction(obs_ids, target_deg, on_radius_deg, e_reco, e_true, aeff, exclusion=None):
    """Reflected-region on/off spectra of ``obs_ids`` (gammaprob's makers)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammaprob.data import DataStore
    from gammaprob.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
        SpectrumTemplate,
    )
    from gammaprob.maps import MapAxis

    store = DataStore.from_dir(_data() / "hess-dl3-dr1")
    observations = store.get_observations(list(obs_ids))
    target = SkyCoord(*target_deg, unit="deg", frame="icrs")
    template = SpectrumTemplate(
        CircleSkyRegion(target, on_radius_deg * u.deg),
        MapAxis.from_energy_bounds(*e_reco[:2], e_reco[2], unit="TeV", per_decade=True),
        MapAxis.from_energy_bounds(
            *e_true[:2], e_true[2], unit="TeV", name="energy_true", per_decade=True
        ),
        name="src",
    )
    makers = [
        SpectrumDatasetMaker(
            containment_correction=True, selection=["counts", "exposure", "edisp"]
        ),
        ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion),
        SafeMaskMaker(["aeff-max"], aeff_percent=aeff),
    ]
    return observations, template, makers


def _hess_crab_1d():
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammaprob.datasets import stack_spectra
    from gammaprob.inference import build_model
    from gammaprob.makers import make_exclusion_mask, reduce
    from gammaprob.maps import WcsGeom
    from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral

    target = SkyCoord(83.63, 22.01, unit="deg", frame="icrs")
    excluded = CircleSkyRegion(SkyCoord(183.604, -8.708, unit="deg", frame="galactic"), 0.5 * u.deg)
    geom = WcsGeom.create(
        skydir=target.galactic, npix=(150, 150), binsz=0.05, proj="TAN", frame="icrs"
    )
    observations, template, makers = _onoff_reduction(
        (23523, 23526, 23559, 23592),
        (83.63, 22.01),
        0.11,
        (0.1, 40.0, 10),
        (0.05, 100.0, 20),
        10,
        make_exclusion_mask(geom, [excluded]),
    )
    reduction = reduce(template, observations, makers, progress=False)
    stacked = stack_spectra(list(reduction.datasets), name="crab-stacked")
    source = SkyModel(
        spectral.PowerLaw(
            index=Normal(2.5, 1.0),
            amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1"),
            reference=1 * u.TeV,
        ),
        name="crab",
    )
    return build_model([stacked], source), ["crab::amplitude", "crab::index"]


def _pks2155_flare_bin():
    import astropy.units as u
    from astropy.time import Time

    from gammaprob.inference import build_model
    from gammaprob.makers import reduce
    from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral

    observations, template, makers = _onoff_reduction(
        (33787,), (329.71693826, -30.2255890), 0.11, (0.4, 20.0, 10), (0.4, 20.0, 20), 10.0
    )
    start = Time("2006-07-29T20:30:00", scale="utc")
    observations = [obs.select_time((start, start + 10 * u.min)) for obs in observations]
    reduction = reduce(template, observations, makers, progress=False)
    source = SkyModel(
        spectral.PowerLaw(
            index=Normal(3.4, 1.0),
            amplitude=LogUniform(1e-12, 1e-8, unit="cm-2 s-1 TeV-1"),
            reference=1 * u.TeV,
        ),
        name="pks",
    )
    return build_model(list(reduction.datasets), source), ["pks::amplitude", "pks::index"]


#: Reference energy (TeV) of the 3FHL Crab log-parabola sampled by ``fermi_3fhl_crab_3d``:
#: 20 GeV, near the dataset's decorrelation energy (17.6 GeV, ``gammapy_reference.yaml``),
#: instead of the model file's 50.5 MeV, three decades below the data (10 GeV to 2 TeV).
FERMI_REFERENCE_TEV = 0.02


def fermi_3fhl_folder() -> Path:
    """``$GAMMAPY_DATA/fermi-3fhl-crab``."""
    return _data() / "fermi-3fhl-crab"


def fermi_3fhl_models_dict() -> dict:
    """The gammapy model file of the 3FHL Crab dataset, parsed."""
    import yaml

    return yaml.safe_load((fermi_3fhl_folder() / "Fermi-LAT-3FHL_models.yaml").read_text())


#: The log-parabola re-pivot (also used by ``gammapy_reference.py``).
repivot = repivot_log_parabola


def repivot_models_dict(data: dict, new_reference_tev: float = FERMI_REFERENCE_TEV) -> dict:
    """A copy of the 3FHL model file's dict with the Crab log-parabola at ``new_reference_tev``.

    The file's values are moved to the new reference energy (:func:`gammaprob.modeling.spectral.repivot_log_parabola`, the same
    spectrum); their errors are left out (the ``"broad"`` policy does not use them).
    """
    import copy

    out = copy.deepcopy(data)
    (crab,) = [c for c in out["components"] if c.get("name") == "Crab Nebula"]
    spectral = crab["spectral"]
    if spectral["type"] != "LogParabolaSpectralModel":
        raise ValueError(f"expected the Crab's LogParabolaSpectralModel, got {spectral['type']!r}")
    params = {p["name"]: p for p in spectral["parameters"]}
    if params["reference"]["unit"] != "TeV":
        raise ValueError(
            f"expected the reference energy in TeV, got {params['reference']['unit']!r}"
        )
    new = repivot(
        params["amplitude"]["value"],
        params["alpha"]["value"],
        params["beta"]["value"],
        params["reference"]["value"],
        new_reference_tev,
    )
    for name, value in zip(("amplitude", "alpha", "beta"), new, strict=True):
        params[name]["value"] = float(value)
        params[name].pop("error", None)
    params["reference"]["value"] = new_reference_tev
    return out


def galactic_point_source(data: dict, name: str = "Crab Nebula") -> dict:
    """A copy of a gammapy models dict with source ``name``'s point position in Galactic
    coordinates (the frame of the 3FHL dataset, which ``psf_mode="kernel"`` needs)."""
    import copy

    from astropy.coordinates import SkyCoord

    out = copy.deepcopy(data)
    (source,) = [c for c in out["components"] if c.get("name") == name]
    spatial = source["spatial"]
    params = {p["name"]: p for p in spatial["parameters"]}
    sky = SkyCoord(
        params["lon_0"]["value"], params["lat_0"]["value"], unit="deg", frame=spatial["frame"]
    ).galactic
    spatial["frame"] = "galactic"
    params["lon_0"]["value"] = float(sky.l.deg)
    params["lat_0"]["value"] = float(sky.b.deg)
    return out


def fermi_3fhl_crab_3d(psf_mode: str = "exact"):
    """The ``fermi_3fhl_crab_3d`` case's model; ``psf_mode="kernel"``: gammapy's PSF kernel.

    Parameters
    ----------
    psf_mode : {"exact", "kernel"}
        Passed to :func:`gammaprob.inference.build_model` (the case uses gammaprob's default,
        ``"exact"``; ``"kernel"``, with the Crab position in Galactic coordinates, reproduces
        gammapy's npred for the likelihood check against ``gammapy_reference.yaml``).

    Returns
    -------
    tuple
        ``(pymc.Model, None)`` (all free parameters are compared).
    """
    from gammaprob.datasets import read_map_dataset
    from gammaprob.inference import build_model
    from gammaprob.modeling import Models

    dataset = read_map_dataset(
        fermi_3fhl_folder() / "Fermi-LAT-3FHL_data_Fermi-LAT.fits", name="Fermi-LAT"
    )
    data = repivot_models_dict(fermi_3fhl_models_dict())
    if psf_mode == "kernel":
        data = galactic_point_source(data)
    models = Models.from_dict(data, prior_policy="broad")
    return build_model([dataset], models, psf_mode=psf_mode), None


#: Case name -> builder returning ``(pymc.Model, physical parameter names or None: all free)``.
CASES = {
    "joint_crab_hess": lambda: _joint_crab(["hess"]),
    "joint_crab": _joint_crab,
    "hess_crab_1d": _hess_crab_1d,
    "pks2155_flare_bin": _pks2155_flare_bin,
    "fermi_3fhl_crab_3d": fermi_3fhl_crab_3d,
}


def build_case(name: str):
    """Return ``(pymc.Model, parameter names)`` of case ``name``."""
    if name not in CASES:
        raise ValueError(f"unknown case {name!r}; choose one of {', '.join(CASES)}")
    model, names = CASES[name]()
    if names is None:
        from gammaprob.calibrate.sbc import _default_var_names

        names = _default_var_names(model)
    return model, list(names)


def summarize(result, names) -> dict:
    """Per-parameter mean, sd, MCSE, ESS and quantiles, and the covariance, of a posterior.

    Parameters
    ----------
    result : xarray.DataTree
        Output of :func:`gammaprob.inference.sample`.
    names : list of str
        Physical parameter names (scalars) in ``result.posterior``.

    Returns
    -------
    dict
        JSON-ready summary (floats; the units are those of the model's parameters).
    """
    import arviz as az

    post = result.posterior
    params = {}
    for name in names:
        da = post[name]
        values = np.asarray(da).ravel()
        params[name] = {
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)),
            "mcse_mean": float(az.mcse(da, method="mean")),
            "mcse_sd": float(az.mcse(da, method="sd")),
            "ess_bulk": float(az.ess(da, method="bulk")),
            "ess_tail": float(az.ess(da, method="tail")),
            "rhat": float(az.rhat(da)),
            "quantiles": {f"{q:g}": float(np.quantile(values, q)) for q in QUANTILES},
        }
    stack = np.stack([np.asarray(post[n]).ravel() for n in names])
    return {"parameters": params, "covariance": np.cov(stack).tolist(), "names": list(names)}


def compare(summary: dict, reference: dict) -> dict:
    """Agreement of a sampler's summary with a reference, per parameter.

    Returns
    -------
    dict
        ``{name: {"mean_z": ..., "sd_z": ..., "ok": bool}}``: the mean difference in units
        of the combined MCSE and the relative sd difference in units of its standard error;
        ``ok`` when ``|mean_z| <= MEAN_Z`` and ``|sd_z| <= SD_Z``.
    """
    out = {}
    for name, ref in reference["parameters"].items():
        got = summary["parameters"][name]
        mean_z = (got["mean"] - ref["mean"]) / np.hypot(got["mcse_mean"], ref["mcse_mean"])
        se = np.sqrt(0.5 / got["ess_bulk"] + 0.5 / ref["ess_bulk"])
        sd_z = (got["sd"] / ref["sd"] - 1.0) / se
        out[name] = {
            "mean_z": float(mean_z),
            "sd_z": float(sd_z),
            "ok": bool(abs(mean_z) <= MEAN_Z and abs(sd_z) <= SD_Z),
        }
    return out
