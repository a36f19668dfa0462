"""The high-level analysis: one :class:`AnalysisConfig`, one method per step.

Steps, each timed and logged (``analysis.log`` in the output folder)::

    analysis = Analysis("analysis.yaml")
    analysis.get_observations()   # DL3 blocks: data store, selection
    analysis.get_datasets()       # reduce (or reuse the cached reduction), read DL4/DL5 files
    analysis.get_models()         # models file / library entry / catalog, prior overrides,
                                  # systematics per block
    analysis.run_sampling()       # build_model + sample (the DataTree: analysis.result)
    analysis.get_products()       # flux points, light curve from the posterior
    analysis.write()              # result.nc, products (FITS), report

or ``analysis.run()`` for all of them. Reduced datasets are cached in
``<outputs.directory>/datasets/<block>/`` with a content hash of their inputs (the block's
settings and the DL3 files of the selected observations); a rerun whose hash is unchanged
(e.g. after a prior changed) reads them instead of reducing again. The hashes, and whether
each block was reused, are recorded in the result's provenance (``reduction`` attribute).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .config import (
    AnalysisConfig,
    FluxPointsDatasetConfig,
    HawcDL3DatasetConfig,
    MapDatasetConfig,
    MapFileDatasetConfig,
    OGIPDatasetConfig,
    SpectrumDatasetConfig,
)

__all__ = ["Analysis", "AnalysisError", "library_models"]

log = logging.getLogger(__name__)

#: Version of the cache layout (part of every reduction hash).
CACHE_VERSION = 1
LOG_FILE = "analysis.log"


class AnalysisError(RuntimeError):
    """A step of the analysis cannot run (the message names the config field or the step)."""


def _library_dirs() -> list[Path]:
    import gammaprob

    package = Path(gammaprob.__file__).parent
    return [package / "_models", package.parents[1] / "models"]


def library_models() -> dict[str, Path]:
    """Return the entries of the ``models/`` library: ``{stem: path}``."""
    for folder in _library_dirs():
        if folder.is_dir():
            return {p.stem: p for p in sorted(folder.glob("*.yaml"))}
    return {}


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Analysis:
    """Run an :class:`AnalysisConfig` step by step.

    Parameters
    ----------
    config : AnalysisConfig, str or path-like
        The configuration, or a YAML file to read it from.
    progress : bool
        Show progress bars (reduction, sampling, steps of :meth:`run`).

    Attributes
    ----------
    observations : dict
        Block name to :class:`gammaprob.data.Observations` (DL3 blocks).
    datasets : list
        The datasets, in the order of the blocks.
    models : gammaprob.modeling.Models
        The models as sampled.
    result : xarray.DataTree
        The inference result.
    products : dict
        Product name to object (``"flux_points_<source>"``: FluxPoints).
    timings : dict
        Wall time of each step in seconds.
    reduction : dict
        Per dataset block: the content hash of its inputs and whether the cached reduction
        was reused.
    """

    def __init__(self, config: AnalysisConfig | str | os.PathLike, progress: bool = True):
        if not isinstance(config, AnalysisConfig):
            config = AnalysisConfig.read(config)
        self.config = config
        self.progress = bool(progress)
        self.observations: dict[str, Any] = {}
        self.datasets: list | None = None
        self.block_datasets: dict[str, list[str]] = {}
        self.models = None
        self.result = None
        self.products: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.reduction: dict[str, dict[str, Any]] = {}
        self._stores: dict[str, Any] = {}

    # ------------------------------------------------------------------ helpers
    @property
    def output_dir(self) -> Path:
        """The output folder (:meth:`AnalysisConfig.output_dir`)."""
        return self.config.output_dir()

    def _path(self, name: str) -> Path:
        """Resolve a file name of the config (``$GAMMAPY_DATA`` expanded, relative to its file)."""
        from ..utils.paths import resolve_data_path

        path = resolve_data_path(name)
        if not path.is_absolute() and self.config.path is not None:
            path = self.config.path.parent / path
        return path

    @contextlib.contextmanager
    def _step(self, name: str) -> Iterator[None]:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.output_dir / LOG_FILE, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root = logging.getLogger("gammaprob")
        old_level = root.level
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)
        root.addHandler(handler)
        start = time.perf_counter()
        log.info("step %s: start", name)
        try:
            yield
        except Exception:
            log.exception("step %s failed", name)
            raise
        finally:
            self.timings[name] = time.perf_counter() - start
            log.info("step %s: %.2f s", name, self.timings[name])
            root.removeHandler(handler)
            root.setLevel(old_level)
            handler.close()

    def _dl3_blocks(self) -> list:
        return [
            b
            for b in self.config.datasets
            if isinstance(b, SpectrumDatasetConfig | MapDatasetConfig)
        ]

    # ------------------------------------------------------------------ observations
    def get_observations(self) -> dict[str, Any]:
        """Select the observations of every DL3 block.

        Returns
        -------
        dict
            Block name to :class:`gammaprob.data.Observations`.
        """
        from astropy.time import Time

        from ..data import DataStore

        with self._step("observations"):
            for block in self._dl3_blocks():
                obs_cfg = block.observations
                folder = self._path(obs_cfg.datastore)
                if not folder.is_dir():
                    raise AnalysisError(
                        f"datasets[{block.name}].observations.datastore: no folder {folder}"
                    )
                store = DataStore.from_dir(folder)
                cone = None
                if obs_cfg.cone is not None:
                    import astropy.units as u

                    cone = (obs_cfg.cone.center(), obs_cfg.cone.radius * u.deg)
                time_range = None
                if obs_cfg.time_range is not None:
                    time_range = (
                        Time(obs_cfg.time_range.start, scale="utc"),
                        Time(obs_cfg.time_range.stop, scale="utc"),
                    )
                if obs_cfg.obs_ids is not None:
                    missing = sorted(set(obs_cfg.obs_ids) - set(store.obs_ids))
                    if missing:
                        raise AnalysisError(
                            f"datasets[{block.name}].observations.obs_ids: {missing} not in the "
                            f"observation table of {folder}"
                        )
                store = store.select(obs_ids=obs_cfg.obs_ids, cone=cone, time_range=time_range)
                if not store.obs_ids:
                    raise AnalysisError(
                        f"datasets[{block.name}].observations: the selection keeps no observation"
                    )
                self._stores[block.name] = store
                self.observations[block.name] = store.get_observations(
                    required_irf=obs_cfg.required_irf
                )
                log.info("%s: %d observations %s", block.name, len(store.obs_ids), store.obs_ids)
        return self.observations

    # ------------------------------------------------------------------ datasets
    def _reduction_key(self, block) -> str:
        from ..data.hdu_index import HDU_TYPES
        from ..inference import file_hash

        store = self._stores[block.name]
        files = {}
        for obs_id in store.obs_ids:
            for hdu_type in HDU_TYPES:
                location = store.hdu_index.location(obs_id, hdu_type)
                if location is not None:
                    path = Path(location.path)
                    files.setdefault(path.name, file_hash(path))
        payload = {
            "cache_version": CACHE_VERSION,
            "block": block.model_dump(mode="json"),
            "obs_ids": [int(i) for i in store.obs_ids],
            "files": dict(sorted(files.items())),
        }
        text = json.dumps(payload, sort_keys=True)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def _cache_dir(self, block) -> Path:
        return self.output_dir / "datasets" / block.name

    def _read_cache(self, block, key: str) -> list | None:
        from ..datasets import read_map_dataset, read_ogip

        folder = self._cache_dir(block)
        index = folder / "reduction.json"
        if not index.is_file():
            return None
        try:
            meta = json.loads(index.read_text())
        except json.JSONDecodeError:
            return None
        if meta.get("key") != key:
            return None
        reader = read_ogip if isinstance(block, SpectrumDatasetConfig) else read_map_dataset
        return [reader(folder / entry["file"], name=entry["name"]) for entry in meta["datasets"]]

    def _write_cache(self, block, key: str, datasets: list) -> None:
        from ..datasets import write_map_dataset
        from ..utils.io import atomic_path

        folder = self._cache_dir(block)
        folder.mkdir(parents=True, exist_ok=True)
        entries = []
        for ds in datasets:
            if isinstance(block, SpectrumDatasetConfig):
                file = f"pha_{ds.name}.fits"
                ds.write(folder / file, overwrite=True)
            else:
                file = f"{ds.name}.fits"
                write_map_dataset(ds, folder / file, overwrite=True)
            entries.append({"name": ds.name, "file": file})
        with atomic_path(folder / "reduction.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps({"key": key, "datasets": entries}, indent=2))

    def _makers(self, block) -> tuple[Any, list]:
        import astropy.units as u

        from .. import makers as mk
        from ..maps import WcsGeom

        safe = mk.SafeMaskMaker(
            block.safe_mask.methods,
            aeff_percent=block.safe_mask.aeff_percent,
            bias_percent=block.safe_mask.bias_percent,
            offset_max=block.safe_mask.offset_max * u.deg,
        )
        energy = block.energy_axis.to_axis("energy")
        energy_true = block.energy_axis_true.to_axis("energy_true")
        background = block.background
        if isinstance(block, SpectrumDatasetConfig):
            template = mk.SpectrumTemplate(
                block.on_region.region(), energy, energy_true, name=block.name
            )
            exclusion = self._exclusion_mask(block, template.center)
            if background.method == "wobble":
                finder = mk.WobbleRegionsFinder(n_off_regions=background.n_off_regions)
                bkg = mk.ReflectedRegionsBackgroundMaker(
                    region_finder=finder, exclusion_mask=exclusion
                )
            else:
                bkg = mk.ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion)
            # the background IRF is needed only by the bkg-peak safe mask (the OFF counts
            # come from the reflected / wobble regions); point-like IRFs often have none
            selection = ["counts", "exposure", "edisp"]
            if "bkg-peak" in block.safe_mask.methods:
                selection.append("background")
            makers = [
                mk.SpectrumDatasetMaker(
                    selection=selection, containment_correction=block.containment_correction
                ),
                bkg,
                safe,
            ]
            return template, makers
        g = block.geom
        geom = WcsGeom.create(
            skydir=(g.lon, g.lat),
            frame=g.frame,
            width=g.width,
            binsz=g.binsz,
            proj=g.projection,
            axes=[energy],
        )
        template = mk.MapTemplate(geom, energy_true, name=block.name)
        exclusion = self._exclusion_mask(block, None, geom=geom)
        if background.method == "ring":
            bkg = mk.RingBackgroundMaker(
                background.r_in * u.deg, background.width * u.deg, exclusion_mask=exclusion
            )
        else:
            bkg = mk.FoVBackgroundMaker(method=background.fov_method, exclusion_mask=exclusion)
        return template, [mk.MapDatasetMaker(), safe, bkg]

    def _hawc_inputs(self, block) -> tuple[Path, dict, Any]:
        """Release folder, ``{fHit bin: DataStore}`` and the transits (number or Map)."""
        from ..data import DataStore
        from ..maps import Map

        folder = self._path(block.datastore)
        if not folder.is_dir():
            raise AnalysisError(f"datasets[{block.name}].datastore: no folder {folder}")
        stores = {}
        for fhit in block.fhit_bins:
            try:
                stores[fhit] = DataStore.from_hawc(
                    folder, fhit_bin=fhit, estimator=block.estimator, source=block.source
                )
            except (OSError, ValueError) as exc:
                raise AnalysisError(f"datasets[{block.name}].fhit_bins: bin {fhit}: {exc}") from exc
        transits: Any = block.transits
        if isinstance(transits, str):
            path = self._path(transits)
            path = path if path.is_absolute() else folder / path
            if not path.is_file():
                raise AnalysisError(f"datasets[{block.name}].transits: no file {path}")
            transits = Map.read(path)
        return folder, stores, transits

    def _hawc_key(self, block, stores: dict) -> str:
        from ..data.hdu_index import HDU_TYPES
        from ..inference import file_hash

        files = {}
        for store in stores.values():
            for obs_id in store.obs_ids:
                for hdu_type in HDU_TYPES:
                    location = store.hdu_index.location(obs_id, hdu_type)
                    if location is not None:
                        path = Path(location.path)
                        files.setdefault(path.name, file_hash(path))
        if isinstance(block.transits, str):
            folder = self._path(block.datastore)
            path = self._path(block.transits)
            path = path if path.is_absolute() else folder / path
            files.setdefault(path.name, file_hash(path))
        payload = {
            "cache_version": CACHE_VERSION,
            "block": block.model_dump(mode="json"),
            "files": dict(sorted(files.items())),
        }
        text = json.dumps(payload, sort_keys=True)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def _hawc_datasets(self, block) -> list:
        """Reduce each fHit bin of a HAWC DL3 block to a 3D dataset (or reuse the cache)."""
        from .. import makers as mk
        from ..maps import WcsGeom

        _, stores, transits = self._hawc_inputs(block)
        key = self._hawc_key(block, stores)
        cached = self._read_cache(block, key)
        if cached is not None:
            log.info("%s: inputs unchanged (%s): reduction reused", block.name, key)
            self.reduction[block.name] = {"key": key, "reused": True}
            return cached
        g = block.geom
        maker = mk.MapDatasetMaker(transits=transits)
        safe = mk.SafeMaskMaker(
            block.safe_mask.methods,
            aeff_percent=block.safe_mask.aeff_percent,
            bias_percent=block.safe_mask.bias_percent,
        )
        datasets = []
        for fhit, store in stores.items():
            if len(store.obs_ids) != 1:
                raise AnalysisError(
                    f"datasets[{block.name}]: fHit bin {fhit} has {len(store.obs_ids)} "
                    "observations, expected the release's one"
                )
            obs = store.obs(store.obs_ids[0])
            energy = obs.bkg.geom.axes["energy"]
            energy_true = (
                obs.aeff.geom.axes["energy_true"]
                if block.energy_axis_true is None
                else block.energy_axis_true.to_axis("energy_true")
            )
            geom = WcsGeom.create(
                skydir=(g.lon, g.lat),
                frame=g.frame,
                width=g.width,
                binsz=g.binsz,
                proj=g.projection,
                axes=[energy],
            )
            template = mk.MapTemplate(geom, energy_true, name=f"{block.name}-fhit{fhit}")
            dataset = safe.run(maker.run(template, obs), obs)
            datasets.append(dataset.replace(name=template.name))
        self._write_cache(block, key, datasets)
        out = self._read_cache(block, key)
        log.info("%s: reduced %d fHit bin(s) (%s)", block.name, len(out), key)
        self.reduction[block.name] = {"key": key, "reused": False}
        return out

    def _exclusion_mask(self, block, center, geom=None):
        """Exclusion mask (True = usable) from the block's circles, or None without circles."""
        if not block.exclusion_regions:
            return None
        import astropy.units as u
        import numpy as np
        from regions import CircleSkyRegion

        from ..maps import Map, WcsGeom

        if geom is None:
            geom = WcsGeom.create(skydir=center, width=12.0, binsz=0.02, frame="icrs")
        else:
            geom = geom.to_image()
        coords = geom.get_coord().skycoord
        keep = np.ones(geom.data_shape, dtype=bool)
        for circle in block.exclusion_regions:
            region = CircleSkyRegion(circle.center(), circle.radius * u.deg)
            keep &= ~(coords.separation(region.center) < region.radius)
        return Map.from_geom(geom, data=keep)

    def get_datasets(self) -> list:
        """Reduce every DL3 block (or reuse its cached reduction) and read the DL4/DL5 files.

        Returns
        -------
        list
            The datasets, in the order of the blocks.
        """
        if not self._stores and self._dl3_blocks():
            self.get_observations()
        from ..datasets import FluxPoints, FluxPointsDataset, read_map_dataset, read_ogip
        from ..inference import file_hash
        from ..makers import reduce

        with self._step("datasets"):
            datasets: list = []
            for block in self.config.datasets:
                if isinstance(block, SpectrumDatasetConfig | MapDatasetConfig):
                    key = self._reduction_key(block)
                    cached = self._read_cache(block, key)
                    if cached is not None:
                        log.info("%s: inputs unchanged (%s): reduction reused", block.name, key)
                        self.reduction[block.name] = {"key": key, "reused": True}
                        out = cached
                    else:
                        template, makers = self._makers(block)
                        result = reduce(
                            template,
                            self.observations[block.name],
                            makers,
                            stack=block.stack,
                            progress=self.progress,
                            name=block.name,
                        )
                        # written, then read back: a first run and a rerun that reuses the
                        # cache fit the very same numbers
                        self._write_cache(block, key, list(result.datasets))
                        out = self._read_cache(block, key)
                        log.info("%s: reduced %d dataset(s) (%s)", block.name, len(out), key)
                        self.reduction[block.name] = {"key": key, "reused": False}
                elif isinstance(block, HawcDL3DatasetConfig):
                    out = self._hawc_datasets(block)
                elif isinstance(block, OGIPDatasetConfig):
                    out = []
                    files = [self._path(f) for f in block.files]
                    for i, path in enumerate(files):
                        name = block.name if len(files) == 1 else f"{block.name}-{i}"
                        ds = read_ogip(path, name=name)
                        if block.energy_range is not None:
                            out.append(ds.replace(mask_fit=_range_mask(ds, block.energy_range)))
                        else:
                            out.append(ds)
                    inputs = [f for path in files for f in _ogip_files(path)]
                    self.reduction[block.name] = {"files": {str(p): file_hash(p) for p in inputs}}
                elif isinstance(block, MapFileDatasetConfig):
                    path = self._path(block.file)
                    out = [read_map_dataset(path, name=block.name)]
                    self.reduction[block.name] = {"files": {str(path): file_hash(path)}}
                else:
                    assert isinstance(block, FluxPointsDatasetConfig)
                    path = self._path(block.file)
                    kwargs = {} if block.sed_type is None else {"sed_type": block.sed_type}
                    out = [FluxPointsDataset(block.name, FluxPoints.read(path, **kwargs))]
                    self.reduction[block.name] = {"files": {str(path): file_hash(path)}}
                self.block_datasets[block.name] = [ds.name for ds in out]
                datasets.extend(out)
            self.datasets = datasets
        return datasets

    # ------------------------------------------------------------------ models
    def get_models(self):
        """Read the models, apply the prior overrides and the systematics.

        Returns
        -------
        gammaprob.modeling.Models
            The models to sample.
        """
        from ..modeling import Models

        cfg = self.config.models
        with self._step("models"):
            models: list = []
            if cfg.file is not None:
                models.extend(Models.read(self._path(cfg.file)))
            if cfg.library is not None:
                library = library_models()
                if cfg.library not in library:
                    raise AnalysisError(
                        f"models.library: no entry {cfg.library!r}"
                        f"{_did_you_mean(cfg.library, library)}; entries: {', '.join(library)}"
                    )
                models.extend(Models.read(library[cfg.library]))
            if cfg.catalog is not None:
                models.extend(self._catalog_models())
            models = Models(models)
            self._apply_overrides(models)
            if self.config.priors.systematics:
                models = self._with_systematics(models)
            self.models = models
            log.info("models: %s", ", ".join(models.names))
        return models

    def _catalog_models(self) -> list:
        import astropy.units as u

        from ..catalog import load_catalog

        cfg = self.config.models.catalog
        catalog = load_catalog(cfg.catalog, None if cfg.file is None else self._path(cfg.file))
        sources = []
        for name in cfg.sources:
            try:
                sources.append(catalog[name])
            except KeyError as exc:
                raise AnalysisError(f"models.catalog.sources: {exc}") from None
        if cfg.cone is not None:
            found = catalog.select_cone(cfg.cone.center(), cfg.cone.radius * u.deg)
            if not found:
                raise AnalysisError("models.catalog.cone: no catalog source inside the cone")
            seen = {s.name for s in sources}
            sources.extend(s for s in found if s.name not in seen)
        out = []
        for source in sources:
            out.extend(source.sky_models(policy=cfg.policy, k=cfg.k))
        log.info(
            "catalog %s, prior policy %r: %s", cfg.catalog, cfg.policy, [s.name for s in sources]
        )
        return out

    def _apply_overrides(self, models) -> None:
        from ..modeling.prior import prior_from_dict

        params = models.parameters
        for key, spec in self.config.priors.overrides.items():
            if key not in params:
                raise AnalysisError(
                    f"priors.overrides: no parameter {key!r}{_did_you_mean(key, params)}; "
                    f"parameters: {', '.join(params)}"
                )
            value = prior_from_dict(spec) if isinstance(spec, dict) else float(spec)
            params[key].set(value)
            log.info("prior override %s = %s", key, value)

    def _with_systematics(self, models):
        """Fold each block's systematics into the models (:func:`apply_systematics`)."""
        from ..modeling import apply_systematics

        if self.datasets is None:
            self.get_datasets()
        groups = [
            cfg.systematics(block, self.block_datasets[block])
            for block, cfg in self.config.priors.systematics.items()
        ]
        return apply_systematics(models, groups, self.datasets)

    # ------------------------------------------------------------------ sampling
    def run_sampling(self):
        """Build the PyMC model and sample the posterior.

        Returns
        -------
        xarray.DataTree
            The result, with the configuration and the reduction hashes in its provenance.
        """
        from ..inference import build_model, check_convergence, sample

        if self.datasets is None:
            self.get_datasets()
        if self.models is None:
            self.get_models()
        s = self.config.sampler
        with self._step("sampling"):
            model = build_model(self.datasets, self.models, onoff=self.config.likelihood.onoff)
            result = sample(
                model,
                sampler=s.kind,
                draws=s.draws,
                tune=s.tune,
                chains=s.chains,
                random_seed=s.seed,
                target_accept=s.target_accept,
                progressbar=self.progress,
                check=False,
            )
            result.attrs["analysis_config"] = self.config.to_yaml()
            result.attrs["reduction"] = json.dumps(self.reduction)
            report = check_convergence(result, warn=False)
            log.info("convergence: %s", report)
            self.convergence = report
            self.result = result
        return result

    sample = run_sampling

    # ------------------------------------------------------------------ products
    def get_products(self) -> dict[str, Any]:
        """Estimate the configured products from the posterior.

        Returns
        -------
        dict
            Product name to object: ``"flux_points_<source>"`` (FluxPoints),
            ``"light_curve_<source>"`` (LightCurve).
        """
        from astropy.time import Time

        from ..estimators import FluxPointsEstimator, LightCurveEstimator

        cfg = self.config.products
        if cfg.flux_points is None and cfg.light_curve is None:
            return self.products
        if self.result is None:
            self.run_sampling()
        with self._step("products"):
            onoff = "wstat" if self.config.likelihood.onoff == "wstat" else "marginal"
            if cfg.flux_points is not None:
                fp_cfg = cfg.flux_points
                spectra = self._product_inputs("flux_points", fp_cfg.source)
                estimator = FluxPointsEstimator(
                    fp_cfg.source,
                    fp_cfg.energy_edges.edges(),
                    prob=fp_cfg.prob,
                    ul_prob=fp_cfg.ul_prob,
                    onoff=onoff,
                )
                points = estimator.run(spectra, list(self.models), posterior=self.result)
                self.products[f"flux_points_{fp_cfg.source}"] = points
            if cfg.light_curve is not None:
                lc_cfg = cfg.light_curve
                spectra = self._product_inputs("light_curve", lc_cfg.source)
                intervals = None
                if lc_cfg.time_intervals is not None:
                    intervals = [
                        (Time(t.start, scale="utc"), Time(t.stop, scale="utc"))
                        for t in lc_cfg.time_intervals
                    ]
                estimator = LightCurveEstimator(
                    lc_cfg.source,
                    lc_cfg.energy_edges.edges(),
                    intervals,
                    prob=lc_cfg.prob,
                    ul_prob=lc_cfg.ul_prob,
                    onoff=onoff,
                )
                curve = estimator.run(spectra, list(self.models), posterior=self.result)
                self.products[f"light_curve_{lc_cfg.source}"] = curve
        return self.products

    def _product_inputs(self, product: str, source: str) -> list:
        """Return the spectrum datasets a product is estimated from (its source must exist)."""
        from ..datasets import SpectrumDataset

        spectra = [ds for ds in self.datasets if isinstance(ds, SpectrumDataset)]
        if not spectra:
            raise AnalysisError(
                f"products.{product}: needs spectrum datasets (spectrum or ogip blocks); this "
                "analysis has none"
            )
        if source not in self.models.names:
            raise AnalysisError(
                f"products.{product}.source: no model {source!r}"
                f"{_did_you_mean(source, self.models.names)}; models: "
                f"{', '.join(self.models.names)}"
            )
        return spectra

    # ------------------------------------------------------------------ outputs
    def write(self) -> dict[str, Path]:
        """Write the result (netCDF), the products (FITS), the report and the config.

        Returns
        -------
        dict
            What was written: name to path.
        """
        from ..inference import save_result

        if self.result is None:
            raise AnalysisError("nothing to write: run run_sampling() first")
        out_cfg = self.config.outputs
        out = self.output_dir
        written: dict[str, Path] = {}
        with self._step("write"):
            overwrite = out_cfg.overwrite
            path = out / out_cfg.result
            save_result(self.result, path, overwrite=overwrite)
            written["result"] = path
            if out_cfg.fits:
                for name, product in self.products.items():
                    path = out / f"{name}.fits"
                    product.write(path, overwrite=overwrite)
                    written[name] = path
            config_path = out / "analysis.yaml"
            self.config.write(config_path, overwrite=True)
            written["config"] = config_path
            if out_cfg.report is not None:
                from ..visualization import report

                path = out / f"report.{out_cfg.report}"
                report(
                    self.result,
                    path,
                    ci_prob=out_cfg.ci_prob,
                    title=self.config.name,
                    overwrite=overwrite,
                )
                written["report"] = path
            for name, path in written.items():
                log.info("wrote %s: %s", name, path)
        written["log"] = out / LOG_FILE
        return written

    def run(self) -> dict[str, Path]:
        """Run every step; return what :meth:`write` wrote."""
        self._check_outputs()
        steps = [
            self.get_observations,
            self.get_datasets,
            self.get_models,
            self.run_sampling,
            self.get_products,
        ]
        if self.progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc="analysis", unit="step")
        for step in steps:
            step()
        return self.write()

    def _check_outputs(self) -> None:
        """Refuse to start when an output exists and ``outputs.overwrite`` is false."""
        out_cfg = self.config.outputs
        if out_cfg.overwrite:
            return
        names = [out_cfg.result]
        if out_cfg.report is not None:
            names.append(f"report.{out_cfg.report}")
        for name in names:
            if (self.output_dir / name).exists():
                raise FileExistsError(
                    f"{self.output_dir / name} already exists; set outputs.overwrite: true or "
                    "choose another outputs.directory"
                )


def _range_mask(dataset, energy_range):
    """Bins entirely inside ``energy_range`` (gammapy's ``energy_mask`` convention)."""
    import astropy.units as u

    lo, hi = energy_range.to_tev()
    edges = dataset.energy_axis.edges.to_value(u.TeV)
    rtol = 1e-6
    return (edges[:-1] >= lo * (1 - rtol)) & (edges[1:] <= hi * (1 + rtol))


def _ogip_files(path: Path) -> list[Path]:
    """Return the PHA file and the ARF, RMF and BKG files its SPECTRUM header names."""
    from astropy.io import fits

    out = [Path(path)]
    with fits.open(path) as hdus:
        header = hdus["SPECTRUM"].header if "SPECTRUM" in hdus else hdus[1].header
        for key in ("ANCRFILE", "RESPFILE", "BACKFILE"):
            name = str(header.get(key, "")).strip()
            if name and name.lower() != "none":
                out.append(Path(path).parent / name)
    return [p for p in out if p.is_file()]
