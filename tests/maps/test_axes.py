import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from astropy.time import Time
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from gammaprob.maps import LabelMapAxis, MapAxes, MapAxis, TimeMapAxis
from gammaprob.utils.errors import FormatError


def energy_axis(nbin=3):
    return MapAxis.from_energy_bounds(1 * u.TeV, 1000 * u.TeV, nbin)


def test_energy_bounds_edges_and_centers():
    axis = energy_axis()
    assert axis.nbin == 3 and len(axis) == 3
    assert axis.name == "energy" and axis.interp == "log" and axis.unit == u.TeV
    assert_allclose(axis.edges.to_value("TeV"), [1, 10, 100, 1000], rtol=1e-15)
    assert_allclose(axis.center.to_value("TeV"), np.sqrt([10, 1000, 100000]), rtol=1e-14)
    assert_allclose(axis.bin_width.to_value("TeV"), [9, 90, 900], rtol=1e-13)
    assert_allclose(axis.bounds.to_value("TeV"), [1, 1000])
    assert_allclose(axis.edges_min.value, [1, 10, 100], rtol=1e-15)
    assert_allclose(axis.edges_max.value, [10, 100, 1000], rtol=1e-15)


def test_per_decade():
    axis = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 5, per_decade=True)
    assert axis.nbin == 15  # log10(1000) * 5, without float noise making it 16
    axis = MapAxis.from_energy_bounds(0.1, 20, 5, unit="TeV", per_decade=True)
    assert axis.nbin == int(np.ceil(np.log10(200) * 5))


def test_sqrt_and_lin_centers():
    lin = MapAxis.from_edges([0, 1, 3], unit="deg", name="offset")
    assert_allclose(lin.center.value, [0.5, 2])
    sq = MapAxis.from_edges([0, 1, 4], interp="sqrt", name="x")
    assert_allclose(sq.center.value, [0.25, 2.25])


def test_center_nodes_edges():
    axis = MapAxis.from_nodes([1, 10, 100], unit="TeV", interp="log", name="energy_true")
    assert axis.node_type == "center" and axis.nbin == 3
    assert_allclose(axis.center.value, [1, 10, 100])
    assert_allclose(axis.edges.value, [10**-0.5, 10**0.5, 10**1.5, 10**2.5], rtol=1e-14)


def test_coord_to_pix_idx_conventions():
    axis = energy_axis()
    assert_allclose(axis.coord_to_pix(axis.edges), [-0.5, 0.5, 1.5, 2.5], atol=1e-12)
    assert_allclose(axis.coord_to_pix(axis.center), [0, 1, 2], atol=1e-12)
    # linear extrapolation in log space outside the axis
    assert_allclose(axis.coord_to_pix(0.1 * u.TeV), -1.5, atol=1e-12)
    idx = axis.coord_to_idx([0.5, 1, 9.99, 10, 1000, 1001, np.nan] * u.TeV)
    assert_array_equal(idx, [-1, 0, 0, 1, 2, -1, -1])
    idx = axis.coord_to_idx([0.5, 1001, np.nan] * u.TeV, clip=True)
    assert_array_equal(idx, [0, 2, -1])
    assert_allclose(axis.coord_to_pix(1 * u.GeV), -3.5, atol=1e-12)  # three decades below


def test_coord_unit_errors():
    axis = energy_axis()
    with pytest.raises(TypeError, match="Quantity"):
        axis.coord_to_pix(3.0)
    with pytest.raises(ValueError, match="not TeV"):
        axis.coord_to_pix(3 * u.deg)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.01, 1e4), min_size=2, max_size=12, unique=True),
    st.sampled_from(["lin", "log", "sqrt"]),
    st.sampled_from(["edges", "center"]),
)
def test_pix_coord_round_trip(values, interp, node_type):
    nodes = np.sort(values)
    if np.any(np.diff(nodes) / nodes[1:] < 1e-6):
        return
    axis = MapAxis(nodes * u.TeV, node_type=node_type, interp=interp, name="energy")
    # inside the nodes: pixel range of the edges, or between the first and last centre
    lo, hi = (-0.5, axis.nbin - 0.5) if node_type == "edges" else (0, axis.nbin - 1)
    pix = np.linspace(lo, hi, 7) if hi > lo else np.array([0.0])
    coord = axis.pix_to_coord(pix)
    assert_allclose(axis.coord_to_pix(coord), pix, atol=1e-8)
    if node_type == "edges":
        # pixel coordinates of the edges are exact half-integers
        assert_allclose(axis.coord_to_pix(axis.edges), np.arange(axis.nbin + 1) - 0.5, atol=1e-9)
        idx = axis.coord_to_idx(axis.center)
        assert_array_equal(idx, np.arange(axis.nbin))


@pytest.mark.parametrize(
    ("nodes", "kwargs", "match"),
    [
        ([1, 3, 2], {"unit": "TeV", "name": "energy"}, "strictly increasing"),
        ([1, np.nan, 3], {"unit": "TeV"}, "NaN"),
        ([1], {"unit": "TeV"}, "at least 2"),
        ([0, 1, 2], {"unit": "TeV", "interp": "log"}, "positive"),
        ([1, 2, 3], {"name": "energy"}, "needs a unit of energy"),
        ([1, 2, 3], {"name": "offset", "unit": "TeV"}, "angle"),
        ([1, 2], {"node_type": "bins"}, "node_type"),
        ([1, 2], {"interp": "cubic"}, "interp"),
    ],
)
def test_invalid_axes(nodes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MapAxis(nodes, **kwargs)


def test_energy_bounds_requires_unit():
    with pytest.raises(ValueError, match="no unit"):
        MapAxis.from_energy_bounds(1, 10, 3)


def test_up_down_squash_slice():
    axis = MapAxis.from_energy_bounds(1 * u.TeV, 100 * u.TeV, 4)
    up = axis.upsample(3)
    assert up.nbin == 12
    assert_array_equal(up.edges.value[::3], axis.edges.value)  # original edges exact
    assert_allclose(np.diff(np.log(up.edges.value)), np.log(100) / 12, rtol=1e-12)
    assert up.downsample(3) == axis
    with pytest.raises(ValueError, match="does not divide"):
        axis.downsample(3)
    sq = axis.squash()
    assert sq.nbin == 1
    assert_allclose(sq.edges.value, [1, 100])
    sl = axis.slice(slice(1, 3))
    assert_allclose(sl.edges.value, axis.edges.value[1:4])
    assert axis.slice(-1).nbin == 1
    with pytest.raises(ValueError, match="step"):
        axis.slice(slice(0, 4, 2))
    nodes = MapAxis.from_nodes([0, 1, 2], unit="deg", name="rad")
    assert_allclose(nodes.upsample(2).center.value, [0, 0.5, 1, 1.5, 2])
    assert_allclose(nodes.slice(slice(1, None)).center.value, [1, 2])


def test_equality_copy_and_alignment():
    a = energy_axis()
    b = MapAxis.from_edges(a.edges.to("GeV"), interp="log", name="energy")
    assert a.is_aligned(b)
    assert a != b  # different unit
    assert a == a.copy()
    c = a.copy(name="energy_true")
    assert c.name == "energy_true" and c.is_aligned(a) and c != a
    assert hash(a) == hash(a.copy())
    with pytest.raises(TypeError, match="unknown"):
        a.copy(bins=3)
    assert "nbin=3" in repr(a) and "TeV" in repr(a)


def test_gadf_dl3_columns_round_trip():
    axis = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 6, name="energy_true")
    cols = axis.to_table_columns()
    assert list(cols) == ["ENERG_LO", "ENERG_HI"]
    one_row = Table({k: [v] for k, v in cols.items()})
    back = MapAxis.from_table_columns(one_row, "ENERG")
    assert back == axis
    flat = Table(cols)
    assert MapAxis.from_table_columns(flat, "ENERG", name="energy") == axis.copy(name="energy")
    flat.meta["HDUCLAS2"] = "BKG"
    assert MapAxis.from_table_columns(flat, "ENERG").name == "energy"
    offset = MapAxis.from_nodes([0, 0.5, 1.0], unit="deg", name="offset")
    table = Table({k: [v] for k, v in offset.to_table_columns().items()})
    assert "THETA_LO" in table.colnames
    assert MapAxis.from_table_columns(table, "THETA") == offset


def test_gadf_dl3_bad_columns():
    table = Table({"ENERG_LO": [[1.0, 2.0, 4.0]], "ENERG_HI": [[2.0, 3.0, 5.0]]})
    table["ENERG_LO"].unit = table["ENERG_HI"].unit = "TeV"
    table.meta["EXTNAME"] = "EFFECTIVE AREA"
    with pytest.raises(FormatError, match=r"EFFECTIVE AREA.*not contiguous"):
        MapAxis.from_table_columns(table, "ENERG")
    table = Table({"ENERG_LO": [[1.0, 2.0]], "ENERG_HI": [[2.0, 3.0]]})
    with pytest.raises(FormatError, match="needs a unit of energy"):
        MapAxis.from_table_columns(table, "ENERG")
    with pytest.raises(FormatError, match="MIGRA_LO"):
        MapAxis.from_table_columns(table, "MIGRA")
    table = Table(
        {"ENERG_LO": [[2.0, 1.0]], "ENERG_HI": [[1.0, 0.5]]},
        units={"ENERG_LO": "TeV", "ENERG_HI": "TeV"},
    )
    with pytest.raises(FormatError, match="strictly increasing"):
        MapAxis.from_table_columns(table, "ENERG")


def test_ogip_tables():
    axis = MapAxis.from_energy_bounds(0.1 * u.TeV, 100 * u.TeV, 6)
    ebounds = axis.to_table("ogip")
    assert ebounds.meta["EXTNAME"] == "EBOUNDS"
    assert ebounds.colnames == ["CHANNEL", "E_MIN", "E_MAX"]
    assert ebounds["E_MIN"].unit == u.keV
    back = MapAxis.from_table(ebounds, "ogip")
    assert back.is_aligned(axis, rtol=1e-12) and back.name == "energy"
    arf = axis.copy(name="energy_true").to_table("ogip-arf")
    assert arf.meta["EXTNAME"] == "ENERGIES"
    back = MapAxis.from_table(arf, "ogip-arf")
    assert back.name == "energy_true" and back.is_aligned(axis, rtol=1e-12)
    with pytest.raises(ValueError, match="energy axis"):
        MapAxis.from_edges([0, 1], unit="deg", name="offset").to_table()


def test_time_axis_with_gaps():
    ref = Time(55000.0, format="mjd", scale="tt")
    axis = TimeMapAxis([0, 2, 5] * u.d, [1, 3, 6] * u.d, ref)
    assert axis.nbin == 3 and not axis.is_contiguous
    t = Time([55000.5, 55001.5, 55002.25, 55006.0, 55007.0, 54999.0], format="mjd", scale="tt")
    assert_array_equal(axis.coord_to_idx(t), [0, -1, 1, 2, -1, -1])
    assert_array_equal(axis.coord_to_idx(t, clip=True), [0, -1, 1, 2, 2, 0])
    assert_allclose(axis.coord_to_pix(t), [0, np.nan, 0.75, 2.5, np.nan, np.nan])
    back = axis.pix_to_coord([0.0, 0.75, 2.5])
    assert_allclose(back.mjd, [55000.5, 55002.25, 55006.0], rtol=0, atol=1e-9)
    assert_allclose(axis.time_delta.to_value("d"), [1, 1, 1])
    with pytest.raises(ValueError, match="gaps"):
        _ = axis.edges
    sq = axis.squash()
    assert sq.nbin == 1
    assert_allclose(sq.time_max.mjd, 55006.0)
    assert axis.slice(slice(1, 3)).nbin == 2
    assert axis == axis.copy()
    contiguous = TimeMapAxis.from_time_bounds(ref, ref + 4 * u.d, 4)
    assert contiguous.is_contiguous
    assert_allclose(contiguous.edges.value, [0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="overlap"):
        TimeMapAxis([0, 0.5] * u.d, [1, 2] * u.d, ref)
    with pytest.raises(ValueError, match="time unit"):
        TimeMapAxis([0] * u.m, [1] * u.m, ref)
    assert "TimeMapAxis" in repr(axis)


def test_label_axis():
    axis = LabelMapAxis(["hess", "magic", "fermi"], name="dataset")
    assert axis.nbin == 3
    assert_array_equal(axis.coord_to_idx(["fermi", "hess"]), [2, 0])
    assert_array_equal(axis.pix_to_coord([0, 1.2]), ["hess", "magic"])
    with pytest.raises(KeyError, match="veritas"):
        axis.coord_to_idx("veritas")
    with pytest.raises(ValueError, match="unique"):
        LabelMapAxis(["a", "a"])
    assert axis.squash().center[0] == "hess...fermi"
    assert axis.slice(slice(0, 2)) == LabelMapAxis(["hess", "magic"], name="dataset")


def test_map_axes_lookup():
    energy = energy_axis()
    migra = MapAxis.from_edges([0.2, 1, 5], name="migra")
    axes = MapAxes([energy, migra])
    assert axes.names == ["energy", "migra"]
    assert axes.shape == (3, 2)
    assert axes["migra"] is migra and axes[0] is energy
    assert "energy" in axes and "offset" not in axes
    assert axes.index_data("energy") == 1
    with pytest.raises(KeyError, match="available axes"):
        axes["offset"]
    assert axes.drop("energy").names == ["migra"]
    assert axes.replace(energy.squash()).shape == (1, 2)
    assert axes[1:].names == ["migra"]
    with pytest.raises(ValueError, match="unique"):
        MapAxes([energy, energy])
    with pytest.raises(ValueError, match="needs a name"):
        MapAxes([energy, MapAxis([0, 1])])
    assert axes == MapAxes([energy.copy(), migra.copy()])
    assert "migra" in repr(axes)
