"""H.E.S.S. DR1 runs around a target and gammapy's stacked map reduction of them.

Shared by the MSH 15-52 studies (``msh1552/`` and ``significance_maps/``): both select the DR1
runs pointed within a cone around their target from the observation index and reduce them with
gammapy's ``MapDatasetMaker`` (counts, exposure, background, PSF, energy dispersion) and an
offset-max ``SafeMaskMaker``, stacked on a CAR map in ICRS. Each study's ``common.py`` puts this
folder on ``sys.path`` and declares its :class:`Stacking`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def data_root() -> Path:
    """The gammapy-data folder (``$GAMMAPY_DATA``)."""
    root = os.environ.get("GAMMAPY_DATA")
    if not root:
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder")
    return Path(root).expanduser()


def obs_ids(target: tuple[float, float], cone_deg: float) -> list[int]:
    """The DR1 runs pointed within ``cone_deg`` of ``target`` (from the observation index).

    Parameters
    ----------
    target : tuple of float
        Right ascension and declination of the cone centre (ICRS, deg).
    cone_deg : float
        Cone radius (deg).

    Returns
    -------
    list of int
        Observation ids, in the order of the index.
    """
    import numpy as np
    from astropy.table import Table

    table = Table.read(data_root() / "hess-dl3-dr1" / "obs-index.fits.gz")
    ra, dec = np.deg2rad(table["RA_PNT"]), np.deg2rad(table["DEC_PNT"])
    ra0, dec0 = np.deg2rad(target[0]), np.deg2rad(target[1])
    cos = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    sep = np.rad2deg(np.arccos(np.clip(cos, -1, 1)))
    return [int(i) for i in table["OBS_ID"][sep < cone_deg]]


@dataclass(frozen=True)
class Stacking:
    """The DR1 runs pointed within ``cone_deg`` of ``target``, stacked on a CAR map (ICRS).

    Parameters
    ----------
    target : tuple of float
        Map centre and cone centre: right ascension and declination (ICRS, deg).
    cone_deg : float
        Radius of the run selection (deg).
    width_deg, binsz_deg : float
        Map width and pixel size (deg).
    energy_tev, energy_true_tev : tuple
        ``(min, max, n_bins)`` of the reconstructed and true energy axes (TeV, log-spaced).
    offset_max_deg : float
        Safe mask: largest offset from the pointing (deg).
    name : str
        Name of the stacked dataset.
    """

    target: tuple[float, float]
    cone_deg: float
    width_deg: float
    binsz_deg: float
    energy_tev: tuple[float, float, int]
    energy_true_tev: tuple[float, float, int]
    offset_max_deg: float
    name: str = "msh"

    def obs_ids(self) -> list[int]:
        """The selected runs (:func:`obs_ids` of the cone)."""
        return obs_ids(self.target, self.cone_deg)

    def gammapy_stacked(self):
        """gammapy's stacked ``MapDataset`` of the selected runs and the number of runs.

        ``MapDatasetMaker`` (counts, exposure, background, PSF, energy dispersion) and an
        offset-max ``SafeMaskMaker`` per run, each run cut out of the map and stacked.
        """
        import astropy.units as u
        from astropy.coordinates import SkyCoord
        from gammapy.data import DataStore
        from gammapy.datasets import MapDataset
        from gammapy.makers import MapDatasetMaker, SafeMaskMaker
        from gammapy.maps import MapAxis, WcsGeom

        store = DataStore.from_dir(data_root() / "hess-dl3-dr1")
        observations = store.get_observations(self.obs_ids(), required_irf="full-enclosure")
        center = SkyCoord(*self.target, unit="deg", frame="icrs")
        e_min, e_max, n_bins = self.energy_tev
        energy = MapAxis.from_energy_bounds(e_min, e_max, n_bins, unit="TeV")
        e_min, e_max, n_bins = self.energy_true_tev
        energy_true = MapAxis.from_energy_bounds(
            e_min, e_max, n_bins, unit="TeV", name="energy_true"
        )
        geom = WcsGeom.create(
            skydir=center,
            binsz=self.binsz_deg,
            width=self.width_deg,
            frame="icrs",
            proj="CAR",
            axes=[energy],
        )
        stacked = MapDataset.create(geom, energy_axis_true=energy_true, name=self.name)
        maker = MapDatasetMaker(selection=["counts", "exposure", "background", "psf", "edisp"])
        safe = SafeMaskMaker(methods=["offset-max"], offset_max=self.offset_max_deg * u.deg)
        for observation in observations:
            dataset = maker.run(stacked.cutout(center, width=self.width_deg * u.deg), observation)
            stacked.stack(safe.run(dataset, observation))
        return stacked, len(observations)
