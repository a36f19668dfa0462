"""Event sampler: draw DL3 events from sky models and the IRFs of an observation.

:class:`EventSampler` simulates what an instrument records: for each source, photons in true
energy, true position and arrival time (from the spectral, spatial and temporal model
times the effective area), each then moved by a PSF draw and given a reconstructed energy
by an energy-dispersion draw (both at the photon's true energy and field-of-view offset);
the background events are drawn from the background IRF in reconstructed energy and
field-of-view position. The result is an :class:`~gammaprob.data.Observation` whose event
list (GADF columns plus ``MC_ID``: 0 for background, ``i + 1`` for the ``i``-th model) can
be written with :func:`gammaprob.data.write_data_store`.

Resolution (each a parameter): true and background energies are drawn on a log grid of
``bins_per_decade`` bins with a power law through the node values inside each bin (exact
for power-law spectra and areas); extended sources on cells of ``spatial_bin``, the
background on cells of ``background_bin`` (uniform per solid angle inside a cell); the PSF
and energy dispersion of a photon are those at its true-energy bin centre and at its
offset rounded to ``offset_step``. Arrival times follow the temporal model exactly
(inversion of its analytic integral).
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time

from ._sampling import (
    as_rng,
    bin_integral_loglog,
    cell_solid_angle,
    draw_cells,
    inverse_cdf,
    log_grid,
    offset_frame_cells,
    sample_in_bins,
    sample_in_cells,
    to_sky,
)

__all__ = ["EventSampler", "SamplingError"]

_MEV_PER_TEV = 1e6
_DAY = 86400.0


class SamplingError(ValueError):
    """The inputs do not define what to sample (a missing IRF, a negative rate, ...)."""


@dataclass
class _Photons:
    """True photons of one source before the instrument response."""

    energy: np.ndarray  # TeV
    lon: np.ndarray  # deg, ICRS
    lat: np.ndarray
    energy_bin: np.ndarray  # index into the true-energy grid


def _models_list(models) -> list:
    if models is None:
        return []
    if hasattr(models, "name") and (hasattr(models, "spectral")):
        return [models]
    return list(models)


def _is_background_model(model) -> bool:
    return type(model).__name__ == "FoVBackgroundModel"


def _axis_range(irf, name: str) -> tuple[float, float]:
    edges = irf.axes[name].edges
    unit = u.TeV if name.startswith("energy") else u.deg
    values = edges.to_value(unit)
    return float(values.min()), float(values.max())


class EventSampler:
    """Draw event lists from sky models and an observation's IRFs, pointing and GTIs.

    Parameters
    ----------
    random_state : numpy.random.Generator, int or None
        Random generator or seed.
    bins_per_decade : int
        True (and background reconstructed) energy grid density.
    spatial_bin : astropy.units.Quantity
        Cell size of the grid extended sources are drawn on.
    background_bin : astropy.units.Quantity
        Cell size of the field-of-view grid the background is drawn on.
    offset_step : astropy.units.Quantity
        Offsets are rounded to this step to pick the PSF and energy dispersion.
    psf_radius_max : astropy.units.Quantity
        Largest PSF displacement drawn for parametric PSFs (a PSF table uses its own rad
        range); the PSF is normalised inside it.
    max_offset : astropy.units.Quantity, optional
        Largest field-of-view offset (half-size of the square background grid, and the
        region of spatial models without a finite extent); default: the background IRF's
        range, else the effective area's offset range.
    energy_true_range, energy_range : astropy.units.Quantity, optional
        Range of true energies of source photons (default: the range common to the
        effective area, PSF and energy dispersion) and of reconstructed energies of
        background events (default: the background IRF's range).

    Examples
    --------
    >>> sampler = EventSampler(random_state=1)  # doctest: +SKIP
    >>> simulated = sampler.run(observation, [crab])  # doctest: +SKIP
    >>> simulated.events.table["MC_ID"]  # doctest: +SKIP
    """

    def __init__(
        self,
        random_state=None,
        *,
        bins_per_decade: int = 50,
        spatial_bin: u.Quantity = 0.01 * u.deg,
        background_bin: u.Quantity = 0.05 * u.deg,
        offset_step: u.Quantity = 0.05 * u.deg,
        psf_radius_max: u.Quantity = 2 * u.deg,
        max_offset: u.Quantity | None = None,
        energy_true_range: u.Quantity | None = None,
        energy_range: u.Quantity | None = None,
    ) -> None:
        self.rng = as_rng(random_state)
        self.bins_per_decade = int(bins_per_decade)
        self.spatial_bin = _positive_angle(spatial_bin, "spatial_bin")
        self.background_bin = _positive_angle(background_bin, "background_bin")
        self.offset_step = _positive_angle(offset_step, "offset_step")
        self.psf_radius_max = _positive_angle(psf_radius_max, "psf_radius_max")
        self.max_offset = None if max_offset is None else _positive_angle(max_offset, "max_offset")
        self.energy_true_range = _energy_pair(energy_true_range, "energy_true_range")
        self.energy_range = _energy_pair(energy_range, "energy_range")

    # ------------------------------------------------------------------ public
    def run(self, observation, models=None, *, background: bool = True, obs_id: int | None = None):
        """Simulate the events of one observation.

        Parameters
        ----------
        observation : gammaprob.data.Observation
            IRFs (``aeff``, ``psf``, ``edisp``; ``bkg`` for the background), GTIs and an
            events header with the pointing, ``LIVETIME``/``DEADC`` and time reference
            (e.g. from :func:`~gammaprob.simulate.make_observation` or a real run).
        models : SkyModel or sequence, optional
            Sources (each with a spatial component; its temporal component, if any, gives
            the light curve) and at most one ``FoVBackgroundModel`` (its spectral
            correction scales the background rate).
        background : bool
            Draw background events from ``observation.bkg``.
        obs_id : int, optional
            Id of the simulated observation (default: the input's).

        Returns
        -------
        gammaprob.data.Observation
            The same IRFs and GTIs with the simulated events (sorted by time).
        """
        from gammaprob.data import EventList, Observation
        from gammaprob.makers._irf_eval import observation_times

        models = _models_list(models)
        header = self._header(observation)
        pointing = _pointing(observation)
        ontime, livetime = observation_times(observation)
        deadc = livetime / ontime if ontime > 0 else 1.0
        gti = observation.gti
        starts, stops = gti.time_start, gti.time_stop
        parts = []
        self._lost = 0
        bkg_factor = None
        for model in models:
            if _is_background_model(model):
                if bkg_factor is not None:
                    raise SamplingError("more than one FoVBackgroundModel given")
                if getattr(model, "has_gradient", False):
                    raise SamplingError(
                        f"background model {model.name!r} has a spatial gradient, which the "
                        "event sampler does not apply; sample without the gradient (or with "
                        "simulate_map_dataset, which folds the whole model)"
                    )
                bkg_factor = model.spectral
        if background:
            parts.append(self._background(observation, pointing, ontime, bkg_factor, starts, stops))
        sources = [m for m in models if not _is_background_model(m)]
        for index, model in enumerate(sources, start=1):
            parts.append(self._source(observation, pointing, model, deadc, starts, stops, index))
        table = self._table(parts, header)
        table.meta["NLOST"] = self._lost
        events = EventList(table)
        obs_id = observation.obs_id if obs_id is None else int(obs_id)
        events.table.meta["OBS_ID"] = obs_id
        slots = {k: observation._slots[k] for k in ("aeff", "edisp", "psf", "bkg", "rad_max")}
        return Observation(obs_id, events=events, gti=gti, **slots)

    def run_dataset(self, dataset, models=None, *, background: bool = True):
        """Draw events from the predicted counts of a map dataset.

        Each component (background, then each source) gives ``Poisson(npred)`` events per
        bin, placed uniformly inside the bin (see
        :func:`~gammaprob.simulate.sample_dataset_events`, which this calls with this
        sampler's random generator; the resolution arguments do not apply: the dataset's
        binning is the resolution).

        Parameters
        ----------
        dataset : gammaprob.datasets.MapDataset
            WCS map dataset with exposure, PSF, energy dispersion, GTIs and a background
            map (when ``background``).
        models : SkyModel or sequence, optional
            Sources and at most one ``FoVBackgroundModel``.
        background : bool
            Draw background events from the dataset's background map.

        Returns
        -------
        gammaprob.data.EventList
            Reconstructed events with ``MC_ID``.
        """
        from .dataset_events import sample_dataset_events

        return sample_dataset_events(dataset, models, random_state=self.rng, background=background)

    # ------------------------------------------------------------------ header and output
    @staticmethod
    def _header(observation) -> dict:
        header, _ = observation._events_header()
        if header is None:
            raise SamplingError(
                f"observation {observation.obs_id} has no events header (pointing, LIVETIME, "
                "time reference): build it with gammaprob.simulate.make_observation(...)"
            )
        if observation.gti is None:
            raise SamplingError(
                f"observation {observation.obs_id} has no GTI: the arrival times are drawn "
                "inside the good time intervals"
            )
        return dict(header)

    def _table(self, parts, header: dict) -> Table:
        from gammaprob.data._time import TimeRef

        ref = TimeRef.from_header(header, hdu="EVENTS")
        time = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
        ra = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
        dec = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
        energy = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0)
        mc_id = np.concatenate([p[4] for p in parts]) if parts else np.zeros(0, np.int32)
        met = ref.to_met(Time(time, format="mjd", scale="tt")) if time.size else time
        order = np.argsort(met, kind="stable")
        table = Table(
            {
                "EVENT_ID": np.arange(1, time.size + 1, dtype=np.int64),
                "TIME": np.asarray(met, float)[order] * u.s,
                "RA": ra[order] * u.deg,
                "DEC": dec[order] * u.deg,
                "ENERGY": energy[order] * u.TeV,
                "MC_ID": mc_id[order].astype(np.int32),
            }
        )
        meta = {k: v for k, v in header.items() if k not in ("NAXIS1", "NAXIS2", "TFIELDS")}
        meta = {k: v for k, v in meta.items() if not k.startswith(("TTYPE", "TFORM", "TUNIT"))}
        meta.update({"EXTNAME": "EVENTS", "HDUCLAS1": "EVENTS", "CREATOR": "gammaprob"})
        table.meta.update(meta)
        return table

    # ------------------------------------------------------------------ times
    def _uniform_times(self, n: int, starts: Time, stops: Time) -> np.ndarray:
        """Draw times (MJD TT) uniformly over the GTIs."""
        lo, hi = starts.tt.mjd, stops.tt.mjd
        k = self.rng.choice(lo.size, size=n, p=(hi - lo) / np.sum(hi - lo))
        return lo[k] + self.rng.random(n) * (hi[k] - lo[k])

    def _temporal_norm(self, temporal, name: str, starts: Time, stops: Time) -> np.ndarray:
        """Integral of the norm over each GTI (days); checks that the norm is >= 0."""
        lo, hi = np.asarray(temporal._mjd(starts), float), np.asarray(temporal._mjd(stops), float)
        values = temporal.values()
        grid = np.linspace(lo, hi, 2001, axis=-1)
        norm = np.asarray(temporal.evaluate(grid, **values), float)
        integral = np.asarray(temporal.integrate(lo, hi, **values), float) * np.ones_like(lo)
        if np.any(~np.isfinite(norm)) or np.any(norm < 0) or np.any(integral < 0):
            bad = np.argmin(np.where(np.isfinite(norm), norm, -np.inf))
            where = grid.reshape(-1)[bad]
            value = norm.reshape(-1)[bad]
            raise SamplingError(
                f"source {name!r}: the temporal model {type(temporal).__name__} is negative "
                f"or not finite (norm = {value:.4g} at MJD {where:.6f}, scale "
                f"{temporal.scale!r}) inside the GTIs; a temporal norm multiplies the flux and "
                f"must be >= 0 at every observed time: change its parameters "
                f"({', '.join(f'{k}={v:.4g}' for k, v in values.items())}) or the GTIs"
            )
        return integral

    def _temporal_times(self, temporal, n: int, starts: Time, stops: Time, weights) -> np.ndarray:
        """Draw times (MJD TT) from the light curve by bisection of its exact integral."""
        lo, hi = np.asarray(temporal._mjd(starts), float), np.asarray(temporal._mjd(stops), float)
        values = temporal.values()
        k = self.rng.choice(lo.size, size=n, p=weights / weights.sum())
        a, b = lo[k].copy(), hi[k].copy()
        target = self.rng.random(n) * weights[k]
        for _ in range(64):
            mid = 0.5 * (a + b)
            below = np.asarray(temporal.integrate(lo[k], mid, **values), float) < target
            a = np.where(below, mid, a)
            b = np.where(below, b, mid)
        mjd = 0.5 * (a + b)
        return Time(mjd, format="mjd", scale=temporal.scale).tt.mjd

    # ------------------------------------------------------------------ sources
    def _energy_true_edges(self, observation) -> np.ndarray:
        ranges = [_axis_range(observation.aeff, "energy_true")]
        for irf in (observation.psf, observation.edisp):
            ranges.append(_axis_range(irf, "energy_true"))
        lo = max(r[0] for r in ranges)
        hi = min(r[1] for r in ranges)
        if self.energy_true_range is not None:
            lo, hi = max(lo, self.energy_true_range[0]), min(hi, self.energy_true_range[1])
        return log_grid(lo, hi, self.bins_per_decade)

    def _max_offset(self, observation) -> float:
        if self.max_offset is not None:
            return self.max_offset
        bkg = observation.bkg
        if bkg is not None and "offset" in bkg.axes.names:
            return _axis_range(bkg, "offset")[1]
        if bkg is not None:
            return max(abs(v) for n in ("fov_lon", "fov_lat") for v in _axis_range(bkg, n))
        return _axis_range(observation.aeff, "offset")[1]

    def _source(self, observation, pointing, model, deadc, starts, stops, mc_id):
        name = getattr(model, "name", "?")
        for key in ("aeff", "psf", "edisp"):
            if getattr(observation, key) is None:
                raise SamplingError(
                    f"observation {observation.obs_id} has no {key!r} IRF, needed to simulate "
                    f"source {name!r}: add it to the observation (read_irf(path, hdu))"
                )
        if getattr(model, "spatial", None) is None:
            raise SamplingError(
                f"source {name!r} has no spatial model: give it one (e.g. spatial.Point) to "
                "draw event positions"
            )
        temporal = getattr(model, "temporal", None)
        if temporal is None:
            duration = (stops.tt.mjd - starts.tt.mjd) * _DAY
            time_factor = deadc * float(np.sum(duration))
            weights = None
        else:
            weights = self._temporal_norm(temporal, name, starts, stops)
            time_factor = deadc * float(np.sum(weights)) * _DAY
        photons = self._photons(observation, pointing, model, time_factor)
        n = photons.energy.size
        if n == 0:
            return _empty()
        if temporal is None:
            times = self._uniform_times(n, starts, stops)
        else:
            times = self._temporal_times(temporal, n, starts, stops, weights)
        true = SkyCoord(photons.lon * u.deg, photons.lat * u.deg, frame="icrs")
        offset = true.separation(pointing).to_value(u.deg)
        groups, e_node, o_node = self._groups(photons.energy_bin, offset)
        edges = self._grid
        energy_node = np.sqrt(edges[:-1] * edges[1:])[e_node]
        rad = self._psf_draws(observation.psf, groups, energy_node, o_node)
        angle = self.rng.random(n) * 360.0
        reco = true.directional_offset_by(angle * u.deg, rad * u.deg)
        migra = self._edisp_draws(observation.edisp, groups, energy_node, o_node)
        energy = migra * photons.energy
        # photons where the PSF or the migration table is empty are never reconstructed
        # (the forward model's PSF and dispersion kernels drop them too): counted in NLOST
        keep = np.isfinite(rad) & np.isfinite(energy) & (energy > 0)
        self._lost += int(n - keep.sum())
        return (
            times[keep],
            reco.ra.deg[keep],
            reco.dec.deg[keep],
            energy[keep],
            np.full(int(keep.sum()), mc_id, np.int32),
        )

    def _photons(self, observation, pointing, model, time_factor: float) -> _Photons:
        """Draw true photons: energies and positions from flux x effective area x time."""
        edges = self._energy_true_edges(observation)
        self._grid = edges
        spectral = model.spectral
        flux = np.asarray(spectral.evaluate_with(edges), float)  # cm-2 s-1 TeV-1
        if np.any(~np.isfinite(flux)) or np.any(flux < 0):
            raise SamplingError(
                f"source {model.name!r}: the spectral model is negative or not finite between "
                f"{edges[0]:.3g} and {edges[-1]:.3g} TeV"
            )
        spatial = model.spatial
        if type(spatial).__name__ == "Point":
            position = spatial.position.icrs
            cells_lon = np.array([position.ra.deg])
            cells_lat = np.array([position.dec.deg])
            weight = np.ones(1)
            cells = None
        else:
            cells_lon, cells_lat, weight, cells = self._spatial_cells(
                observation, pointing, spatial
            )
        offset = SkyCoord(cells_lon * u.deg, cells_lat * u.deg).separation(pointing).deg
        area = observation.aeff.evaluate(
            energy_true=edges[:, None] * u.TeV, offset=offset[None, :] * u.deg
        ).to_value(u.cm**2)
        density = flux[:, None] * area  # s-1 TeV-1 at the nodes
        expected = bin_integral_loglog(density, edges) * weight[None, :] * time_factor
        n, index = draw_cells(self.rng, expected)
        e_bin, cell = np.unravel_index(index, expected.shape)
        energy = sample_in_bins(
            self.rng, edges[e_bin], edges[e_bin + 1], density[e_bin, cell], density[e_bin + 1, cell]
        )
        if cells is None:
            lon, lat = np.full(n, cells_lon[0]), np.full(n, cells_lat[0])
        else:
            center, lon_edges, lat_edges = cells
            iy, ix = np.unravel_index(cell, (lat_edges.size - 1, lon_edges.size - 1))
            off_lon, off_lat = sample_in_cells(
                self.rng, lon_edges[ix], lon_edges[ix + 1], lat_edges[iy], lat_edges[iy + 1]
            )
            sky = to_sky(center, off_lon, off_lat)
            lon, lat = sky.ra.deg, sky.dec.deg
        return _Photons(energy, lon, lat, e_bin)

    def _spatial_cells(self, observation, pointing, spatial):
        radius = spatial.evaluation_radius()
        if radius is None:
            center = pointing
            half = self._max_offset(observation)
        else:
            center = spatial.position.icrs
            half = float(radius.to_value(u.deg)) + self.spatial_bin
        lon_edges, lat_edges = offset_frame_cells(half, self.spatial_bin)
        lon_c = 0.5 * (lon_edges[:-1] + lon_edges[1:])
        lat_c = 0.5 * (lat_edges[:-1] + lat_edges[1:])
        lon_grid, lat_grid = np.meshgrid(lon_c, lat_c)
        sky = to_sky(center, lon_grid.ravel(), lat_grid.ravel())
        model_lon, model_lat = spatial._lonlat(sky)
        brightness = np.asarray(spatial.evaluate(model_lon, model_lat, **spatial.values()), float)
        if np.any(~np.isfinite(brightness)) or np.any(brightness < 0):
            raise SamplingError(
                f"spatial model {type(spatial).__name__} is negative or not finite on its grid"
            )
        omega = cell_solid_angle(lon_edges, lat_edges).ravel()
        return sky.ra.deg, sky.dec.deg, brightness * omega, (center, lon_edges, lat_edges)

    # ------------------------------------------------------------------ IRF draws
    def _groups(self, energy_bin: np.ndarray, offset: np.ndarray):
        step = self.offset_step
        o_index = np.rint(offset / step).astype(np.int64)
        key = energy_bin.astype(np.int64) * (int(o_index.max()) + 1) + o_index
        unique, groups = np.unique(key, return_inverse=True)
        width = int(o_index.max()) + 1
        return groups.ravel(), unique // width, (unique % width) * step

    def _psf_draws(self, psf, groups, energy_node, offset_node) -> np.ndarray:
        rad_max = _axis_range(psf, "rad")[1] if "rad" in psf.axes.names else self.psf_radius_max
        grid = rad_max * np.linspace(0.0, 1.0, 401) ** 2
        cdf = psf.containment(
            grid[None, :] * u.deg, energy_node[:, None] * u.TeV, offset_node[:, None] * u.deg
        ).to_value("")
        cdf = np.maximum.accumulate(np.clip(cdf, 0.0, None), axis=1)
        return _draw_or_nan(self.rng, grid, cdf, groups)

    def _edisp_draws(self, edisp, groups, energy_node, offset_node) -> np.ndarray:
        migra = edisp.axes["migra"]
        edges = migra.edges.value
        pdf = edisp.evaluate_array(
            energy_node[:, None], migra.center.value[None, :], offset_node[:, None]
        )
        cdf = np.concatenate(
            [np.zeros((pdf.shape[0], 1)), np.cumsum(np.clip(pdf, 0, None) * np.diff(edges), 1)],
            axis=1,
        )
        return _draw_or_nan(self.rng, edges, cdf, groups)

    # ------------------------------------------------------------------ background
    def _background(self, observation, pointing, ontime, factor, starts, stops):
        from gammaprob.makers._irf_eval import has_reversed_fov_lon

        bkg = observation.bkg
        if bkg is None:
            raise SamplingError(
                f"observation {observation.obs_id} has no background IRF (bkg) to draw "
                "background events from: add one (read_irf(path, 'BACKGROUND') or "
                "Background2D/Background3D.from_power_law) or call run(..., background=False) "
                "to simulate source events only"
            )
        if str(bkg.fov_alignment) != "RADEC":
            raise SamplingError(
                f"background IRF aligned with {bkg.fov_alignment!s}: only RADEC-aligned "
                "backgrounds can be sampled"
            )
        lo, hi = _axis_range(bkg, "energy")
        if self.energy_range is not None:
            lo, hi = max(lo, self.energy_range[0]), min(hi, self.energy_range[1])
        edges = log_grid(lo, hi, self.bins_per_decade)
        half = self._max_offset(observation)
        lon_edges, lat_edges = offset_frame_cells(half, self.background_bin)
        lon_c = 0.5 * (lon_edges[:-1] + lon_edges[1:])
        lat_c = 0.5 * (lat_edges[:-1] + lat_edges[1:])
        lon_grid, lat_grid = (a.ravel() for a in np.meshgrid(lon_c, lat_c))
        energy = edges[:, None] * u.TeV
        if "offset" in bkg.axes.names:
            cos = np.cos(np.deg2rad(lat_grid)) * np.cos(np.deg2rad(lon_grid))
            offset = np.rad2deg(np.arccos(np.clip(cos, -1, 1)))
            rate = bkg.evaluate(energy=energy, offset=offset[None, :] * u.deg)
        else:
            fov_lon = -lon_grid if not has_reversed_fov_lon(observation) else lon_grid
            rate = bkg.evaluate(
                energy=energy, fov_lon=fov_lon[None, :] * u.deg, fov_lat=lat_grid[None, :] * u.deg
            )
        density = rate.to_value("s-1 MeV-1 sr-1") * _MEV_PER_TEV  # s-1 TeV-1 sr-1
        if factor is not None:
            norm = np.asarray(factor.evaluate_with(edges), float)
            if np.any(~np.isfinite(norm)) or np.any(norm < 0):
                raise SamplingError("the FoVBackgroundModel correction is negative or not finite")
            density = density * norm[:, None]
        omega = cell_solid_angle(lon_edges, lat_edges).ravel()
        expected = bin_integral_loglog(density, edges) * omega[None, :] * ontime
        n, index = draw_cells(self.rng, expected)
        if n == 0:
            return _empty()
        e_bin, cell = np.unravel_index(index, expected.shape)
        energy = sample_in_bins(
            self.rng, edges[e_bin], edges[e_bin + 1], density[e_bin, cell], density[e_bin + 1, cell]
        )
        iy, ix = np.unravel_index(cell, (lat_edges.size - 1, lon_edges.size - 1))
        off_lon, off_lat = sample_in_cells(
            self.rng, lon_edges[ix], lon_edges[ix + 1], lat_edges[iy], lat_edges[iy + 1]
        )
        sky = to_sky(pointing, off_lon, off_lat)
        times = self._uniform_times(n, starts, stops)
        return times, sky.ra.deg, sky.dec.deg, energy, np.zeros(n, np.int32)


def _draw_or_nan(rng, grid, cdf, groups) -> np.ndarray:
    """Inverse-CDF draws per group; NaN for groups whose distribution is empty."""
    empty = ~(cdf[:, -1] > 0)
    safe = np.where(empty[:, None], np.linspace(0.0, 1.0, grid.size)[None, :], cdf)
    values = inverse_cdf(rng, grid, safe, groups)
    return np.where(empty[groups], np.nan, values)


def _empty():
    z = np.zeros(0)
    return z, z, z, z, np.zeros(0, np.int32)


def _pointing(observation) -> SkyCoord:
    from gammaprob.makers.spectrum import pointing_of

    return pointing_of(observation).icrs


def _positive_angle(value, name: str) -> float:
    angle = u.Quantity(value)
    if not angle.unit.is_equivalent(u.deg):
        raise ValueError(f"{name} must be an angle, got {value!r}")
    result = float(angle.to_value(u.deg))
    if not result > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return result


def _energy_pair(value, name: str) -> tuple[float, float] | None:
    if value is None:
        return None
    energy = u.Quantity(value)
    if energy.shape != (2,) or not energy.unit.is_equivalent(u.TeV):
        raise ValueError(f"{name} must be two energies [min, max], got {value!r}")
    lo, hi = energy.to_value(u.TeV)
    if not 0 < lo < hi:
        raise ValueError(f"{name} must satisfy 0 < min < max, got {value!r}")
    return float(lo), float(hi)
