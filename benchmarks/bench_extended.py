"""Extended sources on real H.E.S.S. DR1 data: one logp (+ gradient), gammaprob vs gammapy.

The workload of issue 17: the H.E.S.S. DR1 runs within 2.5 deg of MSH 15-52, reduced by gammapy
(``MapDatasetMaker``, ``SafeMaskMaker`` offset-max 2.5 deg, ``FoVBackgroundMaker``) to one stacked
map dataset of N x N pixels of 0.02 deg and 10 reconstructed energy bins (0.5-50 TeV), with the
PSF and energy dispersion of the stacked dataset at the source position (the PSF narrows with
energy, so it is not low rank). The same dataset is converted to a gammaprob ``MapResponse``
(``tests/forward/_helpers.map_response_from_gammapy``), so both codes see identical inputs.

Each morphology is a source with free position and size plus a power law, and a FoV background
norm and tilt. Priors (gammaprob): position Normal(nominal, 0.1 deg) per axis; Gaussian
``sigma`` LogUniform(0.01, 0.5) deg (the prior of the issue's test); disk ``r_0``
LogUniform(0.02, 0.5); generalised Gaussian ``r_0`` LogUniform(0.01, 0.5) and ``eta``
Uniform(0.1, 1); shell ``radius`` LogUniform(0.02, 0.5), ``width`` LogUniform(0.02, 0.3).

gammapy: ``MapDataset.stat_sum()`` with the source longitude, size and spectral index
alternating between two values on every call (so no cache answers); it has no gradient, so its
one timing is the denominator of both rows (``*_logp`` compares logp with logp;
``*_logp_grad`` says what one gradient-carrying call of ours costs against gammapy's logp).
gammaprob: the compiled numba function of the PyMC model's log-probability (and its gradient
with respect to all free variables). Same process, same repeats and warm-up for both.

Run: ``GAMMAPY_DATA=... python benchmarks/bench_extended.py [N ...]`` (default 100 200) ->
``benchmarks/results/extended.json``.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from _common import best_time, write_results  # noqa: E402
from bench_likelihood import _compile, _gammapy_timer, _import_gammapy  # noqa: E402

TARGET = (228.53, -59.16)  # MSH 15-52 (ICRS, deg)
REPEAT = 7


def reduce_with_gammapy(n_pix: int):
    """Stacked gammapy MapDataset of the MSH 15-52 runs on ``n_pix x n_pix`` pixels."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore
    from gammapy.datasets import MapDataset
    from gammapy.makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker
    from gammapy.maps import MapAxis, WcsGeom

    store = DataStore.from_dir(Path(os.environ["GAMMAPY_DATA"]) / "hess-dl3-dr1")
    target = SkyCoord(*TARGET, unit="deg", frame="icrs")
    table = store.obs_table
    pointing = SkyCoord(table["RA_PNT"], table["DEC_PNT"], unit="deg", frame="icrs")
    obs_ids = table["OBS_ID"][pointing.separation(target) < 2.5 * u.deg]
    observations = store.get_observations(obs_ids, required_irf="full-enclosure")
    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", nbin=10, name="energy")
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", nbin=20, name="energy_true")
    geom = WcsGeom.create(
        skydir=target, binsz=0.02, width=n_pix * 0.02, frame="icrs", axes=[energy]
    )
    stacked = MapDataset.create(geom, energy_axis_true=energy_true, name="msh")
    maker = MapDatasetMaker(selection=["counts", "exposure", "background", "psf", "edisp"])
    safe = SafeMaskMaker(methods=["offset-max"], offset_max=2.5 * u.deg)
    fov = FoVBackgroundMaker(method="scale")
    for observation in observations:
        cutout = stacked.cutout(observation.get_pointing_icrs(observation.tmid), width=5 * u.deg)
        dataset = maker.run(cutout, observation)
        dataset = safe.run(dataset, observation)
        dataset = fov.run(dataset)
        stacked.stack(dataset)
    return stacked, target, len(observations)


MORPHOLOGIES = ("gauss", "disk", "gen_gauss", "shell")


def _gammapy_models(kind: str, target):
    from gammapy.modeling.models import (
        DiskSpatialModel,
        FoVBackgroundModel,
        GaussianSpatialModel,
        GeneralizedGaussianSpatialModel,
        PowerLawSpectralModel,
        ShellSpatialModel,
        SkyModel,
    )

    where = {"lon_0": f"{TARGET[0]} deg", "lat_0": f"{TARGET[1]} deg", "frame": "icrs"}
    spatial, size = {
        "gauss": (lambda: GaussianSpatialModel(sigma="0.1 deg", **where), "sigma"),
        "disk": (lambda: DiskSpatialModel(r_0="0.15 deg", **where), "r_0"),
        "gen_gauss": (
            lambda: GeneralizedGaussianSpatialModel(r_0="0.1 deg", eta=0.5, **where),
            "r_0",
        ),
        "shell": (lambda: ShellSpatialModel(radius="0.1 deg", width="0.05 deg", **where), "radius"),
    }[kind]
    spatial = spatial()
    spectral = PowerLawSpectralModel(index=2.3, amplitude="5e-12 cm-2 s-1 TeV-1", reference="1 TeV")
    source = SkyModel(spectral_model=spectral, spatial_model=spatial, name="src")
    value = getattr(spatial, size).value
    changing = [
        (spectral.index, (2.3, 2.35)),
        (spatial.lon_0, (TARGET[0], TARGET[0] + 0.004)),
        (getattr(spatial, size), (value, value * 1.02)),
    ]
    return [source, FoVBackgroundModel(dataset_name="msh")], changing


def _gammaprob_models(kind: str):
    from gammaprob.modeling import (
        FoVBackgroundModel,
        LogNormal,
        LogUniform,
        Normal,
        SkyModel,
        Uniform,
        spatial,
        spectral,
    )

    where = {
        "lon_0": Normal(TARGET[0], 0.1, unit="deg"),
        "lat_0": Normal(TARGET[1], 0.1, unit="deg"),
        "frame": "icrs",
    }
    morphology = {
        "gauss": lambda: spatial.Gaussian(sigma=LogUniform(0.01, 0.5, unit="deg"), **where),
        "disk": lambda: spatial.Disk(r_0=LogUniform(0.02, 0.5, unit="deg"), **where),
        "gen_gauss": lambda: spatial.GeneralizedGaussian(
            r_0=LogUniform(0.01, 0.5, unit="deg"), eta=Uniform(0.1, 1.0), **where
        ),
        "shell": lambda: spatial.Shell(
            radius=LogUniform(0.02, 0.5, unit="deg"),
            width=LogUniform(0.02, 0.3, unit="deg"),
            **where,
        ),
    }[kind]()
    source = SkyModel(
        spectral=spectral.PowerLaw(
            index=Normal(2.5, 0.5),
            amplitude=LogUniform(1e-13, 1e-10, unit="cm-2 s-1 TeV-1"),
            reference=1.0,
        ),
        spatial=morphology,
        name="src",
    )
    background = FoVBackgroundModel(
        dataset_name="msh", norm=LogNormal(0.0, 0.1), tilt=Normal(0.0, 0.1)
    )
    return [source, background]


def bench_size(n_pix: int, helpers) -> dict:
    import pymc as pm

    from gammaprob.forward import build_params
    from gammaprob.likelihood import add_likelihood

    dataset, target, n_runs = reduce_with_gammapy(n_pix)
    response = helpers.map_response_from_gammapy(dataset, target, name="msh", rad_max=None)
    print(f"{n_pix} px: {n_runs} runs, {int(dataset.counts.data.sum())} counts", flush=True)
    metrics = {}
    for kind in MORPHOLOGIES:
        ours = _gammaprob_models(kind)
        with pm.Model() as model, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            add_likelihood([response], ours, build_params(ours))
        f_logp, f_grad, args = _compile(model)
        t_logp = best_time(lambda f=f_logp, a=args: f(*a), repeat=REPEAT)
        t_grad = best_time(lambda f=f_grad, a=args: f(*a), repeat=REPEAT)
        models, changing = _gammapy_models(kind, target)
        dataset.models = models
        t_gp = best_time(_gammapy_timer(dataset, changing), repeat=REPEAT)
        key = f"{kind}_{n_pix}x{n_pix}x10"
        metrics[f"{key}_logp"] = {"gammaprob": t_logp, "gammapy": t_gp}
        metrics[f"{key}_logp_grad"] = {"gammaprob": t_grad, "gammapy": t_gp}
        print(
            f"  {kind}: logp {t_logp * 1e3:.2f} ms, +grad {t_grad * 1e3:.2f} ms, "
            f"gammapy {t_gp * 1e3:.2f} ms",
            flush=True,
        )
    return metrics


def main() -> None:
    if not (Path(os.environ.get("GAMMAPY_DATA", "")) / "hess-dl3-dr1").is_dir():
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder")
    sizes = [int(a) for a in sys.argv[1:]] or [100, 200]
    helpers = _import_gammapy()
    metrics = {}
    for n_pix in sizes:
        metrics.update(bench_size(n_pix, helpers))
    for row in metrics.values():
        row["ratio"] = row["gammapy"] / row["gammaprob"]
        row["unit"] = "s"
    write_results(
        "extended",
        metrics,
        extra={"repeats": REPEAT, "notes": __doc__.split("\n\n", 1)[1].strip()},
        packages=("gammapy", "pymc", "rocket-fft"),
    )


if __name__ == "__main__":
    main()
