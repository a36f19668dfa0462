import importlib
import subprocess
import sys
import types

import pytest

from gammaprob.utils.lazy import lazy_exports

LAZY_PACKAGES = ["gammaprob.maps", "gammaprob.datasets", "gammaprob.irf", "gammaprob.data"]
#: Heavy optional dependencies the joint-Crab workflow (import + read the OGIP spectra) must
#: not load.
HEAVY = [
    "matplotlib",
    "healpy",
    "regions",
    "scipy.ndimage",
    "astropy.table",
    "astropy.coordinates",
    "dask",
    "ebltable",
    "arviz",
    "pymc",
]


def test_lazy_exports_resolves_caches_and_lists():
    namespace = {"__name__": "gammaprob.maps"}
    getattr_, dir_ = lazy_exports("gammaprob.maps", namespace, {".axes": ("MapAxis",)})
    from gammaprob.maps.axes import MapAxis

    assert getattr_("MapAxis") is MapAxis
    assert namespace["MapAxis"] is MapAxis  # cached: the hook is not called again
    assert isinstance(getattr_("axis_interp"), types.ModuleType)  # sub-module as attribute
    assert "MapAxis" in dir_()
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        getattr_("nope")
    with pytest.raises(AttributeError, match="__wrapped__"):
        getattr_("__wrapped__")


def test_lazy_exports_rejects_a_name_in_two_modules():
    with pytest.raises(ValueError, match=r"'Map' is exported by \.map and \.other"):
        lazy_exports("pkg", {}, {".map": ("Map",), ".other": ("Map",)})


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_resolves(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        assert value is not None
        assert name in dir(module)
    from_import = {}
    exec(f"from {package} import *", from_import)
    assert set(module.__all__) <= set(from_import)


def _write_ogip(path):
    import astropy.units as u
    import numpy as np

    from gammaprob.datasets import SpectrumDatasetOnOff
    from gammaprob.maps.axes import MapAxis

    axis = MapAxis.from_energy_bounds(0.1 * u.TeV, 10 * u.TeV, 6, name="energy")
    axis_true = MapAxis.from_energy_bounds(0.05 * u.TeV, 20 * u.TeV, 8, name="energy_true")
    SpectrumDatasetOnOff(
        name="obs1",
        counts=np.arange(6),
        counts_off=np.arange(6) + 10,
        acceptance=np.ones(6),
        acceptance_off=np.full(6, 5.0),
        exposure=np.full(8, 1e9) * u.m**2 * u.s,
        energy_axis=axis,
        energy_axis_true=axis_true,
        edisp=np.full((8, 6), 0.1),
        livetime=100 * u.s,
    ).write(path)


def test_workflow_imports_and_ogip_read_stay_light(tmp_path):
    path = tmp_path / "pha_obs1.fits"
    _write_ogip(path)
    code = (
        "import sys\n"
        "import gammaprob, gammaprob.analysis.joint_crab, gammaprob.inference\n"
        "import gammaprob.datasets, gammaprob.modeling, gammaprob.maps, gammaprob.irf\n"
        "from gammaprob.datasets import FluxPointsDataset, MapDataset, read_ogip\n"
        f"ds = read_ogip({str(path)!r})\n"
        "assert ds.counts.size == 6 and ds.edisp[0, 0] == 0.1\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
