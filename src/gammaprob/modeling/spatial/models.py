"""Analytic spatial components: Point, Gaussian, GeneralizedGaussian, Disk, Shell, Shell2, Constant.

Each class pairs parameter specs (angles in deg) with a pure formula from
:mod:`.functions`; see those functions for the exact definitions and normalisations.
gammapy's type names are registered as aliases so gammapy model files load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..component import register
from ..parameter import ParameterSpec
from ..prior import LogUniform, Uniform
from . import containment, functions
from .base import SpatialModel
from .pixels import wcs_and_shape

__all__ = [
    "Constant",
    "Disk",
    "Gaussian",
    "GeneralizedGaussian",
    "Point",
    "Shell",
    "Shell2",
]

_INF = math.inf

# Positions have no hard bounds so that Normal priors are allowed; fixed latitudes are
# checked to lie in [-90, 90] (SpatialModel._check_values).
LON_0 = ParameterSpec(
    "lon_0",
    "deg",
    0.0,
    (-_INF, _INF),
    Uniform(-360.0, 720.0, unit="deg"),
    description="longitude of the centre in the model frame",
)
LAT_0 = ParameterSpec(
    "lat_0",
    "deg",
    0.0,
    (-_INF, _INF),
    Uniform(-90.0, 90.0, unit="deg"),
    description="latitude of the centre in the model frame",
)
_WIDTH_PRIOR = LogUniform(1e-3, 10.0, unit="deg")
E_SPEC = ParameterSpec("e", "", 0.0, (0.0, 1.0), None, description="eccentricity, in [0, 1)")
PHI_SPEC = ParameterSpec(
    "phi",
    "deg",
    0.0,
    (-_INF, _INF),
    None,
    description="position angle of the major axis, east of north",
)


@register("Point", kind="spatial", aliases=("PointSpatialModel", "point"))
class Point(SpatialModel):
    """Point source at ``(lon_0, lat_0)``.

    A point source has no surface brightness; its formula is the share of its flux in
    each pixel of a grid. ``evaluate(x, y, x_0, y_0)`` takes pixel coordinates (the grid's
    and the source's) and returns bilinear weights that sum to one and preserve the
    centroid (:func:`~.functions.point_pixel_weights`). With a PSF, the forward model
    evaluates the PSF at :func:`~.sphere.separation` from ``(lon_0, lat_0)`` instead.

    Parameters
    ----------
    lon_0, lat_0 : float, Quantity, Prior, Parameter or tensor
        Position (deg).
    frame : {"icrs", "galactic"}
        Frame of the position.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (LON_0, LAT_0)

    evaluate = staticmethod(functions.point_pixel_weights)

    def __call__(self, coords):
        """Not defined: a point source has no surface brightness (use integrate_geom)."""
        raise TypeError(
            "a Point source has no surface brightness at sky positions; use "
            "integrate_geom(geom) for pixel weights, or the separation for a PSF"
        )

    def _evaluation_radius(self, values: Mapping[str, float]) -> float:
        return 0.0

    def _containment(self, values: Mapping[str, float], fraction: float) -> float:
        return 0.0

    def integrate_geom(self, geom: Any, oversampling: int | None = None) -> np.ndarray:
        """Share of the point source's flux in each pixel of a WCS image.

        Parameters
        ----------
        geom : WcsGeom or tuple
            Geometry (see :func:`~.pixels.wcs_and_shape`).
        oversampling : int, optional
            Ignored (the weights are exact for a delta function).

        Returns
        -------
        numpy.ndarray
            Weights, shape ``(ny, nx)``: bilinear among the four nearest pixels.
        """
        wcs, (ny, nx) = wcs_and_shape(geom)
        x_0, y_0 = self.position.to_pixel(wcs, origin=0)
        y, x = np.mgrid[0:ny, 0:nx].astype(float)
        return np.asarray(self.evaluate(x, y, float(x_0), float(y_0)))


@register("Gaussian", kind="spatial", aliases=("GaussianSpatialModel", "gauss"))
class Gaussian(SpatialModel):
    """Elongated two-dimensional Gaussian (:func:`~.functions.gaussian`).

    Parameters
    ----------
    lon_0, lat_0 : float, Quantity, Prior, Parameter or tensor
        Centre (deg).
    sigma : float, Quantity, Prior, Parameter or tensor
        Width along the major axis (deg), > 0.
    e : float
        Eccentricity in [0, 1) (default 0).
    phi : float or Quantity
        Position angle of the major axis (deg, east of north).
    frame : {"icrs", "galactic"}
        Frame of the centre.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        LON_0,
        LAT_0,
        ParameterSpec("sigma", "deg", 1.0, (0.0, 180.0), _WIDTH_PRIOR, description="width"),
        E_SPEC,
        PHI_SPEC,
    )
    _positive = ("sigma",)
    evaluate = staticmethod(functions.gaussian)

    def _evaluation_radius(self, values: Mapping[str, float]) -> float:
        return 5.0 * values["sigma"]

    def _bin_size_min(self, values: Mapping[str, float]) -> float:
        return values["sigma"] * math.sqrt(1.0 - values["e"] ** 2) / 3.0

    def _containment(self, values: Mapping[str, float], fraction: float) -> float:
        return containment.gaussian_containment(fraction, values["sigma"], values["e"])


@register(
    "GeneralizedGaussian",
    kind="spatial",
    aliases=("GeneralizedGaussianSpatialModel", "gauss-general"),
)
class GeneralizedGaussian(SpatialModel):
    """Elongated generalised Gaussian (:func:`~.functions.generalized_gaussian`).

    Parameters
    ----------
    lon_0, lat_0 : float, Quantity, Prior, Parameter or tensor
        Centre (deg).
    r_0 : float, Quantity, Prior, Parameter or tensor
        Scale along the major axis (deg), > 0.
    eta : float, Prior, Parameter or tensor
        Shape, > 0 (0.5: Gaussian, 1: Laplace, -> 0: disk).
    e : float
        Eccentricity in [0, 1).
    phi : float or Quantity
        Position angle of the major axis (deg).
    frame : {"icrs", "galactic"}
        Frame of the centre.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        LON_0,
        LAT_0,
        ParameterSpec("r_0", "deg", 1.0, (0.0, 180.0), _WIDTH_PRIOR, description="scale"),
        ParameterSpec("eta", "", 0.5, (0.0, _INF), Uniform(0.01, 1.0), description="shape"),
        E_SPEC,
        PHI_SPEC,
    )
    _positive = ("r_0", "eta")
    evaluate = staticmethod(functions.generalized_gaussian)

    def _evaluation_radius(self, values: Mapping[str, float]) -> float:
        return values["r_0"] * (1.0 + 8.0 * values["eta"])

    def _bin_size_min(self, values: Mapping[str, float]) -> float:
        return values["r_0"] / (3.0 + 8.0 * values["eta"]) / (values["e"] + 1.0)

    def _containment(self, values: Mapping[str, float], fraction: float) -> float:
        return containment.generalized_gaussian_containment(fraction, values["r_0"], values["eta"])


@register("Disk", kind="spatial", aliases=("DiskSpatialModel", "disk"))
class Disk(SpatialModel):
    """Elongated uniform disk with a smooth edge (:func:`~.functions.disk`).

    Parameters
    ----------
    lon_0, lat_0 : float, Quantity, Prior, Parameter or tensor
        Centre (deg).
    r_0 : float, Quantity, Prior, Parameter or tensor
        Semi-major axis (deg), > 0.
    e : float
        Eccentricity in [0, 1).
    phi : float or Quantity
        Position angle of the major axis (deg).
    edge_width : float
        Width of the edge (95 % to 5 %) as a fraction of the radius, in [0, 1]
        (default 0.01).
    frame : {"icrs", "galactic"}
        Frame of the centre.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        LON_0,
        LAT_0,
        ParameterSpec("r_0", "deg", 1.0, (0.0, 90.0), _WIDTH_PRIOR, description="radius"),
        E_SPEC,
        PHI_SPEC,
        ParameterSpec("edge_width", "", 0.01, (0.0, 1.0), None, description="edge width / r_0"),
    )
    _positive = ("r_0",)
    evaluate = staticmethod(functions.disk)

    def _evaluation_radius(self, values: Mapping[str, float]) -> float:
        return 1.1 * values["r_0"] * (1.0 + values["edge_width"])

    def _bin_size_min(self, values: Mapping[str, float]) -> float:
        return values["r_0"] * (1.0 - values["edge_width"]) / 10.0

    def _containment(self, values: Mapping[str, float], fraction: float) -> float:
        return containment.disk_containment(fraction, values["r_0"], values["e"])


@register("Shell", kind="spatial", aliases=("ShellSpatialModel", "shell"))
class Shell(SpatialModel):
    """Projected uniform spherical shell (:func:`~.functions.shell`).

    Parameters
    ----------
    lon_0, lat_0 : float, Quantity, Prior, Parameter or tensor
        Centre (deg).
    radius : float, Quantity, Prior, Parameter or tensor
        Inner radius (deg), >= 0.
    width : float, Quantity, Prior, Parameter or tensor
        Shell width (deg), > 0.
    frame : {"icrs", "galactic"}
        Frame of the centre.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        LON_0,
        LAT_0,
        ParameterSpec("radius", "deg", 1.0, (0.0, 90.0), _WIDTH_PRIOR, description="inner radius"),
        ParameterSpec("width", "deg", 0.2, (0.0, 90.0), _WIDTH_PRIOR, description="width"),
    )
    _positive = ("width",)
    evaluate = staticmethod(functions.shell)

    def _evaluation_radius(self, values: Mapping[str, float]) -> float:
        return values["radius"] + values["width"]

    def _bin_size_min(self, values: Mapping[str, float]) -> float:
        return values["width"]

    def _containment(self, values: Mapping[str, float], fraction: float) -> float:
        r_in = values["radius"]
        return containment.shell_containment(fraction, r_in, r_in + values["width"])


@register("Shell2", kind="spatial", aliases=("Shell2SpatialModel", "shell2"))
class Shell2(SpatialModel):
    """Shell with outer radius ``r_0`` and relative width ``eta`` (:func:`~.functions.shell2`).

    Parameters
    ----------
    lon_0, lat_0 : float, Quantity, Prior, Parameter or tensor
        Centre (deg).
    r_0 : float, Quantity, Prior, Parameter or tensor
        Outer radius (deg), > 0.
    eta : float, Prior, Parameter or tensor
        Width relative to ``r_0``, in (0, 1].
    frame : {"icrs", "galactic"}
        Frame of the centre.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        LON_0,
        LAT_0,
        ParameterSpec("r_0", "deg", 1.0, (0.0, 90.0), _WIDTH_PRIOR, description="outer radius"),
        ParameterSpec(
            "eta", "", 0.2, (0.0, 1.0), Uniform(0.02, 1.0), description="width / outer radius"
        ),
    )
    _positive = ("r_0", "eta")
    evaluate = staticmethod(functions.shell2)

    def _evaluation_radius(self, values: Mapping[str, float]) -> float:
        return values["r_0"]

    def _bin_size_min(self, values: Mapping[str, float]) -> float:
        return values["eta"] * values["r_0"]

    def _containment(self, values: Mapping[str, float], fraction: float) -> float:
        r_0 = values["r_0"]
        return containment.shell_containment(fraction, (1.0 - values["eta"]) * r_0, r_0)


@register("Constant", kind="spatial", aliases=("ConstantSpatialModel", "const"))
class Constant(SpatialModel):
    """Isotropic surface brightness (:func:`~.functions.constant`).

    Its integral over the sky is ``4 pi value``. It has no position; ``frame`` is
    accepted for uniformity and ignored.

    Parameters
    ----------
    value : float, Quantity, Prior, Parameter or tensor
        Surface brightness (sr^-1), default 1.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        ParameterSpec("value", "sr-1", 1.0, (0.0, _INF), None, description="surface brightness"),
    )
    evaluate = staticmethod(functions.constant)

    @property
    def position(self):
        """None: an isotropic model has no position."""
        return None

    def _containment(self, values: Mapping[str, float], fraction: float) -> float:
        raise ValueError("an isotropic (Constant) model has no containment radius")
