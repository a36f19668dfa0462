import astropy.units as u
import numpy as np
import pytest
from scipy.integrate import quad

from gammaprob.irf import PSF3D, PSF3Gauss, PSFKernel, PSFKing, read_irf
from gammaprob.maps import MapAxis

DEG2_PER_SR = (180 / np.pi) ** 2


@pytest.fixture
def psf3d(energy_axis_true, offset_axis):
    rad = MapAxis.from_edges(np.linspace(0, 1, 201) * u.deg, name="rad")
    sigma = np.linspace(0.2, 0.05, 12) * u.deg
    return PSF3D.from_gauss(energy_axis_true, offset_axis, rad, sigma)


def test_psf3d_containment_gauss(psf3d, energy_axis_true):
    sigma = 0.2 * u.deg
    e = energy_axis_true.center[0]
    r = [0.05, 0.1, 0.2, 0.4] * u.deg
    cont = psf3d.containment(rad=r, energy_true=e, offset=0.5 * u.deg)
    expected = 1 - np.exp(-0.5 * (r / sigma).to_value("") ** 2)
    np.testing.assert_allclose(cont.value, expected, atol=3e-4)
    np.testing.assert_allclose(psf3d.normalization()[0], 1.0, atol=3e-4)
    radius = psf3d.containment_radius(0.68, energy_true=e, offset=0.5 * u.deg)
    assert radius.to_value(u.deg) == pytest.approx(0.2 * np.sqrt(-2 * np.log(0.32)), rel=1e-3)
    # the radius inverts the containment exactly
    back = psf3d.containment(rad=radius, energy_true=e, offset=0.5 * u.deg)
    assert back.value == pytest.approx(0.68, rel=1e-10)


def test_psf3d_evaluate_and_edges(psf3d, energy_axis_true):
    e = energy_axis_true.center[2]
    value = psf3d.evaluate(energy_true=e, offset=1 * u.deg, rad=psf3d.axes["rad"].center[10])
    assert value.unit == u.sr**-1
    assert value.value == pytest.approx(psf3d.data[2, 0, 10], rel=1e-12)
    assert psf3d.evaluate(energy_true=e, offset=1 * u.deg, rad=1.5 * u.deg).value == 0
    assert psf3d.containment(rad=5 * u.deg, energy_true=e, offset=1 * u.deg).value == pytest.approx(
        psf3d.normalization()[2, 0]
    )
    # a table truncated at 1.5 sigma never reaches 90 %
    short = PSF3D.from_gauss(
        energy_axis_true,
        psf3d.axes["offset"],
        MapAxis.from_edges(np.linspace(0, 0.3, 31) * u.deg, name="rad"),
        0.2 * u.deg,
    )
    radius = short.containment_radius([0.5, 0.9], energy_true=e, offset=1 * u.deg)
    assert np.isfinite(radius[0]) and np.isnan(radius[1])
    with pytest.raises(ValueError, match="fraction"):
        psf3d.containment_radius(1.2, energy_true=e, offset=1 * u.deg)


def test_psf3d_round_trip(tmp_path, psf3d):
    path = tmp_path / "psf.fits"
    psf3d.write(path)
    assert read_irf(path, "PSF_2D_TABLE") == psf3d


def _king(energy_axis_true, offset_axis):
    shape = (energy_axis_true.nbin, offset_axis.nbin)
    return PSFKing(
        [energy_axis_true, offset_axis],
        {"gamma": np.full(shape, 2.5), "sigma": np.full(shape, 0.08) * u.deg},
    )


def _gauss3(energy_axis_true, offset_axis):
    shape = (energy_axis_true.nbin, offset_axis.nbin)
    params = {
        "scale": np.full(shape, 3.0),
        "sigma_1": np.full(shape, 0.05) * u.deg,
        "sigma_2": np.full(shape, 0.1) * u.deg,
        "sigma_3": np.full(shape, 0.3) * u.deg,
        "ampl_2": np.full(shape, 0.4),
        "ampl_3": np.full(shape, 0.02),
    }
    return PSF3Gauss([energy_axis_true, offset_axis], params)


@pytest.mark.parametrize("make", [_king, _gauss3])
def test_parametric_psf_normalised_and_consistent(make, energy_axis_true, offset_axis, tmp_path):
    psf = make(energy_axis_true, offset_axis)
    kw = {"energy_true": 2 * u.TeV, "offset": 0.7 * u.deg}

    def integrand(r):
        return 2 * np.pi * r * psf.evaluate(rad=r * u.deg, **kw).to_value(u.deg**-2)

    total, _ = quad(integrand, 0, 60, limit=400, points=[0.1, 0.5, 2])
    assert total == pytest.approx(1.0, abs=2e-4 if make is _king else 1e-9)
    part, _ = quad(integrand, 0, 0.2)
    assert psf.containment(rad=0.2 * u.deg, **kw).value == pytest.approx(part, rel=1e-8)
    radius = psf.containment_radius([0.68, 0.95], **kw)
    np.testing.assert_allclose(psf.containment(rad=radius, **kw).value, [0.68, 0.95], rtol=1e-8)
    path = tmp_path / "psf.fits"
    psf.write(path)
    assert type(psf).read(path) == psf
    assert read_irf(path, 1) == psf


def test_king_analytic_radius(energy_axis_true, offset_axis):
    psf = _king(energy_axis_true, offset_axis)
    gamma, sigma, f = 2.5, 0.08, 0.68
    expected = np.sqrt(2 * gamma * sigma**2 * ((1 - f) ** (1 / (1 - gamma)) - 1))
    radius = psf.containment_radius(f, energy_true=1 * u.TeV, offset=0 * u.deg)
    assert radius.to_value(u.deg) == pytest.approx(expected, rel=1e-9)


def test_king_undefined_nodes_give_zero(energy_axis_true, offset_axis):
    shape = (energy_axis_true.nbin, offset_axis.nbin)
    gamma = np.full(shape, 2.0)
    gamma[:3] = 0.0
    psf = PSFKing([energy_axis_true, offset_axis], {"gamma": gamma, "sigma": np.full(shape, 0.1)})
    value = psf.evaluate(rad=0.1 * u.deg, energy_true=energy_axis_true.center[0], offset=1 * u.deg)
    assert value.value == 0


def test_psf_kernel_gauss_and_from_psf(psf3d, energy_axis_true):
    kernel = PSFKernel.from_gauss(energy_axis_true, sigma=0.1 * u.deg, pixel_size=0.02 * u.deg)
    assert kernel.data.shape == (12, 51, 51)
    np.testing.assert_allclose(kernel.data.sum(axis=(1, 2)), 1.0)
    # second moment of a 2D Gaussian: <x^2> = sigma^2 (pixel-integrated: + size^2 / 12)
    x = (np.arange(51) - 25) * 0.02
    second = (kernel.data[0] * x[None, :] ** 2).sum()
    assert second == pytest.approx(0.1**2 + 0.02**2 / 12, rel=2e-3)
    from_table = PSFKernel.from_psf(
        psf3d, offset=0.5 * u.deg, pixel_size=0.02 * u.deg, max_radius=0.5 * u.deg
    )
    assert from_table.data.shape == (12, 51, 51)
    analytic = PSFKernel.from_gauss(
        energy_axis_true,
        sigma=np.linspace(0.2, 0.05, 12) * u.deg,
        pixel_size=0.02 * u.deg,
        max_radius=0.5 * u.deg,
    )
    # the table samples the Gaussian every 0.005 deg (0.1 sigma at the highest energy) linearly
    np.testing.assert_allclose(from_table.data, analytic.data, atol=5e-3 * analytic.data.max())
    assert "PSFKernel(n_energy_true=12" in repr(from_table)
    with pytest.raises(ValueError, match="odd"):
        PSFKernel(energy_axis_true, 0.1 * u.deg, np.ones((12, 4, 4)))
