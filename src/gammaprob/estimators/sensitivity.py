"""Flux sensitivity of an on/off spectrum per energy bin (no sampling).

In each reconstructed-energy bin the smallest excess is found that is detected at
``n_sigma`` (Li & Ma, with the OFF counts as measured or expected), that holds at least
``gamma_min`` gamma rays, and that is at least ``bkg_syst_fraction`` of the background. The
excess is turned into a flux with a power-law reference spectrum folded with the exposure and
energy dispersion, and reported as ``E^2 dN/dE`` at the bin centre.

:class:`PosteriorSensitivityEstimator` is the Bayesian counterpart: the detection criterion
is the posterior probability that the signal is positive (:func:`posterior_prob_no_signal`,
closed form), evaluated for the expected ON and OFF counts.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Column, Table
from scipy import optimize, special, stats

from gammaprob.datasets import SpectrumDataset, SpectrumDatasetOnOff

from .counts_intervals import wstat_excess_matching_significance
from .reference import PowerLawReference

__all__ = [
    "PosteriorSensitivityEstimator",
    "SensitivityEstimator",
    "apply_sensitivity_thresholds",
    "posterior_excess_matching_prob",
    "posterior_prob_no_signal",
]

#: Exponent ``c`` of the OFF-rate posterior ``Gamma(n_off + c)`` for each OFF-rate prior.
_OFF_PRIOR_SHAPE = {"flat": 1.0, "jeffreys": 0.5}


def apply_sensitivity_thresholds(
    excess: np.ndarray, background: np.ndarray, gamma_min: float, bkg_syst_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Raise a significance-limited excess to the minimum-gamma and background-systematics floors.

    Parameters
    ----------
    excess : numpy.ndarray
        Excess counts reaching the required significance.
    background : numpy.ndarray
        Background counts in the ON region.
    gamma_min : float
        Minimum number of excess counts.
    bkg_syst_fraction : float
        Minimum excess as a fraction of the background.

    Returns
    -------
    excess : numpy.ndarray
        ``max(excess, gamma_min, bkg_syst_fraction * background)``.
    criterion : numpy.ndarray of str
        Which condition set the value: ``"significance"``, ``"gamma"`` or ``"bkg"``
        (the later floor wins a tie, as in gammapy).
    """
    excess = np.array(excess, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    criterion = np.full(excess.shape, "significance", dtype="U12")
    gamma_limited = excess < gamma_min
    excess[gamma_limited] = gamma_min
    criterion[gamma_limited] = "gamma"
    floor = bkg_syst_fraction * background
    bkg_limited = excess < floor
    excess[bkg_limited] = floor[bkg_limited]
    criterion[bkg_limited] = "bkg"
    return excess, criterion


class SensitivityEstimator:
    """Minimum detectable flux per reconstructed-energy bin for an on/off measurement.

    Parameters
    ----------
    gamma_min : float
        Minimum number of excess counts (default 10).
    n_sigma : float
        Required Li & Ma significance (default 5).
    bkg_syst_fraction : float
        Minimum excess as a fraction of the ON-region background (default 0.05).
    spectral_index : float
        Index of the power-law spectral shape assumed to convert counts to flux (default 2).
    reference : PowerLawReference, optional
        Full reference spectrum (overrides ``spectral_index``); only the shape matters.

    Examples
    --------
    >>> from gammaprob.estimators import SensitivityEstimator
    >>> table = SensitivityEstimator(n_sigma=5).run(dataset, alpha=0.2)  # doctest: +SKIP
    >>> table["e2dnde"]  # doctest: +SKIP
    """

    def __init__(
        self,
        gamma_min: float = 10,
        n_sigma: float = 5.0,
        bkg_syst_fraction: float = 0.05,
        spectral_index: float = 2.0,
        reference: PowerLawReference | None = None,
    ) -> None:
        for name, value, positive in (
            ("gamma_min", gamma_min, False),
            ("n_sigma", n_sigma, True),
            ("bkg_syst_fraction", bkg_syst_fraction, False),
        ):
            if not np.isfinite(value) or value < 0 or (positive and value == 0):
                kind = "positive" if positive else "non-negative"
                raise ValueError(f"{name} must be a finite {kind} number, got {value!r}")
        if reference is not None and not isinstance(reference, PowerLawReference):
            raise TypeError(
                f"reference must be a PowerLawReference, got {type(reference).__name__}"
            )
        self.gamma_min = float(gamma_min)
        self.n_sigma = float(n_sigma)
        self.bkg_syst_fraction = float(bkg_syst_fraction)
        self.reference = reference or PowerLawReference(
            index=spectral_index, amplitude=1 * u.Unit("cm-2 s-1 TeV-1")
        )

    def __repr__(self) -> str:
        return (
            f"SensitivityEstimator(gamma_min={self.gamma_min:g}, n_sigma={self.n_sigma:g}, "
            f"bkg_syst_fraction={self.bkg_syst_fraction:g}, reference={self.reference!r})"
        )

    @staticmethod
    def _off_and_alpha(dataset: SpectrumDataset, alpha) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(dataset, SpectrumDatasetOnOff):
            if alpha is not None:
                raise ValueError("alpha is taken from the on/off dataset; do not pass it as well")
            return np.asarray(dataset.counts_off, float), np.asarray(dataset.alpha, float)
        if not isinstance(dataset, SpectrumDataset):
            raise TypeError(
                f"dataset must be a SpectrumDatasetOnOff or SpectrumDataset, got {type(dataset).__name__}"
            )
        if dataset.background is None or alpha is None:
            raise ValueError(
                f"dataset {dataset.name!r} is not on/off: give a SpectrumDatasetOnOff (counts_off), "
                "or a SpectrumDataset with a background and the ON/OFF ratio alpha"
            )
        alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), dataset.background.shape)
        if np.any(~np.isfinite(alpha)) or np.any(alpha <= 0):
            raise ValueError(f"alpha must be finite and positive, got {alpha!r}")
        return np.asarray(dataset.background, float) / alpha, alpha

    def run(self, dataset: SpectrumDataset, alpha=None) -> Table:
        """Compute the sensitivity table.

        Parameters
        ----------
        dataset : SpectrumDatasetOnOff or SpectrumDataset
            On/off spectrum (measured OFF counts and alpha), or a spectrum with an expected
            background in the ON region, in which case ``alpha`` must be given and the
            expected OFF counts are ``background / alpha``.
        alpha : float or array_like, optional
            ON/OFF exposure ratio for a :class:`SpectrumDataset`.

        Returns
        -------
        `~astropy.table.Table`
            One row per reconstructed-energy bin: ``e_ref`` (log centre), ``e_min``, ``e_max``
            (TeV), ``e2dnde`` (erg cm-2 s-1), ``excess`` and ``background`` (counts),
            ``criterion`` (``significance``, ``gamma`` or ``bkg``). NaN where there are no
            OFF counts. ``meta`` records the settings.
        """
        n_off, alpha = self._off_and_alpha(dataset, alpha)
        background = alpha * n_off
        excess = self.detection_excess(n_off, alpha)
        excess, criterion = apply_sensitivity_thresholds(
            excess, background, self.gamma_min, self.bkg_syst_fraction
        )
        no_off = n_off <= 0
        excess[no_off] = np.nan
        criterion[no_off] = ""

        npred_ref = self.reference.npred(
            dataset.exposure.to_value("cm2 s"), dataset.energy_axis_true.edges, dataset.edisp_matrix
        )
        axis = dataset.energy_axis
        e_ref = axis.center.to(u.TeV)
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = excess / npred_ref
        e2dnde = (norm * self.reference.dnde(e_ref) * e_ref**2).to(u.Unit("erg cm-2 s-1"))
        table = Table(
            [
                Column(e_ref, name="e_ref", description="Energy centre"),
                Column(axis.edges_min.to(u.TeV), name="e_min", description="Lower energy edge"),
                Column(axis.edges_max.to(u.TeV), name="e_max", description="Upper energy edge"),
                Column(e2dnde, name="e2dnde", description="E^2 dN/dE at e_ref"),
                Column(excess, name="excess", description="Minimum excess counts"),
                Column(background, name="background", description="ON-region background counts"),
                Column(criterion, name="criterion", description="Limiting criterion"),
            ]
        )
        table.meta.update(
            {
                **self.settings(),
                "gamma_min": self.gamma_min,
                "bkg_syst_fraction": self.bkg_syst_fraction,
                "reference": repr(self.reference),
                "dataset": dataset.name,
            }
        )
        return table

    def detection_excess(self, n_off: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Excess counts that reach the detection criterion (Li & Ma ``n_sigma``).

        Parameters
        ----------
        n_off : numpy.ndarray
            OFF counts (measured or expected) per bin.
        alpha : numpy.ndarray
            ON/OFF exposure ratio per bin.

        Returns
        -------
        numpy.ndarray
            Excess counts before the ``gamma_min`` and background-systematics floors.
        """
        return wstat_excess_matching_significance(n_off, alpha, self.n_sigma)

    def settings(self) -> dict:
        """Name and detection setting of the estimator, recorded in the table's ``meta``."""
        return {"estimator": "SensitivityEstimator", "n_sigma": self.n_sigma}


def posterior_prob_no_signal(n_on, n_off, alpha, background_prior: str = "flat") -> np.ndarray:
    """Posterior probability that the signal of an on/off measurement is not positive.

    Model: ``n_on ~ Poisson(s + alpha b)``, ``n_off ~ Poisson(b)``, with a flat prior on the
    signal ``s`` over ``s >= -alpha b`` (a deficit is allowed as long as the ON rate is not
    negative) and a flat or Jeffreys (``b^-1/2``) prior on the OFF rate ``b``. The ON rate
    ``mu = s + alpha b`` and ``b`` are then independent a posteriori, ``Gamma(n_on + 1)`` and
    ``Gamma(n_off + c)`` (``c = 1`` flat, ``1/2`` Jeffreys), and ``s <= 0`` means
    ``mu / (mu + alpha b') <= alpha / (1 + alpha)`` for ``b' = b``, a Beta variable:

    ``P(s <= 0 | n_on, n_off) = I_{alpha / (1 + alpha)}(n_on + 1, n_off + c)``

    (regularised incomplete beta function). With a known background (``alpha -> 0`` at fixed
    ``alpha n_off = B``) it tends to ``P(Poisson(B) >= n_on + 1)``.

    Parameters
    ----------
    n_on, n_off : array_like
        ON and OFF counts (non-negative; expected, non-integer counts are allowed).
    alpha : array_like
        ON/OFF exposure ratio (positive).
    background_prior : {"flat", "jeffreys"}
        Prior on the OFF rate.

    Returns
    -------
    numpy.ndarray
        ``P(s <= 0 | data)``, broadcast over the inputs.
    """
    c = _off_prior_shape(background_prior)
    n_on, n_off, alpha = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (n_on, n_off, alpha))
    )
    for name, value in (("n_on", n_on), ("n_off", n_off)):
        if np.any(~np.isfinite(value)) or np.any(value < 0):
            raise ValueError(f"{name} must be finite and non-negative, got {value!r}")
    if np.any(~np.isfinite(alpha)) or np.any(alpha <= 0):
        raise ValueError(f"alpha must be finite and positive, got {alpha!r}")
    return special.betainc(n_on + 1, n_off + c, alpha / (1 + alpha))


def posterior_excess_matching_prob(
    n_off, alpha, prob_no_signal: float, background_prior: str = "flat"
) -> np.ndarray:
    """Excess ``s`` for which ``P(s <= 0 | n_on = s + alpha n_off, n_off)`` equals a target.

    Parameters
    ----------
    n_off : array_like
        OFF counts (measured or expected; positive).
    alpha : array_like
        ON/OFF exposure ratio (positive).
    prob_no_signal : float
        Target posterior probability of no positive signal, in (0, 1), e.g.
        ``scipy.stats.norm.sf(5) = 2.87e-7``.
    background_prior : {"flat", "jeffreys"}
        Prior on the OFF rate (see :func:`posterior_prob_no_signal`).

    Returns
    -------
    numpy.ndarray
        Excess counts (>= 0; 0 where the target is reached without signal); NaN where
        ``n_off = 0``.
    """
    if not 0 < prob_no_signal < 1:
        raise ValueError(f"prob_no_signal must be in (0, 1), got {prob_no_signal!r}")
    c = _off_prior_shape(background_prior)
    n_off, alpha = np.broadcast_arrays(
        np.asarray(n_off, dtype=np.float64), np.asarray(alpha, dtype=np.float64)
    )
    if np.any(~np.isfinite(n_off)) or np.any(n_off < 0):
        raise ValueError(f"n_off must be finite and non-negative, got {n_off!r}")
    if np.any(~np.isfinite(alpha)) or np.any(alpha <= 0):
        raise ValueError(f"alpha must be finite and positive, got {alpha!r}")
    log_target = np.log(prob_no_signal)
    excess = np.full(n_off.shape, np.nan)
    for index in np.ndindex(n_off.shape):
        off, a = n_off[index], alpha[index]
        if off <= 0:
            continue
        x = a / (1 + a)

        def log_gap(s, off=off, a=a, x=x):
            # P(s <= 0) falls monotonically as the ON counts s + alpha n_off grow
            prob = special.betainc(s + a * off + 1, off + c, x)
            return np.log(max(prob, np.finfo(float).tiny)) - log_target

        if log_gap(0.0) <= 0:
            excess[index] = 0.0
            continue
        upper = 10.0 + a * off
        while log_gap(upper) > 0:
            upper *= 2
        excess[index] = optimize.brentq(log_gap, 0.0, upper, xtol=1e-10, rtol=1e-13)
    return excess


def _off_prior_shape(background_prior: str) -> float:
    if background_prior not in _OFF_PRIOR_SHAPE:
        raise ValueError(
            f"background_prior must be one of {tuple(_OFF_PRIOR_SHAPE)}, got {background_prior!r}"
        )
    return _OFF_PRIOR_SHAPE[background_prior]


class PosteriorSensitivityEstimator(SensitivityEstimator):
    """Smallest flux detected with a stated posterior probability, per reconstructed-energy bin.

    A source is *detected* when the posterior probability that its signal is positive,
    ``1 - P(s <= 0 | n_on, n_off)`` of :func:`posterior_prob_no_signal` (flat prior on the
    signal, which may be negative, and a flat or Jeffreys prior on the OFF rate), reaches
    ``detection_prob``. In each bin the excess at which this happens for the expected counts
    (``n_on = s + alpha n_off``, ``n_off`` as given) is raised to the ``gamma_min`` and
    background-systematics floors and converted to ``E^2 dN/dE`` exactly as
    :class:`SensitivityEstimator` does.

    Parameters
    ----------
    detection_prob : float
        Required posterior probability that the signal is positive, in (0.5, 1); default
        ``Phi(5) = 1 - 2.87e-7``, the one-sided Gaussian 5 sigma probability.
    gamma_min, bkg_syst_fraction, spectral_index, reference
        As for :class:`SensitivityEstimator`.
    background_prior : {"flat", "jeffreys"}
        Prior on the OFF rate (default flat).

    Examples
    --------
    >>> from gammaprob.estimators import PosteriorSensitivityEstimator
    >>> table = PosteriorSensitivityEstimator().run(dataset, alpha=0.2)  # doctest: +SKIP
    """

    def __init__(
        self,
        detection_prob: float = float(stats.norm.cdf(5.0)),
        gamma_min: float = 10,
        bkg_syst_fraction: float = 0.05,
        spectral_index: float = 2.0,
        reference: PowerLawReference | None = None,
        background_prior: str = "flat",
    ) -> None:
        if not 0.5 < detection_prob < 1:
            raise ValueError(f"detection_prob must be in (0.5, 1), got {detection_prob!r}")
        _off_prior_shape(background_prior)
        super().__init__(
            gamma_min=gamma_min,
            n_sigma=float(stats.norm.isf(1 - detection_prob)),
            bkg_syst_fraction=bkg_syst_fraction,
            spectral_index=spectral_index,
            reference=reference,
        )
        self.detection_prob = float(detection_prob)
        self.background_prior = background_prior

    def __repr__(self) -> str:
        return (
            f"PosteriorSensitivityEstimator(detection_prob=1 - {1 - self.detection_prob:.3g}, "
            f"gamma_min={self.gamma_min:g}, bkg_syst_fraction={self.bkg_syst_fraction:g}, "
            f"background_prior={self.background_prior!r}, reference={self.reference!r})"
        )

    def detection_excess(self, n_off: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Excess counts whose posterior probability of a positive signal is ``detection_prob``.

        Parameters
        ----------
        n_off : numpy.ndarray
            OFF counts (measured or expected) per bin.
        alpha : numpy.ndarray
            ON/OFF exposure ratio per bin.

        Returns
        -------
        numpy.ndarray
            Excess counts before the ``gamma_min`` and background-systematics floors.
        """
        return posterior_excess_matching_prob(
            n_off, alpha, 1 - self.detection_prob, self.background_prior
        )

    def settings(self) -> dict:
        """Name and detection setting of the estimator, recorded in the table's ``meta``."""
        return {
            "estimator": "PosteriorSensitivityEstimator",
            "detection_prob": self.detection_prob,
            "prob_no_signal": 1 - self.detection_prob,
            "n_sigma_equivalent": self.n_sigma,
            "background_prior": self.background_prior,
            "signal_prior": "flat on s >= -alpha b",
        }
