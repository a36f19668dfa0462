"""Analytic radial PSFs whose parameters are tabulated in true energy and offset.

``PSF_KING`` (King profile) and ``PSF_3GAUSS`` (sum of three 2D Gaussians). Parameters are
interpolated linearly (log in energy, linear in offset) and extrapolated beyond the table, then
the analytic density is evaluated. Densities are per steradian in the flat-sky approximation
(``∫ 2π r PSF(r) dr = 1`` with r in radians).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import astropy.units as u
import numpy as np

from gammaprob.maps.axes import MapAxes
from gammaprob.utils.fits import get_hdu, open_fits

from .core import frozen_state, restore_frozen_state
from .gadf import header_meta, is_pointlike, read_axis, read_data_column, table_hdu
from .gadf import write_table_hdu as _write
from .interpolation import interp_grid
from .psf_table import DEG2_TO_SR

__all__ = [
    "PSF3Gauss",
    "PSFKing",
    "king_containment",
    "king_pdf",
    "multi_gauss_containment",
    "multi_gauss_pdf",
]


def king_pdf(rad: np.ndarray, gamma: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """King profile density per deg².

    ``(1 - 1/γ) / (2πσ²) · (1 + r²/(2γσ²))^(-γ)``.

    Parameters
    ----------
    rad, gamma, sigma : numpy.ndarray
        Radius (deg), tail index γ (> 1), core width σ (deg).

    Returns
    -------
    numpy.ndarray
        Density in deg⁻².
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return (
            (1 - 1 / gamma)
            / (2 * np.pi * sigma**2)
            * (1 + rad**2 / (2 * gamma * sigma**2)) ** -gamma
        )


def king_containment(rad: np.ndarray, gamma: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """King profile containment ``1 - (1 + r²/(2γσ²))^(1-γ)``.

    Parameters
    ----------
    rad, gamma, sigma : numpy.ndarray
        Radius (deg), tail index γ, core width σ (deg).

    Returns
    -------
    numpy.ndarray
        Fraction within ``rad``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - (1 + rad**2 / (2 * gamma * sigma**2)) ** (1 - gamma)


def _gauss_norms(scale, sigmas, amplitudes):
    norms = [2 * scale * a * s**2 for a, s in zip(amplitudes, sigmas, strict=True)]
    total = np.sum(norms, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return [np.nan_to_num(n / total) for n in norms]


def multi_gauss_pdf(rad, scale, sigmas, amplitudes) -> np.ndarray:
    """Normalised sum of 2D Gaussians per deg² (GADF ``PSF_3GAUSS``).

    Component i has integral ``N_i ∝ 2 · scale · A_i · σ_i²`` (A_1 = 1), normalised to
    ``Σ N_i = 1``; its density is ``N_i exp(-r²/2σ_i²) / (2πσ_i²)``.

    Parameters
    ----------
    rad : numpy.ndarray
        Radius (deg).
    scale : numpy.ndarray
        ``SCALE`` parameter (cancels in the normalisation).
    sigmas : sequence of numpy.ndarray
        Component widths (deg).
    amplitudes : sequence of numpy.ndarray
        Relative amplitudes ``(1, AMPL_2, AMPL_3)``.

    Returns
    -------
    numpy.ndarray
        Density in deg⁻².
    """
    norms = _gauss_norms(scale, sigmas, amplitudes)
    return sum(
        n / (2 * np.pi * s**2) * np.exp(-0.5 * rad**2 / s**2)
        for n, s in zip(norms, sigmas, strict=True)
    )


def multi_gauss_containment(rad, scale, sigmas, amplitudes) -> np.ndarray:
    """Containment of :func:`multi_gauss_pdf` within ``rad`` (deg)."""
    norms = _gauss_norms(scale, sigmas, amplitudes)
    return sum(n * (1 - np.exp(-0.5 * rad**2 / s**2)) for n, s in zip(norms, sigmas, strict=True))


class _ParametricPSF:
    """Container of PSF parameters on (true energy, offset) nodes (immutable)."""

    required_axes: ClassVar[tuple[str, ...]] = ("energy_true", "offset")
    #: parameter name -> (GADF column, unit, unit required on read)
    parameters: ClassVar[dict[str, tuple[str, u.UnitBase, bool]]] = {}
    hduclas4: ClassVar[str] = ""
    extname: ClassVar[str] = ""

    def __init__(
        self,
        axes,
        parameters: Mapping[str, Any],
        meta: Mapping | None = None,
        is_pointlike: bool = False,
    ) -> None:
        axes = MapAxes(axes)
        if tuple(axes.names) != self.required_axes:
            raise ValueError(
                f"{type(self).__name__} needs axes {list(self.required_axes)}, got {axes.names}"
            )
        if set(parameters) != set(self.parameters):
            raise ValueError(
                f"{type(self).__name__} needs parameters {sorted(self.parameters)}, got {sorted(parameters)}"
            )
        values = {}
        for name, (_, unit, _) in self.parameters.items():
            value = parameters[name]
            if isinstance(value, u.Quantity):
                value = value.value if unit is None else value.to_value(unit)
            value = np.array(np.broadcast_to(value, axes.shape), dtype=float)
            if not np.all(np.isfinite(value)) or np.any(value < 0):
                raise ValueError(
                    f"{type(self).__name__}: parameter {name!r} must be finite and >= 0"
                )
            value.setflags(write=False)
            values[name] = value
        object.__setattr__(self, "_axes", axes)
        object.__setattr__(self, "_params", MappingProxyType(values))
        object.__setattr__(self, "_meta", MappingProxyType(dict(meta or {})))
        object.__setattr__(self, "_is_pointlike", bool(is_pointlike))

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable; create a new object instead")

    def __getstate__(self) -> dict:
        """State for pickle (Dask workers): the read-only mappings as plain dicts."""
        return frozen_state(self)

    def __setstate__(self, state: dict) -> None:
        """Restore a pickled PSF, read-only as built."""
        restore_frozen_state(self, state)

    @property
    def axes(self) -> MapAxes:
        """``energy_true`` and ``offset`` axes."""
        return self._axes

    @property
    def data(self) -> Mapping[str, np.ndarray]:
        """Parameter tables (read-only), in the units of `parameters`."""
        return self._params

    @property
    def meta(self) -> Mapping:
        """Header keywords."""
        return self._meta

    @property
    def is_pointlike(self) -> bool:
        """True for point-like IRFs."""
        return self._is_pointlike

    def __repr__(self) -> str:
        e, o = self.axes
        return (
            f"{type(self).__name__}(energy_true[{e.nbin}: {e.edges[0]:.4g}..{e.edges[-1]:.4g}], "
            f"offset[{o.nbin}: {o.edges[0]:.4g}..{o.edges[-1]:.4g}], parameters={list(self.parameters)})"
        )

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.axes == other.axes and all(
            np.array_equal(self._params[k], other._params[k]) for k in self._params
        )

    __hash__ = None

    def evaluate_parameters(
        self, energy_true: u.Quantity, offset: u.Quantity
    ) -> dict[str, np.ndarray]:
        """Interpolate the parameters (log energy, linear offset, extrapolated, clipped at 0).

        Parameters
        ----------
        energy_true : astropy.units.Quantity
            True energy.
        offset : astropy.units.Quantity
            Field-of-view offset.

        Returns
        -------
        dict of str to numpy.ndarray
            Parameter values in the units of `parameters`.
        """
        coords = [u.Quantity(energy_true).to_value(u.TeV), u.Quantity(offset).to_value(u.deg)]
        nodes = [a.center.to_value(unit) for a, unit in zip(self.axes, (u.TeV, u.deg), strict=True)]
        return {
            name: interp_grid(nodes, values, coords, ["log", "lin"])
            for name, values in self._params.items()
        }

    def evaluate(self, rad: u.Quantity, energy_true: u.Quantity, offset: u.Quantity) -> u.Quantity:
        """PSF density per solid angle.

        Parameters
        ----------
        rad : astropy.units.Quantity
            Distance from the source (angle).
        energy_true : astropy.units.Quantity
            True energy.
        offset : astropy.units.Quantity
            Field-of-view offset.

        Returns
        -------
        astropy.units.Quantity
            Density in sr⁻¹, broadcast over the inputs.
        """
        pars = self.evaluate_parameters(energy_true, offset)
        return u.Quantity(self._pdf(u.Quantity(rad).to_value(u.deg), pars) / DEG2_TO_SR, u.sr**-1)

    def containment(
        self, rad: u.Quantity, energy_true: u.Quantity, offset: u.Quantity
    ) -> u.Quantity:
        """Fraction of events within ``rad``.

        Parameters
        ----------
        rad, energy_true, offset : astropy.units.Quantity
            As for :meth:`evaluate`.

        Returns
        -------
        astropy.units.Quantity
            Dimensionless containment.
        """
        pars = self.evaluate_parameters(energy_true, offset)
        return u.Quantity(self._containment(u.Quantity(rad).to_value(u.deg), pars))

    def containment_radius(
        self, fraction, energy_true: u.Quantity, offset: u.Quantity
    ) -> u.Quantity:
        """Radius containing ``fraction`` of the events (bisection to 1e-10 deg).

        Parameters
        ----------
        fraction : float or numpy.ndarray
            Containment fraction in (0, 1).
        energy_true, offset : astropy.units.Quantity
            Where to evaluate.

        Returns
        -------
        astropy.units.Quantity
            Radius in deg.
        """
        fraction = np.asarray(fraction, dtype=float)
        if np.any((fraction <= 0) | (fraction >= 1)):
            raise ValueError("fraction must be in (0, 1)")
        pars = self.evaluate_parameters(energy_true, offset)
        shape = np.broadcast_shapes(fraction.shape, *(p.shape for p in pars.values()))
        lo, hi = np.zeros(shape), np.full(shape, 180.0)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            below = self._containment(mid, pars) < fraction
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return u.Quantity(0.5 * (lo + hi), u.deg)

    # ---- I/O ----------------------------------------------------------------------------------
    @classmethod
    def from_table_hdu(cls, hdu, path: str | os.PathLike | None = None):
        """Create from a GADF table HDU.

        Parameters
        ----------
        hdu : astropy.io.fits.BinTableHDU
            The PSF HDU.
        path : str or path-like, optional
            File name for error messages.

        Returns
        -------
        PSFKing or PSF3Gauss
            The PSF.
        """
        axes = MapAxes([read_axis(hdu, name, path) for name in cls.required_axes])
        params = {
            name: read_data_column(
                hdu, (column,), axes.shape, unit, path=path, unit_required=required
            )
            for name, (column, unit, required) in cls.parameters.items()
        }
        return cls(
            axes,
            cls._fix_parameters(params),
            meta=header_meta(hdu.header),
            is_pointlike=is_pointlike(hdu.header),
        )

    @classmethod
    def _fix_parameters(cls, params: dict) -> dict:
        # Files write SIGMA = 0 where a component (or the whole PSF) is undefined; 1 deg keeps
        # the formulas finite (as Gammapy does) and such nodes carry zero weight.
        for name in cls.parameters:
            if name.startswith("sigma"):
                params[name] = np.where(params[name] == 0, 1.0, params[name])
        return params

    @classmethod
    def read(cls, path: str | os.PathLike, hdu: str | int | None = None):
        """Read from a FITS file.

        Parameters
        ----------
        path : str or path-like
            File name.
        hdu : str or int, optional
            HDU name or index (default: the GADF name).

        Returns
        -------
        PSFKing or PSF3Gauss
            The PSF.
        """
        with open_fits(path) as hdulist:
            return cls.from_table_hdu(
                get_hdu(hdulist, cls.extname if hdu is None else hdu, path), path=path
            )

    def to_table_hdu(self, extname: str | None = None):
        """Convert to a GADF table HDU.

        Parameters
        ----------
        extname : str, optional
            HDU name.

        Returns
        -------
        astropy.io.fits.BinTableHDU
            The HDU.
        """
        meta = dict(self.meta)
        meta.update(
            HDUCLASS="GADF",
            HDUDOC="https://github.com/open-gamma-ray-astro/gamma-astro-data-formats",
            HDUVERS="0.3",
            HDUCLAS1="RESPONSE",
            HDUCLAS2="RPSF",
            HDUCLAS3="POINT-LIKE" if self.is_pointlike else "FULL-ENCLOSURE",
            HDUCLAS4=self.hduclas4,
        )
        columns = {
            col: u.Quantity(self._params[name], unit or u.one)
            for name, (col, unit, _) in self.parameters.items()
        }
        return table_hdu(self.axes, columns, meta, extname or self.extname)

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write to a FITS file, atomically.

        Parameters
        ----------
        path : str or path-like
            Output file.
        overwrite : bool
            Replace an existing file.
        """
        _write(self.to_table_hdu(), path, overwrite=overwrite)


class PSFKing(_ParametricPSF):
    """King-profile PSF with ``gamma`` and ``sigma`` (deg) tabulated in energy and offset.

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes or list of MapAxis
        ``energy_true`` and ``offset`` axes.
    parameters : mapping
        ``{"gamma": array, "sigma": Quantity or array in deg}`` of shape ``axes.shape``.
    meta, is_pointlike
        Header keywords and point-like flag.

    Notes
    -----
    The King profile is normalisable only for γ > 1. Files mark energies without a PSF with
    ``GAMMA = SIGMA = 0``; where the interpolated γ ≤ 1 the density and containment are 0
    (Gammapy returns -inf there). ``SIGMA = 0`` is read as 1 deg, as Gammapy does.
    """

    parameters: ClassVar[dict] = {"gamma": ("GAMMA", u.one, False), "sigma": ("SIGMA", u.deg, True)}
    hduclas4: ClassVar[str] = "PSF_KING"
    extname: ClassVar[str] = "PSF_2D_KING"

    @staticmethod
    def _pdf(rad, pars):
        gamma = pars["gamma"]
        return np.where(
            gamma > 1, king_pdf(rad, np.where(gamma > 1, gamma, 2.0), pars["sigma"]), 0.0
        )

    @staticmethod
    def _containment(rad, pars):
        gamma = pars["gamma"]
        return np.where(
            gamma > 1, king_containment(rad, np.where(gamma > 1, gamma, 2.0), pars["sigma"]), 0.0
        )


class PSF3Gauss(_ParametricPSF):
    """Triple-Gaussian PSF (GADF ``PSF_3GAUSS``) tabulated in energy and offset.

    Parameters
    ----------
    axes : gammaprob.maps.MapAxes or list of MapAxis
        ``energy_true`` and ``offset`` axes.
    parameters : mapping
        ``scale``, ``sigma_1..3`` (deg), ``ampl_2``, ``ampl_3`` of shape ``axes.shape``. The
        unit of ``SCALE`` varies between files and is irrelevant (it cancels in the
        normalisation); its numbers are kept as stored.
    meta, is_pointlike
        Header keywords and point-like flag.

    Notes
    -----
    Some files store ``SIGMA_i = 0`` for unused components; on read these are replaced by 1 deg
    (as Gammapy does), which leaves the PSF unchanged when the component's amplitude is 0.
    Where all amplitudes are zero the density is 0.
    """

    parameters: ClassVar[dict] = {
        "scale": ("SCALE", None, False),
        "sigma_1": ("SIGMA_1", u.deg, True),
        "sigma_2": ("SIGMA_2", u.deg, True),
        "sigma_3": ("SIGMA_3", u.deg, True),
        "ampl_2": ("AMPL_2", u.one, False),
        "ampl_3": ("AMPL_3", u.one, False),
    }
    hduclas4: ClassVar[str] = "PSF_3GAUSS"
    extname: ClassVar[str] = "PSF_2D_GAUSS"

    @staticmethod
    def _split(pars):
        sigmas = [pars["sigma_1"], pars["sigma_2"], pars["sigma_3"]]
        amplitudes = [np.ones_like(pars["ampl_2"]), pars["ampl_2"], pars["ampl_3"]]
        return pars["scale"], sigmas, amplitudes

    @classmethod
    def _pdf(cls, rad, pars):
        return multi_gauss_pdf(rad, *cls._split(pars))

    @classmethod
    def _containment(cls, rad, pars):
        return multi_gauss_containment(rad, *cls._split(pars))
