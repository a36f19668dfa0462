"""Reflected-regions background: OFF regions by rotating the ON region about the pointing."""

from __future__ import annotations

import dataclasses
import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord
from regions import CircleSkyRegion, PixCoord, PointSkyRegion, SkyRegion

from gammaprob.datasets import SpectrumDataset, SpectrumDatasetOnOff
from gammaprob.maps import Map, WcsGeom

from .spectrum import pointing_of, select_rad_max

__all__ = ["ReflectedRegionsBackgroundMaker", "ReflectedRegionsFinder"]

_FULL_CIRCLE = 2 * np.pi


class ReflectedRegionsFinder:
    """Place OFF regions by rotating the ON region about a centre (the pointing).

    Regions are rotated in the pixel frame of a TAN projection centred on the pointing
    (pixel size ``binsz``). Successive regions are separated by the angular size of the ON
    region seen from the centre (plus ``min_distance``); a rotated region that contains an
    excluded pixel is moved on by ``angle_increment``.

    Parameters
    ----------
    angle_increment : `~astropy.coordinates.Angle`
        Step when a candidate region overlaps the exclusion mask.
    min_distance : `~astropy.coordinates.Angle`
        Extra rotation angle between two consecutive OFF regions.
    min_distance_input : `~astropy.coordinates.Angle`
        Extra rotation angle between the ON region and the first/last OFF region.
    max_region_number : int
        Maximum number of OFF regions.
    binsz : `~astropy.coordinates.Angle`
        Pixel size of the reference projection.
    """

    rotates_points = False

    def __init__(
        self,
        angle_increment="0.1 rad",
        min_distance="0 rad",
        min_distance_input="0.1 rad",
        max_region_number: int = 10000,
        binsz="0.01 deg",
    ) -> None:
        self.angle_increment = Angle(angle_increment).to_value(u.rad)
        if not self.angle_increment > 0:
            raise ValueError(f"angle_increment must be positive, got {angle_increment!r}")
        self.min_distance = Angle(min_distance).to_value(u.rad)
        self.min_distance_input = Angle(min_distance_input).to_value(u.rad)
        if int(max_region_number) < 1:
            raise ValueError(f"max_region_number must be >= 1, got {max_region_number!r}")
        self.max_region_number = int(max_region_number)
        self.binsz = Angle(binsz).to_value(u.deg)

    def __repr__(self) -> str:
        return (
            f"ReflectedRegionsFinder(angle_increment={self.angle_increment:.4g} rad, "
            f"min_distance={self.min_distance:.4g} rad, min_distance_input="
            f"{self.min_distance_input:.4g} rad, max_region_number={self.max_region_number}, "
            f"binsz={self.binsz:.4g} deg)"
        )

    def reference_geom(self, region: SkyRegion, center: SkyCoord) -> WcsGeom:
        """TAN geometry about ``center`` wide enough for every reflected region."""
        width = 4 * region.center.separation(center).to_value(u.deg) + 0.3
        frame = "galactic" if region.center.frame.name == "galactic" else "icrs"
        return WcsGeom.create(skydir=center, binsz=self.binsz, width=width, frame=frame, proj="TAN")

    def run(
        self, region: SkyRegion, center: SkyCoord, exclusion_mask: Map | None = None
    ) -> tuple[list[SkyRegion], object]:
        """Find the OFF regions.

        Parameters
        ----------
        region : regions.SkyRegion
            ON region (not containing ``center``).
        center : `~astropy.coordinates.SkyCoord`
            Rotation centre, usually the pointing position.
        exclusion_mask : Map, optional
            Boolean sky image, True where OFF regions may go.

        Returns
        -------
        regions : list of regions.SkyRegion
            OFF regions (possibly empty).
        wcs : `~astropy.wcs.WCS`
            Reference projection (used to test event containment).
        """
        if isinstance(region, PointSkyRegion):
            raise TypeError("the reflected-regions finder needs an extended region, not a point")
        geom = self.reference_geom(region, center)
        wcs = geom.wcs
        ny, nx = geom.spatial_shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        center_pix = PixCoord.from_sky(center, wcs)
        region_pix = region.to_pixel(wcs)
        if region_pix.contains(center_pix):
            raise ValueError(
                "the ON region contains the pointing position: no reflected regions can be found"
            )
        inside = region_pix.contains(PixCoord(xx.ravel(), yy.ravel()))
        angles = np.arctan2(center_pix.x - xx.ravel()[inside], center_pix.y - yy.ravel()[inside])
        size = np.ptp(angles)
        if size > np.pi:
            wrapped = np.mod(angles, _FULL_CIRCLE)
            size = np.ptp(wrapped)
        excluded = self._excluded_pixels(geom, exclusion_mask, xx, yy)
        angle_min = size + self.min_distance
        angle_max = _FULL_CIRCLE - angle_min - self.min_distance_input
        angle = angle_min + self.min_distance_input
        found = []
        while angle < angle_max:
            test = region_pix.rotate(center_pix, angle * u.rad)
            if excluded is None or not np.any(test.contains(excluded)):
                found.append(test.to_sky(wcs))
                if len(found) >= self.max_region_number:
                    break
                angle += angle_min
            else:
                angle += self.angle_increment
        return found, wcs

    @staticmethod
    def _excluded_pixels(geom: WcsGeom, mask: Map | None, xx, yy) -> PixCoord | None:
        if mask is None:
            return None
        coord = geom.get_coord()
        idx = mask.geom.to_image().coord_to_idx({"skycoord": coord.skycoord})
        ok = np.logical_and.reduce([i >= 0 for i in idx])
        data = np.asarray(mask.data, bool)
        while data.ndim > 2:
            data = data.all(axis=0)
        allowed = np.ones(ok.shape, bool)
        allowed[ok] = data[idx[1][ok], idx[0][ok]]
        if allowed.all():
            return None
        return PixCoord(xx[~allowed], yy[~allowed])


class ReflectedRegionsBackgroundMaker:
    """Turn a :class:`SpectrumDataset` into a :class:`SpectrumDatasetOnOff` with reflected regions.

    ``acceptance = 1`` and ``acceptance_off = number of OFF regions``, so
    ``alpha = 1 / n_off``. For point-like IRFs with a ``PointSkyRegion`` ON region the regions
    are placed with the largest ``RAD_MAX`` at the ON offset, and OFF counts use the
    energy-dependent ``RAD_MAX`` cut around each OFF centre.

    Parameters
    ----------
    region_finder : ReflectedRegionsFinder or WobbleRegionsFinder, optional
        Finder; by default a :class:`ReflectedRegionsFinder` made from ``**kwargs``. With a
        :class:`~gammaprob.makers.WobbleRegionsFinder` and a ``PointSkyRegion`` the point
        itself is rotated and, as in gammapy, no OFF region is used if two ``RAD_MAX``
        circles overlap in the dataset's energy range.
    exclusion_mask : Map, optional
        Boolean sky image, True where OFF regions may be placed.
    **kwargs
        Passed to :class:`ReflectedRegionsFinder`.
    """

    tag = "ReflectedRegionsBackgroundMaker"

    def __init__(self, region_finder=None, exclusion_mask: Map | None = None, **kwargs) -> None:
        if exclusion_mask is not None:
            if not isinstance(exclusion_mask, Map):
                raise TypeError(
                    f"exclusion_mask must be a Map, got {type(exclusion_mask).__name__}"
                )
            data = np.asarray(exclusion_mask.data)
            if data.dtype != bool:
                raise ValueError("exclusion_mask must hold booleans (True = usable for OFF)")
            if not data.any():
                raise ValueError(
                    "exclusion_mask excludes every pixel: no OFF region could ever be placed"
                )
        self.exclusion_mask = exclusion_mask
        if region_finder is not None and kwargs:
            raise ValueError("give either region_finder or finder keyword arguments, not both")
        self.region_finder = region_finder or ReflectedRegionsFinder(**kwargs)

    def __repr__(self) -> str:
        mask = (
            "none" if self.exclusion_mask is None else str(self.exclusion_mask.geom.spatial_shape)
        )
        return f"{self.tag}({self.region_finder!r}, exclusion_mask={mask})"

    def make_counts_off(self, dataset: SpectrumDataset, observation):
        """OFF counts per reconstructed-energy bin and the OFF regions.

        Returns
        -------
        counts_off : numpy.ndarray
            OFF counts.
        regions : list of regions.SkyRegion
            OFF regions (empty when none fit).
        """
        region = dataset.meta.get("region")
        if not isinstance(region, SkyRegion):
            raise ValueError(
                f"dataset {dataset.name!r} has no ON region in meta['region'] (make it with "
                "SpectrumDatasetMaker)"
            )
        pointing = pointing_of(observation)
        events = observation.events
        edges = dataset.energy_axis.edges.to_value(u.TeV)
        energy = events.energy.to_value(u.TeV)
        if isinstance(region, PointSkyRegion):
            rad_max = observation.rad_max
            if rad_max is None:
                raise ValueError("a PointSkyRegion ON region needs RAD_MAX (point-like IRFs)")
            offset = region.center.separation(pointing)
            if getattr(self.region_finder, "rotates_points", False):
                from .wobble import rad_max_regions_overlap  # wobble imports this module

                # gammapy's convention: rotate the point, then drop all OFF regions if any
                # two RAD_MAX circles (ON included) overlap in the analysis energy range
                regions, _ = self.region_finder.run(region, pointing, self.exclusion_mask)
                if regions and rad_max_regions_overlap(
                    [region, *regions], rad_max, offset, dataset.energy_axis
                ):
                    warnings.warn(
                        f"{self.tag}: the RAD_MAX circles of the ON and OFF regions overlap for "
                        f"dataset {dataset.name!r}; no OFF region used (choose fewer OFF regions)",
                        stacklevel=3,
                    )
                    regions = []
            else:
                cut = rad_max.evaluate(
                    energy=dataset.energy_axis.edges,
                    offset=np.full(edges.size, offset.deg) * u.deg,
                )
                search = CircleSkyRegion(region.center, cut.max())
                regions, _ = self.region_finder.run(search, pointing, self.exclusion_mask)
            inside = np.zeros(len(events), bool)
            for off in regions:
                inside |= select_rad_max(events, rad_max, off.center, pointing)
        else:
            regions, wcs = self.region_finder.run(region, pointing, self.exclusion_mask)
            inside = np.zeros(len(events), bool)
            radec = events.radec
            for off in regions:
                inside |= np.asarray(off.contains(radec, wcs), bool)
        counts_off, _ = np.histogram(energy[inside], bins=edges)
        return counts_off.astype(float), regions

    def run(self, dataset: SpectrumDataset, observation) -> SpectrumDatasetOnOff:
        """Make the on/off dataset.

        If no OFF region fits (exclusion mask, small FoV), a warning names the dataset and the
        result has ``counts_off = 0``, ``acceptance_off = 0`` and an all-False safe mask.
        """
        counts_off, regions = self.make_counts_off(dataset, observation)
        n = dataset.energy_axis.nbin
        fields = {f.name: getattr(dataset, f.name) for f in dataclasses.fields(dataset) if f.init}
        meta = dict(dataset.meta, off_regions=regions)
        fields.update(
            meta=meta,
            background=None,
            counts_off=counts_off,
            acceptance=np.ones(n),
            acceptance_off=np.full(n, float(len(regions))),
        )
        if not regions:
            warnings.warn(
                f"{self.tag}: no OFF region found outside the exclusion mask for dataset "
                f"{dataset.name!r}; its safe mask is set to False",
                stacklevel=2,
            )
            fields["mask_safe"] = np.zeros(n, bool)
            fields["acceptance_off"] = np.ones(n)
        return SpectrumDatasetOnOff(**fields)
