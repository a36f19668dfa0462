"""3D reduction: counts, exposure, background and IRF maps on a WCS or HEALPix geometry."""

from __future__ import annotations

import astropy.units as u

from gammaprob.datasets import MapDataset
from gammaprob.irf.irf_maps import EDispKernelMap, PSFMap
from gammaprob.maps import Map

from ._irf_eval import (
    background_counts,
    exposure_values,
    fill_missing_energy,
    has_reversed_fov_lon,
    observation_times,
    pad_offset,
)
from ._map_irfs import interp_irf_map, is_map_irf, transit_number
from .spectrum import _check_selection, pointing_of
from .template import MapTemplate

__all__ = ["MapDatasetMaker"]

_SELECTION = ("counts", "exposure", "background", "psf", "edisp")


class MapDatasetMaker:
    """Make a :class:`~gammaprob.datasets.MapDataset` for one observation.

    Parameters
    ----------
    selection : sequence of str, optional
        Products among ``counts``, ``exposure``, ``background``, ``psf``, ``edisp``
        (default: all).
    transits : float or Map, optional
        Number of source transits, for observations whose IRFs are sky maps per transit
        (HAWC): a number, or a map of the number of transits read at the dataset's centre
        (HAWC's ``irfs/TransitsMap_<source>.fits.gz``). Exposure and background are
        multiplied by it. Required for such observations, unused otherwise.

    Notes
    -----
    The PSF and energy dispersion are a :class:`~gammaprob.irf.irf_maps.PSFMap` and an
    :class:`~gammaprob.irf.irf_maps.EDispKernelMap` on the coarse IRF geometry of the
    template, each with the exposure at those pixels.

    Observations with map-type IRFs (HAWC's effective area, background, PSF per
    reconstructed energy and energy-dispersion kernels as sky maps) are reduced by
    interpolating those maps onto the template's geometries (see
    :mod:`gammaprob.makers._map_irfs`): exposure on the counts image with the true-energy
    axis, background counts on the counts geometry (its energy axis must be the map's),
    PSF (axes ``rad`` and the map's energy axis) and energy dispersion on the coarse IRF
    geometry, without exposure maps; exposure and background are then multiplied by
    ``transits``, as gammapy's HAWC tutorial does.
    """

    tag = "MapDatasetMaker"

    def __init__(self, selection=None, transits=None) -> None:
        self.selection = _check_selection(selection, _SELECTION, self.tag)
        if transits is not None and not isinstance(transits, Map):
            transits = transit_number(transits, None)
        self.transits = transits

    def __repr__(self) -> str:
        extra = "" if self.transits is None else f", transits={self.transits!r}"
        return f"{self.tag}(selection={list(self.selection)}{extra})"

    def _transits(self, template: MapTemplate, observation) -> float:
        if self.transits is None:
            raise ValueError(
                f"observation {observation.obs_id} has IRF maps per transit (HAWC): give "
                f"{self.tag}(transits=...), the number of transits or the transit map (e.g. "
                "Map.read('$GAMMAPY_DATA/hawc/crab_events_pass4/irfs/TransitsMap_Crab.fits.gz'))"
            )
        return transit_number(self.transits, template.geom.center_skydir)

    @staticmethod
    def make_counts(template: MapTemplate, observation) -> Map:
        """Histogram the events in sky position and reconstructed energy."""
        events = observation.events
        counts = Map.from_geom(template.geom, unit="")
        counts.fill_by_coord({"skycoord": events.radec, "energy": events.energy})
        return counts

    def make_exposure(self, template: MapTemplate, observation, geom=None) -> Map:
        """Exposure (m2 s) at the pixel centres of ``geom`` (default: the template's)."""
        if observation.aeff is None:
            raise ValueError(f"observation {observation.obs_id} has no effective area")
        geom = template.geom_exposure if geom is None else geom
        if is_map_irf(observation.aeff):
            aeff = observation.aeff
            if not aeff.unit.is_equivalent(u.m**2 * u.s):
                raise ValueError(
                    f"observation {observation.obs_id}: the effective-area map has unit "
                    f"{aeff.unit}, expected an exposure per transit (area x time, e.g. cm2 s)"
                )
            data = interp_irf_map(aeff, geom, what="effective-area")
            data *= aeff.unit.to(u.m**2 * u.s) * self._transits(template, observation)
            return Map(geom, data=data, unit="m2 s")
        _, livetime = observation_times(observation)
        image = geom.to_image()
        offset = image.separation(pointing_of(observation)).to_value(u.deg)
        energy = geom.axes["energy_true"].center.to_value(u.TeV)
        data = exposure_values(observation.aeff, offset, energy, livetime)
        return Map(geom, data=data, unit="m2 s")

    def make_background(self, template: MapTemplate, observation) -> Map:
        """Predicted background counts from the background IRF."""
        bkg = observation.bkg
        if bkg is None:
            raise ValueError(
                f"observation {observation.obs_id} has no background IRF: drop 'background' "
                "from the selection (and use a ring or reflected-regions background)"
            )
        if is_map_irf(bkg):
            if not bkg.unit.is_equivalent(u.dimensionless_unscaled):
                raise ValueError(
                    f"observation {observation.obs_id}: the background map has unit {bkg.unit}, "
                    "expected counts per transit (no unit)"
                )
            data = interp_irf_map(bkg, template.geom, what="background", preserve_counts=True)
            data *= bkg.unit.to(u.dimensionless_unscaled) * self._transits(template, observation)
            return Map(template.geom, data=data, unit="")
        bkg = fill_missing_energy(bkg)
        if "offset" in bkg.axes.names:
            bkg = pad_offset(bkg)
        ontime, _ = observation_times(observation)
        image = template.geom.to_image()
        skycoord = image.get_coord().skycoord
        data = background_counts(
            bkg,
            skycoord,
            pointing_of(observation),
            template.energy_axis.edges.to_value(u.TeV),
            image.solid_angle().to_value(u.sr),
            ontime,
            reverse_lon=has_reversed_fov_lon(observation),
        )
        return Map(template.geom, data=data, unit="")

    def _irf_exposure(self, template: MapTemplate, observation) -> Map:
        image = template.geom_irf_image
        return self.make_exposure(template, observation, image.to_cube([template.energy_axis_true]))

    def make_edisp(self, template: MapTemplate, observation) -> EDispKernelMap:
        """Energy-dispersion kernels per pixel of the coarse IRF geometry.

        A kernel map (HAWC) is interpolated onto the coarse IRF geometry with the
        template's reconstructed and true energy axes (no exposure map).
        """
        if observation.edisp is None:
            raise ValueError(f"observation {observation.obs_id} has no energy dispersion")
        if is_map_irf(observation.edisp):
            geom = template.geom_irf_image.to_cube(
                [template.energy_axis, template.energy_axis_true]
            )
            data = interp_irf_map(observation.edisp, geom, what="energy-dispersion")
            return EDispKernelMap(Map(geom, data=data, unit=""))
        return EDispKernelMap.from_edisp(
            observation.edisp,
            pointing_of(observation),
            template.geom_irf_image,
            template.energy_axis,
            template.energy_axis_true,
            self._irf_exposure(template, observation),
        )

    def make_psf(self, template: MapTemplate, observation) -> PSFMap:
        """PSF per pixel of the coarse IRF geometry, normalised over the template's rad axis.

        A PSF map (HAWC: per reconstructed energy) is interpolated onto the coarse IRF
        geometry with the template's rad axis and the energy axis of the same kind
        (reconstructed or true), without renormalisation and without exposure map.
        """
        psf = observation.psf
        if psf is None:
            raise ValueError(f"observation {observation.obs_id} has no PSF")
        if is_map_irf(psf):
            names = psf.geom.axes.names
            energy = template.energy_axis if "energy" in names else template.energy_axis_true
            geom = template.geom_irf_image.to_cube([template.rad_axis, energy])
            data = interp_irf_map(psf, geom, what="PSF")
            return PSFMap(Map(geom, data=data * psf.unit.to("sr-1"), unit="sr-1"))
        return PSFMap.from_psf(
            psf,
            pointing_of(observation),
            template.geom_irf_image,
            template.energy_axis_true,
            template.rad_axis,
            self._irf_exposure(template, observation),
        )

    def run(self, template: MapTemplate, observation) -> MapDataset:
        """Reduce one observation.

        Parameters
        ----------
        template : MapTemplate
            Geometry and axes.
        observation : gammaprob.data.Observation
            The observation.

        Returns
        -------
        MapDataset
            Named ``"{template.name}-{obs_id}"``; ``meta`` holds ``obs_id``, ``livetime`` (s),
            ``ontime`` (s) and ``pointing``.
        """
        if not isinstance(template, MapTemplate):
            raise TypeError(f"template must be a MapTemplate, got {type(template).__name__}")
        counts = (
            self.make_counts(template, observation)
            if "counts" in self.selection
            else Map.from_geom(template.geom, unit="")
        )
        exposure = (
            self.make_exposure(template, observation) if "exposure" in self.selection else None
        )
        background = (
            self.make_background(template, observation) if "background" in self.selection else None
        )
        edisp = self.make_edisp(template, observation) if "edisp" in self.selection else None
        psf = self.make_psf(template, observation) if "psf" in self.selection else None
        if (
            edisp is None
            and exposure is not None
            and not template.energy_axis_true.is_aligned(template.energy_axis)
        ):
            raise ValueError(
                f"{self.tag}: an exposure without 'edisp' in the selection needs identical reco "
                "and true energy axes (a diagonal response); add 'edisp' or align the axes"
            )
        ontime, livetime = observation_times(observation)
        return MapDataset(
            name=f"{template.name}-{observation.obs_id}",
            counts=counts,
            exposure=exposure,
            background=background,
            psf=psf,
            edisp=edisp,
            gti=observation.gti,
            meta={
                "obs_id": observation.obs_id,
                "livetime": livetime,
                "ontime": ontime,
                "pointing": pointing_of(observation),
            },
        )
