"""Plots on the objects, one unit convention: assertions on the artists' data (Agg backend)."""

from __future__ import annotations

import astropy.units as u
import matplotlib
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.table import Table
from regions import CircleSkyRegion

from gammaprob.datasets import FluxPoints, SpectrumDatasetOnOff
from gammaprob.maps import HpxGeom, Map, MapAxis, RegionGeom, WcsGeom
from gammaprob.maps.geom import Geom
from gammaprob.modeling import LogNormal, LogUniform, Normal, SkyModel
from gammaprob.modeling.spectral import LogParabola, PowerLaw
from gammaprob.visualization import plot_flux_points, plot_spectrum_band, spectrum_draws

matplotlib.use("Agg")

AMPLITUDE, INDEX = 3e-11, 2.4
E_REF = np.geomspace(1, 10, 4) * u.TeV


@pytest.fixture(autouse=True)
def _close():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _source():
    spectral = PowerLaw(
        amplitude=LogUniform(1e-13, 1e-9, unit="cm-2 s-1 TeV-1"),
        index=Normal(2.5, 1.0),
        reference=1 * u.TeV,
    )
    return SkyModel(spectral, name="crab")


def _result(n_chain=2, n_draw=50, spread=0.0, seed=1):
    rng = np.random.default_rng(seed)
    shape = (n_chain, n_draw)
    posterior = xr.Dataset(
        {
            "crab::amplitude": (
                ("chain", "draw"),
                AMPLITUDE * (1 + spread * rng.normal(size=shape)),
            ),
            "crab::index": (("chain", "draw"), INDEX + spread * rng.normal(size=shape)),
        }
    )
    return xr.DataTree.from_dict({"posterior": posterior})


def _points():
    dnde = AMPLITUDE * E_REF.to_value("TeV") ** -INDEX * u.Unit("cm-2 s-1 TeV-1")
    table = Table()
    table["e_ref"] = E_REF
    table["dnde"] = dnde
    table["dnde_err"] = 0.1 * dnde
    return FluxPoints(table)


# ---- units: band, model and points of one spectrum coincide ----------------------------------
@pytest.mark.parametrize("sed_type", ["dnde", "e2dnde"])
def test_band_model_and_points_coincide(sed_type):
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    source = _source()
    # 7 log-spaced energies over [1, 10] TeV contain the 4 flux-point energies (every other one)
    plot_spectrum_band(
        _result(),
        source,
        energy_bounds=[1, 10] * u.TeV,
        n_points=7,
        ci_prob=0.68,
        sed_type=sed_type,
        ax=ax,
    )
    _points().plot(sed_type=sed_type, ax=ax)
    band = ax.lines[0].get_ydata()[::2]
    points = ax.containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(points, band, rtol=1e-12)
    np.testing.assert_allclose(ax.lines[0].get_xdata()[::2], E_REF.value, rtol=1e-12)
    expected_unit = "TeV" if sed_type == "e2dnde" else "TeV^{-1}"
    assert expected_unit in ax.get_ylabel() and ax.get_xlabel() == "Energy [TeV]"


def test_precomputed_band_and_points_coincide():
    """The form used by the notebooks (energies + dN/dE draws) against flux points."""
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    dnde = AMPLITUDE * E_REF.to_value("TeV") ** -INDEX * u.Unit("cm-2 s-1 TeV-1")
    plot_spectrum_band(E_REF, np.tile(dnde, (10, 1)), ci_prob=0.68, ax=ax)
    plot_flux_points(_points(), sed_type="e2dnde", ax=ax)
    band = ax.lines[0].get_ydata()
    points = ax.containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(points, band, rtol=1e-12)  # was 1.6x off (erg vs TeV)
    np.testing.assert_allclose(band, (E_REF**2 * dnde).to_value("TeV cm-2 s-1"), rtol=1e-12)


def test_spectral_model_plot_matches_points():
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    model = PowerLaw(amplitude=AMPLITUDE * u.Unit("cm-2 s-1 TeV-1"), index=INDEX)
    model.plot([1, 10] * u.TeV, n_points=4, ax=ax)
    _points().plot(ax=ax)
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), ax.containers[0].lines[0].get_ydata(), rtol=1e-12
    )
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="sed_type"):
        model.plot([1, 10] * u.TeV, sed_type="flux")
    with pytest.raises(ValueError, match="energy_bounds"):
        model.plot([10, 1] * u.TeV)


def test_spectrum_draws_any_source_and_band_quantiles():
    result = _result(spread=0.05, n_draw=400)
    energy = [1.0, 3.0] * u.TeV
    draws = spectrum_draws(result, _source(), energy, max_draws=200)
    assert draws.shape == (200, 2) and draws.unit == u.Unit("TeV-1 cm-2 s-1")
    amp = result["posterior"]["crab::amplitude"].values.ravel()[::4][:200]
    idx = result["posterior"]["crab::index"].values.ravel()[::4][:200]
    np.testing.assert_allclose(draws[:, 1].value, amp * 3.0**-idx, rtol=1e-12)
    # a spectral component needs the source name
    with pytest.raises(ValueError, match="source="):
        spectrum_draws(result, _source().spectral, energy)
    np.testing.assert_allclose(
        spectrum_draws(result, _source().spectral, energy, source="crab", max_draws=200).value,
        draws.value,
    )
    # another model: its variables are not in the posterior
    other = SkyModel(LogParabola(alpha=Normal(2, 1)), name="crab")
    with pytest.raises(KeyError, match="crab::alpha"):
        spectrum_draws(result, other, energy)
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    plot_spectrum_band(
        result, _source(), energy_bounds=[1, 3] * u.TeV, n_points=2, ci_prob=0.9, ax=ax
    )
    e2 = (energy**2 * draws).to_value("TeV cm-2 s-1")
    lo, hi = np.quantile(e2, [0.05, 0.95], axis=0)
    path = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(path, lo[0], rtol=1e-9).any() and np.isclose(path, hi[1], rtol=1e-9).any()
    with pytest.raises(ValueError, match="energy_bounds"):
        plot_spectrum_band(result, _source(), ci_prob=0.68)


def test_flux_points_default_units_are_tev():
    ax = _points().plot(sed_type="e2dnde")
    expected = (E_REF**2 * AMPLITUDE * E_REF.to_value("TeV") ** -INDEX).value
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), expected, rtol=1e-12)
    assert "erg" not in ax.get_ylabel() and "TeV" in ax.get_ylabel()
    ax = _points().plot(sed_type="e2dnde", unit="erg cm-2 s-1")
    np.testing.assert_allclose(
        ax.containers[0].lines[0].get_ydata(),
        (expected * u.Unit("TeV cm-2 s-1")).to_value("erg cm-2 s-1"),
    )
    with pytest.raises(ValueError, match="unit"):
        _points().plot(unit="cm-2 s-1")


# ---- maps --------------------------------------------------------------------------------------
def test_wcs_map_plot_on_sky_axes():
    from astropy.visualization.wcsaxes import WCSAxes

    geom = WcsGeom.create(npix=(5, 4), binsz=0.1, skydir=(83.6, 22.0), frame="icrs")
    m = Map(geom, data=np.arange(20.0).reshape(4, 5), unit="cm-2 s-1")
    ax = m.plot()
    assert isinstance(ax, WCSAxes)
    np.testing.assert_array_equal(ax.images[0].get_array(), m.data)
    assert ax.coords[0].get_axislabel() == "Right Ascension"
    assert ax.coords[1].get_axislabel() == "Declination"
    assert ax.figure.get_layout_engine() is not None
    cbar = ax.figure.axes[-1]
    assert "cm" in cbar.get_ylabel()
    galactic = Map(WcsGeom.create(npix=3, binsz=0.1, frame="galactic"), data=np.ones((3, 3)))
    assert galactic.plot().coords[0].get_axislabel() == "Galactic Longitude"
    # cubes need an image first; ordinary axes are refused for sky images
    cube = Map(geom.to_cube([MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")]))
    with pytest.raises(ValueError, match="sum_over_axes"):
        cube.plot()
    import matplotlib.pyplot as plt

    with pytest.raises(ValueError, match="WCSAxes"):
        m.plot(ax=plt.subplots()[1])


def test_healpix_map_plot():
    from astropy.visualization.wcsaxes import WCSAxes

    geom = HpxGeom.create(nside=8, frame="galactic")
    m = Map(geom, data=np.arange(geom.npix, dtype=float))
    ax = m.plot()
    assert isinstance(ax, WCSAxes)
    image = ax.images[0].get_array()
    assert image.ndim == 2 and np.nanmax(image) <= geom.npix - 1 and np.isfinite(image).sum() > 100


def test_region_map_plot():
    region = CircleSkyRegion(SkyCoord(83.6, 22.0, unit="deg"), 0.1 * u.deg)
    axis = MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")
    m = Map(RegionGeom.create(region, axes=[axis]), data=np.array([3.0, 2.0, 1.0]).reshape(3, 1, 1))
    ax = m.plot()
    steps = ax.patches[0]
    np.testing.assert_allclose(steps.get_data().values, [3, 2, 1])
    np.testing.assert_allclose(steps.get_data().edges, axis.edges.to_value("TeV"))
    assert "TeV" in ax.get_xlabel()
    outline = Map(RegionGeom.create(region), data=np.ones((1, 1))).plot()
    assert len(outline.patches) == 1


def test_map_without_sky_geometry_is_an_error():
    class AxesOnlyGeom(Geom):
        """A geometry with no sky part (not WCS, HEALPix or region)."""

        _frame = "icrs"
        _axes = None

        def __init__(self):
            from gammaprob.maps import MapAxes

            self._axes = MapAxes([MapAxis.from_energy_bounds(1, 10, 3, unit="TeV")])

        spatial_shape = ()
        __eq__ = _init_copy = _spatial_pix_grid = center_skydir = coord_to_pix = None
        pix_to_coord = pix_to_idx = solid_angle = None

    geom = AxesOnlyGeom()
    m = Map(geom, data=np.zeros(geom.data_shape))
    with pytest.raises(TypeError, match=r"needs a sky geometry.*AxesOnlyGeom"):
        m.plot()


# ---- datasets ---------------------------------------------------------------------------------
def _onoff():
    edges = np.geomspace(0.5, 16, 6) * u.TeV
    return SpectrumDatasetOnOff(
        name="syn",
        counts=[60, 30, 12, 3, 0],
        counts_off=[100, 40, 10, 10, 4],
        acceptance=np.full(5, 0.2),
        acceptance_off=np.ones(5),
        exposure=np.full(5, 3e9) * u.Unit("m2 s"),
        energy_axis=MapAxis.from_edges(edges, interp="log", name="energy"),
        energy_axis_true=MapAxis.from_edges(edges, interp="log", name="energy_true"),
    )


def test_spectrum_dataset_plots():
    from gammaprob.simulate.spectrum import predicted_counts

    ds = _onoff()
    model = SkyModel(PowerLaw(amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), index=2.5), name="s")
    ax = ds.plot_excess()
    excess = np.array([60, 30, 12, 3, 0]) - 0.2 * np.array([100, 40, 10, 10, 4])
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), excess)
    assert "TeV" in ax.get_xlabel()
    ax, ax_res = ds.plot_fit(model)
    npred = predicted_counts(model, ds) + 0.2 * np.array([100, 40, 10, 10, 4])
    np.testing.assert_allclose(ax.patches[0].get_data().values, npred, rtol=1e-12)
    np.testing.assert_allclose(
        ax_res.containers[0].lines[0].get_ydata(), np.array(ds.counts) - npred, rtol=1e-12
    )
    ax = ds.plot_residuals(model, method="diff/sqrt(model)")
    np.testing.assert_allclose(
        ax.containers[0].lines[0].get_ydata(), (np.array(ds.counts) - npred) / np.sqrt(npred)
    )
    with pytest.raises(ValueError, match="method"):
        ds.plot_residuals(model, method="ratio")
    fig = ds.peek()
    assert len(fig.axes) == 4  # counts, exposure, edisp + colour bar
    np.testing.assert_allclose(fig.axes[1].patches[0].get_data().values, 3e9)


def _map_dataset():
    from gammaprob.datasets import MapDataset

    energy = MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")
    energy_true = energy.copy(name="energy_true")
    image = WcsGeom.create(npix=(6, 5), binsz=0.1, skydir=(83.6, 22.0), frame="icrs")
    rng = np.random.default_rng(3)
    counts = Map(image.to_cube([energy]), data=rng.poisson(4.0, (2, 5, 6)).astype(float))
    background = Map(image.to_cube([energy]), data=np.full((2, 5, 6), 3.0))
    exposure = Map(image.to_cube([energy_true]), data=np.full((2, 5, 6), 1e9), unit="m2 s")
    return MapDataset(name="map", counts=counts, background=background, exposure=exposure)


def test_map_dataset_excess_and_peek():
    from astropy.visualization.wcsaxes import WCSAxes

    ds = _map_dataset()
    ax = ds.plot_excess()
    assert isinstance(ax, WCSAxes)
    expected = (np.asarray(ds.counts.data) - 3.0).sum(axis=0)
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    fig = ds.peek()
    images = [a.images[0].get_array() for a in fig.axes if getattr(a, "images", None)]
    assert len(images) == 4  # counts, background, excess, exposure
    np.testing.assert_allclose(images[0], np.asarray(ds.counts.data).sum(axis=0))
    np.testing.assert_allclose(images[3], 2e9)


@pytest.mark.requires_data
def test_catalog_plot_uses_the_same_units():
    from gammaprob.catalog import load_catalog

    crab = load_catalog("3fhl")["Crab Nebula"]
    ax = crab.plot_spectrum(n_points=5)
    assert "TeV" in ax.get_ylabel() and "erg" not in ax.get_ylabel()
    energy = ax.lines[0].get_xdata() * u.TeV
    dnde = crab.spectral_model()(energy)
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), (energy**2 * dnde).to_value("TeV cm-2 s-1"), rtol=1e-12
    )


@pytest.mark.requires_data
def test_map_dataset_fit_uses_the_background_model_at_the_posterior_medians(gammapy_data):
    from gammaprob.datasets import read_map_dataset
    from gammaprob.modeling import FoVBackgroundModel
    from gammaprob.visualization.datasets import predicted_counts

    ds = read_map_dataset(gammapy_data / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_data_Fermi-LAT.fits")
    template = np.asarray(ds.background.data, dtype=float)
    background = FoVBackgroundModel(dataset_name=ds.name, norm=LogNormal(0.0, 0.5))
    medians = {f"{ds.name}-bkg::norm": 1.5}
    np.testing.assert_allclose(predicted_counts(ds, [background], medians), 1.5 * template)
    np.testing.assert_allclose(predicted_counts(ds, background), template)  # current value 1
    assert background.parameters["norm"].value == 1.0  # the caller's model is not changed
    ax = ds.plot_residuals([background], result=medians)
    expected = (np.asarray(ds.counts.data) - 1.5 * template).sum(axis=0)
    np.testing.assert_allclose(ax.images[0].get_array(), expected, rtol=1e-10)
