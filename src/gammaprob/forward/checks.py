"""Run-time checks of the regions a map fold was built on, against posterior draws.

A map fold evaluates each source only where it can reach from its prior (the static cutout of a
point source, the static box of an extended one) and integrates extended models with a sub-pixel
factor chosen from the prior median of their sizes. :func:`check_regions` tells whether the
posterior stayed where those choices are exact: the fraction of draws whose position left the
margin the cutout was built for, whose extent (position offset plus evaluation radius) left the
static box, or whose smallest feature needed a finer sub-pixel factor than the one used. Each
message names the source, the dataset, the fraction and the option that fixes it.
:func:`~gammaprob.inference.sample` runs it on every map model and warns
(:class:`RegionWarning`).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gammaprob.modeling.spatial.sphere import separation

__all__ = ["RegionWarning", "SourceRegion", "check_regions", "model_regions", "register_regions"]

_POSITION = ("lon_0", "lat_0")
_REGIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class RegionWarning(UserWarning):
    """Posterior draws reached beyond a region chosen at build time."""


@dataclass(frozen=True)
class SourceRegion:
    """Where one source is evaluated on one map dataset.

    Attributes
    ----------
    dataset, source : str
        Names.
    spatial : object
        The spatial component (for its evaluation radius and smallest feature).
    centre : tuple of float
        Centre of the cutout or box ``(lon, lat)`` (deg).
    margin : float
        How far (deg) the source centre may move from ``centre``.
    reach : float or None
        Extended sources: radius (deg) around ``centre`` the static box covers (margin plus
        the evaluation radius at the upper size quantile); None for point sources.
    pixel : float
        Pixel size (deg).
    oversampling : int or None
        Sub-pixel factor of the model image (extended sources).
    frame : str or None
        Sky frame of ``centre`` (the dataset's); draws of a source in another frame are
        rotated to it before they are compared. None: the source's frame.
    """

    dataset: str
    source: str
    spatial: object
    centre: tuple
    margin: float
    reach: float | None = None
    pixel: float = 0.0
    oversampling: int | None = None
    frame: str | None = None


def register_regions(model, regions) -> None:
    """Remember the regions of the map folds added to a PyMC ``model``."""
    _REGIONS.setdefault(model, []).extend(regions)


def model_regions(model) -> list[SourceRegion]:
    """Return the regions registered for ``model`` (empty for models without map datasets)."""
    return list(_REGIONS.get(model, ()))


def _values(region: SourceRegion, draws: Mapping) -> dict | None:
    """Draws of every spatial parameter (flattened), or None when the position is not there."""
    fixed = region.spatial.values() if hasattr(region.spatial, "values") else {}
    out = {}
    for name, value in fixed.items():
        key = f"{region.source}::{name}"
        out[name] = np.asarray(draws[key], dtype=float).reshape(-1) if key in draws else value
    if not all(name in out for name in _POSITION):
        return None
    n = max((np.size(v) for v in out.values()), default=1)
    out = {name: np.broadcast_to(np.asarray(v, dtype=float), (n,)) for name, v in out.items()}
    source_frame = getattr(region.spatial, "frame", None)
    if region.frame is not None and source_frame is not None and source_frame != region.frame:
        from gammaprob.forward.map_response import to_frame

        out["lon_0"], out["lat_0"] = to_frame(
            out["lon_0"], out["lat_0"], source_frame, region.frame
        )
    return out


def check_regions(regions, draws: Mapping, *, tolerance: float = 0.0) -> list[str]:
    """Messages for every region whose assumptions more than ``tolerance`` of the draws broke.

    Parameters
    ----------
    regions : iterable of SourceRegion
        From :func:`model_regions`.
    draws : Mapping
        ``{"<source>::<param>": array}`` of posterior draws (any shape).
    tolerance : float
        Largest allowed fraction of offending draws.

    Returns
    -------
    list of str
        One message per problem (empty when every check passes).
    """
    messages = []
    for region in regions:
        values = _values(region, draws)
        if values is None:
            continue
        offset = np.asarray(separation(values["lon_0"], values["lat_0"], *region.centre))
        where = f"source {region.source!r} on dataset {region.dataset!r}"
        # a small slack for round-off in the nominal centre and margin
        moved = np.mean(offset > region.margin + 1e-9)
        if region.reach is None and moved > tolerance:
            messages.append(
                f"{where}: {moved:.1%} of the posterior draws put the source more than the "
                f"cutout margin {region.margin:.3g} deg from its centre {region.centre}; its flux "
                "there was not evaluated. Widen the position prior or pass position_margin= / "
                "positions= with a larger margin, and sample again."
            )
            continue
        if region.reach is None:
            continue
        sizes = {k: v for k, v in values.items() if k not in _POSITION}
        radius = np.array(
            [region.spatial._evaluation_radius(sizes_at(sizes, i)) for i in range(offset.size)]
        )
        beyond = np.mean(offset + radius > region.reach + 1e-9)
        if beyond > tolerance:
            messages.append(
                f"{where}: {beyond:.1%} of the posterior draws reach beyond the static box "
                f"(radius {region.reach:.3g} deg around {region.centre}); flux there was cut off. "
                "Widen the size or position priors (the box holds their upper 99 % quantile) or "
                "pass size_quantile= closer to 1, and sample again."
            )
        if region.oversampling is not None and hasattr(region.spatial, "_bin_size_min"):
            needed = np.array(
                [_needed_oversampling(region, sizes_at(sizes, i)) for i in range(offset.size)]
            )
            coarse = np.mean(needed > region.oversampling)
            if coarse > tolerance:
                messages.append(
                    f"{where}: {coarse:.1%} of the posterior draws have features smaller than "
                    f"the sub-pixel factor {region.oversampling} resolves (up to "
                    f"{int(needed.max())} needed); pass model_oversampling={int(needed.max())} "
                    "and sample again."
                )
    return messages


def sizes_at(sizes: Mapping, i: int) -> dict:
    """Return the ``i``-th draw of every size parameter."""
    return {k: float(v[i]) for k, v in sizes.items()}


def _needed_oversampling(region: SourceRegion, sizes: Mapping) -> int:
    from gammaprob.forward.extended import MAX_MODEL_OVERSAMPLING

    size = region.spatial._bin_size_min(sizes)
    if size is None:
        return 1
    return int(min(math.ceil(region.pixel / max(size, 1e-12)), MAX_MODEL_OVERSAMPLING))
