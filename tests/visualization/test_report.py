from __future__ import annotations

import html

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
