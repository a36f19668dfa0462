from __future__ import annotations

import astropy.units as u
import numpy as np
import pymc as pm
import pytest
import yaml

from gammaprob.modeling import (
    EBLAbsorption,
    FoVBackgroundModel,
    LogNormal,
    LogUniform,
    Models,
    Normal,
    Parameter,
    SkyModel,
    TruncatedNormal,
    Uniform,
)
from gammaprob.modeling import spectral as S

DNDE = u.Unit("cm-2 s-1 TeV-1")


def rich_models() -> Models:
    shared_index = Parameter("index", 2.4, prior=Normal(2.5, 0.3))
    e = np.geomspace(0.1, 100, 8)
    return Models(
        [
            SkyModel(
                S.PowerLaw(index=shared_index, amplitude=LogUniform(1e-13, 1e-10, unit=DNDE)),
                name="a",
                datasets_names=["d1"],
            ),
            SkyModel(S.LogParabola(alpha=shared_index, beta=0.123456789012345), name="b"),
            SkyModel(
                S.PowerLaw(index=3.1) * EBLAbsorption("finke", redshift=Uniform(0.05, 0.4)),
                name="blazar",
            ),
            SkyModel(
                S.ScaledSpectral(S.Template(e * u.TeV, 1e-12 * e**-2 * DNDE), norm=LogNormal(0, 1)),
                name="tpl",
            ),
            SkyModel(
                S.PowerLaw()
                * S.PiecewiseNorm(e[:4] * u.TeV, norms=[1.0, 1.1, LogNormal(0, 0.1), 0.9]),
                name="pw",
            ),
            SkyModel(S.PowerLaw() + S.PowerLaw(index=TruncatedNormal(3, 1, 2, 5)), name="sum"),
            FoVBackgroundModel("d1", tilt=Normal(0.0, 0.1)),
        ]
    )


def test_round_trip_is_exact(tmp_path):
    models = rich_models()
    text = models.to_yaml()
    again = Models.from_yaml(text)
    assert again.to_yaml() == text
    path = tmp_path / "models.yaml"
    models.write(path)
    assert path.read_text() == text
    with pytest.raises(FileExistsError, match="overwrite=True"):
        models.write(path)
    models.write(path, overwrite=True)
    read = Models.read(path)
    # values, priors and links survive
    assert read["b"].spectral.alpha is read["a"].spectral.index
    assert read["a"].spectral.index.prior == Normal(2.5, 0.3)
    assert read["b"].spectral.beta.value == 0.123456789012345
    assert read["a"].datasets_names == ["d1"]
    energy = np.geomspace(0.2, 50, 7) * u.TeV
    for m_old, m_new in zip(models, read, strict=True):
        np.testing.assert_array_equal(m_new.spectral(energy).value, m_old.spectral(energy).value)


def test_links_are_labelled_with_the_first_name():
    data = rich_models().to_dict()
    entries = data["components"][0]["spectral"]["parameters"]
    assert entries[0]["link"] == "a::index"
    assert data["components"][1]["spectral"]["parameters"][2]["link"] == "a::index"
    assert data["format"] == "gammaprob-models"


def test_build_whole_collection():
    models = rich_models()
    with pm.Model() as model:
        built = models.build()
    names = {v.name for v in model.free_RVs}
    assert "a::index" in names and "b::alpha" not in names
    assert {"blazar::redshift", "tpl::norm", "pw::norm_2", "d1-bkg::tilt"} <= names
    assert {"sum::model1::index", "sum::model2::index"} <= names  # colliding names
    assert built["b"]["spectral"]["alpha"] is built["a"]["spectral"]["index"]


def test_collection_api():
    models = rich_models()
    assert len(models) == 7 and models.names[-1] == "d1-bkg"
    assert models["blazar"].name == "blazar" and models[0].name == "a"
    assert models.select(type="FoVBackgroundModel").names == ["d1-bkg"]
    assert models.select(type="EBLAbsorption").names == ["blazar"]
    assert models.select(type=S.PowerLaw).names == ["a", "blazar", "pw", "sum"]
    assert models.select(dataset_name="d2").names == ["b", "blazar", "tpl", "pw", "sum"]
    assert models.select(name=["a", "b"]).names == ["a", "b"]
    assert "a::index" in models.parameters
    assert "blazar" in models and "nope" not in models
    with pytest.raises(KeyError, match="no model named 'nope'"):
        models["nope"]
    with pytest.raises(ValueError, match=r"unique; duplicated: \['a'\]"):
        models + Models([SkyModel(S.PowerLaw(), name="a")])
    assert "7" in repr(models).splitlines()[0]


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda d: d["components"][0]["spectral"].update(type="PowerLow"), ValueError,
         "unknown spectral model type 'PowerLow'"),
        (lambda d: d["components"][0]["spectral"]["parameters"][0].update(name="indx"),
         ValueError, "unknown parameter 'indx'"),
        (lambda d: d["components"][0]["spectral"]["parameters"][2].update(unit="m"),
         u.UnitConversionError, "'m', which is not convertible to 'TeV'"),
        (lambda d: d["components"][0].update(spectrum={}), ValueError, "unknown keys"),
        (lambda d: d["components"][0].update(type="Sky"), ValueError, "unknown model type 'Sky'"),
        (lambda d: d["components"][0]["spectral"]["parameters"][1]["prior"].update(type="Beta"),
         ValueError, "unknown prior type 'Beta'"),
        (lambda d: d["components"][0]["spectral"]["parameters"][1].update(
            prior={"type": "Normal", "mu": 0, "sigma": 1e-12, "unit": "cm-2 s-1 TeV-1"}),
         ValueError, "not inside the parameter's physical bounds"),
        (lambda d: d.update(format="xml"), ValueError, "unknown models format 'xml'"),
        (lambda d: d.pop("components"), ValueError, "'components' list"),
    ],
)  # fmt: skip
def test_bad_files_give_clear_errors(edit, error, match, tmp_path):
    data = rich_models().to_dict()
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(error, match=match):
        Models.read(path)


def test_missing_file_and_invalid_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Models.read(tmp_path / "nope.yaml")
    (tmp_path / "x.yaml").write_text("components: [\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        Models.read(tmp_path / "x.yaml")


@pytest.mark.requires_data
def test_reads_gammapy_fermi_crab_file(gammapy_data):
    path = gammapy_data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_models.yaml"
    with pytest.raises(ValueError, match=r"no prior to 4 free parameter\(s\).*prior_policy"):
        Models.read(path)
    models = Models.read(path, prior_policy="broad")
    crab = models["Crab Nebula"]
    assert isinstance(crab.spectral, S.LogParabola)
    assert crab.spectral.alpha.value == 1.652368617859867
    assert crab.spectral.reference.value == pytest.approx(5.054833602905273e-05)
    assert crab.spectral.alpha.is_free and not crab.spectral.reference.is_free
    assert not crab.spatial.lon_0.is_free and crab.spatial.frame == "icrs"
    # the named policy: LogUniform(v / 100, 100 v), recorded in meta
    prior = crab.spectral.amplitude.prior
    assert prior.lower == pytest.approx(0.018182745349064267e-2)
    assert crab.meta["prior_policy"] == "broad"
    assert crab.meta["priors"]["LogParabola.amplitude"] == repr(prior)
    bkg = models["Fermi-LAT-bkg"]
    assert bkg.spectral.norm.value == 1.3004625872247901 and bkg.spectral.norm.is_free
    text = models.to_yaml()
    assert Models.from_yaml(text).to_yaml() == text


@pytest.mark.requires_data
def test_reads_gammapy_gc_example_with_links(gammapy_data):
    path = gammapy_data / "tests" / "models" / "gc_example_models.yaml"
    models = Models.read(path, prior_policy="broad")
    assert models.names == ["gc", "gll_iem_v06_cutout", "gc-bkg", "g09", "g09-bkg"]
    assert models["gc"].spectral.reference is models["g09"].spectral.reference
    assert models["gc"].spatial.frame == "galactic"
    assert isinstance(models["gc-bkg"], FoVBackgroundModel)  # old layout: parameters on it
    assert not models["gc-bkg"].spectral.tilt.is_free
    text = models.to_yaml()
    assert Models.from_yaml(text).to_yaml() == text


@pytest.mark.requires_gammapy
def test_reads_what_gammapy_writes(gammapy_models, rng):
    gp = gammapy_models
    energy = np.geomspace(0.1, 50, 9) * u.TeV
    gp_models = gp.Models(
        [
            gp.SkyModel(
                gp.ExpCutoffPowerLawSpectralModel(
                    index=2.2, amplitude="3e-12 cm-2 s-1 TeV-1", lambda_="0.05 TeV-1"
                ),
                gp.GaussianSpatialModel(
                    lon_0="1 deg", lat_0="-0.5 deg", sigma="0.3 deg", frame="galactic"
                ),
                name="src",
            ),
            gp.SkyModel(
                gp.SuperExpCutoffPowerLaw4FGLDR3SpectralModel(amplitude="1e-12 cm-2 s-1 MeV-1"),
                name="psr",
            ),
        ]
    )
    gp_models["src"].spectral_model.index.min = 1.0
    gp_models["src"].spectral_model.index.max = 4.0
    ours = Models.from_yaml(gp_models.to_yaml(), prior_policy="broad")
    for name in ("src", "psr"):
        expected = gp_models[name].spectral_model(energy).to_value(DNDE)
        np.testing.assert_allclose(ours[name].spectral(energy).value, expected, rtol=1e-12)
    # gammapy's min/max are fit bounds, not priors: the named policy decides
    assert ours["src"].spectral.index.prior == Normal(2.2, 1.0)
    assert ours["src"].spatial.sigma.value == pytest.approx(0.3)
    assert not ours["src"].spectral.alpha.is_free


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_reads_gammapy_ebl_and_compound_yaml(gammapy_models):
    gp = gammapy_models
    absorbed = gp.PowerLawSpectralModel(index=2.5) * gp.EBLAbsorptionNormSpectralModel.read_builtin(
        "dominguez", redshift=0.2
    )
    text = gp.Models([gp.SkyModel(absorbed, name="blazar")]).to_yaml()
    ours = Models.from_yaml(text, prior_policy="broad")["blazar"].spectral
    assert isinstance(ours, S.CompoundSpectral) and isinstance(ours.model2, EBLAbsorption)
    assert ours.redshift.value == 0.2 and not ours.redshift.is_free
    energy = np.geomspace(0.1, 5, 12) * u.TeV
    expected = absorbed(energy).to_value(DNDE)
    np.testing.assert_allclose(ours(energy).value, expected, rtol=5e-5)  # float32 EBL table
