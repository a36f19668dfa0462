"""Pure helpers for sky regions (on the ``regions`` package): parsing, centres, solid angles.

Angles are plain floats in deg inside, solid angles in sr. Region shapes are the planar
shapes of the ``regions`` package: they are defined in the tangent (TAN) plane at the
region centre, so their exact spherical extent depends on that projection only at order
(size in rad)^2; circles are treated exactly as spherical caps.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Iterable

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from regions import (
    CircleSkyRegion,
    CompoundSkyRegion,
    PointSkyRegion,
    PolygonPixelRegion,
    PolygonSkyRegion,
    RectanglePixelRegion,
    RectangleSkyRegion,
    Regions,
    SkyRegion,
)

__all__ = [
    "cap_solid_angle",
    "flatten_union",
    "local_wcs",
    "parse_regions",
    "region_center",
    "region_extent",
    "region_solid_angle",
    "regions_union",
    "spherical_polygon_solid_angle",
    "tan_pixel_solid_angles",
]

#: Oversampling of the grid for the solid angle of intersections, differences and xor regions.
COMPOUND_OVERSAMPLING = 10

#: Largest number of pixels along each side of the solid angle grid.
MAX_GRID = 4000


def parse_regions(region) -> list[SkyRegion]:
    """Turn a region definition into a list of sky regions.

    Parameters
    ----------
    region : str, regions.SkyRegion, regions.Regions or list of regions.SkyRegion
        A DS9 string such as ``"icrs;circle(83.63, 22.01, 0.11)"`` (several shapes allowed,
        one per line or separated by ``;``), a sky region, or several.

    Returns
    -------
    list of regions.SkyRegion
        The regions (at least one).
    """
    if isinstance(region, str):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                parsed = Regions.parse(region, format="ds9")
            except Exception as exc:  # the ds9 parser raises many types
                raise ValueError(f"malformed DS9 region string {region!r}: {exc}") from exc
        if caught:
            raise ValueError(f"malformed DS9 region string {region!r}: {caught[0].message}")
        regions = list(parsed)
        if not regions:
            raise ValueError(f"DS9 region string {region!r} defines no region")
    elif isinstance(region, SkyRegion):
        regions = [region]
    elif isinstance(region, Regions | list | tuple):
        regions = list(region)
        if not regions:
            raise ValueError("need at least one region, got an empty list")
    else:
        raise TypeError(
            "region must be a DS9 string, a regions.SkyRegion or a list of them, "
            f"got {type(region).__name__}"
        )
    for reg in regions:
        if not isinstance(reg, SkyRegion):
            raise TypeError(
                f"regions must be sky regions (regions.SkyRegion), got {type(reg).__name__}; "
                "pixel regions need a WCS: use region.to_sky(wcs)"
            )
        if type(reg).__name__.endswith("SphericalSkyRegion") or isinstance(reg, PointSkyRegion):
            raise TypeError(f"{type(reg).__name__} is not supported as a RegionGeom region")
    return regions


def regions_union(regions: Iterable[SkyRegion]) -> SkyRegion:
    """Combine regions into one (their union, as a CompoundSkyRegion when several)."""
    regions = list(regions)
    out = regions[0]
    for reg in regions[1:]:
        out = out | reg
    return out


def flatten_union(region: SkyRegion) -> list[SkyRegion]:
    """Split a union (``|``) of regions into its simple components.

    Raises ValueError for compounds with other operators (and, xor), which the FITS region
    table cannot represent.
    """
    if not isinstance(region, CompoundSkyRegion):
        return [region]
    if region.operator is not operator.or_:
        raise ValueError(
            f"only unions of regions can be written as a REGION table, got operator {region.operator.__name__!r}"
        )
    return flatten_union(region.region1) + flatten_union(region.region2)


def _components(region: SkyRegion) -> list[SkyRegion]:
    """All simple components of a (possibly nested) compound region."""
    if isinstance(region, CompoundSkyRegion):
        return _components(region.region1) + _components(region.region2)
    return [region]


def _component_center(region: SkyRegion) -> SkyCoord:
    if hasattr(region, "center"):
        return region.center
    if hasattr(region, "vertices"):
        vertices = region.vertices
        vec = np.mean(vertices.cartesian.xyz.value, axis=1)
        return _vec_to_skycoord(vec, vertices)
    raise TypeError(f"cannot find the centre of a {type(region).__name__}")


def _vec_to_skycoord(vec: np.ndarray, like: SkyCoord) -> SkyCoord:
    lon = np.degrees(np.arctan2(vec[1], vec[0])) % 360.0
    lat = np.degrees(np.arctan2(vec[2], np.hypot(vec[0], vec[1])))
    frame = like.frame.replicate_without_data()
    return SkyCoord(lon * u.deg, lat * u.deg, frame=frame)


def local_wcs(center: SkyCoord, binsz: float, npix: int, proj: str = "TAN") -> WCS:
    """Return a square celestial WCS of ``npix`` x ``npix`` pixels of ``binsz`` deg about ``center``.

    The frame (icrs or galactic) is that of ``center``; pixel (npix - 1) / 2 (0-based)
    is the centre.
    """
    frame = center.frame.name
    if frame == "galactic":
        ctype, lon, lat = ("GLON", "GLAT"), center.l.deg, center.b.deg
    elif frame in ("icrs", "fk5"):
        ctype, lon, lat = ("RA--", "DEC-"), center.ra.deg, center.dec.deg
    else:
        raise ValueError(f"region frame must be icrs, fk5 or galactic, got {frame!r}")
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = [f"{ctype[0]}-{proj}", f"{ctype[1]}-{proj}"]
    wcs.wcs.crval = [lon, lat]
    wcs.wcs.cdelt = [-binsz, binsz]
    wcs.wcs.crpix = [(npix + 1) / 2.0, (npix + 1) / 2.0]
    wcs.wcs.cunit = ["deg", "deg"]
    if frame != "galactic":
        wcs.wcs.radesys = "ICRS" if frame == "icrs" else "FK5"
        if frame == "fk5":
            wcs.wcs.equinox = 2000.0
    wcs.array_shape = (npix, npix)
    return wcs


def region_extent(region: SkyRegion, center: SkyCoord) -> float:
    """Largest angular distance (deg) from ``center`` to any point of the region."""
    out = 0.0
    for comp in _components(region):
        sep = _component_center(comp).separation(center).deg
        if isinstance(comp, CircleSkyRegion):
            size = comp.radius.to_value("deg")
        elif hasattr(comp, "vertices"):
            size = float(np.max(comp.vertices.separation(_component_center(comp)).deg))
        else:
            sizes = [
                getattr(comp, name).to_value("deg")
                for name in ("width", "height", "outer_width", "outer_height", "outer_radius")
                if hasattr(comp, name)
            ]
            if not sizes:
                raise TypeError(f"cannot find the size of a {type(comp).__name__}")
            # half the diagonal of the bounding rectangle bounds every supported shape
            size = 0.5 * float(np.hypot(max(sizes), max(sizes)))
        out = max(out, sep + size)
    return out


def region_center(region: SkyRegion) -> SkyCoord:
    """Centre of a region: its own centre, or for a compound the centre of its bounding box.

    The bounding box is taken in a TAN projection about the mean direction of the
    component centres.
    """
    if not isinstance(region, CompoundSkyRegion):
        return _component_center(region)
    centers = [_component_center(c) for c in _components(region)]
    frame = centers[0]
    xyz = np.mean([c.transform_to(frame.frame).cartesian.xyz.value for c in centers], axis=0)
    mean = _vec_to_skycoord(xyz, frame)
    binsz = max(region_extent(region, mean), 1e-3) / 1000.0
    wcs = local_wcs(mean, binsz, 2001)
    bbox = region.to_pixel(wcs).bounding_box
    xc = 0.5 * (bbox.ixmin + bbox.ixmax - 1)
    yc = 0.5 * (bbox.iymin + bbox.iymax - 1)
    return SkyCoord.from_pixel(xc, yc, wcs)


def cap_solid_angle(radius_deg) -> np.ndarray:
    """Solid angle (sr) of a spherical cap of angular radius ``radius_deg``: 2 pi (1 - cos r)."""
    return 2.0 * np.pi * (1.0 - np.cos(np.radians(radius_deg)))


def tan_pixel_solid_angles(
    wcs: WCS, shape: tuple[int, int], origin: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Exact solid angle (sr) of the pixels of a TAN (gnomonic) WCS without rotation.

    For the gnomonic projection the area element is ``dx dy / (1 + x^2 + y^2)^(3/2)``
    (x, y in rad in the tangent plane), whose integral over a pixel is
    ``F(x1, y1) - F(x0, y1) - F(x1, y0) + F(x0, y0)`` with
    ``F(x, y) = arctan(x y / sqrt(1 + x^2 + y^2))``.

    Parameters
    ----------
    wcs : `~astropy.wcs.WCS`
        TAN WCS with ``CDELT`` scaling and no rotation.
    shape : tuple of int
        ``(ny, nx)`` pixels to compute.
    origin : tuple of int
        0-based pixel ``(ix, iy)`` of the first computed pixel.

    Returns
    -------
    numpy.ndarray
        Solid angles in sr, shape ``shape``.
    """
    ny, nx = shape
    crpix = wcs.wcs.crpix - 1.0
    cdelt = np.radians(np.abs(wcs.wcs.cdelt))
    xe = (origin[0] + np.arange(nx + 1) - 0.5 - crpix[0]) * cdelt[0]
    ye = (origin[1] + np.arange(ny + 1) - 0.5 - crpix[1]) * cdelt[1]
    x, y = np.meshgrid(xe, ye)
    f = np.arctan(x * y / np.sqrt(1.0 + x**2 + y**2))
    return f[1:, 1:] - f[:-1, 1:] - f[1:, :-1] + f[:-1, :-1]


def spherical_polygon_solid_angle(vertices: SkyCoord) -> float:
    """Solid angle (sr) of a simple spherical polygon with great-circle edges.

    The polygon is split into a fan of triangles from its first vertex; their signed areas
    (Van Oosterom & Strackee 1983) add up to the polygon area for convex and concave
    polygons smaller than a hemisphere.

    Parameters
    ----------
    vertices : `~astropy.coordinates.SkyCoord`
        The corners in order (either orientation).

    Returns
    -------
    float
        Solid angle in sr.
    """
    xyz = np.asarray(vertices.cartesian.xyz.value, dtype=float).T
    a, b, c = xyz[0], xyz[1:-1], xyz[2:]
    triple = np.einsum("j,ij->i", a, np.cross(b, c))
    denom = 1.0 + b @ a + np.einsum("ij,ij->i", b, c) + c @ a
    return float(abs(np.sum(2.0 * np.arctan2(triple, denom))))


def _corners(region: SkyRegion, wcs: WCS) -> SkyCoord | None:
    """Sky corners of a polygon or rectangle (their edges are great circles in TAN)."""
    if isinstance(region, PolygonSkyRegion):
        return region.vertices
    if isinstance(region, RectangleSkyRegion):
        corners = region.to_pixel(wcs).corners
        return SkyCoord.from_pixel(
            np.array([c[0] for c in corners]), np.array([c[1] for c in corners]), wcs
        )
    return None


def _clip_area(vx: np.ndarray, vy: np.ndarray, x0: float, y0: float) -> float:
    """Area of the polygon (vx, vy) inside the unit square [x0, x0+1] x [y0, y0+1].

    Sutherland-Hodgman clipping against the four sides, then the shoelace formula.
    """
    pts = list(zip(vx, vy, strict=True))
    for axis, bound, keep_above in (
        (0, x0, True),
        (0, x0 + 1, False),
        (1, y0, True),
        (1, y0 + 1, False),
    ):
        out = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            cur_in = cur[axis] >= bound if keep_above else cur[axis] <= bound
            prev_in = prev[axis] >= bound if keep_above else prev[axis] <= bound
            if cur_in != prev_in:
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append(tuple(p + t * (c - p) for p, c in zip(prev, cur, strict=True)))
            if cur_in:
                out.append(cur)
        pts = out
        if not pts:
            return 0.0
    x, y = np.array(pts).T
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _polygon_fractions(pixel_region, npix: int) -> np.ndarray:
    """Exact overlap fraction of every pixel of an npix x npix grid with a pixel polygon.

    Pixels crossed by an edge (found by sampling the edges every 0.02 pixel) are clipped
    exactly; the others are inside or outside by their centre.
    """
    poly = (
        pixel_region if isinstance(pixel_region, PolygonPixelRegion) else pixel_region.to_polygon()
    )
    image = _paste([poly.to_mask(mode="center")], npix)[0]
    vx = np.asarray(poly.vertices.x, dtype=float)
    vy = np.asarray(poly.vertices.y, dtype=float)
    crossed = set()
    for i in range(vx.size):
        x1, y1, x2, y2 = vx[i - 1], vy[i - 1], vx[i], vy[i]
        t = np.linspace(0.0, 1.0, int(np.hypot(x2 - x1, y2 - y1) / 0.02) + 2)
        ix = np.floor(x1 + t * (x2 - x1) + 0.5).astype(int)
        iy = np.floor(y1 + t * (y2 - y1) + 0.5).astype(int)
        crossed.update(zip(ix.tolist(), iy.tolist(), strict=True))
    for ix, iy in crossed:
        if not (0 <= ix < npix and 0 <= iy < npix):
            raise ValueError("region does not fit in the solid angle grid")
        image[iy, ix] = _clip_area(vx, vy, ix - 0.5, iy - 0.5)
    return image


def _fractions(pixel_region, npix: int) -> np.ndarray:
    """Exact pixel overlap fractions of one pixel shape on an npix x npix grid."""
    if isinstance(pixel_region, PolygonPixelRegion | RectanglePixelRegion):
        return _polygon_fractions(pixel_region, npix)
    return _paste([pixel_region.to_mask(mode="exact")], npix)[0]


def region_solid_angle(region: SkyRegion, binsz: float) -> float:
    """Solid angle of a sky region in sr.

    Parameters
    ----------
    region : regions.SkyRegion
        The region.
    binsz : float
        Pixel size (deg) of the TAN grid used for non-circular regions.

    Returns
    -------
    float
        Solid angle in sr.

    Notes
    -----
    - Circles: the spherical cap, exact.
    - Polygons and rectangles: their edges are straight in the TAN projection, i.e. great
      circles, so the area is the exact spherical polygon through their corners.
    - Ellipses (and annuli): the exact overlap fraction of each TAN pixel with the planar
      shape (``regions`` ``mode="exact"``) times the exact pixel solid angle, so the only
      error is the planar-vs-spherical definition of the shape (``regions`` scales sizes at
      the centre of the tangent plane): an ellipse with equal axes of radius r differs from
      the cap of radius r by about -(2/3) r^2 relative (r in rad; -2e-6 at 0.1 deg, -2e-4 at
      1 deg).
    - Unions (several regions): the sum of the component solid angles (as above) minus
      their overlaps (none when the components are far apart), estimated on a grid
      ``COMPOUND_OVERSAMPLING`` times finer than ``binsz`` as ``sum - max`` of the overlap
      fractions (``regions`` ``mode="exact"`` for circles and ellipses, exact polygon
      clipping for polygons and rectangles) in each pixel. Disjoint regions are therefore
      exact; the overlap estimate is exact except in the few pixels where two borders
      cross (a 0.2 deg circle and a crossing 0.6 x 0.1 deg rectangle: 1e-5 relative).
    - Other compounds (intersection, difference, xor): pixel centres inside the region on a
      grid ``COMPOUND_OVERSAMPLING`` times finer than ``binsz``; relative error about 2e-4
      for 0.5 deg circles with ``binsz=0.01``.
    - The grids have at least 50 and at most ``MAX_GRID`` (unions: ``MAX_GRID / 2``)
      pixels across the region.
    """
    if isinstance(region, CircleSkyRegion):
        return float(cap_solid_angle(region.radius.to_value("deg")))
    center = region_center(region)
    extent = region_extent(region, center)
    if extent >= 80.0:
        raise ValueError(
            f"region extends {extent:.1f} deg from its centre; at most 80 deg supported"
        )
    corners = _corners(region, local_wcs(center, binsz, 3))
    if corners is not None:
        return spherical_polygon_solid_angle(corners)
    try:
        components = flatten_union(region)
    except ValueError:  # intersections, differences, xor: centre-in mask on a finer grid
        wcs, omega = _grid(center, extent, binsz / COMPOUND_OVERSAMPLING, MAX_GRID)
        mask = region.to_pixel(wcs).to_mask(mode="center")
        return float(np.sum(_paste([mask], omega.shape[0]) * omega))
    if len(components) == 1:  # an ellipse or annulus: exact overlap fractions
        wcs, omega = _grid(center, extent, binsz, MAX_GRID)
        return float(np.sum(_fractions(region.to_pixel(wcs), omega.shape[0]) * omega))
    # union: exact area of each component minus the double-counted overlaps
    total = sum(region_solid_angle(comp, binsz) for comp in components)
    if _far_apart(components):
        return float(total)
    wcs, omega = _grid(center, extent, binsz / COMPOUND_OVERSAMPLING, MAX_GRID // 2)
    npix = omega.shape[0]
    summed, largest = np.zeros((npix, npix)), np.zeros((npix, npix))
    for comp in components:
        fraction = _fractions(comp.to_pixel(wcs), npix)
        summed += fraction
        np.maximum(largest, fraction, out=largest)
    return float(total - np.sum((summed - largest) * omega))


def _grid(center: SkyCoord, extent: float, step: float, max_grid: int) -> tuple[WCS, np.ndarray]:
    """TAN grid about ``center`` covering ``extent`` deg, and its pixel solid angles (sr)."""
    half = np.degrees(np.tan(np.radians(extent))) * 1.05
    # at least 50 pixels across the region, at most max_grid pixels across the grid
    step = float(np.clip(step, 2.0 * half / max_grid, extent / 50.0))
    npix = 2 * int(np.ceil(half / step)) + 3
    wcs = local_wcs(center, step, npix)
    return wcs, tan_pixel_solid_angles(wcs, (npix, npix))


def _far_apart(components: list[SkyRegion]) -> bool:
    """Return True when the bounding circles of all components are pairwise disjoint."""
    centers = [_component_center(c) for c in components]
    sizes = [region_extent(c, center) for c, center in zip(components, centers, strict=True)]
    for i in range(len(components)):
        for j in range(i + 1, len(components)):
            if centers[i].separation(centers[j]).deg <= sizes[i] + sizes[j]:
                return False
    return True


def _paste(masks: list, npix: int) -> np.ndarray:
    """Stack region masks into images of shape (len(masks), npix, npix)."""
    out = np.zeros((len(masks), npix, npix))
    for image, mask in zip(out, masks, strict=True):
        big, small = mask.get_overlap_slices((npix, npix))
        if big is None or mask.data[small].sum() < mask.data.sum() * (1 - 1e-9):
            raise ValueError("region does not fit in the solid angle grid")
        image[big] = mask.data[small]
    return out
