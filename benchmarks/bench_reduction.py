"""Reduction of the four H.E.S.S. DR1 Crab runs: gammaprob vs gammapy, and Dask scaling.

Run as a script (needs ``$GAMMAPY_DATA`` and gammapy)::

    python benchmarks/bench_reduction.py

Writes ``benchmarks/results/reduction.json``. Every timing starts from a fresh data store, so
file reading is included on both sides; the best of ``REPEAT`` runs is kept.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import astropy.units as u
from _common import write_results
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

RUNS = [23523, 23526, 23559, 23592]
CRAB = SkyCoord(83.633, 22.014, unit="deg")
BINSZ = 0.02
REPEAT = 2


def _best(func) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def _path() -> Path:
    return Path(os.path.expandvars("$GAMMAPY_DATA")) / "hess-dl3-dr1"


# ---- gammaprob ------------------------------------------------------------------------------
def ours_1d():
    from gammaprob.data import DataStore
    from gammaprob.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
        SpectrumTemplate,
        reduce,
    )
    from gammaprob.maps import MapAxis

    template = SpectrumTemplate(
        CircleSkyRegion(CRAB, 0.11 * u.deg),
        MapAxis.from_energy_bounds(0.5, 40, 15, unit="TeV"),
        MapAxis.from_energy_bounds(0.3, 60, 30, unit="TeV", name="energy_true"),
    )
    makers = [
        SpectrumDatasetMaker(
            containment_correction=True, selection=["counts", "exposure", "edisp"]
        ),
        ReflectedRegionsBackgroundMaker(),
        SafeMaskMaker(["aeff-max"], aeff_percent=10),
    ]
    observations = DataStore.from_dir(_path()).get_observations(RUNS)
    return reduce(template, observations, makers, stack=True, progress=False)


def _ours_template(npix: int):
    from gammaprob.makers import MapTemplate
    from gammaprob.maps import MapAxis, WcsGeom

    geom = WcsGeom.create(
        skydir=CRAB,
        npix=(npix, npix),
        binsz=BINSZ,
        frame="icrs",
        proj="CAR",
        axes=[MapAxis.from_energy_bounds(1, 10, 10, unit="TeV")],
    )
    return MapTemplate(
        geom, MapAxis.from_energy_bounds(0.5, 20, 20, unit="TeV", name="energy_true")
    )


def _ours_makers():
    from gammaprob.makers import MapDatasetMaker, SafeMaskMaker

    return [MapDatasetMaker(), SafeMaskMaker(["aeff-max", "offset-max"], offset_max=2.5 * u.deg)]


def ours_3d(npix: int, client=None, n_workers=None):
    from gammaprob.data import DataStore
    from gammaprob.makers import reduce

    observations = DataStore.from_dir(_path()).get_observations(RUNS)
    return reduce(
        _ours_template(npix),
        observations,
        _ours_makers(),
        stack=True,
        progress=False,
        client=client,
        n_workers=n_workers,
    )


# ---- gammapy --------------------------------------------------------------------------------
def gammapy_1d():
    from gammapy.data import DataStore
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import ReflectedRegionsBackgroundMaker, SafeMaskMaker, SpectrumDatasetMaker
    from gammapy.maps import MapAxis, RegionGeom

    geom = RegionGeom.create(
        region=CircleSkyRegion(CRAB, 0.11 * u.deg),
        axes=[MapAxis.from_energy_bounds(0.5, 40, 15, unit="TeV")],
    )
    empty = SpectrumDataset.create(
        geom=geom,
        energy_axis_true=MapAxis.from_energy_bounds(0.3, 60, 30, unit="TeV", name="energy_true"),
    )
    maker = SpectrumDatasetMaker(
        containment_correction=True, selection=["counts", "exposure", "edisp"]
    )
    bkg_maker = ReflectedRegionsBackgroundMaker()
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    datasets = Datasets()
    for obs in DataStore.from_dir(_path()).get_observations(RUNS):
        ds = maker.run(empty.copy(name=str(obs.obs_id)), obs)
        datasets.append(safe.run(bkg_maker.run(ds, obs), obs))
    return datasets.stack_reduce()


def gammapy_3d(npix: int):
    from gammapy.data import DataStore
    from gammapy.datasets import MapDataset
    from gammapy.makers import MapDatasetMaker, SafeMaskMaker
    from gammapy.maps import MapAxis, WcsGeom

    geom = WcsGeom.create(
        skydir=CRAB,
        npix=(npix, npix),
        binsz=BINSZ,
        frame="icrs",
        proj="CAR",
        axes=[MapAxis.from_energy_bounds(1, 10, 10, unit="TeV")],
    )
    empty = MapDataset.create(
        geom,
        energy_axis_true=MapAxis.from_energy_bounds(0.5, 20, 20, unit="TeV", name="energy_true"),
    )
    stacked = empty.copy(name="stacked")
    maker = MapDatasetMaker()
    safe = SafeMaskMaker(methods=["aeff-max", "offset-max"], offset_max=2.5 * u.deg)
    for obs in DataStore.from_dir(_path()).get_observations(RUNS):
        stacked.stack(safe.run(maker.run(empty.copy(name=str(obs.obs_id)), obs), obs))
    return stacked


def main() -> None:
    from dask.distributed import Client, LocalCluster

    metrics = {}
    ours_1d(), gammapy_1d()  # warm imports and caches of the interpreter
    metrics["reduce_1d_4runs"] = (_best(ours_1d), _best(gammapy_1d))
    check = ours_1d().datasets[0]
    for npix in (100, 200, 400):
        metrics[f"reduce_3d_4runs_{npix}px"] = (
            _best(lambda n=npix: ours_3d(n)),
            _best(lambda n=npix: gammapy_3d(n)),
        )
    rows = {
        name: {"gammaprob": ours, "gammapy": ref, "ratio": ref / ours, "unit": "s"}
        for name, (ours, ref) in metrics.items()
    }
    # Dask scaling: the same reduction on 1 and 2 worker processes (cluster start excluded)
    scaling = {}
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            ours_3d(200, client=client)  # warm the workers
            scaling[workers] = _best(lambda c=client: ours_3d(200, client=c))
    extra = {
        "dask_scaling_3d_200px": {
            "workers_1_s": scaling[1],
            "workers_2_s": scaling[2],
            "speedup": scaling[1] / scaling[2],
            "note": "2-core machine shared with other jobs",
        },
        "checks": {
            "stacked_1d_counts": float(check.counts.sum()),
            "stacked_1d_counts_off": float(check.counts_off.sum()),
        },
    }
    write_results("reduction", rows, extra=extra, packages=("gammapy", "dask", "distributed"))


if __name__ == "__main__":
    main()
