"""Event sampler from a map dataset: events drawn from its predicted counts.

:func:`sample_dataset_events` draws, in every bin of a map dataset, ``Poisson(npred)``
events per model component (each source folded through the dataset's exposure, PSF and
energy dispersion by :func:`gammaprob.forward.npred_map`, and the dataset's background
scaled by a ``FoVBackgroundModel``). Inside its bin an event is placed uniformly in pixel
coordinates and in ``log E``; its arrival time is uniform over the dataset's GTIs. Binned
back onto the dataset's geometry, the events are therefore exactly Poisson draws of npred.
The instrument response is the dataset's, already folded: the events carry reconstructed
quantities only (no true energy or position), unlike :meth:`EventSampler.run`, which draws
true photons and applies the IRFs of an observation.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from ._sampling import as_rng
from .events import SamplingError, _is_background_model, _models_list

__all__ = ["dataset_npred_components", "sample_dataset_events"]


def _check_dataset(dataset, background: bool) -> None:
    from gammaprob.maps import WcsGeom

    name = dataset.name
    if type(dataset).__name__ == "MapDatasetOnOff":
        raise SamplingError(
            f"dataset {name!r} is an on/off dataset: its background is measured, not "
            "predicted; sample from a MapDataset with a background map"
        )
    if not isinstance(dataset.counts.geom, WcsGeom):
        raise SamplingError(
            f"dataset {name!r} has a {type(dataset.counts.geom).__name__}: events are placed "
            "inside WCS pixels only (give a dataset on a WcsGeom)"
        )
    if background and dataset.background is None:
        raise SamplingError(
            f"dataset {name!r} has no background map to draw background events from: "
            "reduce it with MapDatasetMaker(selection=[..., 'background']) from an "
            "observation with a background IRF, or pass background=False"
        )
    if dataset.exposure is None:
        raise SamplingError(
            f"dataset {name!r} has no exposure map to fold the models with: reduce it with "
            "MapDatasetMaker(selection=[..., 'exposure'])"
        )


def dataset_npred_components(dataset, models=None, *, background: bool = True) -> dict:
    """Predicted counts of each model component on every bin of a map dataset.

    Parameters
    ----------
    dataset : gammaprob.datasets.MapDataset
        Map dataset with exposure, PSF and energy dispersion (and a background map when
        ``background``).
    models : SkyModel or sequence, optional
        Sources and at most one ``FoVBackgroundModel``; parameters enter at their current
        ``value``. Models whose ``datasets_names`` excludes the dataset are ignored.
    background : bool
        Include the dataset's background (scaled by the ``FoVBackgroundModel``, if any).

    Returns
    -------
    dict
        ``{name: npred}`` with arrays of the counts' shape ``(n_energy, ny, nx)``: the key
        ``"background"`` (when ``background``) then one key per source, in order.

    Raises
    ------
    SamplingError
        A dataset without a background map (when ``background``) or exposure, an on/off
        dataset, or a geometry other than WCS.
    """
    from gammaprob.forward import MapResponse, current_values, npred_map
    from gammaprob.forward._models import models_for

    if not hasattr(dataset, "counts") or not hasattr(dataset, "exposure"):
        raise TypeError(f"dataset must be a gammaprob MapDataset, got {type(dataset).__name__}")
    models = models_for(_models_list(models), dataset.name, None)
    backgrounds = [m for m in models if _is_background_model(m)]
    sources = [m for m in models if not _is_background_model(m)]
    if len(backgrounds) > 1:
        raise SamplingError(f"more than one FoVBackgroundModel given for dataset {dataset.name!r}")
    _check_dataset(dataset, background)
    shape = dataset.counts.data.shape
    response = MapResponse.from_dataset(dataset)
    values = current_values(models)
    base = npred_map(response, backgrounds, values).reshape(shape)
    out = {"background": base} if background else {}
    for model in sources:
        total = npred_map(response, [model, *backgrounds], values).reshape(shape)
        out[model.name] = np.clip(total - base, 0.0, None)
    return out


def sample_dataset_events(dataset, models=None, *, random_state=None, background: bool = True):
    """Draw an event list from the predicted counts of a map dataset.

    In every bin, each component (background, then each source) contributes
    ``Poisson(npred)`` events (see :func:`dataset_npred_components`); an event is placed
    uniformly in pixel coordinates inside its pixel, uniformly in ``log E`` inside its
    reconstructed-energy bin, and at a time uniform over the dataset's GTIs. Binned back
    onto the dataset's geometry the events are Poisson draws of npred, bin by bin.

    Parameters
    ----------
    dataset : gammaprob.datasets.MapDataset
        Map dataset on a WCS geometry with exposure, PSF, energy dispersion, GTIs and (when
        ``background``) a background map. Every bin is sampled, masked or not.
    models : SkyModel or sequence, optional
        Sources and at most one ``FoVBackgroundModel`` (parameters at their ``value``).
    random_state : numpy.random.Generator, int or None
        Random generator or seed.
    background : bool
        Draw background events from the dataset's background map.

    Returns
    -------
    gammaprob.data.EventList
        Columns ``EVENT_ID``, ``TIME`` (s since the GTIs' reference), ``RA``, ``DEC`` (deg,
        ICRS), ``ENERGY`` (reconstructed, TeV) and ``MC_ID`` (0 background, ``i + 1`` for
        the ``i``-th source), sorted by time; the header holds the time reference and
        ``DATASET`` (the dataset's name).

    Raises
    ------
    SamplingError
        See :func:`dataset_npred_components`.
    """
    from gammaprob.data import EventList

    rng = as_rng(random_state)
    components = dataset_npred_components(dataset, models, background=background)
    if dataset.gti is None or len(dataset.gti) == 0:
        raise SamplingError(
            f"dataset {dataset.name!r} has no GTI: arrival times are drawn inside the good "
            "time intervals; give it one (dataset.replace(gti=GTI(...)))"
        )
    geom = dataset.counts.geom
    n_energy, ny, nx = dataset.counts.data.shape
    parts = []
    for mc_id, npred in enumerate(components.values(), start=0 if background else 1):
        counts = rng.poisson(npred).ravel()
        flat = np.repeat(np.arange(counts.size), counts)
        parts.append((flat, np.full(flat.size, mc_id, np.int32)))
    flat = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    mc_id = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32)
    e_bin, iy, ix = np.unravel_index(flat, (n_energy, ny, nx))
    x = ix + rng.random(flat.size) - 0.5
    y = iy + rng.random(flat.size) - 0.5
    coords = geom.to_image().pix_to_coord((x, y))
    sky = SkyCoord(coords.lon * u.deg, coords.lat * u.deg, frame=geom.frame).icrs
    edges = dataset.energy_axis.edges.to_value(u.TeV)
    log_lo, log_hi = np.log(edges[e_bin]), np.log(edges[e_bin + 1])
    energy = np.exp(log_lo + rng.random(flat.size) * (log_hi - log_lo))
    gti = dataset.gti
    start, stop = gti.met_start.to_value(u.s), gti.met_stop.to_value(u.s)
    k = rng.choice(start.size, size=flat.size, p=(stop - start) / np.sum(stop - start))
    time = start[k] + rng.random(flat.size) * (stop[k] - start[k])
    order = np.argsort(time, kind="stable")
    table = Table(
        {
            "EVENT_ID": np.arange(1, flat.size + 1, dtype=np.int64),
            "TIME": time[order] * u.s,
            "RA": sky.ra.deg[order] * u.deg,
            "DEC": sky.dec.deg[order] * u.deg,
            "ENERGY": energy[order] * u.TeV,
            "MC_ID": mc_id[order],
        }
    )
    table.meta.update(gti.time_ref_info.to_header())
    table.meta.update(
        {"EXTNAME": "EVENTS", "HDUCLAS1": "EVENTS", "CREATOR": "gammaprob", "DATASET": dataset.name}
    )
    return EventList(table)
