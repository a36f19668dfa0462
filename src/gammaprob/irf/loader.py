"""Read any GADF IRF HDU into the matching class, chosen from its ``HDUCLASn`` keywords."""

from __future__ import annotations

import os

from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import get_hdu, open_fits
from gammaprob.utils.paths import resolve_data_path

from .background import Background2D, Background3D
from .edisp import EnergyDispersion2D
from .effective_area import EffectiveArea2D
from .psf_parametric import PSF3Gauss, PSFKing
from .psf_table import PSF3D
from .rad_max import RadMax2D

__all__ = ["IRF_CLASSES", "irf_class_from_header", "read_irf"]

#: (HDUCLAS2, HDUCLAS4) -> class. HDUCLAS4 spellings of older files (CTA 1DC: ``2D``,
#: ``3GAUSS``, ``3D``) are accepted too.
IRF_CLASSES = {
    ("EFF_AREA", "AEFF_2D"): EffectiveArea2D,
    ("EFF_AREA", "2D"): EffectiveArea2D,
    ("EDISP", "EDISP_2D"): EnergyDispersion2D,
    ("EDISP", "2D"): EnergyDispersion2D,
    ("PSF", "PSF_TABLE"): PSF3D,
    ("PSF", "PSF_KING"): PSFKing,
    ("PSF", "KING"): PSFKing,
    ("PSF", "PSF_3GAUSS"): PSF3Gauss,
    ("PSF", "3GAUSS"): PSF3Gauss,
    ("BKG", "BKG_2D"): Background2D,
    ("BKG", "BKG_3D"): Background3D,
    ("BKG", "3D"): Background3D,
    ("RAD_MAX", "RAD_MAX_2D"): RadMax2D,
}


def irf_class_from_header(
    header, path: str | os.PathLike | None = None, hdu: str | int | None = None
):
    """Return the IRF class declared by an HDU header.

    ``HDUCLAS2`` of PSFs may be ``PSF`` or ``RPSF``; H.E.S.S. King files declare
    ``HDUCLAS2 = 'PSF_2D_KING'`` without ``HDUCLAS4``.

    Parameters
    ----------
    header : astropy.io.fits.Header or mapping
        HDU header.
    path, hdu : optional
        File and HDU, for the error message.

    Returns
    -------
    type
        One of the classes in `IRF_CLASSES`.

    Raises
    ------
    FormatError
        The keywords name no known IRF.
    """
    clas2 = str(header.get("HDUCLAS2", "")).strip().upper()
    clas4 = str(header.get("HDUCLAS4", "")).strip().upper()
    if clas2 == "RPSF":
        clas2 = "PSF"
    if clas2 == "PSF_2D_KING" and not clas4:
        clas2, clas4 = "PSF", "PSF_KING"
    cls = IRF_CLASSES.get((clas2, clas4))
    if cls is None:
        known = sorted({f"{a}/{b}" for a, b in IRF_CLASSES})
        raise FormatError(
            f"HDUCLAS2/HDUCLAS4 = {clas2 or '(missing)'}/{clas4 or '(missing)'} is not a known IRF; "
            f"expected one of {known}",
            path=path,
            hdu=hdu,
            column="HDUCLAS2",
        )
    return cls


def read_irf(path: str | os.PathLike, hdu: str | int):
    """Read one IRF HDU, dispatching on its ``HDUCLAS2``/``HDUCLAS4`` keywords.

    Parameters
    ----------
    path : str or path-like
        FITS file (gzip allowed).
    hdu : str or int
        HDU name or index.

    Returns
    -------
    EffectiveArea2D, EnergyDispersion2D, PSF3D, PSFKing, PSF3Gauss, Background2D, Background3D or RadMax2D
        The IRF.

    Raises
    ------
    FormatError
        Unreadable file, missing HDU, unknown IRF class, or invalid content (naming file, HDU
        and column).

    Examples
    --------
    >>> aeff = read_irf("$GAMMAPY_DATA/hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz", "AEFF")  # doctest: +SKIP
    """
    path = resolve_data_path(path)
    with open_fits(path) as hdulist:
        table = get_hdu(hdulist, hdu, path)
        cls = irf_class_from_header(table.header, path=path, hdu=hdu)
        return cls.from_table_hdu(table, path=path)
