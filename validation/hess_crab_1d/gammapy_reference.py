"""gammapy's 1D Crab analysis of H.E.S.S. DR1 (the frequentist reference of issue 12, item 1).

Reduces the four Crab runs as gammapy's spectral-analysis tutorial does (settings in
``common.py``: reflected regions with an exclusion mask, containment correction, ``aeff-max``
safe mask), stacks them, fits a power law and a log-parabola with WStat (Minuit) and computes
flux points with the log-parabola's shape. Writes ``gammapy_reference.yaml``: the reduction
per run (ON/OFF counts in the safe range, mean alpha, safe threshold),
the stacked counts, OFF counts, alpha and safe mask per bin, best-fit values, errors and fit
statistics of both models, and the flux points (norm, errors, upper limit, TS).

Run with the validation extra installed: ``python validation/hess_crab_1d/gammapy_reference.py``.
"""

from __future__ import annotations

import time

import numpy as np
import yaml
from common import (
    AEFF_PERCENT,
    ENERGY_TEV,
    ENERGY_TRUE_TEV,
    EXCLUSION_BINSZ_DEG,
    EXCLUSION_GALACTIC_DEG,
    EXCLUSION_NPIX,
    EXCLUSION_RADIUS_DEG,
    FLUX_POINT_EDGES_TEV,
    HERE,
    OBS_IDS,
    ON_RADIUS_DEG,
    REFERENCE_TEV,
    TARGET_DEG,
    data_root,
)


def _floats(values) -> list[float]:
    return [float(x) for x in np.ravel(values)]


def reduce():
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
    )
    from gammapy.maps import MapAxis, RegionGeom, WcsGeom
    from regions import CircleSkyRegion

    observations = DataStore.from_dir(data_root() / "hess-dl3-dr1").get_observations(OBS_IDS)
    target = SkyCoord(*TARGET_DEG, unit="deg", frame="icrs")
    exclusion_region = CircleSkyRegion(
        SkyCoord(*EXCLUSION_GALACTIC_DEG, unit="deg", frame="galactic"),
        EXCLUSION_RADIUS_DEG * u.deg,
    )
    mask_geom = WcsGeom.create(
        npix=(EXCLUSION_NPIX, EXCLUSION_NPIX),
        binsz=EXCLUSION_BINSZ_DEG,
        skydir=target.galactic,
        proj="TAN",
        frame="icrs",
    )
    exclusion_mask = ~mask_geom.region_mask([exclusion_region])
    energy_axis = MapAxis.from_energy_bounds(
        ENERGY_TEV[0], ENERGY_TEV[1], nbin=ENERGY_TEV[2], per_decade=True, unit="TeV"
    )
    energy_axis_true = MapAxis.from_energy_bounds(
        ENERGY_TRUE_TEV[0],
        ENERGY_TRUE_TEV[1],
        nbin=ENERGY_TRUE_TEV[2],
        per_decade=True,
        unit="TeV",
        name="energy_true",
    )
    geom = RegionGeom.create(
        region=CircleSkyRegion(target, ON_RADIUS_DEG * u.deg), axes=[energy_axis]
    )
    empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_axis_true)
    maker = SpectrumDatasetMaker(
        containment_correction=True, selection=["counts", "exposure", "edisp"]
    )
    bkg_maker = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion_mask)
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=AEFF_PERCENT)
    datasets = Datasets()
    runs = []
    for obs_id, observation in zip(OBS_IDS, observations, strict=True):
        dataset = maker.run(empty.copy(name=str(obs_id)), observation)
        dataset = safe.run(bkg_maker.run(dataset, observation), observation)
        mask = dataset.mask_safe.data.ravel()
        runs.append(
            {
                "obs_id": int(obs_id),
                "n_on": int(dataset.counts.data.ravel()[mask].sum()),
                "n_off": int(dataset.counts_off.data.ravel()[mask].sum()),
                "alpha_mean": float(np.mean(dataset.alpha.data.ravel()[mask])),
                "e_safe_min_tev": float(
                    dataset.energy_range_safe[0].quantity.to_value("TeV").item()
                ),
            }
        )
        datasets.append(dataset)
    stacked = datasets.stack_reduce(name="crab-stacked")
    return stacked, runs


def fit(stacked) -> dict:
    import astropy.units as u
    from gammapy.estimators import FluxPointsEstimator
    from gammapy.modeling import Fit
    from gammapy.modeling.models import (
        LogParabolaSpectralModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    start_values = {"amplitude": "4e-11 cm-2 s-1 TeV-1", "reference": f"{REFERENCE_TEV} TeV"}
    spectra = {
        "power_law": PowerLawSpectralModel(index=2.5, **start_values),
        "log_parabola": LogParabolaSpectralModel(alpha=2.5, beta=0.1, **start_values),
    }
    out = {}
    for label, spectrum in spectra.items():
        stacked.models = [SkyModel(spectral_model=spectrum, name="crab")]
        start = time.perf_counter()
        result = Fit().run([stacked])
        entry = {
            "success": bool(result.success),
            "stat": float(result.total_stat),
            "fit_s": time.perf_counter() - start,
        }
        for p in spectrum.parameters.free_parameters:
            entry[p.name] = float(p.value)
            entry[f"{p.name}_err"] = float(p.error)
        out[label] = entry
    # flux points with the log-parabola's shape (the model left on the dataset)
    start = time.perf_counter()
    estimator = FluxPointsEstimator(
        energy_edges=np.array(FLUX_POINT_EDGES_TEV) * u.TeV,
        source="crab",
        selection_optional=["errn-errp", "ul"],
    )
    points = estimator.run([stacked])
    table = points.to_table(sed_type="likelihood")
    out["flux_points"] = {
        "run_s": time.perf_counter() - start,
        "model": "log_parabola",
        "e_ref_tev": _floats(table["e_ref"].quantity.to_value("TeV")),
        "e_min_tev": _floats(table["e_min"].quantity.to_value("TeV")),
        "e_max_tev": _floats(table["e_max"].quantity.to_value("TeV")),
        "ref_e2dnde_tev_cm2_s": _floats(
            (table["ref_dnde"].quantity * table["e_ref"].quantity ** 2).to_value("TeV cm-2 s-1")
        ),
        **{
            name: _floats(table[name])
            for name in ("norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts", "counts")
        },
        "is_ul": [bool(x) for x in np.ravel(table["is_ul"])],
    }
    return out


def main() -> None:
    import gammapy

    start = time.perf_counter()
    stacked, runs = reduce()
    reduction_s = time.perf_counter() - start
    mask = stacked.mask_safe.data.ravel()
    reference = {
        "gammapy": gammapy.__version__,
        "reduction_s": reduction_s,
        "runs": runs,
        "stacked": {
            "counts": [int(x) for x in stacked.counts.data.ravel()],
            "counts_off": [int(x) for x in stacked.counts_off.data.ravel()],
            "alpha": _floats(stacked.alpha.data),
            "mask_safe": [bool(x) for x in mask],
            "exposure_m2_s": _floats(stacked.exposure.quantity.to_value("m2 s")),
        },
        **fit(stacked),
    }
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(reference, sort_keys=False))
    print(yaml.safe_dump({k: v for k, v in reference.items() if k != "stacked"}, sort_keys=False))


if __name__ == "__main__":
    main()
