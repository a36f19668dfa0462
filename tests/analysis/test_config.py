"""AnalysisConfig: YAML round trip, documented fields, and a readable error for every mistake."""

from __future__ import annotations

import copy
import typing

import pydantic
import pytest
import yaml

from gammaprob.analysis import config as cfg
from gammaprob.analysis.config import AnalysisConfig, ConfigError
from gammaprob.analysis.templates import TEMPLATES, template


def _base() -> dict:
    return yaml.safe_load(TEMPLATES["1d"])


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_validate_and_round_trip(name):
    config = AnalysisConfig.from_yaml(template(name), source=name)
    text = config.to_yaml()
    again = AnalysisConfig.from_yaml(text)
    assert again == config
    assert again.to_yaml() == text
    # every default is written out: the dump has all keys of the model
    assert set(yaml.safe_load(text)) == set(AnalysisConfig.model_fields)


def test_round_trip_through_a_file(tmp_path):
    config = AnalysisConfig.from_yaml(template("multi"))
    path = tmp_path / "a.yaml"
    config.write(path)
    back = AnalysisConfig.read(path)
    assert back.to_dict() == config.to_dict()
    assert back.path == path
    with pytest.raises(FileExistsError):
        config.write(path)
    config.sampler.draws = 7
    config.write(path, overwrite=True)
    assert AnalysisConfig.read(path).sampler.draws == 7


def test_defaults_are_filled_in():
    data = _base()
    del data["sampler"], data["likelihood"], data["outputs"], data["priors"]
    config = AnalysisConfig.from_dict(data)
    assert config.sampler.kind == "nutpie"
    # draws and target_accept defer to sample(): 2000 and 0.99 with a hierarchy, else 1000, 0.9
    assert (config.sampler.draws, config.sampler.tune, config.sampler.chains) == (None, 1000, 4)
    assert config.sampler.target_accept is None
    assert config.likelihood.onoff == "marginal"
    assert config.outputs.report == "html"
    assert config.datasets[0].background.method == "reflected"


def test_output_dir_is_relative_to_the_config_file(tmp_path):
    path = tmp_path / "sub" / "a.yaml"
    path.parent.mkdir()
    path.write_text(template("1d"))
    config = AnalysisConfig.read(path)
    assert config.output_dir() == tmp_path / "sub" / "gammaprob-analysis"
    assert AnalysisConfig.from_yaml(template("1d")).output_dir().is_absolute() is False


def _field_models(model: type[pydantic.BaseModel], seen: set) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            tp = stack.pop()
            if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
                _field_models(tp, seen)
            stack.extend(typing.get_args(tp))


def test_every_field_is_documented():
    models: set = set()
    _field_models(AnalysisConfig, models)
    assert cfg.SpectrumDatasetConfig in models and cfg.FluxPointsProductConfig in models
    for model in models:
        assert model.__doc__, model
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_vocabularies_match_the_code():
    from gammaprob.inference import SAMPLERS
    from gammaprob.makers import safe

    assert set(cfg.SAMPLER_KINDS) == set(SAMPLERS)
    assert set(cfg.SAFE_MASK_METHODS) == set(safe._METHODS)
    assert set(typing.get_args(cfg.BackgroundConfig.model_fields["method"].annotation)) == set(
        cfg.BACKGROUND_METHODS
    )


def _set(data: dict, path: str, value) -> dict:
    data = copy.deepcopy(data)
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    target = data
    for key in keys[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


_DELETE = object()
_D0 = "datasets.0"
_3D = yaml.safe_load(TEMPLATES["3d"])
_MULTI = yaml.safe_load(TEMPLATES["multi"])

# (base, key path, new value, expected text of the error line)
ERRORS = [
    (None, "sampelr", {}, "(top level): unknown key 'sampelr' (did you mean 'sampler'?)"),
    (None, f"{_D0}.colour", 1, "datasets[0]: unknown key 'colour'; allowed keys: name, type,"),
    (
        None,
        f"{_D0}.background.method",
        "rflected",
        "datasets[0].background.method: expected one of reflected, wobble, ring, fov "
        "(got 'rflected')",
    ),
    (None, f"{_D0}.background.method", "fov", "a spectrum takes one of reflected, wobble"),
    (_3D, f"{_D0}.background.method", "reflected", "a map takes one of ring, fov"),
    (_3D, f"{_D0}.background", {"method": "ring"}, "method 'ring' needs r_in and width"),
    (None, f"{_D0}.background", {"method": "wobble"}, "method 'wobble' needs n_off_regions"),
    (
        _3D,
        f"{_D0}.background",
        {"method": "ring", "r_in": 0.5, "width": 0.3},
        "datasets[0]: background.method 'ring' makes on/off maps, which cannot be stacked yet: "
        "set stack: false",
    ),
    (
        None,
        f"{_D0}.type",
        "spectra",
        "datasets[0].type: expected one of spectrum, map, hawc-dl3, ogip, map-file, flux-points "
        "(got 'spectra')",
    ),
    (None, f"{_D0}.type", _DELETE, "datasets[0].type: required key is missing: one of spectrum"),
    (None, f"{_D0}.on_region", _DELETE, "datasets[0].on_region: required key is missing"),
    (None, f"{_D0}.energy_axis.min", 50, "datasets[0].energy_axis: min must be below max"),
    (None, f"{_D0}.energy_axis.nbins", 0, "datasets[0].energy_axis.nbins: input should be greater"),
    (None, f"{_D0}.energy_axis.unit", "m", "datasets[0].energy_axis.unit: expected an energy unit"),
    (None, f"{_D0}.energy_axis.unit", "parsec2x", "energy_axis.unit: not a unit: 'parsec2x'"),
    (None, f"{_D0}.on_region.lat", 95, "datasets[0].on_region.lat: input should be less than"),
    (None, f"{_D0}.on_region.frame", "fk4", "on_region.frame: expected one of icrs, galactic"),
    (
        None,
        f"{_D0}.safe_mask.methods",
        ["aeff-max", "bogus"],
        "datasets[0].safe_mask.methods[1]: expected one of aeff-default, aeff-max, edisp-bias, "
        "offset-max, bkg-peak (got 'bogus')",
    ),
    (
        None,
        f"{_D0}.observations.required_irf",
        "pointlike",
        "observations.required_irf: expected one of full-enclosure, point-like, all-optional",
    ),
    (
        None,
        f"{_D0}.observations.time_range",
        {"start": "2004-12-04", "stop": "2004-12-01"},
        "time_range: start must be before stop",
    ),
    (
        None,
        f"{_D0}.observations.time_range",
        {"start": "yesterday", "stop": "2004-12-01"},
        "time_range: start/stop must be ISO times",
    ),
    (None, f"{_D0}.observations.obs_ids", ["a"], "obs_ids[0]: input should be a valid integer"),
    (None, "datasets", [], "datasets: list should have at least 1 item"),
    (_MULTI, "datasets.1.name", "hess", "datasets: block names must be unique, repeated: ['hess']"),
    (_MULTI, "datasets.2.file", _DELETE, "datasets[2].file: required key is missing"),
    (
        _MULTI,
        "datasets.3.sed_type",
        "e3dnde",
        "datasets[3].sed_type: expected one of dnde, e2dnde, flux, eflux, likelihood",
    ),
    (
        None,
        "priors.systematics",
        {"fermi": {"energy_scale": 0.05}},
        "priors.systematics: unknown dataset block ['fermi']; blocks: ['hess']",
    ),
    (
        None,
        "priors.systematics",
        {"hess": {"energy_scale": 1.5}},
        "priors.systematics.hess.energy_scale: input should be less than or equal to 0.25",
    ),
    (
        None,
        "priors.systematics",
        {"hess": {}},
        "priors.systematics.hess: give energy_scale and/or effective_area",
    ),
    (None, "priors.overrides", {"alpha": 2.0}, "key 'alpha': expected '<source>::<parameter>'"),
    (
        None,
        "priors.overrides",
        {"crab::alpha": {"type": "Gauss", "mu": 2}},
        "priors.overrides: crab::alpha: unknown prior type 'Gauss'",
    ),
    (
        None,
        "priors.overrides",
        {"crab::alpha": {"type": "Normal", "mu": 2}},
        "priors.overrides: crab::alpha:",
    ),
    (None, "models", {}, "models: give at least one of file, library, catalog"),
    (
        None,
        "models",
        {"catalog": {"catalog": "5fgl", "sources": ["Crab"], "policy": None}},
        "models.catalog.catalog: expected one of 3fgl, 4fgl",
    ),
    (
        None,
        "models",
        {"catalog": {"catalog": "3fhl", "policy": "broad"}},
        "models.catalog: give sources (names) or a cone",
    ),
    (
        None,
        "models",
        {"catalog": {"catalog": "3fhl", "sources": ["Crab"], "policy": "wide"}},
        "models.catalog.policy: expected one of catalog-errors, broad (got 'wide')",
    ),
    (
        None,
        "models",
        {"catalog": {"catalog": "3fhl", "sources": ["Crab"]}},
        "models.catalog.policy: required key is missing",
    ),
    (
        None,
        "likelihood.onoff",
        "cash",
        "likelihood.onoff: expected one of marginal, latent, wstat (got 'cash')",
    ),
    (
        None,
        "sampler.kind",
        "stan",
        "sampler.kind: expected one of nutpie, pymc, numpyro, emcee, smc (got 'stan')",
    ),
    (None, "sampler.chains", 0, "sampler.chains: input should be greater than 0 (got 0)"),
    (None, "sampler.target_accept", 1.2, "sampler.target_accept: input should be less than 1"),
    (None, "outputs.report", "pdf", "outputs.report: expected one of html, md (got 'pdf')"),
    (None, "outputs.ci_prob", 0, "outputs.ci_prob: input should be greater than 0"),
    (None, "products.flux_points.energy_edges", {"min": 1}, "energy_edges.max: required key"),
    (None, "products.flux_points.prob", 2, "products.flux_points.prob: input should be less"),
]


@pytest.mark.parametrize(("base", "path", "value", "expected"), ERRORS)
def test_every_config_error_names_the_field(base, path, value, expected):
    data = _set(base if base is not None else _base(), path, value)
    with pytest.raises(ConfigError) as info:
        AnalysisConfig.from_dict(data, source="a.yaml")
    message = str(info.value)
    assert message.startswith("a.yaml is not valid:\n"), message
    assert expected in message, message


def test_several_errors_are_all_listed():
    data = _set(_base(), "sampler.kind", "stan")
    data = _set(data, "likelihood.onoff", "cash")
    with pytest.raises(ConfigError) as info:
        AnalysisConfig.from_dict(data)
    lines = str(info.value).splitlines()[1:]
    assert [line.split(":")[0] for line in lines] == ["likelihood.onoff", "sampler.kind"]


def test_not_a_mapping_and_bad_yaml():
    with pytest.raises(ConfigError, match=r"x.yaml: expected a mapping of keys at top level"):
        AnalysisConfig.from_yaml("- a\n- b\n", source="x.yaml")
    with pytest.raises(ConfigError, match=r"x.yaml: not valid YAML"):
        AnalysisConfig.from_yaml("a: [1, 2\n", source="x.yaml")


def test_assignment_is_validated():
    config = AnalysisConfig.from_yaml(template("1d"))
    with pytest.raises(pydantic.ValidationError, match="kind"):
        config.sampler.kind = "stan"


def test_energy_axis_helpers():
    axis = cfg.EnergyAxisConfig(min=100, max=1000, nbins=2, unit="GeV")
    assert axis.to_tev() == pytest.approx((0.1, 1.0))
    assert axis.edges().to_value("TeV") == pytest.approx([0.1, 0.1 * 10**0.5, 1.0])
    assert axis.to_axis("energy_true").name == "energy_true"


def test_docs_hold_the_current_reference():
    from pathlib import Path

    docs = Path(__file__).parents[2] / "docs" / "analysis.md"
    assert cfg.reference_markdown() in docs.read_text(), (
        "docs/analysis.md is out of date: paste gammaprob.analysis.config.reference_markdown()"
    )
