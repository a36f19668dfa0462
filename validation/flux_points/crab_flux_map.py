"""Posterior flux map of the Crab region (Fermi-LAT 3FHL dataset) and gammapy's TS map.

gammaprob's ``FluxMapEstimator`` (point-like test source, power law of index 2, PSF kernel of
0.3 deg radius, Laplace per pixel, flat prior on norm >= 0) against gammapy's
``TSMapEstimator`` (same reference spectrum, kernel width 0.6 deg, energies summed). Writes
``crab_flux_map.json`` (peak TS and norm of both, ratio statistics where TS > 25) and
``crab_flux_map.png`` (posterior median flux, 95 % upper limit, P(norm > 0), signed sqrt(TS)).
Run: ``python validation/flux_points/crab_flux_map.py``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np

HERE = Path(__file__).resolve().parent
PATH = Path(os.path.expandvars("$GAMMAPY_DATA/fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits"))


def main() -> None:
    from gammapy.datasets import MapDataset as GPMapDataset
    from gammapy.estimators import TSMapEstimator

    from gammaprob.datasets import MapDataset
    from gammaprob.estimators import FluxMapEstimator
    from gammaprob.visualization import plot_flux_map

    maps = FluxMapEstimator(0.3 * u.deg).run(MapDataset.read(PATH))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = TSMapEstimator(
            kernel_width=0.6 * u.deg, selection_optional=[], sum_over_energy_groups=True
        ).run(GPMapDataset.read(PATH))
    ts, gp_ts = maps["ts"].data, ref["ts"].data[0]
    norm, gp_norm = maps["norm_best"].data, ref["norm"].data[0]
    peak = np.unravel_index(np.nanargmax(ts), ts.shape)
    gp_peak = np.unravel_index(np.nanargmax(gp_ts), gp_ts.shape)
    ok = gp_ts > 25
    summary = {
        "peak_pixel": [int(i) for i in peak],
        "gammapy_peak_pixel": [int(i) for i in gp_peak],
        "peak_ts": float(ts[peak]),
        "gammapy_peak_ts": float(gp_ts[gp_peak]),
        "peak_norm": float(norm[peak]),
        "gammapy_peak_norm": float(gp_norm[gp_peak]),
        "peak_norm_68_interval": [
            float(maps["norm"].data[peak] - maps["norm_errn"].data[peak]),
            float(maps["norm"].data[peak] + maps["norm_errp"].data[peak]),
        ],
        "ts_ratio_percentiles_5_50_95_where_gammapy_ts_gt_25": np.nanpercentile(
            ts[ok] / gp_ts[ok], [5, 50, 95]
        ).tolist(),
        "norm_ratio_percentiles_5_50_95_where_gammapy_ts_gt_25": np.nanpercentile(
            norm[ok] / gp_norm[ok], [5, 50, 95]
        ).tolist(),
    }
    (HERE / "crab_flux_map.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wcs = maps.geom.wcs
    fig = plt.figure(figsize=(12, 9))
    panels = [
        ("flux", "posterior median flux [cm-2 s-1]"),
        ("flux_ul", "95 % credible upper limit [cm-2 s-1]"),
        ("prob_positive", "P(norm > 0)"),
        ("sqrt_ts", "signed sqrt(TS)"),
    ]
    for i, (name, label) in enumerate(panels):
        ax = fig.add_subplot(2, 2, i + 1, projection=wcs)
        plot_flux_map(maps[name], ax=ax, label=label)
        ax.set_title(name)
    fig.suptitle("Fermi-LAT 3FHL Crab region, 10 GeV - 2 TeV, gammaprob FluxMapEstimator")
    fig.tight_layout()
    fig.savefig(HERE / "crab_flux_map.png", dpi=100)


if __name__ == "__main__":
    main()
