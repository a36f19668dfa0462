"""Coverage (simulation-based calibration) of the systematics and hierarchical models (issue 15).

Each case is a small model a user builds with ``build_model(systematics=...)`` or a
:class:`~gammaprob.modeling.Hierarchy`; :func:`gammaprob.calibrate.run_sbc` draws truth and data
from the model's prior predictive, samples with the default sampler (nutpie,
4 x (1000 + 1000)), thins to ``L = --draws`` draws and ranks the truth. Results (replications
actually run, rank-test p-values, coverage of 50/68/90/95 % central intervals with binomial
bands, convergence) go to ``results.yaml``.

Cases (1D, built-in parametric IRFs, ``gammaprob.simulate.parametric_spectrum_dataset``,
8 reconstructed / 16 true energy bins, Cash likelihood with known background). The source is a
power law, index Normal(2.5, 0.3), amplitude LogUniform(1e-12, 1e-11) cm-2 s-1 TeV-1, seen by
two datasets: ``a`` with the nominal response and ``b`` with the nuisance (with a power law
alone the energy scale and the effective area are degenerate with the amplitude; the nominal
dataset identifies them):

* ``energy_scale_1d``: ``Systematics("b", energy_scale=True)``, z ~ TruncatedNormal(0, 0.1,
  -0.5, 0.5) (the documented default).
* ``effective_area_1d``: ``Systematics("b", effective_area=True)``, a ~ LogNormal(0, 0.1).
* ``hierarchy_1d``: four sources on four datasets, their indices from one population
  ``Hierarchy(
        "index", location=Normal(2.5, 0.3), scale=HalfNormal(0.2), centred=centred
    )`` (normal,
  non-centred), amplitudes LogUniform(1e-12, 1e-11) each; ranked: location, scale, the four
  member indices and the four amplitudes.
* ``hierarchy_centred_1d``: the same with ``centred=True`` (the members sampled from the
  population directly), to compare the divergences of the two parametrisations.

3D cases, the map-only nuisances (a CTA prod5 South map dataset of 40 x 40 px of 0.05 deg,
5 energy bins from 0.5 to 20 TeV, 30 min, the IRF background as template;
:func:`_sbc_driver.prod5_map_dataset`), a point source at the map centre (position fixed) with
the power law above, and ``Systematics("map", ...)`` with the documented default prior:

* ``background_norm_per_bin_3d``: ``background_norm=True``, one norm per energy bin,
  LogNormal(0, 0.1) each.
* ``fov_background_gradient_3d``: ``background_gradient=True``, gradients in lon and lat,
  Normal(0, 0.05) deg-1 each.
* ``psf_scale_3d``: ``psf_scale=True``, the PSF width scale, LogNormal(0, 0.1).

The command line is :func:`_sbc_driver.main` (shared with ``calibration/run.py``).

Run: ``python validation/systematics_coverage/run.py [--replications 100] [--cases ...]
[--workers 2] [--chunk 20 --resume] [--table]``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import astropy.units as u

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

TEMPLATE = {"n_bins": 8, "n_bins_true": 16}


def _power_law(index=None):
    from gammaprob.modeling import LogUniform, Normal, spectral

    return spectral.PowerLaw(
        index=Normal(2.5, 0.3) if index is None else index,
        amplitude=LogUniform(1e-12, 1e-11, unit=AMPLITUDE_UNIT),
    )


def _template(name: str):
    from gammaprob.simulate import parametric_spectrum_dataset

    return parametric_spectrum_dataset(name=name, **TEMPLATE)


def _pair_case(**nuisance) -> Case:
    from gammaprob.modeling import SkyModel, Systematics

    source = SkyModel(_power_law(), name="src")
    datasets = [_template("a"), _template("b")]
    systematics = {"systematics": [Systematics("b", **nuisance)]}
    return Case(datasets, source, systematics, record_build_kwargs=False)


def _hierarchy_case(centred: bool = False) -> Case:
    from gammaprob.modeling import HalfNormal, Hierarchy, Normal, SkyModel

    members = [f"s{i}" for i in range(4)]
    population = Hierarchy(
        "index", location=Normal(2.5, 0.3), scale=HalfNormal(0.2), centred=centred
    )
    priors = population.priors(members)
    models = [
        SkyModel(_power_law(priors[m]), name=m, datasets_names=[f"d{i}"])
        for i, m in enumerate(members)
    ]
    datasets = [_template(f"d{i}") for i in range(len(members))]
    var_names = [
        "index::location",
        "index::scale",
        *(f"{m}::index" for m in members),
        *(f"{m}::amplitude" for m in members),
    ]
    return Case(
        datasets, models, {}, var_names, extra=_record_target_accept, record_build_kwargs=False
    )


def _record_target_accept(result, summary: dict, draws: int) -> None:
    """Record the NUTS target acceptance ``sample`` used (its default for hierarchies)."""
    from gammaprob.modeling.hierarchy import HIERARCHY_TARGET_ACCEPT

    summary["target_accept"] = HIERARCHY_TARGET_ACCEPT


def _map_case(**nuisance) -> Case:
    """A point source at the map centre and ``Systematics("map", **nuisance)``."""
    from gammaprob.modeling import SkyModel, Systematics, spatial, spectral

    point = spatial.Point(lon_0=MAP_CENTRE[0], lat_0=MAP_CENTRE[1], frame="icrs")
    truth = SkyModel(
        spectral.PowerLaw(index=2.5, amplitude=3e-12 * u.Unit(AMPLITUDE_UNIT)), point, name="src"
    )
    dataset = prod5_map_dataset([truth], name="map")
    source = SkyModel(_power_law(), point.copy(), name="src")
    systematics = {"systematics": [Systematics("map", **nuisance)]}
    return Case([dataset], source, systematics, record_build_kwargs=False)


def cases() -> dict:
    """Case name -> a function building its :class:`_sbc_driver.Case`."""
    return {
        "energy_scale_1d": lambda: _pair_case(energy_scale=True),
        "effective_area_1d": lambda: _pair_case(effective_area=True),
        "hierarchy_1d": lambda: _hierarchy_case(),
        "hierarchy_centred_1d": lambda: _hierarchy_case(centred=True),
        "background_norm_per_bin_3d": lambda: _map_case(background_norm=True),
        "fov_background_gradient_3d": lambda: _map_case(background_gradient=True),
        "psf_scale_3d": lambda: _map_case(psf_scale=True),
    }


if __name__ == "__main__":
    main(__doc__.splitlines()[0], cases, {}, HERE, default_replications=100)
