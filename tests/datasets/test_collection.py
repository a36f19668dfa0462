import astropy.units as u
import numpy as np
import pytest
import yaml
from numpy.testing import assert_array_equal

from gammaprob.datasets import Datasets, FluxPoints, FluxPointsDataset
from gammaprob.utils.errors import DataNotFoundError, FormatError

from .conftest import make_onoff
from .test_flux_points import make_table
from .test_map_dataset import make_map_dataset


def test_unique_names_and_lookup():
    a, b = make_onoff("a"), make_onoff("b", seed=2)
    datasets = Datasets([a, b])
    assert datasets.names == ["a", "b"]
    assert datasets["b"] is b and datasets[0] is a and "a" in datasets
    assert datasets[1:].names == ["b"]
    assert datasets.select(["b"]).names == ["b"]
    with pytest.raises(KeyError, match=r"no dataset named 'c'; available: \['a', 'b'\]"):
        datasets["c"]
    with pytest.raises(ValueError, match="'a' is used by items 0 and 1"):
        Datasets([a, make_onoff("a", seed=3)])


def test_stack_and_slice():
    datasets = Datasets([make_onoff("a"), make_onoff("b", seed=2)])
    stacked = datasets.stack(name="ab")
    assert stacked.name == "ab"
    assert_array_equal(stacked.counts, sum(d.counts * d.mask_safe for d in datasets))
    sliced = datasets.slice_by_energy(0.2 * u.TeV, 5 * u.TeV)
    assert all(d.energy_axis.nbin == 4 for d in sliced)
    with pytest.raises(TypeError, match="stacking is implemented for spectrum datasets"):
        Datasets([make_map_dataset()]).stack()


def test_write_read_index(tmp_path):
    datasets = Datasets(
        [
            make_onoff("23523"),
            make_map_dataset("cube"),
            FluxPointsDataset("sed", FluxPoints(make_table())),
        ]
    )
    datasets.write(tmp_path / "index.yaml")
    back = Datasets.read(tmp_path / "index.yaml")
    assert back.names == ["23523", "cube", "sed"]
    assert [type(d).__name__ for d in back] == [
        "SpectrumDatasetOnOff",
        "MapDataset",
        "FluxPointsDataset",
    ]
    assert_array_equal(back["23523"].counts_off, datasets["23523"].counts_off)
    assert_array_equal(back["cube"].counts.data, datasets["cube"].counts.data)
    with pytest.raises(FileExistsError):
        datasets.write(tmp_path / "index.yaml")


def test_bad_index(tmp_path):
    path = tmp_path / "index.yaml"
    path.write_text("datasets:\n- name: a\n  type: Nope\n  filename: a.fits\n")
    with pytest.raises(
        FormatError, match=r"column 'datasets\[0\].type': unknown dataset type 'Nope'"
    ):
        Datasets.read(path)
    path.write_text("something: else\n")
    with pytest.raises(FormatError, match="expected a mapping with a 'datasets' list"):
        Datasets.read(path)


@pytest.mark.requires_data
def test_read_gammapy_indexes(gammapy_data):
    hawc = Datasets.read(gammapy_data / "hawc" / "DL4" / "HAWC_pass4_public_Crab.yaml")
    assert hawc.names == [f"nHit-{i}" for i in range(5, 10)]
    assert all(d.counts.data.shape == (10, 120, 120) for d in hawc)
    fermi = Datasets.read(gammapy_data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_datasets.yaml")
    assert fermi["Fermi-LAT"].counts.data.sum() == 3004
    assert np.any(fermi["Fermi-LAT"].mask_safe.data)


def test_read_expands_gammapy_data_in_the_index_and_its_entries(tmp_path, monkeypatch):
    """Two data folders in one process; ``$GAMMAPY_DATA`` and ``~`` in every file name."""
    expected = {}
    for folder, seed in (("a", 1), ("b", 2)):
        dataset = make_onoff("obs", seed=seed)
        Datasets([dataset]).write(tmp_path / folder / "spectra" / "written.yaml")
        expected[folder] = dataset.counts
        index = {
            "datasets": [
                {
                    "name": "env",
                    "type": "SpectrumDatasetOnOff",
                    "filename": "$GAMMAPY_DATA/spectra/pha_obsobs.fits",
                },
                {
                    "name": "home",
                    "type": "SpectrumDatasetOnOff",
                    "filename": f"~/{folder}/spectra/pha_obsobs.fits",
                },
            ]
        }
        (tmp_path / folder / "index.yaml").write_text(yaml.safe_dump(index))
    monkeypatch.setenv("HOME", str(tmp_path))
    for folder in ("a", "b"):
        monkeypatch.setenv("GAMMAPY_DATA", str(tmp_path / folder))
        back = Datasets.read("$GAMMAPY_DATA/index.yaml")
        assert back.names == ["env", "home"]
        for dataset in back:
            assert_array_equal(dataset.counts, expected[folder])
    monkeypatch.delenv("GAMMAPY_DATA")
    with pytest.raises(
        DataNotFoundError, match=r"datasets\[0\]\.filename: GAMMAPY_DATA is not set"
    ):
        Datasets.read(tmp_path / "a" / "index.yaml")


def test_models_cannot_be_attached():
    datasets = Datasets([make_onoff("a")])
    with pytest.raises(AttributeError, match=r"holds no models.*build_model\(datasets, models\)"):
        datasets.models = []
    assert not hasattr(datasets, "models")
    with pytest.raises(AttributeError, match="Datasets is immutable: cannot set 'names'"):
        datasets.names = ["b"]
    with pytest.raises(AttributeError, match="immutable: cannot set '_datasets'"):
        datasets._datasets = ()
    with pytest.raises(AttributeError, match="cannot delete"):
        del datasets._index
    assert datasets.names == ["a"]


@pytest.mark.requires_data
def test_read_with_filename_models(gammapy_data):
    folder = "$GAMMAPY_DATA/fermi-3fhl-crab"
    index = f"{folder}/Fermi-LAT-3FHL_datasets.yaml"
    with pytest.raises(ValueError, match="does not invent priors"):
        Datasets.read(index, filename_models=f"{folder}/Fermi-LAT-3FHL_models.yaml")
    datasets, models = Datasets.read(
        index, filename_models=f"{folder}/Fermi-LAT-3FHL_models.yaml", prior_policy="broad"
    )
    assert datasets.names == ["Fermi-LAT"]
    assert models.names == ["Crab Nebula", "Fermi-LAT-bkg"]
    assert models["Crab Nebula"].meta["prior_policy"] == "broad"
    with pytest.raises(ValueError, match="prior_policy= applies to filename_models="):
        Datasets.read(index, prior_policy="broad")


@pytest.mark.requires_data
def test_read_with_models_naming_an_unknown_dataset(gammapy_data, tmp_path):
    text = (gammapy_data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_models.yaml").read_text()
    (tmp_path / "models.yaml").write_text(text.replace("- Fermi-LAT\n", "- Fermi-LT\n"))
    index = gammapy_data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_datasets.yaml"
    with pytest.raises(ValueError, match="'Fermi-LT' \\(did you mean 'Fermi-LAT'\\?\\)"):
        Datasets.read(index, filename_models=tmp_path / "models.yaml", prior_policy="broad")
