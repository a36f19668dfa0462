import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_allclose, assert_array_equal

from gammaprob.datasets import read_ogip
from gammaprob.datasets.spectrum_io import companion_paths
from gammaprob.utils.errors import FormatError

from .conftest import make_onoff

JOINT_CRAB = [
    "fermi/pha_obs0.fits",
    "magic/pha_obs5029747.fits",
    "magic/pha_obs5029748.fits",
    "veritas/pha_obs54809.fits",
    "veritas/pha_obs57993.fits",
    "fact/pha_stacked.fits",
    "hess/pha_obs23523.fits",
    "hess/pha_obs23526.fits",
    "hess/pha_obs23559.fits",
    "hess/pha_obs23592.fits",
]


def test_companion_paths(tmp_path):
    paths = companion_paths(tmp_path / "pha_obs42.fits")
    assert paths["arf"].name == "arf_obs42.fits" and paths["bkg"].name == "bkg_obs42.fits"
    assert companion_paths(tmp_path / "crab.fits.gz")["rmf"].name == "crab_rmf.fits.gz"


def test_write_read_round_trip(tmp_path, onoff):
    path = tmp_path / "pha_obs1.fits"
    onoff.write(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "arf_obs1.fits",
        "bkg_obs1.fits",
        "pha_obs1.fits",
        "rmf_obs1.fits",
    ]
    back = read_ogip(path)
    assert back.name == "obs1"
    for key in ("counts", "counts_off", "acceptance", "acceptance_off", "edisp", "mask_safe"):
        assert_array_equal(getattr(back, key), getattr(onoff, key), err_msg=key)
    assert_allclose(back.exposure.value, onoff.exposure.value, rtol=1e-15)
    assert back.livetime == onoff.livetime
    assert back.energy_axis.is_aligned(onoff.energy_axis, rtol=1e-15)
    assert back.energy_axis_true.is_aligned(onoff.energy_axis_true, rtol=1e-15)
    header = fits.getheader(path, "SPECTRUM")
    assert header["TELESCOP"] == "TEST"
    assert_allclose(header["LO_THRES"], onoff.energy_axis.edges[1].to_value("TeV"))


def test_write_is_atomic_and_refuses_overwrite(tmp_path, onoff):
    path = tmp_path / "pha_obs1.fits"
    (tmp_path / "rmf_obs1.fits").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"rmf_obs1\.fits"):
        onoff.write(path)
    # nothing else was written, the existing file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rmf_obs1.fits"]
    assert (tmp_path / "rmf_obs1.fits").read_text() == "keep me"
    onoff.write(path, overwrite=True)
    assert read_ogip(path).name == "obs1"


def _rewrite(path, hdu, column, values):
    with fits.open(path, mode="update") as hdulist:
        hdulist[hdu].data[column] = values


def test_bad_counts_in_file(tmp_path, onoff):
    path = tmp_path / "pha_obs1.fits"
    onoff.write(path)
    _rewrite(path, "SPECTRUM", "COUNTS", np.array([1, 2, -3, 4, 5, 6]))
    with pytest.raises(
        FormatError, match=r"pha_obs1.fits'.*HDU 'SPECTRUM'.*column 'COUNTS'.*channel 2"
    ):
        read_ogip(path)


def test_non_integer_counts_in_file(tmp_path, onoff):
    path = tmp_path / "pha_obs1.fits"
    onoff.write(path)
    # rebuild the SPECTRUM table with a float COUNTS column
    with fits.open(path) as hdulist:
        table = hdulist["SPECTRUM"]
        cols = [
            c
            if c.name != "COUNTS"
            else fits.Column("COUNTS", "D", array=table.data["COUNTS"] + 0.5)
            for c in table.columns
        ]
        new = fits.BinTableHDU.from_columns(cols, header=table.header, name="SPECTRUM")
        fits.HDUList([hdulist[0], new, hdulist["EBOUNDS"]]).writeto(path, overwrite=True)
    with pytest.raises(FormatError, match=r"column 'COUNTS': counts must be non-negative integers"):
        read_ogip(path)


def test_rmf_not_matching_arf(tmp_path, onoff):
    path = tmp_path / "pha_obs1.fits"
    onoff.write(path)
    other = make_onoff(n_true=9)
    other.write(tmp_path / "pha_other.fits")
    (tmp_path / "rmf_other.fits").replace(tmp_path / "rmf_obs1.fits")
    with pytest.raises(
        FormatError,
        match=r"rmf_obs1.fits'.*HDU 'MATRIX'.*ENERG_LO.*does not match the ARF's \(8 bins",
    ):
        read_ogip(path)


def test_all_bad_quality(tmp_path, onoff):
    path = tmp_path / "pha_obs1.fits"
    onoff.write(path)
    _rewrite(path, "SPECTRUM", "QUALITY", np.ones(6))
    with pytest.raises(FormatError, match=r"column 'QUALITY': all 6 channels are flagged bad"):
        read_ogip(path)


def test_missing_companion(tmp_path, onoff):
    path = tmp_path / "pha_obs1.fits"
    onoff.write(path)
    (tmp_path / "bkg_obs1.fits").unlink()
    with pytest.raises(
        FormatError, match=r"column 'BACKFILE': names 'bkg_obs1.fits', which does not exist"
    ):
        read_ogip(path)


def test_thresholds_without_quality(tmp_path, onoff):
    path = tmp_path / "pha_obs1.fits"
    onoff.write(path)
    with fits.open(path) as hdulist:
        table = hdulist["SPECTRUM"]
        cols = [c for c in table.columns if c.name != "QUALITY"]
        new = fits.BinTableHDU.from_columns(cols, name="SPECTRUM")
        for key in ("EXPOSURE", "OBS_ID", "ANCRFILE", "RESPFILE", "BACKFILE"):
            new.header[key] = table.header[key]
        new.header["LO_THRES"] = onoff.energy_axis.edges[2].to_value("TeV")
        fits.HDUList([hdulist[0], new, hdulist["EBOUNDS"]]).writeto(path, overwrite=True)
    assert_array_equal(read_ogip(path).mask_safe, [False, False, True, True, True, True])


def test_background_exposure_scales_alpha(tmp_path, onoff):
    path = tmp_path / "pha_obs1.fits"
    onoff.write(path)
    with fits.open(tmp_path / "bkg_obs1.fits", mode="update") as hdulist:
        hdulist["SPECTRUM"].header["EXPOSURE"] = 200.0
    back = read_ogip(path)
    assert_allclose(back.alpha, onoff.alpha / 2, rtol=1e-14)


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.parametrize("filename", JOINT_CRAB)
def test_joint_crab_against_gammapy(gammapy_data, filename):
    from gammapy.datasets import SpectrumDatasetOnOff

    path = gammapy_data / "joint-crab" / "spectra" / filename
    ours = read_ogip(path)
    theirs = SpectrumDatasetOnOff.read(path)
    if "fact" not in filename:  # gammapy mangles the FACT file's long OBS_ID card
        assert ours.name == theirs.name
    assert_array_equal(ours.counts, theirs.counts.data[:, 0, 0])
    assert_array_equal(ours.counts_off, theirs.counts_off.data[:, 0, 0])
    assert_allclose(ours.alpha, theirs.alpha.data[:, 0, 0], rtol=1e-12)
    exposure = theirs.exposure.quantity[:, 0, 0].to_value("m2 s")
    assert_allclose(ours.exposure.to_value("m2 s"), exposure, rtol=1e-12, atol=0)
    assert_allclose(ours.edisp, theirs.edisp.get_edisp_kernel().pdf_matrix, rtol=1e-12, atol=0)
    assert_array_equal(ours.mask_safe, theirs.mask_safe.data[:, 0, 0])
    axis = theirs.counts.geom.axes["energy"]
    assert_allclose(ours.energy_axis.edges.to_value("TeV"), axis.edges.to_value("TeV"), rtol=1e-12)
    axis_true = theirs.exposure.geom.axes["energy_true"]
    assert_allclose(
        ours.energy_axis_true.edges.to_value("TeV"), axis_true.edges.to_value("TeV"), rtol=1e-12
    )
    assert ours.livetime == theirs.exposure.meta["livetime"]
    assert ours.mask_safe.sum() > 0


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
def test_joint_crab_hess_stack_against_gammapy(gammapy_data):
    from gammapy.datasets import Datasets as GDatasets
    from gammapy.datasets import SpectrumDatasetOnOff

    from gammaprob.datasets.stack import stack_spectra

    paths = sorted((gammapy_data / "joint-crab" / "spectra" / "hess").glob("pha_*.fits"))
    ours = stack_spectra([read_ogip(p) for p in paths])
    theirs = GDatasets([SpectrumDatasetOnOff.read(p) for p in paths]).stack_reduce()
    safe = theirs.mask_safe.data[:, 0, 0]
    assert_array_equal(ours.mask_safe, safe)
    assert_array_equal(ours.counts, theirs.counts.data[:, 0, 0])
    assert_array_equal(ours.counts_off, theirs.counts_off.data[:, 0, 0])
    # gammapy stacks into float32 maps: agreement is at float32 precision
    assert_allclose(ours.alpha[safe], theirs.alpha.data[safe, 0, 0], rtol=1e-6)
    exposure = theirs.exposure.quantity[:, 0, 0].to_value("m2 s")
    assert_allclose(ours.exposure.to_value("m2 s"), exposure, rtol=1e-6, atol=1e-6 * exposure.max())
    kernel = theirs.edisp.get_edisp_kernel().pdf_matrix
    assert_allclose(ours.edisp, kernel, atol=1e-6)
    assert_allclose(
        ours.livetime.to_value("s"), theirs.exposure.meta["livetime"].to_value("s"), rtol=1e-12
    )


def test_missing_rmf_needs_matching_grids(tmp_path, onoff):
    path = tmp_path / "pha_obs1.fits"
    onoff.write(path)
    with fits.open(path, mode="update") as hdulist:
        del hdulist["SPECTRUM"].header["RESPFILE"]
    with pytest.raises(
        FormatError,
        match=r"column 'RESPFILE': no RMF.*ARF grid \(8 bins\) differs from EBOUNDS \(6 bins\)",
    ):
        read_ogip(path)


def test_classmethod_read(tmp_path, onoff):
    from gammaprob.datasets import SpectrumDatasetOnOff

    onoff.write(tmp_path / "pha_obs1.fits")
    assert SpectrumDatasetOnOff.read(tmp_path / "pha_obs1.fits", name="renamed").name == "renamed"
