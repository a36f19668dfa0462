"""Read the arrays the forward layer needs from gammaprob datasets (canonical units)."""

from __future__ import annotations

import numpy as np

__all__ = ["map_arrays", "spectrum_arrays"]


def _edges_tev(axis) -> np.ndarray:
    return np.asarray(axis.edges.to_value("TeV"), dtype=np.float64)


def spectrum_arrays(dataset) -> dict:
    """Keyword arguments of :meth:`SpectrumResponse.from_arrays` for a spectrum dataset.

    Reads ``name``, ``counts``, ``exposure`` (Quantity, converted to cm2 s),
    ``edisp_matrix`` (``[E_true, E_reco]``), ``energy_axis_true`` / ``energy_axis`` (edges
    converted to TeV), ``mask`` (``mask_safe & mask_fit``), ``background`` and ``gti`` (as
    start/stop MJD TT pairs, when present); on/off datasets also ``counts_off`` and ``alpha``.

    Parameters
    ----------
    dataset : gammaprob.datasets.SpectrumDataset or SpectrumDatasetOnOff
        The dataset.

    Returns
    -------
    dict
        Arrays in canonical units.
    """
    out = {
        "name": dataset.name,
        "counts": np.asarray(dataset.counts),
        "exposure": np.asarray(dataset.exposure.to_value("cm2 s"), dtype=np.float64),
        "edisp": np.asarray(dataset.edisp_matrix, dtype=np.float64),
        "energy_true_edges": _edges_tev(dataset.energy_axis_true),
        "energy_edges": _edges_tev(dataset.energy_axis),
        "mask_safe": np.asarray(dataset.mask, dtype=bool),
    }
    counts_off = getattr(dataset, "counts_off", None)
    if counts_off is not None:
        out.update(counts_off=np.asarray(counts_off), alpha=np.asarray(dataset.alpha))
    elif getattr(dataset, "background", None) is not None:
        out["background"] = np.asarray(dataset.background, dtype=np.float64)
    gti = getattr(dataset, "gti", None)
    if gti is not None and len(gti) > 0:
        out["time_intervals"] = np.stack(
            [gti.time_start.tt.mjd, gti.time_stop.tt.mjd], axis=-1
        ).reshape(-1, 2)
    return out


def _psf_table_at(psf_map, position, energy_center: dict) -> tuple[np.ndarray, np.ndarray, str]:
    """Radial PSF (deg, sr-1) of a PSF map at the IRF pixel nearest ``position``.

    The map's energy axis is ``energy_true`` (PSF per true energy) or ``energy`` (per
    reconstructed energy, HAWC); the table is interpolated linearly in log energy to the
    dataset's bin centres of that axis (``energy_center``: ``{"true": ..., "reco": ...}`` in
    TeV). A table whose radii start above 0 gets a node at 0 with the first value.
    """
    geom = psf_map.irf_map.geom
    names = geom.axes.names
    if "rad" not in names or not ({"energy_true", "energy"} & set(names)):
        raise ValueError(f"a PSF map needs axes 'rad' and 'energy_true' or 'energy', got {names}")
    axis_name, psf_energy = (
        ("energy_true", "true") if "energy_true" in names else ("energy", "reco")
    )
    rad = np.asarray(geom.axes["rad"].center.to_value("deg"), dtype=np.float64)
    energy = np.asarray(geom.axes[axis_name].center.to_value("TeV"), dtype=np.float64)
    iy, ix = psf_map.pixel_index(position)
    values = np.asarray(psf_map.irf_map.quantity.to_value("sr-1"))[..., iy, ix]
    if names.index("rad") > names.index(axis_name):  # data order is the reverse of the axes
        values = values.T
    log_e = np.log(energy)
    target = np.log(energy_center[psf_energy])
    table = np.stack([np.interp(target, log_e, values[:, j]) for j in range(rad.size)], axis=1)
    if rad[0] > 0:
        rad = np.concatenate([[0.0], rad])
        table = np.concatenate([table[:, :1], table], axis=1)
    return rad, table, psf_energy


def map_arrays(dataset, position=None) -> dict:
    """Keyword arguments of :meth:`MapResponse.from_arrays` for a gammaprob ``MapDataset``.

    On/off datasets (``MapDatasetOnOff``) also give ``counts_off`` and ``alpha``. The PSF (a PSF
    map per true or reconstructed energy, at the IRF pixel nearest ``position``) and the energy dispersion
    (``edisp_matrix(position)``) are taken at one position, by default the map centre.

    Parameters
    ----------
    dataset : gammaprob.datasets.MapDataset
        A 3D dataset on a WCS geometry with exposure and a PSF map.
    position : `~astropy.coordinates.SkyCoord`, optional
        Where the PSF and energy dispersion are read.

    Returns
    -------
    dict
        Arrays in canonical units.

    Raises
    ------
    ValueError
        Without exposure or PSF map.
    """
    if dataset.exposure is None:
        raise ValueError(f"map dataset {dataset.name!r} has no exposure; it cannot be folded")
    if dataset.psf is None or not hasattr(dataset.psf, "irf_map"):
        raise ValueError(f"map dataset {dataset.name!r} needs a PSF map for point sources")
    image = dataset.geom.to_image()
    if position is None:
        position = image.center_skydir
    coords = image.get_coord()
    e_true = dataset.energy_axis_true
    centers = {
        "true": np.asarray(e_true.center.to_value("TeV"), dtype=np.float64),
        "reco": np.asarray(dataset.energy_axis.center.to_value("TeV"), dtype=np.float64),
    }
    rad, table, psf_energy = _psf_table_at(dataset.psf, position, centers)
    background = None if dataset.background is None else np.asarray(dataset.background.data, float)
    out = {
        "name": dataset.name,
        "counts": np.asarray(dataset.counts.data),
        "exposure": np.asarray(dataset.exposure.quantity.to_value("cm2 s"), dtype=np.float64),
        "edisp": np.asarray(dataset.edisp_matrix(position), dtype=np.float64),
        "energy_true_edges": _edges_tev(e_true),
        "energy_edges": _edges_tev(dataset.energy_axis),
        "lon": np.asarray(coords.lon, dtype=np.float64),
        "lat": np.asarray(coords.lat, dtype=np.float64),
        "solid_angle": np.asarray(image.solid_angle().to_value("sr"), dtype=np.float64),
        "psf_rad": rad,
        "psf_values": table,
        "frame": image.frame,
        "background": background,
        "mask_safe": np.asarray(dataset.mask, dtype=bool),
        "psf_energy": psf_energy,
    }
    if getattr(dataset, "counts_off", None) is not None:
        out.update(
            counts_off=np.asarray(dataset.counts_off.data),
            alpha=np.asarray(dataset.alpha, dtype=np.float64),
        )
    return out
