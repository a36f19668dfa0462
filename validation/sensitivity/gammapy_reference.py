"""gammapy's CTA prod5 point-source sensitivity (the frequentist reference of issue 12, item 3).

Builds the dataset as gammapy's sensitivity tutorial does (settings in ``common.py``) and runs
``gammapy.estimators.SensitivityEstimator`` with its defaults (gamma_min 10, 5 sigma, 5 %
background systematics). Writes ``gammapy_reference.yaml``: per reconstructed-energy bin the
energies, ``e2dnde`` (erg cm-2 s-1), the excess and background counts and the criterion, and
the dataset's inputs (exposure per true-energy bin in m2 s, background before and after the
containment scaling, the 68 % containment radii), so that the estimator can also be compared on
identical inputs.

Run with the validation extra installed: ``python validation/sensitivity/gammapy_reference.py``.
"""

from __future__ import annotations

import time

import yaml
from common import (
    ALPHA,
    CONTAINMENT,
    ENERGY_TEV,
    ENERGY_TRUE_TEV,
    HERE,
    IRF_FILE,
    LIVETIME_H,
    OFFSET_DEG,
    ON_RADIUS_DEG,
    POINTING_DEG,
    SETTINGS,
    SOURCE_DEG,
    data_root,
)


def make_dataset():
    import astropy.units as u
    import numpy as np
    from astropy.coordinates import SkyCoord
    from gammapy.data import FixedPointingInfo, Observation, observatory_locations
    from gammapy.datasets import SpectrumDataset, SpectrumDatasetOnOff
    from gammapy.irf import load_irf_dict_from_file
    from gammapy.makers import SpectrumDatasetMaker
    from gammapy.maps import MapAxis, RegionGeom
    from regions import CircleSkyRegion

    energy_axis = MapAxis.from_energy_bounds(
        ENERGY_TEV[0], ENERGY_TEV[1], ENERGY_TEV[2], unit="TeV"
    )
    energy_axis_true = MapAxis.from_energy_bounds(
        ENERGY_TRUE_TEV[0], ENERGY_TRUE_TEV[1], ENERGY_TRUE_TEV[2], unit="TeV", name="energy_true"
    )
    region = CircleSkyRegion(SkyCoord(*SOURCE_DEG, unit="deg"), ON_RADIUS_DEG * u.deg)
    geom = RegionGeom.create(region, axes=[energy_axis])
    empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_axis_true)
    obs = Observation.create(
        pointing=FixedPointingInfo(fixed_icrs=SkyCoord(*POINTING_DEG, unit="deg")),
        irfs=load_irf_dict_from_file(data_root() / IRF_FILE),
        livetime=LIVETIME_H * u.h,
        location=observatory_locations["cta_south"],
    )
    dataset = SpectrumDatasetMaker(selection=["exposure", "edisp", "background"]).run(empty, obs)
    background_raw = dataset.background.data.ravel().copy()
    dataset.exposure *= CONTAINMENT
    on_radii = obs.psf.containment_radius(
        energy_true=energy_axis.center, offset=OFFSET_DEG * u.deg, fraction=CONTAINMENT
    )
    factor = (1 - np.cos(on_radii)) / (1 - np.cos(region.radius))
    dataset.background *= factor.value.reshape((-1, 1, 1))
    onoff = SpectrumDatasetOnOff.from_spectrum_dataset(
        dataset=dataset, acceptance=1, acceptance_off=1 / ALPHA
    )
    inputs = {
        "exposure_m2_s": [float(x) for x in dataset.exposure.quantity.to_value("m2 s").ravel()],
        "background_raw": [float(x) for x in background_raw],
        "background": [float(x) for x in dataset.background.data.ravel()],
        "on_radii_deg": [float(x) for x in on_radii.to_value("deg")],
        "livetime_s": float(obs.observation_live_time_duration.to_value("s")),
    }
    return onoff, inputs


def main() -> None:
    import gammapy
    from gammapy.estimators import SensitivityEstimator

    start = time.perf_counter()
    onoff, inputs = make_dataset()
    table = SensitivityEstimator(**SETTINGS).run(onoff)
    elapsed = time.perf_counter() - start
    reference = {
        "gammapy": gammapy.__version__,
        "settings": dict(SETTINGS),
        "alpha": ALPHA,
        "run_s": elapsed,
        "e_ref_tev": [float(x) for x in table["e_ref"].quantity.to_value("TeV")],
        "e_min_tev": [float(x) for x in table["e_min"].quantity.to_value("TeV")],
        "e_max_tev": [float(x) for x in table["e_max"].quantity.to_value("TeV")],
        "e2dnde_erg_cm2_s": [float(x) for x in table["e2dnde"].quantity.to_value("erg cm-2 s-1")],
        "excess": [float(x) for x in table["excess"]],
        "background": [float(x) for x in table["background"]],
        "criterion": [str(x) for x in table["criterion"]],
        "inputs": inputs,
    }
    (HERE / "gammapy_reference.yaml").write_text(yaml.safe_dump(reference, sort_keys=False))
    print(table)


if __name__ == "__main__":
    main()
