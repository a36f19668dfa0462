r"""Curved spectra: log-parabolas, exponential cut-offs (incl. Fermi-LAT forms), Gaussian line.

Two log-parabola conventions exist and are kept apart by name:

* :class:`LogParabola` (gammapy's ``LogParabolaSpectralModel``): curvature in the
  **natural** log, :math:`(E/E_0)^{-\alpha - \beta \ln(E/E_0)}`;
* :class:`LogParabola10`: curvature in **log10**, :math:`(E/E_0)^{-\alpha - \beta
  \log_{10}(E/E_0)}`, as in the joint-Crab paper (Nigro et al. 2019). ``beta10 = beta_ln
  * ln(10)``.
"""

from __future__ import annotations

import math
from typing import Any

import astropy.units as u

from gammaprob.utils.xp import namespace

from ..component import register
from ..parameter import ParameterSpec
from ..prior import HalfNormal, LogNormal, LogUniform, Normal
from .base import SpectralModel, _energy_tev, repivoted
from .powerlaw import AMPLITUDE, POSITIVE, REFERENCE

__all__ = [
    "ExpCutoffPowerLaw",
    "ExpCutoffPowerLaw3FGL",
    "ExpCutoffPowerLawNorm",
    "GaussianLine",
    "LogParabola",
    "LogParabola10",
    "LogParabolaNorm",
    "SuperExpCutoffPowerLaw3FGL",
    "SuperExpCutoffPowerLaw4FGL",
    "SuperExpCutoffPowerLaw4FGLDR3",
]

INF = math.inf
_MEV_PER_TEV = 1e6
ALPHA = ParameterSpec("alpha", "", 2.0, (-INF, INF), Normal(2.5, 1.0), "linear", "index at E0")
BETA = ParameterSpec("beta", "", 1.0, (-INF, INF), Normal(0.0, 0.5), "linear", "curvature")
NORM = ParameterSpec("norm", "", 1.0, POSITIVE, LogNormal(0.0, 0.5), "linear", "normalisation")
LAMBDA = ParameterSpec(
    "lambda_",
    "TeV-1",
    0.1,
    (0.0, INF),
    HalfNormal(1.0, unit="TeV-1"),
    "linear",
    "inverse cut-off energy",
)
CUTOFF_ALPHA = ParameterSpec(
    "alpha", "", 1.0, POSITIVE, None, "linear", "cut-off sharpness (fixed)"
)
INDEX_1 = ParameterSpec("index_1", "", 1.5, (-INF, INF), Normal(2.0, 1.0), "linear", "index")
REFERENCE_10 = ParameterSpec(
    "reference", "TeV", 10.0, POSITIVE, None, "linear", "reference energy (fixed)"
)


@register("LogParabola", kind="spectral", aliases=("LogParabolaSpectralModel", "lp"))
class LogParabola(SpectralModel):
    r"""Log-parabola with natural-log curvature (gammapy convention).

    :math:`\phi_0 (E/E_0)^{-\alpha - \beta \ln(E/E_0)}`; default :math:`E_0` = 10 TeV.
    """

    parameter_specs = (AMPLITUDE, REFERENCE_10, ALPHA, BETA)

    @staticmethod
    def evaluate(energy, amplitude, reference, alpha, beta):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, amplitude, reference, alpha, beta)
        x = xp.log(energy / reference)
        return amplitude * xp.exp(-(alpha + beta * x) * x)

    def repivot(self, energy: u.Quantity) -> LogParabola:
        r"""Return the same spectrum written at reference energy ``energy`` (a new model).

        With :math:`L = \ln(E_1/E_0)`: amplitude :math:`\phi_0 e^{-\alpha L - \beta L^2}`
        (the old spectrum at :math:`E_1`), index :math:`\alpha + 2 \beta L`, same
        :math:`\beta`. Amplitude, index and curvature are least correlated near the
        decorrelation energy, inside the data's range; a reference energy far outside it makes
        the amplitude an extrapolation (see ``docs/modeling.md``).

        Parameters
        ----------
        energy : Quantity
            New reference energy (energy unit).

        Returns
        -------
        LogParabola
            A copy with moved amplitude (cm-2 s-1 TeV-1), alpha and reference (TeV).

        Raises
        ------
        ValueError
            Amplitude, alpha, beta or the reference energy has a prior or a tensor.
        """
        old = _energy_tev(self.reference.quantity, "reference")
        values = repivot_log_parabola(
            self.amplitude.value,
            self.alpha.value,
            self.beta.value,
            float(old),
            float(_energy_tev(energy, "energy")),
        )
        return repivoted(self, energy, dict(zip(("amplitude", "alpha"), values[:2], strict=True)))


def repivot_log_parabola(
    amplitude: float, alpha: float, beta: float, reference: float, new_reference: float
) -> tuple[float, float, float]:
    """Return a natural-log log-parabola's parameters at another reference energy.

    ``ln dN/dE = ln A - alpha L - beta L^2`` with ``L = ln(E / E0)``; at ``E1`` the amplitude
    is ``A exp(-alpha L1 - beta L1^2)`` and the index ``alpha + 2 beta L1``,
    ``L1 = ln(E1 / E0)``; ``beta`` is unchanged.

    Parameters
    ----------
    amplitude : float
        dN/dE at ``reference`` (any unit; returned in the same unit).
    alpha, beta : float
        Index and curvature at ``reference``.
    reference, new_reference : float
        Old and new reference energies (the same unit).

    Returns
    -------
    tuple of float
        ``(amplitude, alpha, beta)`` at ``new_reference``.
    """
    if not (reference > 0 and new_reference > 0):
        raise ValueError(
            f"reference energies must be positive, got reference={reference} and "
            f"new_reference={new_reference}"
        )
    shift = math.log(new_reference / reference)
    return (
        amplitude * math.exp(-alpha * shift - beta * shift**2),
        alpha + 2.0 * beta * shift,
        beta,
    )


@register("LogParabola10", kind="spectral", aliases=("lp10",))
class LogParabola10(SpectralModel):
    r"""Log-parabola with log10 curvature (joint-Crab paper convention).

    :math:`\phi_0 (E/E_0)^{-\alpha - \beta \log_{10}(E/E_0)}`; default :math:`E_0` = 1 TeV.
    """

    parameter_specs = (
        AMPLITUDE,
        REFERENCE,
        ALPHA,
        ParameterSpec("beta", "", 0.2, (-INF, INF), Normal(0.0, 1.0), "linear", "log10 curvature"),
    )

    @staticmethod
    def evaluate(energy, amplitude, reference, alpha, beta):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, amplitude, reference, alpha, beta)
        x = xp.log(energy / reference)
        return amplitude * xp.exp(-(alpha + beta * x / math.log(10.0)) * x)


@register("LogParabolaNorm", kind="spectral", aliases=("LogParabolaNormSpectralModel", "lp-norm"))
class LogParabolaNorm(SpectralModel):
    r"""Dimensionless log-parabola correction :math:`n (E/E_0)^{-\alpha - \beta \ln(E/E_0)}`."""

    output_unit = u.dimensionless_unscaled
    parameter_specs = (
        NORM,
        REFERENCE_10,
        ParameterSpec("alpha", "", 0.0, (-INF, INF), Normal(0.0, 0.5), "linear", "index at E0"),
        ParameterSpec("beta", "", 0.0, (-INF, INF), Normal(0.0, 0.5), "linear", "curvature"),
    )

    @staticmethod
    def evaluate(energy, norm, reference, alpha, beta):
        """Correction factor (energy in TeV)."""
        xp = namespace(energy, norm, reference, alpha, beta)
        x = xp.log(energy / reference)
        return norm * xp.exp(-(alpha + beta * x) * x)


@register("ExpCutoffPowerLaw", kind="spectral", aliases=("ExpCutoffPowerLawSpectralModel", "ecpl"))
class ExpCutoffPowerLaw(SpectralModel):
    r"""Power law with exponential cut-off :math:`\phi_0 (E/E_0)^{-\Gamma} e^{-(\lambda E)^\alpha}`."""

    parameter_specs = (
        ParameterSpec("index", "", 1.5, (-INF, INF), Normal(2.0, 1.0), "linear", "spectral index"),
        AMPLITUDE,
        REFERENCE,
        LAMBDA,
        CUTOFF_ALPHA,
    )

    @staticmethod
    def evaluate(energy, index, amplitude, reference, lambda_, alpha):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, index, amplitude, reference, lambda_, alpha)
        pwl = amplitude * xp.power(energy / reference, -index)
        return pwl * xp.exp(-xp.power(lambda_ * energy, alpha))


@register(
    "ExpCutoffPowerLawNorm",
    kind="spectral",
    aliases=("ExpCutoffPowerLawNormSpectralModel", "ecpl-norm"),
)
class ExpCutoffPowerLawNorm(SpectralModel):
    r"""Dimensionless cut-off correction :math:`n (E/E_0)^{-\Gamma} e^{-(\lambda E)^\alpha}`."""

    output_unit = u.dimensionless_unscaled
    parameter_specs = (
        ParameterSpec("index", "", 0.0, (-INF, INF), Normal(0.0, 0.5), "linear", "index"),
        NORM,
        REFERENCE,
        LAMBDA,
        CUTOFF_ALPHA,
    )

    @staticmethod
    def evaluate(energy, index, norm, reference, lambda_, alpha):
        """Correction factor (energy in TeV)."""
        xp = namespace(energy, index, norm, reference, lambda_, alpha)
        return (
            norm * xp.power(energy / reference, -index) * xp.exp(-xp.power(lambda_ * energy, alpha))
        )


@register(
    "ExpCutoffPowerLaw3FGL",
    kind="spectral",
    aliases=("ExpCutoffPowerLaw3FGLSpectralModel", "ecpl-3fgl"),
)
class ExpCutoffPowerLaw3FGL(SpectralModel):
    r"""3FGL cut-off power law :math:`\phi_0 (E/E_0)^{-\Gamma} e^{(E_0 - E)/E_c}`."""

    parameter_specs = (
        ParameterSpec("index", "", 1.5, (-INF, INF), Normal(2.0, 1.0), "linear", "spectral index"),
        AMPLITUDE,
        REFERENCE,
        ParameterSpec(
            "ecut",
            "TeV",
            10.0,
            POSITIVE,
            LogUniform(0.01, 1000.0, unit="TeV"),
            "log",
            "cut-off energy",
        ),
    )

    @staticmethod
    def evaluate(energy, index, amplitude, reference, ecut):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, index, amplitude, reference, ecut)
        pwl = amplitude * xp.power(energy / reference, -index)
        return pwl * xp.exp((reference - energy) / ecut)


@register(
    "SuperExpCutoffPowerLaw3FGL",
    kind="spectral",
    aliases=("SuperExpCutoffPowerLaw3FGLSpectralModel", "secpl-3fgl"),
)
class SuperExpCutoffPowerLaw3FGL(SpectralModel):
    r"""3FGL super-exponential cut-off power law.

    :math:`\phi_0 (E/E_0)^{-\Gamma_1} \exp[(E_0/E_c)^{\Gamma_2} - (E/E_c)^{\Gamma_2}]`.
    """

    parameter_specs = (
        AMPLITUDE,
        REFERENCE,
        ParameterSpec(
            "ecut", "TeV", 10.0, POSITIVE, LogUniform(1e-3, 1000.0, unit="TeV"), "log",
            "cut-off energy",
        ),
        INDEX_1,
        ParameterSpec("index_2", "", 2.0, POSITIVE, None, "linear", "cut-off index (fixed)"),
    )  # fmt: skip

    @staticmethod
    def evaluate(energy, amplitude, reference, ecut, index_1, index_2):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, amplitude, reference, ecut, index_1, index_2)
        pwl = amplitude * xp.power(energy / reference, -index_1)
        return pwl * xp.exp(xp.power(reference / ecut, index_2) - xp.power(energy / ecut, index_2))


@register(
    "SuperExpCutoffPowerLaw4FGL",
    kind="spectral",
    aliases=("SuperExpCutoffPowerLaw4FGLSpectralModel", "secpl-4fgl"),
)
class SuperExpCutoffPowerLaw4FGL(SpectralModel):
    r"""4FGL-DR1/DR2 super-exponential cut-off power law.

    :math:`\phi_0 (E/E_0)^{-\Gamma_1} \exp[a (E_0^{\Gamma_2} - E^{\Gamma_2})]` with energies
    in **MeV** inside the exponential (``expfactor`` :math:`a` in MeV^-Γ2, stored as a
    plain number, as in the catalogue and gammapy).
    """

    parameter_specs = (
        AMPLITUDE,
        REFERENCE,
        ParameterSpec(
            "expfactor",
            "",
            1e-14,
            (0.0, INF),
            HalfNormal(1e-13),
            "log",
            "exponential factor a (MeV^-index_2)",
        ),
        INDEX_1,
        ParameterSpec("index_2", "", 2.0, (-INF, INF), None, "linear", "cut-off index (fixed)"),
    )

    @staticmethod
    def evaluate(energy, amplitude, reference, expfactor, index_1, index_2):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, amplitude, reference, expfactor, index_1, index_2)
        pwl = amplitude * xp.power(energy / reference, -index_1)
        e_mev = energy * _MEV_PER_TEV
        ref_mev = reference * _MEV_PER_TEV
        return pwl * xp.exp(expfactor * (xp.power(ref_mev, index_2) - xp.power(e_mev, index_2)))


@register(
    "SuperExpCutoffPowerLaw4FGLDR3",
    kind="spectral",
    aliases=("SuperExpCutoffPowerLaw4FGLDR3SpectralModel", "secpl-4fgl-dr3"),
)
class SuperExpCutoffPowerLaw4FGLDR3(SpectralModel):
    r"""4FGL-DR3 super-exponential cut-off power law (Abdollahi et al. 2022, eqs. 2-3).

    :math:`\phi_0 x^{-\Gamma_1 + d/b} \exp[d/b^2 (1 - x^b)]`, :math:`x = E/E_0`, with
    ``expfactor`` :math:`d` and ``index_2`` :math:`b`. Where :math:`|b \ln x| < 10^{-2}`
    the third-order expansion :math:`x^{-\Gamma_1 - d(\ln x/2 + b \ln^2 x/6 + b^2 \ln^3 x/24)}`
    is used, as in the Fermi science tools.
    """

    parameter_specs = (
        AMPLITUDE,
        REFERENCE,
        ParameterSpec(
            "expfactor",
            "",
            1e-2,
            (0.0, INF),
            HalfNormal(1.0),
            "linear",
            "exponential factor d (curvature at E0)",
        ),
        INDEX_1,
        ParameterSpec("index_2", "", 2.0, (-INF, INF), None, "linear", "cut-off index b (fixed)"),
    )

    @staticmethod
    def evaluate(energy, amplitude, reference, expfactor, index_1, index_2):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, amplitude, reference, expfactor, index_1, index_2)
        ln_x = xp.log(energy / reference)
        small = xp.abs(index_2 * ln_x) < 1e-2
        # guard the division so the unused branch stays finite (clean gradients)
        b = xp.where(xp.abs(index_2) < 1e-12, 1e-12, index_2)
        general = (expfactor / b) * ln_x + expfactor / b**2 * (-xp.expm1(b * ln_x))
        series = (
            -expfactor * (ln_x / 2.0 + index_2 / 6.0 * ln_x**2 + index_2**2 / 24.0 * ln_x**3) * ln_x
        )
        return amplitude * xp.exp(-index_1 * ln_x + xp.where(small, series, general))


def _erf_difference(a: Any, b: Any, xp: Any) -> Any:
    """``erf(b) - erf(a)`` for ``a <= b`` without cancellation in the tails (via erfc)."""
    upper = xp.erfc(a) - xp.erfc(b)  # both in the upper tail
    lower = xp.erfc(-b) - xp.erfc(-a)  # both in the lower tail
    middle = xp.erf(b) - xp.erf(a)
    return xp.where(a > 0, upper, xp.where(b < 0, lower, middle))


@register("GaussianLine", kind="spectral", aliases=("GaussianSpectralModel", "gauss"))
class GaussianLine(SpectralModel):
    r"""Gaussian line :math:`\frac{N}{\sigma\sqrt{2\pi}} e^{-(E-\bar E)^2/2\sigma^2}`.

    ``amplitude`` is the integral flux (cm-2 s-1) over all energies.
    """

    parameter_specs = (
        ParameterSpec(
            "amplitude",
            "cm-2 s-1",
            1e-12,
            POSITIVE,
            LogUniform(1e-17, 1e-7, unit="cm-2 s-1"),
            "log",
            "integral flux of the line",
        ),
        ParameterSpec(
            "mean",
            "TeV",
            1.0,
            (-INF, INF),
            LogUniform(0.01, 100.0, unit="TeV"),
            "log",
            "line energy",
        ),
        ParameterSpec(
            "sigma", "TeV", 2.0, POSITIVE, LogUniform(1e-3, 10.0, unit="TeV"), "log", "line width"
        ),
    )

    @staticmethod
    def evaluate(energy, amplitude, mean, sigma):
        """Differential flux (energy in TeV)."""
        xp = namespace(energy, amplitude, mean, sigma)
        z = (energy - mean) / sigma
        return amplitude / (sigma * math.sqrt(2.0 * math.pi)) * xp.exp(-0.5 * z * z)

    @staticmethod
    def integrate(lo, hi, amplitude, mean, sigma):
        """Analytic integral flux over ``[lo, hi]`` (TeV) in cm-2 s-1."""
        xp = namespace(lo, hi, amplitude, mean, sigma)
        s = sigma * math.sqrt(2.0)
        return 0.5 * amplitude * _erf_difference((lo - mean) / s, (hi - mean) / s, xp)

    @staticmethod
    def integrate_energy_flux(lo, hi, amplitude, mean, sigma):
        """Analytic energy flux over ``[lo, hi]`` (TeV) in TeV cm-2 s-1."""
        xp = namespace(lo, hi, amplitude, mean, sigma)
        s = sigma * math.sqrt(2.0)
        zl, zh = (lo - mean) / s, (hi - mean) / s
        term_mean = 0.5 * mean * _erf_difference(zl, zh, xp)
        term_width = sigma / math.sqrt(2.0 * math.pi) * (xp.exp(-zl * zl) - xp.exp(-zh * zh))
        return amplitude * (term_mean + term_width)
