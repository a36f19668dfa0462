"""One unit convention for every spectral plot: energy in TeV, fluxes per TeV.

=========  ======================  ==============================
sed_type   quantity                unit
=========  ======================  ==============================
dnde       dN/dE                   TeV-1 cm-2 s-1
e2dnde     E^2 dN/dE               TeV cm-2 s-1
flux       integral flux in a bin  cm-2 s-1
eflux      energy flux in a bin    TeV cm-2 s-1
=========  ======================  ==============================

Spectral-model curves, posterior bands and flux points all use these units by default, so
any of them drawn on the same axes coincide (a ``unit`` argument overrides them, consistently
per call).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

__all__ = [
    "ENERGY_UNIT",
    "SED_UNITS",
    "check_sed_type",
    "dnde_to_sed",
    "energy_label",
    "sed_label",
    "sed_unit",
]

ENERGY_UNIT = u.TeV
SED_UNITS: dict[str, u.UnitBase] = {
    "dnde": u.Unit("TeV-1 cm-2 s-1"),
    "e2dnde": u.Unit("TeV cm-2 s-1"),
    "flux": u.Unit("cm-2 s-1"),
    "eflux": u.Unit("TeV cm-2 s-1"),
}
_SYMBOLS = {
    "dnde": "dN/dE",
    "e2dnde": r"$E^2\,$dN/dE",
    "flux": "Flux",
    "eflux": "Energy flux",
}


def check_sed_type(sed_type: str, allowed=tuple(SED_UNITS)) -> str:
    """Return ``sed_type`` or raise a ValueError listing the allowed values."""
    if sed_type not in allowed:
        raise ValueError(f"sed_type must be one of {tuple(allowed)}, got {sed_type!r}")
    return sed_type


def sed_unit(sed_type: str, unit=None) -> u.UnitBase:
    """Return the plotting unit of ``sed_type`` (``unit`` when given, checked)."""
    default = SED_UNITS[check_sed_type(sed_type)]
    if unit is None:
        return default
    unit = u.Unit(unit)
    if not unit.is_equivalent(default):
        raise ValueError(f"unit {unit} is not a unit of {sed_type} (expected e.g. {default})")
    return unit


def sed_label(sed_type: str, unit=None) -> str:
    """Axis label with the unit, e.g. ``E^2 dN/dE [TeV cm-2 s-1]``."""
    unit = sed_unit(sed_type, unit)
    return f"{_SYMBOLS[sed_type]} [{unit.to_string('latex_inline')}]"


def energy_label(name: str = "Energy") -> str:
    """Energy axis label in the plotting unit."""
    return f"{name} [{ENERGY_UNIT.to_string()}]"


def dnde_to_sed(energy: u.Quantity, dnde: u.Quantity, sed_type: str, unit=None) -> np.ndarray:
    """Differential flux at ``energy`` as ``dnde`` or ``e2dnde`` in the plotting unit.

    Parameters
    ----------
    energy : astropy.units.Quantity
        Energies (broadcast against ``dnde``).
    dnde : astropy.units.Quantity
        dN/dE (any differential-flux unit).
    sed_type : {"dnde", "e2dnde"}
        Quantity to return (bin-integrated types need bin edges: use the flux points).
    unit : str or astropy.units.Unit, optional
        Override of the default unit.

    Returns
    -------
    numpy.ndarray
        Values in :func:`sed_unit`.
    """
    check_sed_type(sed_type, ("dnde", "e2dnde"))
    value = u.Quantity(dnde) * (u.Quantity(energy) ** 2 if sed_type == "e2dnde" else 1)
    return value.to_value(sed_unit(sed_type, unit))
