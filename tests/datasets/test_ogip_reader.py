"""The OGIP readers (on :func:`gammaprob.utils.fits_tables.read_tables`) agree bit for bit with astropy."""

import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_array_equal

from gammaprob.datasets.ogip import read_arf, read_pha, read_rmf
from gammaprob.irf.edisp_kernel import EDispKernel
from gammaprob.utils.errors import FormatError

from .conftest import make_onoff


def _assert_axis_identical(a, b):
    assert a.name == b.name and a.interp == b.interp and a.unit == b.unit
    assert_array_equal(a.edges.value, b.edges.value)


def _check_arf_pha(arf_path, pha_path):
    axis, aeff = read_arf(arf_path)
    with fits.open(arf_path) as hdulist:
        table = hdulist["SPECRESP"]
        assert_array_equal(aeff.value, np.asarray(table.data["SPECRESP"], dtype=float))
        assert_array_equal(axis.edges_min.value, np.asarray(table.data["ENERG_LO"], float))
        assert axis.edges[-1].value == float(table.data["ENERG_HI"][-1])
        assert axis.unit == table.columns["ENERG_LO"].unit
    pha = read_pha(pha_path)
    with fits.open(pha_path) as hdulist:
        table = hdulist["SPECTRUM"]
        assert_array_equal(pha["counts"], np.asarray(table.data["COUNTS"], dtype=float))
        assert pha["livetime"].value == table.header["EXPOSURE"]
        for key in ("OBS_ID", "ANCRFILE", "EXPOSURE"):
            if key in table.header:
                assert pha["header"][key] == table.header[key]


def test_synthetic_files_identical_to_astropy(tmp_path):
    make_onoff().write(tmp_path / "pha_obs1.fits")
    _check_arf_pha(tmp_path / "arf_obs1.fits", tmp_path / "pha_obs1.fits")


@pytest.mark.requires_data
def test_joint_crab_files_identical_to_astropy(gammapy_data):
    folder = gammapy_data / "joint-crab" / "spectra"
    phas = sorted(folder.glob("*/pha_*.fits"))
    assert len(phas) == 10
    for pha in phas:
        suffix = pha.name.removeprefix("pha_")
        _check_arf_pha(pha.parent / f"arf_{suffix}", pha)


def test_bad_exposure_keyword(tmp_path):
    make_onoff().write(tmp_path / "pha_obs1.fits")
    with fits.open(tmp_path / "pha_obs1.fits", mode="update") as hdulist:
        hdulist["SPECTRUM"].header["EXPOSURE"] = "long"
    with pytest.raises(FormatError, match=r"column 'EXPOSURE'.*positive livetime.*'long'"):
        read_pha(tmp_path / "pha_obs1.fits")


def test_rmf_channel_group_outside_range(tmp_path):
    make_onoff().write(tmp_path / "pha_obs1.fits")
    path = tmp_path / "rmf_obs1.fits"
    with fits.open(path, mode="update") as hdulist:
        hdulist["MATRIX"].header["TLMIN4"] = -3  # F_CHAN offset: groups shift past the end
    with pytest.raises(FormatError, match=r"HDU 'MATRIX'.*column 'F_CHAN'.*row 0: channel group"):
        read_rmf(path)
    with pytest.raises(FormatError, match=r"row 0: channel group"):
        EDispKernel.read(path)  # the same check as the irf reader


def test_arf_non_energy_unit(tmp_path):
    make_onoff().write(tmp_path / "pha_obs1.fits")
    path = tmp_path / "arf_obs1.fits"
    with fits.open(path, mode="update") as hdulist:
        hdulist["SPECRESP"].header["TUNIT1"] = "deg"
    with pytest.raises(FormatError, match=r"HDU 'SPECRESP'.*column 'ENERG_LO'.*not an energy"):
        read_arf(path)


def test_gti_hdu_is_read(tmp_path):
    from astropy.time import Time

    from gammaprob.data import GTI

    gti = GTI.from_time_intervals([(Time("2020-01-01T00:00:00"), Time("2020-01-01T00:30:00"))])
    make_onoff().replace(gti=gti).write(tmp_path / "pha_obs1.fits")
    back = read_pha(tmp_path / "pha_obs1.fits")["gti"]
    assert isinstance(back, GTI)
    assert back.time_sum.to_value("s") == pytest.approx(1800.0, rel=1e-9)
    assert read_pha(tmp_path / "bkg_obs1.fits")["gti"] is None
