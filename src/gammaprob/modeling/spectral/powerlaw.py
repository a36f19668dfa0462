"""Power-law family: PowerLaw, PowerLaw2, BrokenPowerLaw, SmoothBrokenPowerLaw, Constant.

Formulas follow the gammapy models of the same names (same parameters, same defaults).
Energies in TeV, fluxes in cm-2 s-1 TeV-1 (``amplitude`` of PowerLaw2: cm-2 s-1).
"""

from __future__ import annotations

import math
from typing import Any

import astropy.units as u

from gammaprob.utils.xp import namespace

from ..component import register
from ..parameter import ParameterSpec
from ..prior import LogNormal, LogUniform, Normal
from .base import SpectralModel, _energy_tev, repivoted

__all__ = [
    "BrokenPowerLaw",
    "Constant",
    "PowerLaw",
    "PowerLaw2",
    "PowerLawNorm",
    "SmoothBrokenPowerLaw",
]

INF = math.inf
POSITIVE = (0.0, INF)
_SERIES = 1e-4  # |(1 - index) ln(hi/lo)| below which a power-law integral uses its series

#: Shared parameter specs (also used by the curved models).
AMPLITUDE = ParameterSpec(
    "amplitude",
    "cm-2 s-1 TeV-1",
    1e-12,
    POSITIVE,
    LogUniform(1e-16, 1e-8, unit="cm-2 s-1 TeV-1"),
    "log",
    "differential flux at the reference energy",
)
INDEX = ParameterSpec("index", "", 2.0, (-INF, INF), Normal(2.5, 1.0), "linear", "spectral index")
REFERENCE = ParameterSpec(
    "reference", "TeV", 1.0, POSITIVE, None, "linear", "reference energy (fixed)"
)
EBREAK = ParameterSpec(
    "ebreak", "TeV", 1.0, POSITIVE, LogUniform(0.01, 100.0, unit="TeV"), "log", "break energy"
)


def _power_integral(lo: Any, hi: Any, gamma: Any, xp: Any) -> Any:
    """``∫ E^(-gamma) dE`` over ``[lo, hi]``, smooth and differentiable through ``gamma = 1``.

    Uses ``lo^g expm1(g L) / g`` with ``g = 1 - gamma``, ``L = ln(hi/lo)``, and the series
    ``lo^g L (1 + gL/2 + (gL)^2/6)`` where ``|g L| < 1e-4`` (relative error < 1e-17).
    """
    g = 1.0 - gamma
    log_ratio = xp.log(hi / lo)
    gl = g * log_ratio
    small = xp.abs(gl) < _SERIES
    g_safe = xp.where(small, 1.0, g)  # keeps the unused branch finite (clean gradients)
    series = log_ratio * (1.0 + gl / 2.0 + gl * gl / 6.0)
    ratio = xp.where(small, series, xp.expm1(g_safe * log_ratio) / g_safe)
    return xp.power(lo, g) * ratio


@register("PowerLaw", kind="spectral", aliases=("PowerLawSpectralModel", "pl"))
class PowerLaw(SpectralModel):
    r"""Power law :math:`\phi_0 (E/E_0)^{-\Gamma}`.

    Parameters
    ----------
    index : float or Prior
        :math:`\Gamma` (default 2, prior Normal(2.5, 1)).
    amplitude : Quantity or Prior
        :math:`\phi_0` in cm-2 s-1 TeV-1 (default 1e-12, prior LogUniform(1e-16, 1e-8)).
    reference : Quantity
        :math:`E_0` (default 1 TeV, fixed).
    """

    parameter_specs = (INDEX, AMPLITUDE, REFERENCE)

    @staticmethod
    def evaluate(energy, index, amplitude, reference):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, index, amplitude, reference)
        return amplitude * xp.power(energy / reference, -index)

    def repivot(self, energy: u.Quantity) -> PowerLaw:
        r"""Return the same spectrum written at reference energy ``energy`` (a new model).

        Amplitude :math:`\phi_0 (E_1/E_0)^{-\Gamma}`, same index.

        Parameters
        ----------
        energy : Quantity
            New reference energy (energy unit).

        Returns
        -------
        PowerLaw
            A copy with moved amplitude (cm-2 s-1 TeV-1) and reference (TeV).

        Raises
        ------
        ValueError
            Amplitude, index or the reference energy has a prior or a tensor.
        """
        ratio = float(_energy_tev(energy, "energy")) / float(self.reference.value)
        if not ratio > 0:
            raise ValueError(f"energy must be positive, got {energy}")
        amplitude = self.amplitude.value * ratio ** (-self.index.value)
        return repivoted(self, energy, {"amplitude": amplitude, "index": self.index.value})

    @staticmethod
    def integrate(lo, hi, index, amplitude, reference):
        """Analytic integral flux over ``[lo, hi]`` (TeV) in cm-2 s-1."""
        xp = namespace(lo, hi, index, amplitude, reference)
        return amplitude * reference * _power_integral(lo / reference, hi / reference, index, xp)

    @staticmethod
    def integrate_energy_flux(lo, hi, index, amplitude, reference):
        """Analytic energy flux over ``[lo, hi]`` (TeV) in TeV cm-2 s-1."""
        xp = namespace(lo, hi, index, amplitude, reference)
        return (
            amplitude
            * reference**2
            * _power_integral(lo / reference, hi / reference, index - 1.0, xp)
        )


@register("PowerLawNorm", kind="spectral", aliases=("PowerLawNormSpectralModel", "pl-norm"))
class PowerLawNorm(SpectralModel):
    r"""Dimensionless power-law correction :math:`n (E/E_0)^{-t}` (background and templates).

    Parameters
    ----------
    norm : float or Prior
        :math:`n` (default 1, prior LogNormal(0, 0.5)).
    tilt : float or Prior
        :math:`t` (default 0, fixed; give e.g. ``Normal(0, 0.2)`` to free it).
    reference : Quantity
        :math:`E_0` (default 1 TeV, fixed).
    """

    output_unit = u.dimensionless_unscaled
    parameter_specs = (
        ParameterSpec("norm", "", 1.0, POSITIVE, LogNormal(0.0, 0.5), "linear", "normalisation"),
        ParameterSpec("tilt", "", 0.0, (-INF, INF), None, "linear", "spectral tilt"),
        REFERENCE,
    )

    @staticmethod
    def evaluate(energy, norm, tilt, reference):
        """Correction factor (energy in TeV)."""
        xp = namespace(energy, norm, tilt, reference)
        return norm * xp.power(energy / reference, -tilt)

    @staticmethod
    def integrate(lo, hi, norm, tilt, reference):
        """Analytic integral over ``[lo, hi]`` (TeV), in TeV."""
        xp = namespace(lo, hi, norm, tilt, reference)
        return norm * reference * _power_integral(lo / reference, hi / reference, tilt, xp)


@register("PowerLaw2", kind="spectral", aliases=("PowerLaw2SpectralModel", "pl-2"))
class PowerLaw2(SpectralModel):
    r"""Power law normalised by its integral flux between ``emin`` and ``emax``.

    :math:`\phi(E) = F (1-\Gamma) E^{-\Gamma} / (E_{max}^{1-\Gamma} - E_{min}^{1-\Gamma})`
    (the ``Γ = 1`` limit is handled).

    Parameters
    ----------
    amplitude : Quantity or Prior
        Integral flux :math:`F` in cm-2 s-1 (default 1e-12).
    index : float or Prior
        :math:`\Gamma` (default 2).
    emin, emax : Quantity
        Integration range (default 0.1 and 100 TeV, fixed).
    """

    parameter_specs = (
        ParameterSpec(
            "amplitude",
            "cm-2 s-1",
            1e-12,
            POSITIVE,
            LogUniform(1e-17, 1e-7, unit="cm-2 s-1"),
            "log",
            "integral flux between emin and emax",
        ),
        INDEX,
        ParameterSpec("emin", "TeV", 0.1, POSITIVE, None, "linear", "lower energy (fixed)"),
        ParameterSpec("emax", "TeV", 100.0, POSITIVE, None, "linear", "upper energy (fixed)"),
    )

    @staticmethod
    def evaluate(energy, amplitude, index, emin, emax):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, amplitude, index, emin, emax)
        return amplitude * xp.power(energy, -index) / _power_integral(emin, emax, index, xp)

    @staticmethod
    def integrate(lo, hi, amplitude, index, emin, emax):
        """Analytic integral flux over ``[lo, hi]`` (TeV) in cm-2 s-1."""
        xp = namespace(lo, hi, amplitude, index, emin, emax)
        num = _power_integral(lo / emin, hi / emin, index, xp)
        return amplitude * num / _power_integral(1.0, emax / emin, index, xp)

    @staticmethod
    def integrate_energy_flux(lo, hi, amplitude, index, emin, emax):
        """Analytic energy flux over ``[lo, hi]`` (TeV) in TeV cm-2 s-1."""
        xp = namespace(lo, hi, amplitude, index, emin, emax)
        num = emin * _power_integral(lo / emin, hi / emin, index - 1.0, xp)
        return amplitude * num / _power_integral(1.0, emax / emin, index, xp)


@register("BrokenPowerLaw", kind="spectral", aliases=("BrokenPowerLawSpectralModel", "bpl"))
class BrokenPowerLaw(SpectralModel):
    r"""Broken power law: index ``index1`` below ``ebreak``, ``index2`` above.

    :math:`\phi_0 (E/E_b)^{-\Gamma_1}` for :math:`E < E_b`, else
    :math:`\phi_0 (E/E_b)^{-\Gamma_2}` (``amplitude`` is the flux at the break).
    """

    parameter_specs = (
        ParameterSpec(
            "index1", "", 2.0, (-INF, INF), Normal(2.5, 1.0), "linear", "index below break"
        ),
        ParameterSpec(
            "index2", "", 2.0, (-INF, INF), Normal(2.5, 1.0), "linear", "index above break"
        ),
        AMPLITUDE,
        EBREAK,
    )

    @staticmethod
    def evaluate(energy, index1, index2, amplitude, ebreak):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, index1, index2, amplitude, ebreak)
        x = energy / ebreak
        index = xp.where(x < 1.0, index1, index2)
        return amplitude * xp.power(x, -index)


@register(
    "SmoothBrokenPowerLaw",
    kind="spectral",
    aliases=("SmoothBrokenPowerLawSpectralModel", "sbpl"),
)
class SmoothBrokenPowerLaw(SpectralModel):
    r"""Smoothly broken power law.

    :math:`\phi_0 (E/E_0)^{-\Gamma_1}
    [1 + (E/E_b)^{(\Gamma_2-\Gamma_1)/\beta'}]^{-\beta'}` with
    :math:`\beta' = \beta` if :math:`\Gamma_2 \ge \Gamma_1` else :math:`-\beta` (as gammapy,
    so that ``beta`` always means a smooth break).
    """

    parameter_specs = (
        ParameterSpec(
            "index1", "", 2.0, (-INF, INF), Normal(2.5, 1.0), "linear", "index below break"
        ),
        ParameterSpec(
            "index2", "", 2.0, (-INF, INF), Normal(2.5, 1.0), "linear", "index above break"
        ),
        AMPLITUDE,
        EBREAK,
        REFERENCE,
        ParameterSpec("beta", "", 1.0, POSITIVE, None, "linear", "break smoothness (fixed)"),
    )

    @staticmethod
    def evaluate(energy, index1, index2, amplitude, ebreak, reference, beta):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, index1, index2, amplitude, ebreak, reference, beta)
        # as gammapy, but without sign(0) = 0 (asarray: the comparison must give an array)
        beta = beta * xp.where(xp.asarray(index2 - index1) >= 0.0, 1.0, -1.0)
        pwl = amplitude * xp.power(energy / reference, -index1)
        brk = xp.power(1.0 + xp.power(energy / ebreak, (index2 - index1) / beta), -beta)
        return pwl * brk


@register("Constant", kind="spectral", aliases=("ConstantSpectralModel", "const"))
class Constant(SpectralModel):
    """Energy-independent differential flux ``const`` (cm-2 s-1 TeV-1)."""

    parameter_specs = (
        ParameterSpec(
            "const",
            "cm-2 s-1 TeV-1",
            1e-12,
            POSITIVE,
            LogUniform(1e-16, 1e-8, unit="cm-2 s-1 TeV-1"),
            "log",
            "differential flux",
        ),
    )

    @staticmethod
    def evaluate(energy, const):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, const)
        return const * xp.ones_like(energy)

    @staticmethod
    def integrate(lo, hi, const):
        """Analytic integral flux (cm-2 s-1)."""
        return const * (hi - lo)

    @staticmethod
    def integrate_energy_flux(lo, hi, const):
        """Analytic energy flux (TeV cm-2 s-1)."""
        return 0.5 * const * (hi * hi - lo * lo)
