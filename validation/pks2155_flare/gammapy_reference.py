"""gammapy's PKS 2155-304 flare light curve and temporal x spectral fit (frequentist reference).

Follows gammapy's light-curve-flare tutorial (settings in ``common.py``): the 7 runs are cut
into 10-minute bins (``Observations.select_time``), each piece reduced to a reflected-region
on/off spectrum; ``LightCurveEstimator`` gives the flux norm per bin (power law, index 3.4,
0.7-20 TeV). Then the same datasets are fitted with a power law x a temporal model
(``GaussianTemporalModel`` with free peak time and width; amplitude and index free) by
``Fit`` (WStat). Writes ``gammapy_reference.yaml`` (light-curve columns per bin, counts per
dataset for the data check, best fit and errors, timings).

Run with the validation extra: ``python validation/pks2155_flare/gammapy_reference.py``.
"""

from __future__ import annotations

import itertools
import os
import time

import numpy as np
import yaml
from common import (
    AEFF_PERCENT,
    BIN_MIN,
    ENERGY_RECO_TEV,
    ENERGY_TRUE_TEV,
    FIT_START,
    HERE,
    LC_AMPLITUDE,
    LC_ENERGY_TEV,
    LC_INDEX,
    N_BINS,
    OBS_IDS,
    ON_RADIUS_DEG,
    T_START,
    TARGET_DEG,
)


def time_intervals():
    import astropy.units as u
    from astropy.time import Time

    edges = Time(T_START, scale="utc") + np.arange(N_BINS + 1) * BIN_MIN * u.min
    return [Time([a, b]) for a, b in itertools.pairwise(edges)]


def reduce():
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import ReflectedRegionsBackgroundMaker, SafeMaskMaker, SpectrumDatasetMaker
    from gammapy.maps import MapAxis, RegionGeom
    from regions import CircleSkyRegion

    store = DataStore.from_dir(os.path.expandvars("$GAMMAPY_DATA/hess-dl3-dr1"))
    observations = store.get_observations(OBS_IDS).select_time(time_intervals())
    region = CircleSkyRegion(SkyCoord(*TARGET_DEG, unit="deg"), ON_RADIUS_DEG * u.deg)
    e_reco = MapAxis.from_energy_bounds(*ENERGY_RECO_TEV[:2], ENERGY_RECO_TEV[2], unit="TeV")
    e_true = MapAxis.from_energy_bounds(
        *ENERGY_TRUE_TEV[:2], ENERGY_TRUE_TEV[2], unit="TeV", name="energy_true"
    )
    empty = SpectrumDataset.create(
        geom=RegionGeom.create(region, axes=[e_reco]), energy_axis_true=e_true
    )
    maker = SpectrumDatasetMaker(
        containment_correction=True, selection=["counts", "exposure", "edisp"]
    )
    bkg = ReflectedRegionsBackgroundMaker()
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=AEFF_PERCENT)
    datasets = Datasets()
    for k, obs in enumerate(observations):
        ds = maker.run(empty.copy(name=f"{obs.obs_id}-{k}"), obs)
        datasets.append(safe.run(bkg.run(ds, obs), obs))
    return datasets


def light_curve(datasets) -> dict:
    import astropy.units as u
    from gammapy.estimators import LightCurveEstimator
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    datasets.models = [
        SkyModel(
            PowerLawSpectralModel(index=LC_INDEX, amplitude=f"{LC_AMPLITUDE} cm-2 s-1 TeV-1"),
            name="pks2155",
        )
    ]
    estimator = LightCurveEstimator(
        energy_edges=list(LC_ENERGY_TEV) * u.TeV,
        source="pks2155",
        time_intervals=time_intervals(),
        selection_optional=["errn-errp", "ul"],
    )
    start = time.perf_counter()
    lc = estimator.run(datasets)
    elapsed = time.perf_counter() - start
    table = lc.to_table(sed_type="likelihood", format="lightcurve")
    out = {"time_s": elapsed}
    out["time_min_mjd_tt"] = [float(t) for t in table["time_min"]]  # gammapy: MJD, TT
    out["time_max_mjd_tt"] = [float(t) for t in table["time_max"]]
    for key in ("norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts"):
        out[key] = [float(x) for x in np.asarray(table[key], float).ravel()]
    out["flux"] = [float(x) for x in np.asarray(lc.flux.quantity.to_value("cm-2 s-1")).ravel()]
    return out


def temporal_fit(datasets) -> dict:
    import astropy.units as u
    from astropy.time import Time
    from gammapy.modeling import Fit
    from gammapy.modeling.models import (
        GaussianTemporalModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    peak = Time(FIT_START["t_ref"], format="mjd", scale="utc")
    spectral = PowerLawSpectralModel(
        index=FIT_START["index"],
        amplitude=f"{FIT_START['amplitude']} cm-2 s-1 TeV-1",
        reference="1 TeV",
    )
    temporal = GaussianTemporalModel(
        t_ref=peak.mjd * u.d, sigma=FIT_START["sigma"] * u.d, scale="utc"
    )
    temporal.t_ref.min, temporal.t_ref.max = peak.mjd - 0.1, peak.mjd + 0.1
    temporal.sigma.min, temporal.sigma.max = 0.002, 0.5
    model = SkyModel(spectral_model=spectral, temporal_model=temporal, name="pks2155")
    datasets.models = [model]
    start = time.perf_counter()
    result = Fit().run(datasets)
    elapsed = time.perf_counter() - start
    out = {"success": bool(result.success), "fit_s": elapsed, "stat_sum": float(result.total_stat)}
    for p in model.parameters.free_parameters:
        out[p.name] = float(p.value)
        out[f"{p.name}_err"] = float(p.error)
    out["t_ref_unit"] = "MJD (UTC)"
    covariance = model.covariance.get_subcovariance(model.parameters.free_parameters)
    names = [p.name for p in model.parameters.free_parameters]
    out["correlation"] = {
        f"{a}-{b}": float(covariance.correlation[i, j])
        for i, a in enumerate(names)
        for j, b in enumerate(names)
        if i < j
    }
    # the temporal norm each dataset's flux was scaled by, and its predicted signal counts
    out["temporal_norm"] = []
    out["npred_signal"] = []
    for ds in datasets:
        norm = np.sum(temporal.integral(ds.gti.time_start, ds.gti.time_stop))
        out["temporal_norm"].append(float(norm))
        out["npred_signal"].append(float(ds.npred_signal().data[ds.mask_safe.data].sum()))
    return out


def main() -> None:
    import gammapy

    start = time.perf_counter()
    datasets = reduce()
    reduction = time.perf_counter() - start
    ref = {
        "gammapy": gammapy.__version__,
        "reduction_s": reduction,
        "n_datasets": len(datasets),
        "datasets": {
            ds.name: {
                "counts": int(ds.counts.data[ds.mask_safe.data].sum()),
                "counts_off": int(ds.counts_off.data[ds.mask_safe.data].sum()),
                "livetime_s": float(ds.gti.time_sum.to_value("s")),
                "n_safe_bins": int(ds.mask_safe.data.sum()),
            }
            for ds in datasets
        },
        "light_curve": light_curve(datasets),
        "temporal_fit": temporal_fit(datasets),
    }
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(ref, sort_keys=False))
    print(yaml.safe_dump({k: v for k, v in ref.items() if k != "datasets"}, sort_keys=False))


if __name__ == "__main__":
    main()
