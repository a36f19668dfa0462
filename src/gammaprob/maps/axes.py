"""Binned axes of maps and IRFs: :class:`MapAxis` (and :class:`MapAxes`, re-exported).

A :class:`MapAxis` is one non-spatial dimension (energy, offset, migration, ...) given by its
nodes: bin edges (``node_type="edges"``) or bin centres (``node_type="center"``). Pixel
coordinates follow the FITS/gammapy convention: bin ``i`` covers pixel coordinates
``[i - 0.5, i + 0.5)`` and its centre is at pixel ``i``. Interpolation between nodes is linear
in the transformed coordinate given by ``interp`` (``"lin"``, ``"log"`` or ``"sqrt"``), so
energy centres of a log axis are geometric means of the edges.

Values are kept as read-only float64 arrays in the axis unit; the public properties return
:class:`~astropy.units.Quantity`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import astropy.units as u
import numpy as np

from .axis_interp import edges_from_centers, forward, interp_extrapolate, inverse, pix_to_idx
from .map_axes import MapAxes

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["STANDARD_AXIS_NAMES", "MapAxes", "MapAxis"]

INTERP_TYPES = ("lin", "log", "sqrt")
NODE_TYPES = ("edges", "center")

#: Standard axis names and the physical type of their unit.
STANDARD_AXIS_NAMES = {
    "energy": "energy",
    "energy_true": "energy",
    "migra": "dimensionless",
    "offset": "angle",
    "rad": "angle",
    "fov_lon": "angle",
    "fov_lat": "angle",
}


def _to_unit_array(values: Any, unit: Any, what: str) -> tuple[np.ndarray, u.UnitBase]:
    """Split a Quantity or array (+ unit) into a float64 array and a unit."""
    if isinstance(values, u.Quantity):
        if unit is not None:
            unit = u.Unit(unit)
            try:
                values = values.to(unit)
            except u.UnitConversionError as exc:
                raise ValueError(f"{what}: cannot convert {values.unit} to {unit}") from exc
        return np.array(values.value, dtype=float), values.unit
    unit = u.dimensionless_unscaled if unit is None else u.Unit(unit)
    return np.array(values, dtype=float), unit


def _check_unit_for_name(name: str, unit: u.UnitBase) -> None:
    """Raise if a standard axis name comes with a unit of the wrong kind (or none)."""
    kind = STANDARD_AXIS_NAMES.get(name)
    if kind is None:
        return
    expected = {"energy": u.TeV, "angle": u.deg, "dimensionless": u.one}[kind]
    if not unit.is_equivalent(expected):
        shown = "no unit" if unit == u.one else f"unit {unit}"
        raise ValueError(
            f"axis {name!r} needs a unit of {kind} (e.g. {expected or 'dimensionless'}), got {shown}"
        )


# --------------------------------------------------------------------------------------------
# MapAxis
# --------------------------------------------------------------------------------------------
class MapAxis:
    """One binned, non-spatial axis of a map or IRF.

    Parameters
    ----------
    nodes : array-like or `~astropy.units.Quantity`
        Bin edges (``node_type="edges"``, at least two) or bin centres (``node_type="center"``,
        at least one), strictly increasing, finite.
    node_type : {"edges", "center"}
        Meaning of ``nodes``.
    interp : {"lin", "log", "sqrt"}
        Space in which the axis is linear: centres, interpolation and pixel coordinates are
        computed there. ``"log"`` needs positive nodes.
    name : str
        Axis name. The standard names ``energy``, ``energy_true`` (energy unit), ``migra``
        (dimensionless), ``offset``, ``rad``, ``fov_lon``, ``fov_lat`` (angle unit) are checked
        for a matching unit.
    unit : str or `~astropy.units.Unit`, optional
        Unit of plain-array ``nodes``, or the unit a Quantity is converted to.

    Raises
    ------
    ValueError
        Too few nodes, nodes not strictly increasing, NaN/inf nodes, non-positive nodes for
        ``interp="log"``, unknown ``node_type``/``interp``, or a unit not matching a standard name.

    Examples
    --------
    >>> import astropy.units as u
    >>> axis = MapAxis.from_energy_bounds(1 * u.TeV, 100 * u.TeV, nbin=2)
    >>> axis.center
    <Quantity [ 3.16227766, 31.6227766 ] TeV>
    """

    def __init__(
        self,
        nodes: Any,
        node_type: str = "edges",
        interp: str = "lin",
        name: str = "",
        unit: Any = None,
    ) -> None:
        if node_type not in NODE_TYPES:
            raise ValueError(f"node_type must be one of {NODE_TYPES}, got {node_type!r}")
        if interp not in INTERP_TYPES:
            raise ValueError(f"interp must be one of {INTERP_TYPES}, got {interp!r}")
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        values, unit = _to_unit_array(nodes, unit, f"MapAxis {name!r} nodes")
        if values.ndim != 1:
            raise ValueError(
                f"MapAxis {name!r}: nodes must be one-dimensional, got shape {values.shape}"
            )
        minimum = 2 if node_type == "edges" else 1
        if values.size < minimum:
            raise ValueError(
                f"MapAxis {name!r}: need at least {minimum} {node_type} node(s), got {values.size}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(f"MapAxis {name!r}: nodes contain NaN or inf: {values}")
        if np.any(np.diff(values) <= 0):
            raise ValueError(f"MapAxis {name!r}: nodes must be strictly increasing, got {values}")
        if interp == "log" and values[0] <= 0:
            raise ValueError(f"MapAxis {name!r}: interp='log' needs positive nodes, got {values}")
        if interp == "sqrt" and values[0] < 0:
            raise ValueError(f"MapAxis {name!r}: interp='sqrt' needs non-negative nodes")
        _check_unit_for_name(name, unit)
        values.setflags(write=False)
        self._nodes = values
        self._node_type = node_type
        self._interp = interp
        self._name = name
        self._unit = unit

    # ---- constructors -----------------------------------------------------------------------
    @classmethod
    def from_edges(
        cls, edges: Any, unit: Any = None, interp: str = "lin", name: str = ""
    ) -> MapAxis:
        """Create an axis from bin edges.

        Parameters
        ----------
        edges : array-like or `~astropy.units.Quantity`
            Strictly increasing bin edges (``nbin + 1`` values).
        unit, interp, name
            As for :class:`MapAxis`.

        Returns
        -------
        MapAxis
            The axis.
        """
        return cls(edges, node_type="edges", interp=interp, name=name, unit=unit)

    @classmethod
    def from_nodes(
        cls, nodes: Any, unit: Any = None, interp: str = "lin", name: str = ""
    ) -> MapAxis:
        """Create an axis from bin centres (explicit interpolation nodes).

        Parameters
        ----------
        nodes : array-like or `~astropy.units.Quantity`
            Strictly increasing node values.
        unit, interp, name
            As for :class:`MapAxis`.

        Returns
        -------
        MapAxis
            The axis.
        """
        return cls(nodes, node_type="center", interp=interp, name=name, unit=unit)

    @classmethod
    def from_bounds(
        cls,
        lo_bnd: float,
        hi_bnd: float,
        nbin: int,
        unit: Any = None,
        interp: str = "lin",
        name: str = "",
        node_type: str = "edges",
    ) -> MapAxis:
        """Create an axis with ``nbin`` bins equally spaced in ``interp`` space.

        Parameters
        ----------
        lo_bnd, hi_bnd : float or `~astropy.units.Quantity`
            Lower and upper bound (first and last edge, or first and last centre for
            ``node_type="center"``).
        nbin : int
            Number of bins (>= 1).
        unit, interp, name, node_type
            As for :class:`MapAxis`.

        Returns
        -------
        MapAxis
            The axis.
        """
        nbin = _check_nbin(nbin, "nbin")
        if unit is not None:
            unit = u.Unit(unit)
        else:
            unit = lo_bnd.unit if isinstance(lo_bnd, u.Quantity) else u.one
        lo = float(u.Quantity(lo_bnd, unit).value)
        hi = float(u.Quantity(hi_bnd, unit).value)
        nnodes = nbin + 1 if node_type == "edges" else nbin
        t = np.linspace(forward(lo, interp), forward(hi, interp), nnodes)
        nodes = inverse(t, interp)
        # Keep the bounds exact (exp(log(x)) may differ from x in the last digit).
        nodes[0], nodes[-1] = lo, hi
        return cls(nodes, node_type=node_type, interp=interp, name=name, unit=unit)

    @classmethod
    def from_energy_bounds(
        cls,
        energy_min: Any,
        energy_max: Any,
        nbin: int,
        unit: Any = None,
        per_decade: bool = False,
        name: str = "energy",
        node_type: str = "edges",
    ) -> MapAxis:
        """Create a log-spaced energy axis.

        Parameters
        ----------
        energy_min, energy_max : `~astropy.units.Quantity` or float
            Energy range; plain floats need ``unit``.
        nbin : int
            Number of bins, or bins per decade with ``per_decade=True`` (then the total is
            ``ceil(nbin * log10(energy_max / energy_min))``, ignoring rounding noise below 1e-9).
        unit : str or `~astropy.units.Unit`, optional
            Unit of the axis (default: the unit of ``energy_min``).
        per_decade : bool
            Interpret ``nbin`` per decade.
        name : {"energy", "energy_true"} or str
            Axis name.
        node_type : {"edges", "center"}
            Whether the bounds are edges or centres.

        Returns
        -------
        MapAxis
            Axis with ``interp="log"``.
        """
        emin = u.Quantity(energy_min, unit)
        emax = u.Quantity(energy_max, unit)
        if unit is None and emin.unit == u.one:
            raise ValueError("from_energy_bounds: energy_min has no unit; pass a Quantity or unit=")
        unit = emin.unit if unit is None else u.Unit(unit)
        emin, emax = emin.to_value(unit), emax.to_value(unit)
        if not 0 < emin < emax:
            raise ValueError(
                f"from_energy_bounds: need 0 < energy_min < energy_max, got {emin}, {emax} {unit}"
            )
        if per_decade:
            nbin = int(np.ceil(np.log10(emax / emin) * nbin - 1e-9))
        return cls.from_bounds(
            emin, emax, nbin, unit=unit, interp="log", name=name, node_type=node_type
        )

    # ---- basic properties --------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Axis name."""
        return self._name

    @property
    def unit(self) -> u.UnitBase:
        """Unit of the nodes."""
        return self._unit

    @property
    def interp(self) -> str:
        """Interpolation space (``"lin"``, ``"log"`` or ``"sqrt"``)."""
        return self._interp

    @property
    def node_type(self) -> str:
        """Whether the nodes are bin ``"edges"`` or bin ``"center"`` values."""
        return self._node_type

    @property
    def nbin(self) -> int:
        """Number of bins."""
        return self._nodes.size - 1 if self._node_type == "edges" else self._nodes.size

    def __len__(self) -> int:
        return self.nbin

    @property
    def nodes(self) -> u.Quantity:
        """The defining nodes (edges or centres) as given."""
        return u.Quantity(self._nodes, self._unit, copy=False)

    @property
    def _edges_values(self) -> np.ndarray:
        if self._node_type == "edges":
            return self._nodes
        return edges_from_centers(self._nodes, self._interp)

    @property
    def _center_values(self) -> np.ndarray:
        if self._node_type == "center":
            return self._nodes
        t = forward(self._nodes, self._interp)
        return inverse(0.5 * (t[1:] + t[:-1]), self._interp)

    @property
    def edges(self) -> u.Quantity:
        """Bin edges (``nbin + 1``); for centre nodes, midway between centres in interp space."""
        return u.Quantity(self._edges_values, self._unit)

    @property
    def edges_min(self) -> u.Quantity:
        """Lower bin edges (``nbin``)."""
        return self.edges[:-1]

    @property
    def edges_max(self) -> u.Quantity:
        """Upper bin edges (``nbin``)."""
        return self.edges[1:]

    @property
    def center(self) -> u.Quantity:
        """Bin centres (midpoints of the edges in interp space; the nodes for centre axes)."""
        return u.Quantity(self._center_values, self._unit)

    @property
    def bin_width(self) -> u.Quantity:
        """Bin widths ``edges_max - edges_min``."""
        return np.diff(self.edges)

    @property
    def bounds(self) -> u.Quantity:
        """First and last edge as a two-element Quantity."""
        edges = self.edges
        return u.Quantity([edges[0], edges[-1]])

    # ---- coordinates --------------------------------------------------------------------------
    def _pix_nodes(self) -> np.ndarray:
        offset = -0.5 if self._node_type == "edges" else 0.0
        return np.arange(self._nodes.size, dtype=float) + offset

    def _coord_value(self, coord: Any) -> np.ndarray:
        if isinstance(coord, u.Quantity):
            try:
                return np.asarray(coord.to_value(self._unit), dtype=float)
            except u.UnitConversionError as exc:
                raise ValueError(
                    f"axis {self._name!r}: coordinate unit {coord.unit} is not {self._unit}"
                ) from exc
        if self._unit != u.one:
            raise TypeError(
                f"axis {self._name!r} has unit {self._unit}; pass coordinates as a Quantity"
            )
        return np.asarray(coord, dtype=float)

    def coord_to_pix(self, coord: Any) -> np.ndarray:
        """Convert axis coordinates to (fractional) pixel coordinates.

        Linear in ``interp`` space between nodes and extrapolated linearly outside the axis.
        Bin ``i`` spans pixels ``[i - 0.5, i + 0.5)``.

        Parameters
        ----------
        coord : `~astropy.units.Quantity` or array-like
            Coordinates (a Quantity unless the axis is dimensionless).

        Returns
        -------
        numpy.ndarray
            Pixel coordinates (NaN for NaN input or values outside the domain of ``interp``).
        """
        x = forward(self._coord_value(coord), self._interp)
        xp = forward(self._nodes, self._interp)
        if xp.size == 1:
            return np.where(x == xp[0], 0.0, np.nan)
        return interp_extrapolate(x, xp, self._pix_nodes())

    def pix_to_coord(self, pix: Any) -> u.Quantity:
        """Convert pixel coordinates to axis coordinates (inverse of :meth:`coord_to_pix`).

        Parameters
        ----------
        pix : array-like
            Pixel coordinates.

        Returns
        -------
        `~astropy.units.Quantity`
            Axis coordinates.
        """
        pix = np.asarray(pix, dtype=float)
        xp = forward(self._nodes, self._interp)
        if xp.size == 1:
            values = np.where(pix == 0, self._nodes[0], np.nan)
        else:
            values = inverse(interp_extrapolate(pix, self._pix_nodes(), xp), self._interp)
        return u.Quantity(values, self._unit)

    def coord_to_idx(self, coord: Any, clip: bool = False) -> np.ndarray:
        """Return the index of the bin containing each coordinate.

        Bins are half-open ``[lo, hi)`` except the last, which includes its upper edge.

        Parameters
        ----------
        coord : `~astropy.units.Quantity` or array-like
            Coordinates.
        clip : bool
            If True, coordinates below the first edge go to bin 0 and above the last edge to
            bin ``nbin - 1``. If False they get index ``-1``.

        Returns
        -------
        numpy.ndarray of int
            Bin indices. ``-1`` marks out-of-range (unless ``clip``) and NaN coordinates (always);
            note that ``-1`` is a valid numpy index, so mask it before indexing.
        """
        x = self._coord_value(coord)
        edges = self._edges_values
        idx = np.searchsorted(edges, x, side="right") - 1
        idx = np.where(x == edges[-1], self.nbin - 1, idx)
        below, above = x < edges[0], x > edges[-1]
        if clip:
            idx = np.where(below, 0, np.where(above, self.nbin - 1, idx))
        else:
            idx = np.where(below | above, -1, idx)
        return np.where(np.isnan(x), -1, idx).astype(np.int64)

    def pix_to_idx(self, pix: Any, clip: bool = False) -> np.ndarray:
        """Round pixel coordinates to bin indices (``-1`` outside or NaN, unless ``clip``).

        Parameters
        ----------
        pix : array-like
            Pixel coordinates.
        clip : bool
            Clip to ``[0, nbin - 1]`` instead of returning ``-1``.

        Returns
        -------
        numpy.ndarray of int
            Bin indices.
        """
        return pix_to_idx(pix, self.nbin, clip)

    def contains(self, coord: Any) -> np.ndarray:
        """Return True where a coordinate lies within the axis edges (inclusive)."""
        x = self._coord_value(coord)
        edges = self._edges_values
        return (x >= edges[0]) & (x <= edges[-1])

    # ---- derived axes --------------------------------------------------------------------------
    def copy(self, **changes: Any) -> MapAxis:
        """Return a copy, optionally with some constructor arguments replaced.

        Parameters
        ----------
        **changes
            Any of ``nodes``, ``node_type``, ``interp``, ``name``, ``unit``.

        Returns
        -------
        MapAxis
            The new axis.
        """
        kwargs = {
            "nodes": self.nodes,
            "node_type": self._node_type,
            "interp": self._interp,
            "name": self._name,
        }
        unknown = set(changes) - {*kwargs, "unit"}
        if unknown:
            raise TypeError(f"MapAxis.copy: unknown arguments {sorted(unknown)}")
        kwargs.update(changes)
        return MapAxis(**kwargs)

    def upsample(self, factor: int) -> MapAxis:
        """Split every bin into ``factor`` bins equally spaced in interp space.

        For centre-node axes, ``factor - 1`` nodes are inserted between neighbours.

        Parameters
        ----------
        factor : int
            Upsampling factor (>= 1).

        Returns
        -------
        MapAxis
            Finer axis with the same range.
        """
        factor = _check_nbin(factor, "factor")
        t = forward(self._nodes, self._interp)
        n = (t.size - 1) * factor + 1
        fine = (
            interp_extrapolate(np.arange(n) / factor, np.arange(t.size, dtype=float), t)
            if t.size > 1
            else t
        )
        nodes = inverse(fine, self._interp)
        nodes[::factor] = self._nodes  # keep the original nodes bit-exact
        return self.copy(nodes=u.Quantity(nodes, self._unit))

    def downsample(self, factor: int) -> MapAxis:
        """Merge every ``factor`` neighbouring bins (keep every ``factor``-th node).

        Parameters
        ----------
        factor : int
            Downsampling factor; must divide ``nbin`` (edges) or ``nbin - 1`` (centres).

        Returns
        -------
        MapAxis
            Coarser axis with the same range.
        """
        factor = _check_nbin(factor, "factor")
        nintervals = self._nodes.size - 1
        if nintervals % factor:
            raise ValueError(
                f"axis {self._name!r}: downsample factor {factor} does not divide the "
                f"{nintervals} node intervals"
            )
        return self.copy(nodes=u.Quantity(self._nodes[::factor], self._unit))

    def squash(self) -> MapAxis:
        """Return a one-bin axis spanning the full edge range."""
        edges = self._edges_values
        return MapAxis(
            u.Quantity([edges[0], edges[-1]], self._unit),
            node_type="edges",
            interp=self._interp,
            name=self._name,
        )

    def slice(self, slc: slice | int) -> MapAxis:
        """Return the sub-axis of the bins selected by ``slc`` (step 1 only).

        Parameters
        ----------
        slc : slice or int
            Bin selection, e.g. ``slice(2, 5)`` for bins 2, 3 and 4.

        Returns
        -------
        MapAxis
            Sub-axis.
        """
        if isinstance(slc, int | np.integer):
            idx = int(slc) + self.nbin if slc < 0 else int(slc)
            if not 0 <= idx < self.nbin:
                raise IndexError(
                    f"axis {self._name!r}: bin {slc} out of range for {self.nbin} bins"
                )
            slc = slice(idx, idx + 1)
        start, stop, step = slc.indices(self.nbin)
        if step != 1:
            raise ValueError(f"axis {self._name!r}: slice step must be 1, got {step}")
        if stop <= start:
            raise ValueError(f"axis {self._name!r}: slice {slc} selects no bins")
        if self._node_type == "edges":
            nodes = self._nodes[start : stop + 1]
        else:
            nodes = self._nodes[start:stop]
        return self.copy(nodes=u.Quantity(nodes, self._unit))

    # ---- comparison ---------------------------------------------------------------------------
    def is_aligned(self, other: MapAxis, rtol: float = 1e-6) -> bool:
        """Return True if ``other`` has the same bins (edges within ``rtol``), regardless of name.

        Parameters
        ----------
        other : MapAxis
            Axis to compare.
        rtol : float
            Relative tolerance on the edges (after converting to this axis' unit).

        Returns
        -------
        bool
            Whether the binning agrees.
        """
        if not isinstance(other, MapAxis) or other.nbin != self.nbin:
            return False
        if other.node_type != self.node_type or not other.unit.is_equivalent(self.unit):
            return False
        theirs = other.nodes.to_value(self._unit)
        return bool(np.allclose(theirs, self._nodes, rtol=rtol, atol=0))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MapAxis) or type(other) is not type(self):
            return NotImplemented
        return (
            self._name == other._name
            and self._interp == other._interp
            and self._unit == other._unit
            and self.is_aligned(other, rtol=1e-9)
        )

    def __hash__(self) -> int:
        return hash(
            (self._name, self._interp, self._node_type, str(self._unit), self._nodes.tobytes())
        )

    def __repr__(self) -> str:
        edges = self._edges_values if (self._node_type == "edges" or self.nbin > 1) else self._nodes
        unit = f" {self._unit}" if self._unit != u.one else ""
        return (
            f"MapAxis(name={self._name!r}, nbin={self.nbin}, node_type={self._node_type!r}, "
            f"interp={self._interp!r}, range=[{edges[0]:.6g}, {edges[-1]:.6g}]{unit})"
        )

    # ---- tables (see gammaprob.maps.axes_tables) ----------------------------------------------
    def to_table_columns(self, format: str = "gadf-dl3", column_prefix: str | None = None) -> dict:
        """Return the GADF DL3 IRF columns ``{"<PREFIX>_LO": ..., "<PREFIX>_HI": ...}``.

        See :func:`gammaprob.maps.axes_tables.axis_to_table_columns`.
        """
        from .axes_tables import axis_to_table_columns

        return axis_to_table_columns(self, format=format, column_prefix=column_prefix)

    @classmethod
    def from_table_columns(
        cls,
        table: Table,
        column_prefix: str,
        format: str = "gadf-dl3",
        name: str | None = None,
        interp: str | None = None,
    ) -> MapAxis:
        """Read an axis from the ``<PREFIX>_LO``/``_HI`` columns of a GADF DL3 IRF table.

        See :func:`gammaprob.maps.axes_tables.axis_from_table_columns`.
        """
        from .axes_tables import axis_from_table_columns

        return axis_from_table_columns(
            table, column_prefix, format=format, name=name, interp=interp
        )

    def to_table(self, format: str = "ogip") -> Table:
        """Write an energy axis as an OGIP ``EBOUNDS`` (``"ogip"``) or ``ENERGIES`` (``"ogip-arf"``) table.

        See :func:`gammaprob.maps.axes_tables.axis_to_ogip_table`.
        """
        from .axes_tables import axis_to_ogip_table

        return axis_to_ogip_table(self, format=format)

    @classmethod
    def from_table(cls, table: Table, format: str = "ogip", name: str | None = None) -> MapAxis:
        """Read an energy axis from an OGIP ``EBOUNDS`` or ``ENERGIES`` table.

        See :func:`gammaprob.maps.axes_tables.axis_from_ogip_table`.
        """
        from .axes_tables import axis_from_ogip_table

        return axis_from_ogip_table(table, format=format, name=name)


def _check_nbin(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)
