"""One log-likelihood and one log-likelihood + gradient evaluation, gammaprob vs gammapy.

Joint-Crab: the ten OGIP spectra of ``$GAMMAPY_DATA/joint-crab/spectra`` read with
``gammaprob.datasets.read_ogip``, a power law with priors from ``gammaprob.modeling``, the
likelihood built by ``gammaprob.likelihood.add_likelihood`` (profiled WStat, the quantity gammapy
computes, and the default latent-background form). 3D: synthetic map datasets of N x N pixels
(0.02 deg) x 10 energy bins with a point source (Gaussian PSF, Gaussian energy dispersion, flat
exposure and background) built with gammapy and converted to a ``MapResponse``; the extended
row has a Gaussian source (sigma 0.1 deg, prior LogUniform(0.05, 0.2) deg) on 200 x 200 pixels,
folded by FFT convolution with the PSF kernels on a box sized from the priors. The PSF of these
datasets does not depend on energy and the exposure is flat, so gammaprob's low-rank
factorisations (``gammaprob.forward.psf.low_rank``) reduce them to rank 1: one PSF row looked
up per pixel for the point source, one convolution for the Gaussian. The ``map_psf_e`` row has a
PSF that narrows with energy (0.12 to 0.05 deg), which is not low rank.

Both sides are timed on the same machine in the same process. gammapy's ``stat_sum()`` caches
the prediction while parameters do not change, so its timing alternates the spectral index
between two values, and for maps also the source longitude (a fit changes parameters on every
call; with only spectral parameters changing, gammapy reuses its PSF-convolved source template). gammaprob times the compiled
pytensor function (numba backend) of the model's log-probability over its free variables.

Run: ``GAMMAPY_DATA=... python benchmarks/bench_likelihood.py`` ->
``benchmarks/results/likelihood.json``.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

# one BLAS thread for both codes: on this shared 2-core machine a threaded BLAS makes small
# matrix products 25x slower (measured 25 ms vs 1 ms for a (10, 20) x (20, 20000) product)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from _common import best_time, write_results  # noqa: E402


def _import_gammapy():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tests" / "forward" / "_helpers.py"
    spec = importlib.util.spec_from_file_location("bench_helpers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_helpers"] = module
    spec.loader.exec_module(module)
    module.import_gammapy()
    return module


def _compile(model):
    """Compiled logp and logp+grad over the model's value variables, and a start point."""
    import pytensor
    import pytensor.tensor as pt

    values = model.value_vars
    logp = model.logp()
    grads = pt.grad(logp, values)
    f_logp = pytensor.function(values, logp, trust_input=True)
    f_grad = pytensor.function(values, [logp, *grads], trust_input=True)
    start = model.initial_point()
    args = [np.asarray(start[v.name], dtype=v.dtype) for v in values]
    return f_logp, f_grad, args


def _gammapy_timer(datasets, parameters):
    """Call ``stat_sum()`` with the parameters alternating between two values each call."""
    state = {"flip": False}

    def call():
        state["flip"] = not state["flip"]
        for parameter, (a, b) in parameters:
            parameter.value = a if state["flip"] else b
        return datasets.stat_sum()

    return call


def bench_joint_crab(data: Path) -> dict:
    import pymc as pm
    from gammapy.datasets import Datasets, SpectrumDatasetOnOff
    from gammapy.modeling.models import PowerLawSpectralModel
    from gammapy.modeling.models import SkyModel as GPSkyModel

    from gammaprob.datasets import read_ogip
    from gammaprob.forward import SpectrumResponse, build_params
    from gammaprob.likelihood import add_likelihood
    from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral

    files = sorted((data / "joint-crab" / "spectra").glob("*/pha_*.fits"))
    responses = [SpectrumResponse.from_dataset(read_ogip(f)) for f in files]
    crab = SkyModel(
        spectral=spectral.PowerLaw(
            index=Normal(2.5, 1.0),
            amplitude=LogUniform(1e-12, 1e-10, unit="cm-2 s-1 TeV-1"),
            reference=1.0,
        ),
        name="crab",
    )
    out = {}
    for mode in ("wstat", "latent"):
        with pm.Model() as model, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            add_likelihood(responses, [crab], build_params([crab]), onoff=mode)
        f_logp, f_grad, args = _compile(model)
        out[mode] = (
            best_time(lambda f=f_logp, a=args: f(*a), repeat=15),
            best_time(lambda f=f_grad, a=args: f(*a), repeat=15),
        )

    gp = Datasets([SpectrumDatasetOnOff.read(f) for f in files])
    pl = PowerLawSpectralModel(index=2.5, amplitude="3.5e-11 cm-2 s-1 TeV-1", reference="1 TeV")
    gp.models = [GPSkyModel(spectral_model=pl, name="crab")]
    t_gp = best_time(_gammapy_timer(gp, [(pl.index, (2.5, 2.6))]), repeat=7)
    return {
        "joint_crab_logp": {"gammaprob": out["wstat"][0], "gammapy": t_gp},
        "joint_crab_logp_grad": {"gammaprob": out["wstat"][1], "gammapy": t_gp},
        "joint_crab_latent_logp": {"gammaprob": out["latent"][0], "gammapy": t_gp},
        "joint_crab_latent_logp_grad": {"gammaprob": out["latent"][1], "gammapy": t_gp},
    }


def _gammapy_map_dataset(n_pix: int, rng, extended: bool = False, energy_psf: bool = False):
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.datasets import MapDataset
    from gammapy.irf import EDispKernelMap, PSFMap
    from gammapy.maps import MapAxis, WcsGeom
    from gammapy.modeling.models import (
        FoVBackgroundModel,
        GaussianSpatialModel,
        PointSpatialModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    energy = MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=10, name="energy")
    energy_true = MapAxis.from_energy_bounds("0.5 TeV", "20 TeV", nbin=20, name="energy_true")
    geom = WcsGeom.create(
        skydir=(0, 0), binsz=0.02, width=n_pix * 0.02, frame="galactic", axes=[energy]
    )
    dataset = MapDataset.create(geom, energy_axis_true=energy_true, name="map")
    dataset.exposure.data += 1e11
    dataset.background.data += 0.5
    # energy_psf: the PSF narrows with energy (0.12 -> 0.05 deg), so it is not low rank
    sigma = np.geomspace(0.12, 0.05, energy_true.nbin) if energy_psf else 0.08
    dataset.psf = PSFMap.from_gauss(energy_true, sigma=sigma * u.deg)
    dataset.edisp = EDispKernelMap.from_gauss(
        energy, energy_true, sigma=0.1, bias=0.0, geom=geom.to_image()
    )
    spectral = PowerLawSpectralModel(index=2.5, amplitude="1e-12 cm-2 s-1 TeV-1", reference="1 TeV")
    position = {"lon_0": "0.01 deg", "lat_0": "-0.01 deg", "frame": "galactic"}
    if extended:
        spatial = GaussianSpatialModel(sigma="0.1 deg", **position)
    else:
        spatial = PointSpatialModel(**position)
    source = SkyModel(spectral_model=spectral, spatial_model=spatial, name="src")
    dataset.models = [source, FoVBackgroundModel(dataset_name="map")]
    dataset.counts.data = rng.poisson(dataset.npred().data)
    position = SkyCoord(0.01, -0.01, unit="deg", frame="galactic")
    return dataset, (spectral, spatial), position


def _map_response(dataset, position):
    import astropy.units as u

    from gammaprob.forward import MapResponse

    geom = dataset.counts.geom.to_image()
    coords = geom.get_coord()
    e_true = dataset.exposure.geom.axes["energy_true"]
    rad = np.linspace(0, 1.0, 2001) * u.deg
    psf = dataset.psf.psf_map.interp_by_coord(
        {"skycoord": position, "energy_true": e_true.center[:, None], "rad": rad[None, :]}
    )
    return MapResponse.from_arrays(
        dataset.name,
        counts=dataset.counts.data,
        exposure=dataset.exposure.quantity.to_value("cm2 s"),
        edisp=dataset.edisp.get_edisp_kernel(position=position).pdf_matrix,
        energy_true_edges=e_true.edges.to_value("TeV"),
        energy_edges=dataset.counts.geom.axes["energy"].edges.to_value("TeV"),
        lon=coords.lon.to_value("deg"),
        lat=coords.lat.to_value("deg"),
        solid_angle=geom.solid_angle().to_value("sr"),
        psf_rad=rad.to_value("deg"),
        psf_values=np.clip(np.asarray(psf), 0.0, None),  # interpolation round-off
        frame="galactic",
        background=dataset.background.data,
    )


def bench_maps(sizes=(100, 200, 400), extended_sizes=(200,), energy_psf_sizes=(100,)) -> dict:
    import pymc as pm

    from gammaprob.forward import build_params
    from gammaprob.likelihood import add_likelihood
    from gammaprob.modeling import (
        FoVBackgroundModel,
        LogNormal,
        LogUniform,
        Normal,
        SkyModel,
        spectral,
    )
    from gammaprob.modeling.spatial import Gaussian, Point

    rng = np.random.default_rng(1)
    metrics = {}
    cases = [(n, False, False) for n in sizes] + [(n, True, False) for n in extended_sizes]
    cases += [(n, False, True) for n in energy_psf_sizes]
    for n_pix, extended, energy_psf in cases:
        dataset, (gp_spectral, gp_spatial), position = _gammapy_map_dataset(
            n_pix, rng, extended, energy_psf
        )
        response = _map_response(dataset, position)
        where = {
            "lon_0": Normal(0.01, 0.02, unit="deg"),
            "lat_0": Normal(-0.01, 0.02, unit="deg"),
            "frame": "galactic",
        }
        morphology = (
            Gaussian(sigma=LogUniform(0.05, 0.2, unit="deg"), **where)
            if extended
            else Point(**where)
        )
        source = SkyModel(
            spectral=spectral.PowerLaw(
                index=Normal(2.5, 0.5),
                amplitude=LogUniform(1e-13, 1e-11, unit="cm-2 s-1 TeV-1"),
                reference=1.0,
            ),
            spatial=morphology,
            name="src",
        )
        background = FoVBackgroundModel(dataset_name="map", norm=LogNormal(0.0, 0.1))
        models = [source, background]
        with pm.Model() as model:
            add_likelihood([response], models, build_params(models))
        f_logp, f_grad, args = _compile(model)
        t_logp = best_time(lambda f=f_logp, a=args: f(*a), repeat=9)
        t_grad = best_time(lambda f=f_grad, a=args: f(*a), repeat=9)
        changing = [(gp_spectral.index, (2.5, 2.6)), (gp_spatial.lon_0, (0.01, 0.012))]
        t_gp = best_time(_gammapy_timer(dataset, changing), repeat=5)
        kind = "gauss_" if extended else ("psf_e_" if energy_psf else "")
        key = f"map_{kind}{n_pix}x{n_pix}x10"
        metrics[f"{key}_logp"] = {"gammaprob": t_logp, "gammapy": t_gp}
        metrics[f"{key}_logp_grad"] = {"gammaprob": t_grad, "gammapy": t_gp}
    return metrics


def main() -> None:
    data = Path(os.environ.get("GAMMAPY_DATA", ""))
    if not (data / "joint-crab").is_dir():
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder")
    _import_gammapy()
    metrics = bench_joint_crab(data)
    metrics.update(bench_maps())
    for row in metrics.values():
        row["ratio"] = row["gammapy"] / row["gammaprob"]
        row["unit"] = "s"
    write_results(
        "likelihood",
        metrics,
        extra={
            "notes": (
                "Both single-threaded BLAS (OMP/OPENBLAS_NUM_THREADS=1). "
                "gammapy: Datasets/MapDataset.stat_sum() with the spectral index (and, for maps, "
                "the source longitude) alternating between two values (no gradient); gammaprob: compiled pytensor logp (and logp + gradient w.r.t. all "
                "free variables) of the PyMC model from add_likelihood. joint_crab_*: profiled "
                "WStat potential; joint_crab_latent_*: latent background per bin (two observed "
                "Poisson terms per dataset, 430 extra free variables). map_gauss_*: Gaussian "
                "source with free position and width (FFT convolution on a static box). Map "
                "rows: energy-independent Gaussian PSF and flat exposure (rank-1 PSF and "
                "exposure factors in gammaprob), except map_psf_e_*: point source with a "
                "Gaussian PSF narrowing from 0.12 to 0.05 deg over the 20 true-energy bins."
            )
        },
        packages=("gammapy", "pymc"),
    )


if __name__ == "__main__":
    main()
