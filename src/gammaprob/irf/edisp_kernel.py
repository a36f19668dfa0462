"""Energy-dispersion matrix between true- and reconstructed-energy bins, with OGIP RMF I/O."""

from __future__ import annotations

import os
from pathlib import Path

import astropy.units as u
import numpy as np
import scipy.special
from astropy.io import fits

from gammaprob.maps.axes import MapAxis
from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import get_hdu, open_fits, read_column_unit
from gammaprob.utils.io import atomic_path

__all__ = ["EDispKernel"]


def _energy_axis_from_columns(hdu, lo: str, hi: str, name: str, path) -> MapAxis:
    unit = read_column_unit(hdu, lo, default="keV", path=path)
    if not unit.is_equivalent(u.TeV):
        raise FormatError(f"unit {unit} is not an energy unit", path=path, hdu=hdu.name, column=lo)
    lo_v = np.asarray(hdu.data[lo], dtype=float)
    hi_v = np.asarray(hdu.data[hi], dtype=float)
    if lo_v.size == 0 or not np.allclose(lo_v[1:], hi_v[:-1], rtol=1e-6, atol=0):
        raise FormatError(
            "energy bins are empty or not contiguous", path=path, hdu=hdu.name, column=lo
        )
    edges = u.Quantity(np.append(lo_v, hi_v[-1]), unit)
    try:
        return MapAxis.from_edges(edges.to(u.TeV), interp="log", name=name)
    except ValueError as exc:
        raise FormatError(str(exc), path=path, hdu=hdu.name, column=lo) from exc


class EDispKernel:
    """Probability ``P(E_reco bin j | E_true bin i)`` as a matrix (immutable).

    Parameters
    ----------
    energy_axis_true : gammaprob.maps.MapAxis
        True energy bins (``name="energy_true"``).
    energy_axis : gammaprob.maps.MapAxis
        Reconstructed energy bins (``name="energy"``).
    data : array-like
        Matrix of shape ``(n_true, n_reco)``, non-negative; rows sum to at most 1 (the rest
        falls outside the reconstructed range).
    """

    def __init__(self, energy_axis_true: MapAxis, energy_axis: MapAxis, data) -> None:
        if energy_axis_true.name != "energy_true" or energy_axis.name != "energy":
            raise ValueError(
                "EDispKernel needs axes named 'energy_true' and 'energy', got "
                f"{energy_axis_true.name!r} and {energy_axis.name!r}"
            )
        data = np.array(data, dtype=float)
        shape = (energy_axis_true.nbin, energy_axis.nbin)
        if data.shape != shape:
            raise ValueError(f"EDispKernel: data shape {data.shape} does not match axes {shape}")
        if not np.all(np.isfinite(data)) or np.any(data < 0):
            raise ValueError("EDispKernel: data must be finite and non-negative")
        data.setflags(write=False)
        self._axes = (energy_axis_true, energy_axis)
        self._data = data

    @property
    def energy_axis_true(self) -> MapAxis:
        """True energy axis."""
        return self._axes[0]

    @property
    def energy_axis(self) -> MapAxis:
        """Reconstructed energy axis."""
        return self._axes[1]

    @property
    def pdf_matrix(self) -> np.ndarray:
        """The matrix ``[n_true, n_reco]`` (read-only)."""
        return self._data

    data = pdf_matrix

    def __repr__(self) -> str:
        et, er = self._axes
        return (
            f"EDispKernel(energy_true[{et.nbin}: {et.edges[0]:.4g}..{et.edges[-1]:.4g}], "
            f"energy[{er.nbin}: {er.edges[0]:.4g}..{er.edges[-1]:.4g}], "
            f"max row sum={self._data.sum(axis=1).max():.4g})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EDispKernel):
            return NotImplemented
        return self._axes == other._axes and np.array_equal(self._data, other._data)

    __hash__ = None

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def from_gauss(
        cls,
        energy_axis_true: MapAxis,
        energy_axis: MapAxis,
        sigma: float | np.ndarray,
        bias: float | np.ndarray = 0.0,
    ) -> EDispKernel:
        """Gaussian migration ``μ = E_reco/E_true ~ N(1 + bias, sigma)``, integrated exactly.

        Parameters
        ----------
        energy_axis_true, energy_axis : gammaprob.maps.MapAxis
            True and reconstructed energy bins.
        sigma : float or numpy.ndarray
            Relative resolution (scalar or per true bin), > 0.
        bias : float or numpy.ndarray
            Relative bias (scalar or per true bin).

        Returns
        -------
        EDispKernel
            Matrix evaluated at the true-bin centres.
        """
        n_true = energy_axis_true.nbin
        sigma = np.broadcast_to(np.asarray(sigma, dtype=float), (n_true,))[:, None]
        bias = np.broadcast_to(np.asarray(bias, dtype=float), (n_true,))[:, None]
        if np.any(sigma <= 0):
            raise ValueError("sigma must be > 0")
        migra = (
            energy_axis.edges.to_value(u.TeV)[None, :]
            / energy_axis_true.center.to_value(u.TeV)[:, None]
        )
        cdf = 0.5 * scipy.special.erfc(-(migra - 1 - bias) / (np.sqrt(2) * sigma))
        return cls(energy_axis_true, energy_axis, np.diff(cdf, axis=1))

    @classmethod
    def from_diagonal_response(
        cls, energy_axis_true: MapAxis, energy_axis: MapAxis | None = None
    ) -> EDispKernel:
        """Perfect resolution: 1 where the true-bin centre falls in the reco bin.

        Parameters
        ----------
        energy_axis_true : gammaprob.maps.MapAxis
            True energy bins.
        energy_axis : gammaprob.maps.MapAxis, optional
            Reconstructed energy bins (default: the true bins renamed ``energy``).

        Returns
        -------
        EDispKernel
            The (possibly rectangular) 0/1 matrix.
        """
        if energy_axis is None:
            energy_axis = energy_axis_true.copy(name="energy")
        center = energy_axis_true.center.to_value(u.TeV)[:, None]
        edges = energy_axis.edges.to_value(u.TeV)
        data = (center >= edges[None, :-1]) & (center < edges[None, 1:])
        return cls(energy_axis_true, energy_axis, data.astype(float))

    # ---- OGIP RMF -----------------------------------------------------------------------------
    def to_hdulist(self) -> fits.HDUList:
        """Convert to an OGIP RMF: ``MATRIX`` (grouped, compressed) and ``EBOUNDS`` HDUs.

        Energies are written in TeV with their ``TUNIT`` (readers that expect keV convert).

        Returns
        -------
        astropy.io.fits.HDUList
            Primary, ``MATRIX`` and ``EBOUNDS`` HDUs.
        """
        et, er = self._axes
        n_grp, f_chan, n_chan, matrix = [], [], [], []
        for row in self._data:
            nonzero = np.flatnonzero(row > 0)
            if nonzero.size == 0:
                starts = stops = np.array([], dtype=int)
            else:
                breaks = np.flatnonzero(np.diff(nonzero) > 1)
                starts = nonzero[np.r_[0, breaks + 1]]
                stops = nonzero[np.r_[breaks, nonzero.size - 1]] + 1
            n_grp.append(starts.size)
            f_chan.append(starts.astype(np.int32))
            n_chan.append((stops - starts).astype(np.int32))
            matrix.append(
                np.concatenate(
                    [row[a:b] for a, b in zip(starts, stops, strict=True)] or [np.array([])]
                )
            )
        e_true = et.edges.to_value(u.TeV)
        matrix_hdu = fits.BinTableHDU.from_columns(
            [
                fits.Column("ENERG_LO", "D", unit="TeV", array=e_true[:-1]),
                fits.Column("ENERG_HI", "D", unit="TeV", array=e_true[1:]),
                fits.Column("N_GRP", "J", array=np.array(n_grp, dtype=np.int32)),
                fits.Column("F_CHAN", "PJ()", array=np.array(f_chan, dtype=object)),
                fits.Column("N_CHAN", "PJ()", array=np.array(n_chan, dtype=object)),
                fits.Column("MATRIX", "PD()", array=np.array(matrix, dtype=object)),
            ],
            name="MATRIX",
        )
        header = matrix_hdu.header
        header["TLMIN4"] = 0
        header["DETCHANS"] = er.nbin
        header.update(HDUCLASS="OGIP", HDUCLAS1="RESPONSE", HDUCLAS2="RSP_MATRIX", HDUVERS="1.3.0")
        header["CHANTYPE"] = "PHA"
        e_reco = er.edges.to_value(u.TeV)
        ebounds = fits.BinTableHDU.from_columns(
            [
                fits.Column("CHANNEL", "J", array=np.arange(er.nbin, dtype=np.int32)),
                fits.Column("E_MIN", "D", unit="TeV", array=e_reco[:-1]),
                fits.Column("E_MAX", "D", unit="TeV", array=e_reco[1:]),
            ],
            name="EBOUNDS",
        )
        ebounds.header.update(
            HDUCLASS="OGIP", HDUCLAS1="RESPONSE", HDUCLAS2="EBOUNDS", DETCHANS=er.nbin
        )
        return fits.HDUList([fits.PrimaryHDU(), matrix_hdu, ebounds])

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write as an OGIP RMF file, atomically.

        Parameters
        ----------
        path : str or path-like
            Output file.
        overwrite : bool
            Replace an existing file.

        Returns
        -------
        pathlib.Path
            The file.
        """
        with atomic_path(path, overwrite=overwrite) as tmp:
            self.to_hdulist().writeto(tmp)
        return Path(path)

    @classmethod
    def from_hdulist(
        cls, hdulist: fits.HDUList, path: str | os.PathLike | None = None
    ) -> EDispKernel:
        """Read from an OGIP RMF HDU list (``MATRIX`` or ``SPECRESP MATRIX``, and ``EBOUNDS``).

        Parameters
        ----------
        hdulist : astropy.io.fits.HDUList
            Open RMF file.
        path : str or path-like, optional
            File name for error messages.

        Returns
        -------
        EDispKernel
            The matrix.
        """
        names = [h.name for h in hdulist]
        matrix_name = "MATRIX" if "MATRIX" in names else "SPECRESP MATRIX"
        mhdu = get_hdu(hdulist, matrix_name, path)
        ehdu = get_hdu(hdulist, "EBOUNDS", path)
        for column in ("ENERG_LO", "ENERG_HI", "N_GRP", "F_CHAN", "N_CHAN", "MATRIX"):
            if column not in mhdu.columns.names:
                raise FormatError(
                    "required RMF column is missing", path=path, hdu=mhdu.name, column=column
                )
        axis_true = _energy_axis_from_columns(mhdu, "ENERG_LO", "ENERG_HI", "energy_true", path)
        axis_reco = _energy_axis_from_columns(ehdu, "E_MIN", "E_MAX", "energy", path)
        f_chan_idx = mhdu.columns.names.index("F_CHAN") + 1
        first_channel = int(mhdu.header.get(f"TLMIN{f_chan_idx}", 1))
        data = np.zeros((axis_true.nbin, axis_reco.nbin))
        rows = mhdu.data
        for i in range(axis_true.nbin):
            n_grp = int(rows["N_GRP"][i])
            f_chan = np.atleast_1d(rows["F_CHAN"][i]).astype(int)[:n_grp] - first_channel
            n_chan = np.atleast_1d(rows["N_CHAN"][i]).astype(int)[:n_grp]
            values = np.atleast_1d(rows["MATRIX"][i]).astype(float)
            pos = 0
            for start, length in zip(f_chan, n_chan, strict=True):
                if start < 0 or start + length > axis_reco.nbin or pos + length > values.size:
                    raise FormatError(
                        f"row {i}: channel group {start}+{length} does not fit {axis_reco.nbin} "
                        f"channels / {values.size} matrix values",
                        path=path,
                        hdu=mhdu.name,
                        column="F_CHAN",
                    )
                data[i, start : start + length] = values[pos : pos + length]
                pos += length
        if not np.all(np.isfinite(data)) or np.any(data < 0):
            raise FormatError(
                "matrix has NaN or negative values", path=path, hdu=mhdu.name, column="MATRIX"
            )
        return cls(axis_true, axis_reco, data)

    @classmethod
    def read(cls, path: str | os.PathLike) -> EDispKernel:
        """Read an OGIP RMF file.

        Parameters
        ----------
        path : str or path-like
            File name.

        Returns
        -------
        EDispKernel
            The matrix.
        """
        with open_fits(path) as hdulist:
            return cls.from_hdulist(hdulist, path=path)
