"""RAD_MAX_2D: linear interpolation in log energy as gammapy's ``RadMax2D.evaluate``."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from gammaprob.irf import RadMax2D
from gammaprob.maps import MapAxis
from gammaprob.utils.errors import FormatError

MAGIC_FILES = [
    "20131004_05029747_DL3_CrabNebula-W0.40+035.fits",
    "20131004_05029748_DL3_CrabNebula-W0.40+215.fits",
]


def _table():
    energy = MapAxis.from_energy_bounds(0.1, 100, 3, unit="TeV", name="energy")
    offset = MapAxis.from_edges([0, 1] * u.deg, name="offset")
    return RadMax2D([energy, offset], [[0.3], [0.2], [0.1]])


def test_linear_in_log_energy_between_centres():
    rad_max = _table()
    centers = rad_max.axes["energy"].center.to_value(u.TeV)
    midpoint = np.sqrt(centers[0] * centers[1]) * u.TeV  # half way in log energy
    value = rad_max.evaluate(energy=midpoint, offset=0.5 * u.deg)
    assert value.unit == u.deg
    assert value.value == pytest.approx(0.25, rel=1e-12)
    # nearest node for event selection, 0 outside the edges
    nearest = rad_max.evaluate(method="nearest", energy=midpoint * 1.01, offset=0.5 * u.deg)
    assert nearest.value == pytest.approx(0.2, rel=1e-12)
    assert rad_max.evaluate(energy=200 * u.TeV, offset=0.5 * u.deg).value == 0
    with pytest.raises(ValueError, match="method"):
        rad_max.evaluate(method="cubic", energy=1 * u.TeV, offset=0.5 * u.deg)


def _magic_hdu(path):
    with fits.open(path) as hdul:
        return fits.BinTableHDU(hdul["RAD_MAX"].data.copy(), hdul["RAD_MAX"].header.copy())


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.filterwarnings("ignore:'THETA' axis is stored as a scalar")
@pytest.mark.parametrize("name", MAGIC_FILES)
def test_magic_rad_max_equals_gammapy(gammapy_data, name):
    from gammapy.irf import RadMax2D as GRadMax2D

    path = gammapy_data / "magic" / "rad_max" / "data" / name
    ours = RadMax2D.read(path)
    reference = GRadMax2D.read(path, hdu="RAD_MAX")
    rng = np.random.default_rng(12)
    # log-uniform energies beyond both table ends, offsets across and beyond the one bin
    energy = np.r_[10 ** rng.uniform(-2.5, 2.5, 2000), ours.axes["energy"].center.value] * u.TeV
    offset = rng.uniform(0.35, 0.45, energy.size) * u.deg
    offset[-20:] = 0.4 * u.deg
    for method in (None, "nearest"):
        expected = reference.evaluate(method=method, energy=energy, offset=offset).to_value(u.deg)
        got = ours.evaluate(method=method, energy=energy, offset=offset).to_value(u.deg)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # the linear values are not the per-bin (nearest) ones: the test sees the method
    linear = ours.evaluate(energy=energy, offset=offset).value
    assert (
        np.max(np.abs(linear - ours.evaluate(method="nearest", energy=energy, offset=offset).value))
        > 0.01
    )


@pytest.mark.requires_data
@pytest.mark.parametrize("column", ["ENERG_LO", "ENERG_HI"])
def test_non_increasing_energies_are_an_error(gammapy_data, column):
    path = gammapy_data / "magic" / "rad_max" / "data" / MAGIC_FILES[0]
    hdu = _magic_hdu(path)
    values = hdu.data[column].copy()
    values[0, [3, 4]] = values[0, [4, 3]]
    hdu.data[column] = values
    with pytest.raises(FormatError, match="strictly increasing") as info:
        RadMax2D.from_table_hdu(hdu, path=path)
    message = str(info.value)
    assert "RAD_MAX" in message and column in message and MAGIC_FILES[0] in message


@pytest.mark.requires_data
def test_reversed_rad_max_table_is_an_error(gammapy_data, tmp_path):
    path = gammapy_data / "magic" / "rad_max" / "data" / MAGIC_FILES[1]
    hdu = _magic_hdu(path)
    for column in ("ENERG_LO", "ENERG_HI", "RAD_MAX"):
        hdu.data[column] = hdu.data[column][..., ::-1].copy()
    out = tmp_path / "reversed.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(out)
    with pytest.raises(FormatError, match=r"RAD_MAX.*ENERG_LO.*strictly increasing"):
        RadMax2D.read(out)


def test_fixed_cut_extends_everywhere():
    energy = MapAxis.from_energy_bounds(0.1, 10, 1, unit="TeV", name="energy")
    offset = MapAxis.from_edges([0, 1] * u.deg, name="offset")
    fixed = RadMax2D([energy, offset], [[0.14]], method="nearest", fill_outside=False)
    assert fixed.evaluate(energy=100 * u.TeV, offset=2 * u.deg).value == pytest.approx(0.14)
