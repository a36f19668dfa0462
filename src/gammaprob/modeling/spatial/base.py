"""Base class of spatial components: frame, position, evaluation and pixel integration."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import astropy.units as u
import numpy as np

from ..component import Component
from .pixels import PixelQuadrature, wcs_and_shape
from .sphere import check_frame, separation

__all__ = ["MAX_OVERSAMPLING", "SpatialModel"]

#: Upper limit of the automatic oversampling factor per axis.
MAX_OVERSAMPLING = 200


class SpatialModel(Component):
    """Base class of spatial components (surface brightness in sr^-1).

    Subclasses declare ``parameter_specs`` (angles in deg) and a pure static
    ``evaluate(lon, lat, **params)`` with ``lon, lat`` in deg in the model's frame.
    Coordinates in another frame are converted at the edge (:meth:`__call__`,
    :meth:`integrate_geom`); the graph never sees a frame transformation.

    Parameters
    ----------
    frame : {"icrs", "galactic"}
        Frame of ``lon_0, lat_0`` and of the evaluation.
    **params
        Parameter values (numbers, Quantities, Priors, Parameters or tensors).
    """

    kind: ClassVar[str] = "spatial"
    #: Parameters that must be strictly positive (beyond the closed bounds of the spec).
    _positive: ClassVar[tuple[str, ...]] = ()

    def __init__(self, frame: str = "icrs", **params: Any) -> None:
        self.frame = check_frame(frame)
        super().__init__(**params)
        self._check_values()

    def _check_values(self) -> None:
        """Reject fixed values on an open bound (widths of zero, ``e == 1``)."""
        for name in self._positive:
            p = self._parameters[name]
            if not p.is_tensor and not p.value > 0:
                raise ValueError(
                    f"{type(self).__name__}: parameter {name!r} must be > 0, got {p.value}"
                )
        lat = self._parameters.get("lat_0")
        if lat is not None and not lat.is_tensor and not lat.is_free and abs(lat.value) > 90:
            raise ValueError(
                f"{type(self).__name__}: latitude 'lat_0' must be in [-90, 90] deg, got {lat.value}"
            )
        if "e" in self._parameters:
            p = self._parameters["e"]
            if not p.is_tensor and not 0.0 <= p.value < 1.0:
                raise ValueError(
                    f"{type(self).__name__}: eccentricity 'e' must be in [0, 1), got {p.value}"
                )

    # -- serialisation options ----------------------------------------------------------------
    def _options_to_dict(self) -> dict[str, Any]:
        return {"frame": self.frame}

    @classmethod
    def _options_from_dict(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {"frame": data.get("frame", "icrs")}

    # -- position -----------------------------------------------------------------------------
    @property
    def position(self):
        """Centre as a `~astropy.coordinates.SkyCoord` (reference values when free)."""
        from astropy.coordinates import SkyCoord

        values = self.values()
        return SkyCoord(values["lon_0"] * u.deg, values["lat_0"] * u.deg, frame=self.frame)

    def _lonlat(self, coords) -> tuple[np.ndarray, np.ndarray]:
        """SkyCoord -> (lon, lat) in deg in the model frame."""
        sph = coords.transform_to(self.frame).spherical
        return sph.lon.to_value("deg"), sph.lat.to_value("deg")

    # -- numeric evaluation -------------------------------------------------------------------
    def __call__(self, coords) -> u.Quantity:
        """Surface brightness at sky positions (numpy, current parameter values).

        Parameters
        ----------
        coords : `~astropy.coordinates.SkyCoord`
            Positions in any frame (converted to the model frame).

        Returns
        -------
        `~astropy.units.Quantity`
            Surface brightness (sr^-1).
        """
        lon, lat = self._lonlat(coords)
        return u.Quantity(self.evaluate(lon, lat, **self.values()), "sr-1")

    # -- sizes ----------------------------------------------------------------------------------
    def evaluation_radius(self, **values: float) -> u.Quantity | None:
        """Radius (deg) outside which the model is negligible; None when unbounded.

        Parameters
        ----------
        **values : float
            Parameter values overriding the current ones (e.g. an upper prior quantile
            of a width, to size a cutout that is safe for all posterior draws).
        """
        radius = self._evaluation_radius({**self.values(), **values})
        return None if radius is None else u.Quantity(radius, "deg")

    def _evaluation_radius(self, values: Mapping[str, float]) -> float | None:
        return None

    def _bin_size_min(self, values: Mapping[str, float]) -> float | None:
        """Pixel size (deg) below which plain centre sampling is accurate; None: any."""
        return None

    def containment_radius(self, fraction: float, **values: float) -> u.Quantity:
        """Radius (deg, along the major axis) containing ``fraction`` of the flux.

        Parameters
        ----------
        fraction : float
            Contained fraction in [0, 1).
        **values : float
            Parameter values overriding the current ones.
        """
        return u.Quantity(self._containment({**self.values(), **values}, fraction), "deg")

    def _containment(self, values: Mapping[str, float], fraction: float) -> float:
        raise NotImplementedError(f"{type(self).__name__} has no containment radius")

    # -- pixel integration ----------------------------------------------------------------------
    def oversampling_factor(self, geom: Any, **values: float) -> int:
        """Automatic oversampling factor for ``geom``: pixel size / model bin size, capped.

        Parameters
        ----------
        geom : WcsGeom or tuple
            Geometry (see :func:`~.pixels.wcs_and_shape`).
        **values : float
            Parameter values overriding the current ones.
        """
        from astropy.wcs.utils import proj_plane_pixel_scales

        wcs, _ = wcs_and_shape(geom)
        size = self._bin_size_min({**self.values(), **values})
        if size is None:
            return 1
        pixel = float(np.max(proj_plane_pixel_scales(wcs)))
        if size <= 0:
            return MAX_OVERSAMPLING
        return int(min(max(math.ceil(pixel / size), 1), MAX_OVERSAMPLING))

    def _box(self, geom: Any, values: Mapping[str, float]) -> tuple[slice, slice] | None:
        """Pixel box around the source covering the evaluation radius (None: whole image)."""
        from astropy.wcs.utils import proj_plane_pixel_scales

        radius = self._evaluation_radius(values)
        if radius is None:
            return None
        wcs, (ny, nx) = wcs_and_shape(geom)
        x0, y0 = self.position.to_pixel(wcs, origin=0)
        if not (np.isfinite(x0) and np.isfinite(y0)):
            return None
        half = radius / float(np.min(proj_plane_pixel_scales(wcs))) + 2
        xs = slice(max(int(np.floor(x0 - half)), 0), min(int(np.ceil(x0 + half)) + 1, nx))
        ys = slice(max(int(np.floor(y0 - half)), 0), min(int(np.ceil(y0 + half)) + 1, ny))
        if xs.stop <= xs.start or ys.stop <= ys.start:
            return None
        return ys, xs

    def integrate_geom(self, geom: Any, oversampling: int | None = None) -> np.ndarray:
        """Integral of the model over each pixel of a WCS image (numpy).

        Pixels are integrated with ``oversampling**2`` sub-pixels weighted by their exact
        solid angles within the model's evaluation radius, and at the pixel centre
        elsewhere. For a normalised model the sum over a grid covering it is 1.

        Parameters
        ----------
        geom : WcsGeom or tuple
            Geometry with ``wcs`` and ``data_shape``, or a ``(wcs, (ny, nx))`` pair.
        oversampling : int, optional
            Sub-pixels per pixel and axis (default: :meth:`oversampling_factor`).

        Returns
        -------
        numpy.ndarray
            Fraction of the model flux in each pixel, shape ``(ny, nx)``.
        """
        values = self.values()
        factor = self.oversampling_factor(geom) if oversampling is None else oversampling
        coarse = PixelQuadrature.from_geom(geom, self.frame, 1)
        result = np.array(coarse.integrate(self.evaluate(coarse.lon, coarse.lat, **values)))
        if factor > 1:
            box = self._box(geom, values)
            fine = PixelQuadrature.from_geom(geom, self.frame, factor, box)
            box = box or (slice(None), slice(None))
            result[box] = fine.integrate(self.evaluate(fine.lon, fine.lat, **values))
        return result

    def separation(self, coords) -> u.Quantity:
        """Angular distance of sky positions from the model centre (deg).

        Parameters
        ----------
        coords : `~astropy.coordinates.SkyCoord`
            Positions in any frame.
        """
        lon, lat = self._lonlat(coords)
        values = self.values()
        return u.Quantity(separation(lon, lat, values["lon_0"], values["lat_0"]), "deg")

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", frame={self.frame!r})"
