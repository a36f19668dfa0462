"""PKS 2155-304 light curve (H.E.S.S. DL3 DR1 flare night, 15 runs): gammaprob vs gammapy.

The per-run on/off spectra (reflected regions around PKS 2155-304, r = 0.11 deg, reco energy
0.4-20 TeV in 12 bins, safe mask ``aeff-default``) are made once with gammapy's makers and
written as OGIP files that gammaprob reads, so both estimators see identical data; the
spectral shape is fixed (power law, index 3.4, as in gammapy's light-curve tutorial). One
light-curve point per run in 0.7-20 TeV. gammapy: ``LightCurveEstimator`` (likelihood maximum,
profile errors, 2-sigma profile upper limits); gammaprob: ``LightCurveEstimator`` (posterior
median, 68 % credible interval, 95 % upper limit, default Jeffreys OFF prior), plus the
variability test.

The main comparison uses gammapy-made datasets so that only the estimators differ. A second,
end-to-end light curve reduces the same runs with ``gammaprob.makers`` (same region, axes and
safe mask) and is compared with gammapy's full chain (columns ``e2e_*``).

Writes ``results.ecsv``, ``summary.json`` and ``light_curve.png``. Run:
``python validation/light_curve/run.py`` (needs gammapy and ``$GAMMAPY_DATA``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table

HERE = Path(__file__).resolve().parent
OBS_IDS = list(range(33787, 33802))
ENERGY_EDGES = [0.7, 20] * u.TeV
INDEX = 3.4
AMPLITUDE = 2e-11  # cm-2 s-1 TeV-1 at 1 TeV


def gammapy_datasets():
    from astropy.coordinates import Angle, SkyCoord
    from gammapy.data import DataStore
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
    )
    from gammapy.maps import MapAxis, RegionGeom
    from regions import CircleSkyRegion

    store = DataStore.from_dir(os.path.expandvars("$GAMMAPY_DATA/hess-dl3-dr1"))
    observations = store.get_observations(OBS_IDS)
    target = SkyCoord(329.71693826, -30.2255890, unit="deg", frame="icrs")
    region = CircleSkyRegion(target, Angle("0.11 deg"))
    e_reco = MapAxis.from_energy_bounds(0.4, 20, 12, unit="TeV")
    e_true = MapAxis.from_energy_bounds(0.1, 40, 40, unit="TeV", name="energy_true")
    empty = SpectrumDataset.create(
        geom=RegionGeom.create(region, axes=[e_reco]), energy_axis_true=e_true
    )
    maker = SpectrumDatasetMaker(
        containment_correction=True, selection=["counts", "exposure", "edisp"]
    )
    bkg = ReflectedRegionsBackgroundMaker()
    safe = SafeMaskMaker(methods=["aeff-default"])
    out = Datasets()
    for obs in observations:
        ds = maker.run(empty.copy(name=str(obs.obs_id)), obs)
        ds = bkg.run(ds, obs)
        out.append(safe.run(ds, obs))
    return out


def gammaprob_datasets():
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammaprob.data import DataStore
    from gammaprob.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
        SpectrumTemplate,
        reduce,
    )
    from gammaprob.maps import MapAxis

    store = DataStore.from_dir("$GAMMAPY_DATA/hess-dl3-dr1")
    observations = store.get_observations(OBS_IDS)
    target = SkyCoord(329.71693826, -30.2255890, unit="deg", frame="icrs")
    template = SpectrumTemplate(
        CircleSkyRegion(target, 0.11 * u.deg),
        MapAxis.from_energy_bounds(0.4, 20, 12, unit="TeV"),
        MapAxis.from_energy_bounds(0.1, 40, 40, unit="TeV", name="energy_true"),
    )
    makers = [
        SpectrumDatasetMaker(containment_correction=True),
        ReflectedRegionsBackgroundMaker(),
        SafeMaskMaker(["aeff-default"]),
    ]
    return reduce(template, observations, makers, progress=False).datasets


def main() -> None:
    import gammapy
    from gammapy.estimators import LightCurveEstimator as GPEstimator
    from gammapy.modeling.models import PowerLawSpectralModel
    from gammapy.modeling.models import SkyModel as GPSkyModel

    import gammaprob
    from gammaprob.datasets import SpectrumDatasetOnOff
    from gammaprob.estimators import LightCurveEstimator
    from gammaprob.modeling import SkyModel
    from gammaprob.modeling.spectral import PowerLaw

    gp = gammapy_datasets()
    gp.models = [
        GPSkyModel(
            PowerLawSpectralModel(index=INDEX, amplitude=f"{AMPLITUDE} cm-2 s-1 TeV-1"),
            name="pks2155",
        )
    ]
    start = time.perf_counter()
    gp_lc = GPEstimator(
        energy_edges=ENERGY_EDGES, source="pks2155", selection_optional=["errn-errp", "ul"]
    ).run(gp)
    t_gp = time.perf_counter() - start
    ref = gp_lc.to_table(sed_type="likelihood", format="lightcurve")

    with tempfile.TemporaryDirectory() as tmp:
        ours = []
        for ds in gp:
            path = Path(tmp) / f"pha_obs{ds.name}.fits"
            ds.write(path, format="ogip")
            ours.append(SpectrumDatasetOnOff.read(path, name=ds.name))
            if ours[-1].gti is None:  # keep the run times
                ours[-1] = ours[-1].replace(
                    meta={
                        **ours[-1].meta,
                        "time_start_mjd": ds.gti.time_start.tt.mjd[0],
                        "time_stop_mjd": ds.gti.time_stop.tt.mjd[-1],
                    }
                )
    source = SkyModel(
        PowerLaw(index=INDEX, amplitude=AMPLITUDE * u.Unit("cm-2 s-1 TeV-1")), name="pks2155"
    )
    start = time.perf_counter()
    lc = LightCurveEstimator(source, ENERGY_EDGES).run(ours)
    t_ours = time.perf_counter() - start
    t = lc.table

    out = Table()
    out["obs_id"] = [ds.name for ds in gp]
    out["time_min"] = t["time_min"]
    out["time_max"] = t["time_max"]
    out["gp_time_min"] = np.asarray(ref["time_min"], dtype=float)
    for key in ("norm", "norm_errn", "norm_errp", "norm_ul", "ts"):
        out[f"gp_{key}"] = np.asarray(ref[key], dtype=float).ravel()
        out[key] = np.asarray(t[key], dtype=float).ravel()
    sigma = np.where(out["norm"] >= out["gp_norm"], out["gp_norm_errp"], out["gp_norm_errn"])
    out["delta_sigma"] = (out["norm"] - out["gp_norm"]) / sigma
    out["errn_ratio"] = out["norm_errn"] / out["gp_norm_errn"]
    out["errp_ratio"] = out["norm_errp"] / out["gp_norm_errp"]
    e2e = LightCurveEstimator(source, ENERGY_EDGES).run(gammaprob_datasets()).table
    out["e2e_counts"] = np.asarray(e2e["counts"], dtype=float).ravel()
    out["counts"] = np.asarray(t["counts"], dtype=float).ravel()  # gammapy-made datasets
    for key in ("norm", "norm_errn", "norm_errp", "norm_ul"):
        out[f"e2e_{key}"] = np.asarray(e2e[key], dtype=float).ravel()
    sigma = np.where(out["e2e_norm"] >= out["gp_norm"], out["gp_norm_errp"], out["gp_norm_errn"])
    out["e2e_delta_sigma"] = (out["e2e_norm"] - out["gp_norm"]) / sigma
    out.write(HERE / "results.ecsv", overwrite=True)
    summary = {
        "n_runs": len(out),
        "max_abs_delta_sigma": float(np.max(np.abs(out["delta_sigma"]))),
        "errn_ratio_range": [float(out["errn_ratio"].min()), float(out["errn_ratio"].max())],
        "errp_ratio_range": [float(out["errp_ratio"].min()), float(out["errp_ratio"].max())],
        "end_to_end_max_abs_delta_sigma": float(np.max(np.abs(out["e2e_delta_sigma"]))),
        "end_to_end_counts_equal": bool(np.all(out["e2e_counts"] == out["counts"])),
        "end_to_end_max_rel_diff_norm": float(np.max(np.abs(out["e2e_norm"] / out["norm"] - 1))),
        "max_abs_time_diff_s": float(np.max(np.abs(out["time_min"] - out["gp_time_min"])) * 86400),
        "variability_ts": t.meta["VARTS"],
        "variability_p_value": t.meta["VARPVAL"],
        "variability_log10_bayes_factor": t.meta["VARLBF"],
        "time_gammaprob_s": t_ours,
        "time_gammapy_s": t_gp,
        "versions": {"gammaprob": gammaprob.__version__, "gammapy": gammapy.__version__},
    }
    (HERE / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    mid = 0.5 * (out["time_min"] + out["time_max"])
    axes[0].errorbar(
        mid - 0.001,
        out["gp_norm"],
        yerr=[out["gp_norm_errn"], out["gp_norm_errp"]],
        fmt="s",
        label="gammapy (MLE, profile errors)",
    )
    axes[0].errorbar(
        mid + 0.001,
        out["norm"],
        yerr=[out["norm_errn"], out["norm_errp"]],
        fmt="o",
        label="gammaprob (median, 68 % credible)",
    )
    axes[0].set_ylabel("norm (PL index 3.4, 0.7-20 TeV)")
    axes[0].legend(fontsize="small")
    axes[1].plot(mid, out["delta_sigma"], "o")
    axes[1].axhspan(-0.3, 0.3, color="0.9")
    axes[1].set_ylabel("(median - gammapy) / error")
    axes[1].set_xlabel("MJD")
    fig.tight_layout()
    fig.savefig(HERE / "light_curve.png", dpi=120)


if __name__ == "__main__":
    main()
