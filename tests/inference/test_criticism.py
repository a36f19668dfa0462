"""Model criticism: PSIS-LOO per run / instrument with Pareto-k flags (and in the report),
and leave-one-instrument-out predictive checks of joint fits."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from gammaprob.inference import leave_one_group_out, loo, sample
from gammaprob.modeling import LogUniform, Normal, SkyModel, spectral
from gammaprob.simulate import parametric_spectrum_dataset, simulate_spectrum_dataset
from gammaprob.visualization import report

DATA = {"a-1": [4, 6, 5, 5], "a-2": [3, 7, 5, 6], "b-1": [5, 4, 6, 90]}  # b-1: an outlier bin
GROUPS = {"a-1": "A", "a-2": "A", "b-1": "B"}


@pytest.fixture(scope="module")
def result():
    import pymc as pm

    with pm.Model() as model:
        rate = pm.Gamma("rate", alpha=2.0, beta=0.4)
        for name, counts in DATA.items():
            pm.Poisson(f"{name}::counts", mu=rate, observed=np.array(counts))
    return sample(model, draws=1000, tune=500, chains=2, random_seed=2, progressbar=False)


@pytest.mark.sampling
def test_loo_per_instrument_pools_datasets_and_flags_the_outlier(result):
    per_dataset = loo(result, warn=False)
    grouped = loo(result, groups=GROUPS, warn=False)
    assert set(grouped.per_dataset) == {"A", "B"}
    assert grouped.per_dataset["A"].n_data_points == 8
    # pooling only regroups the pointwise values: the ELPD of a group is the sum of its datasets'
    expected = float(per_dataset.per_dataset["a-1"].elpd) + float(
        per_dataset.per_dataset["a-2"].elpd
    )
    assert float(grouped.per_dataset["A"].elpd) == pytest.approx(expected, rel=1e-9)
    flags = {row["group"]: row for row in grouped.pareto_k_flags()}
    assert flags["B"]["flag"] == "bad" and flags["B"]["n_k_gt_0.7"] == 1
    assert flags["A"]["n_k_gt_0.7"] == 0 and flags["A"]["flag"] in ("good", "ok")
    assert flags["total"]["n_obs"] == 12
    # a callable works as well
    by_prefix = loo(result, groups=lambda name: name.split("-")[0], warn=False)
    assert set(by_prefix.per_dataset) == {"a", "b"}


@pytest.mark.sampling
def test_loo_groups_must_label_every_dataset(result):
    with pytest.raises(ValueError, match=r"no label for dataset\(s\) \['b-1'\]"):
        loo(result, groups={"a-1": "A", "a-2": "A"}, warn=False)
    with pytest.raises(ValueError, match=r"unknown|not in the result"):
        loo(result, groups={**GROUPS, "c-9": "C"}, warn=False)


@pytest.mark.sampling
def test_report_lists_pareto_k_flags_per_instrument(result, tmp_path):
    path = report(result, tmp_path / "r.md", ci_prob=0.9, var_names=["rate"], loo_groups=GROUPS)
    text = path.read_text()
    assert "## PSIS-LOO and Pareto k" in text
    rows = [line for line in text.splitlines() if line.startswith("| B |")]
    assert len(rows) == 1 and rows[0].rstrip(" |").endswith("bad")
    html = report(result, tmp_path / "r.html", ci_prob=0.9, var_names=["rate"]).read_text()
    assert "PSIS-LOO and Pareto k" in html and "<td>b-1</td>" in html


def _source():
    return SkyModel(
        spectral.PowerLaw(
            index=Normal(2.5, 0.5),
            amplitude=LogUniform(1e-13, 1e-10, unit="cm-2 s-1 TeV-1"),
        ),
        name="src",
    )


@pytest.mark.slow
@pytest.mark.sampling
def test_leave_one_instrument_out_flags_a_miscalibrated_instrument():
    """Three instruments; the third sees the source 2x too bright (an area miscalibration)."""
    rng = np.random.default_rng(4)
    dnde = u.Unit("cm-2 s-1 TeV-1")
    truth = SkyModel(spectral.PowerLaw(index=2.5, amplitude=2e-12 * dnde), name="src")
    bright = SkyModel(spectral.PowerLaw(index=2.5, amplitude=4e-12 * dnde), name="src")
    datasets = []
    for name, sky in (("i1", truth), ("i2", truth), ("i3", bright)):
        template = parametric_spectrum_dataset(name=name, n_bins=6, n_bins_true=12)
        datasets.append(simulate_spectrum_dataset(sky, template, rng=rng, name=name))
    out = leave_one_group_out(
        datasets,
        _source(),
        {"i1": "I1", "i2": "I2", "i3": "I3"},
        sample_kwargs={"draws": 600, "tune": 800, "chains": 4, "random_seed": 1},
        random_seed=3,
    )
    rows = {r["group"]: r for r in out.rows}
    assert rows["I3"]["observed"] > rows["I3"]["predicted_hi"]
    assert rows["I3"]["p_total"] < 0.01
    assert "I3" in out.flagged(0.01)
    assert len(out.table()) == 3


def test_leave_one_group_out_bad_groups():
    template = parametric_spectrum_dataset(name="only", n_bins=4, n_bins_true=8)
    with pytest.raises(ValueError, match="at least two groups"):
        leave_one_group_out([template], _source(), {"only": "X"})
    with pytest.raises(ValueError, match="no label for dataset 'only'"):
        leave_one_group_out([template], _source(), {})
    other = parametric_spectrum_dataset(name="other", n_bins=4, n_bins_true=8)
    with pytest.raises(ValueError, match=r"hold_out must name groups .*\['X', 'Y'\].*'Z'"):
        leave_one_group_out([template, other], _source(), {"only": "X", "other": "Y"}, hold_out="Z")


def test_kept_systematics_restricts_groups_and_shares_the_nuisances():
    from gammaprob.inference.criticism import _kept_systematics
    from gammaprob.modeling import LogNormal, Systematics

    a = Systematics(["a-1", "a-2"], name="A", effective_area=LogNormal(0.0, 0.1))
    b = Systematics(["b-1"], name="B", effective_area=LogNormal(0.0, 0.1))
    kept = _kept_systematics([a, b], {"a-2", "b-9"})
    assert [(s.name, s.datasets_names) for s in kept] == [("A", ["a-2"])]
    assert kept[0].parameters["effective_area"] is a.parameters["effective_area"]
    assert a.datasets_names == ["a-1", "a-2"]  # the caller's group is unchanged
    assert _kept_systematics(b, {"a-1"}) == []


@pytest.mark.slow
@pytest.mark.sampling
def test_leave_one_instrument_out_with_systematics_per_instrument():
    """A held-out instrument keeps its systematics prior: a wide effective-area prior on the
    miscalibrated instrument makes its 2x offset predictable (not flagged), a narrow one not."""
    from gammaprob.modeling import LogNormal, Systematics

    rng = np.random.default_rng(4)
    dnde = u.Unit("cm-2 s-1 TeV-1")
    truth = SkyModel(spectral.PowerLaw(index=2.5, amplitude=2e-12 * dnde), name="src")
    bright = SkyModel(spectral.PowerLaw(index=2.5, amplitude=4e-12 * dnde), name="src")
    datasets = []
    for name, sky in (("i1", truth), ("i2", truth), ("i3", bright)):
        template = parametric_spectrum_dataset(name=name, n_bins=6, n_bins_true=12)
        datasets.append(simulate_spectrum_dataset(sky, template, rng=rng, name=name))
    rows = {}
    for width in (0.05, 1.0):
        systematics = [Systematics(["i3"], name="I3", effective_area=LogNormal(0.0, width))]
        out = leave_one_group_out(
            datasets,
            _source(),
            {"i1": "I1", "i2": "I2", "i3": "I3"},
            hold_out=["I3"],
            build_kwargs={"systematics": systematics},
            sample_kwargs={"draws": 500, "tune": 800, "chains": 4, "random_seed": 1},
            random_seed=3,
        )
        rows[width] = {r["group"]: r for r in out.rows}
    assert list(rows[0.05]) == ["I3"]  # only the group asked for was held out
    narrow, wide = rows[0.05]["I3"], rows[1.0]["I3"]
    assert narrow["p_total"] < 0.01 < wide["p_total"]
    assert wide["predicted_lo"] < wide["observed"] < wide["predicted_hi"]
    assert (wide["predicted_hi"] - wide["predicted_lo"]) > 3 * (
        narrow["predicted_hi"] - narrow["predicted_lo"]
    )
