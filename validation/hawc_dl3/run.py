"""HAWC DL3 Crab: the joint posterior over fHit bins 5-9 vs gammapy's joint fit.

Reduces each fHit bin of ``common.py`` with gammaprob's ``MapDatasetMaker`` (HAWC's IRF maps
interpolated onto the geometry, exposure and background times the transits at the map
centre) and ``SafeMaskMaker(["aeff-max"])``, builds one likelihood over the five datasets with
``build_model`` (point source at the Crab, log-parabola at 7 TeV; PSF per reconstructed energy
at the exact pixel-source separation) and samples it with ``sample`` at its defaults (nutpie,
4 chains x 1000 + 1000). Writes ``results.yaml``: counts and background per bin against
``gammapy_reference.yaml``, the posterior median and 16/84 % quantiles of each parameter, the
pull ``(median - best fit) / gammapy error``, the convergence summary and the wall times.

Priors: amplitude LogUniform(1e-15, 1e-11) cm-2 s-1 TeV-1 at 7 TeV, alpha Normal(2.5, 1),
beta Normal(0, 0.5).

Run: ``python validation/hawc_dl3/run.py``.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from common import (  # noqa: E402
    BINSZ_DEG,
    CENTER,
    CRAB,
    EDGES_TEV,
    ESTIMATOR,
    FHIT_BINS,
    HERE,
    OBS_ID,
    PARAMS,
    REFERENCE_TEV,
    WIDTH_DEG,
    release,
)


def reduce() -> list:
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from gammaprob.data import DataStore
    from gammaprob.makers import MapDatasetMaker, MapTemplate, SafeMaskMaker
    from gammaprob.maps import Map, MapAxis, WcsGeom

    folder = release()
    energy = MapAxis.from_edges(list(EDGES_TEV) * u.TeV, name="energy", interp="log")
    energy_true = MapAxis.from_energy_bounds(1e-3, 1e4, nbin=140, unit="TeV", name="energy_true")
    geom = WcsGeom.create(
        skydir=SkyCoord(*CENTER, unit="deg"),
        width=WIDTH_DEG * u.deg,
        binsz=BINSZ_DEG,
        axes=[energy],
    )
    maker = MapDatasetMaker(transits=Map.read(folder / "irfs/TransitsMap_Crab.fits.gz"))
    safe = SafeMaskMaker(["aeff-max"], aeff_percent=10)
    datasets = []
    for fhit in FHIT_BINS:
        obs = DataStore.from_hawc(folder, fhit_bin=fhit, estimator=ESTIMATOR).obs(OBS_ID)
        dataset = maker.run(MapTemplate(geom, energy_true, name=f"fhit{fhit}"), obs)
        datasets.append(safe.run(dataset, obs).replace(name=f"fhit{fhit}"))
    return datasets


def models():
    from gammaprob.modeling import LogUniform, Normal, SkyModel, spatial, spectral

    return [
        SkyModel(
            spectral=spectral.LogParabola(
                amplitude=LogUniform(1e-15, 1e-11, unit="cm-2 s-1 TeV-1"),
                alpha=Normal(2.5, 1.0),
                beta=Normal(0.0, 0.5),
                reference=REFERENCE_TEV,
            ),
            spatial=spatial.Point(lon_0=CRAB[0], lat_0=CRAB[1], frame="icrs"),
            name="crab",
        )
    ]


def main() -> None:
    from gammaprob.inference import build_model, check_convergence, sample

    times = {"import_s": time.perf_counter() - START}
    t = time.perf_counter()
    datasets = reduce()
    times["reduction_s"] = time.perf_counter() - t
    t = time.perf_counter()
    model = build_model(datasets, models())
    times["build_s"] = time.perf_counter() - t
    t = time.perf_counter()
    result = sample(model, random_seed=1, progressbar=False, log_likelihood=False)
    times["sample_s"] = time.perf_counter() - t
    times["whole_process_s"] = time.perf_counter() - START
    report = check_convergence(result)
    reference = yaml.safe_load((HERE / "gammapy_reference.yaml").read_text())
    posterior = result.posterior
    rows = {}
    for name in PARAMS:
        draws = np.asarray(posterior[f"crab::{name}"]).reshape(-1)
        lo, med, hi = np.quantile(draws, [0.16, 0.5, 0.84])
        rows[name] = {
            "median": float(med),
            "q16": float(lo),
            "q84": float(hi),
            "gammapy": reference[name],
            "gammapy_err": reference[f"{name}_err"],
            "pull": float((med - reference[name]) / reference[f"{name}_err"]),
            "width_ratio": float(0.5 * (hi - lo) / reference[f"{name}_err"]),
        }
    bins = {}
    for ds in datasets:
        mask = np.asarray(ds.mask_safe.data, bool)
        bins[ds.name] = {
            "counts": int(ds.counts.data[mask].sum()),
            "counts_gammapy": reference["counts"][ds.name],
            "background": float(ds.background.data[mask].sum()),
            "background_gammapy": reference["background"][ds.name],
        }
    out = {
        "parameters": rows,
        "max_abs_pull": max(abs(r["pull"]) for r in rows.values()),
        "bins": bins,
        "convergence": {"ok": bool(report.ok), "summary": str(report)},
        "times": times,
        "gammapy_fit_s": reference["fit_and_covariance_s"],
    }
    (HERE / "results.yaml").write_text(yaml.safe_dump(out, sort_keys=False))
    print(yaml.safe_dump(out, sort_keys=False))


if __name__ == "__main__":
    main()
