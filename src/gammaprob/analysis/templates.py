"""Annotated configuration templates (``gammaprob config --template {1d,3d,multi}``).

Each template is YAML with a comment on every key (unit and default); every template
validates as an :class:`~gammaprob.analysis.config.AnalysisConfig` (tested).
"""

from __future__ import annotations

__all__ = ["TEMPLATES", "template"]

_NO_SYSTEMATICS = (
    "  systematics: {}        # per dataset block, e.g. {hess: {energy_scale: 0.15}} "
    "(1-sigma, relative)\n"
)
_PRIORS = """\
# Prior changes: fix a parameter (a number, in the parameter's unit) or give a new prior.
priors:
  overrides: {}          # e.g. {"crab::beta": 0.0, "crab::alpha": {type: Normal, mu: 2.5, sigma: 1}}
"""
_COMMON_TAIL = """\
likelihood:
  onoff: marginal        # marginal (default) | latent | wstat
sampler:
  kind: nutpie           # nutpie (default) | pymc | numpyro | emcee | smc
  draws: null            # kept draws per chain (default null: 2000 with a hierarchy, else 1000)
  tune: 1000             # tuning steps per chain (default 1000)
  chains: 4              # default 4
  seed: 0                # default 0; null: not reproducible
  target_accept: null    # NUTS target acceptance (default null: 0.99 with a hierarchy, else 0.9)
outputs:
  directory: gammaprob-analysis   # relative to this file (default gammaprob-analysis)
  result: result.nc      # DataTree netCDF (default result.nc)
  report: html           # html (default) | md | null
  ci_prob: 0.68          # credible level of the report (default 0.68)
  fits: true             # write products as FITS (default true)
  overwrite: false       # replace existing outputs (default false)
"""

_HESS_OBSERVATIONS = """\
    observations:
      datastore: $GAMMAPY_DATA/hess-dl3-dr1   # data store folder ($GAMMAPY_DATA, ~ expanded)
      obs_ids: [23523, 23526, 23559, 23592]   # default: every observation of the store
      cone: null               # {lon, lat, frame, radius} [deg]: pointings inside (default none)
      time_range: null         # {start, stop} UTC ISO times (default none)
      required_irf: full-enclosure   # full-enclosure (default) | point-like | all-optional
"""

TEMPLATE_1D = (
    """\
# gammaprob analysis: H.E.S.S. DR1 Crab, 1D on/off spectrum (reflected regions).
# Run with `gammaprob run this.yaml`; check with `gammaprob validate this.yaml`.
name: Crab 1D (H.E.S.S. DR1)
datasets:
  - name: hess                 # block name; the dataset names derive from it
    type: spectrum             # spectrum | map | hawc-dl3 | ogip | map-file | flux-points
"""
    + _HESS_OBSERVATIONS
    + """\
    on_region: {lon: 83.633, lat: 22.014, frame: icrs, radius: 0.11}   # [deg]; radius null: RAD_MAX
    energy_axis: {min: 0.5, max: 40, nbins: 15, unit: TeV}        # reconstructed energy
    energy_axis_true: {min: 0.3, max: 60, nbins: 30, unit: TeV}   # true energy (wider)
    containment_correction: true   # PSF containment in the ON circle (default false)
    background:
      method: reflected        # reflected (default) | wobble (then n_off_regions)
    safe_mask:
      methods: [aeff-max, edisp-bias, bkg-peak]   # default [aeff-default]
      aeff_percent: 10         # [percent] (default 10)
      bias_percent: 10         # [percent] (default 10)
      offset_max: 3.0          # [deg] (default 3)
    exclusion_regions: []      # circles {lon, lat, frame, radius} [deg] without OFF regions
    stack: true                # stack the runs into one spectrum (default true)
models:
  library: crab_logparabola    # an entry of models/ (or file: my_models.yaml, or catalog: ...)
products:
  flux_points:
    source: crab
    energy_edges: {min: 1, max: 20, nbins: 5, unit: TeV}
    prob: 0.68                 # credible level of the errors (default 0.68)
    ul_prob: 0.95              # level of the upper limits (default 0.95)
  light_curve: null            # {source, energy_edges, time_intervals: [{start, stop}], prob,
                               #  ul_prob}; default time bins: one per dataset (stack: false)
"""
    + _PRIORS
    + _NO_SYSTEMATICS
    + _COMMON_TAIL
)

TEMPLATE_3D = (
    """\
# gammaprob analysis: H.E.S.S. DR1 Crab, 3D map dataset (field-of-view background).
name: Crab 3D (H.E.S.S. DR1)
datasets:
  - name: hess-3d
    type: map
"""
    + _HESS_OBSERVATIONS
    + """\
    geom:
      lon: 83.633              # map centre [deg]
      lat: 22.014
      frame: icrs              # icrs (default) | galactic
      width: 4.0               # [deg]
      binsz: 0.02              # pixel size [deg] (default 0.02)
      projection: CAR          # default CAR
    energy_axis: {min: 1, max: 10, nbins: 4, unit: TeV}
    energy_axis_true: {min: 0.5, max: 20, nbins: 10, unit: TeV}
    background:
      method: fov              # fov (default) | ring (then r_in and width [deg])
      fov_method: scale        # scale (default) | fit
    safe_mask:
      methods: [offset-max, aeff-default]
      offset_max: 2.5          # [deg]
    exclusion_regions:         # left out of the background normalisation
      - {lon: 83.633, lat: 22.014, frame: icrs, radius: 0.3}
    stack: true
models:
  library: crab_logparabola
"""
    + _PRIORS
    + _NO_SYSTEMATICS
    + _COMMON_TAIL
)

TEMPLATE_MULTI = (
    """\
# gammaprob analysis: several instruments, one Crab model (energy-scale systematics for the
# Cherenkov telescopes). Every block adds its datasets to one joint likelihood. HAWC's DL3
# events can replace its flux points: type hawc-dl3 with fhit_bins and a geom (see the docs).
name: Crab, several instruments
datasets:
  - name: hess                 # DL3, full-enclosure IRFs: 1D, reflected regions
    type: spectrum
"""
    + _HESS_OBSERVATIONS
    + """\
    on_region: {lon: 83.633, lat: 22.014, radius: 0.11}
    energy_axis: {min: 0.5, max: 40, nbins: 15}
    energy_axis_true: {min: 0.3, max: 60, nbins: 30}
    containment_correction: true
    safe_mask: {methods: [aeff-max, edisp-bias, bkg-peak]}
  - name: magic                # DL3, point-like IRFs: the ON size is the RAD_MAX cut
    type: spectrum
    observations:
      datastore: $GAMMAPY_DATA/magic/rad_max/data
      required_irf: point-like
    on_region: {lon: 83.633, lat: 22.014, radius: null}
    energy_axis: {min: 0.08, max: 20, nbins: 20}
    energy_axis_true: {min: 0.05, max: 30, nbins: 40}
    background: {method: wobble, n_off_regions: 1}   # OFF at the opposite wobble position
    safe_mask: {methods: [aeff-default]}
  - name: fermi                # DL4: Fermi-LAT 3FHL map dataset (its background map fixed)
    type: map-file
    file: $GAMMAPY_DATA/fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits
  - name: hawc                 # DL5: flux points
    type: flux-points
    file: $GAMMAPY_DATA/hawc/crab_flux/HAWC19_flux_points.fits
models:
  library: crab_logparabola
"""
    + _PRIORS
    + """\
  systematics:           # per dataset block: 1-sigma relative energy scale (no entry: none)
    hess: {energy_scale: 0.15}
    magic: {energy_scale: 0.15}
"""
    + _COMMON_TAIL
)

#: Templates by name.
TEMPLATES: dict[str, str] = {"1d": TEMPLATE_1D, "3d": TEMPLATE_3D, "multi": TEMPLATE_MULTI}


def template(name: str) -> str:
    """Return the annotated template ``name`` (one of :data:`TEMPLATES`)."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown template {name!r}; expected one of {', '.join(TEMPLATES)}")
    return TEMPLATES[name]
