"""Wobble OFF regions: ``n`` copies of the ON region rotated about the pointing."""

from __future__ import annotations

import itertools
import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, SkyCoord
from regions import PixCoord, PointSkyRegion, SkyRegion

from gammaprob.maps import Map

from .reflected import ReflectedRegionsFinder

__all__ = ["WobbleRegionsFinder", "rad_max_regions_overlap"]


class WobbleRegionsFinder:
    """Place ``n_off_regions`` OFF regions at equal angles on the circle through the ON region.

    The ON region is rotated about the rotation centre (the pointing) by ``k * 360 deg /
    (n_off_regions + 1)``, ``k = 1 .. n_off_regions``, in the pixel frame of a TAN projection
    tangent at the centre, in the frame of the ON region's centre (gammapy's
    ``WobbleRegionsFinder`` convention: the result does not depend on ``binsz`` beyond
    rounding). Rotated regions that touch an excluded pixel are dropped (a point region is
    dropped when an excluded pixel centre lies within one pixel of it). If two extended OFF
    regions overlap (a pixel inside both), no region is returned and a warning says so; for
    point regions the overlap of the ``RAD_MAX`` circles is checked by the background maker
    (:func:`rad_max_regions_overlap`).

    Parameters
    ----------
    n_off_regions : int
        Number of OFF regions (fewer are returned where the exclusion mask removes some).
    binsz : `~astropy.coordinates.Angle` or str
        Pixel size of the reference projection (exclusion mask and overlap test).
    """

    #: Point ON regions are rotated as points (RAD_MAX overlap checked by the maker).
    rotates_points = True

    def __init__(self, n_off_regions: int, binsz="0.01 deg") -> None:
        if isinstance(n_off_regions, bool) or int(n_off_regions) != n_off_regions:
            raise TypeError(f"n_off_regions must be an integer, got {n_off_regions!r}")
        if int(n_off_regions) < 1:
            raise ValueError(f"n_off_regions must be >= 1, got {n_off_regions!r}")
        self.n_off_regions = int(n_off_regions)
        self.binsz = Angle(binsz).to_value(u.deg)
        if not self.binsz > 0:
            raise ValueError(f"binsz must be positive, got {binsz!r}")
        # geometry and exclusion helpers shared with the reflected-regions finder
        self._reference = ReflectedRegionsFinder(binsz=binsz)

    def __repr__(self) -> str:
        return (
            f"WobbleRegionsFinder(n_off_regions={self.n_off_regions}, binsz={self.binsz:.4g} deg)"
        )

    def run(
        self, region: SkyRegion, center: SkyCoord, exclusion_mask: Map | None = None
    ) -> tuple[list[SkyRegion], object]:
        """Find the OFF regions.

        Parameters
        ----------
        region : regions.SkyRegion
            ON region (a point for point-like analyses with ``RAD_MAX``).
        center : `~astropy.coordinates.SkyCoord`
            Rotation centre, the pointing position.
        exclusion_mask : Map, optional
            Boolean sky image, True where OFF regions may go.

        Returns
        -------
        regions : list of regions.SkyRegion
            OFF regions in order of increasing rotation angle (possibly empty).
        wcs : `~astropy.wcs.WCS`
            Reference projection.

        Raises
        ------
        ValueError
            The ON region's centre is at the rotation centre (closer than one pixel), or an
            extended ON region contains the rotation centre: every rotated copy would be the
            ON region itself.
        """
        if not isinstance(region, SkyRegion):
            raise TypeError(f"region must be a regions.SkyRegion, got {type(region).__name__}")
        separation = region.center.separation(center).to_value(u.deg)
        if separation < self.binsz:
            raise ValueError(
                f"WobbleRegionsFinder: the target {region.center.to_string('decimal')} is at the "
                f"pointing position (separation {separation:.3g} deg < binsz {self.binsz:.3g} "
                "deg); wobble OFF regions need a target offset from the pointing"
            )
        geom = self._reference.reference_geom(region, center)
        wcs = geom.wcs
        center_pix = PixCoord.from_sky(center, wcs)
        region_pix = region.to_pixel(wcs)
        is_point = isinstance(region, PointSkyRegion)
        if not is_point and region_pix.contains(center_pix):
            raise ValueError(
                "WobbleRegionsFinder: the ON region contains the pointing position; wobble OFF "
                "regions need an ON region away from the pointing"
            )
        ny, nx = geom.spatial_shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        excluded = self._reference._excluded_pixels(geom, exclusion_mask, xx, yy)
        step = 2 * np.pi / (self.n_off_regions + 1)
        kept = []
        for k in range(1, self.n_off_regions + 1):
            test = region_pix.rotate(center_pix, k * step * u.rad)
            if excluded is not None and _touches(test, excluded, is_point):
                continue
            kept.append(test)
        if not is_point and _overlapping(kept, (ny, nx)):
            warnings.warn(
                "WobbleRegionsFinder: the OFF regions overlap; no OFF region returned (use "
                "fewer or smaller regions)",
                stacklevel=2,
            )
            return [], wcs
        return [r.to_sky(wcs) for r in kept], wcs


def _touches(region_pix, excluded: PixCoord, is_point: bool) -> bool:
    if is_point:
        return bool(np.any(excluded.separation(region_pix.center) < 1))
    return bool(np.any(region_pix.contains(excluded)))


def _overlapping(regions_pix, shape) -> bool:
    masks = [r.to_mask().to_image(shape) > 0 for r in regions_pix]
    return any(np.any(a & b) for a, b in itertools.combinations(masks, 2))


def rad_max_regions_overlap(regions, rad_max, offset, energy_axis) -> bool:
    """Whether two point regions are closer than twice ``RAD_MAX`` in the analysis energy range.

    Parameters
    ----------
    regions : list of regions.PointSkyRegion
        ON and OFF regions.
    rad_max : gammaprob.irf.RadMax2D
        Direction cut.
    offset : `~astropy.coordinates.Angle`
        Offset of the ON region from the pointing.
    energy_axis : gammaprob.maps.MapAxis
        Reconstructed-energy axis of the dataset; ``RAD_MAX`` bins that intersect its range
        are checked (at their centres, linear interpolation as ``RadMax2D.evaluate``).

    Returns
    -------
    bool
        True if any pair of circles overlaps.
    """
    if len(regions) < 2:
        return False
    centers = SkyCoord([r.center for r in regions])
    separations = np.array(
        [
            centers[i].separation(centers[j]).deg
            for i, j in itertools.combinations(range(len(regions)), 2)
        ]
    )
    axis = rad_max.axes["energy"]
    edges = axis.edges.to_value(u.TeV)
    e_min, e_max = energy_axis.edges[[0, -1]].to_value(u.TeV)
    in_range = (edges[1:] >= e_min) & (edges[:-1] <= e_max)
    cut = rad_max.evaluate(
        energy=axis.center, offset=np.full(axis.nbin, Angle(offset).deg) * u.deg
    ).to_value(u.deg)[in_range]
    return bool(np.any(separations[None, :] < 2 * cut[:, None]))
