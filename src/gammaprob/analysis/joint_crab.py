"""The joint-Crab analysis: five instruments' OGIP spectra, one log-parabola, a posterior.

Reproduces the multi-instrument fit of Nigro et al. (2019, A&A 625, A10) on the public
spectra in ``$GAMMAPY_DATA/joint-crab/spectra`` (Fermi-LAT, MAGIC, VERITAS, FACT, H.E.S.S.)
as a Bayesian analysis: the log-parabola in the paper's log10 form at 1 TeV
(:class:`~gammaprob.modeling.spectral.LogParabola10`), the published fit range of each
instrument, the on/off background of each bin integrated out analytically (by default; or
sampled as a latent nuisance, or profiled as WStat, see ``onoff=``), and,
optionally, the paper's energy-scale systematics as one nuisance ``z`` per instrument
(:class:`~gammaprob.modeling.spectral.EnergyScale`) with a Gaussian prior of 5 % (Fermi-LAT)
or 15 % (Cherenkov telescopes), marginalised by the sampler.

Examples
--------
>>> from gammaprob.analysis.joint_crab import run_joint_crab
>>> result = run_joint_crab("out")  # doctest: +SKIP
>>> result.posterior["crab::alpha"].median().item()  # doctest: +SKIP
2.52
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import astropy.units as u
import numpy as np

from gammaprob.utils.paths import gammapy_data_path, resolve_data_path

__all__ = [
    "CI_PROB",
    "ENERGY_RANGES",
    "ENERGY_SCALE_SIGMA",
    "INSTRUMENTS",
    "LN10",
    "REFERENCE_ENERGY",
    "SOURCE",
    "crab_spectrum",
    "dataset_instrument",
    "joint_crab_models",
    "load_joint_crab_datasets",
    "pha_files",
    "run_joint_crab",
    "spectra_folder",
    "spectrum_samples",
]

#: Fit range per instrument in TeV, as published (Nigro et al. 2019).
ENERGY_RANGES: dict[str, tuple[float, float]] = {
    "fermi": (0.03, 2.0),
    "magic": (0.08, 30.0),
    "veritas": (0.15, 30.0),
    "fact": (0.4, 30.0),
    "hess": (0.66, 30.0),
}
INSTRUMENTS: tuple[str, ...] = tuple(ENERGY_RANGES)
#: Relative energy-scale systematic (1 sigma) per instrument.
ENERGY_SCALE_SIGMA: dict[str, float] = {
    "fermi": 0.05,
    "magic": 0.15,
    "veritas": 0.15,
    "fact": 0.15,
    "hess": 0.15,
}
#: Reference energy of the log-parabola.
REFERENCE_ENERGY = 1.0 * u.TeV
#: ``beta10 = beta_ln * LN10`` converts gammapy's natural-log curvature to the log10 form.
LN10 = math.log(10.0)
#: Name of the source (prefix of the physical parameters: ``"crab::alpha"``).
SOURCE = "crab"
#: Credible level of reports (68 %, comparable with 1-sigma errors).
CI_PROB = 0.68


def spectra_folder(gammapy_data: str | os.PathLike | None = None) -> Path:
    """Return the folder of the joint-Crab OGIP spectra.

    Parameters
    ----------
    gammapy_data : path-like, optional
        Root of the gammapy data (default: ``$GAMMAPY_DATA``).

    Raises
    ------
    FileNotFoundError
        ``GAMMAPY_DATA`` unset, or the folder is missing.
    """
    # gammapy_data_path names GAMMAPY_DATA in its error when the variable is unset
    root = resolve_data_path(gammapy_data) if gammapy_data else gammapy_data_path()
    folder = root / "joint-crab" / "spectra"
    if not folder.is_dir():
        raise FileNotFoundError(f"no joint-Crab spectra in {folder}")
    return folder


def _check_instruments(instruments: Sequence[str] | str | None) -> list[str]:
    if instruments is None:
        return list(INSTRUMENTS)
    if isinstance(instruments, str):
        instruments = [instruments]
    instruments = list(instruments)
    unknown = sorted(set(instruments) - set(INSTRUMENTS))
    if unknown or not instruments:
        raise ValueError(
            f"instruments must be a non-empty subset of {INSTRUMENTS}, got {instruments}"
        )
    return instruments


def pha_files(instrument: str, gammapy_data: str | os.PathLike | None = None) -> list[Path]:
    """Return the PHA (ON) files of one instrument, sorted by name."""
    (instrument,) = _check_instruments([instrument])
    files = sorted((spectra_folder(gammapy_data) / instrument).glob("pha_*.fits"))
    if not files:
        raise FileNotFoundError(f"no pha_*.fits files for {instrument!r}")
    return files


def _dataset_name(instrument: str, path: Path) -> str:
    """``"<instrument>-<file id>"``, e.g. ``"hess-obs23523"`` (as in gammapy_reference.py)."""
    return f"{instrument}-{path.stem.removeprefix('pha_')}"


def dataset_instrument(name: str) -> str:
    """Return the instrument of a dataset named by :func:`load_joint_crab_datasets`."""
    instrument = name.split("-", 1)[0]
    if instrument not in INSTRUMENTS:
        raise ValueError(
            f"dataset name {name!r} does not start with an instrument of {INSTRUMENTS}"
        )
    return instrument


def load_joint_crab_datasets(
    instruments: Sequence[str] | str | None = None,
    ranges: Mapping[str, tuple[float, float]] = ENERGY_RANGES,
    *,
    gammapy_data: str | os.PathLike | None = None,
) -> list:
    """Read the joint-Crab spectra and restrict each to its instrument's fit range.

    Parameters
    ----------
    instruments : str or sequence of str, optional
        Subset of :data:`INSTRUMENTS` (default: all five, ten spectra).
    ranges : mapping
        ``{instrument: (energy_min, energy_max)}`` in TeV; a reconstructed-energy bin is fitted
        when it lies entirely inside (gammapy's ``energy_mask`` convention) and is safe.
    gammapy_data : path-like, optional
        Root of the gammapy data (default: ``$GAMMAPY_DATA``).

    Returns
    -------
    list of SpectrumDatasetOnOff
        Named ``"<instrument>-<file id>"`` (e.g. ``"hess-obs23523"``), with ``mask_fit`` set.
    """
    from ..datasets import read_ogip

    out = []
    for instrument in _check_instruments(instruments):
        if instrument not in ranges:
            raise ValueError(f"ranges has no entry for {instrument!r}")
        e_min, e_max = (float(e) for e in ranges[instrument])
        if not 0 < e_min < e_max:
            raise ValueError(
                f"ranges[{instrument!r}] must be 0 < min < max TeV, got {e_min}, {e_max}"
            )
        for path in pha_files(instrument, gammapy_data):
            ds = read_ogip(path)
            edges = ds.energy_axis.edges.to_value(u.TeV)
            rtol = 1e-6
            mask = (edges[:-1] >= e_min * (1 - rtol)) & (edges[1:] <= e_max * (1 + rtol))
            out.append(ds.replace(mask_fit=mask, name=_dataset_name(instrument, path)))
    return out


def crab_spectrum():
    """Return the log-parabola (log10 form, E0 = 1 TeV) with the analysis priors.

    Priors: amplitude LogUniform(1e-13, 1e-9) cm-2 s-1 TeV-1, alpha Normal(2.5, 1),
    beta (log10 curvature) Normal(0, 1): weakly informative, wide compared with the
    measurement.
    """
    from ..modeling.prior import LogUniform, Normal
    from ..modeling.spectral import LogParabola10

    return LogParabola10(
        amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1"),
        reference=REFERENCE_ENERGY,
        alpha=Normal(2.5, 1.0),
        beta=Normal(0.0, 1.0),
    )


def joint_crab_models(
    energy_scale: bool = False,
    instruments: Sequence[str] | str | None = None,
    *,
    datasets: Sequence | None = None,
    sigma: Mapping[str, float] = ENERGY_SCALE_SIGMA,
):
    """Return the sky models of the joint-Crab analysis.

    Parameters
    ----------
    energy_scale : bool
        Without: one source ``"crab"`` for all datasets. With: one sky model per instrument,
        ``"crab-<instrument>"``, each an :class:`~gammaprob.modeling.spectral.EnergyScale`
        around the *same* log-parabola (shared ``"crab::amplitude"``, ``"crab::alpha"``,
        ``"crab::beta"``) with its own bias ``"crab-<instrument>::z"`` ~ Gaussian(0, sigma).
    instruments : str or sequence of str, optional
        Instruments in the analysis (default: all; from ``datasets`` when given).
    datasets : sequence, optional
        The datasets (their names assign the per-instrument models); default: the names
        :func:`load_joint_crab_datasets` gives, from the files in ``$GAMMAPY_DATA``.
    sigma : mapping
        Energy-scale systematic per instrument (default :data:`ENERGY_SCALE_SIGMA`).

    Returns
    -------
    Models
        The models.
    """
    from ..modeling import Models, SkyModel
    from ..modeling.spectral import EnergyScale, energy_scale_prior

    spectrum = crab_spectrum()
    if not energy_scale:
        return Models([SkyModel(spectrum, name=SOURCE)])
    if datasets is not None:
        names = [ds.name for ds in datasets]
        by_instrument: dict[str, list[str]] = {}
        for name in names:
            by_instrument.setdefault(dataset_instrument(name), []).append(name)
        if instruments is not None:
            wanted = _check_instruments(instruments)
            by_instrument = {k: v for k, v in by_instrument.items() if k in wanted}
    else:
        by_instrument = {
            inst: [_dataset_name(inst, p) for p in pha_files(inst)]
            for inst in _check_instruments(instruments)
        }
    models = []
    for instrument, names in by_instrument.items():
        component = EnergyScale(spectrum, z=energy_scale_prior(sigma[instrument]), prefix=SOURCE)
        models.append(SkyModel(component, name=f"{SOURCE}-{instrument}", datasets_names=names))
    return Models(models)


def spectrum_samples(result, energy: u.Quantity, max_draws: int = 1000) -> u.Quantity:
    """Posterior draws of the physical Crab spectrum.

    Parameters
    ----------
    result : xarray.DataTree
        Result of :func:`run_joint_crab` (any variant).
    energy : `~astropy.units.Quantity`
        Energies, shape (n,).
    max_draws : int
        Thin the posterior to at most this many draws.

    Returns
    -------
    `~astropy.units.Quantity`
        dN/dE in cm-2 s-1 TeV-1, shape (n_draws, n).
    """
    from ..modeling.spectral import LogParabola10

    post = result.posterior
    values = {
        key: np.asarray(post[f"{SOURCE}::{key}"]).ravel() for key in ("amplitude", "alpha", "beta")
    }
    step = max(1, values["alpha"].size // max_draws)
    e = np.asarray(u.Quantity(energy).to_value(u.TeV))[None, :]
    dnde = LogParabola10.evaluate(
        e,
        values["amplitude"][::step, None],
        REFERENCE_ENERGY.to_value(u.TeV),
        values["alpha"][::step, None],
        values["beta"][::step, None],
    )
    return u.Quantity(dnde, "cm-2 s-1 TeV-1")


def _figures(result, datasets) -> dict:
    """Spectrum band and, when predictive samples exist, counts vs prediction per dataset."""
    import matplotlib.pyplot as plt

    from ..visualization import plot_counts_predictive, plot_spectrum_band

    figures = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    lo = min(ENERGY_RANGES[dataset_instrument(ds.name)][0] for ds in datasets)
    hi = max(ENERGY_RANGES[dataset_instrument(ds.name)][1] for ds in datasets)
    energy = np.geomspace(lo, hi, 100) * u.TeV
    plot_spectrum_band(
        energy, spectrum_samples(result, energy), ci_prob=CI_PROB, ax=ax, label="crab"
    )
    figures["Crab spectrum (posterior median and band)"] = fig
    if "posterior_predictive" in result.children:
        pp = result.posterior_predictive
        for ds in datasets:
            key = f"{ds.name}::counts"
            if key not in pp:
                continue
            mask = np.asarray(ds.mask)
            idx = np.flatnonzero(mask)
            if idx.size == 0 or np.any(np.diff(idx) != 1):
                continue  # the band is drawn on contiguous bins only
            edges = ds.energy_axis.edges[idx[0] : idx[-1] + 2]
            draws = np.asarray(pp[key]).reshape(-1, idx.size)
            fig, axes = plt.subplots(
                2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, figsize=(6, 5)
            )
            observed = np.asarray(ds.counts)[mask]
            plot_counts_predictive(
                edges, observed, draws, ci_prob=CI_PROB, title=ds.name, axes=axes
            )
            figures[f"Posterior predictive: {ds.name}"] = fig
    return figures


def run_joint_crab(
    output_dir: str | os.PathLike,
    *,
    instruments: Sequence[str] | str | None = None,
    energy_scale: bool = False,
    sampler: str = "nutpie",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int | None = 0,
    onoff: str = "marginal",
    progressbar: bool = False,
    report_format: str = "md",
    overwrite: bool = False,
    check: bool = True,
):
    """Run the joint-Crab analysis end to end and write its result and report.

    Reads the spectra (:func:`load_joint_crab_datasets`), builds the model
    (:func:`joint_crab_models`, :func:`gammaprob.inference.build_model`), samples, adds
    posterior-predictive counts (not with ``onoff="wstat"``), and writes to ``output_dir``:
    ``result.nc`` (the DataTree) and ``report.md`` / ``report.html`` (summary at 68 %,
    diagnostics, spectrum band, predictive checks).

    Parameters
    ----------
    output_dir : path-like
        Folder for the outputs (created if needed).
    instruments : str or sequence of str, optional
        Subset of :data:`INSTRUMENTS` (default: all).
    energy_scale : bool
        Add the per-instrument energy-scale nuisance.
    sampler : str
        See :func:`gammaprob.inference.sample` (default ``"nutpie"``, as there).
    draws, tune, chains : int
        Sampler settings.
    random_seed : int, optional
        Seed.
    onoff : {"marginal", "latent", "wstat"}
        On/off treatment (see :func:`gammaprob.inference.build_model`; default
        ``"marginal"``, as there).
    progressbar : bool
        Show the sampler's progress bar.
    report_format : {"md", "html"}
        Report format.
    overwrite : bool
        Replace existing outputs.
    check : bool
        Warn when the convergence checks fail (:func:`gammaprob.inference.sample`); callers
        that print the report themselves pass False.

    Returns
    -------
    xarray.DataTree
        The inference result.
    """
    import pymc as pm

    from ..inference import build_model, sample, save_result
    from ..visualization import report

    if report_format not in ("md", "html"):
        raise ValueError(f"report_format must be 'md' or 'html', got {report_format!r}")
    output_dir = Path(output_dir)
    datasets = load_joint_crab_datasets(instruments)
    models = joint_crab_models(energy_scale, instruments, datasets=datasets)
    model = build_model(datasets, models, onoff=onoff)
    result = sample(
        model,
        sampler=sampler,
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        progressbar=progressbar,
        check=check,
    )
    if onoff != "wstat":
        with model:
            pm.sample_posterior_predictive(
                result,
                var_names=[f"{ds.name}::counts" for ds in datasets],
                extend_inferencedata=True,
                random_seed=random_seed,
                progressbar=False,
            )
    result.attrs["joint_crab"] = (
        f"instruments={','.join(_check_instruments(instruments))} energy_scale={energy_scale}"
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    save_result(result, output_dir / "result.nc", overwrite=overwrite)
    var_names = [v for v in result.posterior.data_vars if not v.endswith(("::mu_off", "_ln"))]
    figures = _figures(result, datasets)
    try:
        report(
            result,
            output_dir / f"report.{report_format}",
            ci_prob=CI_PROB,
            var_names=var_names,
            figures=figures,
            title="Joint Crab analysis" + (" with energy-scale nuisances" if energy_scale else ""),
            overwrite=overwrite,
        )
    finally:
        import matplotlib.pyplot as plt

        for fig in figures.values():
            plt.close(fig)
    return result
