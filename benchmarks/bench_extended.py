"""Sources with free position and size on real H.E.S.S. DR1 data: one logp (+ gradient), gammaprob vs gammapy.

The workload of issue 17. For each target, the H.E.S.S. DR1 runs pointed within 2.5 deg of it
(MSH 15-52: 20 runs; RX J1713.7-3946: 15; the Crab: 4) are reduced by gammapy
(``MapDatasetMaker``, ``SafeMaskMaker`` offset-max 2.5 deg, ``FoVBackgroundMaker``) to one
stacked map dataset of N x N pixels of 0.02 deg centred on the target and 10 reconstructed
energy bins (0.5-50 TeV), with the PSF and energy dispersion of the stacked dataset at the
target (20 true-energy bins; the PSF narrows with energy, so it is not low rank). The same
dataset is converted to a gammaprob ``MapResponse``
(``tests/forward/_helpers.map_response_from_gammapy``), so both codes see identical inputs.

Each source is a morphology plus a power law, with a FoV background norm and tilt. Free position
(prior Normal(target, 0.1 deg) per axis) and size (log-uniform priors, in ``TARGETS``; the
generalised Gaussian's ``eta`` Uniform(0.1, 1)) for point, Gaussian, disk, generalised Gaussian
and shell; the template (a Gaussian image of the target's template width, written to one FITS
file read by both codes, normalised as gammapy's ``TemplateSpatialModel``) has no spatial
parameter, only the power law's. RX J1713.7-3946's shell prior (radius 0.4-0.75 deg, width
0.05-0.3 deg) is centred on the source: its nominal shell (outer edge 0.7 deg) lies inside the
1 deg half-width of the 100 px map, the prior's largest shell (1.05 deg) only from 200 px on.

gammapy: ``MapDataset.stat_sum()`` with the source longitude, size and spectral index alternating
between two values on every call (template: index and amplitude; point: no size), so no cache
answers. gammapy has no gradient: its one logp timing is the denominator of both rows
(``.../logp`` compares logp with logp; ``.../logp_grad`` says what one gradient-carrying call of
ours costs against gammapy's logp). gammaprob: the compiled numba function of the PyMC model's
log-probability (and its gradient with respect to all free variables) at the prior's initial
point. Both in the same process, on the same inputs, with the same warm-up (one call, then the
loop length doubled until a loop takes >= 0.2 s, per function) and the same repeats, interleaved
(gammapy loop, gammaprob logp loop, gammaprob logp + gradient loop, again): each time is the
minimum over the repeats of the per-call time of one loop (``_common.best_time``'s semantic).

Rows ``<target>/<kind>/<N>px/logp`` and ``.../logp_grad`` (ratio = gammapy / gammaprob), with
the number of runs, the counts of the map, its bins (N x N x 10), the bins inside the safe mask,
and, for gammaprob, the radius (deg) its static region around the target reaches and the
sub-pixel oversampling of the model image (``gammaprob.forward.checks.model_regions``). A model
gammaprob refuses to build gives rows with gammaprob ``null``, gammapy's time and the error.

Run (from the repository root)::

    GAMMAPY_DATA=... python benchmarks/bench_extended.py [--targets msh1552,rxj1713,crab]
        [--sizes 100,200,400] [--kinds point,gauss,...] [--repeat 7] [--cache-dir DIR]
        [--out benchmarks/results/extended.json]

``--kinds`` replaces every target's default kinds; ``--cache-dir`` keeps the gammapy reductions
(one FITS file per target and size; delete the folder after changing the reduction).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from _common import RESULTS, write_results  # noqa: E402
from bench_likelihood import _compile, _gammapy_timer, _import_gammapy  # noqa: E402

KINDS = ("point", "gauss", "disk", "gen_gauss", "shell", "template")
PIXEL = 0.02  # deg
POSITION_SIGMA = 0.1  # deg, prior width of lon_0 and lat_0
MIN_LOOP = 0.2  # s, shortest timed loop


@dataclass(frozen=True)
class Target:
    """A DR1 target: position, default kinds, size parameters and template width.

    Attributes
    ----------
    position : tuple of float
        ICRS right ascension and declination (deg).
    kinds : tuple of str
        Morphologies run when ``--kinds`` is not given.
    sizes : Mapping
        ``{kind: {parameter: (nominal, low, high)}}``: gammapy's nominal value and gammaprob's
        prior bounds (deg; log-uniform, except ``eta``: uniform, dimensionless).
    template_sigma : float
        Width (deg) of the Gaussian image used as the template.
    """

    position: tuple[float, float]
    kinds: tuple[str, ...]
    sizes: Mapping[str, Mapping[str, tuple[float, float, float]]]
    template_sigma: float


TARGETS = {
    "msh1552": Target(
        (228.53, -59.16),
        KINDS,
        {
            "gauss": {"sigma": (0.1, 0.01, 0.5)},
            "disk": {"r_0": (0.15, 0.02, 0.5)},
            "gen_gauss": {"r_0": (0.1, 0.01, 0.5), "eta": (0.5, 0.1, 1.0)},
            "shell": {"radius": (0.1, 0.02, 0.5), "width": (0.05, 0.02, 0.3)},
        },
        0.1,
    ),
    "rxj1713": Target(
        (258.388, -39.762),
        ("shell", "gauss"),
        {
            "gauss": {"sigma": (0.35, 0.1, 0.7)},
            "disk": {"r_0": (0.6, 0.3, 0.9)},
            "gen_gauss": {"r_0": (0.35, 0.1, 0.7), "eta": (0.5, 0.1, 1.0)},
            "shell": {"radius": (0.55, 0.4, 0.75), "width": (0.15, 0.05, 0.3)},
        },
        0.25,
    ),
    "crab": Target(
        (83.6331, 22.0145),
        ("point", "gauss"),
        {
            "gauss": {"sigma": (0.03, 0.01, 0.2)},
            "disk": {"r_0": (0.05, 0.01, 0.2)},
            "gen_gauss": {"r_0": (0.03, 0.01, 0.2), "eta": (0.5, 0.1, 1.0)},
            "shell": {"radius": (0.05, 0.01, 0.2), "width": (0.03, 0.01, 0.1)},
        },
        0.05,
    ),
}


def _observations(name: str):
    """The DR1 observations pointed within 2.5 deg of target ``name``."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore

    store = DataStore.from_dir(Path(os.environ["GAMMAPY_DATA"]) / "hess-dl3-dr1")
    target = SkyCoord(*TARGETS[name].position, unit="deg", frame="icrs")
    table = store.obs_table
    pointing = SkyCoord(table["RA_PNT"], table["DEC_PNT"], unit="deg", frame="icrs")
    obs_ids = table["OBS_ID"][pointing.separation(target) < 2.5 * u.deg]
    return store.get_observations(obs_ids, required_irf="full-enclosure")


def reduce_with_gammapy(name: str, n_pix: int):
    """Stacked gammapy MapDataset (named ``name``) of the runs around target ``name``.

    Returns
    -------
    tuple
        The dataset and its number of runs.
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.datasets import MapDataset
    from gammapy.makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker
    from gammapy.maps import MapAxis, WcsGeom

    observations = _observations(name)
    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", nbin=10, name="energy")
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", nbin=20, name="energy_true")
    target = SkyCoord(*TARGETS[name].position, unit="deg", frame="icrs")
    geom = WcsGeom.create(
        skydir=target, binsz=PIXEL, width=n_pix * PIXEL, frame="icrs", axes=[energy]
    )
    stacked = MapDataset.create(geom, energy_axis_true=energy_true, name=name)
    maker = MapDatasetMaker(selection=["counts", "exposure", "background", "psf", "edisp"])
    safe = SafeMaskMaker(methods=["offset-max"], offset_max=2.5 * u.deg)
    fov = FoVBackgroundMaker(method="scale")
    for observation in observations:
        cutout = stacked.cutout(observation.get_pointing_icrs(observation.tmid), width=5 * u.deg)
        dataset = maker.run(cutout, observation)
        dataset = safe.run(dataset, observation)
        dataset = fov.run(dataset)
        stacked.stack(dataset)
    return stacked, len(observations)


def _native_byte_order(dataset):
    """``dataset`` with its maps in native byte order (FITS files store big-endian arrays).

    So that a dataset read from the cache is computed on exactly as a freshly reduced one.
    """
    maps = [dataset.counts, dataset.exposure, dataset.background]
    maps += [dataset.psf.psf_map, dataset.psf.exposure_map]
    maps += [dataset.edisp.edisp_map, dataset.edisp.exposure_map]
    for m in maps:
        if m is not None:
            m.data = m.data.astype(m.data.dtype.newbyteorder("="))
    return dataset


def load_dataset(name: str, n_pix: int, cache_dir: Path | None):
    """The reduced dataset and its number of runs, from ``cache_dir`` when it holds them."""
    from gammapy.datasets import MapDataset

    if cache_dir is None:
        return reduce_with_gammapy(name, n_pix)
    path = cache_dir / f"{name}-{n_pix}px.fits.gz"
    sidecar = path.with_name(f"{name}-{n_pix}px.json")
    if path.is_file() and sidecar.is_file():
        n_runs = json.loads(sidecar.read_text())["n_runs"]
        return _native_byte_order(MapDataset.read(path, name=name)), n_runs
    dataset, n_runs = reduce_with_gammapy(name, n_pix)
    cache_dir.mkdir(parents=True, exist_ok=True)
    dataset.write(path, overwrite=True)
    sidecar.write_text(json.dumps({"n_runs": n_runs}) + "\n")
    return dataset, n_runs


def write_template(name: str, folder: Path) -> Path:
    """Write target ``name``'s Gaussian template image (ICRS, 0.02 deg pixels) to FITS."""
    import numpy as np
    from astropy.coordinates import SkyCoord
    from gammapy.maps import Map, WcsGeom

    spec = TARGETS[name]
    centre = SkyCoord(*spec.position, unit="deg", frame="icrs")
    geom = WcsGeom.create(skydir=centre, binsz=PIXEL, width=8 * spec.template_sigma, frame="icrs")
    sep = geom.separation(centre).to_value("deg")
    image = Map.from_geom(geom, data=np.exp(-0.5 * (sep / spec.template_sigma) ** 2))
    path = folder / f"template-{name}.fits"
    image.write(path, overwrite=True)
    return path


def _gammapy_models(name: str, kind: str, template: Path):
    """gammapy's sky model and FoV background, and the parameters to alternate per call."""
    from gammapy.modeling.models import (
        DiskSpatialModel,
        FoVBackgroundModel,
        GaussianSpatialModel,
        GeneralizedGaussianSpatialModel,
        PointSpatialModel,
        PowerLawSpectralModel,
        ShellSpatialModel,
        SkyModel,
        TemplateSpatialModel,
    )

    spec = TARGETS[name]
    lon, lat = spec.position
    where = {"lon_0": f"{lon} deg", "lat_0": f"{lat} deg", "frame": "icrs"}
    nominal = {p: v[0] for p, v in spec.sizes.get(kind, {}).items()}
    if kind == "template":
        spatial = TemplateSpatialModel.read(template, normalize=True)
    else:
        cls = {
            "point": PointSpatialModel,
            "gauss": GaussianSpatialModel,
            "disk": DiskSpatialModel,
            "gen_gauss": GeneralizedGaussianSpatialModel,
            "shell": ShellSpatialModel,
        }[kind]
        sizes = {p: v if p == "eta" else f"{v} deg" for p, v in nominal.items()}
        spatial = cls(**where, **sizes)
    spectral = PowerLawSpectralModel(index=2.3, amplitude="5e-12 cm-2 s-1 TeV-1", reference="1 TeV")
    source = SkyModel(spectral_model=spectral, spatial_model=spatial, name="src")
    changing = [(spectral.index, (2.3, 2.35))]
    if kind == "template":
        changing.append((spectral.amplitude, (5e-12, 5.1e-12)))
    else:
        changing.append((spatial.lon_0, (lon, lon + 0.004)))
    size = next((p for p in nominal if p != "eta"), None)
    if size is not None:
        value = nominal[size]
        changing.append((getattr(spatial, size), (value, value * 1.02)))
    return [source, FoVBackgroundModel(dataset_name=name)], changing


def _gammaprob_models(name: str, kind: str, template: Path):
    """gammaprob's sky model (with priors) and FoV background for one target and kind."""
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

    spec = TARGETS[name]
    if kind == "template":
        morphology = spatial.Template.read(template)
    else:
        lon, lat = spec.position
        priors = {
            p: Uniform(lo, hi) if p == "eta" else LogUniform(lo, hi, unit="deg")
            for p, (_, lo, hi) in spec.sizes.get(kind, {}).items()
        }
        cls = {
            "point": spatial.Point,
            "gauss": spatial.Gaussian,
            "disk": spatial.Disk,
            "gen_gauss": spatial.GeneralizedGaussian,
            "shell": spatial.Shell,
        }[kind]
        morphology = cls(
            lon_0=Normal(lon, POSITION_SIGMA, unit="deg"),
            lat_0=Normal(lat, POSITION_SIGMA, unit="deg"),
            frame="icrs",
            **priors,
        )
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
        dataset_name=name, norm=LogNormal(0.0, 0.1), tilt=Normal(0.0, 0.1)
    )
    return [source, background]


def interleaved_times(
    funcs: Mapping[str, Callable[[], object]], repeat: int, min_time: float = MIN_LOOP
) -> dict[str, float]:
    """Best per-call time (s) of each function over ``repeat`` interleaved timed loops.

    Each function is called once, then its loop length is doubled until one loop takes at
    least ``min_time`` (s); then, ``repeat`` times, one loop of each function in turn is timed,
    so that a change of machine load hits all of them alike.

    Parameters
    ----------
    funcs : Mapping
        ``{name: function of no argument}``.
    repeat : int
        Number of timed rounds (>= 1).
    min_time : float
        Shortest loop (s).

    Returns
    -------
    dict
        ``{name: minimum over the rounds of the loop time / loop length}`` (s).
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    numbers = {}
    for key, func in funcs.items():
        func()
        number = 1
        while True:
            start = time.perf_counter()
            for _ in range(number):
                func()
            if time.perf_counter() - start >= min_time:
                break
            number *= 2
        numbers[key] = number
    best = dict.fromkeys(funcs, math.inf)
    for _ in range(repeat):
        for key, func in funcs.items():
            start = time.perf_counter()
            for _ in range(numbers[key]):
                func()
            best[key] = min(best[key], (time.perf_counter() - start) / numbers[key])
    return best


def _region(model) -> dict:
    """Reach (deg) and oversampling of the one source region of a PyMC model."""
    from gammaprob.forward.checks import model_regions

    (region,) = model_regions(model)
    reach = None if region.reach is None else round(float(region.reach), 4)
    return {"reach_deg": reach, "oversampling": region.oversampling}


def bench_kind(name: str, kind: str, dataset, response, template: Path, repeat: int):
    """Times (s) of gammapy's logp and gammaprob's logp and logp + gradient, and details.

    When gammaprob refuses the model (``TypeError``, ``ValueError``, ``NotImplementedError``
    while building it), only gammapy is timed and the details hold the error.
    """
    import pymc as pm

    from gammaprob.forward import build_params
    from gammaprob.likelihood import add_likelihood

    dataset.models, changing = _gammapy_models(name, kind, template)
    funcs = {"gammapy": _gammapy_timer(dataset, changing)}
    ours = _gammaprob_models(name, kind, template)
    try:
        with pm.Model() as model, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            add_likelihood([response], ours, build_params(ours))
    except (TypeError, ValueError, NotImplementedError) as err:
        print(f"  {kind}: gammaprob refused the model: {err!r}", flush=True)
        return interleaved_times(funcs, repeat), {"error": f"{type(err).__name__}: {err}"}
    f_logp, f_grad, args = _compile(model)
    funcs["logp"] = lambda: f_logp(*args)
    funcs["logp_grad"] = lambda: f_grad(*args)
    return interleaved_times(funcs, repeat), _region(model)


def bench_target_size(
    name: str, n_pix: int, kinds, helpers, template: Path, repeat: int, cache_dir: Path | None
) -> dict:
    """The rows of one target and map size."""
    from astropy.coordinates import SkyCoord

    dataset, n_runs = load_dataset(name, n_pix, cache_dir)
    position = SkyCoord(*TARGETS[name].position, unit="deg", frame="icrs")
    response = helpers.map_response_from_gammapy(dataset, position, name=name, rad_max=None)
    info = {
        "n_runs": n_runs,
        "counts": int(dataset.counts.data.sum()),
        "bins": int(dataset.counts.data.size),
        "safe_bins": int(dataset.mask_safe.data.sum()),
    }
    print(f"{name} {n_pix} px: {n_runs} runs, {info['counts']} counts", flush=True)
    metrics = {}
    for kind in kinds:
        times, details = bench_kind(name, kind, dataset, response, template, repeat)
        for metric in ("logp", "logp_grad"):
            ours = times.get(metric)
            metrics[f"{name}/{kind}/{n_pix}px/{metric}"] = {
                "gammaprob": ours,
                "gammapy": times["gammapy"],
                "ratio": None if ours is None else times["gammapy"] / ours,
                "unit": "s",
                **info,
                **details,
            }
        if "logp" in times:
            print(
                f"  {kind}: logp {times['logp'] * 1e3:.2f} ms, +grad "
                f"{times['logp_grad'] * 1e3:.2f} ms, gammapy {times['gammapy'] * 1e3:.2f} ms",
                flush=True,
            )
    return metrics


def _choices(text: str, allowed) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(allowed)}; got {text!r}"
        )
    return values


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(n < 10 for n in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated pixel counts >= 10 (e.g. 100,200,400); got {text!r}"
        )
    return sizes


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--targets",
        type=lambda t: _choices(t, TARGETS),
        default=list(TARGETS),
        help="comma-separated targets (default: all)",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[100, 200, 400],
        help="comma-separated map sizes in pixels (default 100,200,400)",
    )
    parser.add_argument(
        "--kinds",
        type=lambda t: _choices(t, KINDS),
        default=None,
        help="comma-separated morphologies for every target (default: each target's own)",
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="keep gammapy's reductions in this folder"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "extended.json",
        help="results file (default benchmarks/results/extended.json)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: expected an integer >= 1, got {args.repeat}")
    if args.out.suffix != ".json":
        parser.error(f"--out: expected a .json file, got {args.out}")
    return args


def main(argv=None) -> None:
    """Run the benchmark rows chosen on the command line and write the results file."""
    args = parse_args(argv)
    if not (Path(os.environ.get("GAMMAPY_DATA", "")) / "hess-dl3-dr1").is_dir():
        raise SystemExit("set GAMMAPY_DATA to the gammapy-data folder (with hess-dl3-dr1/)")
    helpers = _import_gammapy()
    metrics = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.targets:
            template = write_template(name, Path(tmp))
            kinds = args.kinds or list(TARGETS[name].kinds)
            for n_pix in args.sizes:
                metrics.update(
                    bench_target_size(
                        name, n_pix, kinds, helpers, template, args.repeat, args.cache_dir
                    )
                )
    write_results(
        args.out.stem,
        metrics,
        extra={
            "repeats": args.repeat,
            "timing": "min",
            "notes": __doc__.split("\n\n", 1)[1].split("\n\nRun", 1)[0].strip(),
        },
        packages=("gammapy", "pymc", "rocket-fft"),
        folder=args.out.parent,
    )


if __name__ == "__main__":
    main()
