"""The constant response of a 3D map dataset (energy x lat x lon), built once.

:class:`MapResponse` holds counts, exposure, one energy-dispersion kernel and one radial PSF
table for the map, pixel-centre coordinates and solid angles, background and mask, as plain
float64 arrays in canonical units (TeV, deg, sr, cm2 s). The PSF is given per true energy
(IACTs, Fermi-LAT) or per reconstructed energy (``psf_energy="reco"``, as HAWC's nHit
datasets store it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from gammaprob.forward.response import _as_counts, _as_float_array, _check_edges

__all__ = ["PSF_ENERGY", "MapResponse", "haversine"]

#: Which energy axis a PSF table is binned in.
PSF_ENERGY = ("true", "reco")


def haversine(lon, lat, lon_0, lat_0):
    """Return ``sin^2(r/2)`` of the angular distance ``r`` (all angles in deg; numpy or tensors)."""
    from gammaprob.utils.xp import namespace

    xp = namespace(lon, lat, lon_0, lat_0)
    d2r = np.pi / 180.0
    s_lat = xp.sin(0.5 * d2r * (lat - lat_0))
    s_lon = xp.sin(0.5 * d2r * (lon - lon_0))
    return s_lat * s_lat + xp.cos(d2r * lat) * xp.cos(d2r * lat_0) * s_lon * s_lon


def frame_rotation(frame_from: str, frame_to: str) -> np.ndarray:
    """Rotation matrix taking unit vectors in ``frame_from`` to ``frame_to`` (astropy's)."""
    from astropy.coordinates import CartesianRepresentation, SkyCoord

    basis = SkyCoord(
        CartesianRepresentation(np.eye(3).T, unit=""),
        frame=frame_from,
        representation_type="cartesian",
    )
    return np.asarray(basis.transform_to(frame_to).cartesian.xyz.value)


def to_frame(lon, lat, frame_from: str, frame_to: str):
    """Convert positions (deg; numpy or tensors) between sky frames by a fixed rotation.

    Exact for ICRS and Galactic (a rotation); differentiable, so free positions sampled in
    the model's frame enter a dataset in another frame without approximation.

    Returns
    -------
    tuple
        ``(lon, lat)`` in deg in ``frame_to`` (``lon`` in ``(-180, 180]``).
    """
    from gammaprob.utils.xp import namespace

    if frame_from == frame_to:
        return lon, lat
    xp = namespace(lon, lat)
    rot = frame_rotation(frame_from, frame_to)
    d2r = np.pi / 180.0
    cos_lat = xp.cos(d2r * lat)
    v = (cos_lat * xp.cos(d2r * lon), cos_lat * xp.sin(d2r * lon), xp.sin(d2r * lat))
    x, y, z = (rot[i, 0] * v[0] + rot[i, 1] * v[1] + rot[i, 2] * v[2] for i in range(3))
    return xp.arctan2(y, x) / d2r, xp.arctan2(z, xp.sqrt(x * x + y * y)) / d2r


@dataclass(frozen=True, eq=False, repr=False)
class MapResponse:
    """The constant response of one 3D map dataset.

    Attributes
    ----------
    name : str
        Dataset name.
    frame : str
        Frame of ``lon``/``lat`` (``"icrs"`` or ``"galactic"``).
    energy_true_edges, energy_edges : numpy.ndarray
        True and reconstructed energy bin edges (TeV).
    counts : numpy.ndarray
        Counts ``(n_reco, n_pix)`` (pixels flattened), int64.
    exposure : numpy.ndarray
        Exposure ``(n_true, n_pix)`` in cm2 s.
    edisp : numpy.ndarray
        Energy dispersion ``(n_true, n_reco)``.
    background : numpy.ndarray
        Background counts ``(n_reco, n_pix)`` (zeros if the dataset has none).
    mask : numpy.ndarray
        Bins entering the likelihood ``(n_reco, n_pix)``.
    lon, lat : numpy.ndarray
        Pixel-centre coordinates (deg), ``(n_pix,)``; read-only.
    solid_angle : numpy.ndarray
        Pixel solid angles (sr), ``(n_pix,)``; read-only (shared with the geometry's cache).
    psf_haversine : numpy.ndarray
        PSF table nodes as ``sin^2(r/2)``, increasing, ``(n_rad,)``.
    psf_values : numpy.ndarray
        PSF density (sr-1) ``(n_psf, n_rad)``: per true energy (``n_psf = n_true``) or per
        reconstructed energy (``n_psf = n_reco``), see ``psf_energy``.
    shape : tuple
        Spatial shape ``(n_lat, n_lon)``.
    psf_energy : {"true", "reco"}
        Energy axis of the PSF table. With ``"reco"`` the PSF is applied after the energy
        dispersion (HAWC).
    counts_off, alpha : numpy.ndarray or None
        On/off datasets: OFF counts (int64) and ON/OFF exposure ratio, ``(n_reco, n_pix)``.
    dataset : object or None
        The gammaprob ``MapDataset`` this response was built from (:meth:`from_dataset`);
        kernel mode reads its PSF map, energy dispersion and WCS per source position.
    """

    name: str
    frame: str
    energy_true_edges: np.ndarray
    energy_edges: np.ndarray
    counts: np.ndarray
    exposure: np.ndarray
    edisp: np.ndarray
    background: np.ndarray
    mask: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    solid_angle: np.ndarray
    psf_haversine: np.ndarray
    psf_values: np.ndarray
    shape: tuple
    psf_energy: str = "true"
    counts_off: np.ndarray | None = None
    alpha: np.ndarray | None = None
    dataset: object | None = None

    @classmethod
    def from_arrays(
        cls,
        name: str,
        *,
        counts,
        exposure,
        edisp,
        energy_true_edges,
        energy_edges,
        lon,
        lat,
        solid_angle,
        psf_rad,
        psf_values,
        frame: str = "icrs",
        background=None,
        mask_safe=None,
        psf_energy: str = "true",
        counts_off=None,
        alpha=None,
        normalize_psf: bool = True,
    ) -> MapResponse:
        """Build the response from plain arrays in canonical units.

        Parameters
        ----------
        name : str
            Dataset name.
        counts : array_like
            Counts ``(n_reco, n_lat, n_lon)``.
        exposure : array_like
            Exposure ``(n_true, n_lat, n_lon)`` in cm2 s.
        edisp : array_like
            Energy dispersion ``(n_true, n_reco)`` (one kernel for the map).
        energy_true_edges, energy_edges : array_like
            Energy bin edges in TeV.
        lon, lat : array_like
            Pixel-centre coordinates in deg, ``(n_lat, n_lon)``.
        solid_angle : array_like
            Pixel solid angles in sr, ``(n_lat, n_lon)``.
        psf_rad : array_like
            Radii of the PSF table in deg, increasing from 0, ``(n_rad,)``.
        psf_values : array_like
            PSF density in sr-1 at those radii, ``(n_true, n_rad)``, or ``(n_reco, n_rad)``
            with ``psf_energy="reco"`` (one PSF for the map).
        frame : {"icrs", "galactic"}
            Frame of ``lon``/``lat``.
        background : array_like, optional
            Background counts ``(n_reco, n_lat, n_lon)``; values down to ``-1e-9`` times the
            maximum (rounding noise in files) are set to 0, more negative ones are an error.
        mask_safe : array_like of bool, optional
            Bins used in the likelihood (default: all).
        psf_energy : {"true", "reco"}
            Energy axis of ``psf_values``.
        counts_off, alpha : array_like, optional
            On/off datasets: OFF counts and ON/OFF exposure ratio ``(n_reco, n_lat, n_lon)``
            (give both, and no background); ``alpha`` must be > 0 inside the mask.
        normalize_psf : bool
            Rescale each PSF row to integrate to 1 over the table, ``4 pi`` times the trapezoid
            in ``h = sin^2(r/2)`` (exact for the linear interpolation in ``h`` used here; rows
            that are all zero stay zero). gammapy normalises its PSF kernels likewise; tables
            in files integrate to 1 only up to their binning (1.002-1.004 for Fermi-LAT 3FHL,
            1.001-1.004 for HAWC).

        Returns
        -------
        MapResponse

        Raises
        ------
        ValueError
            On inconsistent shapes, bad counts, non-finite values or an all-masked dataset.
        """
        e_true = _as_float_array(energy_true_edges, "energy_true_edges", 1)
        e_reco = _as_float_array(energy_edges, "energy_edges", 1)
        _check_edges(e_true, "energy_true_edges")
        _check_edges(e_reco, "energy_edges")
        n_true, n_reco = e_true.size - 1, e_reco.size - 1
        counts = np.asarray(counts)
        if counts.ndim != 3 or counts.shape[0] != n_reco:
            raise ValueError(
                f"counts must have shape (n_reco={n_reco}, n_lat, n_lon), got {counts.shape}"
            )
        shape = counts.shape[1:]
        n_pix = int(np.prod(shape))
        counts = _as_counts(counts.reshape(-1), "counts", n_reco * n_pix).reshape(n_reco, n_pix)
        exposure = _as_float_array(exposure, "exposure", 3)
        if exposure.shape != (n_true, *shape) or np.any(exposure < 0):
            raise ValueError(
                f"exposure must be non-negative with shape {(n_true, *shape)}, got {exposure.shape}"
            )
        edisp = _as_float_array(edisp, "edisp", 2)
        if edisp.shape != (n_true, n_reco) or np.any(edisp < 0):
            raise ValueError(
                f"edisp must be non-negative with shape {(n_true, n_reco)}, got {edisp.shape}"
            )
        if background is None:
            background = np.zeros((n_reco, n_pix))
        else:
            background = _as_float_array(background, "background", 3)
            floor = -1e-9 * np.abs(background).max() if background.size else 0.0
            if background.shape != counts.shape[:1] + shape or np.any(background < floor):
                raise ValueError(f"background must be non-negative with shape {(n_reco, *shape)}")
            # rounding noise of other codes (-4.5e-20 in the HAWC nHit-6 file) becomes 0
            background = np.maximum(background, 0.0)
        mask = np.ones((n_reco, n_pix), bool) if mask_safe is None else np.asarray(mask_safe, bool)
        if mask.size != n_reco * n_pix:
            raise ValueError(f"mask_safe must have shape {(n_reco, *shape)}, got {mask.shape}")
        mask = mask.reshape(n_reco, n_pix)
        if not mask.any():
            raise ValueError(
                f"dataset {name!r} has no bin inside its safe mask; it cannot enter a likelihood"
            )
        if (counts_off is None) != (alpha is None):
            raise ValueError("give both counts_off and alpha for an on/off dataset, or neither")
        if counts_off is not None:
            if np.any(background):
                raise ValueError(
                    "an on/off map dataset takes counts_off and alpha, not a background"
                )
            counts_off = _as_counts(
                np.asarray(counts_off).reshape(-1), "counts_off", n_reco * n_pix
            ).reshape(n_reco, n_pix)
            alpha = np.broadcast_to(_as_float_array(alpha, "alpha", 3), (n_reco, *shape)).reshape(
                n_reco, n_pix
            )
            if np.any(alpha[mask] <= 0):
                raise ValueError(
                    f"dataset {name!r}: alpha (ON/OFF exposure ratio) must be > 0 inside the mask; "
                    "mask the bins without OFF acceptance"
                )
            alpha = np.ascontiguousarray(alpha)
        coords = {}
        for key, value in (("lon", lon), ("lat", lat), ("solid_angle", solid_angle)):
            array = _as_float_array(value, key, 2)
            if array.shape != shape:
                raise ValueError(f"{key} must have the spatial shape {shape}, got {array.shape}")
            coords[key] = array.reshape(-1)
            coords[key].setflags(write=False)  # shared by every model built on this response
        rad = _as_float_array(psf_rad, "psf_rad", 1)
        values = _as_float_array(psf_values, "psf_values", 2)
        if psf_energy not in PSF_ENERGY:
            raise ValueError(f"psf_energy must be one of {PSF_ENERGY}, got {psf_energy!r}")
        n_psf = n_true if psf_energy == "true" else n_reco
        if values.shape != (n_psf, rad.size) or rad[0] != 0 or np.any(np.diff(rad) <= 0):
            raise ValueError(
                f"psf_rad must increase from 0 and psf_values have shape "
                f"(n_{psf_energy}={n_psf}, {rad.size}), got {values.shape}"
            )
        if np.any(values < -1e-9 * np.abs(values).max()):
            raise ValueError("psf_values must be non-negative (sr-1)")
        values = np.maximum(values, 0.0)  # rounding noise of interpolated tables
        psf_haversine = np.sin(0.5 * np.deg2rad(rad)) ** 2
        if normalize_psf:
            integral = 4.0 * np.pi * np.trapezoid(values, psf_haversine, axis=1)
            values = values / np.where(integral > 0, integral, 1.0)[:, None]
        if frame not in ("icrs", "galactic"):
            raise ValueError(f"frame must be 'icrs' or 'galactic', got {frame!r}")
        return cls(
            name=str(name),
            frame=frame,
            energy_true_edges=e_true,
            energy_edges=e_reco,
            counts=counts,
            exposure=exposure.reshape(n_true, n_pix),
            edisp=edisp,
            background=background.reshape(n_reco, n_pix),
            mask=mask,
            lon=coords["lon"],
            lat=coords["lat"],
            solid_angle=coords["solid_angle"],
            psf_haversine=psf_haversine,
            psf_values=values,
            shape=tuple(shape),
            psf_energy=psf_energy,
            counts_off=counts_off,
            alpha=alpha,
        )

    def pixel_jacobian(self) -> tuple[np.ndarray, ...]:
        """Local pixel-to-sky Jacobian (deg per pixel), each ``(n_lat, n_lon)``.

        Returns ``(dlon_dx, dlon_dy, dlat_dx, dlat_dy)`` from finite differences of the
        pixel-centre coordinates (``x`` along longitude columns, ``y`` along latitude rows).
        """
        if min(self.shape) < 2:
            raise ValueError(f"the map needs at least 2 x 2 pixels, got {self.shape}")
        lon = self.lon.reshape(self.shape)
        lat = self.lat.reshape(self.shape)
        wrap = lambda d: (d + 180.0) % 360.0 - 180.0  # noqa: E731
        dlon_dy, dlon_dx = (wrap(g) for g in np.gradient(np.unwrap(lon, period=360.0, axis=1)))
        dlat_dy, dlat_dx = np.gradient(lat)
        return dlon_dx, dlon_dy, dlat_dx, dlat_dy

    def subpixel_nodes(self, oversampling: int, pixels=None) -> tuple[np.ndarray, np.ndarray]:
        """Sub-pixel sample positions (deg), ``(n_pix, oversampling**2)`` each.

        ``pixels`` (flat indices) restricts the output to those pixels.

        Each pixel is split into ``oversampling x oversampling`` equal cells whose centres are
        placed with the local pixel-to-sky Jacobian (:meth:`pixel_jacobian`), which is exact
        for CAR grids and second-order accurate otherwise.
        """
        if oversampling < 1:
            raise ValueError(f"oversampling must be >= 1, got {oversampling}")
        pixels = slice(None) if pixels is None else np.asarray(pixels)
        dlon_dx, dlon_dy, dlat_dx, dlat_dy = (
            a.reshape(-1)[pixels][:, None] for a in self.pixel_jacobian()
        )
        offsets = (np.arange(oversampling) + 0.5) / oversampling - 0.5
        u, v = (a.reshape(-1) for a in np.meshgrid(offsets, offsets))  # x, y offsets in pixels
        lon_sub = self.lon[pixels][:, None] + dlon_dx * u + dlon_dy * v
        lat_sub = self.lat[pixels][:, None] + dlat_dx * u + dlat_dy * v
        return lon_sub, lat_sub

    @property
    def is_onoff(self) -> bool:
        """True when the dataset carries OFF counts (and no background)."""
        return self.counts_off is not None

    @classmethod
    def from_dataset(cls, dataset, position=None) -> MapResponse:
        """Build the response of a gammaprob ``MapDataset`` (see :func:`~._adapters.map_arrays`).

        Parameters
        ----------
        dataset : gammaprob.datasets.MapDataset
            3D dataset on a WCS geometry with exposure and a PSF map.
        position : `~astropy.coordinates.SkyCoord`, optional
            Where the PSF and energy dispersion are read (default: the map centre).

        Returns
        -------
        MapResponse
        """
        from gammaprob.forward._adapters import map_arrays

        return dataclasses.replace(
            cls.from_arrays(**map_arrays(dataset, position)), dataset=dataset
        )

    @property
    def energy_center(self) -> np.ndarray:
        """Reconstructed-energy bin centres (geometric mean of the edges, TeV)."""
        return np.sqrt(self.energy_edges[:-1] * self.energy_edges[1:])

    def containment_radii(self, fraction: float) -> np.ndarray:
        """Radius (deg) containing ``fraction`` of the PSF flux, per PSF energy bin (NaN: no PSF)."""
        r = 2.0 * np.arcsin(np.sqrt(self.psf_haversine))
        density = self.psf_values * 2 * np.pi * np.sin(r)  # per unit radius (rad-1)
        steps = 0.5 * np.diff(r) * (density[:, 1:] + density[:, :-1])
        cumulative = np.concatenate(
            [np.zeros((density.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1
        )
        total = cumulative[:, -1:]
        idx = np.argmax(cumulative >= fraction * total, axis=1)
        return np.where(total[:, 0] > 0, np.rad2deg(r[idx]), np.nan)

    def containment_radius(self, fraction: float) -> float:
        """Largest radius (deg) over energies that contains ``fraction`` of the PSF flux."""
        radii = self.containment_radii(fraction)
        return (
            float(np.nanmax(radii))
            if np.isfinite(radii).any()
            else float(np.rad2deg(2 * np.arcsin(np.sqrt(self.psf_haversine[-1]))))
        )

    def auto_oversampling(self) -> int:
        """Sub-pixels per axis so that a sub-pixel is at most 1/4 of the narrowest PSF r68."""
        pixel = np.rad2deg(np.sqrt(np.median(self.solid_angle)))
        radii = self.containment_radii(0.68)
        r68 = np.nanmin(radii) if np.isfinite(radii).any() else np.inf
        return int(np.clip(np.ceil(4.0 * pixel / max(r68, 1e-9)), 1, 8))

    def __repr__(self) -> str:
        return (
            f"MapResponse({self.name!r}, {self.frame}, shape={self.shape}, true {self.exposure.shape[0]} "
            f"bins, reco {self.counts.shape[0]} bins, PSF per {self.psf_energy} energy, "
            f"{int(self.mask.sum())} bins in mask, "
            f"counts={int(self.counts[self.mask].sum())}{', on/off' if self.is_onoff else ''})"
        )
