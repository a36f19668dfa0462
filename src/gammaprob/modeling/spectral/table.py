"""Tabulated spectra: Template (fixed table) and PiecewiseNorm (free norms at fixed nodes).

Both interpolate linearly in ``ln E`` and, by default, in ``ln(value)`` (log-log), as
gammapy does. Template extrapolates the end segments; PiecewiseNorm holds the end norms
(``np.interp`` behaviour, as gammapy).
"""

from __future__ import annotations

import math
from typing import Any

import astropy.units as u
import numpy as np

from gammaprob.utils.xp import namespace

from ..component import register
from ..interpolate import interp1d
from ..parameter import ParameterSpec
from ..prior import LogNormal, Normal
from .base import DNDE_UNIT, SpectralModel

__all__ = ["PiecewiseNorm", "Template"]

_TINY = np.finfo(float).tiny


def _quantity_dict(q: u.Quantity) -> dict[str, Any]:
    return {"data": [float(v) for v in np.ravel(q.value)], "unit": q.unit.to_string()}


def _quantity_from(data: Any, key: str, where: str) -> u.Quantity:
    if not isinstance(data, dict) or "data" not in data:
        raise ValueError(f"{where}: {key!r} must be a mapping with 'data' and 'unit'")
    return u.Quantity(data["data"], data.get("unit", ""))


def _energy_nodes(energy: Any, where: str) -> np.ndarray:
    if not isinstance(energy, u.Quantity):
        raise TypeError(f"{where}: energy must be a Quantity array, got {energy!r}")
    e = np.asarray(energy.to_value(u.TeV), dtype=float).ravel()
    if e.size < 2 or not np.all(np.diff(e) > 0) or e[0] <= 0:
        raise ValueError(f"{where}: energy nodes must be >= 2 positive increasing values")
    return e


@register("Template", kind="spectral", aliases=("TemplateSpectralModel", "template"))
class Template(SpectralModel):
    """Spectrum tabulated at fixed energies, interpolated log-log (no parameters).

    Parameters
    ----------
    energy : `~astropy.units.Quantity`
        Increasing node energies.
    values : `~astropy.units.Quantity`
        dN/dE at the nodes (convertible to cm-2 s-1 TeV-1), or dimensionless values for a
        multiplicative template. Must be non-negative; zeros are floored at the smallest
        positive float before taking the log (as gammapy).
    """

    parameter_specs = ()

    def __init__(self, energy: u.Quantity, values: u.Quantity) -> None:
        self._init_options({"energy": energy, "values": values})
        super().__init__()

    def _init_options(self, options: dict[str, Any]) -> None:
        self._energy = _energy_nodes(options["energy"], "Template")
        values = u.Quantity(options["values"])
        if values.unit.is_equivalent(DNDE_UNIT):
            self.output_unit = DNDE_UNIT
        elif values.unit.is_equivalent(u.one):
            self.output_unit = u.dimensionless_unscaled
        else:
            raise u.UnitConversionError(
                f"Template values must be in cm-2 s-1 TeV-1 (or convertible) or dimensionless, "
                f"got {values.unit}"
            )
        vals = np.asarray(values.to_value(self.output_unit), dtype=float).ravel()
        if vals.shape != self._energy.shape:
            raise ValueError(f"Template: {vals.size} values for {self._energy.size} energies")
        if np.any(vals < 0) or not np.all(np.isfinite(vals)):
            raise ValueError("Template values must be finite and non-negative")
        self._values = vals
        self._log_energy = np.log(self._energy)
        self._log_values = np.log(np.clip(vals, _TINY, None))

    @property
    def energy(self) -> u.Quantity:
        """Node energies (TeV)."""
        return u.Quantity(self._energy, u.TeV)

    @property
    def table_values(self) -> u.Quantity:
        """Node values."""
        return u.Quantity(self._values, self.output_unit)

    def evaluate(self, energy: Any) -> Any:
        """Interpolated value (energy in TeV)."""
        xp = namespace(energy)
        return xp.exp(interp1d(xp.log(energy), self._log_energy, self._log_values))

    def _options_to_dict(self) -> dict[str, Any]:
        return {"energy": _quantity_dict(self.energy), "values": _quantity_dict(self.table_values)}

    @classmethod
    def _options_from_dict(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "energy": _quantity_from(data.get("energy"), "energy", cls.tag),
            "values": _quantity_from(data.get("values"), "values", cls.tag),
        }

    def __repr__(self) -> str:
        return (
            f"Template({self._energy.size} nodes, {self._energy[0]:.3g}-{self._energy[-1]:.3g} "
            f"TeV, unit={self.output_unit.to_string()!r})"
        )


@register(
    "PiecewiseNorm", kind="spectral", aliases=("PiecewiseNormSpectralModel", "piecewise-norm")
)
class PiecewiseNorm(SpectralModel):
    """Multiplicative correction with a norm ``norm_i`` at each fixed energy node.

    Parameters
    ----------
    energy : `~astropy.units.Quantity`
        Node energies (at least two, increasing).
    norms : sequence, optional
        Initial norm values (numbers, Priors or Parameters); default 1 with a
        LogNormal(0, 0.5) prior for ``interp="log"`` (Normal(1, 0.5) for ``"lin"``).
    interp : {"log", "lin"}
        Interpolate ``ln(norm)`` (default) or ``norm`` linearly in ``ln E``.
    **params
        ``norm_0=...`` keywords (alternative to ``norms``).
    """

    output_unit = u.dimensionless_unscaled

    def __init__(
        self,
        energy: u.Quantity,
        norms: Any = None,
        interp: str = "log",
        **params: Any,
    ) -> None:
        self._init_options({"energy": energy, "interp": interp})
        if norms is not None:
            if len(norms) != self._energy.size:
                raise ValueError(
                    f"PiecewiseNorm: {len(norms)} norms for {self._energy.size} energy nodes"
                )
            params = {f"norm_{i}": v for i, v in enumerate(norms)} | params
        super().__init__(**params)

    def _init_options(self, options: dict[str, Any]) -> None:
        self._energy = _energy_nodes(options["energy"], "PiecewiseNorm")
        interp = options.get("interp", "log")
        if interp not in ("log", "lin"):
            raise ValueError(f"PiecewiseNorm: interp must be 'log' or 'lin', got {interp!r}")
        self._interp = interp

    def specs(self) -> tuple[ParameterSpec, ...]:  # noqa: D102
        if self._interp == "log":
            bounds, prior = (0.0, math.inf), LogNormal(0.0, 0.5)
        else:
            bounds, prior = (-math.inf, math.inf), Normal(1.0, 0.5)
        return tuple(
            ParameterSpec(f"norm_{i}", "", 1.0, bounds, prior, "linear", f"norm at node {i}")
            for i in range(self._energy.size)
        )

    @property
    def energy(self) -> u.Quantity:
        """Node energies (TeV)."""
        return u.Quantity(self._energy, u.TeV)

    def evaluate(self, energy: Any, **norms: Any) -> Any:
        """Interpolated norm (energy in TeV)."""
        values = [norms[f"norm_{i}"] for i in range(self._energy.size)]
        xp = namespace(energy, *values)
        nodes = xp.stack([xp.asarray(v) * 1.0 for v in values])
        x = xp.log(energy)
        log_e = np.log(self._energy)
        if self._interp == "log":
            return xp.exp(interp1d(x, log_e, xp.log(nodes), extrapolate="constant"))
        return interp1d(x, log_e, nodes, extrapolate="constant")

    def _options_to_dict(self) -> dict[str, Any]:
        return {"energy": _quantity_dict(self.energy), "interp": self._interp}

    @classmethod
    def _options_from_dict(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "energy": _quantity_from(data.get("energy"), "energy", cls.tag),
            "interp": data.get("interp", "log"),
        }
