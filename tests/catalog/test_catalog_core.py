"""Catalog access, look-ups, prior policies, reprs and plots; the 4FGL format on a small file."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from gammaprob.catalog import SourceCatalog4FGL, load_catalog
from gammaprob.modeling import LogNormal, LogUniform, Normal, SkyModel

N_BANDS = 3
N_HIST = 4


def _write_4fgl(path, version="4FGL-DR3 v31"):
    """A 3-source file in the 4FGL-DR3 layout (PL, LP, PLEC DR3 form; one extended disk)."""
    f32 = np.float32
    names = ["4FGL J0534.5+2200", "4FGL J1000.0+1000", "4FGL J2000.0-1000e"]
    cols = [
        fits.Column("Source_Name", "18A", array=names),
        fits.Column("RAJ2000", "E", "deg", array=f32([83.63, 150.0, 300.0])),
        fits.Column("DEJ2000", "E", "deg", array=f32([22.01, 10.0, -10.0])),
        fits.Column("GLON", "E", "deg", array=f32([184.55, 230.0, 30.0])),
        fits.Column("GLAT", "E", "deg", array=f32([-5.78, 45.0, -25.0])),
        fits.Column("Conf_95_SemiMajor", "E", "deg", array=f32([0.01, 0.05, np.nan])),
        fits.Column("Conf_95_SemiMinor", "E", "deg", array=f32([0.01, 0.04, np.nan])),
        fits.Column("Conf_95_PosAng", "E", "deg", array=f32([0.0, 30.0, np.nan])),
        fits.Column("Extended_Source_Name", "18A", array=["", "", "Disk One"]),
        fits.Column("ASSOC1", "20A", array=["Crab Nebula", "PKS 1000+10", ""]),
        fits.Column("ASSOC_TEV", "20A", array=["Crab", "", ""]),
        fits.Column("SpectrumType", "17A", array=["LogParabola", "PLSuperExpCutoff", "PowerLaw"]),
        fits.Column("Pivot_Energy", "E", "MeV", array=f32([1500.0, 1200.0, 5000.0])),
        fits.Column("PL_Flux_Density", "E", "photon/cm**2/MeV/s", array=f32([2e-10, 3e-11, 1e-12])),
        fits.Column("Unc_PL_Flux_Density", "E", "photon/cm**2/MeV/s", array=f32([2e-12, 3e-13, 1e-13])),
        fits.Column("PL_Index", "E", array=f32([2.2, 1.8, 2.4])),
        fits.Column("Unc_PL_Index", "E", array=f32([0.01, 0.02, 0.1])),
        fits.Column("LP_Flux_Density", "E", "photon/cm**2/MeV/s", array=f32([2.1e-10, 3e-11, 1e-12])),
        fits.Column("Unc_LP_Flux_Density", "E", "photon/cm**2/MeV/s", array=f32([2e-12, 3e-13, 1e-13])),
        fits.Column("LP_Index", "E", array=f32([2.1, 1.7, 2.3])),
        fits.Column("Unc_LP_Index", "E", array=f32([0.02, 0.02, 0.1])),
        fits.Column("LP_beta", "E", array=f32([0.05, 0.1, 0.01])),
        fits.Column("Unc_LP_beta", "E", array=f32([0.005, 0.01, 0.01])),
        fits.Column("PLEC_Flux_Density", "E", "photon/cm**2/MeV/s", array=f32([2e-10, 3.1e-11, 1e-12])),
        fits.Column("Unc_PLEC_Flux_Density", "E", "photon/cm**2/MeV/s", array=f32([2e-12, 3e-13, 1e-13])),
        fits.Column("PLEC_IndexS", "E", array=f32([2.0, 1.5, 2.0])),
        fits.Column("Unc_PLEC_IndexS", "E", array=f32([0.01, 0.03, 0.1])),
        fits.Column("PLEC_ExpfactorS", "E", array=f32([0.1, 0.6, 0.1])),
        fits.Column("Unc_PLEC_ExpfactorS", "E", array=f32([0.01, 0.05, 0.1])),
        fits.Column("PLEC_Exp_Index", "E", array=f32([0.6667, 0.6667, 0.6667])),
        fits.Column("Unc_PLEC_Exp_Index", "E", array=f32([np.nan, np.nan, np.nan])),
        fits.Column("Flux_Band", f"{N_BANDS}E", "photon/cm**2/s", array=f32(np.full((3, N_BANDS), 1e-9))),
        fits.Column("Unc_Flux_Band", f"{2 * N_BANDS}E", "photon/cm**2/s", dim=f"(2,{N_BANDS})",
                    array=f32(np.tile([[-1e-10, 1e-10], [np.nan, 2e-10], [-1e-10, 1e-10]], (3, 1, 1)))),
        fits.Column("nuFnu_Band", f"{N_BANDS}E", "erg/cm**2/s", array=f32(np.full((3, N_BANDS), 1e-11))),
        fits.Column("Sqrt_TS_Band", f"{N_BANDS}E", array=f32(np.full((3, N_BANDS), 5.0))),
        fits.Column("Flux_History", f"{N_HIST}E", "photon/cm**2/s", array=f32(np.full((3, N_HIST), 2e-8))),
        fits.Column("Unc_Flux_History", f"{2 * N_HIST}E", "photon/cm**2/s", dim=f"(2,{N_HIST})",
                    array=f32(np.tile([-1e-9, 1e-9], (3, N_HIST, 1)))),
        fits.Column("Sqrt_TS_History", f"{N_HIST}E", array=f32(np.full((3, N_HIST), 10.0))),
    ]  # fmt: skip
    main = fits.BinTableHDU.from_columns(cols, name="LAT_Point_Source_Catalog")
    main.header["VERSION"] = version
    ext = fits.BinTableHDU.from_columns(
        [
            fits.Column("Source_Name", "18A", array=["Disk One"]),
            fits.Column("Model_Form", "12A", array=["Disk"]),
            fits.Column("Model_SemiMajor", "E", "deg", array=np.float32([0.5])),
            fits.Column("Model_SemiMinor", "E", "deg", array=np.float32([0.3])),
            fits.Column("Model_PosAng", "E", "deg", array=np.float32([40.0])),
            fits.Column("Spatial_Filename", "20A", array=[""]),
        ],
        name="ExtendedSources",
    )
    bounds = fits.BinTableHDU.from_columns(
        [
            fits.Column("LowerEnergy", "E", "MeV", array=np.float32([100, 1000, 10000])),
            fits.Column("UpperEnergy", "E", "MeV", array=np.float32([1000, 10000, 100000])),
        ],
        name="EnergyBounds",
    )
    hist = fits.BinTableHDU.from_columns(
        [fits.Column("Hist_Start", "D", "s", array=np.arange(N_HIST + 1) * 3.15e7 + 2.4e8)],
        name="Hist_Start",
    )
    hist.header.update({"MJDREFI": 51910, "MJDREFF": 7.428703703703703e-4, "TIMESYS": "TT"})
    fits.HDUList([fits.PrimaryHDU(), main, ext, bounds, hist]).writeto(path)
    return path


@pytest.fixture
def cat4fgl(tmp_path):
    return SourceCatalog4FGL(_write_4fgl(tmp_path / "mini_4fgl.fits"))


def test_4fgl_format_reads_and_looks_up(cat4fgl):
    assert len(cat4fgl) == 3
    assert cat4fgl["Crab"].name == "4FGL J0534.5+2200"  # ASSOC_TEV
    assert cat4fgl["Crab Nebula"].index == 0  # ASSOC1
    assert cat4fgl["Disk One"].index == 2  # Extended_Source_Name
    with pytest.raises(KeyError, match="did you mean"):
        cat4fgl["Crab Nebul"]
    near = cat4fgl.select_cone(SkyCoord(83.6, 22.0, unit="deg"), 1 * u.deg)
    assert [s.index for s in near] == [0]
    assert cat4fgl[1].spectral_type == "SuperExpCutoffPowerLaw4FGLDR3"
    assert cat4fgl[2].spatial_type == "Disk"
    text = repr(cat4fgl)
    assert "n_sources=3" in text and "Source_Name" in text
    assert "4FGL J0534.5+2200" in repr(cat4fgl[0]) and "LogParabola" in repr(cat4fgl[0])


def test_4fgl_format_flux_points_and_light_curve(cat4fgl):
    fp = cat4fgl[0].flux_points
    assert fp.sed_type == "flux"
    np.testing.assert_allclose(fp.energy_min.to_value("MeV"), [100, 1000, 10000], rtol=1e-6)
    table = fp.table
    assert list(table["is_ul"]) == [False, True, False]
    np.testing.assert_allclose(table["flux_ul"][1], 1e-9 + 2 * 2e-10, rtol=1e-6)
    lc = cat4fgl[0].light_curve()
    assert len(lc) == N_HIST
    mjd0 = 51910 + 7.428703703703703e-4 + 2.4e8 / 86400
    np.testing.assert_allclose(lc.table["time_min"][0], mjd0, rtol=1e-12)
    with pytest.raises(ValueError, match="Flux2_History"):
        cat4fgl[0].light_curve("2-month")


@pytest.mark.requires_gammapy
def test_4fgl_format_models_equal_gammapy(tmp_path):
    import warnings

    from gammapy.catalog import SourceCatalog4FGL as GammapyCatalog

    path = _write_4fgl(tmp_path / "mini_4fgl.fits")
    ours = SourceCatalog4FGL(path)
    warnings.simplefilter("ignore")  # gammapy warns on masked values (reset by pytest)
    theirs = GammapyCatalog(path)
    energy = np.geomspace(1e-4, 1.0, 25) * u.TeV
    for row in range(2):  # the point sources (gammapy would look for the disk's template dir)
        m, g = ours[row].sky_model(), theirs[row].sky_model()
        np.testing.assert_allclose(
            m.spectral(energy).value, g.spectral_model(energy).to_value("cm-2 s-1 TeV-1"), rtol=1e-6
        )
        np.testing.assert_allclose(m.spatial.lon_0.value, g.spatial_model.lon_0.value, rtol=1e-6)
        np.testing.assert_allclose(m.spatial.lat_0.value, g.spatial_model.lat_0.value, rtol=1e-6)
    disk = ours[2].sky_model().spatial
    g = theirs[2].spatial_model()
    for name in ("lon_0", "lat_0", "r_0", "e", "phi"):
        np.testing.assert_allclose(disk.parameters[name].value, g.parameters[name].value, rtol=1e-6)
    fp, gfp = ours[0].flux_points.table, theirs[0].flux_points_table
    np.testing.assert_allclose(fp["flux"], u.Quantity(gfp["flux"]).to_value("cm-2 s-1"), rtol=1e-6)


def test_prior_policies(cat4fgl):
    src = cat4fgl[0]  # LogParabola: amplitude, alpha, beta have errors
    fixed = src.sky_model()
    assert not any(p.is_free for p in fixed.parameters.values())
    assert fixed.meta["prior_policy"].startswith("none")
    model = src.sky_model(policy="catalog-errors")
    params = model.parameters
    alpha, err = float(np.float32(2.1)), float(np.float32(0.02))
    assert params["alpha"].prior == Normal(alpha, 2 * err)
    amp = params["amplitude"]
    assert isinstance(amp.prior, LogNormal)
    np.testing.assert_allclose(amp.prior.sigma, 2 * 2e-12 / 2.1e-10, rtol=1e-6)
    assert not params["reference"].is_free
    assert params["lon_0"].is_free and isinstance(params["lat_0"].prior, Normal)
    sigma_lat = 0.01 / math.sqrt(-2 * math.log(0.05))
    np.testing.assert_allclose(params["lat_0"].prior.sigma, 2 * sigma_lat, rtol=1e-6)
    assert model.meta["prior_policy"] == "catalog-errors" and model.meta["prior_k"] == 2.0
    assert "alpha" in model.meta["priors"] and "reference" in model.meta["fixed"]
    k3 = src.sky_model(policy="catalog-errors", k=3)
    assert k3.parameters["alpha"].prior == Normal(alpha, 3 * err)
    broad = src.sky_model(policy="broad")
    assert isinstance(broad.parameters["amplitude"].prior, LogUniform)
    assert broad.parameters["alpha"].prior == Normal(alpha, 1.0)
    with pytest.raises(ValueError, match="unknown prior policy"):
        src.sky_model(policy="data")
    with pytest.raises(ValueError, match="k= is used"):
        src.sky_model(k=2)
    # the record travels with the model (YAML dict) and reads back
    again = SkyModel.from_dict(model.to_dict())
    assert again.meta["prior_policy"] == "catalog-errors"
    assert again.meta["priors"] == model.meta["priors"]


def test_missing_hdu_is_named(tmp_path):
    path = tmp_path / "broken.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(path)
    with pytest.raises(Exception, match="LAT_Point_Source_Catalog"):
        SourceCatalog4FGL(path)
    with pytest.raises(ValueError, match="unknown catalog"):
        load_catalog("5fgl")


@pytest.mark.requires_data
def test_data_catalogs_repr_lookup_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    cat = load_catalog("3fhl")
    crab = cat["Crab Nebula"]
    assert crab.name == "3FHL J0534.5+2201"
    near = cat.select_cone(crab.position, 0.3 * u.deg)
    assert near[0].name == crab.name
    ax = crab.plot_spectrum()
    assert len(ax.get_lines()) >= 1
    hgps = load_catalog("hgps")
    assert "Gaussian components" in repr(hgps["HESS J0835-455"])
    with pytest.raises(ValueError, match="sky_models"):
        hgps["HESS J0835-455"].sky_model()
    assert len(hgps["HESS J0835-455"].sky_models()) == 3
    lhaaso = load_catalog("1lhaaso")
    both = next(s for s in lhaaso if len(s.components) == 2)
    with pytest.raises(ValueError, match="which="):
        both.sky_model()
    assert [m.meta["component"] for m in both.sky_models()] == ["WCDA", "KM2A"]
    gc = load_catalog("gamma-cat")
    models = gc.to_sky_models()
    assert 60 < len(models) < len(gc)
