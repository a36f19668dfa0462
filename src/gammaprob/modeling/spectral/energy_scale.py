r"""Energy-scale nuisance: a spectrum as seen by an instrument whose energy scale is biased.

Following the systematics treatment of the joint-Crab paper (Nigro et al. 2019, A&A 625,
A10, and the ``Log10ParabolaEnergyScale`` model of its reference code), an instrument with
a relative energy-scale bias :math:`z` assigns the energy :math:`E' = (1 + z)\,E` to a
photon of true energy :math:`E`. The flux per unit *assigned* energy is then

.. math::
    \phi_z(E') = \frac{1}{1 + z}\,\phi\!\left(\frac{E'}{1 + z}\right),

where the factor :math:`1/(1+z) = dE/dE'` is the Jacobian that conserves the number of
photons: :math:`\int_a^b \phi_z(E')\,dE' = \int_{a/(1+z)}^{b/(1+z)} \phi(E)\,dE`. Each
instrument gets its own :math:`z_i` with a Gaussian prior of width :math:`\delta_i` (its
energy-scale systematic), and all instruments share the physical parameters of
:math:`\phi`, so the sampler marginalises the :math:`z_i`.

In gammaprob this is one :class:`EnergyScale` per instrument wrapping the *same* spectral
component object (its ``Parameter`` objects are then linked: one random variable each), in
one :class:`~gammaprob.modeling.SkyModel` per instrument restricted with
``datasets_names``::

    lp = LogParabola10(amplitude=LogUniform(1e-12, 1e-9, unit="cm-2 s-1 TeV-1"), ...)
    models = Models([
        SkyModel(EnergyScale(lp, z=energy_scale_prior(0.15), prefix="crab"),
                 name="crab-magic", datasets_names=["magic-5029747", "magic-5029748"]),
        ...
    ])

``prefix="crab"`` names the shared parameters ``"crab::alpha"`` (instead of after the first
instrument's sky model); each bias is ``"<sky model>::z"``.
"""

from __future__ import annotations

from typing import Any

from ..component import register
from ..parameter import Parameter, Parameters, ParameterSpec
from ..prior import Prior, TruncatedNormal
from .base import SpectralModel
from .compound import wrapper_parameters

__all__ = ["EnergyScale", "energy_scale_prior"]

#: The Gaussian priors are truncated at +-50 % so that 1 + z stays positive.
_TRUNCATION = 0.5


def energy_scale_prior(sigma: float) -> Prior:
    """Gaussian prior of an energy-scale bias ``z`` with standard deviation ``sigma``.

    The Gaussian is truncated to ``[-0.5, 0.5]`` so that ``1 + z`` stays positive; for
    ``sigma <= 0.15`` (3.3 standard deviations) the truncation removes less than 0.1 % of
    the prior mass.

    Parameters
    ----------
    sigma : float
        Relative energy-scale uncertainty (e.g. 0.05 for Fermi-LAT, 0.15 for IACTs);
        ``0 < sigma <= 0.25``.

    Returns
    -------
    TruncatedNormal
        ``TruncatedNormal(0, sigma, -0.5, 0.5)``.
    """
    sigma = float(sigma)
    if not 0 < sigma <= _TRUNCATION / 2:
        raise ValueError(f"energy-scale sigma must be in (0, 0.25], got {sigma}")
    return TruncatedNormal(0.0, sigma, -_TRUNCATION, _TRUNCATION)


Z_SPEC = ParameterSpec(
    "z",
    "",
    0.0,
    (-1.0, float("inf")),
    energy_scale_prior(0.1),
    "linear",
    "relative energy-scale bias: assigned energy = (1 + z) true energy",
)


@register("EnergyScale", kind="spectral", aliases=("energy-scale",))
class EnergyScale(SpectralModel):
    r"""A spectral model seen through a biased energy scale: :math:`\phi(E/(1+z))/(1+z)`.

    Parameters
    ----------
    model : SpectralModel
        The physical spectrum (dN/dE in cm-2 s-1 TeV-1). Pass the same object to several
        ``EnergyScale`` wrappers to share its parameters between instruments.
    z : float, Prior, Parameter or tensor, optional
        Relative energy-scale bias (dimensionless; default: free with
        ``energy_scale_prior(0.1)``). ``z = 0`` reproduces ``model`` exactly.
    prefix : str, optional
        Variable-name prefix of the wrapped model's free parameters (e.g. ``"crab"`` gives
        ``"crab::alpha"``); default: that of the sky model holding this component.
    """

    parameter_specs = (Z_SPEC,)

    def __init__(self, model: SpectralModel, z: Any = None, prefix: str | None = None) -> None:
        if not isinstance(model, SpectralModel):
            raise TypeError(f"EnergyScale wraps a SpectralModel, got {model!r}")
        if prefix is not None and (not isinstance(prefix, str) or not prefix or "::" in prefix):
            raise ValueError(f"prefix must be a non-empty string without '::', got {prefix!r}")
        self.model = model
        self.prefix = prefix
        self.output_unit = model.output_unit
        super().__init__(**({} if z is None else {"z": z}))

    @property
    def parameters(self) -> Parameters:  # noqa: D102
        return wrapper_parameters(self, "z")

    def values(self, overrides: Any = None) -> dict[str, Any]:  # noqa: D102
        return {**super().values(overrides), "model": self.model.values(overrides)}

    def build(self, prefix: str) -> dict[str, Any]:  # noqa: D102
        inner = self.model.build(self.prefix if self.prefix is not None else prefix)
        return {**super().build(prefix), "model": inner}

    def evaluate(self, energy: Any, z: Any, model: Any) -> Any:
        """Differential flux per unit assigned energy (energy in TeV, cm-2 s-1 TeV-1)."""
        scale = 1.0 + z
        return self.model.evaluate_with(energy / scale, params=model) / scale

    def integrate(self, lo: Any, hi: Any, z: Any, model: Any) -> Any:
        """Integral over assigned-energy bins ``[lo, hi]`` (TeV) in cm-2 s-1.

        Equals the wrapped model's integral over ``[lo, hi] / (1 + z)``; models without an
        analytic integral use the quadrature of :meth:`evaluate` on the fixed nodes of
        ``[lo, hi]`` (the same numbers, but the nodes stay constants in the graph).
        """
        if type(self.model).integrate is SpectralModel.integrate:
            return super().integrate(lo, hi, z=z, model=model)
        scale = 1.0 + z
        return self.model.integrate_with(lo / scale, hi / scale, model)

    def _options_to_dict(self) -> dict[str, Any]:
        return {} if self.prefix is None else {"prefix": self.prefix}

    def to_dict(self, links: Any = None) -> dict[str, Any]:  # noqa: D102
        out = super().to_dict(links)
        out["model"] = self.model.to_dict(links)
        return out

    @classmethod
    def _from_dict(cls, data: Any, links: dict[str, Parameter], dialect: str) -> SpectralModel:
        from ..component import parameter_from_dict

        extra = sorted(set(data) - {"type", "model", "parameters", "prefix"})
        if extra:
            raise ValueError(f"{cls.tag}: unknown keys {extra}")
        if "model" not in data:
            raise ValueError(f"{cls.tag}: the wrapped spectral 'model' is missing")
        model = SpectralModel.from_dict(data["model"], links, dialect)
        entries = {e.get("name"): e for e in data.get("parameters", [])}
        unknown = sorted(set(entries) - {"z"})
        if unknown:
            raise ValueError(f"{cls.tag}: unknown parameter(s) {unknown}; parameters are ['z']")
        z = None
        if "z" in entries:
            z = parameter_from_dict(entries["z"], Z_SPEC, links, where=cls.tag, dialect=dialect)
        return cls(model, z, prefix=data.get("prefix"))

    def copy(self) -> EnergyScale:  # noqa: D102
        return EnergyScale(self.model.copy(), self._parameters["z"].copy(), prefix=self.prefix)

    def __repr__(self) -> str:
        z = self._parameters["z"]
        if z.is_free:
            shown = f"z~{z.prior!r}"
        else:
            shown = "z=<tensor>" if z.is_tensor else f"z={z.value:.4g}"
        return f"EnergyScale({self.model!r}, {shown})"
