"""Write observations as a GADF DL3 data store: one file per observation plus the indexes."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import astropy.units as u
from astropy.io import fits
from astropy.table import Table

from gammaprob.utils.io import atomic_path, check_overwrite

from .hdu_index import IRF_TYPES

__all__ = ["write_data_store"]


def _file_name(obs_id: int) -> str:
    return f"obs_{obs_id:06d}.fits.gz"


def _hdu_rows(obs, file_name: str) -> list[dict]:
    """HDU-index rows of one observation as :func:`write_observation` lays out its file."""
    rows = [
        {"HDU_TYPE": "events", "HDU_CLASS": "events", "HDU_NAME": "EVENTS"},
        {"HDU_TYPE": "gti", "HDU_CLASS": "gti", "HDU_NAME": "GTI"},
    ]
    for name in IRF_TYPES:
        if name not in obs.available():
            continue
        irf = getattr(obs, name)
        rows.append(
            {
                "HDU_TYPE": name,
                "HDU_CLASS": str(irf.hduclas4).lower(),
                "HDU_NAME": irf.to_table_hdu().name,
            }
        )
    for row in rows:
        row.update({"OBS_ID": obs.obs_id, "FILE_DIR": ".", "FILE_NAME": file_name})
    return rows


def _obs_row(obs) -> dict:
    meta = obs.meta
    header, _ = obs._events_header()
    pointing = obs.get_pointing_icrs() if obs.pointing.mode == "POINTING" else None
    nan = float("nan")
    return {
        "OBS_ID": obs.obs_id,
        "RA_PNT": nan if pointing is None else float(pointing.ra.deg),
        "DEC_PNT": nan if pointing is None else float(pointing.dec.deg),
        "TSTART": float(header.get("TSTART", nan)),
        "TSTOP": float(header.get("TSTOP", nan)),
        "ONTIME": nan if meta.ontime is None else float(meta.ontime.to_value(u.s)),
        "LIVETIME": nan if meta.livetime is None else float(meta.livetime.to_value(u.s)),
        "DEADC": nan if meta.deadtime_fraction is None else 1.0 - meta.deadtime_fraction,
        "N_TELS": int(header.get("N_TELS", 0)),
        "OBJECT": str(header.get("OBJECT", "")),
        "EVENT_COUNT": len(obs.events),
    }


def write_data_store(observations: Iterable, path: str | os.PathLike, overwrite: bool = False):
    """Write observations into a folder that :class:`DataStore.from_dir` reads back.

    Each observation goes into ``obs_<OBS_ID>.fits.gz`` (events, GTI and its IRFs, see
    :meth:`Observation.write`); ``hdu-index.fits.gz`` and ``obs-index.fits.gz`` list them.
    Every file is written atomically; existing files are refused before anything is
    written unless ``overwrite``.

    Parameters
    ----------
    observations : iterable of Observation
        Observations with events and GTIs (e.g. from
        :meth:`gammaprob.simulate.EventSampler.run`); their events headers must share one
        time reference (``MJDREFI``/``MJDREFF``/``TIMESYS``).
    path : str or path-like
        Output folder (created if missing).
    overwrite : bool
        Replace existing files.

    Returns
    -------
    DataStore
        The written store, opened.
    """
    from .data_store import DataStore

    observations = list(observations)
    if not observations:
        raise ValueError("no observations to write")
    ids = [obs.obs_id for obs in observations]
    if len(set(ids)) != len(ids):
        raise ValueError(f"observation ids must be unique, got {ids}")
    folder = Path(path).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / _file_name(i) for i in ids]
    index_files = [folder / "hdu-index.fits.gz", folder / "obs-index.fits.gz"]
    for target in targets + index_files:
        check_overwrite(target, overwrite)
    refs = set()
    for obs in observations:
        header, _ = obs._events_header()
        if header is None:
            raise ValueError(f"observation {obs.obs_id} has no events to write")
        refs.add(
            (header.get("MJDREFI"), header.get("MJDREFF"), header.get("TIMESYS", "TT").upper())
        )
    if len(refs) != 1:
        raise ValueError(
            f"the observations use different time references {sorted(map(str, refs))}; the "
            "observation index needs one (MJDREFI/MJDREFF/TIMESYS)"
        )
    hdu_rows, obs_rows = [], []
    for obs, target in zip(observations, targets, strict=True):
        obs.write(target, overwrite=overwrite)
        hdu_rows += _hdu_rows(obs, target.name)
        obs_rows.append(_obs_row(obs))
    mjdrefi, mjdreff, timesys = refs.pop()
    hdu_table = Table(rows=hdu_rows, names=list(hdu_rows[0]))
    hdu_table.meta.update({"EXTNAME": "HDU_INDEX", "HDUCLAS1": "INDEX", "HDUCLAS2": "HDU"})
    obs_table = Table(rows=obs_rows, names=list(obs_rows[0]))
    for name in ("RA_PNT", "DEC_PNT"):
        obs_table[name].unit = u.deg
    for name in ("TSTART", "TSTOP", "ONTIME", "LIVETIME"):
        obs_table[name].unit = u.s
    obs_table.meta.update(
        {
            "EXTNAME": "OBS_INDEX",
            "HDUCLAS1": "INDEX",
            "HDUCLAS2": "OBS",
            "MJDREFI": mjdrefi,
            "MJDREFF": mjdreff,
            "TIMESYS": timesys,
            "TIMEUNIT": "s",
        }
    )
    for table, target in zip((hdu_table, obs_table), index_files, strict=True):
        hdu = fits.table_to_hdu(table)
        with atomic_path(target, overwrite=overwrite) as tmp:
            fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp)
    return DataStore.from_dir(folder)
