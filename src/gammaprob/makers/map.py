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

    Notes
    -----
    The PSF and energy dispersion are a :class:`~gammaprob.irf.irf_maps.PSFMap` and an
    :class:`~gammaprob.irf.irf_maps.EDispKernelMap` on the coarse IRF geometry of the
    template, each with the exposure at those pixels.
    """

    tag = "MapDatasetMaker"

    def __init__(self, selection=None) -> None:
        self.selection = _check_selection(selection, _SELECTION, self.tag)

    def __repr__(self) -> str:
        return f"{self.tag}(selection={list(self.selection)})"

    @staticmethod
    def make_counts(template: MapTemplate, observation) -> Map:
        """Histogram the events in sky position and reconstructed energy."""
        events = observation.events
        counts = Map.from_geom(template.geom, unit="")
        counts.fill_by_coord({"skycoord": events.radec, "energy": events.energy})
        return counts

    @staticmethod
    def make_exposure(template: MapTemplate, observation, geom=None) -> Map:
        """Exposure (m2 s) at the pixel centres of ``geom`` (default: the template's)."""
        if observation.aeff is None:
            raise ValueError(f"observation {observation.obs_id} has no effective area")
        geom = template.geom_exposure if geom is None else geom
        _, livetime = observation_times(observation)
        image = geom.to_image()
        offset = image.separation(pointing_of(observation)).to_value(u.deg)
        energy = geom.axes["energy_true"].center.to_value(u.TeV)
        data = exposure_values(observation.aeff, offset, energy, livetime)
        return Map(geom, data=data, unit="m2 s")

    @staticmethod
    def make_background(template: MapTemplate, observation) -> Map:
        """Predicted background counts from the background IRF."""
        bkg = observation.bkg
        if bkg is None:
            raise ValueError(
                f"observation {observation.obs_id} has no background IRF: drop 'background' "
                "from the selection (and use a ring or reflected-regions background)"
            )
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

    @staticmethod
    def _irf_exposure(template: MapTemplate, observation) -> Map:
        image = template.geom_irf_image
        return MapDatasetMaker.make_exposure(
            template, observation, image.to_cube([template.energy_axis_true])
        )

    @staticmethod
    def make_edisp(template: MapTemplate, observation) -> EDispKernelMap:
        """Energy-dispersion kernels per pixel of the coarse IRF geometry."""
        if observation.edisp is None:
            raise ValueError(f"observation {observation.obs_id} has no energy dispersion")
        return EDispKernelMap.from_edisp(
            observation.edisp,
            pointing_of(observation),
            template.geom_irf_image,
            template.energy_axis,
            template.energy_axis_true,
            MapDatasetMaker._irf_exposure(template, observation),
        )

    @staticmethod
    def make_psf(template: MapTemplate, observation) -> PSFMap:
        """PSF per pixel of the coarse IRF geometry, normalised over the template's rad axis."""
        if observation.psf is None:
            raise ValueError(f"observation {observation.obs_id} has no PSF")
        return PSFMap.from_psf(
            observation.psf,
            pointing_of(observation),
            template.geom_irf_image,
            template.energy_axis_true,
            template.rad_axis,
            MapDatasetMaker._irf_exposure(template, observation),
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
