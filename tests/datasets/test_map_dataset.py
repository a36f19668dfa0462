import astropy.units as u
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gammaprob.datasets import IRFMap, MapDataset, read_map_dataset
from gammaprob.irf.edisp_kernel import EDispKernel
from gammaprob.maps import Map, MapAxis, WcsGeom
from gammaprob.utils.errors import FormatError


def make_map_dataset(name="map", n_e=3):
    axis = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, n_e, name="energy")
    axis_true = MapAxis.from_energy_bounds(0.5 * u.TeV, 20 * u.TeV, 4, name="energy_true")
    geom = WcsGeom.create(skydir=(83.6, 22.0), width=1.0, binsz=0.25, axes=[axis])
    rng = np.random.default_rng(3)
    counts = Map(geom, data=rng.poisson(3, geom.data_shape).astype(float))
    exposure = Map(geom.to_image().to_cube([axis_true]), data=np.full((4, 4, 4), 1e9), unit="cm2 s")
    background = Map(geom, data=np.full(geom.data_shape, 0.5))
    kernel = EDispKernel(axis_true, axis, np.full((4, n_e), 0.2))
    mask = np.ones(geom.data_shape, bool)
    mask[0] = False
    return MapDataset(
        name=name,
        counts=counts,
        exposure=exposure,
        background=background,
        edisp=kernel,
        mask_safe=mask,
        meta={"livetime": 100 * u.s},
    )


def test_arrays_and_checks():
    ds = make_map_dataset()
    assert ds.energy_axis.nbin == 3 and ds.energy_axis_true.nbin == 4
    assert ds.mask.sum() == 2 * 16
    assert_allclose(ds.edisp_matrix(), np.full((4, 3), 0.2))
    with pytest.raises(ValueError, match="read-only"):
        ds.counts.data[0, 0, 0] = 1
    bad = ds.counts.data.copy()
    bad[1, 2, 3] = 1.5
    with pytest.raises(
        ValueError, match=r"counts: counts must be finite non-negative integers.*\(1, 2, 3\)"
    ):
        ds.replace(counts=Map(ds.geom, data=bad))
    with pytest.raises(ValueError, match="background geometry differs from counts"):
        ds.replace(background=Map(ds.exposure.geom, data=np.ones((4, 4, 4))))
    other_geom = WcsGeom.create(skydir=(0, 0), width=1.0, binsz=0.25, axes=[ds.energy_axis_true])
    with pytest.raises(ValueError, match="exposure and counts must share the spatial geometry"):
        ds.replace(exposure=Map(other_geom, data=np.ones((4, 4, 4)), unit="cm2 s"))
    with pytest.raises(ValueError, match="exposure unit s is not area x time"):
        ds.replace(exposure=Map(ds.exposure.geom, data=np.ones((4, 4, 4)), unit="s"))
    with pytest.raises(ValueError, match="all 48 bins are masked"):
        ds.replace(mask_safe=np.zeros(ds.geom.data_shape, bool)).check_fittable()


def test_slice_by_energy():
    ds = make_map_dataset()
    sliced = ds.slice_by_energy(2 * u.TeV, 10 * u.TeV)
    assert sliced.energy_axis.nbin == 2
    assert_array_equal(sliced.counts.data, ds.counts.data[1:])
    assert_array_equal(sliced.edisp_matrix(), ds.edisp_matrix()[:, 1:])
    assert sliced.exposure is ds.exposure or np.array_equal(sliced.exposure.data, ds.exposure.data)


def test_write_read_round_trip(tmp_path):
    ds = make_map_dataset()
    ds.write(tmp_path / "map.fits")
    back = read_map_dataset(tmp_path / "map.fits")
    assert back.name == "map"
    for key in ("counts", "exposure", "background", "mask_safe"):
        assert_array_equal(getattr(back, key).data, getattr(ds, key).data)
        assert getattr(back, key).geom == getattr(ds, key).geom
    assert isinstance(back.edisp, IRFMap)
    assert_array_equal(back.edisp_matrix(), ds.edisp_matrix())
    assert back.livetime == 100 * u.s
    with pytest.raises(FileExistsError):
        ds.write(tmp_path / "map.fits")


def test_read_rejects_non_integer_counts(tmp_path):
    from astropy.io import fits

    ds = make_map_dataset()
    ds.write(tmp_path / "map.fits")
    with fits.open(tmp_path / "map.fits", mode="update") as hdulist:
        hdulist["COUNTS"].data[0, 0, 0] = 0.5
    with pytest.raises(
        FormatError, match=r"map.fits'.*HDU 'COUNTS': counts must be non-negative integers"
    ):
        read_map_dataset(tmp_path / "map.fits")


def test_exposure_without_bunit_says_to_pass_unit(tmp_path):
    """A map file without BUNIT reads as dimensionless; as an exposure it is refused with the fix."""
    from astropy.io import fits

    ds = make_map_dataset()
    ds.exposure.write(tmp_path / "exposure.fits")
    with fits.open(tmp_path / "exposure.fits", mode="update") as hdulist:
        del hdulist[0].header["BUNIT"]
    exposure = Map.read(tmp_path / "exposure.fits")
    assert exposure.unit == u.one
    with pytest.raises(
        ValueError,
        match=r"exposure unit dimensionless is not area x time .*without BUNIT.*"
        r"Map.read\(path, unit='cm2 s'\)",
    ):
        ds.replace(exposure=exposure)
    fixed = ds.replace(exposure=Map.read(tmp_path / "exposure.fits", unit="cm2 s"))
    assert_array_equal(fixed.exposure.data, ds.exposure.data)


def test_read_map_dataset_refuses_exposure_without_bunit(tmp_path):
    from astropy.io import fits

    make_map_dataset().write(tmp_path / "map.fits")
    with fits.open(tmp_path / "map.fits", mode="update") as hdulist:
        del hdulist["EXPOSURE"].header["BUNIT"]
    with pytest.raises(
        FormatError,
        match=r"map.fits'.*HDU 'EXPOSURE'.*BUNIT.*area x time unit, got 'dimensionless'",
    ):
        read_map_dataset(tmp_path / "map.fits")


MAP_FILES = [
    "fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits",
    "hawc/DL4/nHit-5.fits.gz",
    "hawc/DL4/nHit-9.fits.gz",
    # PSF and EDISP are region tables without a REGION HDU (one IRF for every position)
    "fermi-3fhl-gc/fermi-3fhl-gc.fits.gz",
]


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.parametrize("filename", MAP_FILES)
def test_against_gammapy(gammapy_data, filename, tmp_path):
    from gammapy.datasets import MapDataset as GMapDataset

    path = gammapy_data / filename
    ours = read_map_dataset(path)
    theirs = GMapDataset.read(path)
    assert_array_equal(ours.counts.data, theirs.counts.data)
    assert_array_equal(
        ours.exposure.quantity.to_value("cm2 s"), theirs.exposure.quantity.to_value("cm2 s")
    )
    assert_array_equal(ours.background.data, theirs.background.data)
    assert_array_equal(ours.mask_safe.data, theirs.mask_safe.data)
    assert_array_equal(ours.edisp.irf_map.data, theirs.edisp.edisp_map.data)
    assert_array_equal(ours.psf.irf_map.data, theirs.psf.psf_map.data)
    assert_allclose(
        ours.energy_axis.edges.to_value("TeV"),
        theirs.counts.geom.axes["energy"].edges.to_value("TeV"),
    )
    # write + read is exact
    ours.write(tmp_path / "copy.fits")
    back = read_map_dataset(tmp_path / "copy.fits")
    for key in ("counts", "exposure", "background", "mask_safe"):
        assert_array_equal(getattr(back, key).data, getattr(ours, key).data)
    assert back.geom == ours.geom


@pytest.mark.requires_data
@pytest.mark.requires_gammapy
@pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")  # raised in gammapy's Map.read
def test_fermi_gc_cubes_against_gammapy(gammapy_data):
    from gammapy.irf import PSFMap
    from gammapy.maps import Map as GMap

    from gammaprob.datasets import map_dataset_from_fermi_cubes

    prefix = gammapy_data / "fermi-3fhl-gc"
    files = [
        prefix / f"fermi-3fhl-gc-{kind}-cube.fits.gz"
        for kind in ("counts", "exposure", "background", "psf")
    ]
    ours = map_dataset_from_fermi_cubes(*files, name="gc")
    counts = GMap.read(files[0])
    exposure = GMap.read(files[1]).interp_to_geom(counts.geom.as_energy_true)
    assert_array_equal(ours.counts.data, counts.data)
    assert_allclose(ours.exposure.data, exposure.quantity.to_value("cm2 s"), rtol=1e-12)
    assert_array_equal(ours.background.data, GMap.read(files[2]).data)
    psf = PSFMap.read(files[3], format="gtpsf")
    assert_allclose(ours.psf.irf_map.data, psf.psf_map.quantity.to_value("sr-1"), rtol=1e-12)
    assert ours.edisp is None and ours.edisp_matrix().shape == (11, 11)


def test_all_masked_file_is_refused(tmp_path):
    ds = make_map_dataset().replace(mask_safe=np.zeros((3, 4, 4), bool))
    ds.write(tmp_path / "map.fits")
    with pytest.raises(FormatError, match=r"HDU 'MASK_SAFE': every bin is masked"):
        read_map_dataset(tmp_path / "map.fits")


def test_on_off_round_trip(tmp_path):
    from gammaprob.datasets import MapDatasetOnOff

    ds = make_map_dataset()
    geom = ds.geom
    onoff = MapDatasetOnOff(
        name="onoff",
        counts=ds.counts,
        exposure=ds.exposure,
        edisp=ds.edisp,
        counts_off=Map(geom, data=np.full(geom.data_shape, 7.0)),
        acceptance=Map(geom, data=np.ones(geom.data_shape)),
        acceptance_off=Map(geom, data=np.full(geom.data_shape, 4.0)),
    )
    assert_allclose(onoff.alpha, 0.25)
    with pytest.raises(ValueError, match="takes counts_off, not a background"):
        onoff.replace(background=ds.background)
    onoff.write(tmp_path / "onoff.fits")
    back = read_map_dataset(tmp_path / "onoff.fits")
    assert isinstance(back, MapDatasetOnOff)
    assert_array_equal(back.counts_off.data, onoff.counts_off.data)
    assert_array_equal(back.alpha, onoff.alpha)
    sliced = back.slice_by_energy(2 * u.TeV, 10 * u.TeV)
    assert sliced.counts_off.data.shape == (2, 4, 4)


def test_irf_map_pixel_lookup():
    from astropy.coordinates import SkyCoord

    axis = MapAxis.from_energy_bounds(1 * u.TeV, 10 * u.TeV, 2, name="energy")
    axis_true = axis.copy(name="energy_true")
    geom = WcsGeom.create(skydir=(10.0, 0.0), width=3.0, binsz=1.0, axes=[axis, axis_true])
    data = np.zeros(geom.data_shape)
    data[:, :, 1, 2] = np.eye(2)
    irf = IRFMap(Map(geom, data=data))
    assert irf.pixel_index() == (1, 1)
    assert irf.pixel_index(SkyCoord(9.0, 0.0, unit="deg")) == (1, 2)  # longitude grows to the left
    with pytest.raises(TypeError, match="irf_map must be a Map"):
        IRFMap(data)


def test_classmethod_read(tmp_path):
    ds = make_map_dataset()
    ds.write(tmp_path / "map.fits")
    assert MapDataset.read(tmp_path / "map.fits", name="x").name == "x"
    from gammaprob.datasets import MapDatasetOnOff

    with pytest.raises(TypeError, match="holds a MapDataset, not a MapDatasetOnOff"):
        MapDatasetOnOff.read(tmp_path / "map.fits")


@pytest.mark.requires_data
def test_position_independent_irfs_apply_everywhere(gammapy_data):
    """fermi-3fhl-gc stores one PSF and one EDISP (region tables without a REGION HDU)."""
    ours = read_map_dataset(gammapy_data / "fermi-3fhl-gc" / "fermi-3fhl-gc.fits.gz")
    corner = ours.geom.to_image().get_coord().skycoord[0, 0]
    matrix = ours.edisp_matrix()
    assert matrix.shape == (12, 11)
    assert_array_equal(ours.edisp_matrix(corner), matrix)
    assert_allclose(matrix[1:-1].sum(axis=1), 1.0, rtol=1e-6)
    assert ours.psf.irf_map.geom.data_shape == (11, 130, 1, 1)
