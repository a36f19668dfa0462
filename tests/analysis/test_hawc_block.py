"""Config block ``type: hawc-dl3``: validation, reduction per fHit bin, cache, sampling."""

from __future__ import annotations

import numpy as np
import pytest

from gammaprob.analysis.analysis import Analysis, AnalysisError
from gammaprob.analysis.config import AnalysisConfig, ConfigError

BLOCK = {
    "name": "hawc",
    "type": "hawc-dl3",
    "fhit_bins": [5, 8],
    "geom": {"lon": 83.63, "lat": 22.01, "width": 2.0, "binsz": 0.05},
}


def _config(tmp_path, **block) -> AnalysisConfig:
    return AnalysisConfig.from_dict(
        {
            "name": "HAWC Crab",
            "datasets": [{**BLOCK, **block}],
            "models": {"library": "crab_logparabola"},
            "sampler": {"draws": 100, "tune": 200, "chains": 2, "seed": 1},
            "outputs": {"directory": str(tmp_path / "out"), "report": None},
        }
    )


def test_block_validates_and_round_trips(tmp_path):
    config = _config(tmp_path)
    block = config.datasets[0]
    assert block.estimator == "NN" and block.transits == "irfs/TransitsMap_Crab.fits.gz"
    assert block.safe_mask.methods == ["aeff-max"]
    assert AnalysisConfig.from_yaml(config.to_yaml()).to_dict() == config.to_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fhit_bins": [5, 5]}, r"datasets\[0\].fhit_bins: .*unique"),
        ({"fhit_bins": []}, r"datasets\[0\].fhit_bins"),
        ({"estimator": "XX"}, r"datasets\[0\].estimator: .*NN, GP"),
        ({"transits": 0.0}, r"datasets\[0\].transits"),
        ({"safe_mask": {"methods": ["offset-max"]}}, r"HAWC's release has not"),
        ({"energy_axis": {"min": 1, "max": 10, "nbins": 3}}, r"energy_axis"),
    ],
)
def test_block_errors_name_the_field(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, **change)


@pytest.mark.requires_data
def test_missing_bin_and_transit_file_are_named(tmp_path):
    with pytest.raises(AnalysisError, match=r"datasets\[hawc\].transits: no file"):
        Analysis(_config(tmp_path, transits="irfs/none.fits"), progress=False).get_datasets()


@pytest.mark.requires_data
@pytest.mark.slow
@pytest.mark.sampling
def test_hawc_bins_reduced_cached_and_sampled(tmp_path):
    analysis = Analysis(_config(tmp_path), progress=False)
    datasets = analysis.get_datasets()
    assert [ds.name for ds in datasets] == ["hawc-fhit5", "hawc-fhit8"]
    assert analysis.reduction["hawc"]["reused"] is False
    assert [int(ds.counts.data.sum()) for ds in datasets] == [1115, 63]
    # the PSF is per reconstructed energy, as HAWC's files give it
    assert datasets[0].psf.irf_map.geom.axes.names == ["rad", "energy"]
    again = Analysis(_config(tmp_path), progress=False)
    reused = again.get_datasets()
    assert again.reduction["hawc"] == {"key": analysis.reduction["hawc"]["key"], "reused": True}
    np.testing.assert_array_equal(reused[1].background.data, datasets[1].background.data)

    result = again.run_sampling()
    posterior = result["posterior"]
    alpha = float(posterior["crab::alpha"].mean())
    assert 2.0 < alpha < 3.5  # the Crab's index at 1 TeV with a curved spectrum
