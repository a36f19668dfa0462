import astropy.units as u
import numpy as np
import pytest

from gammaprob.irf import Background2D, Background3D, EffectiveArea2D, RadMax2D, read_irf
from gammaprob.maps import MapAxis


def test_aeff_parametrization_values(energy_axis_true, offset_axis):
    aeff = EffectiveArea2D.from_parametrization(
        energy_axis_true,
        offset_axis,
        area_max=2e5 * u.m**2,
        energy_threshold=1 * u.TeV,
        index=2.0,
        offset_sigma=None,
    )
    e = energy_axis_true.center
    value = aeff.evaluate(energy_true=e[:, None], offset=offset_axis.center)
    expected = 2e5 / (1 + (e.to_value(u.TeV) ** -2.0))
    np.testing.assert_allclose(value.to_value(u.m**2), expected[:, None] * np.ones(6), rtol=1e-12)
    assert aeff.evaluate(energy_true=1 * u.TeV, offset=0.5 * u.deg).unit == u.m**2


def test_aeff_interpolation_log_energy_lin_offset(energy_axis_true, offset_axis):
    aeff = EffectiveArea2D.from_parametrization(energy_axis_true, offset_axis)
    e0, e1 = energy_axis_true.center[3:5]
    o0, o1 = offset_axis.center[1:3]
    e_mid = np.sqrt(e0 * e1)  # halfway in log
    value = aeff.evaluate(energy_true=e_mid, offset=0.5 * (o0 + o1))
    expected = aeff.data[3:5, 1:3].mean()
    assert value.to_value(u.m**2) == pytest.approx(expected, rel=1e-12)


def test_aeff_zero_outside_edges_and_cm2_input(energy_axis_true, offset_axis):
    aeff = EffectiveArea2D.from_parametrization(energy_axis_true, offset_axis)
    out = aeff.evaluate(energy_true=[0.05, 200, 1] * u.TeV, offset=[0.5, 0.5, 3.5] * u.deg)
    np.testing.assert_array_equal(out.value, 0.0)
    in_cm2 = EffectiveArea2D(aeff.axes, aeff.quantity.to(u.cm**2))
    np.testing.assert_allclose(in_cm2.data, aeff.data, rtol=1e-15)


def test_aeff_is_immutable_and_validates(energy_axis_true, offset_axis):
    aeff = EffectiveArea2D.from_parametrization(energy_axis_true, offset_axis)
    with pytest.raises(AttributeError, match="immutable"):
        aeff.meta = {}
    with pytest.raises(ValueError):
        aeff.data[0, 0] = 1.0
    with pytest.raises(ValueError, match="needs axes"):
        EffectiveArea2D([offset_axis, energy_axis_true], np.ones((6, 12)))
    with pytest.raises(ValueError, match="negative"):
        EffectiveArea2D([energy_axis_true, offset_axis], -np.ones((12, 6)))
    with pytest.raises(ValueError, match="not convertible"):
        EffectiveArea2D([energy_axis_true, offset_axis], np.ones((12, 6)) * u.s)
    with pytest.raises(ValueError, match="missing coordinate"):
        aeff.evaluate(energy_true=1 * u.TeV)
    assert "EffectiveArea2D(energy_true[12" in repr(aeff)


def test_aeff_round_trip(tmp_path, energy_axis_true, offset_axis):
    aeff = EffectiveArea2D.from_parametrization(energy_axis_true, offset_axis, is_pointlike=True)
    path = tmp_path / "aeff.fits.gz"
    aeff.write(path)
    back = read_irf(path, "EFFECTIVE AREA")
    assert back == aeff
    assert back.is_pointlike
    assert back.meta["HDUCLAS3"] == "POINT-LIKE"
    with pytest.raises(FileExistsError):
        aeff.write(path)
    aeff.write(path, overwrite=True)


def test_background2d_power_law_exact_between_nodes(offset_axis):
    energy = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 9, name="energy")
    bkg = Background2D.from_power_law(
        energy, offset_axis, norm=2e-6 * u.Unit("s-1 MeV-1 sr-1"), index=2.5
    )
    e = np.geomspace(energy.center[0].value, energy.center[-1].value, 17) * u.TeV
    value = bkg.evaluate(energy=e, offset=1.2 * u.deg)
    np.testing.assert_allclose(value.to_value("s-1 MeV-1 sr-1"), 2e-6 * e.value**-2.5, rtol=1e-12)
    assert value.unit == u.Unit("s-1 MeV-1 sr-1")


def test_background3d_radial_profile_and_fovalign(tmp_path):
    energy = MapAxis.from_energy_bounds(0.1 * u.TeV, 10 * u.TeV, 4, name="energy")
    lon = MapAxis.from_edges(np.linspace(-2, 2, 9) * u.deg, name="fov_lon")
    lat = MapAxis.from_edges(np.linspace(-2, 2, 9) * u.deg, name="fov_lat")
    bkg = Background3D.from_power_law(
        energy, lon, lat, offset_sigma=1 * u.deg, fov_alignment="ALTAZ"
    )
    # the profile is symmetric in lon and its node values follow the Gaussian exactly
    v = bkg.evaluate(energy=1 * u.TeV, fov_lon=[0.25, -0.25] * u.deg, fov_lat=[0.75, 0.75] * u.deg)
    assert v[0] == v[1]
    ratio = bkg.data[:, 4, 4] / bkg.data[:, 4, 5]
    np.testing.assert_allclose(ratio, np.exp(0.5 * (0.75**2 - 0.25**2)), rtol=1e-12)
    path = tmp_path / "bkg.fits"
    bkg.write(path)
    back = Background3D.read(path)
    assert back == bkg
    assert back.fov_alignment.value == "ALTAZ"


def test_rad_max_fixed_from_header(tmp_path, energy_axis_true, offset_axis):
    aeff = EffectiveArea2D(
        [energy_axis_true, offset_axis],
        np.ones((12, 6)),
        meta={"RAD_MAX": 0.1414},
        is_pointlike=True,
    )
    rad_max = RadMax2D.from_irf(aeff)
    assert rad_max.is_fixed
    value = rad_max.evaluate(energy=[0.01, 1, 1e4] * u.TeV, offset=[0, 1, 10] * u.deg)
    np.testing.assert_allclose(value.to_value(u.deg), 0.1414)
    assert rad_max.evaluate(energy=1 * u.TeV, offset=0 * u.deg) == 0.1414 * u.deg
    with pytest.raises(ValueError, match="point-like"):
        RadMax2D.from_irf(EffectiveArea2D([energy_axis_true, offset_axis], np.ones((12, 6))))
    with pytest.raises(ValueError, match="RAD_MAX"):
        RadMax2D.from_irf(
            EffectiveArea2D([energy_axis_true, offset_axis], np.ones((12, 6)), is_pointlike=True)
        )


def test_rad_max_table_nearest_and_round_trip(tmp_path, offset_axis):
    energy = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 3, name="energy")
    data = np.array([0.3, 0.2, 0.1])[:, None] * np.ones(6)
    rad_max = RadMax2D([energy, offset_axis], data)
    energies = [0.05, 0.5, 1.1, 50, 500] * u.TeV
    # gammapy's RadMax2D.evaluate: linear in log energy between bin centres, extrapolated to
    # the table edges, 0 outside them
    centres = np.log10([10**-0.5, 10**0.5, 10**1.5])
    log_e = np.log10([0.5, 1.1, 50])
    linear = np.interp(log_e, centres, [0.3, 0.2, 0.1])
    linear[-1] = 0.1 - 0.1 * (log_e[-1] - centres[-1])  # extrapolated within the last bin
    value = rad_max.evaluate(energy=energies, offset=1 * u.deg)
    np.testing.assert_allclose(value.to_value(u.deg), [0.0, *linear, 0.0], rtol=1e-12)
    nearest = rad_max.evaluate(energy=energies, offset=1 * u.deg, method="nearest")
    np.testing.assert_allclose(nearest.to_value(u.deg), [0.0, 0.3, 0.2, 0.1, 0.0])
    path = tmp_path / "rad_max.fits"
    rad_max.write(path)
    back = read_irf(path, "RAD_MAX")
    assert back == rad_max and back.is_pointlike and not back.is_fixed


def test_evaluate_rejects_nan_and_bare_numbers(energy_axis_true, offset_axis):
    aeff = EffectiveArea2D.from_parametrization(energy_axis_true, offset_axis)
    with pytest.raises(ValueError, match="NaN"):
        aeff.evaluate(energy_true=[1, np.nan] * u.TeV, offset=0.5 * u.deg)
    with pytest.raises(TypeError, match="Quantity"):
        aeff.evaluate(energy_true=1.0, offset=0.5 * u.deg)
    with pytest.raises(ValueError, match="unknown coordinates"):
        aeff.evaluate(energy_true=1 * u.TeV, offset=0.5 * u.deg, rad=0.1 * u.deg)
