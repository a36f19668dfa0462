"""IRF evaluation speed: effective area (and background) at 10^6 points, gammaprob vs gammapy.

Both libraries read the same H.E.S.S. DR1 and CTA prod5 files and evaluate at the same 10^6
random (energy, offset[, fov]) points; the results are checked to agree before timing. Loading
the data store is timed by the data benchmark.

Run: ``GAMMAPY_DATA=... python benchmarks/bench_irf.py`` -> ``benchmarks/results/irf.json``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
from _common import best_time, write_results

N_POINTS = 1_000_000


def _import_gammapy_irf():
    import gammapy.irf

    return gammapy.irf


def main() -> None:
    data = Path(os.environ["GAMMAPY_DATA"])
    gp = _import_gammapy_irf()
    from gammaprob.irf import read_irf

    rng = np.random.default_rng(0)
    cases = {
        "aeff_hess_dr1": (data / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz", "AEFF"),
        "aeff_cta_prod5": (
            data / "cta-caldb/Prod5-North-20deg-AverageAz-4LSTs09MSTs.180000s-v0.1.fits.gz",
            "EFFECTIVE AREA",
        ),
    }
    metrics = {}
    for label, (path, hdu) in cases.items():
        ours = read_irf(path, hdu)
        theirs = gp.EffectiveAreaTable2D.read(path, hdu=hdu)
        energy = np.exp(rng.uniform(np.log(0.02), np.log(90), N_POINTS)) * u.TeV
        offset = rng.uniform(0, 2.5, N_POINTS) * u.deg
        a = ours.evaluate(energy_true=energy, offset=offset)
        b = theirs.evaluate(energy_true=energy, offset=offset)
        np.testing.assert_allclose(a.to_value(u.m**2), b.to_value(u.m**2), rtol=1e-9, atol=1e-9)
        t_ours = best_time(
            lambda o=ours, e=energy, f=offset: o.evaluate(energy_true=e, offset=f), repeat=5
        )
        t_theirs = best_time(
            lambda t=theirs, e=energy, f=offset: t.evaluate(energy_true=e, offset=f), repeat=5
        )
        metrics[f"{label}_evaluate_1e6_points"] = {
            "gammaprob": t_ours,
            "gammapy": t_theirs,
            "ratio": t_theirs / t_ours,
            "unit": "s",
        }

    path = data / "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz"
    ours = read_irf(path, "BKG")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = gp.Background3D.read(path, hdu="BKG")
    energy = np.exp(rng.uniform(np.log(0.2), np.log(50), N_POINTS)) * u.TeV
    lon, lat = rng.uniform(-2, 2, (2, N_POINTS)) * u.deg
    kwargs = {"energy": energy, "fov_lon": lon, "fov_lat": lat}
    t_ours = best_time(lambda: ours.evaluate(**kwargs), repeat=3)
    t_theirs = best_time(lambda: theirs.evaluate(**kwargs), repeat=3)
    metrics["bkg3d_hess_dr1_evaluate_1e6_points"] = {
        "gammaprob": t_ours,
        "gammapy": t_theirs,
        "ratio": t_theirs / t_ours,
        "unit": "s",
    }
    write_results(
        "irf", metrics, extra={"n_points": N_POINTS}, packages=("gammapy", "astropy", "scipy")
    )


if __name__ == "__main__":
    main()
