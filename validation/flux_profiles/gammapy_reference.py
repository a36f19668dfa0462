"""gammapy 2.1's flux profiles of the Fermi-LAT Galactic centre (issue 12, item 4).

Runs gammapy's ``FluxProfileEstimator`` (profile-likelihood errors and ``n_sigma_ul = 2``
upper limits) on the two profiles of ``common.py`` and writes ``gammapy_reference.yaml``: per
profile bin the distance ``x_ref`` (deg), counts, background (``npred_background``), norm (likelihood maximum),
symmetric and asymmetric errors, upper limit, TS and the reference flux (cm-2 s-1) of each
energy group, plus the run times.

Run with the validation extra installed:
``GAMMAPY_DATA=... python validation/flux_profiles/gammapy_reference.py``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import yaml
from common import (
    HERE,
    LINE_EDGES_GEV,
    LINE_END,
    LINE_HEIGHT_DEG,
    LINE_NBIN,
    LINE_START,
    RADIAL_CENTER,
    RADIAL_EDGES_GEV,
    RADIAL_NBIN,
    RADIAL_RADIUS_DEG,
    SPECTRAL_INDEX,
    dataset_path,
)

#: gammapy columns stored per profile bin and energy group
COLUMNS = ("counts", "norm", "norm_err", "norm_errn", "norm_errp")
COLUMNS += ("norm_ul", "ts", "sqrt_ts")


def profile_summary(profile, estimator_s: float) -> dict:
    """Per-bin columns of a gammapy flux profile as nested lists ``[bin][energy group]``."""
    table = profile.to_table(sed_type="likelihood", format="profile")
    out = {"estimator_s": estimator_s}
    out["x_ref_deg"] = np.ravel(table["x_ref"].quantity.to_value("deg")).tolist()
    for name in COLUMNS:
        values = np.asarray(table[name], dtype=float)
        out[name] = values.reshape(len(table), -1).tolist()
    out["npred_background"] = profile.npred_background.data.reshape(len(table), -1).tolist()
    out["ref_flux_cm2s"] = np.ravel(profile.flux_ref.to_value("cm-2 s-1")).tolist()
    return out


def main() -> None:
    import astropy.units as u
    import gammapy
    from astropy.coordinates import SkyCoord
    from gammapy.datasets import MapDataset
    from gammapy.estimators import FluxProfileEstimator
    from gammapy.modeling.models import PowerLawSpectralModel
    from gammapy.utils.regions import (
        make_concentric_annulus_sky_regions,
        make_orthogonal_rectangle_sky_regions,
    )

    warnings.simplefilter("ignore")  # gammapy divides by zero-valued reference columns
    dataset = MapDataset.read(dataset_path(), name="fermi-dataset")
    spectrum = PowerLawSpectralModel(index=SPECTRAL_INDEX)
    line = make_orthogonal_rectangle_sky_regions(
        start_pos=SkyCoord(*LINE_START, unit="deg", frame="galactic"),
        end_pos=SkyCoord(*LINE_END, unit="deg", frame="galactic"),
        wcs=dataset.counts.geom.wcs,
        height=LINE_HEIGHT_DEG * u.deg,
        nbin=LINE_NBIN,
    )
    radial = make_concentric_annulus_sky_regions(  # nbin edges, the first at 1e-5 deg
        center=SkyCoord(*RADIAL_CENTER, unit="deg", frame="galactic"),
        radius_max=RADIAL_RADIUS_DEG * u.deg,
        radius_min=1e-5 * u.deg,
        nbin=RADIAL_NBIN + 1,
    )
    reference = {"gammapy": gammapy.__version__, "dataset": str(dataset_path().name)}
    for label, regions, edges in (
        ("longitude", line, LINE_EDGES_GEV),
        ("radial", radial, RADIAL_EDGES_GEV),
    ):
        estimator = FluxProfileEstimator(
            regions=regions,
            spectral_model=spectrum,
            energy_edges=list(edges) * u.GeV,
            selection_optional=["errn-errp", "ul"],
        )
        start = time.perf_counter()
        profile = estimator.run(datasets=dataset)
        reference[label] = profile_summary(profile, time.perf_counter() - start)
        reference[label]["energy_edges_gev"] = list(edges)
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(reference, sort_keys=False))
    print(yaml.safe_dump(reference, sort_keys=False)[:3000])


if __name__ == "__main__":
    main()
