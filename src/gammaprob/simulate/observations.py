"""Simulated observations: IRF files, pointings, and datasets by Poisson draws of npred.

:func:`read_irfs` reads the four IRFs of a full-enclosure IRF file (CTA prod5, the 1DC
``irf_file.fits``); :func:`make_observation` turns IRFs, a pointing, a livetime and a start
time into an :class:`~gammaprob.data.Observation` with an empty event list whose header
carries the pointing, times and livetime (what the makers and :class:`EventSampler` read);
:func:`simulate_map_dataset` and :func:`simulate_observation_spectrum` reduce it with the
makers and draw Poisson counts from the predicted counts (no events: fast);
:func:`survey_pointings` and :class:`SimulatedSurvey` give pointing patterns of many
observations whose datasets are built one at a time, on demand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time

from ._sampling import as_rng

__all__ = [
    "IRF_HDUS",
    "SimulatedSurvey",
    "make_observation",
    "read_irfs",
    "simulate_map_dataset",
    "simulate_observation_spectrum",
    "survey_pointings",
]

#: Observation slot -> HDU name of a GADF full-enclosure IRF file (CTA prod5, 1DC).
IRF_HDUS = {
    "aeff": "EFFECTIVE AREA",
    "edisp": "ENERGY DISPERSION",
    "psf": "POINT SPREAD FUNCTION",
    "bkg": "BACKGROUND",
}
#: Default start of simulated observations (2025-01-01, TT).
T_START_DEFAULT = Time("2025-01-01T00:00:00", scale="tt")


def read_irfs(path: str | os.PathLike) -> dict:
    """Read the effective area, energy dispersion, PSF and background of one IRF file.

    Parameters
    ----------
    path : str or path-like
        GADF IRF file, e.g.
        ``$GAMMAPY_DATA/cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz``
        or ``$GAMMAPY_DATA/cta-1dc/caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits``
        (``$GAMMAPY_DATA`` and ``~`` are expanded).

    Returns
    -------
    dict
        ``{"aeff": ..., "edisp": ..., "psf": ..., "bkg": ...}`` (gammaprob IRF objects).
    """
    from gammaprob.irf import read_irf
    from gammaprob.utils.paths import resolve_data_path

    path = resolve_data_path(path)
    return {slot: read_irf(path, hdu) for slot, hdu in IRF_HDUS.items()}


def make_observation(
    irfs: dict,
    pointing: SkyCoord,
    livetime: u.Quantity,
    *,
    obs_id: int = 1,
    tstart: Time = T_START_DEFAULT,
    deadc: float = 1.0,
    gti: Sequence[tuple[Time, Time]] | None = None,
    location=None,
    target: str | None = None,
):
    """Build an observation without events: IRFs, fixed pointing, GTIs and an events header.

    Parameters
    ----------
    irfs : dict
        IRFs by slot (``aeff``, ``edisp``, ``psf``, ``bkg``, ``rad_max``), e.g. from
        :func:`read_irfs`; missing ones stay None.
    pointing : `~astropy.coordinates.SkyCoord`
        Fixed pointing position.
    livetime : `~astropy.units.Quantity`
        Live time; the ontime is ``livetime / deadc``.
    obs_id : int
        Observation id.
    tstart : `~astropy.time.Time`
        Start of the (single) good time interval, also the MET reference epoch.
    deadc : float
        Dead-time correction factor in (0, 1] (``LIVETIME / ONTIME``).
    gti : sequence of (Time, Time), optional
        Good time intervals instead of ``[tstart, tstart + livetime / deadc]``; then
        ``livetime`` must equal ``deadc`` times their summed duration.
    location : `~astropy.coordinates.EarthLocation`, optional
        Observatory (written to the header as ``GEOLON``/``GEOLAT``/``ALTITUDE``).
    target : str, optional
        ``OBJECT`` name.

    Returns
    -------
    gammaprob.data.Observation
        With an empty event list carrying the header.
    """
    from gammaprob.data import GTI, EventList, FixedPointing, Observation
    from gammaprob.data._time import TimeRef

    unknown = set(irfs) - {"aeff", "edisp", "psf", "bkg", "rad_max"}
    if unknown:
        raise ValueError(
            f"unknown IRF slot(s) {sorted(unknown)}; expected aeff, edisp, psf, bkg, rad_max"
        )
    livetime_s = u.Quantity(livetime).to_value(u.s)
    if not livetime_s > 0:
        raise ValueError(f"livetime must be > 0, got {livetime}")
    if not 0 < deadc <= 1:
        raise ValueError(f"deadc must be in (0, 1], got {deadc}")
    if not isinstance(tstart, Time) or not tstart.isscalar:
        raise TypeError(f"tstart must be a scalar astropy Time, got {tstart!r}")
    ref = TimeRef.from_time(tstart.tt)
    ontime = livetime_s / deadc
    if gti is None:
        gti_obj = GTI(0.0 * u.s, ontime * u.s, ref)
    else:
        gti_obj = GTI.from_time_intervals(gti, time_ref=ref)
        total = float(gti_obj.time_sum.to_value(u.s))
        if not np.isclose(total * deadc, livetime_s, rtol=1e-9):
            raise ValueError(
                f"livetime {livetime_s} s differs from deadc x the GTIs' duration "
                f"({deadc} x {total} s)"
            )
        ontime = total
    fixed = FixedPointing(icrs=pointing.icrs, location=location)
    header = {
        **ref.to_header(),
        **fixed.to_header(),
        "OBS_ID": int(obs_id),
        "TSTART": float(gti_obj.met_start.to_value(u.s).min()),
        "TSTOP": float(gti_obj.met_stop.to_value(u.s).max()),
        "ONTIME": ontime,
        "LIVETIME": livetime_s,
        "DEADC": float(deadc),
        "EXTNAME": "EVENTS",
        "HDUCLAS1": "EVENTS",
        "TELESCOP": "CTA",
        "CREATOR": "gammaprob",
    }
    if target is not None:
        header["OBJECT"] = str(target)
    table = Table(
        {
            "EVENT_ID": np.zeros(0, np.int64),
            "TIME": np.zeros(0) * u.s,
            "RA": np.zeros(0) * u.deg,
            "DEC": np.zeros(0) * u.deg,
            "ENERGY": np.zeros(0) * u.TeV,
        },
        meta=header,
    )
    return Observation(int(obs_id), events=EventList(table), gti=gti_obj, **irfs)


def _npred_map(dataset, models) -> np.ndarray:
    from gammaprob.forward import MapResponse, current_values, npred_map

    response = MapResponse.from_dataset(dataset)
    models = list(models)
    npred = npred_map(response, models, current_values(models))
    return npred.reshape(dataset.counts.data.shape)


def _check_background(observation, background: bool) -> None:
    from .events import SamplingError

    if background and observation.bkg is None:
        raise SamplingError(
            f"observation {observation.obs_id} has no background IRF (bkg) to predict the "
            "background from: add one (read_irfs(path) or Background2D/Background3D."
            "from_power_law) or pass background=False for a dataset without background"
        )


def simulate_map_dataset(
    models, template, observation, *, random_state=None, name=None, background: bool = True
):
    """Reduce an observation to a map dataset and draw its counts from the models' npred.

    Exposure, background, PSF map and energy-dispersion map come from
    :class:`~gammaprob.makers.MapDatasetMaker` (no events are needed); the counts are
    ``Poisson(npred)`` with npred from :func:`gammaprob.forward.npred_map` (sources plus
    the background map, scaled by a ``FoVBackgroundModel`` if one is given).

    Parameters
    ----------
    models : sequence of SkyModel (and FoVBackgroundModel)
        The truth; free parameters enter at their current ``value``.
    template : gammaprob.makers.MapTemplate
        Geometry and axes.
    observation : gammaprob.data.Observation
        IRFs, pointing and times (e.g. :func:`make_observation`).
    random_state : numpy.random.Generator, int or None
        Random generator or seed.
    name : str, optional
        Dataset name (default ``"{template.name}-{obs_id}"``).
    background : bool
        Predict the background from ``observation.bkg`` (an error when it has none);
        False gives a dataset without background.

    Returns
    -------
    gammaprob.datasets.MapDataset
        With simulated counts; ``meta["simulated"]`` is True.
    """
    from gammaprob.makers import MapDatasetMaker

    _check_background(observation, background)
    rng = as_rng(random_state)
    selection = ["exposure", "psf", "edisp"] + (["background"] if background else [])
    dataset = MapDatasetMaker(selection=selection).run(template, observation)
    if name is not None:
        dataset = dataset.replace(name=str(name))
    npred = _npred_map(dataset, models)
    counts = dataset.counts.copy(data=rng.poisson(npred))
    return dataset.replace(counts=counts, meta={**dataset.meta, "simulated": True})


def simulate_observation_spectrum(
    models,
    template,
    observation,
    *,
    random_state=None,
    alpha: float | None = None,
    background: bool = True,
):
    """Reduce an observation to a 1D (ON region) dataset and draw its counts.

    :class:`~gammaprob.makers.SpectrumDatasetMaker` gives the exposure, energy dispersion
    and the background in the ON region (from the background IRF); the counts are drawn by
    :func:`~gammaprob.simulate.simulate_spectrum_dataset` (with ``alpha``: an on/off
    dataset with OFF counts ``Poisson(background / alpha)``).

    Parameters
    ----------
    models : SkyModel or sequence
        Sources (spectral parts are folded; the ON region is assumed to contain them).
    template : gammaprob.makers.SpectrumTemplate
        ON region and energy axes.
    observation : gammaprob.data.Observation
        IRFs, pointing and times.
    random_state : numpy.random.Generator, int or None
        Random generator or seed.
    alpha : float, optional
        ON/OFF exposure ratio for an on/off dataset.
    background : bool
        Predict the background from ``observation.bkg`` (an error when it has none);
        False gives a dataset without background.

    Returns
    -------
    SpectrumDataset or SpectrumDatasetOnOff
    """
    from gammaprob.makers import SpectrumDatasetMaker

    from .spectrum import simulate_spectrum_dataset

    _check_background(observation, background)
    selection = ["exposure", "edisp"] + (["background"] if background else [])
    dataset = SpectrumDatasetMaker(selection=selection).run(template, observation)
    return simulate_spectrum_dataset(models, dataset, rng=as_rng(random_state), alpha=alpha)


def survey_pointings(
    lon_range: u.Quantity = [-60, 60] * u.deg,
    lat_values: u.Quantity = [-1, 1] * u.deg,
    lon_step: u.Quantity = 1 * u.deg,
    frame: str = "galactic",
) -> SkyCoord:
    """Return a survey pattern: rows of pointings at fixed latitudes, evenly spaced in longitude.

    Parameters
    ----------
    lon_range : `~astropy.units.Quantity`
        First and last longitude (inclusive where the step divides the range).
    lat_values : `~astropy.units.Quantity`
        Latitudes of the rows.
    lon_step : `~astropy.units.Quantity`
        Spacing in longitude (> 0).
    frame : str
        Frame of the longitudes and latitudes (``"galactic"`` or ``"icrs"``).

    Returns
    -------
    `~astropy.coordinates.SkyCoord`
        ``len(lat_values) * n_lon`` pointings, row by row.
    """
    lon_range = u.Quantity(lon_range).to_value(u.deg)
    step = u.Quantity(lon_step).to_value(u.deg)
    if not step > 0:
        raise ValueError(f"lon_step must be > 0, got {lon_step}")
    if np.shape(lon_range) != (2,) or not lon_range[1] >= lon_range[0]:
        raise ValueError(f"lon_range must be [min, max] with min <= max, got {lon_range}")
    lon = np.arange(lon_range[0], lon_range[1] + 1e-9 * step, step)
    lat = np.atleast_1d(u.Quantity(lat_values).to_value(u.deg))
    lon_grid, lat_grid = np.meshgrid(lon, lat)
    return SkyCoord(lon_grid.ravel() * u.deg, lat_grid.ravel() * u.deg, frame=frame)


@dataclass
class SimulatedSurvey:
    """Many simulated observations whose datasets are built one at a time, on demand.

    Parameters
    ----------
    irfs : dict
        IRFs by slot (see :func:`read_irfs`), shared by every observation.
    pointings : `~astropy.coordinates.SkyCoord`
        One pointing per observation (e.g. :func:`survey_pointings`).
    livetime : `~astropy.units.Quantity`
        Live time of each observation.
    tstart : `~astropy.time.Time`
        Start of the first observation; each next one starts when the previous ends.
    first_obs_id : int
        Id of the first observation (then consecutive).
    deadc : float
        Dead-time correction factor.

    Examples
    --------
    >>> survey = SimulatedSurvey(read_irfs(path), survey_pointings(), 0.5 * u.h)  # doctest: +SKIP
    >>> for dataset in survey.map_datasets(models, template, random_state=1):  # doctest: +SKIP
    ...     ...
    """

    irfs: dict
    pointings: SkyCoord
    livetime: u.Quantity
    tstart: Time = field(default_factory=lambda: T_START_DEFAULT)
    first_obs_id: int = 1
    deadc: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.pointings, SkyCoord) or self.pointings.isscalar:
            raise TypeError("pointings must be a SkyCoord array (one per observation)")
        self.livetime = u.Quantity(self.livetime)

    def __len__(self) -> int:
        return len(self.pointings)

    @property
    def obs_ids(self) -> list[int]:
        """Observation ids, in order."""
        return list(range(self.first_obs_id, self.first_obs_id + len(self)))

    def observation(self, index: int):
        """Build the ``index``-th observation (on each call; nothing is cached)."""
        if not 0 <= index < len(self):
            raise IndexError(f"observation index {index} out of range 0..{len(self) - 1}")
        ontime = self.livetime / self.deadc
        return make_observation(
            self.irfs,
            self.pointings[index],
            self.livetime,
            obs_id=self.first_obs_id + index,
            tstart=self.tstart + index * ontime,
            deadc=self.deadc,
        )

    def observations(self) -> Iterator:
        """Iterate over the observations lazily."""
        for index in range(len(self)):
            yield self.observation(index)

    def map_datasets(self, models, template, *, random_state=None) -> Iterator:
        """Iterate lazily over simulated map datasets, one per observation.

        Parameters
        ----------
        models : sequence of SkyModel
            The truth.
        template : gammaprob.makers.MapTemplate
            Geometry; its WCS is re-centred on each pointing
            (:meth:`~gammaprob.maps.WcsGeom.create` arguments of the template are kept).
        random_state : numpy.random.Generator, int or None
            One generator for the whole survey.
        """
        rng = as_rng(random_state)
        for index in range(len(self)):
            obs = self.observation(index)
            local = _recentre(template, self.pointings[index])
            yield simulate_map_dataset(models, local, obs, random_state=rng)


def _recentre(template, pointing: SkyCoord):
    """Copy a map template with its WCS geometry centred on ``pointing``."""
    import dataclasses

    from gammaprob.maps import WcsGeom

    geom = template.geom
    if not isinstance(geom, WcsGeom):
        raise TypeError("survey map datasets need a WcsGeom template")
    frame = "galactic" if geom.frame == "galactic" else "icrs"
    centre = pointing.transform_to(frame)
    ny, nx = geom.data_shape[-2:]
    new = WcsGeom.create(
        skydir=centre,
        npix=(nx, ny),
        binsz=float(np.abs(geom.pixel_scales[0].to_value(u.deg))),
        frame=frame,
        proj=geom.projection,
        axes=list(geom.axes),
    )
    return dataclasses.replace(template, geom=new)
