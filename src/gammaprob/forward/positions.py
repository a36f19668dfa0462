"""Where sources on map datasets can be: the cutout centres and margins from position priors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gammaprob.forward._models import spatial_component

__all__ = ["nominal_positions"]


def _window(parameter) -> tuple[float, float | None]:
    """Centre and half-width (deg) of where a position parameter can be (None: unknown)."""
    prior = getattr(parameter, "prior", None)
    value = float(parameter.value) if getattr(parameter, "value", None) is not None else 0.0
    if prior is None or not getattr(parameter, "is_free", False):
        return value, 0.0
    lo, hi = prior.support() if hasattr(prior, "support") else (-np.inf, np.inf)
    if np.isfinite(lo) and np.isfinite(hi):
        return 0.5 * (lo + hi), 0.5 * (hi - lo)
    if hasattr(prior, "mu") and hasattr(prior, "sigma"):
        return float(prior.mu), 5.0 * float(prior.sigma)
    return value, None


def nominal_positions(models: Sequence) -> dict:
    """Where each source can be: ``{source: (lon, lat, margin)}`` in deg.

    The centre is the prior's centre (``mu``, or the middle of a bounded support) and the margin
    covers the prior support (half-width, or 5 sigma for a normal prior) along the larger of the
    two axes, as an angle on the sky (a longitude half-width counts ``cos(lat)`` times, at the
    window's latitude closest to the equator); None when it cannot be told (then
    :class:`MapFold` uses its ``position_margin``).
    Fixed positions have margin 0.
    """
    out = {}
    for model in models:
        spatial = spatial_component(model)
        parameters = getattr(spatial, "parameters", None)
        if spatial is None or not isinstance(parameters, Mapping):
            continue
        if "lon_0" in parameters and "lat_0" in parameters:
            lon, m_lon = _window(parameters["lon_0"])
            lat, m_lat = _window(parameters["lat_0"])
            if m_lon is None or m_lat is None:
                margin = None
            else:  # a longitude step is an angle of cos(lat) times it on the sky
                closest = max(abs(lat) - m_lat, 0.0)
                margin = max(m_lon * float(np.cos(np.deg2rad(min(closest, 90.0)))), m_lat)
            out[model.name] = (lon, lat, margin)
    return out
