"""Bright-star exclusion regions from a star catalogue file and exclusion masks."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from regions import CircleSkyRegion

from gammaprob.makers import (
    WobbleRegionsFinder,
    bright_star_regions,
    make_exclusion_mask,
    read_star_catalog,
)
from gammaprob.maps import WcsGeom
from gammaprob.utils.errors import FormatError

from .conftest import POINTING, SOURCE


@pytest.fixture
def catalog(tmp_path):
    """Hipparcos-like (VizieR I/239) extract: RA_ICRS, DE_ICRS in deg, Vmag."""
    stars = [
        POINTING.directional_offset_by(180 * u.deg, 0.5 * u.deg),  # opposite the source, bright
        POINTING.directional_offset_by(90 * u.deg, 1.0 * u.deg),  # bright, in the field
        POINTING.directional_offset_by(0 * u.deg, 1.2 * u.deg),  # faint
        POINTING.directional_offset_by(0 * u.deg, 5.0 * u.deg),  # bright, outside the field
    ]
    table = Table()
    table["HIP"] = [1, 2, 3, 4]
    table["RA_ICRS"] = [s.ra.deg for s in stars] * u.deg
    table["DE_ICRS"] = [s.dec.deg for s in stars] * u.deg
    table["Vmag"] = [4.5, 3.0, 9.0, 1.0]
    path = tmp_path / "hipparcos.ecsv"
    table.write(path)
    return path, stars


def test_bright_star_regions_select_by_magnitude_and_field(catalog):
    path, stars = catalog
    regions = bright_star_regions(
        path, POINTING, "2 deg", magnitude_max=6, exclusion_radius="0.2 deg"
    )
    assert len(regions) == 2
    # brightest first
    assert regions[0].center.separation(stars[1]).deg < 1e-9
    assert regions[1].center.separation(stars[0]).deg < 1e-9
    assert all(r.radius == 0.2 * u.deg for r in regions)


def test_exclusion_mask_and_wobble_regions(catalog):
    path, stars = catalog
    regions = bright_star_regions(
        path, POINTING, "2 deg", magnitude_max=6, exclusion_radius="0.2 deg"
    )
    geom = WcsGeom.create(skydir=POINTING, binsz=0.02, width=4, frame="icrs")
    mask = make_exclusion_mask(geom, regions)
    assert mask.data.dtype == bool
    coords = geom.get_coord().skycoord
    near_star = coords.separation(stars[0]).deg < 0.19
    assert near_star.any() and not mask.data[near_star].any()
    far = (coords.separation(stars[0]).deg > 0.21) & (coords.separation(stars[1]).deg > 0.21)
    assert mask.data[far].all()
    # the OFF region opposite the source sits on the star: the wobble finder drops it
    on = CircleSkyRegion(SOURCE, 0.1 * u.deg)
    assert len(WobbleRegionsFinder(3).run(on, POINTING)[0]) == 3
    kept, _ = WobbleRegionsFinder(3).run(on, POINTING, exclusion_mask=mask)
    assert len(kept) == 2
    assert min(r.center.separation(stars[0]).deg for r in kept) > 0.6


def test_star_catalog_errors(tmp_path):
    table = Table({"ra": [1.0], "dec": [2.0]})
    path = tmp_path / "stars.ecsv"
    table.write(path)
    with pytest.raises(FormatError, match="magnitude") as info:
        read_star_catalog(path)
    assert "stars.ecsv" in str(info.value)
    with pytest.raises(FormatError, match="'Vmag'"):
        read_star_catalog(path, mag_column="Vmag")
    positions, mags = read_star_catalog(path.with_suffix(".ecsv"), mag_column="ra")
    assert positions.ra.deg[0] == pytest.approx(1.0) and mags[0] == 1.0
    with pytest.raises(ValueError, match="positive"):
        bright_star_regions((positions, mags), POINTING, "0 deg", magnitude_max=6)


def test_empty_regions_mask_is_all_true():
    geom = WcsGeom.create(skydir=POINTING, binsz=0.1, width=1, frame="icrs")
    assert make_exclusion_mask(geom, []).data.all()
    np.testing.assert_array_equal(make_exclusion_mask(geom, []).data.shape, geom.spatial_shape)
