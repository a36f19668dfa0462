"""Excess map speed on a 100 x 100 pixel, 3-energy-bin map: gammaprob vs gammapy.

Both run the same synthetic inputs (correlation radius 0.1 deg = 5 pixels, all energy bins
summed as gammapy's default) and the results are checked to agree before timing.

- ``excess_map_cash_100x100``: counts over a known background, with errors and upper
  limits on both sides (gammapy: ``selection_optional="all"``).
- ``excess_map_onoff_100x100``: on/off counts; gammapy runs with its default selection
  (significance and symmetric errors only) because its per-pixel root finding for
  errn/errp/ul takes minutes here, while gammaprob computes everything (vectorised roots).
- ``excess_map_onoff_errors_30x30``: on/off on a 30 x 30 pixel cut, both computing
  errn/errp/ul.

Run: ``python benchmarks/bench_estimators.py`` -> ``benchmarks/results/estimators.json``.
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from _common import best_time, write_results
from astropy.coordinates import SkyCoord

from gammaprob.datasets import MapDataset, MapDatasetOnOff
from gammaprob.estimators import ExcessMapEstimator
from gammaprob.maps import Map, MapAxis, WcsGeom

EDGES = [1.0, 3.0, 10.0, 30.0] * u.TeV


def _inputs(npix=100):
    rng = np.random.default_rng(0)
    axis = MapAxis.from_edges(EDGES, interp="log", name="energy")
    geom = WcsGeom.create(
        skydir=SkyCoord(83.63, 22.01, unit="deg"),
        width=npix * 0.02,
        binsz=0.02,
        proj="TAN",
        axes=[axis],
    )
    shape = geom.data_shape
    bkg = 0.5 * np.array([1.0, 0.4, 0.1])[:, None, None] * np.ones(shape)
    yy, xx = np.mgrid[:npix, :npix]
    source = 0.3 * np.exp(-((yy - npix / 2) ** 2 + (xx - npix / 2) ** 2) / 50)
    counts = rng.poisson(bkg + source).astype(float)
    off = rng.poisson(5 * bkg).astype(float)
    geom_true = geom.to_image().to_cube(
        [MapAxis.from_edges(EDGES, interp="log", name="energy_true")]
    )
    exposure = Map(geom_true, data=np.full(geom_true.data_shape, 1e11), unit="cm2 s")
    return geom, counts, off, bkg, exposure


def _datasets(npix):
    """Cash and on/off datasets of both libraries on the same arrays."""
    from gammapy.datasets import MapDataset as GMapDataset
    from gammapy.datasets import MapDatasetOnOff as GOnOff
    from gammapy.maps import Map as GMap
    from gammapy.maps import MapAxis as GAxis
    from gammapy.maps import WcsGeom as GGeom

    geom, counts, off, bkg, exposure = _inputs(npix)
    shape = geom.data_shape
    cash = MapDataset(
        name="cash",
        counts=Map(geom, data=counts),
        background=Map(geom, data=bkg),
        exposure=exposure,
    )
    onoff = MapDatasetOnOff(
        name="onoff",
        counts=Map(geom, data=counts),
        counts_off=Map(geom, data=off),
        acceptance=Map(geom, data=np.ones(shape)),
        acceptance_off=Map(geom, data=5 * np.ones(shape)),
        exposure=exposure,
    )
    ggeom = GGeom(geom.wcs, npix=geom.npix, axes=[GAxis.from_energy_edges(EDGES)])
    gtrue = GGeom(
        geom.wcs, npix=geom.npix, axes=[GAxis.from_energy_edges(EDGES, name="energy_true")]
    )
    gexposure = GMap.from_geom(gtrue, data=exposure.data, unit="cm2 s")
    gcash = GMapDataset(
        counts=GMap.from_geom(ggeom, data=counts),
        background=GMap.from_geom(ggeom, data=bkg),
        exposure=gexposure,
    )
    gonoff = GOnOff(
        counts=GMap.from_geom(ggeom, data=counts),
        counts_off=GMap.from_geom(ggeom, data=off),
        acceptance=GMap.from_geom(ggeom, data=np.ones(shape)),
        acceptance_off=GMap.from_geom(ggeom, data=5 * np.ones(shape)),
        exposure=gexposure,
    )
    return (cash, gcash), (onoff, gonoff)


def main() -> None:
    from gammapy.estimators import ExcessMapEstimator as GEstimator

    (cash, gcash), (onoff, gonoff) = _datasets(100)
    _, (onoff30, gonoff30) = _datasets(30)
    ours = ExcessMapEstimator(0.1 * u.deg)
    metrics = {}
    for name, ds, gds, selection, repeat in (
        ("excess_map_cash_100x100", cash, gcash, "all", 3),
        ("excess_map_onoff_100x100", onoff, gonoff, None, 3),
        ("excess_map_onoff_errors_30x30", onoff30, gonoff30, "all", 1),
    ):
        theirs = GEstimator(correlation_radius="0.1 deg", selection_optional=selection)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = theirs.run(gds)
            result = ours.run(ds)
            # gammapy convolves in float32: agreement to its rounding
            for key in ("sqrt_ts", "norm_ul") if selection else ("sqrt_ts",):
                np.testing.assert_allclose(
                    result[key].data, ref[key].data, rtol=1e-4, atol=1e-4, err_msg=key
                )
            t_ours = best_time(lambda ds=ds: ours.run(ds), repeat=3)
            t_theirs = best_time(lambda gds=gds, est=theirs: est.run(gds), repeat=repeat)
        metrics[name] = {
            "gammaprob": t_ours,
            "gammapy": t_theirs,
            "ratio": t_theirs / t_ours,
            "unit": "s",
        }
    write_results("estimators", metrics, packages=("gammapy", "scipy", "astropy"))


if __name__ == "__main__":
    main()
