from __future__ import annotations

import html
import importlib

import astropy.units as u
import numpy as np
import pytest

from gammaprob.visualization import (
    plot_counts_predictive,
    plot_spectrum_band,
    quantile_band,
    report,
)


@pytest.fixture
def result():
    import arviz as az

    rng = np.random.default_rng(1)
    tree = az.from_dict(
        {
            "posterior": {
                "amplitude": rng.normal(3.8, 0.1, (2, 200)),
                "alpha": rng.normal(2.5, 0.05, (2, 200)),
            },
            "prior": {
                "amplitude": rng.normal(4, 1, (1, 300)),
                "alpha": rng.normal(2.5, 1, (1, 300)),
            },
            "sample_stats": {"diverging": np.zeros((2, 200), dtype=bool)},
        }
    )
    tree.attrs["sampler"] = "pymc"
    tree.attrs["random_seed"] = 42
    return tree


def test_quantile_band_is_exact_for_uniform_draws():
    samples = np.linspace(0, 1, 100001)[:, None]
    lo, med, hi = quantile_band(samples, 0.68)
    np.testing.assert_allclose([lo[0], med[0], hi[0]], [0.16, 0.5, 0.84], atol=1e-9)
    with pytest.raises(ValueError, match="ci_prob"):
        quantile_band(samples, 68)


def test_html_report_is_self_contained(result, tmp_path):
    import matplotlib.pyplot as plt

    energy = np.geomspace(0.1, 10, 20) * u.TeV
    dnde = 1e-11 * (energy.value[None, :] ** -np.random.default_rng(0).normal(2.5, 0.05, (100, 1)))
    fig = plt.figure()
    plot_spectrum_band(energy, dnde * u.Unit("cm-2 s-1 TeV-1"), ci_prob=0.68, label="crab")
    fig_ppc, axes = plt.subplots(2, 1)
    edges = np.geomspace(0.1, 10, 11) * u.TeV
    plot_counts_predictive(
        edges,
        np.arange(10.0),
        np.random.default_rng(0).poisson(np.arange(10.0) + 0.5, (200, 10)),
        ci_prob=0.9,
        axes=axes,
    )
    path = report(
        result, tmp_path / "r.html", ci_prob=0.9, figures={"Spectrum": fig, "PPC": fig_ppc}
    )
    text = path.read_text()
    assert "equal-tailed at <b>90%</b>" in text
    assert "eti90_lb" in text
    assert text.count("data:image/png;base64,") == 6  # trace, rank, pair, prior/posterior, 2 extra
    assert '"sampler": "pymc"' in html.unescape(text)
    with pytest.raises(FileExistsError):
        report(result, path, ci_prob=0.9)


def test_markdown_report_writes_figures(result, tmp_path):
    path = report(result, tmp_path / "r.md", ci_prob=0.68, var_names=["alpha"])
    text = path.read_text()
    assert "| alpha |" in text
    assert "amplitude" not in text.split("## Summary")[1].split("##")[0]
    assert len(list((tmp_path / "r_files").glob("*.png"))) >= 2


@pytest.fixture(scope="module")
def loaded_result(tmp_path_factory):
    """A small sampled on/off result, saved to netCDF and read back."""
    from gammaprob.analysis.demo import demo_sky_model
    from gammaprob.inference import build_model, load_result, sample, save_result
    from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset

    model = demo_sky_model()
    template = parametric_spectrum_dataset(name="sim", n_bins=6)
    dataset = simulate_spectrum_dataset(model, template, rng=np.random.default_rng(1), alpha=0.2)
    result = sample(
        build_model(dataset, model),
        draws=50,
        tune=50,
        chains=2,
        sampler="pymc",
        random_seed=3,
        progressbar=False,
        check=False,
    )
    path = tmp_path_factory.mktemp("result") / "result.nc"
    save_result(result, path)
    return load_result(path)


@pytest.mark.sampling
def test_loaded_result_attributes_are_python_values(loaded_result):
    import json

    assert loaded_result.attrs["random_seed"] == 3
    assert type(loaded_result.attrs["random_seed"]) is int
    json.dumps(dict(loaded_result.attrs))  # netCDF gives numpy.int64, which json refuses


@pytest.mark.sampling
def test_report_of_a_saved_and_loaded_result(loaded_result, tmp_path):
    """Default variables: the model's parameters, not latents or per-bin nuisances."""
    physical = ["source::alpha", "source::beta", "source::amplitude"]
    path = report(loaded_result, tmp_path / "r.html", ci_prob=0.68)
    text = html.unescape(path.read_text())
    summary = text.split("<h2>Summary</h2>")[1].split("</table>")[0]
    rows = [r.split("</td>")[0].removeprefix("<tr><td>") for r in summary.split("\n")[1:]]
    assert sorted(r for r in rows if r) == sorted(physical)
    assert "_ln" not in summary and "mu_off" not in summary
    assert '"random_seed": 3' in text
    assert '"sampler": "pymc"' in text


@pytest.mark.sampling
def test_physical_parameters_from_the_model_record(loaded_result):
    from gammaprob.visualization import physical_parameters

    assert sorted(physical_parameters(loaded_result)) == [
        "source::alpha",
        "source::amplitude",
        "source::beta",
    ]


def test_json_safe_provenance_of_numpy_attributes(result, tmp_path):
    result.attrs["random_seed"] = np.int64(42)
    result.attrs["datasets"] = '{"hess": null}'
    result.attrs["created"] = np.array([1.5, 2.5])
    path = report(result, tmp_path / "r.md", ci_prob=0.9)
    text = path.read_text()
    assert '"random_seed": 42' in text
    assert '"hess": null' in text  # decoded, not a JSON string inside JSON
    assert "1.5," in text


def test_physical_parameters_without_model_record():
    import arviz as az

    from gammaprob.visualization import physical_parameters

    rng = np.random.default_rng(0)
    tree = az.from_dict(
        {
            "posterior": {
                "src::index": rng.normal(size=(2, 20)),
                "src::amplitude_scaled": rng.normal(size=(2, 20)),
                "src::amplitude": rng.normal(size=(2, 20)),
                "on1::mu_off": rng.normal(size=(2, 20, 30)),
                "width_ln": rng.normal(size=(2, 20)),
            }
        }
    )
    tree.attrs["datasets"] = '{"on1": null}'
    # "width_ln" has no physical partner: it is the variable itself, so it stays
    assert physical_parameters(tree) == ["src::index", "src::amplitude", "width_ln"]


def test_ci_prob_is_required_and_checked(result, tmp_path):
    with pytest.raises(TypeError, match=r"needs ci_prob=.*credible level"):
        report(result, tmp_path / "r.html")
    with pytest.raises(ValueError, match=r"ci_prob must be in \(0, 1\).*not 68"):
        report(result, tmp_path / "r.html", ci_prob=68)
    with pytest.raises(ValueError, match=r"var_names \['nope'\] not in the posterior"):
        report(result, tmp_path / "r.html", ci_prob=0.9, var_names=["nope"])
    assert not (tmp_path / "r.html").exists()


def test_markdown_report_refuses_before_touching_its_figures(result, tmp_path, monkeypatch):
    report_module = importlib.import_module("gammaprob.visualization.report")

    path = report(result, tmp_path / "r.md", ci_prob=0.68)
    figure = tmp_path / "r_files" / "figure_00.png"
    before = figure.read_bytes()
    figure.write_bytes(b"earlier figure")
    path.unlink()  # only a figure of the earlier report is left
    calls = []
    monkeypatch.setattr(report_module, "_diagnostic_figures", lambda *a: calls.append(a))
    with pytest.raises(FileExistsError, match=r"figure_00\.png.*overwrite=True"):
        report(result, path, ci_prob=0.68)
    assert figure.read_bytes() == b"earlier figure"
    assert not path.exists() and not calls  # refused before any work
    monkeypatch.undo()
    report(result, path, ci_prob=0.68, overwrite=True)
    assert figure.read_bytes()[:8] == before[:8] == b"\x89PNG\r\n\x1a\n"


def test_markdown_report_refuses_existing_report_before_writing_figures(result, tmp_path):
    path = tmp_path / "r.md"
    path.write_text("earlier report")
    with pytest.raises(FileExistsError, match=r"r\.md.*overwrite=True"):
        report(result, path, ci_prob=0.68)
    assert not (tmp_path / "r_files").exists()
    assert path.read_text() == "earlier report"


def test_html_report_refuses_before_any_work(result, tmp_path, monkeypatch):
    report_module = importlib.import_module("gammaprob.visualization.report")

    path = tmp_path / "r.html"
    path.write_text("earlier report")
    monkeypatch.setattr(
        report_module, "check_convergence", lambda *a, **k: pytest.fail("work before refusing")
    )
    with pytest.raises(FileExistsError, match=r"r\.html.*overwrite=True"):
        report(result, path, ci_prob=0.68)
    assert path.read_text() == "earlier report"


def test_markdown_overwrite_removes_stale_figures(result, tmp_path):
    path = report(result, tmp_path / "r.md", ci_prob=0.68)
    stale = tmp_path / "r_files" / "figure_17.png"
    stale.write_bytes(b"old")
    report(result, path, ci_prob=0.68, var_names=["alpha"], overwrite=True)
    assert not stale.exists()
    names = sorted(p.name for p in (tmp_path / "r_files").iterdir())
    assert names == [f"figure_{i:02d}.png" for i in range(len(names))]
