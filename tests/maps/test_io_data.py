"""Real maps from $GAMMAPY_DATA against raw astropy reads and against gammapy."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from numpy.testing import assert_allclose, assert_array_equal

from gammaprob.maps import Map

pytestmark = pytest.mark.requires_data

# (file, read kwargs, expected data shape, axis names, unit)
CASES = [
    (
        "fermi-3fhl-gc/fermi-3fhl-gc-counts-cube.fits.gz",
        {"unit": ""},
        (11, 200, 400),
        ["energy"],
        "",
    ),
    (
        "fermi-3fhl-gc/fermi-3fhl-gc-exposure-cube.fits.gz",
        {"unit": "cm2 s"},
        (12, 200, 400),
        ["energy_true"],
        "cm2 s",
    ),
    (
        "fermi-3fhl-gc/fermi-3fhl-gc-background-cube.fits.gz",
        {"unit": ""},
        (11, 200, 400),
        ["energy"],
        "",
    ),
    ("fermi-3fhl-gc/fermi-3fhl-gc-counts.fits.gz", {}, (200, 400), [], ""),
    (
        "fermi-3fhl-gc/fermi-3fhl-gc.fits.gz",
        {"hdu": "EXPOSURE"},
        (12, 200, 400),
        ["energy_true"],
        "cm2 s",
    ),
    ("fermi-3fhl-gc/fermi-3fhl-gc.fits.gz", {"hdu": "COUNTS"}, (11, 200, 400), ["energy"], ""),
    ("hawc/DL4/nHit-5.fits.gz", {"hdu": "COUNTS"}, (10, 120, 120), ["energy"], ""),
    ("hawc/DL4/nHit-9.fits.gz", {"hdu": "EXPOSURE"}, (50, 120, 120), ["energy_true"], "cm2 s"),
    ("hawc/DL4/nHit-5.fits.gz", {"hdu": "EDISP"}, (50, 10, 6, 6), ["energy", "energy_true"], ""),
    ("hawc/DL4/nHit-5.fits.gz", {"hdu": "PSF"}, (10, 200, 6, 6), ["rad", "energy"], "deg-2"),
    ("joint-crab/exclusion/exclusion_mask_crab.fits.gz", {}, (250, 250), [], ""),
    (
        "fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits",
        {"hdu": "COUNTS"},
        (5, 40, 50),
        ["energy"],
        "",
    ),
    (
        "fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits",
        {"hdu": "PSF"},
        (17, 300, 1, 2),
        ["rad", "energy_true"],
        "sr-1",
    ),
]


def _ids(case):
    return f"{case[0].split('/')[-1]}-{case[1].get('hdu', 'default')}"


def _raw(path, hdu):
    with fits.open(path) as hdul:
        image = (
            hdul[hdu]
            if hdu is not None
            else next(h for h in hdul if h.data is not None and h.data.ndim >= 2)
        )
        return (
            np.asarray(image.data),
            image.header.copy(),
            {h.name: h.copy() for h in hdul if isinstance(h, fits.BinTableHDU)},
        )


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_real_map_against_raw_fits(gammapy_data, case):
    name, kwargs, shape, axis_names, unit = case
    path = gammapy_data / name
    m = Map.read(path, **kwargs)
    data, header, tables = _raw(path, kwargs.get("hdu"))
    assert m.data.shape == shape
    assert m.geom.axes.names == axis_names
    assert m.unit == u.Unit(unit)
    assert_array_equal(m.data, data)
    # pixel centres agree with astropy's WCS of the raw header
    wcs = WCS(header, fix=False).celestial
    ny, nx = m.geom.spatial_shape
    x, y = np.array([0, nx - 1, nx // 2]), np.array([0, ny - 1, ny // 2])
    coord = m.geom.pix_to_coord((x, y, *([np.zeros(3)] * len(axis_names))))
    sky = wcs.pixel_to_world(x, y)
    assert_allclose(coord.skycoord.separation(sky).deg, 0, atol=1e-10)
    # axis edges against the bands table
    bands = tables.get(header.get("BANDSHDU", "EBOUNDS" if "EBOUNDS" in tables else "ENERGIES"))
    for axis in m.geom.axes:
        if axis.name == "energy" and "E_MIN" in bands.columns.names and axis.node_type == "edges":
            e_min = np.unique(bands.data["E_MIN"]).astype(float)
            col_unit = u.Unit(bands.columns["E_MIN"].unit)
            assert_allclose(axis.edges_min.to_value(col_unit), e_min, rtol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_real_map_round_trip(gammapy_data, case, tmp_path):
    name, kwargs, *_ = case
    m = Map.read(gammapy_data / name, **kwargs)
    m.write(tmp_path / "copy.fits")
    back = Map.read(tmp_path / "copy.fits")
    assert back.geom == m.geom
    assert back.unit == m.unit
    assert_array_equal(back.data, m.data)


def test_fermi_counts_cube_energy_edges(gammapy_data):
    m = Map.read(gammapy_data / "fermi-3fhl-gc/fermi-3fhl-gc-counts-cube.fits.gz", unit="")
    axis = m.geom.axes["energy"]
    with fits.open(gammapy_data / "fermi-3fhl-gc/fermi-3fhl-gc-counts-cube.fits.gz") as hdul:
        ebounds = hdul["EBOUNDS"].data
        assert_allclose(axis.edges_min.to_value("keV"), ebounds["E_MIN"], rtol=1e-12)
        assert_allclose(axis.edges_max.to_value("keV"), ebounds["E_MAX"], rtol=1e-12)
    assert axis.interp == "log" and axis.node_type == "edges"
    assert m.geom.frame == "galactic" and m.geom.projection == "CAR"
    assert int(m.data.sum()) == 32684


def test_fermi_cubes_without_bunit_read_as_dimensionless(gammapy_data):
    """The Fermi gtbin/gtexpcube2 cubes have no BUNIT: dimensionless unless unit= is given."""
    from gammaprob.datasets import MapDataset

    counts_path = gammapy_data / "fermi-3fhl-gc/fermi-3fhl-gc-counts-cube.fits.gz"
    exposure_path = gammapy_data / "fermi-3fhl-gc/fermi-3fhl-gc-exposure-cube.fits.gz"
    for path in (counts_path, exposure_path):
        with fits.open(path) as hdul:
            assert "BUNIT" not in hdul[0].header
    counts = Map.read(counts_path)
    assert counts.unit == u.one and int(counts.data.sum()) == 32684
    exposure = Map.read(exposure_path)
    assert exposure.unit == u.one
    with pytest.raises(ValueError, match=r"exposure unit dimensionless.*unit='cm2 s'"):
        MapDataset(name="gc", counts=counts, exposure=exposure)
    exposure_cm2s = Map.read(exposure_path, unit="cm2 s")
    assert exposure_cm2s.unit == u.Unit("cm2 s")
    assert_array_equal(exposure_cm2s.data, exposure.data)


@pytest.mark.requires_gammapy
@pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_real_map_against_gammapy(gammapy_data, case):
    from gammapy.maps import Map as GammapyMap

    name, kwargs, *_ = case
    path = gammapy_data / name
    ours = Map.read(path, **kwargs)
    theirs = GammapyMap.read(path, hdu=kwargs.get("hdu"))
    assert ours.data.shape == theirs.data.shape
    assert_array_equal(ours.data, theirs.data)
    for a, b in zip(ours.geom.axes, theirs.geom.axes, strict=True):
        assert a.name == b.name
        assert a.node_type == b.node_type
        if a.node_type == "center":
            assert_allclose(a.center.value, b.center.to_value(a.unit), rtol=1e-12)
        else:
            assert_allclose(a.edges.value, b.edges.to_value(a.unit), rtol=1e-12)
    # sky coordinates of all pixel centres
    c_ours = ours.geom.to_image().get_coord()
    c_theirs = theirs.geom.to_image().get_coord()
    assert_allclose(c_ours.lon, c_theirs.lon.to_value("deg"), atol=1e-10)
    assert_allclose(c_ours.lat, c_theirs.lat.to_value("deg"), atol=1e-10)
    # solid angles: ours exact, gammapy's a planar approximation per pixel whose relative
    # error grows as the pixel size squared (6.5e-5 for 1 deg pixels) over a ~2e-7 floor
    omega_ours = ours.geom.to_image().solid_angle().to_value("sr")
    omega_theirs = theirs.geom.to_image().solid_angle().to_value("sr")
    binsz = float(np.max(ours.geom.pixel_scales.to_value("deg")))
    if binsz < 10:
        assert_allclose(omega_ours, omega_theirs, rtol=max(1e-4 * binsz**2, 3e-7))


@pytest.mark.requires_gammapy
@pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")
def test_interp_smooth_cutout_against_gammapy(gammapy_data, rng):
    from gammapy.maps import Map as GammapyMap

    path = gammapy_data / "fermi-3fhl-gc/fermi-3fhl-gc.fits.gz"
    ours = Map.read(path, hdu="EXPOSURE")
    theirs = GammapyMap.read(path, hdu="EXPOSURE")
    n = 500
    lon = rng.uniform(-9.5, 9.5, n)
    lat = rng.uniform(-4.5, 4.5, n)
    energy = 10 ** rng.uniform(4.1, 5.6, n) * u.MeV
    v_ours = ours.interp_by_coord({"lon": lon, "lat": lat, "energy_true": energy}).value
    v_theirs = theirs.interp_by_coord(
        {"lon": lon * u.deg, "lat": lat * u.deg, "energy_true": energy}
    )
    assert_allclose(v_ours, v_theirs, rtol=1e-12)
    g_ours = ours.get_by_coord({"lon": lon, "lat": lat, "energy_true": energy}).value
    g_theirs = theirs.get_by_coord({"lon": lon * u.deg, "lat": lat * u.deg, "energy_true": energy})
    assert_allclose(g_ours, g_theirs, rtol=0)

    counts = Map.read(path, hdu="COUNTS")
    counts_gp = GammapyMap.read(path, hdu="COUNTS")
    for kernel in ("gauss", "disk", "box"):
        assert_allclose(
            counts.smooth(0.2 * u.deg, kernel=kernel, mode="reflect").data,
            counts_gp.smooth(0.2 * u.deg, kernel=kernel).data,
            rtol=1e-9,
            atol=1e-12,
        )
    position = SkyCoord(0.5, 0.3, unit="deg", frame="galactic")
    cut = counts.cutout(position, width=2.0)
    cut_gp = counts_gp.cutout(position, width=2.0 * u.deg)
    assert_array_equal(cut.data, cut_gp.data)
    assert (
        cut.geom.to_image()
        .get_coord()
        .skycoord.separation(cut_gp.geom.to_image().get_coord().skycoord)
        .max()
        .deg
        < 1e-10
    )


@pytest.mark.requires_gammapy
@pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")
def test_fill_events_against_gammapy(gammapy_data):
    from astropy.table import Table
    from gammapy.maps import Map as GammapyMap

    folder = gammapy_data / "fermi-3fhl-gc"
    events = Table.read(folder / "fermi-3fhl-gc-events.fits.gz", hdu="EVENTS")
    ours = Map.from_geom(Map.read(folder / "fermi-3fhl-gc-counts-cube.fits.gz", unit="").geom)
    ours.fill_by_coord(
        {"lon": events["L"].data, "lat": events["B"].data, "energy": events["ENERGY"].quantity}
    )
    geom_gp = GammapyMap.read(folder / "fermi-3fhl-gc-counts-cube.fits.gz").geom
    theirs = GammapyMap.from_geom(geom_gp)
    theirs.fill_by_coord(
        {
            "lon": events["L"].quantity,
            "lat": events["B"].quantity,
            "energy": events["ENERGY"].quantity,
        }
    )
    assert_array_equal(ours.data, theirs.data)
    assert ours.data.sum() == 32734  # of 32843 events; the rest fall outside the map


def test_region_table_without_region_is_refused_clearly(gammapy_data):
    from gammaprob.utils.errors import FormatError

    with pytest.raises(
        FormatError, match=r"fermi-3fhl-gc.fits.gz.*HDU 'PSF'.*without a REGION HDU"
    ):
        Map.read(gammapy_data / "fermi-3fhl-gc/fermi-3fhl-gc.fits.gz", hdu="PSF")
