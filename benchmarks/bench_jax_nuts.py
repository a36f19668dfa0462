"""3D point-source NUTS through JAX (numpyro), on a GPU when JAX sees one: ESS per second.

Issue 16's GPU check: a simulated CTA prod5 map dataset of ``--npix`` x ``--npix`` pixels of
0.02 deg (10 reconstructed-energy bins 0.5-50 TeV, 20 true-energy bins, 1 h, the pointing
0.5 deg from the source), a point source with free position (Normal priors of 0.05 deg around
the truth) and a power law (LogUniform amplitude, Normal index), and the IRF background with
its FoV norm free. ``sample(model, sampler="numpyro")`` with 4 chains x (``--tune`` +
``--draws``); the time is the whole ``sample`` call, JAX's compilation included; the ESS is the
smallest bulk ESS of the free parameters. The target is >= 50 ESS/s at 400 px on a GPU.

On the same dataset, in the same process, for comparison: nutpie on the CPU (the default
sampler; its compiled code from a warm cache when it has one), and the time of one
log-density + gradient of the JAX-compiled graph (median of ``--repeat`` timed calls after a
warm-up). gammapy has no gradient-based sampler, so there is no gammapy column.

The same script runs on a CPU (CI-like check: ``--npix 40 --draws 200 --tune 200``) and on a
device (``JAX_PLATFORMS=cuda``; the device name is recorded). Writes
``benchmarks/results/jax_nuts_<platform>.json`` (``--dev``: print only).

Run: ``GAMMAPY_DATA=... python benchmarks/bench_jax_nuts.py [--npix 400] [--dev]``. Needs the
``jax`` extra (jax, numpyro).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

PROD5 = "$GAMMAPY_DATA/cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
CENTRE = (83.63, 22.01)  # source, ICRS deg; the pointing is 0.5 deg north
TRUE_AMPLITUDE, TRUE_INDEX = 3e-12, 2.5  # cm-2 s-1 TeV-1 at 1 TeV


def dataset(npix: int, seed: int = 1):
    """The simulated map dataset (``npix`` x ``npix`` of 0.02 deg)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from gammaprob.makers import MapTemplate
    from gammaprob.maps import MapAxis, WcsGeom
    from gammaprob.modeling import SkyModel, spatial, spectral
    from gammaprob.simulate import make_observation, read_irfs, simulate_map_dataset

    centre = SkyCoord(*CENTRE, unit="deg", frame="icrs")
    energy = MapAxis.from_energy_bounds(0.5 * u.TeV, 50 * u.TeV, 10, name="energy")
    energy_true = MapAxis.from_energy_bounds(0.3 * u.TeV, 100 * u.TeV, 20, name="energy_true")
    geom = WcsGeom.create(skydir=centre, npix=(npix, npix), binsz=0.02, frame="icrs", axes=[energy])
    pointing = centre.directional_offset_by(0 * u.deg, 0.5 * u.deg)
    observation = make_observation(read_irfs(PROD5), pointing, 1.0 * u.h)
    truth = SkyModel(
        spectral.PowerLaw(index=TRUE_INDEX, amplitude=TRUE_AMPLITUDE * u.Unit("cm-2 s-1 TeV-1")),
        spatial.Point(lon_0=CENTRE[0] * u.deg, lat_0=CENTRE[1] * u.deg, frame="icrs"),
        name="src",
    )
    template = MapTemplate(geom, energy_true, name="map")
    return simulate_map_dataset([truth], template, observation, random_state=seed, name="map")


def models():
    """The fitted models: point source with free position, power law, FoV background norm."""
    from gammaprob.modeling import (
        FoVBackgroundModel,
        LogUniform,
        Normal,
        SkyModel,
        spatial,
        spectral,
    )

    source = SkyModel(
        spectral.PowerLaw(
            index=Normal(2.5, 0.5), amplitude=LogUniform(1e-13, 1e-10, unit="cm-2 s-1 TeV-1")
        ),
        spatial.Point(
            lon_0=Normal(CENTRE[0], 0.05, unit="deg"),
            lat_0=Normal(CENTRE[1], 0.05, unit="deg"),
            frame="icrs",
        ),
        name="src",
    )
    return [source, FoVBackgroundModel(dataset_name="map", norm=LogUniform(0.5, 2.0))]


def _ess(result) -> float:
    import numpy as np
    from arviz_stats import ess

    values = ess(result.posterior.to_dataset(), method="bulk")
    return min(float(np.min(np.asarray(values[name]))) for name in values.data_vars)


def _logp_grad_time(model, repeat: int) -> float:
    """Median time of one log-density + gradient of the JAX-compiled graph (s)."""
    import jax
    import numpy as np
    from pymc.sampling.jax import get_jaxified_logp

    logp = get_jaxified_logp(model)
    value_grad = jax.jit(jax.value_and_grad(lambda *x: logp(x)))
    point = model.initial_point()
    x = [np.asarray(point[v.name]) for v in model.value_vars]
    jax.block_until_ready(value_grad(*x))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(value_grad(*x))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timed_sample(model, sampler: str, settings: dict) -> dict:
    """Time one ``sample`` call (compilation included); its ESS, R-hat and divergences."""
    from gammaprob.inference import check_convergence, sample

    start = time.perf_counter()
    result = sample(model, sampler=sampler, random_seed=1, check=False, **settings)
    call = time.perf_counter() - start
    conv = check_convergence(result, warn=False)
    return {
        "sample_call_s": call,
        "ess_bulk_min": _ess(result),
        "r_hat_max": float(conv.rhat_max),
        "divergences": int(conv.n_divergent),
    }


def main(argv=None) -> None:
    """Build the dataset and model, time numpyro (and nutpie on the CPU), write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--npix", type=int, default=400)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=20, help="timed logp + gradient calls")
    parser.add_argument("--skip-nutpie", action="store_true", help="no CPU nutpie row")
    parser.add_argument("--dev", action="store_true", help="print only; write no results file")
    args = parser.parse_args(argv)

    import jax

    sys.path.insert(0, str(Path(__file__).parent))
    from _common import write_results

    from gammaprob.inference import build_model

    platform = jax.default_backend()
    device = str(jax.devices()[0].device_kind)
    start = time.perf_counter()
    data = dataset(args.npix)
    model = build_model([data], models())
    build_s = time.perf_counter() - start
    settings = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "progressbar": False}
    runs = {"numpyro": _timed_sample(model, "numpyro", settings)}
    runs["numpyro"]["logp_grad_s"] = _logp_grad_time(model, args.repeat)
    if not args.skip_nutpie:
        runs["nutpie_cpu"] = _timed_sample(model, "nutpie", settings)
    rows = {}
    note = "gammapy has no gradient-based sampler: no gammapy column"
    for name, run in runs.items():
        run["ess_per_s_incl_compile"] = run["ess_bulk_min"] / run["sample_call_s"]
        rows[f"ess_per_s_incl_compile[{name}]"] = {
            "gammaprob": run["ess_per_s_incl_compile"],
            "gammapy": None,
            "ratio": None,
            "unit": "1/s",
            "note": note,
        }
        print(f"{name}: {run}", flush=True)
    rows["logp_grad_s[numpyro]"] = {
        "gammaprob": runs["numpyro"]["logp_grad_s"],
        "gammapy": None,
        "ratio": None,
        "unit": "s",
        "note": "gammapy has no gradient",
    }
    target = runs["numpyro"]["ess_per_s_incl_compile"] >= 50.0
    print(f"platform {platform} ({device}), {args.npix} px: numpyro >= 50 ESS/s: {target}")
    if args.dev:
        print("dev run: no results file written")
        return
    write_results(
        f"jax_nuts_{platform}",
        rows,
        extra={
            "device": device,
            "platform": platform,
            "settings": {**settings, "npix": args.npix, "pixel_deg": 0.02, "energy_bins": 10},
            "build_s": build_s,
            "runs": runs,
            "target_numpyro_ess_per_s_ge_50": target,
            "repeats": 1,
        },
        packages=("jax", "jaxlib", "numpyro", "nutpie"),
    )


if __name__ == "__main__":
    main()
