"""Read and write spectrum datasets as OGIP file sets (PHA + ARF + RMF + BKG).

The PHA file names the others in its ``ANCRFILE``, ``RESPFILE`` and ``BACKFILE`` keywords
(relative to the PHA file's folder unless absolute). When writing ``pha_obs<ID>.fits`` the
companions are ``arf_obs<ID>.fits``, ``rmf_obs<ID>.fits`` and ``bkg_obs<ID>.fits`` (the
gammapy/joint-Crab convention); any other name ``<stem>.fits`` gets ``<stem>_arf.fits`` etc.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import astropy.units as u
import numpy as np

from gammaprob.utils.errors import FormatError
from gammaprob.utils.io import atomic_path
from gammaprob.utils.paths import resolve_data_path

from .ogip import arf_hdulist, pha_hdulist, read_arf, read_pha, read_rmf, rmf_hdulist
from .spectrum import EXPOSURE_UNIT, SpectrumDataset, SpectrumDatasetOnOff

__all__ = ["companion_paths", "read_ogip", "write_ogip"]


def companion_paths(path: str | os.PathLike) -> dict[str, Path]:
    """ARF, RMF and BKG file names written next to the PHA file ``path``."""
    path = Path(path)
    suffix = "".join(path.suffixes)
    stem = path.name[: -len(suffix)] if suffix else path.name
    if stem.startswith("pha_"):
        names = {key: f"{key}_{stem[4:]}{suffix}" for key in ("arf", "rmf", "bkg")}
    else:
        names = {key: f"{stem}_{key}{suffix}" for key in ("arf", "rmf", "bkg")}
    return {key: path.parent / name for key, name in names.items()}


def _linked(pha_path: Path, header: dict, keyword: str) -> Path | None:
    value = str(header.get(keyword, "") or "").strip()
    if not value or value.upper() == "NONE":
        return None
    linked = Path(value)
    if not linked.is_absolute():
        linked = pha_path.parent / linked
    if not linked.exists():
        raise FormatError(
            f"names {value!r}, which does not exist ({linked})",
            path=pha_path,
            hdu="SPECTRUM",
            column=keyword,
        )
    return linked


def _safe_mask(pha: dict) -> np.ndarray:
    if pha["has_quality"]:
        return pha["quality"] == 0
    header = pha["header"]
    axis = pha["energy_axis"]
    mask = np.ones(axis.nbin, bool)
    if "LO_THRES" in header:
        mask &= axis.edges_min.to_value(u.TeV) >= float(header["LO_THRES"]) * (1 - 1e-6)
    if "HI_THRES" in header:
        mask &= axis.edges_max.to_value(u.TeV) <= float(header["HI_THRES"]) * (1 + 1e-6)
    return mask


def read_ogip(path: str | os.PathLike, name: str | None = None) -> SpectrumDatasetOnOff:
    """Read an OGIP PHA file and the ARF, RMF and BKG files its header names.

    Parameters
    ----------
    path : str or path-like
        PHA file, e.g. ``$GAMMAPY_DATA/joint-crab/spectra/hess/pha_obs23523.fits``.
    name : str, optional
        Dataset name (default: the ``OBS_ID`` keyword, else the file stem).

    Returns
    -------
    SpectrumDatasetOnOff
        The dataset: exposure = ARF x ``EXPOSURE``, alpha from ``BACKSCAL`` (see
        :mod:`gammaprob.datasets.ogip` for every column's treatment).

    Raises
    ------
    FormatError
        Missing ARF or BKG, axes that do not match between the files, an all-masked
        spectrum, or any bad column; the message names the file, HDU and column.
    """
    path = resolve_data_path(path)
    pha = read_pha(path)
    header = pha["header"]
    if name is None:
        name = str(header["OBS_ID"]) if "OBS_ID" in header else path.name.split(".")[0]
    if np.any(pha["areascal"] != 1):
        raise FormatError(
            "AREASCAL != 1 in the ON spectrum is not supported (it scales the source model per channel)",
            path=path,
            hdu="SPECTRUM",
            column="AREASCAL",
        )
    mask_safe = _safe_mask(pha)
    if not np.any(mask_safe):
        column = "QUALITY" if pha["has_quality"] else "LO_THRES"
        raise FormatError(
            f"all {mask_safe.size} channels are flagged bad: the spectrum has no usable bin",
            path=path,
            hdu="SPECTRUM",
            column=column,
        )
    energy_axis = pha["energy_axis"]

    arf_path = _linked(path, header, "ANCRFILE")
    if arf_path is None:
        raise FormatError(
            "no ARF: the ANCRFILE keyword is missing or empty",
            path=path,
            hdu="SPECTRUM",
            column="ANCRFILE",
        )
    energy_axis_true, aeff = read_arf(arf_path)
    livetime = pha["livetime"]

    edisp = None
    rmf_path = _linked(path, header, "RESPFILE")
    if rmf_path is not None:
        rmf_true, rmf_reco, edisp = read_rmf(rmf_path)
        if not rmf_true.is_aligned(energy_axis_true, rtol=1e-6):
            raise FormatError(
                f"the RMF true-energy grid ({rmf_true.nbin} bins, {rmf_true.edges[0]:.6g}..{rmf_true.edges[-1]:.6g}) "
                f"does not match the ARF's ({energy_axis_true.nbin} bins, {energy_axis_true.edges[0]:.6g}.."
                f"{energy_axis_true.edges[-1]:.6g}) in {arf_path.name}",
                path=rmf_path,
                hdu="MATRIX",
                column="ENERG_LO",
            )
        if not rmf_reco.is_aligned(energy_axis, rtol=1e-6):
            raise FormatError(
                f"the RMF channel grid ({rmf_reco.nbin} bins) does not match the PHA EBOUNDS "
                f"({energy_axis.nbin} bins) of {path.name}",
                path=rmf_path,
                hdu="EBOUNDS",
                column="E_MIN",
            )
        if np.any(edisp.sum(axis=1) > 1.001):
            row = int(np.argmax(edisp.sum(axis=1)))
            raise FormatError(
                f"row {row} of the redistribution matrix sums to {edisp[row].sum():.6g} > 1",
                path=rmf_path,
                hdu="MATRIX",
                column="MATRIX",
            )

    elif not energy_axis_true.is_aligned(energy_axis, rtol=1e-6):
        raise FormatError(
            f"no RMF (RESPFILE), so the response is diagonal, but the ARF grid "
            f"({energy_axis_true.nbin} bins) differs from EBOUNDS ({energy_axis.nbin} bins)",
            path=path,
            hdu="SPECTRUM",
            column="RESPFILE",
        )

    bkg_path = _linked(path, header, "BACKFILE")
    if bkg_path is None:
        raise FormatError(
            "no background spectrum: the BACKFILE keyword is missing or empty (needed for on/off data)",
            path=path,
            hdu="SPECTRUM",
            column="BACKFILE",
        )
    bkg = read_pha(bkg_path)
    if not bkg["energy_axis"].is_aligned(energy_axis, rtol=1e-6):
        raise FormatError(
            f"background EBOUNDS ({bkg['energy_axis'].nbin} bins) differ from the ON spectrum's "
            f"({energy_axis.nbin} bins) in {path.name}",
            path=bkg_path,
            hdu="EBOUNDS",
            column="E_MIN",
        )
    time_ratio = (bkg["livetime"] / livetime).to_value(u.one)
    acceptance_off = bkg["backscal"] * bkg["areascal"] * time_ratio

    meta = {
        key: header[key]
        for key in ("OBS_ID", "TELESCOP", "INSTRUME", "LO_THRES", "HI_THRES")
        if key in header
    }
    meta["filename"] = str(path)
    return SpectrumDatasetOnOff(
        name=name,
        counts=pha["counts"],
        counts_off=bkg["counts"],
        acceptance=pha["backscal"],
        acceptance_off=acceptance_off,
        exposure=(aeff * livetime).to(EXPOSURE_UNIT),
        energy_axis=energy_axis,
        energy_axis_true=energy_axis_true,
        edisp=edisp,
        mask_safe=mask_safe,
        livetime=livetime,
        gti=pha["gti"],
        meta=meta,
    )


def write_ogip(dataset: SpectrumDataset, path: str | os.PathLike, overwrite: bool = False) -> None:
    """Write a spectrum dataset as OGIP PHA + ARF + RMF (+ BKG for on/off data), atomically.

    All files are written to temporary names first and moved into place only when every one
    was written, so a failure leaves no partial set. ``QUALITY`` is ``1`` outside
    ``mask_safe``; ``LO_THRES``/``HI_THRES`` (TeV) give the safe range as gammapy writes it.
    ``mask_fit`` is not stored (OGIP has no place for it).

    Parameters
    ----------
    dataset : SpectrumDatasetOnOff
        Dataset with a livetime (the ARF is exposure / livetime).
    path : str or path-like
        PHA file name; the companions follow :func:`companion_paths`.
    overwrite : bool
        Replace existing files.
    """
    if not isinstance(dataset, SpectrumDatasetOnOff):
        raise TypeError(
            f"OGIP files hold on/off spectra; got a {type(dataset).__name__} (write it with a "
            "Datasets index instead)"
        )
    if dataset.livetime is None or dataset.livetime.value <= 0:
        raise ValueError(
            f"dataset {dataset.name!r}: writing OGIP needs a positive livetime (PHA EXPOSURE)"
        )
    path = Path(path)
    paths = companion_paths(path)
    keywords = {
        "OBS_ID": dataset.name,
        "ANCRFILE": paths["arf"].name,
        "RESPFILE": paths["rmf"].name,
        "BACKFILE": paths["bkg"].name,
    }
    if np.any(dataset.mask_safe):
        lo, hi = dataset.energy_range_safe.to_value(u.TeV)
        keywords.update(LO_THRES=lo, HI_THRES=hi)
    for key in ("TELESCOP", "INSTRUME"):
        if key in dataset.meta:
            keywords[key] = dataset.meta[key]
    quality = (~dataset.mask_safe).astype(np.int16)
    axis, axis_true = dataset.energy_axis, dataset.energy_axis_true
    files = {
        path: pha_hdulist(
            dataset.counts,
            quality,
            dataset.acceptance,
            axis,
            dataset.livetime,
            {"HDUCLAS2": "TOTAL", **keywords},
            gti=dataset.gti,
        ),
        paths["bkg"]: pha_hdulist(
            dataset.counts_off,
            quality,
            dataset.acceptance_off,
            axis,
            dataset.livetime,
            {"HDUCLAS2": "BKG", "OBS_ID": dataset.name},
        ),
        paths["arf"]: arf_hdulist(axis_true, dataset.aeff),
        paths["rmf"]: rmf_hdulist(axis_true, axis, dataset.edisp_matrix),
    }
    with contextlib.ExitStack() as stack:
        temporary = {
            target: stack.enter_context(atomic_path(target, overwrite=overwrite))
            for target in files
        }
        for target, hdulist in files.items():
            hdulist.writeto(temporary[target])
