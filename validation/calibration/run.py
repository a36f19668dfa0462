"""Simulation-based calibration of gammaprob's default analyses (issue 14, "Calibration").

Each case is a model a user builds with gammaprob's defaults; :func:`gammaprob.calibrate.run_sbc`
draws truth and data from the model's prior predictive, samples with the default sampler
(nutpie, 4 x (1000 + 1000)), thins to ``L = --draws`` draws and ranks the truth. Results
(replications actually run, rank-test p-values, coverage of 50/68/90/95 % central intervals
with binomial bands, convergence) go to ``results.yaml``; plots to ``<case>_ranks.png`` and
``<case>_ecdf.png``.

Cases (1D, built-in parametric IRFs, ``gammaprob.simulate.parametric_spectrum_dataset``):

* ``cash_1d``: known background, Cash (Poisson) likelihood; power law, index Normal(2.5, 0.3),
  amplitude LogUniform(1e-12, 1e-11) cm-2 s-1 TeV-1.
* ``onoff_marginal_1d``, ``onoff_latent_1d``: the same source on on/off data (alpha = 0.2),
  ``onoff="marginal"`` (default) and ``"latent"`` (OFF rates sampled; their Gamma(1/4, 1e-4)
  prior is the simulator of the OFF counts).
* ``flux_point_bin_1d``: the model a flux-point estimate samples in one energy bin
  (1-3 TeV, spectral shape fixed at index 2.5, amplitude free, on/off marginal).
* ``upper_limit_1d``: a faint source (amplitude LogUniform(1e-14, 1e-12)), on/off marginal;
  besides the ranks, the one-sided 95 % upper-limit coverage (truth <= the 95 % quantile).
* ``lightcurve_bin_1d``: one light-curve bin: 10 min livetime, index fixed, amplitude free,
  on/off marginal.

3D cases (a CTA prod5 South map dataset of 40 x 40 px of 0.05 deg, 5 energy bins from 0.5 to
20 TeV, 30 min, IRF background known; :func:`_sbc_driver.prod5_map_dataset`), the source a power
law with the 1D priors and a position Normal(centre, 0.05 deg) on each axis:

* ``point_source_3d``: a point source with a free position.
* ``gaussian_source_3d``: a Gaussian with a free position and sigma LogUniform(0.05, 0.3) deg
  (the likelihood that follows the source, :mod:`gammaprob.likelihood.map_sparse`).

Not run (recorded in ``results.yaml`` with the reason): ``onoff="wstat"`` (a ``pm.Potential``:
the OFF rates are profiled, not given a prior, so there is no joint distribution to simulate
from and :func:`~gammaprob.calibrate.run_sbc` refuses it).

The command line is :func:`_sbc_driver.main` (shared with ``systematics_coverage/run.py``).

Run: ``python validation/calibration/run.py [--replications 500] [--cases cash_1d ...]
[--workers 4] [--chunk 20 --resume]``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import astropy.units as u
import numpy as np

HERE = Path(__file__).parent


def _driver():
    """Import ``validation/_sbc_driver.py`` by path (``validation/`` on ``sys.path`` would
    shadow packages such as ``coverage`` with its folders)."""
    spec = importlib.util.spec_from_file_location("_sbc_driver", HERE.parent / "_sbc_driver.py")
    module = sys.modules.setdefault("_sbc_driver", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


_sbc_driver = _driver()
AMPLITUDE_UNIT, MAP_CENTRE = _sbc_driver.AMPLITUDE_UNIT, _sbc_driver.MAP_CENTRE
Case, main, prod5_map_dataset = _sbc_driver.Case, _sbc_driver.main, _sbc_driver.prod5_map_dataset

NOT_RUN = {
    "onoff_wstat_1d": (
        "excluded: onoff='wstat' is a pm.Potential (profiled OFF rates, no prior on them), not "
        "a generative model; SBC needs a joint distribution of parameters and data, and "
        "run_sbc refuses potentials"
    ),
}


def _source(amplitude=(1e-12, 1e-11), index=None, spatial=None):
    from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral

    spectrum = spectral.PowerLaw(
        index=Normal(2.5, 0.3) if index is None else index,
        amplitude=LogUniform(*amplitude, unit=AMPLITUDE_UNIT),
    )
    return SkyModel(spectrum, spatial, name="src")


def _dataset(alpha=None, **template):
    from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset

    template = parametric_spectrum_dataset(
        name="sim", **{"n_bins": 8, "n_bins_true": 16, **template}
    )
    return simulate_spectrum_dataset(_source(), template, rng=1, alpha=alpha)


def _position():
    from gammaprob.modeling import Normal

    lon, lat = MAP_CENTRE
    return {"lon_0": Normal(lon, 0.05, unit="deg"), "lat_0": Normal(lat, 0.05, unit="deg")}


def _map_case(extended: bool) -> Case:
    """A point source or a Gaussian with free position on the prod5 map dataset."""
    from gammaprob.modeling import LogUniform, SkyModel, spatial, spectral

    lon, lat = MAP_CENTRE
    if extended:
        fit = spatial.Gaussian(**_position(), sigma=LogUniform(0.05, 0.3, unit="deg"), frame="icrs")
        true = spatial.Gaussian(lon_0=lon, lat_0=lat, sigma=0.1 * u.deg, frame="icrs")
    else:
        fit = spatial.Point(**_position(), frame="icrs")
        true = spatial.Point(lon_0=lon, lat_0=lat, frame="icrs")
    truth = SkyModel(
        spectral.PowerLaw(index=2.5, amplitude=3e-12 * u.Unit(AMPLITUDE_UNIT)), true, name="src"
    )
    return Case([prod5_map_dataset([truth], name="map")], _source(spatial=fit))


def _upper_limit(result, summary: dict, draws: int) -> None:
    """One-sided 95 % upper-limit coverage (truth <= the 95 % quantile of the L draws).

    Rank <= floor(0.95 L), which a calibrated posterior gives with probability
    (floor(0.95 L) + 1) / (L + 1).
    """
    from gammaprob.calibrate import coverage

    limit = int(np.floor(0.95 * draws))
    inside = result.ranks["src::amplitude"] <= limit
    summary["upper_limit_95_coverage"] = coverage(inside, (limit + 1) / (draws + 1))


def cases() -> dict:
    """Case name -> a function building its :class:`_sbc_driver.Case`."""
    return {
        "cash_1d": lambda: Case([_dataset()], _source()),
        "onoff_marginal_1d": lambda: Case([_dataset(alpha=0.2)], _source(), {"onoff": "marginal"}),
        "onoff_latent_1d": lambda: Case([_dataset(alpha=0.2)], _source(), {"onoff": "latent"}),
        "flux_point_bin_1d": lambda: Case(
            [_dataset(alpha=0.2, energy_bounds=[1, 3] * u.TeV, n_bins=2)], _source(index=2.5)
        ),
        "upper_limit_1d": lambda: Case(
            [_dataset(alpha=0.2)], _source(amplitude=(1e-14, 1e-12)), extra=_upper_limit
        ),
        "lightcurve_bin_1d": lambda: Case(
            [_dataset(alpha=0.2, livetime=10 * u.min)], _source(index=2.5)
        ),
        "point_source_3d": lambda: _map_case(extended=False),
        "gaussian_source_3d": lambda: _map_case(extended=True),
    }


if __name__ == "__main__":
    main(__doc__.splitlines()[0], cases, NOT_RUN, HERE, default_replications=500, plots=True)
