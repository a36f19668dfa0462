"""gammapy 2.1's ring-background significance maps and TS map of MSH 15-52 (issue 12, item 2).

Reduces the H.E.S.S. DR1 runs of ``common.py`` with gammapy's makers (stacked,
``validation/_hess_dr1.py``), applies
gammapy's ``RingBackgroundMaker`` to the stacked dataset, runs ``ExcessMapEstimator`` (Li & Ma,
with and without correlating the OFF counts) and ``TSMapEstimator`` (energy bins summed, and
one likelihood term per energy bin) on the stacked dataset with its background scaled to the
counts outside the exclusion region. Writes ``gammapy_reference.yaml``
(counts and background totals, peak values and pixels, the spread of the significance outside
the exclusion region, run times) and ``gammapy_maps.fits`` (the compared images as float32,
one HDU each: ``SQRT_TS_CORR``, ``SQRT_TS_UNCORR``, ``TS_SUMMED_SQRT_TS``, ``TS_PER_ENERGY_SQRT_TS``,
losslessly compressed)
so that the notebook can compare pixel by pixel without importing gammapy.

Run with the validation extra installed:
``GAMMAPY_DATA=... python validation/significance_maps/gammapy_reference.py``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import yaml
from common import (
    CORRELATION_RADIUS_DEG,
    EXCLUSION_RADIUS_DEG,
    HERE,
    KERNEL_RADIUS_DEG,
    RING_R_IN_DEG,
    RING_WIDTH_DEG,
    STACKING,
)


def reduce():
    """Stacked gammapy MapDataset, the exclusion image and the number of runs."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    stacked, n_runs = STACKING.gammapy_stacked()
    region = CircleSkyRegion(
        center=SkyCoord(*STACKING.target, unit="deg", frame="icrs"),
        radius=EXCLUSION_RADIUS_DEG * u.deg,
    )
    exclusion = stacked.counts.geom.to_image().region_mask([region], inside=False)
    return stacked, exclusion, n_runs


def peak_summary(image: np.ndarray) -> dict:
    """Peak value and its pixel ``[iy, ix]``."""
    iy, ix = np.unravel_index(np.nanargmax(image), image.shape)
    return {"value": float(image[iy, ix]), "pixel": [int(iy), int(ix)]}


def off_spread(image: np.ndarray, exclusion: np.ndarray) -> dict:
    """Mean and standard deviation of the finite pixels outside the exclusion region."""
    values = image[exclusion & np.isfinite(image)]
    return {"mean": float(values.mean()), "std": float(values.std()), "n_pixels": int(values.size)}


def main() -> None:
    import astropy.units as u
    import gammapy
    from astropy.io import fits
    from gammapy.estimators import ExcessMapEstimator, TSMapEstimator
    from gammapy.makers import RingBackgroundMaker
    from gammapy.modeling.models import PointSpatialModel, PowerLawSpectralModel, SkyModel

    warnings.simplefilter("ignore")  # gammapy's deprecation and runtime notes
    times = {}
    start = time.perf_counter()
    stacked, exclusion, n_runs = reduce()
    times["reduction_s"] = time.perf_counter() - start
    excl = np.asarray(exclusion.data, bool)
    safe = np.asarray(stacked.mask_safe.data, bool)
    counts, background = stacked.counts.data, stacked.background.data

    start = time.perf_counter()
    ring = RingBackgroundMaker(
        r_in=f"{RING_R_IN_DEG} deg", width=f"{RING_WIDTH_DEG} deg", exclusion_mask=exclusion
    )
    on_off = ring.run(stacked)
    times["ring_s"] = time.perf_counter() - start
    edges = list(STACKING.energy_tev[:2]) * u.TeV
    excess = {}
    for label, correlate_off in (("corr", True), ("uncorr", False)):
        start = time.perf_counter()
        estimator = ExcessMapEstimator(
            CORRELATION_RADIUS_DEG * u.deg,
            energy_edges=edges,
            correlate_off=correlate_off,
            selection_optional=[],
        )
        excess[label] = estimator.run(on_off)
        times[f"excess_{label}_s"] = time.perf_counter() - start

    outside = safe.any(axis=0) & excl
    bkg_norm = float(counts[:, outside].sum() / background[:, outside].sum())
    scaled = stacked.copy(name="msh-scaled")
    scaled.background = stacked.background * bkg_norm
    kernel_model = SkyModel(
        spectral_model=PowerLawSpectralModel(index=2, amplitude="1e-12 cm-2 s-1 TeV-1"),
        spatial_model=PointSpatialModel(),
        name="ts-kernel",
    )
    ts_runs = {}
    for label, summed in (("summed", True), ("per_energy", False)):
        start = time.perf_counter()
        ts_runs[label] = TSMapEstimator(
            kernel_model=kernel_model,
            kernel_width=2 * KERNEL_RADIUS_DEG * u.deg,
            energy_edges=edges,
            sum_over_energy_groups=summed,
            selection_optional=[],
        ).run(scaled)
        times[f"ts_map_{label}_s"] = time.perf_counter() - start

    images = {
        "SQRT_TS_CORR": excess["corr"]["sqrt_ts"].data[0],
        "SQRT_TS_UNCORR": excess["uncorr"]["sqrt_ts"].data[0],
        "TS_SUMMED_SQRT_TS": ts_runs["summed"]["sqrt_ts"].data[0],
        "TS_PER_ENERGY_SQRT_TS": ts_runs["per_energy"]["sqrt_ts"].data[0],
    }
    hdus = [fits.PrimaryHDU()]
    header = exclusion.geom.wcs.to_header()
    for name, image in images.items():
        data = np.asarray(image, np.float32)
        hdus.append(
            fits.CompImageHDU(
                data, header=header, name=name, compression_type="GZIP_2", quantize_level=0.0
            )
        )
    fits.HDUList(hdus).writeto(HERE / "gammapy_maps.fits", overwrite=True)

    reference = {
        "gammapy": gammapy.__version__,
        "n_runs": n_runs,
        "counts": int(counts[safe].sum()),
        "background": float(background[safe].sum()),
        "background_norm_outside_exclusion": bkg_norm,
        "ring": {
            "counts_off": float(on_off.counts_off.data[safe].sum()),
            "n_safe_bins": int(np.asarray(on_off.mask_safe.data, bool).sum()),
        },
    }
    for label in ("corr", "uncorr"):
        sig = excess[label]["sqrt_ts"].data[0]
        reference[f"excess_{label}"] = {
            "correlate_off": label == "corr",
            "sqrt_ts_peak": peak_summary(sig),
            "npred_excess_at_peak": float(
                excess[label]["npred_excess"].data[0][tuple(peak_summary(sig)["pixel"])]
            ),
            "sqrt_ts_outside_exclusion": off_spread(sig, excl),
            "n_finite": int(np.isfinite(sig).sum()),
        }
    for label, ts_maps in ts_runs.items():
        sqrt_ts = ts_maps["sqrt_ts"].data[0]
        peak = peak_summary(sqrt_ts)
        reference[f"ts_map_{label}"] = {
            "kernel_width_deg": 2 * KERNEL_RADIUS_DEG,
            "sum_over_energy_groups": label == "summed",
            "sqrt_ts_peak": peak,
            "ts_peak": float(ts_maps["ts"].data[0][tuple(peak["pixel"])]),
            "norm_at_peak": float(ts_maps["norm"].data[0][tuple(peak["pixel"])]),
            "norm_err_at_peak": float(ts_maps["norm_err"].data[0][tuple(peak["pixel"])]),
            "sqrt_ts_outside_exclusion": off_spread(sqrt_ts, excl),
            "n_finite": int(np.isfinite(sqrt_ts).sum()),
        }
    reference["times"] = times
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(reference, sort_keys=False))
    print(yaml.safe_dump(reference, sort_keys=False))


if __name__ == "__main__":
    main()
