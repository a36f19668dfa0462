"""One-file GADF observations: events + GTI (+ pointing table) + IRFs in one FITS file."""

from __future__ import annotations

import os
from pathlib import Path

from astropy.io import fits

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import open_fits
from gammaprob.utils.io import atomic_path

from .events import EventList
from .gti import GTI
from .hdu_index import IRF_TYPES
from .observation import Observation
from .pointing import PointingTable

__all__ = ["read_observation", "write_observation"]

# Observation component of each IRF class (by its GADF HDUCLAS4).
_SLOT_OF_CLASS = {
    "aeff_2d": "aeff",
    "edisp_2d": "edisp",
    "psf_table": "psf",
    "psf_king": "psf",
    "psf_3gauss": "psf",
    "bkg_2d": "bkg",
    "bkg_3d": "bkg",
    "rad_max_2d": "rad_max",
}


def write_observation(obs: Observation, path: str | os.PathLike, overwrite: bool = False) -> None:
    """Write an observation into one GADF FITS file.

    HDUs: ``EVENTS``, ``GTI``, ``POINTING`` (only for a pointing table; a fixed pointing
    lives in the events header) and one HDU per IRF present (their GADF extension names).

    Parameters
    ----------
    obs : Observation
        The observation; lazily referenced components are read first.
    path : str or path-like
        Output file (``.fits`` or ``.fits.gz``).
    overwrite : bool
        Replace an existing file.
    """
    events, gti = obs.events, obs.gti
    if events is None or gti is None:
        raise ValueError(f"observation {obs.obs_id}: events and GTI are required to write it")
    hdus = [fits.PrimaryHDU(), events.to_table_hdu("EVENTS"), gti.to_table_hdu("GTI")]
    if "pointing" in obs.available():
        pointing = obs.pointing
        if isinstance(pointing, PointingTable):
            hdus.append(pointing.to_table_hdu("POINTING"))
    names = {hdu.name for hdu in hdus}
    for name in IRF_TYPES:
        if name not in obs.available():
            continue
        irf = getattr(obs, name)
        hdu = irf.to_table_hdu()
        if hdu.name in names:
            raise ValueError(f"two HDUs would be named {hdu.name!r}; cannot write {name}")
        names.add(hdu.name)
        hdus.append(hdu)
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList(hdus).writeto(tmp)


def read_observation(path: str | os.PathLike) -> Observation:
    """Read a one-file observation; HDUs are recognised by ``HDUCLAS1``/``HDUCLAS2``.

    Parameters
    ----------
    path : str or path-like
        FITS file with an ``EVENTS`` and a ``GTI`` extension and any IRF extensions.

    Returns
    -------
    Observation
        With every component read (nothing lazy).
    """
    from gammaprob.irf import irf_class_from_header

    path = Path(path)
    components: dict[str, object] = {}
    with open_fits(path) as hdulist:
        for index, hdu in enumerate(hdulist):
            if index == 0 or not isinstance(hdu, fits.BinTableHDU):
                continue
            clas1 = str(hdu.header.get("HDUCLAS1", "")).strip().upper()
            name = hdu.name.upper()
            if clas1 == "EVENTS" or (not clas1 and name == "EVENTS"):
                key, value = "events", EventList.from_hdu(hdu, path=path)
            elif clas1 == "GTI" or (not clas1 and name == "GTI"):
                key, value = "gti", GTI.from_hdu(hdu, path=path)
            elif clas1 == "POINTING" or name == "POINTING":
                key, value = "pointing", PointingTable.from_hdu(hdu, path=path)
            elif clas1 == "RESPONSE":
                cls = irf_class_from_header(hdu.header, path=path, hdu=hdu.name)
                key, value = (
                    _SLOT_OF_CLASS[cls.hduclas4.lower()],
                    cls.from_table_hdu(hdu, path=path),
                )
            else:
                continue
            if key in components:
                raise FormatError(
                    f"more than one {key!r} HDU in the file; cannot tell which to use",
                    path=path,
                    hdu=hdu.name,
                )
            components[key] = value
    for key in ("events", "gti"):
        if key not in components:
            raise FormatError(f"no {key.upper()} extension found", path=path, hdu=key.upper())
    obs_id = components["events"].meta.get("OBS_ID")
    if obs_id is None:
        raise FormatError("events header has no OBS_ID", path=path, hdu="EVENTS", column="OBS_ID")
    return Observation(int(obs_id), **components)
