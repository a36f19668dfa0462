"""Reduction templates: the binning a maker fills for every observation.

Datasets are frozen, so instead of gammapy's "empty dataset" a maker receives a small
template that holds the geometry and axes, and returns a new dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from regions import PointSkyRegion, SkyRegion

from gammaprob.maps import HpxGeom, MapAxis, RegionGeom, WcsGeom
from gammaprob.maps.geom import Geom

__all__ = ["MapTemplate", "SpectrumTemplate"]

#: Default PSF radius axis of PSF maps (as gammapy's ``MapDataset.create``).
RAD_AXIS_DEFAULT = MapAxis.from_bounds(0, 0.66, nbin=66, unit="deg", name="rad")


def _check_axis(axis, name: str, what: str) -> None:
    if not isinstance(axis, MapAxis) or axis.name != name:
        raise TypeError(f"{what} must be a MapAxis named {name!r}, got {axis!r}")


@dataclass(frozen=True)
class SpectrumTemplate:
    """Binning of a 1D (ON region) reduction.

    Parameters
    ----------
    region : regions.SkyRegion
        ON region: a circle (or any sky region) for full-enclosure IRFs, or a
        ``PointSkyRegion`` whose size comes from the ``RAD_MAX`` cut of point-like IRFs.
    energy_axis : MapAxis
        Reconstructed-energy axis, named ``energy``.
    energy_axis_true : MapAxis
        True-energy axis, named ``energy_true``.
    name : str
        Name prefix of the datasets (``"{name}-{obs_id}"`` per observation).
    """

    region: SkyRegion
    energy_axis: MapAxis
    energy_axis_true: MapAxis
    name: str = "spectrum"

    def __post_init__(self) -> None:
        if not isinstance(self.region, SkyRegion):
            raise TypeError(f"region must be a regions.SkyRegion, got {type(self.region).__name__}")
        _check_axis(self.energy_axis, "energy", "energy_axis")
        _check_axis(self.energy_axis_true, "energy_true", "energy_axis_true")

    @property
    def is_point(self) -> bool:
        """True for a ``PointSkyRegion`` (ON size from RAD_MAX)."""
        return isinstance(self.region, PointSkyRegion)

    @property
    def center(self):
        """Centre of the ON region (`~astropy.coordinates.SkyCoord`)."""
        if self.is_point:
            return self.region.center
        return self.geom.center_skydir

    @property
    def geom(self) -> RegionGeom:
        """Region geometry with the reconstructed-energy axis (not for point regions)."""
        if self.is_point:
            raise ValueError("a PointSkyRegion has no RegionGeom (its size comes from RAD_MAX)")
        return RegionGeom(self.region, axes=[self.energy_axis])

    def __repr__(self) -> str:
        kind = type(self.region).__name__
        size = getattr(self.region, "radius", None)
        size = f", radius={size.to_value(u.deg):.4g} deg" if size is not None else ""
        return (
            f"SpectrumTemplate({kind} at ({self.center.icrs.ra.deg:.4f}, "
            f"{self.center.icrs.dec.deg:.4f}){size}, {self.energy_axis.nbin} reco x "
            f"{self.energy_axis_true.nbin} true energy bins, name={self.name!r})"
        )


@dataclass(frozen=True)
class MapTemplate:
    """Binning of a 3D (map) reduction.

    Parameters
    ----------
    geom : WcsGeom or HpxGeom
        Counts geometry with a reconstructed-energy axis ``energy``.
    energy_axis_true : MapAxis
        True-energy axis of exposure, PSF and energy dispersion.
    binsz_irf : `~astropy.units.Quantity`
        Pixel size of the coarse PSF / energy-dispersion map geometry (for HEALPix: the
        coarsest power-of-two ``nside`` with pixels no larger than this, at most the map's).
    rad_axis : MapAxis
        Radius axis of the PSF map.
    name : str
        Name prefix of the datasets.
    """

    geom: Geom
    energy_axis_true: MapAxis
    binsz_irf: u.Quantity = field(default_factory=lambda: 0.2 * u.deg)
    rad_axis: MapAxis = RAD_AXIS_DEFAULT
    name: str = "map"

    def __post_init__(self) -> None:
        if not isinstance(self.geom, Geom) or isinstance(self.geom, RegionGeom):
            raise TypeError(f"geom must be a WcsGeom or HpxGeom, got {type(self.geom).__name__}")
        if "energy" not in self.geom.axes.names:
            raise ValueError(f"geom needs an 'energy' axis, has {self.geom.axes.names}")
        _check_axis(self.energy_axis_true, "energy_true", "energy_axis_true")
        _check_axis(self.rad_axis, "rad", "rad_axis")
        binsz = u.Quantity(self.binsz_irf, u.deg)
        if binsz.ndim != 0 or not binsz.value > 0:
            raise ValueError(f"binsz_irf must be a positive angle, got {self.binsz_irf!r}")
        object.__setattr__(self, "binsz_irf", binsz)

    @property
    def energy_axis(self) -> MapAxis:
        """Reconstructed-energy axis."""
        return self.geom.axes["energy"]

    @property
    def geom_exposure(self) -> Geom:
        """Counts image geometry with the true-energy axis."""
        return self.geom.to_image().to_cube([self.energy_axis_true])

    @property
    def geom_irf_image(self) -> Geom:
        """Coarse image geometry of the PSF and energy-dispersion maps."""
        geom = self.geom
        if isinstance(geom, WcsGeom):
            width = geom.width.to_value(u.deg)
            binsz = self.binsz_irf.to_value(u.deg)
            npix = tuple(int(n) for n in np.maximum(np.round(np.ravel(width) / binsz), 1))
            return WcsGeom.create(
                skydir=geom.center_skydir,
                npix=npix,
                binsz=binsz,
                frame=geom.frame,
                proj=geom.wcs.wcs.ctype[0][-3:],
            )
        if isinstance(geom, HpxGeom):
            # coarsest power-of-two nside whose pixels are still <= binsz_irf
            nside_one = float(np.sqrt(np.pi / 3) * 180 / np.pi)  # pixel size at nside 1 (deg)
            nside = 2 ** int(np.ceil(np.log2(nside_one / self.binsz_irf.to_value(u.deg))))
            return geom.to_image().to_nside(min(nside, geom.nside))
        return geom.to_image()

    def __repr__(self) -> str:
        return (
            f"MapTemplate({type(self.geom).__name__} {self.geom.spatial_shape} x "
            f"{self.energy_axis.nbin} reco, {self.energy_axis_true.nbin} true energy bins, "
            f"name={self.name!r})"
        )


def region_contains(region: SkyRegion, skycoord, wcs) -> np.ndarray:
    """Sky positions inside ``region``, tested in the pixel frame of ``wcs`` (as gammapy does).

    Parameters
    ----------
    region : regions.SkyRegion
        Region (a compound region counts as the union).
    skycoord : `~astropy.coordinates.SkyCoord`
        Positions.
    wcs : `~astropy.wcs.WCS`
        Projection used for the test.

    Returns
    -------
    numpy.ndarray of bool
        Containment per position.
    """
    if skycoord.size == 0:
        return np.zeros(skycoord.shape, bool)
    return np.asarray(region.contains(skycoord, wcs), bool)
