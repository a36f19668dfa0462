"""Helpers of the IRF tests: synthetic GADF HDUs and the gammapy import (loaded by conftest)."""

from __future__ import annotations

import numpy as np
from astropy.io import fits


def import_gammapy_irf():
    """Import ``gammapy.irf`` (the validation extra pins a regions release gammapy imports with)."""
    import gammapy.irf

    return gammapy.irf


def make_aeff_hdu(
    energy_edges=(0.1, 1.0, 10.0, 100.0),
    theta_edges=(0.0, 1.0, 2.0),
    data=None,
    units=None,
    extname="EFFECTIVE AREA",
    header=None,
):
    """A GADF AEFF_2D HDU with GADF layout; ``units`` overrides column units (None drops one)."""
    energy_edges = np.asarray(energy_edges, dtype=float)
    theta_edges = np.asarray(theta_edges, dtype=float)
    ne, nt = energy_edges.size - 1, theta_edges.size - 1
    if data is None:
        data = np.arange(1, ne * nt + 1, dtype=float).reshape(ne, nt) * 1e4
    units = {"ENERG": "TeV", "THETA": "deg", "EFFAREA": "m2", **(units or {})}
    cols = [
        fits.Column("ENERG_LO", f"{ne}D", unit=units["ENERG"], array=[energy_edges[:-1]]),
        fits.Column("ENERG_HI", f"{ne}D", unit=units["ENERG"], array=[energy_edges[1:]]),
        fits.Column("THETA_LO", f"{nt}D", unit=units["THETA"], array=[theta_edges[:-1]]),
        fits.Column("THETA_HI", f"{nt}D", unit=units["THETA"], array=[theta_edges[1:]]),
        fits.Column(
            "EFFAREA",
            f"{ne * nt}D",
            unit=units["EFFAREA"],
            dim=f"({ne},{nt})",
            array=[np.asarray(data).T],
        ),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name=extname)
    hdu.header.update(
        {
            "HDUCLASS": "GADF",
            "HDUCLAS1": "RESPONSE",
            "HDUCLAS2": "EFF_AREA",
            "HDUCLAS3": "FULL-ENCLOSURE",
            "HDUCLAS4": "AEFF_2D",
        }
    )
    hdu.header.update(header or {})
    return hdu


def write_hdu(path, hdu):
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path
