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
* ``fermi_3fhl_crab_3d``: the Fermi-LAT 3FHL Crab map dataset with its gammapy model file
  read with ``prior_policy="broad"`` (log-parabola Crab at a fixed position, background norm).
  No reference stored yet: the nutpie run failed the convergence gate (R-hat 2.4, ESS 10,
  10017 divergences of 48000 draws, 2026-12-07).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

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


def _fermi_3fhl_crab_3d():
    from gammaprob.datasets import read_map_dataset
    from gammaprob.inference import build_model
    from gammaprob.modeling import Models

    folder = _data() / "fermi-3fhl-crab"
    dataset = read_map_dataset(folder / "Fermi-LAT-3FHL_data_Fermi-LAT.fits", name="Fermi-LAT")
    models = Models.read(folder / "Fermi-LAT-3FHL_models.yaml", prior_policy="broad")
    model = build_model([dataset], models)
    return model, None


#: Case name -> builder returning ``(pymc.Model, physical parameter names or None: all free)``.
CASES = {
    "joint_crab_hess": lambda: _joint_crab(["hess"]),
    "joint_crab": _joint_crab,
    "hess_crab_1d": _hess_crab_1d,
    "pks2155_flare_bin": _pks2155_flare_bin,
    "fermi_3fhl_crab_3d": _fermi_3fhl_crab_3d,
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
