"""Absorption of gamma rays on the extragalactic background light (EBL).

Optical-depth tables ``tau(E, z)`` come either from the ``ebltable`` package (default: works
with no data folder) or from the XSPEC-style tables of ``$GAMMAPY_DATA/ebl`` (the ones
gammapy uses). :class:`EBLAbsorption` multiplies a spectrum by ``exp(-alpha_norm tau(E, z))``.

Interpolation
-------------
``tau`` is interpolated bilinearly in ``(z, ln E)`` on the table grid and extrapolated
linearly in ``ln E`` beyond the energy range (clipped at ``tau >= 0``). For the XSPEC tables
this is exactly gammapy's scheme (linear in redshift, log in energy, log of the absorption).
Repeated redshifts (one in the Franceschini 2008 ASCII table) are dropped, keeping the first,
and a ``z = 0, tau = 0`` row is added where a table starts above zero.
The redshift parameter's physical bounds are the table's redshift range, so a fixed value or
a prior outside it is refused with a clear error; a user-supplied redshift tensor is clipped
to the range inside the graph.

Populations
-----------
:func:`ebl_population_models` builds a blazar sample whose absorbed spectra share one
``alpha_norm`` (the EBL optical-depth scale) with per-source intrinsic spectra;
``validation/ebl_population`` measures its recovery and coverage on simulated CTA samples.

Models
------
=================  ==========================  ====================================
name               reference                   gammapy-data file
=================  ==========================  ====================================
dominguez          Dominguez et al. 2011       ebl_dominguez11.fits.gz
franceschini       Franceschini et al. 2008    ebl_franceschini.fits.gz
franceschini2017   Franceschini & Rodighiero   ebl_franceschini_2017.fits.gz
saldana-lopez      Saldana-Lopez et al. 2021   ebl_saldana-lopez_2021.fits.gz
finke              Finke et al. 2010 (model C) frd_abs.fits.gz
=================  ==========================  ====================================
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from gammaprob.utils.errors import DataNotFoundError, FormatError
from gammaprob.utils.fits import get_hdu, open_fits
from gammaprob.utils.paths import gammapy_data_path, resolve_data_path
from gammaprob.utils.xp import is_tensor, namespace

from .component import register
from .interpolate import interp2d_grid
from .parameter import Parameter, ParameterSpec
from .spectral.base import SpectralModel

__all__ = [
    "EBL_MODELS",
    "EBLAbsorption",
    "EBLTable",
    "ebl_population_models",
    "read_ebl_table",
]

# model name -> (ebltable data file, file layout, gammapy-data file)
EBL_MODELS: dict[str, tuple[str, str, str]] = {
    "dominguez": ("tau_dominguez11_cta.out", "matrix", "ebl_dominguez11.fits.gz"),
    "franceschini": ("tau_fran08.dat", "fran08", "ebl_franceschini.fits.gz"),
    "franceschini2017": ("tau_fran17.dat", "matrix", "ebl_franceschini_2017.fits.gz"),
    "saldana-lopez": ("tau_saldana-lopez21.out", "matrix", "ebl_saldana-lopez_2021.fits.gz"),
    "finke": ("tau_modelC_Finke.txt", "matrix", "frd_abs.fits.gz"),
}
# gammapy's names for the same models
_ALIASES = {"franceschini17": "franceschini2017", "saldana-lopez21": "saldana-lopez"}
_TINY = np.finfo(float).tiny


@dataclass(frozen=True)
class EBLTable:
    """Optical depth on a grid.

    The arrays are copied on construction and read-only (tables are cached and shared by
    every model that uses them; writing raises ``ValueError``).

    Attributes
    ----------
    energy : numpy.ndarray
        Increasing energies (TeV), shape ``(n_e,)``.
    redshift : numpy.ndarray
        Increasing redshifts, shape ``(n_z,)``.
    tau : numpy.ndarray
        Optical depth, shape ``(n_z, n_e)``.
    source : str
        Where the table came from.
    """

    energy: np.ndarray
    redshift: np.ndarray
    tau: np.ndarray
    source: str

    def __post_init__(self) -> None:
        for name in ("energy", "redshift", "tau"):
            array = np.array(getattr(self, name), dtype=np.float64)  # a private copy
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        if self.tau.shape != (self.redshift.size, self.energy.size):
            raise ValueError(
                f"EBL table {self.source}: tau shape {self.tau.shape} does not match "
                f"(n_redshift, n_energy) = ({self.redshift.size}, {self.energy.size})"
            )
        if not (np.all(np.diff(self.energy) > 0) and np.all(np.diff(self.redshift) > 0)):
            raise ValueError(f"EBL table {self.source}: grids must be strictly increasing")

    def optical_depth(self, energy: Any, redshift: Any) -> Any:
        """Interpolated ``tau`` (energy in TeV; numpy or tensors).

        Raises
        ------
        ValueError
            A numeric redshift outside the table (tensors cannot be checked: they are
            clipped by :class:`EBLAbsorption`).
        """
        if not is_tensor(redshift):
            z = np.asarray(redshift, dtype=float)
            if np.any(z < self.redshift[0]) or np.any(z > self.redshift[-1]):
                raise ValueError(
                    f"redshift {redshift} is outside the EBL table {self.source} "
                    f"[{self.redshift[0]}, {self.redshift[-1]}]"
                )
        xp = namespace(energy, redshift)
        tau = interp2d_grid(redshift, xp.log(energy), self.redshift, np.log(self.energy), self.tau)
        return xp.maximum(tau, 0.0)

    def __repr__(self) -> str:
        return (
            f"EBLTable({self.source}: {self.energy.size} energies "
            f"{self.energy[0]:.3g}-{self.energy[-1]:.3g} TeV, {self.redshift.size} redshifts "
            f"{self.redshift[0]:.3g}-{self.redshift[-1]:.3g})"
        )


def _read_matrix(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First row: redshifts (first entry ignored); then rows ``E[TeV] tau(z_1) ...``."""
    data = np.loadtxt(path)
    redshift = data[0, 1:]
    energy = data[1:, 0]
    tau = data[1:, 1:].T
    return energy, redshift, tau


def _read_fran08(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blocks ``# redshift sorgente = z`` followed by rows ``E[TeV] E[eV] tau exp(-tau)``."""
    redshifts: list[float] = []
    blocks: list[list[tuple[float, float]]] = []
    with open(path) as fh:
        for line in fh:
            if "redshift" in line:
                redshifts.append(float(line.split("=")[1].split()[0]))
                blocks.append([])
            elif line.strip() and not line.lstrip().startswith("#"):
                cols = line.split()
                blocks[-1].append((float(cols[0]), float(cols[2])))
    energy = np.array([e for e, _ in blocks[0]])
    if any(len(b) != energy.size for b in blocks):
        raise FormatError("blocks have different numbers of energies", path=path)
    tau = np.array([[t for _, t in b] for b in blocks])
    return energy, np.array(redshifts), tau


def _from_ebltable(name: str) -> EBLTable:
    from importlib import resources

    filename, layout, _ = EBL_MODELS[name]
    path = Path(str(resources.files("ebltable") / "data" / filename))
    if not path.exists():
        raise DataNotFoundError(f"ebltable does not ship {filename!r} (looked in {path.parent})")
    energy, redshift, tau = (_read_matrix if layout == "matrix" else _read_fran08)(path)
    return _make_table(energy, redshift, tau, f"ebltable:{filename}")


def _make_table(energy: np.ndarray, redshift: np.ndarray, tau: np.ndarray, source: str) -> EBLTable:
    """Drop repeated redshifts (first kept) and add ``tau = 0`` at ``z = 0`` if missing."""
    redshift, idx = np.unique(redshift, return_index=True)
    tau = tau[idx]
    if redshift[0] > 0:  # the optical depth vanishes at z = 0
        redshift = np.insert(redshift, 0, 0.0)
        tau = np.vstack([np.zeros_like(energy), tau])
    return EBLTable(energy, redshift, tau, source)


def read_xspec_table(path: str | os.PathLike) -> EBLTable:
    """Read an XSPEC additive table model of absorption ``exp(-tau)`` versus redshift.

    Energies are the log centres of ``ENERG_LO/HI`` (keV); duplicated redshifts are dropped;
    ``tau = -ln(max(value, tiny))``; a ``z = 0, tau = 0`` row is added when the table starts
    above zero (gammapy instead extrapolates linearly below the first redshift).

    Parameters
    ----------
    path : str or path-like
        FITS file with HDUs PARAMETERS, ENERGIES and SPECTRA.
    """
    with open_fits(path) as hdul:
        energies = get_hdu(hdul, "ENERGIES", path=path).data
        spectra = get_hdu(hdul, "SPECTRA", path=path).data
        try:
            lo = np.asarray(energies["ENERG_LO"], dtype=float)
            hi = np.asarray(energies["ENERG_HI"], dtype=float)
            param = np.asarray(spectra["PARAMVAL"], dtype=float).ravel()
            values = np.asarray(spectra["INTPSPEC"], dtype=float)
        except KeyError as exc:
            raise FormatError(f"missing column {exc}", path=path) from exc
    if values.ndim != 2 or values.shape[1] != lo.size:
        raise FormatError("INTPSPEC length differs from the number of energies", path=path)
    energy = np.sqrt(lo * hi) * 1e-9  # keV -> TeV
    tau = -np.log(np.clip(values, _TINY, None))
    return _make_table(energy, param, tau, f"xspec:{Path(path).name}")


def _resolve(name: str) -> str:
    key = _ALIASES.get(name, name)
    if key not in EBL_MODELS:
        raise ValueError(f"unknown EBL model {name!r}; available: {sorted(EBL_MODELS)}")
    return key


def read_ebl_table(name: str, source: str = "ebltable") -> EBLTable:
    """Return the optical-depth table of a named EBL model (cached, read-only arrays).

    Parameters
    ----------
    name : str
        One of :data:`EBL_MODELS` (gammapy's ``franceschini17``/``saldana-lopez21`` accepted).
    source : {"ebltable", "gammapy-data"}
        The ``ebltable`` package's tables, or the XSPEC tables in ``$GAMMAPY_DATA/ebl``
        (``$GAMMAPY_DATA`` is read at each call; tables are cached by file, size and
        modification time).

    Raises
    ------
    ValueError
        Unknown model or source.
    gammaprob.utils.errors.DataNotFoundError
        ``source="gammapy-data"`` without ``$GAMMAPY_DATA``.
    """
    key = _resolve(name)
    if source == "ebltable":
        return _ebltable_table(key)
    if source == "gammapy-data":
        path = gammapy_data_path(required=True) / "ebl" / EBL_MODELS[key][2]
        if not path.is_file():
            raise DataNotFoundError(
                f"EBL model {name!r}: {str(path)!r} (in $GAMMAPY_DATA/ebl) does not exist"
            )
        stat = path.stat()
        return _xspec_table(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    raise ValueError(f"EBL source must be 'ebltable' or 'gammapy-data', got {source!r}")


def _exists(filename: str | os.PathLike) -> bool:
    """Whether a file name (``$GAMMAPY_DATA`` expanded; False when it is unset) exists."""
    try:
        return resolve_data_path(filename).exists()
    except DataNotFoundError:
        return False


@cache
def _ebltable_table(key: str) -> EBLTable:
    return _from_ebltable(key)


@cache
def _xspec_table(path: str, mtime_ns: int, size: int) -> EBLTable:
    """Read an XSPEC table once per file version (the key includes mtime and size)."""
    return read_xspec_table(path)


@register("EBLAbsorption", kind="spectral", aliases=("EBLAbsorptionNormSpectralModel", "ebl-norm"))
class EBLAbsorption(SpectralModel):
    """Multiplicative EBL absorption ``exp(-alpha_norm tau(E, z))``.

    Parameters
    ----------
    model : str
        EBL model name (see module docstring), default ``"dominguez"``.
    redshift : float, Prior, Parameter or tensor
        Source redshift (default 0.1, fixed); must lie inside the table's redshift range.
    alpha_norm : float, Prior, Parameter or tensor
        Opacity scale (default 1, fixed).
    source : {"ebltable", "gammapy-data"}
        Table provider (see :func:`read_ebl_table`).
    filename : str, optional
        An XSPEC table file to read instead of a named model.

    Examples
    --------
    >>> from gammaprob.modeling.spectral import PowerLaw
    >>> from gammaprob.modeling.prior import Uniform
    >>> absorbed = PowerLaw() * EBLAbsorption("dominguez", redshift=Uniform(0.05, 0.5))
    """

    output_unit = u.dimensionless_unscaled

    def __init__(
        self,
        model: str = "dominguez",
        redshift: Any = 0.1,
        alpha_norm: Any = 1.0,
        source: str = "ebltable",
        filename: str | None = None,
    ) -> None:
        self._init_options({"model": model, "source": source, "filename": filename})
        super().__init__(redshift=redshift, alpha_norm=alpha_norm)

    def _init_options(self, options: dict[str, Any]) -> None:
        self._filename = options.get("filename")
        if self._filename is not None:
            self._model, self._source = None, None
            self.table = read_xspec_table(resolve_data_path(self._filename))
        else:
            self._model = _resolve(options.get("model", "dominguez"))
            self._source = options.get("source", "ebltable")
            self.table = read_ebl_table(self._model, self._source)

    def specs(self) -> tuple[ParameterSpec, ...]:  # noqa: D102
        zmin, zmax = float(self.table.redshift[0]), float(self.table.redshift[-1])
        return (
            ParameterSpec("redshift", "", 0.1, (zmin, zmax), None, "linear", "source redshift"),
            ParameterSpec("alpha_norm", "", 1.0, (0.0, math.inf), None, "linear", "opacity scale"),
        )

    def evaluate(self, energy: Any, redshift: Any, alpha_norm: Any) -> Any:
        """Absorption factor (energy in TeV)."""
        xp = namespace(energy, redshift, alpha_norm)
        if is_tensor(redshift):
            redshift = xp.clip(redshift, self.table.redshift[0], self.table.redshift[-1])
        return xp.exp(-alpha_norm * self.table.optical_depth(energy, redshift))

    def _options_to_dict(self) -> dict[str, Any]:
        if self._filename is not None:
            return {"filename": str(self._filename)}
        return {"model": self._model, "source": self._source}

    @classmethod
    def _options_from_dict(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "filename" in data:
            stem = Path(str(data["filename"])).name
            for key, (_, _, gp_file) in EBL_MODELS.items():
                if stem == gp_file and not _exists(data["filename"]):
                    return {"model": key, "source": "gammapy-data"}
            return {"filename": data["filename"]}
        if "energy" in data:
            raise ValueError(
                "EBLAbsorption: inline EBL tables are not supported; give 'model' or 'filename'"
            )
        return {"model": data.get("model", "dominguez"), "source": data.get("source", "ebltable")}

    def __repr__(self) -> str:
        what = self._model or self._filename
        return f"EBLAbsorption({what!r}, {super().__repr__().split('(', 1)[1]}"


def ebl_population_models(
    redshifts: Mapping[str, float],
    intrinsic: Callable[[str], SpectralModel],
    *,
    alpha_norm: Any,
    model: str = "dominguez",
    source: str = "ebltable",
) -> tuple[list, Parameter]:
    """Absorbed spectra of a blazar sample sharing one EBL optical-depth scale.

    Each source ``name`` gets ``intrinsic(name) * EBLAbsorption(model, redshift=z,
    alpha_norm=<shared>)`` in a :class:`~gammaprob.modeling.SkyModel` of that name restricted
    to the dataset of the same name (``datasets_names``). The free parameters are then the
    per-source intrinsic ones (``"<name>::amplitude"``, ...) and one
    ``"<first name>::alpha_norm"``.

    Parameters
    ----------
    redshifts : mapping
        ``{source name: redshift}`` (fixed; each inside the EBL table's redshift range).
    intrinsic : callable
        ``intrinsic(name)`` returns a new intrinsic spectral model (with priors) per source.
    alpha_norm : float, Prior or Parameter
        The shared opacity scale (``tau -> alpha_norm tau``).
    model, source : str
        EBL model and table provider (see :func:`read_ebl_table`).

    Returns
    -------
    models : list of SkyModel
    alpha_norm : Parameter
        The shared parameter.

    Raises
    ------
    ValueError
        No sources, or a redshift outside the EBL table (the source is named).
    """
    from .skymodel import SkyModel

    if not redshifts:
        raise ValueError("ebl_population_models needs at least one source")
    table = read_ebl_table(model, source)
    zmin, zmax = float(table.redshift[0]), float(table.redshift[-1])
    shared = alpha_norm if isinstance(alpha_norm, Parameter) else None
    out = []
    for name, z in redshifts.items():
        z = float(z)
        if not (zmin <= z <= zmax):
            raise ValueError(
                f"source {name!r}: redshift {z} is outside the EBL table {table.source} "
                f"[{zmin}, {zmax}] of model {model!r}; the optical depth is not tabulated there"
            )
        absorption = EBLAbsorption(
            model, redshift=z, alpha_norm=shared if shared is not None else alpha_norm,
            source=source,
        )  # fmt: skip
        if shared is None:
            shared = absorption.alpha_norm
        spectrum = intrinsic(name)
        if not isinstance(spectrum, SpectralModel):
            raise TypeError(f"intrinsic({name!r}) must return a SpectralModel, got {spectrum!r}")
        out.append(SkyModel(spectrum * absorption, name=name, datasets_names=[name]))
    return out, shared
