"""Spatial template: a sky map (optionally with an energy axis) as a morphology."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, ClassVar

import astropy.units as u
import numpy as np

from gammaprob.utils.xp import is_tensor

from ..component import register
from ..parameter import MISSING, ParameterSpec
from .base import SpatialModel

__all__ = ["Template"]

_ENERGY_AXES = ("energy_true", "energy")


@register("Template", kind="spatial", aliases=("TemplateSpatialModel", "template"))
class Template(SpatialModel):
    """Morphology from a map, interpolated bilinearly (in log of the values, as gammapy).

    The template is a constant of the model: it is evaluated with numpy, and enters a
    graph as a constant array. ``lon_0, lat_0`` (default: the map centre) shift the
    template as a whole, in the map's frame.

    Parameters
    ----------
    map : `~gammaprob.maps.Map`
        Template on a WCS or HEALPix geometry; an energy axis (``energy_true`` or
        ``energy``) makes it energy dependent.
    normalize : bool
        Take the map values as proportional to the flux in each pixel and divide by their
        sum (per energy) and by the pixel solid angle, so that the result is in sr^-1 and
        its pixel integrals sum to 1 (gammapy's convention; default True). If False the
        map unit is kept (a dimensionless map is taken as sr^-1).
    filename : str, optional
        File the map came from (written to YAML; required to serialise).
    lon_0, lat_0 : float or Quantity, optional
        Position of the map centre (deg, map frame); fixed.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        ParameterSpec(
            "lon_0", "deg", 0.0, (-math.inf, math.inf), None, description="map centre longitude"
        ),
        ParameterSpec(
            "lat_0", "deg", 0.0, (-math.inf, math.inf), None, description="map centre latitude"
        ),
    )

    def __init__(
        self,
        map: Any,
        normalize: bool = True,
        filename: str | os.PathLike | None = None,
        lon_0: Any = MISSING,
        lat_0: Any = MISSING,
    ) -> None:
        if not isinstance(normalize, bool):
            raise TypeError(f"normalize must be a bool, got {normalize!r}")
        data = np.asarray(map.data, dtype=float)
        if not np.all(np.isfinite(data)):
            raise ValueError("template map has NaN or infinite values")
        if np.any(data < 0):
            raise ValueError("template map has negative values")
        geom = map.geom
        names = [a.name for a in geom.axes]
        extra = [n for n in names if n not in _ENERGY_AXES]
        if extra or len(names) > 1:
            raise ValueError(
                f"a spatial template may have one energy axis at most, got axes {names}"
            )
        self.energy_axis = names[0] if names else None
        n_spatial = len(geom.spatial_shape)
        spatial_axes = tuple(range(data.ndim - n_spatial, data.ndim))
        if normalize:
            # as gammapy: values proportional to the flux in each pixel, divided by the
            # pixel solid angle, so that the pixel integrals sum to one
            total = np.sum(data, axis=spatial_axes, keepdims=True)
            if np.any(total <= 0):
                raise ValueError("template map is zero (in at least one energy bin)")
            omega = geom.solid_angle().to_value("sr")
            map = map.copy(data=data / total / omega, unit="sr-1")
        elif map.unit.is_equivalent(""):
            map = map.copy(unit="sr-1")
        self.map = map
        self.normalize = normalize
        self.filename = None if filename is None else str(filename)
        center = geom.center_skydir.spherical
        self._center = (center.lon.to_value("deg"), center.lat.to_value("deg"))
        super().__init__(
            frame=geom.frame,
            lon_0=self._center[0] if lon_0 is MISSING else lon_0,
            lat_0=self._center[1] if lat_0 is MISSING else lat_0,
        )

    @classmethod
    def read(
        cls, filename: str | os.PathLike, normalize: bool = True, unit: Any = None
    ) -> Template:
        """Read a template from a FITS map.

        Parameters
        ----------
        filename : str or path-like
            Map file (``$GAMMAPY_DATA`` is expanded).
        normalize : bool
            See the class.
        unit : str, optional
            Unit to assign when the file has none.
        """
        from gammaprob.maps import Map
        from gammaprob.utils.paths import resolve_data_path

        m = Map.read(resolve_data_path(filename))
        if unit is not None and m.unit.is_equivalent(""):
            m = m.copy(unit=u.Unit(unit))
        return cls(m, normalize=normalize, filename=filename)

    # -- serialisation ------------------------------------------------------------------------
    def _options_to_dict(self) -> dict[str, Any]:
        if self.filename is None:
            raise ValueError("a Template needs a filename to be written to YAML")
        return {
            "frame": self.frame,
            "filename": self.filename,
            "normalize": self.normalize,
            "unit": self.map.unit.to_string(),
        }

    @classmethod
    def _options_from_dict(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        from gammaprob.maps import Map
        from gammaprob.utils.paths import resolve_data_path

        if "filename" not in data:
            raise ValueError("a Template entry needs a 'filename'")
        m = Map.read(resolve_data_path(data["filename"]))
        if "unit" in data and m.unit.is_equivalent(""):
            m = m.copy(unit=u.Unit(data["unit"]))
        return {
            "map": m,
            "normalize": bool(data.get("normalize", True)),
            "filename": data["filename"],
        }

    # -- evaluation ---------------------------------------------------------------------------
    @property
    def is_energy_dependent(self) -> bool:
        """True when the map has an energy axis."""
        return self.energy_axis is not None

    def evaluate(self, lon, lat, lon_0, lat_0, energy=None):
        """Template value at ``(lon, lat)`` (deg, map frame); 0 outside the map.

        Parameters
        ----------
        lon, lat : array-like
            Coordinates (deg).
        lon_0, lat_0 : float
            Position of the map centre (deg).
        energy : array-like, optional
            Energy (TeV); required for an energy-dependent template.

        Returns
        -------
        numpy.ndarray
            Surface brightness in the map unit (sr^-1 when normalised).
        """
        if any(is_tensor(v) for v in (lon, lat, lon_0, lat_0, energy)):
            raise TypeError(
                "a Template is a constant of the model: evaluate it with numpy and pass "
                "the result to the graph as a constant"
            )
        coords = {
            "lon": np.asarray(lon, float) - (lon_0 - self._center[0]),
            "lat": np.asarray(lat, float) - (lat_0 - self._center[1]),
        }
        if self.is_energy_dependent:
            if energy is None:
                raise ValueError("this template has an energy axis: pass energy (TeV)")
            coords[self.energy_axis] = np.asarray(energy, float)
        elif energy is not None:
            raise ValueError("this template has no energy axis; do not pass energy")
        coords = dict(zip(coords, np.broadcast_arrays(*coords.values()), strict=True))
        if self.is_energy_dependent:
            coords[self.energy_axis] = u.Quantity(coords[self.energy_axis], "TeV")
        with np.errstate(divide="ignore"):
            values = self.map.interp_by_coord(coords, fill_value=0.0, values_scale="log")
        return np.clip(np.nan_to_num(values.value, nan=0.0), 0.0, None)

    def __call__(self, coords, energy: u.Quantity | None = None) -> u.Quantity:
        """Template at sky positions (any frame), optionally at energies.

        Parameters
        ----------
        coords : `~astropy.coordinates.SkyCoord`
            Positions.
        energy : `~astropy.units.Quantity`, optional
            Energies (for an energy-dependent template).
        """
        lon, lat = self._lonlat(coords)
        e = None if energy is None else energy.to_value("TeV")
        return u.Quantity(self.evaluate(lon, lat, **self.values(), energy=e), self.map.unit)

    def integrate_geom(self, geom: Any, oversampling: int | None = None) -> np.ndarray:
        """Integral over each pixel of a WCS image (2D templates only; see base class)."""
        if self.is_energy_dependent:
            raise ValueError("integrate_geom needs a 2D template; slice the energy axis first")
        return super().integrate_geom(geom, oversampling)

    def _containment(self, values: Mapping[str, float], fraction: float) -> float:
        """Radius around (lon_0, lat_0) holding ``fraction`` of the map's flux (pixel sums)."""
        if self.is_energy_dependent:
            raise ValueError("containment of an energy-dependent template is not defined")
        coords = self.map.geom.get_coord()
        sep = self.separation(coords.skycoord).to_value("deg").ravel()
        flux = (self.map.data * self.map.geom.solid_angle().to_value("sr")).ravel()
        order = np.argsort(sep)
        cumulative = np.cumsum(flux[order]) / flux.sum()
        return float(sep[order][np.searchsorted(cumulative, fraction)])

    def __repr__(self) -> str:
        return (
            f"Template(shape={self.map.data.shape}, frame={self.frame!r}, unit="
            f"{self.map.unit.to_string()!r}, normalize={self.normalize}, "
            f"energy_axis={self.energy_axis!r})"
        )
