"""1D reduction: counts, exposure, energy dispersion and background in an ON region."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from regions import CircleSkyRegion

from gammaprob.datasets import SpectrumDataset

from ._irf_eval import (
    background_counts,
    exposure_values,
    fill_missing_energy,
    has_reversed_fov_lon,
    observation_times,
    pad_offset,
)
from .template import SpectrumTemplate, region_contains

__all__ = ["SpectrumDatasetMaker", "select_rad_max"]

_SELECTION = ("counts", "exposure", "edisp", "background")


def _check_selection(selection, available, what: str) -> tuple[str, ...]:
    selection = tuple(available if selection is None else selection)
    unknown = set(selection) - set(available)
    if unknown:
        raise ValueError(
            f"{what}: unknown selection {sorted(unknown)}; choose from {list(available)}"
        )
    return selection


def pointing_of(observation):
    """ICRS pointing of an observation (fixed pointing, or mid-time of a pointing table)."""
    try:
        return observation.get_pointing_icrs()
    except ValueError:
        tmid = observation.tstart + 0.5 * (observation.tstop - observation.tstart)
        return observation.get_pointing_icrs(tmid)


def select_rad_max(events, rad_max, position, pointing) -> np.ndarray:
    """Events within the energy-dependent ``RAD_MAX`` cut around ``position``.

    Parameters
    ----------
    events : gammaprob.data.EventList
        Events.
    rad_max : gammaprob.irf.RadMax2D
        Direction cut as a function of reconstructed energy and offset.
    position : `~astropy.coordinates.SkyCoord`
        Centre of the (point-like) ON or OFF region.
    pointing : `~astropy.coordinates.SkyCoord`
        Pointing position (gives the offset of ``position``).

    Returns
    -------
    numpy.ndarray of bool
        Mask of the selected events (separation <= RAD_MAX).
    """
    offset = position.separation(pointing).to_value(u.deg)
    energy = events.energy.to_value(u.TeV)
    # gammapy's convention (EventList.select_rad_max): the cut of the nearest bin in log energy
    cut = rad_max.evaluate(
        method="nearest", energy=energy * u.TeV, offset=np.full_like(energy, offset) * u.deg
    )
    separation = events.radec.separation(position).to_value(u.deg)
    return separation <= cut.to_value(u.deg)


class SpectrumDatasetMaker:
    """Make a :class:`~gammaprob.datasets.SpectrumDataset` for one observation.

    The IRFs are evaluated at the centre of the ON region (recommended for point sources).

    Parameters
    ----------
    selection : sequence of str, optional
        Products to make among ``counts``, ``exposure``, ``edisp``, ``background``
        (default: all). Counts are zero when not selected.
    containment_correction : bool
        Multiply the exposure by the PSF containment fraction in a circular ON region
        (full-enclosure IRFs only).

    Examples
    --------
    >>> maker = SpectrumDatasetMaker(containment_correction=True)  # doctest: +SKIP
    >>> dataset = maker.run(template, observation)                  # doctest: +SKIP
    """

    tag = "SpectrumDatasetMaker"

    def __init__(self, selection=None, containment_correction: bool = False) -> None:
        self.selection = _check_selection(selection, _SELECTION, self.tag)
        self.containment_correction = bool(containment_correction)

    def __repr__(self) -> str:
        return (
            f"{self.tag}(selection={list(self.selection)}, "
            f"containment_correction={self.containment_correction})"
        )

    # ---- products ----------------------------------------------------------------------------
    @staticmethod
    def make_counts(template: SpectrumTemplate, observation) -> np.ndarray:
        """Count events per reconstructed-energy bin inside the ON region.

        For a ``PointSkyRegion`` the ON size is the energy-dependent ``RAD_MAX`` cut.
        """
        events = observation.events
        if template.is_point:
            if observation.rad_max is None:
                raise ValueError(
                    f"observation {observation.obs_id}: a PointSkyRegion needs a RAD_MAX cut "
                    "(point-like IRFs), but the observation has none"
                )
            inside = select_rad_max(
                events, observation.rad_max, template.center, pointing_of(observation)
            )
        else:
            inside = region_contains(template.region, events.radec, template.geom.wcs)
        energy = events.energy.to_value(u.TeV)[inside]
        edges = template.energy_axis.edges.to_value(u.TeV)
        counts, _ = np.histogram(energy, bins=edges)
        return counts.astype(float)

    def make_exposure(self, template: SpectrumTemplate, observation) -> np.ndarray:
        """Exposure (m2 s) per true-energy bin at the region centre.

        With ``containment_correction`` the PSF containment fraction within the ON radius is
        applied.
        """
        aeff = observation.aeff
        if aeff is None:
            raise ValueError(f"observation {observation.obs_id} has no effective area")
        _, livetime = observation_times(observation)
        offset = template.center.separation(pointing_of(observation)).to_value(u.deg)
        energy = template.energy_axis_true.center.to_value(u.TeV)
        exposure = exposure_values(aeff, np.asarray(offset), energy, livetime)
        if self.containment_correction:
            if aeff.is_pointlike:
                raise ValueError("containment correction cannot be applied to point-like IRFs")
            if not isinstance(template.region, CircleSkyRegion):
                raise TypeError(
                    "containment correction needs a circular ON region, got "
                    f"{type(template.region).__name__}"
                )
            if observation.psf is None:
                raise ValueError(f"observation {observation.obs_id} has no PSF for the containment")
            containment = observation.psf.containment(
                rad=template.region.radius,
                energy_true=energy * u.TeV,
                offset=offset * u.deg,
            ).to_value(u.one)
            exposure = exposure * containment
        return exposure

    @staticmethod
    def make_edisp(template: SpectrumTemplate, observation) -> np.ndarray:
        """Energy-dispersion matrix ``[E_true, E_reco]`` at the region centre."""
        if observation.edisp is None:
            raise ValueError(f"observation {observation.obs_id} has no energy dispersion")
        offset = template.center.separation(pointing_of(observation))
        kernel = observation.edisp.to_edisp_kernel(
            offset.to(u.deg), template.energy_axis_true, template.energy_axis
        )
        return np.asarray(kernel.pdf_matrix)

    @staticmethod
    def make_background(template: SpectrumTemplate, observation) -> np.ndarray:
        """Background counts per reconstructed-energy bin from the background IRF."""
        bkg = observation.bkg
        if bkg is None:
            raise ValueError(
                f"observation {observation.obs_id} has no background IRF; drop 'background' "
                "from the selection and use a reflected-regions background instead"
            )
        if template.is_point:
            raise ValueError("an IRF background needs an extended ON region, not a PointSkyRegion")
        bkg = fill_missing_energy(bkg)
        if "offset" in bkg.axes.names:
            bkg = pad_offset(bkg)
        ontime, _ = observation_times(observation)
        geom = template.geom
        solid_angle = geom.solid_angle().to_value(u.sr).reshape(-1)[0]
        values = background_counts(
            bkg,
            geom.center_skydir.reshape((1,)),
            pointing_of(observation),
            template.energy_axis.edges.to_value(u.TeV),
            solid_angle,
            ontime,
            reverse_lon=has_reversed_fov_lon(observation),
        )
        return values[:, 0]

    def run(self, template: SpectrumTemplate, observation) -> SpectrumDataset:
        """Reduce one observation.

        Parameters
        ----------
        template : SpectrumTemplate
            ON region and energy axes.
        observation : gammaprob.data.Observation
            The observation.

        Returns
        -------
        SpectrumDataset
            Named ``"{template.name}-{obs_id}"``; ``meta`` holds ``obs_id``, ``region`` and
            ``pointing``.
        """
        if not isinstance(template, SpectrumTemplate):
            raise TypeError(f"template must be a SpectrumTemplate, got {type(template).__name__}")
        n_reco = template.energy_axis.nbin
        pointing = pointing_of(observation)
        offset = template.center.separation(pointing).to_value(u.deg)
        _check_in_fov(observation, offset)
        counts = (
            self.make_counts(template, observation)
            if "counts" in self.selection
            else np.zeros(n_reco)
        )
        exposure = (
            self.make_exposure(template, observation)
            if "exposure" in self.selection
            else np.zeros(template.energy_axis_true.nbin)
        )
        edisp = self.make_edisp(template, observation) if "edisp" in self.selection else None
        if edisp is None and not template.energy_axis.is_aligned(template.energy_axis_true):
            raise ValueError(
                f"{self.tag}: without 'edisp' in the selection the reco and true energy axes "
                "must be identical (a diagonal response); add 'edisp' or align the axes"
            )
        background = (
            self.make_background(template, observation) if "background" in self.selection else None
        )
        _, livetime = observation_times(observation)
        return SpectrumDataset(
            name=f"{template.name}-{observation.obs_id}",
            counts=counts,
            exposure=exposure * u.Unit("m2 s"),
            energy_axis=template.energy_axis,
            energy_axis_true=template.energy_axis_true,
            edisp=edisp,
            background=background,
            livetime=livetime * u.s,
            gti=observation.gti,
            meta={"obs_id": observation.obs_id, "region": template.region, "pointing": pointing},
        )


def _check_in_fov(observation, offset: float) -> None:
    """Raise if the ON region centre lies outside the effective-area offset range."""
    aeff = observation.aeff
    if aeff is None or "offset" not in aeff.axes.names:
        return
    offset_max = float(aeff.axes["offset"].edges[-1].to_value(u.deg))
    if offset >= offset_max:
        raise ValueError(
            f"observation {observation.obs_id}: the ON region centre is {offset:.3f} deg from the "
            f"pointing, outside the field of view (IRF offsets up to {offset_max:.3f} deg)"
        )
