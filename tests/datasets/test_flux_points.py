import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from numpy.testing import assert_allclose, assert_array_equal

from gammaprob.datasets import FluxPoints, FluxPointsDataset
from gammaprob.utils.errors import FormatError


def make_table():
    table = Table()
    table["e_min"] = [1.0, 2.0, 4.0] * u.TeV
    table["e_max"] = [2.0, 4.0, 8.0] * u.TeV
    table["flux"] = [4e-12, 2e-12, np.nan] * u.Unit("cm-2 s-1")
    table["flux_errn"] = [1e-12, 0.5e-12, np.nan] * u.Unit("cm-2 s-1")
    table["flux_errp"] = [2e-12, 1e-12, np.nan] * u.Unit("cm-2 s-1")
    table["flux_ul"] = [np.nan, np.nan, 1e-12] * u.Unit("cm-2 s-1")
    table.meta["SED_TYPE"] = "flux"
    return table


def test_flux_points_basics():
    fp = FluxPoints(make_table())
    assert fp.sed_type == "flux" and len(fp) == 3
    assert_allclose(fp.energy_ref.value, np.sqrt([2.0, 8.0, 32.0]))
    assert_array_equal(fp.is_ul, [False, False, True])  # finite upper limit marks a UL
    assert_allclose(fp.errn.value[:2], [1e-12, 0.5e-12])
    assert_allclose(fp.errp.value[:2], [2e-12, 1e-12])
    assert "upper_limits=1" in repr(fp)


def test_conversions_are_consistent():
    fp = FluxPoints(make_table())
    dnde = fp.to_sed_type("dnde")
    # power law of index 2 across the bin: flux = dnde(e_ref) e_ref^2 (1/e_min - 1/e_max)
    e_ref, lo, hi = fp.energy_ref.value, fp.energy_min.value, fp.energy_max.value
    expected = fp.value.value / (e_ref**2 * (1 / lo - 1 / hi))
    assert_allclose(dnde.value.to_value("cm-2 s-1 TeV-1")[:2], expected[:2], rtol=1e-14)
    e2dnde = dnde.to_sed_type("e2dnde")
    assert_allclose(
        e2dnde.value.to_value("TeV cm-2 s-1")[:2], (expected * e_ref**2)[:2], rtol=1e-14
    )
    back = e2dnde.to_sed_type("flux")
    assert_allclose(back.value.value[:2], fp.value.value[:2], rtol=1e-14)
    assert_allclose(back.ul.value[2], 1e-12, rtol=1e-14)
    # index 1 uses the logarithm for the flux integral: eflux = flux (e_max - e_min) / ln(e_max / e_min)
    eflux = fp.to_sed_type("eflux", reference_index=1.0)
    assert_allclose(eflux.value.to_value("TeV cm-2 s-1")[0], 4e-12 * 1.0 / np.log(2.0), rtol=1e-14)


def test_bad_tables():
    table = make_table()
    del table["e_max"]
    with pytest.raises(FormatError, match="a 'flux' SED needs column 'e_max'"):
        FluxPoints(table)
    table = make_table()
    table["flux"].unit = "TeV"
    with pytest.raises(FormatError, match="column 'flux': unit TeV is not convertible"):
        FluxPoints(table)
    table = make_table()
    table["e_min"][1] = 5.0
    with pytest.raises(FormatError, match="e_min must be below e_max"):
        FluxPoints(table)
    table = make_table()
    table.meta["SED_TYPE"] = "nonsense"
    with pytest.raises(FormatError, match="unknown or missing SED type 'nonsense'"):
        FluxPoints(table)


def test_likelihood_sed_with_scans():
    table = Table()
    table["e_min"] = [1.0, 2.0] * u.TeV
    table["e_max"] = [2.0, 4.0] * u.TeV
    table["e_ref"] = [1.4, 2.8] * u.TeV
    table["ref_dnde"] = [1e-11, 2e-12] * u.Unit("cm-2 s-1 TeV-1")
    table["ref_flux"] = [1e-11, 4e-12] * u.Unit("cm-2 s-1")
    table["ref_eflux"] = [2e-11, 1e-11] * u.Unit("TeV cm-2 s-1")
    table["norm"] = [1.2, 0.8]
    table["norm_err"] = [0.1, 0.2]
    table["norm_scan"] = np.tile(np.linspace(0, 3, 5), (2, 1))
    table["stat_scan"] = (table["norm_scan"] - table["norm"][:, None]) ** 2 / 0.01
    fp = FluxPoints(table)
    assert fp.sed_type == "likelihood"
    assert fp.norm_scan.shape == (2, 5) and fp.stat_scan.shape == (2, 5)
    assert_allclose(fp.to_sed_type("dnde").value.value, [1.2e-11, 1.6e-12])
    assert_allclose(fp.to_sed_type("flux").errp.value, [1e-12, 0.8e-12])


def test_dataset_round_trip_and_masks(tmp_path):
    ds = FluxPointsDataset("fp", FluxPoints(make_table()), mask_fit=[True, False, True])
    assert_array_equal(ds.mask, [True, False, True])
    ds.write(tmp_path / "fp.fits")
    back = FluxPointsDataset.read(tmp_path / "fp.fits")
    assert back.name == "fp"
    assert_array_equal(back.mask, ds.mask)
    assert_allclose(back.data.value.value, ds.data.value.value)
    ds.write(tmp_path / "fp.ecsv")
    assert_allclose(
        FluxPointsDataset.read(tmp_path / "fp.ecsv").data.errp.value, ds.data.errp.value
    )
    with pytest.raises(ValueError, match="all 3 points are masked"):
        ds.replace(mask_safe=[False] * 3).check_fittable()
    sliced = ds.slice_by_energy(2 * u.TeV, 10 * u.TeV)
    assert len(sliced.data) == 2


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.parametrize(
    "filename",
    [
        "hawc/crab_flux/HAWC19_flux_points.fits",
        "tests/spectrum/flux_points/flux_points.fits",
        "tests/spectrum/flux_points/flux_points.ecsv",
        "tests/spectrum/flux_points/diff_flux_points.fits",
        "tests/spectrum/flux_points/diff_flux_points.ecsv",
    ],
)
def test_against_gammapy(gammapy_data, filename, caplog):
    from gammapy.estimators import FluxPoints as GFluxPoints

    path = gammapy_data / filename
    ours = FluxPoints.read(path)
    theirs = GFluxPoints.read(path)
    assert ours.sed_type == theirs.sed_type_init
    assert_array_equal(ours.is_ul, theirs.is_ul.data[:, 0, 0])
    assert_allclose(ours.energy_ref.to_value("TeV"), theirs.energy_ref.to_value("TeV"), rtol=1e-14)
    dnde = ours.to_sed_type("dnde")
    unit = "cm-2 s-1 TeV-1"
    valid = np.isfinite(theirs.dnde.data[:, 0, 0])
    assert_allclose(
        dnde.value.to_value(unit)[valid],
        theirs.dnde.quantity[valid, 0, 0].to_value(unit),
        rtol=1e-13,
    )
    assert_allclose(
        dnde.errn.to_value(unit)[valid],
        theirs.dnde_err.quantity[valid, 0, 0].to_value(unit),
        rtol=1e-13,
    )
    if ours.ul is not None:
        ul = theirs.dnde_ul.quantity[:, 0, 0].to_value(unit)
        finite = np.isfinite(ul)
        assert_allclose(dnde.ul.to_value(unit)[finite], ul[finite], rtol=1e-13)
