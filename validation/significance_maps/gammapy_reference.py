"""gammapy 2.1's ring-background significance maps and TS map of MSH 15-52 (issue 12, item 2).

Reduces the H.E.S.S. DR1 runs of ``common.py`` with gammapy's makers (stacked,
``validation/_hess_dr1.py``), applies
gammapy's ``RingBackgroundMaker`` to the stacked dataset, runs ``ExcessMapEstimator`` (Li & Ma,
with and without correlating the OFF counts) and ``TSMapEstimator`` (energy bins summed, and
one likelihood term per energy bin) on the stacked dataset with its background scaled to the
counts outside the exclusion region. Writes ``gammapy_reference.yaml``: counts and background
totals, peak values and pixels, the spread of the significance outside the exclusion region,
run times, and for each of the four compared ``sqrt_ts`` images the samples of
:func:`image_samples` (a coarse grid of pixels, a cross through the peak, quantiles and
moments), so that the notebook compares the images without importing gammapy and without a
stored image.

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
    PEAK_OFFSETS,
    QUANTILE_LEVELS,
    RING_R_IN_DEG,
    RING_WIDTH_DEG,
    SAMPLE_GRID,
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


def _rounded(values: np.ndarray) -> list:
    """Values rounded to 1e-6 (a significance's float32 precision), as nested lists."""
    return np.round(np.asarray(values, float), 6).tolist()


def image_samples(image: np.ndarray, peak: tuple[int, int]) -> dict:
    """What the notebook compares of one ``sqrt_ts`` image instead of the image itself.

    Parameters
    ----------
    image : numpy.ndarray
        ``sqrt_ts`` image, shape ``(ny, nx)``.
    peak : tuple of int
        Pixel ``(iy, ix)`` of the peak.

    Returns
    -------
    dict
        ``grid``: the values at every ``(iy, ix)`` of ``SAMPLE_GRID`` x ``SAMPLE_GRID``;
        ``peak_row`` and ``peak_column``: the values at ``PEAK_OFFSETS`` pixels from the
        peak along x and along y; ``quantiles`` at ``QUANTILE_LEVELS`` and the ``mean`` and
        ``std`` of the finite pixels (all rounded to 1e-6).
    """
    grid = np.asarray(SAMPLE_GRID)
    offsets = np.asarray(PEAK_OFFSETS)
    iy, ix = peak
    finite = image[np.isfinite(image)]
    return {
        "grid_index": grid.tolist(),
        "grid": _rounded(image[np.ix_(grid, grid)]),
        "peak_offsets": offsets.tolist(),
        "peak_row": _rounded(image[iy, ix + offsets]),
        "peak_column": _rounded(image[iy + offsets, ix]),
        "quantile_levels": list(QUANTILE_LEVELS),
        "quantiles": _rounded(np.quantile(finite, QUANTILE_LEVELS)),
        "mean": round(float(finite.mean()), 6),
        "std": round(float(finite.std()), 6),
    }


def main() -> None:
    import astropy.units as u
    import gammapy
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
        peak = peak_summary(sig)
        reference[f"excess_{label}"] = {
            "correlate_off": label == "corr",
            "sqrt_ts_peak": peak,
            "npred_excess_at_peak": float(
                excess[label]["npred_excess"].data[0][tuple(peak["pixel"])]
            ),
            "sqrt_ts_outside_exclusion": off_spread(sig, excl),
            "n_finite": int(np.isfinite(sig).sum()),
            "sqrt_ts_samples": image_samples(sig, tuple(peak["pixel"])),
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
            "sqrt_ts_samples": image_samples(sqrt_ts, tuple(peak["pixel"])),
        }
    reference["times"] = times
    text = yaml.safe_dump(reference, sort_keys=False, default_flow_style=None, width=100)
    (HERE / "gammapy_reference.yaml").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
