"""Gammapy's HAWC tutorial reduction of fHit bins 5-9 and a joint Minuit fit of the Crab.

Writes ``gammapy_reference.yaml``: best-fit values and symmetric errors of the log-parabola
(amplitude at 7 TeV, alpha, beta), the fit statistic, counts per bin and the times of the
reduction and the fit.

Run with the validation extra installed: ``python validation/hawc_dl3/gammapy_reference.py``.
"""

from __future__ import annotations

import time

import yaml
from common import (
    BINSZ_DEG,
    CENTER,
    CRAB,
    EDGES_TEV,
    ESTIMATOR,
    FHIT_BINS,
    HERE,
    REFERENCE_TEV,
    WIDTH_DEG,
    release,
)


def reduce() -> list:
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore, HDUIndexTable, ObservationTable, utils
    from gammapy.datasets import MapDataset
    from gammapy.makers import MapDatasetMaker, SafeMaskMaker
    from gammapy.maps import Map, MapAxis, WcsGeom

    folder = release()
    energy = MapAxis.from_edges(list(EDGES_TEV) * u.TeV, name="energy", interp="log")
    energy_true = MapAxis.from_energy_bounds(1e-3, 1e4, nbin=140, unit="TeV", name="energy_true")
    geom = WcsGeom.create(
        skydir=SkyCoord(*CENTER, unit="deg"),
        width=WIDTH_DEG * u.deg,
        axes=[energy],
        binsz=BINSZ_DEG,
    )
    transits = Map.read(folder / "irfs/TransitsMap_Crab.fits.gz").get_by_coord(geom.center_skydir)
    obs_table = ObservationTable.read(folder / f"obs-index-table-{ESTIMATOR}-Crab.fits.gz")
    utils.CHECK_OVERLAPPING_TI = False
    maker = MapDatasetMaker(selection=["counts", "background", "exposure", "edisp", "psf"])
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    datasets = []
    for fhit in FHIT_BINS:
        hdu_table = HDUIndexTable.read(
            folder / f"hdu-index-table-{ESTIMATOR}-Crab.fits.gz", hdu=fhit
        )
        obs = DataStore(hdu_table=hdu_table, obs_table=obs_table).get_observations()[0]
        empty = MapDataset.create(
            geom, energy_axis_true=energy_true, name=f"fhit{fhit}", reco_psf=True
        )
        dataset = maker.run(empty, obs)
        dataset.exposure.meta["livetime"] = "6 h"  # as the tutorial; aeff-max is relative
        dataset = safe.run(dataset)
        dataset.background.data *= transits
        dataset.exposure.data *= transits
        datasets.append(dataset)
    return datasets


def fit(datasets) -> dict:
    from gammapy.datasets import Datasets
    from gammapy.modeling import Fit
    from gammapy.modeling.models import LogParabolaSpectralModel, PointSpatialModel, SkyModel

    spectral = LogParabolaSpectralModel(
        amplitude="3e-13 cm-2 s-1 TeV-1", reference=f"{REFERENCE_TEV} TeV", alpha=2.6, beta=0.1
    )
    spatial = PointSpatialModel(lon_0=f"{CRAB[0]} deg", lat_0=f"{CRAB[1]} deg", frame="icrs")
    spatial.lon_0.frozen = spatial.lat_0.frozen = True
    model = SkyModel(spectral_model=spectral, spatial_model=spatial, name="crab")
    datasets = Datasets(datasets)
    datasets.models = [model]
    start = time.perf_counter()
    result = Fit().run(datasets)
    out = {
        "success": bool(result.success),
        "fit_and_covariance_s": time.perf_counter() - start,
        "stat_sum": float(result.total_stat),
    }
    for name in ("amplitude", "alpha", "beta"):
        p = spectral.parameters[name]
        out[name] = float(p.value)
        out[f"{name}_err"] = float(p.error)
    return out


def main() -> None:
    import gammapy

    start = time.perf_counter()
    datasets = reduce()
    reduction_s = time.perf_counter() - start
    reference = fit(datasets)
    reference.update(
        {
            "reduction_s": reduction_s,
            "gammapy": gammapy.__version__,
            "counts": {d.name: int(d.counts.data[d.mask_safe.data].sum()) for d in datasets},
            "background": {
                d.name: float(d.background.data[d.mask_safe.data].sum()) for d in datasets
            },
        }
    )
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(reference, sort_keys=False))
    print(yaml.safe_dump(reference, sort_keys=False))


if __name__ == "__main__":
    main()
