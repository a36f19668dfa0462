r"""World-to-pixel transform of a celestial WCS, written once for numpy and pytensor.

Kernel mode (:mod:`gammaprob.forward.kernel_mode`) places a point source on the pixel grid
through its pixel coordinates, which depend on the source position, a model parameter. This
module expresses the FITS WCS transform (Calabretta & Greisen 2002) in the array namespace of
:mod:`gammaprob.utils.xp`, so the same function gives numbers and differentiable graphs:

1. celestial unit vector to native spherical ``(phi, theta)`` by a constant rotation ``R``
   (fitted once to astropy's own celestial-to-native transform and checked);
2. native to intermediate coordinates ``(x, y)`` in deg by the projection (CAR, TAN, SIN, ARC,
   ZEA, STG);
3. ``(x, y)`` to 0-based pixel coordinates by the inverse of ``PC · diag(CDELT)`` and ``CRPIX``.

:meth:`SkyProjection.from_wcs` checks the result against ``astropy.wcs.WCS.world_to_pixel`` on
the map's pixel centres and refuses WCSs it cannot reproduce to 1e-8 pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PROJECTIONS", "SkyProjection"]

#: Projection codes :class:`SkyProjection` implements.
PROJECTIONS = ("CAR", "TAN", "SIN", "ARC", "ZEA", "STG")
_D2R = np.pi / 180.0


def _unit_vectors(lon, lat, xp):
    lon, lat = lon * _D2R, lat * _D2R
    return xp.cos(lat) * xp.cos(lon), xp.cos(lat) * xp.sin(lon), xp.sin(lat)


@dataclass(frozen=True, eq=False)
class SkyProjection:
    """Celestial WCS as constants: rotation, projection code and linear part.

    Attributes
    ----------
    code : str
        Projection code (one of :data:`PROJECTIONS`).
    rotation : numpy.ndarray
        ``(3, 3)`` rotation from celestial to native unit vectors.
    matrix_inv : numpy.ndarray
        ``(2, 2)`` inverse of ``PC · diag(CDELT)`` (pixel per deg).
    crpix : numpy.ndarray
        Reference pixel, 0-based ``(x, y)``.
    """

    code: str
    rotation: np.ndarray
    matrix_inv: np.ndarray
    crpix: np.ndarray

    @classmethod
    def from_wcs(cls, wcs, shape: tuple[int, int]) -> SkyProjection:
        """Build from a 2D celestial ``astropy.wcs.WCS`` and check it on the map's pixels.

        Parameters
        ----------
        wcs : astropy.wcs.WCS
            Celestial WCS of the map (no distortions).
        shape : tuple of int
            ``(n_lat, n_lon)`` of the map.

        Returns
        -------
        SkyProjection

        Raises
        ------
        ValueError
            For a projection not in :data:`PROJECTIONS`, distortions, or a transform that does
            not match astropy's to 1e-8 pixel.
        """
        wcs = wcs.celestial
        code = wcs.wcs.ctype[0][-3:]
        if code not in PROJECTIONS:
            raise ValueError(f"kernel mode supports the projections {PROJECTIONS}, got {code!r}")
        if wcs.has_distortion:
            raise ValueError("kernel mode does not support WCS distortions")
        wcs.wcs.set()
        # fit the celestial-to-native rotation on points around the reference point
        ny, nx = shape
        yy, xx = np.mgrid[0 : ny - 1 : 5j, 0 : nx - 1 : 5j]
        lon, lat = wcs.wcs_pix2world(xx.ravel(), yy.ravel(), 0)
        extra = np.array([[0.0, 0.0], [90.0, 0.0], [0.0, 60.0]])
        lon, lat = np.concatenate([lon, extra[:, 0]]), np.concatenate([lat, extra[:, 1]])
        res = wcs.wcs.s2p(np.stack([lon, lat], axis=1), 0)
        phi, theta = res["phi"], res["theta"]
        ok = res["stat"] == 0
        celestial = np.stack(_unit_vectors(lon, lat, np), axis=1)[ok]
        native = np.stack(_unit_vectors(phi, theta, np), axis=1)[ok]
        fit, *_ = np.linalg.lstsq(celestial, native, rcond=None)
        u, _, vt = np.linalg.svd(fit.T)
        rotation = u @ vt  # nearest orthogonal matrix
        linear = wcs.wcs.get_pc() @ np.diag(wcs.wcs.get_cdelt())
        out = cls(
            code=code,
            rotation=rotation,
            matrix_inv=np.linalg.inv(linear),
            crpix=np.asarray(wcs.wcs.crpix, dtype=np.float64) - 1.0,
        )
        yy, xx = np.mgrid[0:ny, 0:nx]
        lon, lat = wcs.wcs_pix2world(xx.ravel(), yy.ravel(), 0)
        x, y = out.world_to_pixel(lon, lat)
        error = max(np.max(np.abs(x - xx.ravel())), np.max(np.abs(y - yy.ravel())))
        if not error < 1e-8:
            raise ValueError(
                f"the {code} transform differs from astropy's by {error:.2e} pixel; "
                "kernel mode cannot place sources on this WCS"
            )
        return out

    def world_to_pixel(self, lon, lat):
        """0-based pixel coordinates ``(x, y)`` of sky positions (deg; numpy or tensors)."""
        from gammaprob.utils.xp import namespace

        xp = namespace(lon, lat)
        cx, cy, cz = _unit_vectors(lon, lat, xp)
        r = self.rotation
        nx = r[0, 0] * cx + r[0, 1] * cy + r[0, 2] * cz
        ny = r[1, 0] * cx + r[1, 1] * cy + r[1, 2] * cz
        nz = r[2, 0] * cx + r[2, 1] * cy + r[2, 2] * cz
        phi = xp.arctan2(ny, nx)  # rad, in (-pi, pi]
        cos_theta = xp.sqrt(nx * nx + ny * ny)
        if self.code == "CAR":
            x = phi / _D2R
            y = xp.arctan2(nz, cos_theta) / _D2R
        else:
            sin_theta = nz
            if self.code == "TAN":
                radius = cos_theta / sin_theta / _D2R
            elif self.code == "SIN":
                radius = cos_theta / _D2R
            elif self.code == "ARC":
                radius = 90.0 - xp.arctan2(sin_theta, cos_theta) / _D2R
            elif self.code == "ZEA":
                radius = xp.sqrt(2.0 * (1.0 - sin_theta)) / _D2R
            else:  # STG
                radius = 2.0 * cos_theta / (1.0 + sin_theta) / _D2R
            x = radius * xp.sin(phi)
            y = -radius * xp.cos(phi)
        m = self.matrix_inv
        return (
            m[0, 0] * x + m[0, 1] * y + self.crpix[0],
            m[1, 0] * x + m[1, 1] * y + self.crpix[1],
        )

    def __repr__(self) -> str:
        x, y = self.crpix
        return f"SkyProjection({self.code}, crpix=({x:.3f}, {y:.3f}))"
