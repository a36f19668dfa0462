r"""Gamma rays from dark-matter annihilation: tabulated spectra, J-factors, stacked limits.

Spectra
-------
:func:`read_annihilation_table` reads the PPPC 4 DM ID table of photon spectra at production
(``$GAMMAPY_DATA/dark_matter_spectra/PPPC4DMID/AtProduction_gammas.dat``): for 62 masses
(5 GeV to 100 TeV) and 179 values of ``log10 x`` (``x = E / m``, -8.9 to 0) the number of
photons per annihilation per decade, ``dN/dlog10 x``, in 28 channels. Channel names are the
table's with the Mathematica symbols spelled out: ``"b"``, ``"tau"``, ``"mu"``, ``"W"``,
``"Z"``, ``"gamma"``, ``"h"``, ``"t"``, ``"nu_mu"``, ``"V->tau"``, ...

Interpolation (the scheme of gammapy's ``PrimaryFlux``): between tabulated masses,
``dN/dlog10 x`` at each tabulated ``log10 x`` is linear in ``ln m``; in ``log10 x`` it is
piecewise linear. Above ``x = 1`` (``E > m``) and below the table's smallest ``x`` the
spectrum is zero. At a tabulated mass the table is reproduced exactly. Because
``dE / (E ln 10) = d log10 x``, the integral of ``dN/dE`` over an energy bin is the integral
of the piecewise-linear ``dN/dlog10 x``, which :class:`DarkMatterAnnihilation` computes
exactly (no quadrature across the edge at ``E = m``).

Flux
----
.. math::

    \frac{d\phi}{dE} = \frac{\langle\sigma v\rangle\, J}{4\pi\, k\, m^2}
    \frac{dN}{dE}

with ``k = 2`` for a Majorana particle (``4`` for Dirac), ``J`` the J-factor integrated over
the region (GeV^2 cm^-5) and ``m`` the mass (GeV); gammapy's
``DarkMatterAnnihilationSpectralModel`` with ``scale = sigma_v / 3e-26 cm3 s-1`` and
``z = 0`` gives the same flux.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from gammaprob.utils.errors import DataNotFoundError, FormatError
from gammaprob.utils.paths import resolve_data_path
from gammaprob.utils.xp import namespace

from .component import register
from .interpolate import _take, bin_index, interp1d
from .parameter import Parameter, ParameterSpec
from .prior import LogNormal, Prior
from .spectral.base import SpectralModel

__all__ = [
    "DEFAULT_TABLE",
    "JFACTOR_UNIT",
    "SIGMA_V_UNIT",
    "THERMAL_RELIC_SIGMA_V",
    "AnnihilationTable",
    "DarkMatterAnnihilation",
    "jfactor_prior",
    "read_annihilation_table",
    "stacked_annihilation_models",
]

#: The PPPC 4 DM ID table in gammapy-data.
DEFAULT_TABLE = "$GAMMAPY_DATA/dark_matter_spectra/PPPC4DMID/AtProduction_gammas.dat"
JFACTOR_UNIT = u.Unit("GeV2 cm-5")
SIGMA_V_UNIT = u.Unit("cm3 s-1")
#: Thermal-relic velocity-averaged annihilation cross-section (cm3 s-1).
THERMAL_RELIC_SIGMA_V = 3e-26
_LN10 = math.log(10.0)
_SYMBOLS = ((r"\[Nu]", "nu_"), (r"\[Mu]", "mu"), (r"\[Tau]", "tau"), (r"\[Gamma]", "gamma"))


def _channel_name(column: str) -> str:
    for symbol, name in _SYMBOLS:
        column = column.replace(symbol, name)
    return column


@dataclass(frozen=True)
class AnnihilationTable:
    """Photon spectra per annihilation on a (mass, log10 x) grid (read-only arrays).

    Attributes
    ----------
    mass : numpy.ndarray
        Increasing masses (GeV), shape ``(n_m,)``.
    log10x : numpy.ndarray
        Increasing ``log10(E / m)``, shape ``(n_x,)``.
    dnd_log10x : dict
        ``{channel: array (n_m, n_x)}`` of ``dN/dlog10 x`` (photons per annihilation).
    source : str
        The file read.
    """

    mass: np.ndarray
    log10x: np.ndarray
    dnd_log10x: Mapping[str, np.ndarray]
    source: str

    @property
    def channels(self) -> list[str]:
        """Channel names."""
        return list(self.dnd_log10x)

    def spectrum(self, channel: str, mass: float) -> np.ndarray:
        """``dN/dlog10 x`` at the tabulated ``log10x`` for ``mass`` (GeV), linear in ln m.

        Raises
        ------
        ValueError
            Unknown channel, or a mass outside the table.
        """
        if channel not in self.dnd_log10x:
            raise ValueError(
                f"unknown annihilation channel {channel!r} in {self.source}; available: "
                f"{self.channels}"
            )
        mass = float(mass)
        if not (self.mass[0] <= mass <= self.mass[-1]):
            raise ValueError(
                f"dark-matter mass {mass:g} GeV is outside the table {self.source} "
                f"[{self.mass[0]:g}, {self.mass[-1]:g}] GeV"
            )
        values = self.dnd_log10x[channel]
        i = int(np.clip(np.searchsorted(self.mass, mass, side="right") - 1, 0, self.mass.size - 2))
        w = math.log(mass / self.mass[i]) / math.log(self.mass[i + 1] / self.mass[i])
        return values[i] * (1.0 - w) + values[i + 1] * w


def read_annihilation_table(path: str | os.PathLike = DEFAULT_TABLE) -> AnnihilationTable:
    """Read a PPPC 4 DM ID ``AtProduction_gammas.dat`` table (cached per file version).

    Parameters
    ----------
    path : str or path-like
        Whitespace-separated table with a header line ``mDM Log[10,x] <channels>``;
        ``$GAMMAPY_DATA`` is expanded.

    Raises
    ------
    gammaprob.utils.errors.DataNotFoundError
        The file does not exist.
    gammaprob.utils.errors.FormatError
        Missing columns or a grid that is not (mass x log10 x) rectangular.
    """
    resolved = resolve_data_path(path)
    if not resolved.is_file():
        raise DataNotFoundError(
            f"dark-matter spectra table {str(path)!r} ({resolved}) does not exist; gammapy-data "
            "has it under dark_matter_spectra/PPPC4DMID"
        )
    stat = resolved.stat()
    return _read_table(str(resolved.resolve()), stat.st_mtime_ns, stat.st_size)


@cache
def _read_table(path: str, mtime_ns: int, size: int) -> AnnihilationTable:
    with open(path) as fh:
        header = fh.readline().split()
    if header[:2] != ["mDM", "Log[10,x]"] or len(header) < 3:
        raise FormatError(
            f"header must start with columns 'mDM Log[10,x]' and name channels, got {header[:3]}",
            path=path,
        )
    data = np.loadtxt(path, skiprows=1, ndmin=2)
    if data.shape[1] != len(header):
        raise FormatError(f"{data.shape[1]} columns for {len(header)} header names", path=path)
    mass = np.unique(data[:, 0])
    log10x = np.unique(data[:, 1])
    order = np.lexsort((data[:, 1], data[:, 0]))
    data = data[order]
    expected_m = np.repeat(mass, log10x.size)
    expected_x = np.tile(log10x, mass.size)
    if data.shape[0] != mass.size * log10x.size or not (
        np.array_equal(data[:, 0], expected_m) and np.array_equal(data[:, 1], expected_x)
    ):
        raise FormatError(
            "column 'mDM' x column 'Log[10,x]' is not a full rectangular grid", path=path
        )
    if np.any(mass <= 0):
        raise FormatError("column 'mDM' has non-positive masses", path=path)
    tables = {}
    for j, column in enumerate(header[2:], start=2):
        values = data[:, j].reshape(mass.size, log10x.size).copy()
        if np.any(values < 0) or not np.all(np.isfinite(values)):
            raise FormatError(f"column {column!r} has negative or non-finite values", path=path)
        values.setflags(write=False)
        tables[_channel_name(column)] = values
    mass.setflags(write=False)
    log10x.setflags(write=False)
    return AnnihilationTable(mass, log10x, tables, f"{Path(path).name}")


def jfactor_prior(median: Any, sigma_log10: float) -> LogNormal:
    """Log-normal J-factor prior: ``log10 J ~ Normal(log10 median, sigma_log10)``.

    Parameters
    ----------
    median : float or `~astropy.units.Quantity`
        Median J-factor (GeV^2 cm^-5 when a number; any convertible unit as a Quantity,
        e.g. ``TeV2 cm-5``; convert ``Msun2 kpc-5`` with ``(M c^2)^2`` first). Must be positive.
    sigma_log10 : float
        Standard deviation of ``log10 J`` (dex), as J-factors are published; must be > 0.

    Returns
    -------
    LogNormal
        In GeV^2 cm^-5 (``mu = ln median``, ``sigma = sigma_log10 ln 10``).

    Raises
    ------
    ValueError
        A non-positive or non-finite median, or ``sigma_log10 <= 0``.
    """
    if isinstance(median, u.Quantity):
        try:
            value = float(median.to_value(JFACTOR_UNIT))
        except u.UnitConversionError as exc:
            raise u.UnitConversionError(
                f"J-factor median {median} is not convertible to {JFACTOR_UNIT}"
            ) from exc
    else:
        value = float(median)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"J-factor prior: the median must be a positive J-factor (GeV2 cm-5), got {median}; "
            "a log-normal prior needs median > 0"
        )
    sigma_log10 = float(sigma_log10)
    if not (math.isfinite(sigma_log10) and sigma_log10 > 0):
        raise ValueError(f"J-factor prior: sigma_log10 must be > 0 (dex), got {sigma_log10}")
    return LogNormal(math.log(value), sigma_log10 * _LN10, unit=JFACTOR_UNIT)


@register(
    "DarkMatterAnnihilation",
    kind="spectral",
    aliases=("DarkMatterAnnihilationSpectralModel", "dm-annihilation"),
)
class DarkMatterAnnihilation(SpectralModel):
    """Gamma-ray flux from dark-matter annihilation (see the module docstring).

    Parameters
    ----------
    mass : `~astropy.units.Quantity`
        Particle mass (fixed option), inside the table's range (5 GeV to 100 TeV).
    channel : str
        Annihilation channel, e.g. ``"b"`` (b bbar), ``"tau"``, ``"W"``.
    sigma_v : float, Prior or Parameter
        Velocity-averaged cross-section in cm3 s-1 (default 3e-26, fixed). Share one
        Parameter between targets for a stacked analysis.
    jfactor : float, Prior or Parameter
        J-factor in GeV2 cm-5 (default 1e19, fixed); see :func:`jfactor_prior`.
    k : {2, 4}
        2 for a Majorana particle, 4 for a Dirac one.
    filename : str, optional
        Spectra table (default :data:`DEFAULT_TABLE`).
    """

    def __init__(
        self,
        mass: u.Quantity = 1 * u.TeV,
        channel: str = "b",
        sigma_v: Any = THERMAL_RELIC_SIGMA_V,
        jfactor: Any = 1e19,
        k: int = 2,
        filename: str = DEFAULT_TABLE,
    ) -> None:
        self._init_options({"mass": mass, "channel": channel, "k": k, "filename": filename})
        super().__init__(sigma_v=sigma_v, jfactor=jfactor)

    def _init_options(self, options: Mapping[str, Any]) -> None:
        mass = options.get("mass", 1 * u.TeV)
        if not isinstance(mass, u.Quantity):
            raise TypeError(
                f"DarkMatterAnnihilation: mass must be an energy Quantity, got {mass!r}"
            )
        self._mass_gev = float(mass.to_value(u.GeV))
        self._channel = str(options.get("channel", "b"))
        self._k = int(options.get("k", 2))
        if self._k not in (2, 4):
            raise ValueError(
                f"DarkMatterAnnihilation: k must be 2 (Majorana) or 4 (Dirac), got {self._k}"
            )
        self._filename = str(options.get("filename", DEFAULT_TABLE))
        table = read_annihilation_table(self._filename)
        self._log10x = np.asarray(table.log10x)
        values = table.spectrum(self._channel, self._mass_gev)
        self._values = values
        widths = np.diff(self._log10x)
        self._slopes = np.diff(values) / widths
        cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (values[1:] + values[:-1]) * widths)])
        self._cumulative = cumulative
        self._prefactor = 1.0 / (4.0 * math.pi * self._k * self._mass_gev**2)  # GeV-2

    @property
    def mass(self) -> u.Quantity:
        """Particle mass (GeV)."""
        return u.Quantity(self._mass_gev, u.GeV)

    @property
    def channel(self) -> str:
        """Annihilation channel."""
        return self._channel

    def specs(self) -> tuple[ParameterSpec, ...]:  # noqa: D102
        return (
            ParameterSpec(
                "sigma_v", "cm3 s-1", THERMAL_RELIC_SIGMA_V, (0.0, math.inf), None, "log",
                "velocity-averaged annihilation cross-section",
            ),
            ParameterSpec(
                "jfactor", "GeV2 cm-5", 1e19, (0.0, math.inf), None, "log",
                "J-factor of the region",
            ),
        )  # fmt: skip

    def _log10x_of(self, energy: Any) -> Any:
        xp = namespace(energy)
        return xp.log10(energy * 1e3 / self._mass_gev)

    def dnde_per_annihilation(self, energy: Any) -> Any:
        """Photons per annihilation per TeV at ``energy`` (TeV; numpy or tensor)."""
        xp = namespace(energy)
        t = self._log10x_of(energy)
        inside = (t >= self._log10x[0]) & (t <= self._log10x[-1])
        f = interp1d(t, self._log10x, self._values, extrapolate="constant")
        return xp.where(inside, f, 0.0) / (energy * _LN10)

    def _cumulative_at(self, energy: Any) -> Any:
        """``N(< E)``: photons per annihilation below ``energy`` (exact for the interpolant)."""
        xp = namespace(energy)
        t = xp.clip(self._log10x_of(energy), self._log10x[0], self._log10x[-1])
        i = bin_index(self._log10x, t)
        dt = t - _take(self._log10x, i)
        return (
            _take(self._cumulative, i)
            + _take(self._values, i) * dt
            + 0.5 * _take(self._slopes, i) * dt * dt
        )

    def evaluate(self, energy: Any, sigma_v: Any, jfactor: Any) -> Any:
        """Differential flux in cm-2 s-1 TeV-1 (energy in TeV)."""
        return sigma_v * jfactor * self._prefactor * self.dnde_per_annihilation(energy)

    def integrate(self, lo: Any, hi: Any, sigma_v: Any, jfactor: Any) -> Any:
        """Exact integral flux over ``[lo, hi]`` (TeV) in cm-2 s-1."""
        counts = self._cumulative_at(hi) - self._cumulative_at(lo)
        return sigma_v * jfactor * self._prefactor * counts

    def _options_to_dict(self) -> dict[str, Any]:
        return {
            "mass": f"{self._mass_gev!r} GeV",
            "channel": self._channel,
            "k": self._k,
            "filename": self._filename,
        }

    @classmethod
    def _options_from_dict(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        if "mass" not in data or "channel" not in data:
            raise ValueError("DarkMatterAnnihilation: 'mass' and 'channel' are required")
        return {
            "mass": u.Quantity(data["mass"]),
            "channel": data["channel"],
            "k": data.get("k", 2),
            "filename": data.get("filename", DEFAULT_TABLE),
        }

    def __repr__(self) -> str:
        inner = super().__repr__().split("(", 1)[1]
        return f"DarkMatterAnnihilation(mass={self._mass_gev:g} GeV, channel={self._channel!r}, {inner}"


def stacked_annihilation_models(
    jfactors: Mapping[str, Prior | float],
    *,
    mass: u.Quantity,
    channel: str,
    sigma_v: Prior | Parameter,
    k: int = 2,
    filename: str = DEFAULT_TABLE,
) -> tuple[list, Parameter]:
    """One point-like source per target sharing one ``sigma_v`` (a stacked analysis).

    Parameters
    ----------
    jfactors : mapping
        ``{target name: J-factor prior or fixed value (GeV2 cm-5)}``; each target's model is
        restricted to the dataset of the same name (``datasets_names``).
    mass : `~astropy.units.Quantity`
        Particle mass.
    channel : str
        Annihilation channel.
    sigma_v : Prior or Parameter
        Prior on the cross-section (cm3 s-1), shared by all targets.
    k : {2, 4}
        Majorana (2) or Dirac (4).
    filename : str
        Spectra table.

    Returns
    -------
    models : list of SkyModel
        Named ``"<target>"``; the free parameters are ``"<first target>::sigma_v"`` (shared)
        and ``"<target>::jfactor"``.
    sigma_v : Parameter
        The shared cross-section parameter.

    Raises
    ------
    ValueError
        No targets.
    """
    from .skymodel import SkyModel

    if not jfactors:
        raise ValueError("stacked_annihilation_models needs at least one target")
    shared = sigma_v if isinstance(sigma_v, Parameter) else None
    models = []
    for name, jfactor in jfactors.items():
        spectral = DarkMatterAnnihilation(
            mass=mass,
            channel=channel,
            sigma_v=shared if shared is not None else sigma_v,
            jfactor=jfactor,
            k=k,
            filename=filename,
        )
        if shared is None:
            shared = spectral.sigma_v
        models.append(SkyModel(spectral=spectral, name=name, datasets_names=[name]))
    return models, shared
