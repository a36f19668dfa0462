import astropy.units as u
import numpy as np
import pytest
import scipy.special
from astropy.io import fits

from gammaprob.irf import EDispKernel, EnergyDispersion2D, read_irf
from gammaprob.maps import MapAxis


@pytest.fixture
def edisp(energy_axis_true, offset_axis):
    migra = MapAxis.from_edges(np.linspace(0.2, 5, 481), name="migra")
    return EnergyDispersion2D.from_gauss(
        energy_axis_true, migra, offset_axis, bias=0.05, sigma=0.12
    )


def test_from_gauss_normalised(edisp):
    norm = edisp.normalization()
    assert norm.shape == (12, 6)
    np.testing.assert_allclose(norm, 1.0, atol=1e-5)


def test_to_edisp_kernel_matches_analytic_gaussian(edisp, energy_axis_true):
    energy = MapAxis.from_energy_bounds(0.2 * u.TeV, 50 * u.TeV, 9, name="energy")
    kernel = edisp.to_edisp_kernel(1 * u.deg, energy_axis_true, energy)
    expected = EDispKernel.from_gauss(energy_axis_true, energy, sigma=0.12, bias=0.05)
    assert kernel.pdf_matrix.shape == (12, 9)
    # binning the pdf in migra (width 0.01) limits the agreement
    np.testing.assert_allclose(kernel.pdf_matrix, expected.pdf_matrix, atol=3e-4)
    assert kernel.pdf_matrix.sum(axis=1).max() <= 1 + 1e-12


def test_edisp_outside_rule(edisp):
    # outside true energy but inside migra: extrapolated (Gammapy's rule); outside offset: 0
    inside_migra = edisp.evaluate(energy_true=150 * u.TeV, migra=1.05, offset=1 * u.deg)
    assert inside_migra.value > 0
    assert edisp.evaluate(energy_true=150 * u.TeV, migra=6.0, offset=1 * u.deg).value == 0
    assert edisp.evaluate(energy_true=1 * u.TeV, migra=1.0, offset=4 * u.deg).value == 0


def test_edisp_round_trip(tmp_path, edisp):
    path = tmp_path / "edisp.fits"
    edisp.write(path)
    back = read_irf(path, "ENERGY DISPERSION")
    assert back == edisp


def test_kernel_from_gauss_analytic():
    et = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, 3, name="energy_true")
    er = MapAxis.from_energy_bounds(0.5 * u.TeV, 20 * u.TeV, 4, name="energy")
    kernel = EDispKernel.from_gauss(et, er, sigma=0.2)
    e0 = et.center[1].value
    lo, hi = er.edges[1].value / e0, er.edges[2].value / e0
    expected = 0.5 * (
        scipy.special.erf((hi - 1) / (np.sqrt(2) * 0.2))
        - scipy.special.erf((lo - 1) / (np.sqrt(2) * 0.2))
    )
    assert kernel.pdf_matrix[1, 1] == pytest.approx(expected, rel=1e-12)
    assert "EDispKernel(energy_true[3" in repr(kernel)


def test_kernel_diagonal():
    et = MapAxis.from_edges([0.5, 1, 2, 4, 6] * u.TeV, interp="log", name="energy_true")
    er = MapAxis.from_edges([2, 4, 6] * u.TeV, interp="log", name="energy")
    kernel = EDispKernel.from_diagonal_response(et, er)
    np.testing.assert_array_equal(kernel.pdf_matrix, [[0, 0], [0, 0], [1, 0], [0, 1]])
    square = EDispKernel.from_diagonal_response(et)
    np.testing.assert_array_equal(square.pdf_matrix, np.eye(4))


def test_rmf_round_trip_and_compression(tmp_path):
    et = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 20, name="energy_true")
    er = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 15, name="energy")
    data = EDispKernel.from_gauss(et, er, sigma=0.15).pdf_matrix.copy()
    data[data < 1e-3] = 0
    data[5, 3] = 0  # a hole between channels 2 and 4: two groups in this row
    data[0] = 0  # an empty row
    kernel = EDispKernel(et, er, data)
    path = tmp_path / "edisp.rmf"
    kernel.write(path)
    with fits.open(path) as hdulist:
        matrix = hdulist["MATRIX"].data
        assert matrix["N_GRP"][0] == 0
        assert matrix["N_GRP"][5] == 2
        assert matrix["N_CHAN"][5].sum() == np.count_nonzero(data[5])
        assert hdulist["EBOUNDS"].header["DETCHANS"] == 15
    back = EDispKernel.read(path)
    assert back == kernel


def test_rmf_reads_keV_and_one_based_channels(tmp_path):
    et = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, 2, name="energy_true")
    er = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, 3, name="energy")
    hdulist = EDispKernel(et, er, [[0.5, 0.5, 0], [0, 0.3, 0.7]]).to_hdulist()
    matrix = hdulist["MATRIX"]
    matrix.header["TLMIN4"] = 1
    matrix.data["F_CHAN"][1][0] = 2
    matrix.data["F_CHAN"][0][0] = 1
    for name in ("ENERG_LO", "ENERG_HI"):
        matrix.data[name] *= 1e9
    matrix.columns["ENERG_LO"].unit = "keV"
    matrix.columns["ENERG_HI"].unit = "keV"
    path = tmp_path / "kev.rmf"
    hdulist.writeto(path)
    back = EDispKernel.read(path)
    np.testing.assert_allclose(back.pdf_matrix, [[0.5, 0.5, 0], [0, 0.3, 0.7]])
    np.testing.assert_allclose(
        back.energy_axis_true.edges.to_value(u.TeV), et.edges.value, rtol=1e-12
    )
