"""Simulated spectrum datasets: Poisson counts from a model folded with a response.

:func:`parametric_spectrum_dataset` builds an empty *template* (exposure, energy dispersion and
background, zero counts) from the built-in parametric IRFs of :mod:`gammaprob.irf`, so no data
files are needed; :func:`simulate_spectrum_dataset` draws counts for any template from the
numpy predicted counts of the forward layer (:func:`gammaprob.forward.fold_spectra`).
"""

from __future__ import annotations

from collections.abc import Sequence

import astropy.units as u
import numpy as np

_BACKGROUND_NORM = 3e-5 * u.Unit("s-1 MeV-1 sr-1")

__all__ = ["parametric_spectrum_dataset", "predicted_counts", "simulate_spectrum_dataset"]


def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, int | np.integer):
        return np.random.default_rng(random_state)
    raise TypeError(
        f"rng must be a numpy Generator, an int seed or None, got {type(random_state).__name__}"
    )


def _as_model_list(models) -> list:
    if hasattr(models, "spectral") and hasattr(models, "name"):
        return [models]
    if isinstance(models, Sequence) or hasattr(models, "__iter__"):
        return list(models)
    raise TypeError(f"models must be a SkyModel or a sequence of them, got {type(models).__name__}")


def predicted_counts(models, dataset, name: str | None = None) -> np.ndarray:
    """Return the expected source counts of ``models`` in every reconstructed bin of ``dataset``.

    Free parameters enter with their current (reference) ``value``, which is the truth of a
    simulation. The safe mask is ignored: all bins are predicted.

    Parameters
    ----------
    models : SkyModel, Models or sequence of SkyModel
        Sky models with spectral components (spatial parts are ignored for spectra).
    dataset : SpectrumDataset or SpectrumDatasetOnOff
        The response (exposure in m2 s per true-energy bin, energy dispersion).
    name : str, optional
        Dataset name that decides which models apply (models with ``datasets_names``);
        default: the dataset's name.

    Returns
    -------
    numpy.ndarray
        Source counts per reconstructed bin (no background), shape ``(n_reco,)``.
    """
    from ..forward import SpectrumResponse, current_values, fold_spectra

    models = _as_model_list(models)
    name = dataset.name if name is None else str(name)
    response = SpectrumResponse.from_arrays(
        name,
        counts=np.zeros(dataset.energy_axis.nbin),
        exposure=dataset.exposure.to_value("cm2 s"),
        edisp=dataset.edisp_matrix,
        energy_true_edges=dataset.energy_axis_true.edges.to_value("TeV"),
        energy_edges=dataset.energy_axis.edges.to_value("TeV"),
    )
    npred = fold_spectra([response], models, current_values(models), known_datasets=None)
    return np.asarray(npred[name], dtype=np.float64)


def simulate_spectrum_dataset(
    models,
    dataset,
    *,
    rng=None,
    alpha: float | None = None,
    name: str | None = None,
):
    """Draw Poisson counts from ``models`` folded with the response of ``dataset``.

    Three cases, by template and ``alpha``:

    * ``SpectrumDataset`` template, ``alpha=None``: ON counts ``~ Poisson(n_src + b)`` with
      ``b`` the template's background (zero when it has none); the background stays known
      (a Cash likelihood).
    * ``SpectrumDataset`` template and ``alpha`` given: an on/off dataset; ON counts as
      above and OFF counts ``~ Poisson(b / alpha)`` (``acceptance = 1``,
      ``acceptance_off = 1 / alpha``). The template must carry a background.
    * ``SpectrumDatasetOnOff`` template: its ``alpha`` is kept and its background estimate
      ``alpha * counts_off`` is taken as the true ON background ``b``.

    Parameters
    ----------
    models : SkyModel, Models or sequence of SkyModel
        Sky models; free parameters are simulated at their current ``value``.
    dataset : SpectrumDataset or SpectrumDatasetOnOff
        Template: exposure, energy dispersion, background or OFF counts, masks. Its counts
        are ignored.
    rng : numpy.random.Generator or int, optional
        Random generator or seed.
    alpha : float, optional
        ON/OFF exposure ratio (> 0) for an on/off simulation from a background template.
    name : str, optional
        Name of the simulated dataset (default: the template's); models restricted to
        other datasets (``datasets_names``) add no counts.

    Returns
    -------
    SpectrumDataset or SpectrumDatasetOnOff
        A new dataset with the simulated counts; ``meta["simulated"]`` is True.
    """
    from ..datasets import SpectrumDataset, SpectrumDatasetOnOff

    if not isinstance(dataset, SpectrumDataset):
        raise TypeError(
            f"dataset must be a SpectrumDataset or SpectrumDatasetOnOff template, got "
            f"{type(dataset).__name__}"
        )
    rng = _rng(rng)
    name = dataset.name if name is None else str(name)
    signal = predicted_counts(models, dataset, name=name)
    meta = {**dataset.meta, "simulated": True}
    if isinstance(dataset, SpectrumDatasetOnOff):
        if alpha is not None:
            raise ValueError("alpha is taken from the on/off template; do not pass alpha")
        background = np.asarray(dataset.background_estimate, dtype=float)
        counts = rng.poisson(signal + background)
        counts_off = rng.poisson(np.asarray(dataset.counts_off, dtype=float))
        return dataset.replace(name=name, counts=counts, counts_off=counts_off, meta=meta)
    background = (
        np.zeros_like(signal)
        if dataset.background is None
        else np.asarray(dataset.background, dtype=float)
    )
    counts = rng.poisson(signal + background)
    if alpha is None:
        return dataset.replace(name=name, counts=counts, meta=meta)
    alpha = float(alpha)
    if not alpha > 0:
        raise ValueError(f"alpha (ON/OFF exposure ratio) must be > 0, got {alpha}")
    if dataset.background is None:
        raise ValueError(
            "an on/off simulation needs a template with a background (the ON background "
            "expectation); build one with parametric_spectrum_dataset(...)"
        )
    return SpectrumDatasetOnOff(
        name=name,
        counts=counts,
        counts_off=rng.poisson(background / alpha),
        acceptance=np.ones_like(background),
        acceptance_off=np.full_like(background, 1 / alpha),
        exposure=dataset.exposure,
        energy_axis=dataset.energy_axis,
        energy_axis_true=dataset.energy_axis_true,
        edisp=dataset.edisp,
        mask_safe=dataset.mask_safe,
        mask_fit=dataset.mask_fit,
        livetime=dataset.livetime,
        gti=dataset.gti,
        meta=meta,
    )


def _offset_axis(offset: u.Quantity):
    """One offset bin centred on ``offset`` (so the IRFs are evaluated exactly there)."""
    from ..maps import MapAxis

    value = offset.to_value("deg")
    if value < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    lo, hi = (0.5 * value, 1.5 * value) if value > 0 else (0.0, 1e-3)
    return MapAxis.from_edges([lo, hi] * u.deg, name="offset", interp="lin")


def _background_counts(
    energy_axis, offset: u.Quantity, livetime: u.Quantity, solid_angle: u.Quantity, norm, index
) -> np.ndarray:
    """Integrate the parametric background rate over each reco bin, solid angle and livetime.

    Gauss-Legendre quadrature in ln E with 8 nodes per bin.
    """
    from ..irf import Background2D

    offset_axis = _offset_axis(offset)
    bkg = Background2D.from_power_law(energy_axis, offset_axis, norm=norm, index=index)
    edges = energy_axis.edges.to_value("TeV")
    x, w = np.polynomial.legendre.leggauss(8)
    lo, hi = np.log(edges[:-1])[:, None], np.log(edges[1:])[:, None]
    log_e = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)
    energy = np.exp(log_e)
    rate = bkg.evaluate(
        energy=energy * u.TeV, offset=np.full_like(energy, offset.to_value("deg")) * u.deg
    )
    per_energy = (rate * solid_angle * livetime).to_value("TeV-1")
    return np.sum(0.5 * (hi - lo) * w * per_energy * energy, axis=1)


def parametric_spectrum_dataset(
    *,
    name: str = "simulated",
    livetime: u.Quantity = 1 * u.h,
    energy_bounds: u.Quantity = [0.1, 100] * u.TeV,
    n_bins: int = 12,
    energy_true_bounds: u.Quantity = [0.03, 300] * u.TeV,
    n_bins_true: int = 32,
    area_max: u.Quantity = 1e5 * u.m**2,
    energy_threshold: u.Quantity = 0.1 * u.TeV,
    resolution: float = 0.1,
    bias: float = 0.0,
    offset: u.Quantity = 0.5 * u.deg,
    on_radius: u.Quantity = 0.2 * u.deg,
    background_norm: u.Quantity = _BACKGROUND_NORM,
    background_index: float = 2.7,
):
    """Build a spectrum template from built-in parametric IRFs: exposure, dispersion, background.

    The effective area is :meth:`gammaprob.irf.EffectiveArea2D.from_parametrization` at
    ``offset``, the dispersion :meth:`gammaprob.irf.EDispKernel.from_gauss` (Gaussian in
    ``E_reco / E_true``), the background a power-law rate
    (:meth:`gammaprob.irf.Background2D.from_power_law`) integrated over each bin, the ON
    region (a cone of ``on_radius``) and ``livetime``. Counts are zero: pass the template to
    :func:`simulate_spectrum_dataset`.

    Parameters
    ----------
    name : str
        Dataset name.
    livetime : astropy.units.Quantity
        Observation time.
    energy_bounds : astropy.units.Quantity
        Reconstructed energy range, with ``n_bins`` log-spaced bins.
    n_bins : int
        Reconstructed-energy bins.
    energy_true_bounds : astropy.units.Quantity
        True energy range, with ``n_bins_true`` log-spaced bins (wider than the reconstructed
        range so that dispersion into it is complete).
    n_bins_true : int
        True-energy bins.
    area_max, energy_threshold : astropy.units.Quantity
        Plateau area and the energy of half the plateau.
    resolution, bias : float
        Relative energy resolution (sigma) and bias.
    offset : astropy.units.Quantity
        Source offset from the pointing position.
    on_radius : astropy.units.Quantity
        Radius of the ON region.
    background_norm : astropy.units.Quantity
        Background rate at 1 TeV (s-1 MeV-1 sr-1).
    background_index : float
        Spectral index of the background rate.

    Returns
    -------
    SpectrumDataset
        Template with exposure (m2 s), ``edisp``, ``background`` counts, ``livetime`` and zero
        counts.
    """
    from ..datasets import SpectrumDataset
    from ..irf import EDispKernel, EffectiveArea2D
    from ..maps import MapAxis

    livetime = u.Quantity(livetime)
    if livetime.to_value("s") <= 0:
        raise ValueError(f"livetime must be > 0, got {livetime}")
    energy_bounds = u.Quantity(energy_bounds)
    energy_true_bounds = u.Quantity(energy_true_bounds)
    energy_axis = MapAxis.from_energy_bounds(
        energy_bounds[0], energy_bounds[1], n_bins, name="energy"
    )
    energy_axis_true = MapAxis.from_energy_bounds(
        energy_true_bounds[0], energy_true_bounds[1], n_bins_true, name="energy_true"
    )
    offset = u.Quantity(offset)
    offset_axis = _offset_axis(offset)
    aeff = EffectiveArea2D.from_parametrization(
        energy_axis_true, offset_axis, area_max=area_max, energy_threshold=energy_threshold
    )
    area = aeff.evaluate(
        energy_true=energy_axis_true.center,
        offset=np.full(n_bins_true, offset.to_value("deg")) * u.deg,
    )
    edisp = EDispKernel.from_gauss(energy_axis_true, energy_axis, sigma=resolution, bias=bias)
    solid_angle = 2 * np.pi * (1 - np.cos(u.Quantity(on_radius).to_value("rad"))) * u.sr
    background = _background_counts(
        energy_axis, offset, livetime, solid_angle, background_norm, background_index
    )
    return SpectrumDataset(
        name=name,
        counts=np.zeros(n_bins, dtype=int),
        exposure=(area * livetime).to("m2 s"),
        energy_axis=energy_axis,
        energy_axis_true=energy_axis_true,
        edisp=edisp.pdf_matrix,
        background=background,
        livetime=livetime,
        meta={"irf": "parametric", "offset_deg": float(offset.to_value("deg"))},
    )
