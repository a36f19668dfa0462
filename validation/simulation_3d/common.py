"""Settings and the simulation shared by the 3D simulation notebook and its gammapy reference.

Two overlapping sources seen by CTA South (prod5 IRFs, 20 deg zenith): a point source and a
Gaussian (sigma 0.1 deg) 0.15 deg apart, plus the IRF background, simulated as **events** for
three 30-minute observations wobbled 0.7 deg around them (fixed seeds), written as DL3 with
``write_data_store``, read back with ``DataStore``, reduced on 2.0 x 2.0 deg at 0.04 deg
(50 x 50 pixels, CAR, ICRS) with 6 reconstructed-energy bins from 0.3 to 30 TeV (16 true-energy bins from
0.2 to 50 TeV)
(``MapDatasetMaker``, ``SafeMaskMaker`` offset-max 2.5 deg, ``FoVBackgroundMaker`` outside
0.5 deg of the centre) and stacked. ``notebooks/simulation_3d.ipynb`` runs the same steps inline (it imports nothing from
here); ``gammapy_reference.py`` calls :func:`simulate_dataset` and fits the written dataset
with gammapy.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
IRF_FILE = "$GAMMAPY_DATA/cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
CENTER = (83.0, -5.0)  # ICRS (deg): centre of the map, between the two sources
WOBBLE_DEG = 0.7
#: (obs_id, position angle of the pointing around CENTER in deg, seed)
OBSERVATIONS = ((1, 0.0, 11), (2, 120.0, 12), (3, 240.0, 13))
LIVETIME_H = 0.5
WIDTH_DEG, BINSZ_DEG = 2.0, 0.04
ENERGY_TEV = (0.3, 30.0, 6)
ENERGY_TRUE_TEV = (0.2, 50.0, 16)
OFFSET_MAX_DEG = 2.5
EXCLUSION_RADIUS_DEG = 0.5  # around CENTER, for the FoV background normalisation
NAME = "sim3d"
#: true parameters (gammapy's names; amplitude in cm-2 s-1 TeV-1, positions and sigma in deg)
TRUTH = {
    "point": {"lon_0": 83.02, "lat_0": -4.94, "index": 2.3, "amplitude": 5.0e-12},
    "gauss": {"lon_0": 83.0, "lat_0": -5.075, "sigma": 0.1, "index": 2.7, "amplitude": 8.0e-12},
}
#: parameters compared, "source.name"
PARAMS = (
    "point.lon_0",
    "point.lat_0",
    "point.index",
    "point.amplitude",
    "gauss.lon_0",
    "gauss.lat_0",
    "gauss.sigma",
    "gauss.index",
    "gauss.amplitude",
    "bkg.norm",
    "bkg.tilt",
)


def truth_models():
    """The simulated sources (gammaprob models with fixed parameters)."""
    import astropy.units as u

    from gammaprob.modeling import SkyModel, spatial, spectral

    p, g = TRUTH["point"], TRUTH["gauss"]
    point = SkyModel(
        spectral=spectral.PowerLaw(
            index=p["index"], amplitude=p["amplitude"] * u.Unit("cm-2 s-1 TeV-1"), reference=1.0
        ),
        spatial=spatial.Point(lon_0=p["lon_0"], lat_0=p["lat_0"], frame="icrs"),
        name="point",
    )
    gauss = SkyModel(
        spectral=spectral.PowerLaw(
            index=g["index"], amplitude=g["amplitude"] * u.Unit("cm-2 s-1 TeV-1"), reference=1.0
        ),
        spatial=spatial.Gaussian(
            lon_0=g["lon_0"], lat_0=g["lat_0"], sigma=g["sigma"] * u.deg, frame="icrs"
        ),
        name="gauss",
    )
    return [point, gauss]


def simulate_dataset(folder: Path):
    """Simulate the events, write and read back the DL3, reduce and stack.

    Parameters
    ----------
    folder : pathlib.Path
        Empty folder for the DL3 files.

    Returns
    -------
    gammaprob.datasets.MapDataset
        The stacked dataset (name ``"sim3d"``).
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammaprob.data import DataStore, write_data_store
    from gammaprob.makers import (
        FoVBackgroundMaker,
        MapDatasetMaker,
        MapTemplate,
        SafeMaskMaker,
        make_exclusion_mask,
        reduce,
    )
    from gammaprob.maps import MapAxis, WcsGeom
    from gammaprob.simulate import EventSampler, make_observation, read_irfs

    irfs = read_irfs(IRF_FILE)
    center = SkyCoord(*CENTER, unit="deg", frame="icrs")
    simulated = []
    for obs_id, angle, seed in OBSERVATIONS:
        pointing = center.directional_offset_by(angle * u.deg, WOBBLE_DEG * u.deg)
        observation = make_observation(irfs, pointing, LIVETIME_H * u.h, obs_id=obs_id)
        sampler = EventSampler(random_state=seed, max_offset=OFFSET_MAX_DEG * u.deg)
        simulated.append(sampler.run(observation, truth_models()))
    write_data_store(simulated, folder)
    observations = DataStore.from_dir(folder).get_observations([o[0] for o in OBSERVATIONS])
    geom = WcsGeom.create(
        skydir=center,
        width=WIDTH_DEG,
        binsz=BINSZ_DEG,
        frame="icrs",
        proj="CAR",
        axes=[MapAxis.from_energy_bounds(*ENERGY_TEV[:2], ENERGY_TEV[2], unit="TeV")],
    )
    energy_true = MapAxis.from_energy_bounds(
        *ENERGY_TRUE_TEV[:2], ENERGY_TRUE_TEV[2], unit="TeV", name="energy_true"
    )
    exclusion = make_exclusion_mask(geom, [CircleSkyRegion(center, EXCLUSION_RADIUS_DEG * u.deg)])
    makers = [
        MapDatasetMaker(),
        SafeMaskMaker(["offset-max"], offset_max=f"{OFFSET_MAX_DEG} deg"),
        FoVBackgroundMaker(exclusion_mask=exclusion),
    ]
    template = MapTemplate(geom, energy_true, name=NAME)
    reduction = reduce(template, observations, makers, stack=True, progress=False, name=NAME)
    return reduction.datasets[0]
