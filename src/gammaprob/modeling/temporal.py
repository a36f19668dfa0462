"""Temporal components: a dimensionless norm that multiplies a source's flux in time.

Units and conventions
---------------------
* Times inside the formulas are MJD (days) in the model's time ``scale`` (default
  ``"utc"``, as in gammapy); durations (``sigma``, ``t0``, ...) are in days, ``beta`` in
  d^-1 and ``omega`` in rad/d. Days rather than seconds keep absolute and relative times
  in one unit, so no conversion constant appears inside a formula; astropy ``Time`` and
  ``Quantity`` are converted at the public edges.
* Each class has a pure static ``evaluate(time, **params)`` and, where it exists in
  closed form, a pure static ``integrate(t_min, t_max, **params)`` returning the raw
  integral ``int f dt`` in days (numpy or pytensor).
* :meth:`TemporalModel.integral` follows gammapy's convention: the integral in each bin
  divided by the **summed** duration of all bins given, so that summing it over the good
  time intervals of an observation gives the livetime-weighted mean norm.

Deviations from gammapy (each checked in the tests):

* All integrals here are exact (analytic, or exact for the piecewise-linear light curve);
  gammapy integrates ``GeneralizedGaussian`` and ``LightCurveTemplate`` with a 100-point
  rectangle rule that includes both ends (biased by about 1 %).
* ``Sine``: gammapy's ``integral`` uses ``sin`` where the antiderivative needs ``cos``;
  we use the correct antiderivative (our integral agrees with quadrature of gammapy's
  ``evaluate``).
* ``PowerLaw`` is zero before ``t_ref`` (gammapy returns NaN there).
* ``LightCurveTemplate`` is zero outside the tabulated times (gammapy extrapolates
  linearly and clips at zero).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import astropy.units as u
import numpy as np

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import get_hdu, open_fits, read_column_unit
from gammaprob.utils.xp import namespace

from .component import Component, register
from .parameter import MISSING, ParameterSpec
from .prior import LogUniform, Normal, Uniform

if TYPE_CHECKING:
    from astropy.time import Time

__all__ = [
    "Constant",
    "ExpDecay",
    "Gaussian",
    "GeneralizedGaussian",
    "LightCurveTemplate",
    "Linear",
    "PowerLaw",
    "Sine",
    "TemporalModel",
]

_INF = math.inf
#: Default reference time 2000-01-01 00:00 UTC (gammapy's default), MJD.
T_REF_DEFAULT = 51544.0
#: Default prior of a free reference time (MJD 40000-80000, i.e. 1968-2077).
_T_REF_PRIOR = Uniform(40000.0, 80000.0, unit="d")
_DURATION_PRIOR = LogUniform(1e-5, 1e4, unit="d")


def _t_ref_spec(prior=None) -> ParameterSpec:
    return ParameterSpec(
        "t_ref",
        "d",
        T_REF_DEFAULT,
        (-_INF, _INF),
        prior,
        description="reference time (MJD in the model's time scale)",
    )


def _safe_power(x, exponent, xp):
    """``x ** exponent`` for ``x >= 0`` with a zero gradient at ``x == 0``."""
    positive = xp.asarray(x) > 0
    return xp.where(positive, xp.power(xp.where(positive, x, 1.0), exponent), 0.0)


class TemporalModel(Component):
    """Base class of temporal components (dimensionless norm versus time).

    Parameters
    ----------
    scale : str
        Time scale of the MJD values (an astropy scale, default ``"utc"``).
    **params
        Parameter values; ``t_ref`` may also be an astropy ``Time``.
    """

    kind: ClassVar[str] = "temporal"

    def __init__(self, scale: str = "utc", **params: Any) -> None:
        from astropy.time import Time

        if scale not in Time.SCALES:
            raise ValueError(f"time scale must be one of {Time.SCALES}, got {scale!r}")
        self.scale = scale
        params = {k: self._mjd(v) if isinstance(v, Time) else v for k, v in params.items()}
        super().__init__(**params)
        self._check_values()

    _positive: ClassVar[tuple[str, ...]] = ()

    def _check_values(self) -> None:
        for name in self._positive:
            p = self._parameters[name]
            if not p.is_tensor and not p.value > 0:
                raise ValueError(
                    f"{type(self).__name__}: parameter {name!r} must be > 0, got {p.value}"
                )

    def _mjd(self, time: Any) -> np.ndarray:
        """Time -> MJD (float days) in this model's scale."""
        from astropy.time import Time

        if not isinstance(time, Time):
            raise TypeError(f"expected an astropy Time, got {type(time).__name__}")
        return getattr(time, self.scale).mjd

    def _options_to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale}

    @classmethod
    def _options_from_dict(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {"scale": data.get("scale", "utc")}

    @property
    def reference_time(self) -> Time:
        """``t_ref`` as an astropy ``Time`` (reference value when free)."""
        from astropy.time import Time

        return Time(self.values()["t_ref"], format="mjd", scale=self.scale)

    def __call__(self, time: Time) -> u.Quantity:
        """Norm at the given times (numpy, current parameter values).

        Parameters
        ----------
        time : `~astropy.time.Time`
            Times (any scale; converted to the model's).

        Returns
        -------
        `~astropy.units.Quantity`
            Dimensionless norm.
        """
        return u.Quantity(self.evaluate(self._mjd(time), **self.values()), "")

    @staticmethod
    def integrate(t_min: Any, t_max: Any, **params: Any) -> Any:
        """Raw integral ``int_{t_min}^{t_max} f dt`` (days); defined by subclasses."""
        raise NotImplementedError

    def integral(self, t_min: Time, t_max: Time) -> np.ndarray:
        """Integral of the norm in each bin divided by the summed duration of all bins.

        Parameters
        ----------
        t_min, t_max : `~astropy.time.Time`
            Bin edges (same shape).

        Returns
        -------
        numpy.ndarray
            Dimensionless; for a single bin, the mean norm in it.
        """
        lo, hi = np.asarray(self._mjd(t_min), float), np.asarray(self._mjd(t_max), float)
        if lo.shape != hi.shape:
            raise ValueError(f"t_min and t_max must have one shape, got {lo.shape}, {hi.shape}")
        if np.any(hi < lo):
            raise ValueError("every t_max must be >= its t_min")
        total = np.sum(hi - lo)
        if not total > 0:
            raise ValueError("the time bins have zero total duration")
        return np.asarray(self.integrate(lo, hi, **self.values())) / total

    def mean_norm(self, t_min: Time, t_max: Time, values: Mapping[str, Any] | None = None) -> Any:
        """Mean norm over good time intervals: the factor on the flux of a dataset.

        ``sum_k int_{t_min,k}^{t_max,k} f dt / sum_k (t_max,k - t_min,k)``, which is what
        gammapy multiplies a dataset's flux by (its ``integral`` over the dataset's GTIs,
        summed). The times are converted to the model's scale before the formula sees them.

        Parameters
        ----------
        t_min, t_max : `~astropy.time.Time`
            Starts and stops of the intervals (same shape, any scale).
        values : Mapping, optional
            Parameter values in canonical units (floats or pytensor tensors, e.g. the
            ``"temporal"`` entry of ``SkyModel.build()``); default: the current values.

        Returns
        -------
        float or tensor
            The dimensionless mean norm (a tensor when a value is a tensor).

        Raises
        ------
        ValueError
            For mismatched shapes, a stop before its start or a zero total duration.
        """
        lo = np.atleast_1d(np.asarray(self._mjd(t_min), float))
        hi = np.atleast_1d(np.asarray(self._mjd(t_max), float))
        if lo.shape != hi.shape:
            raise ValueError(f"t_min and t_max must have one shape, got {lo.shape}, {hi.shape}")
        if np.any(hi < lo):
            raise ValueError("every t_max must be >= its t_min")
        total = float(np.sum(hi - lo))
        if not total > 0:
            raise ValueError("the time intervals have zero total duration")
        values = self.values() if values is None else dict(values)
        integral = self.integrate(lo, hi, **values)
        return namespace(integral).sum(integral) / total


@register("Constant", kind="temporal", aliases=("ConstantTemporalModel", "const"))
class Constant(TemporalModel):
    """Norm 1 at all times (no parameters)."""

    @staticmethod
    def evaluate(time):
        """Norm 1 broadcast to ``time`` (MJD).

        Parameters
        ----------
        time : array-like or tensor
            Times (MJD).

        Returns
        -------
        array or tensor
            Ones.
        """
        return namespace(time).ones_like(time)

    @staticmethod
    def integrate(t_min, t_max):
        """``t_max - t_min`` (days)."""
        return t_max - t_min


@register("Linear", kind="temporal", aliases=("LinearTemporalModel", "linear"))
class Linear(TemporalModel):
    """``alpha + beta (t - t_ref)``.

    Parameters
    ----------
    alpha : float, Prior, Parameter or tensor
        Norm at ``t_ref``.
    beta : float, Quantity, Prior, Parameter or tensor
        Slope (d^-1).
    t_ref : float, Time, Parameter or tensor
        Reference time (MJD), fixed by default at 2000-01-01.
    scale : str
        Time scale.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        ParameterSpec(
            "alpha", "", 1.0, (-_INF, _INF), Normal(1.0, 1.0), description="norm at t_ref"
        ),
        ParameterSpec(
            "beta", "d-1", 0.0, (-_INF, _INF), Normal(0.0, 1.0, unit="d-1"), description="slope"
        ),
        _t_ref_spec(),
    )

    @staticmethod
    def evaluate(time, alpha, beta, t_ref):
        """Linear norm (see class)."""
        return alpha + beta * (time - t_ref)

    @staticmethod
    def integrate(t_min, t_max, alpha, beta, t_ref):
        """Exact integral (days)."""
        return alpha * (t_max - t_min) + 0.5 * beta * ((t_max - t_ref) ** 2 - (t_min - t_ref) ** 2)


@register("ExpDecay", kind="temporal", aliases=("ExpDecayTemporalModel", "exp-decay"))
class ExpDecay(TemporalModel):
    """``exp(-(t - t_ref) / t0)``.

    Parameters
    ----------
    t0 : float, Quantity, Prior, Parameter or tensor
        Decay time (d), > 0.
    t_ref : float, Time, Parameter or tensor
        Reference time (MJD), fixed by default.
    scale : str
        Time scale.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        ParameterSpec("t0", "d", 1.0, (0.0, _INF), _DURATION_PRIOR, description="decay time"),
        _t_ref_spec(),
    )
    _positive = ("t0",)

    @staticmethod
    def evaluate(time, t0, t_ref):
        """Exponential decay (see class)."""
        return namespace(time, t0, t_ref).exp(-(time - t_ref) / t0)

    @staticmethod
    def integrate(t_min, t_max, t0, t_ref):
        """Exact integral (days)."""
        xp = namespace(t_min, t_max, t0, t_ref)
        return t0 * (xp.exp(-(t_min - t_ref) / t0) - xp.exp(-(t_max - t_ref) / t0))


@register("Gaussian", kind="temporal", aliases=("GaussianTemporalModel", "gauss"))
class Gaussian(TemporalModel):
    """``exp(-(t - t_ref)^2 / (2 sigma^2))`` (peak norm 1).

    Parameters
    ----------
    t_ref : float, Time, Prior, Parameter or tensor
        Peak time (MJD).
    sigma : float, Quantity, Prior, Parameter or tensor
        Width (d), > 0.
    scale : str
        Time scale.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        _t_ref_spec(_T_REF_PRIOR),
        ParameterSpec("sigma", "d", 1.0, (0.0, _INF), _DURATION_PRIOR, description="width"),
    )
    _positive = ("sigma",)

    @staticmethod
    def evaluate(time, t_ref, sigma):
        """Gaussian pulse (see class)."""
        return namespace(time, t_ref, sigma).exp(-0.5 * ((time - t_ref) / sigma) ** 2)

    @staticmethod
    def integrate(t_min, t_max, t_ref, sigma):
        """Exact integral (days), ``sqrt(pi/2) sigma [erf(u_max) - erf(u_min)]``."""
        xp = namespace(t_min, t_max, t_ref, sigma)
        scale = math.sqrt(2.0) * sigma
        return (
            math.sqrt(0.5 * math.pi)
            * sigma
            * (xp.erf((t_max - t_ref) / scale) - xp.erf((t_min - t_ref) / scale))
        )


@register(
    "GeneralizedGaussian",
    kind="temporal",
    aliases=("GeneralizedGaussianTemporalModel", "gengauss"),
)
class GeneralizedGaussian(TemporalModel):
    """Asymmetric pulse ``exp(-0.5 (|t - t_ref| / tau)^(1/eta))``, ``tau`` = rise or decay time.

    ``tau = t_rise`` before ``t_ref`` and ``t_decay`` after; ``eta = 0.5`` gives a
    Gaussian, larger ``eta`` a sharper peak.

    Parameters
    ----------
    t_ref : float, Time, Prior, Parameter or tensor
        Peak time (MJD).
    t_rise, t_decay : float, Quantity, Prior, Parameter or tensor
        Rise and decay times (d), > 0.
    eta : float, Prior, Parameter or tensor
        Inverse sharpness, > 0.
    scale : str
        Time scale.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        _t_ref_spec(_T_REF_PRIOR),
        ParameterSpec("t_rise", "d", 1.0, (0.0, _INF), _DURATION_PRIOR, description="rise time"),
        ParameterSpec("t_decay", "d", 1.0, (0.0, _INF), _DURATION_PRIOR, description="decay time"),
        ParameterSpec(
            "eta", "", 0.5, (0.0, _INF), LogUniform(0.05, 5.0), description="inverse sharpness"
        ),
    )
    _positive = ("t_rise", "t_decay", "eta")

    @staticmethod
    def evaluate(time, t_ref, t_rise, t_decay, eta):
        """Generalised Gaussian pulse (see class)."""
        xp = namespace(time, t_ref, t_rise, t_decay, eta)
        dt = time - t_ref
        tau = xp.where(xp.asarray(dt) < 0, t_rise, t_decay)
        return xp.exp(-0.5 * _safe_power(xp.abs(dt) / tau, 1.0 / eta, xp))

    @staticmethod
    def integrate(t_min, t_max, t_ref, t_rise, t_decay, eta):
        """Exact integral (days) from the incomplete gamma functions.

        On one side of the peak, with ``u = 0.5 (|t - t_ref| / tau)^(1/eta)``,
        ``int_0^{|t - t_ref|} f = tau eta 2^eta Gamma(eta) P(eta, u)``. A bin on one side
        uses ``P(u_far) - P(u_near)``, or ``Q(u_near) - Q(u_far)`` in the tail (no
        cancellation there); a bin across the peak adds the two sides.
        """
        xp = namespace(t_min, t_max, t_ref, t_rise, t_decay, eta)
        dt_lo, dt_hi = t_min - t_ref, t_max - t_ref
        after = xp.asarray(dt_lo) >= 0
        before = xp.asarray(dt_hi) <= 0
        gamma_scale = eta * xp.power(2.0, eta) * xp.exp(xp.gammaln(eta))

        def u_of(dt, tau):
            return 0.5 * _safe_power(xp.abs(dt) / tau, 1.0 / eta, xp)

        # one side: near/far distance from the peak and that side's time constant
        tau = xp.where(after, t_decay, t_rise)
        near = xp.where(after, dt_lo, dt_hi)
        far = xp.where(after, dt_hi, dt_lo)
        u_near, u_far = u_of(near, tau), u_of(far, tau)
        head = xp.gammainc(eta, u_far) - xp.gammainc(eta, u_near)
        tail = xp.gammaincc(eta, u_near) - xp.gammaincc(eta, u_far)
        one_side = tau * gamma_scale * xp.where(xp.asarray(u_near) > eta, tail, head)
        # across the peak
        across = gamma_scale * (
            t_rise * xp.gammainc(eta, u_of(dt_lo, t_rise))
            + t_decay * xp.gammainc(eta, u_of(dt_hi, t_decay))
        )
        return xp.where(after | before, one_side, across)


@register("PowerLaw", kind="temporal", aliases=("PowerLawTemporalModel", "powerlaw"))
class PowerLaw(TemporalModel):
    """``((t - t_ref) / t0)^alpha`` after ``t_ref``, zero before.

    Parameters
    ----------
    alpha : float, Prior, Parameter or tensor
        Index (negative for a decay).
    t_ref : float, Time, Parameter or tensor
        Start time (MJD), fixed by default.
    t0 : float, Quantity, Parameter or tensor
        Time scale (d), fixed at 1 d by default.
    scale : str
        Time scale.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        ParameterSpec("alpha", "", 1.0, (-_INF, _INF), Normal(-1.0, 2.0), description="index"),
        _t_ref_spec(),
        ParameterSpec("t0", "d", 1.0, (0.0, _INF), None, description="time scale"),
    )
    _positive = ("t0",)

    @staticmethod
    def evaluate(time, alpha, t_ref, t0):
        """Power law in time (see class)."""
        xp = namespace(time, alpha, t_ref, t0)
        return _safe_power((time - t_ref) / t0, alpha, xp)

    @staticmethod
    def integrate(t_min, t_max, alpha, t_ref, t0):
        """Exact integral (days); infinite for ``alpha <= -1`` when a bin starts at or before ``t_ref``.

        ``t0 (x_max^p - x_min^p) / p`` with ``p = alpha + 1`` and ``x = (t - t_ref) / t0``
        (clipped at zero); for ``|p| < 1e-6`` its second-order expansion in ``p`` around
        the logarithm, which avoids the cancellation of the direct form.
        """
        xp = namespace(t_min, t_max, alpha, t_ref, t0)
        x_lo = xp.maximum((t_min - t_ref) / t0, 0.0)
        x_hi = xp.maximum((t_max - t_ref) / t0, 0.0)
        p = alpha + 1.0
        starts_after = xp.asarray(x_lo) > 0
        near = (xp.abs(p) < 1e-6) & starts_after
        p_safe = xp.where(near | (xp.abs(p) <= 0), 1.0, p)
        direct = (_safe_power(x_hi, p_safe, xp) - _safe_power(x_lo, p_safe, xp)) / p_safe
        log_hi = xp.log(xp.where(starts_after, x_hi, 1.0))
        log_lo = xp.log(xp.where(starts_after, x_lo, 1.0))
        series = (log_hi - log_lo) + 0.5 * p * (log_hi**2 - log_lo**2)
        divergent = (xp.asarray(p) <= 0) & ~starts_after & (xp.asarray(x_hi) > 0)
        value = xp.where(divergent, np.inf, xp.where(near, series, direct))
        return t0 * value


@register("Sine", kind="temporal", aliases=("SineTemporalModel", "sinus"))
class Sine(TemporalModel):
    """``1 + amp sin(omega (t - t_ref))``.

    Parameters
    ----------
    amp : float, Prior, Parameter or tensor
        Amplitude (keep ``|amp| <= 1`` for a non-negative norm).
    omega : float, Quantity, Prior, Parameter or tensor
        Angular frequency (rad/d).
    t_ref : float, Time, Prior, Parameter or tensor
        Reference time (MJD).
    scale : str
        Time scale.
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (
        ParameterSpec("amp", "", 1.0, (-_INF, _INF), Uniform(-1.0, 1.0), description="amplitude"),
        ParameterSpec(
            "omega",
            "rad / d",
            1.0,
            (-_INF, _INF),
            LogUniform(1e-3, 1e3, unit="rad / d"),
            description="angular frequency",
        ),
        _t_ref_spec(_T_REF_PRIOR),
    )

    @staticmethod
    def evaluate(time, amp, omega, t_ref):
        """Sinusoidal modulation (see class)."""
        return 1.0 + amp * namespace(time, amp, omega, t_ref).sin(omega * (time - t_ref))

    @staticmethod
    def integrate(t_min, t_max, amp, omega, t_ref):
        """Exact integral (days), ``dt - amp / omega [cos(omega dt_max) - cos(omega dt_min)]``."""
        xp = namespace(t_min, t_max, amp, omega, t_ref)
        return (t_max - t_min) - amp / omega * (
            xp.cos(omega * (t_max - t_ref)) - xp.cos(omega * (t_min - t_ref))
        )


def _segment(nodes, x, xp):
    """Index ``i`` (1..n-1) of the segment ``[nodes[i-1], nodes[i]]`` holding each ``x``."""
    if xp.name == "pytensor":
        from pytensor.tensor.extra_ops import searchsorted

        idx = searchsorted(nodes, x)
    else:
        idx = np.searchsorted(nodes, x)
    return xp.clip(idx, 1, nodes.shape[0] - 1)


@register(
    "LightCurveTemplate",
    kind="temporal",
    aliases=("LightCurveTemplateTemporalModel", "template"),
)
class LightCurveTemplate(TemporalModel):
    """Tabulated light curve, linearly interpolated in time; zero outside the table.

    Parameters
    ----------
    time : `~astropy.units.Quantity`
        Node times relative to ``t_ref`` (any time unit), strictly increasing.
    norm : array-like
        Norm at the nodes (finite, >= 0).
    t_ref : float or `~astropy.time.Time`
        Reference time (MJD in ``scale``); the table's zero point.
    scale : str
        Time scale of ``t_ref``.
    filename : str, optional
        File the table came from (written to YAML; required to serialise).
    """

    parameter_specs: ClassVar[tuple[ParameterSpec, ...]] = (_t_ref_spec(),)

    def __init__(
        self,
        time: u.Quantity,
        norm: Any,
        t_ref: Any = MISSING,
        scale: str = "utc",
        filename: str | os.PathLike | None = None,
    ) -> None:
        if not isinstance(time, u.Quantity) or not time.unit.is_equivalent("d"):
            raise TypeError(f"time must be a Quantity in a time unit, got {time!r}")
        nodes = np.asarray(time.to_value("d"), dtype=float).ravel()
        values = np.asarray(norm, dtype=float).ravel()
        if nodes.size < 2 or nodes.shape != values.shape:
            raise ValueError(
                f"need at least two nodes and one norm per node, got {nodes.size} times and "
                f"{values.size} norms"
            )
        if not np.all(np.diff(nodes) > 0):
            raise ValueError("light-curve times must be strictly increasing")
        if not (np.all(np.isfinite(values)) and np.all(values >= 0)):
            raise ValueError("light-curve norms must be finite and >= 0")
        self.nodes, self.norm = nodes, values
        self.filename = None if filename is None else str(filename)
        # cumulative trapezoid integral at the nodes (days)
        self._cumulative = np.concatenate(
            [[0.0], np.cumsum(0.5 * np.diff(nodes) * (values[1:] + values[:-1]))]
        )
        super().__init__(scale=scale, t_ref=t_ref)

    @classmethod
    def read(cls, filename: str | os.PathLike, scale: str = "utc") -> LightCurveTemplate:
        """Read a light-curve table (``TIME``, ``NORM`` columns; gammalib/gammapy format).

        The zero point is ``MJDREFI + MJDREFF`` in ``TIMESYS`` (default TT), converted to
        ``scale``; the time unit is the column unit or the ``TIMEUNIT`` keyword.

        Parameters
        ----------
        filename : str or path-like
            FITS file (``$GAMMAPY_DATA`` is expanded; the name is kept as given for YAML).
        scale : str
            Time scale of the model.

        Returns
        -------
        LightCurveTemplate
            The model.
        """
        from astropy.time import Time

        from gammaprob.utils.paths import resolve_data_path

        with open_fits(resolve_data_path(filename)) as hdulist:
            tables = [h for h in hdulist[1:] if h.is_image is False]
            if not tables:
                raise FormatError("no table HDU", path=filename)
            hdu = get_hdu(hdulist, tables[0].name or 1, path=filename)
            header = hdu.header
            unit = read_column_unit(hdu, "TIME", default=header.get("TIMEUNIT", ""), path=filename)
            read_column_unit(hdu, "NORM", default="", path=filename)
            if not unit.is_equivalent("d"):
                raise FormatError(
                    f"TIME unit {unit.to_string()!r} is not a time unit (set TUNIT or TIMEUNIT)",
                    path=filename,
                    hdu=hdu.name,
                    column="TIME",
                )
            try:
                mjdref = (float(header["MJDREFI"]), float(header["MJDREFF"]))
            except KeyError as exc:
                raise FormatError(
                    f"missing header keyword {exc}", path=filename, hdu=hdu.name
                ) from exc
            timesys = str(header.get("TIMESYS", "tt")).lower()
            if timesys not in Time.SCALES:
                raise FormatError(f"unknown TIMESYS {timesys!r}", path=filename, hdu=hdu.name)
            t_ref = Time(*mjdref, format="mjd", scale=timesys)
            time = u.Quantity(np.asarray(hdu.data["TIME"], float), unit)
            norm = np.asarray(hdu.data["NORM"], float)
        return cls(time, norm, t_ref=t_ref, scale=scale, filename=filename)

    def _options_to_dict(self) -> dict[str, Any]:
        if self.filename is None:
            raise ValueError("LightCurveTemplate needs a filename to be written to YAML")
        return {"scale": self.scale, "filename": self.filename, "format": "table"}

    @classmethod
    def _options_from_dict(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        if "filename" not in data:
            raise ValueError("LightCurveTemplate entry needs a 'filename'")
        if data.get("format", "table") != "table":
            raise ValueError(f"only 'table' light curves are supported, got {data['format']!r}")
        scale = data.get("scale", "utc")
        model = cls.read(data["filename"], scale=scale)
        return {
            "time": u.Quantity(model.nodes, "d"),
            "norm": model.norm,
            "scale": scale,
            "filename": data["filename"],
        }

    def evaluate(self, time, t_ref):
        """Linearly interpolated norm at ``time`` (MJD); 0 outside the table.

        Parameters
        ----------
        time : array-like or tensor
            Times (MJD).
        t_ref : float or tensor
            Reference time (MJD).

        Returns
        -------
        array or tensor
            Norm.
        """
        xp = namespace(time, t_ref)
        nodes, norm = xp.asarray(self.nodes), xp.asarray(self.norm)
        x = time - t_ref
        idx = _segment(nodes, x, xp)
        x0, x1 = nodes[idx - 1], nodes[idx]
        y0, y1 = norm[idx - 1], norm[idx]
        value = y0 + (x - x0) * (y1 - y0) / (x1 - x0)
        inside = (xp.asarray(x) >= self.nodes[0]) & (xp.asarray(x) <= self.nodes[-1])
        return xp.where(inside, value, 0.0)

    def _antiderivative(self, time, t_ref, xp):
        nodes, norm = xp.asarray(self.nodes), xp.asarray(self.norm)
        x = xp.clip(time - t_ref, self.nodes[0], self.nodes[-1])
        idx = _segment(nodes, x, xp)
        x0, x1 = nodes[idx - 1], nodes[idx]
        y0, y1 = norm[idx - 1], norm[idx]
        dx = x - x0
        return xp.asarray(self._cumulative)[idx - 1] + dx * (y0 + 0.5 * dx * (y1 - y0) / (x1 - x0))

    def integrate(self, t_min, t_max, t_ref):
        """Exact integral (days) of the interpolated light curve over ``[t_min, t_max]``.

        Parameters
        ----------
        t_min, t_max : array-like or tensor
            Bin edges (MJD).
        t_ref : float or tensor
            Reference time (MJD).

        Returns
        -------
        array or tensor
            Integral (days).
        """
        xp = namespace(t_min, t_max, t_ref)
        return self._antiderivative(t_max, t_ref, xp) - self._antiderivative(t_min, t_ref, xp)

    def __repr__(self) -> str:
        start, stop = self.values()["t_ref"] + self.nodes[[0, -1]]
        return (
            f"LightCurveTemplate({self.nodes.size} nodes, MJD {start:.5f}-{stop:.5f} "
            f"{self.scale}, norm {self.norm.min():.4g}-{self.norm.max():.4g})"
        )
