"""Map datasets in the DL4 FITS layout that gammapy writes, and the Fermi-LAT cube assembly.

Layout: a primary HDU with the dataset ``NAME``; image HDUs ``COUNTS``, ``EXPOSURE``,
``BACKGROUND``, ``PSF`` (+ ``PSF_EXPOSURE``), ``EDISP`` (+ ``EDISP_EXPOSURE``), ``MASK_SAFE``,
``MASK_FIT``, for on/off data ``COUNTS_OFF``, ``ACCEPTANCE``, ``ACCEPTANCE_OFF``, each with a
``<NAME>_BANDS`` table of its non-spatial axes; a ``GTI`` table. The exposure header keyword
``META`` (JSON) holds the livetime.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits

from gammaprob.irf.irf_maps import IRFMap
from gammaprob.maps import Map, MapAxis, WcsGeom
from gammaprob.maps.io import _is_region_map, _is_region_table, map_from_hdulist, map_to_hdus
from gammaprob.utils.errors import FormatError
from gammaprob.utils.fits import get_hdu, open_fits, read_column_unit
from gammaprob.utils.io import atomic_path

from .map_dataset import MapDataset, MapDatasetOnOff

__all__ = ["map_dataset_from_fermi_cubes", "read_map_dataset", "write_map_dataset"]


def _meta_livetime(header: fits.Header, path, hdu: str) -> dict:
    text = header.get("META")
    if not text:
        return {}
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"META keyword is not JSON ({exc})", path=path, hdu=hdu, column="META"
        ) from exc
    if "livetime" in meta:
        return {"livetime": u.Quantity(meta["livetime"]).to(u.s)}
    return {}


_EXPOSURE_HDUS = ("EXPOSURE", "PSF_EXPOSURE", "EDISP_EXPOSURE")


def _check_exposure_unit(m: Map, path, hdu: str) -> None:
    """Refuse an exposure map without an area x time unit (a missing BUNIT reads as "")."""
    if m.unit.is_equivalent("m2 s"):
        return
    unit = m.unit.to_string() or "dimensionless"
    raise FormatError(
        f"an exposure needs an area x time unit, got {unit!r} (an absent or empty BUNIT "
        "reads as dimensionless); set BUNIT (e.g. 'm2 s' or 'cm2 s') in the file, or read "
        f"the map with Map.read(path, hdu={hdu!r}, unit='cm2 s') and build the MapDataset",
        path=path,
        hdu=hdu,
        column="BUNIT",
    )


def read_map_dataset(path: str | os.PathLike, name: str | None = None) -> MapDataset:
    """Read a map dataset written by gammapy (or by :func:`write_map_dataset`).

    Parameters
    ----------
    path : str or path-like
        FITS file (``.fits`` or ``.fits.gz``).
    name : str, optional
        Dataset name (default: the primary ``NAME`` keyword, else the file stem).

    Returns
    -------
    MapDataset or MapDatasetOnOff
        On/off when the file has a ``COUNTS_OFF`` HDU.

    Raises
    ------
    FormatError
        Missing ``COUNTS``, bad maps, non-integer counts; the message names the file and HDU.
    """
    from gammaprob.data.gti import GTI

    path = Path(path)
    with open_fits(path) as hdulist:
        names = {hdu.name for hdu in hdulist}
        get_hdu(hdulist, "COUNTS", path)

        def read(hdu: str, unit=None) -> Map | None:
            if hdu not in names:
                return None
            table = hdulist[hdu]
            if hdu != "COUNTS" and _is_region_table(table) and not _is_region_map(hdulist, table):
                return _position_independent_map(hdulist, hdu, counts_geom, path)
            m = map_from_hdulist(hdulist, hdu=hdu, unit=unit, path=path)
            if hdu in _EXPOSURE_HDUS:
                _check_exposure_unit(m, path, hdu)
            return m

        counts_geom = read("COUNTS").geom
        meta: dict = {"filename": str(path)}
        if "EXPOSURE" in names:
            meta.update(_meta_livetime(hdulist["EXPOSURE"].header, path, "EXPOSURE"))
        fields = {
            "counts": read("COUNTS"),
            "exposure": read("EXPOSURE"),
            "mask_safe": read("MASK_SAFE"),
            "mask_fit": read("MASK_FIT"),
        }
        for key in ("PSF", "EDISP"):
            if key in names:
                fields[key.lower()] = _irf_map(read(key), read(f"{key}_EXPOSURE"))
        if "GTI" in names:
            fields["gti"] = GTI.from_hdu(hdulist["GTI"], path=path)
        cls = MapDataset
        if "COUNTS_OFF" in names:
            cls = MapDatasetOnOff
            for key in ("COUNTS_OFF", "ACCEPTANCE", "ACCEPTANCE_OFF"):
                get_hdu(hdulist, key, path)
                fields[key.lower()] = read(key)
        else:
            fields["background"] = read("BACKGROUND")
        name = name or str(hdulist[0].header.get("NAME", "") or path.name.split(".")[0])
    for key in ("counts", "counts_off"):
        m = fields.get(key)
        if m is not None:
            data = m.data
            bad = ~np.isfinite(data) | (data < 0) | (data != np.round(data))
            if np.any(bad):
                raise FormatError(
                    f"counts must be non-negative integers; {int(bad.sum())} bin(s) are not",
                    path=path,
                    hdu=key.upper(),
                )
    for key in ("mask_safe", "mask_fit"):
        m = fields.get(key)
        if m is not None and not np.any(m.data) and key == "mask_safe":
            raise FormatError(
                "every bin is masked: the dataset has no usable bin", path=path, hdu="MASK_SAFE"
            )
    return cls(name=name, meta=meta, **fields)


def write_map_dataset(
    dataset: MapDataset, path: str | os.PathLike, overwrite: bool = False
) -> None:
    """Write a map dataset in gammapy's DL4 layout, atomically.

    A :class:`~gammaprob.irf.EDispKernel` is stored as a one-pixel ``EDISP`` map at the
    counts centre (gammapy's layout for a kernel map). A ``PSFKernel`` cannot be stored in
    this layout and is refused.

    Parameters
    ----------
    dataset : MapDataset
        Dataset to write.
    path : str or path-like
        Output FITS file.
    overwrite : bool
        Replace an existing file.
    """
    primary = fits.PrimaryHDU()
    primary.header["NAME"] = dataset.name
    hdus: list = [primary]

    def add(m: Map | None, name: str, header: dict | None = None) -> None:
        if m is None:
            return
        new = map_to_hdus(m, hdu=name)
        if header:
            new[0].header.update(header)
        hdus.extend(new)

    add(dataset.counts, "COUNTS")
    livetime = dataset.livetime
    meta = (
        {"META": json.dumps({"livetime": f"{float(livetime.to_value(u.s))!r} s"})}
        if livetime is not None
        else None
    )
    add(dataset.exposure, "EXPOSURE", meta)
    add(dataset.background, "BACKGROUND")
    for key, irf in (("PSF", dataset.psf), ("EDISP", dataset.edisp)):
        if irf is None:
            continue
        if not isinstance(irf, IRFMap):
            irf = _kernel_to_irf_map(irf, dataset, key)
        add(irf.irf_map, key)
        add(irf.exposure_map, f"{key}_EXPOSURE")
    add(dataset.mask_safe, "MASK_SAFE")
    add(dataset.mask_fit, "MASK_FIT")
    if isinstance(dataset, MapDatasetOnOff):
        add(dataset.counts_off, "COUNTS_OFF")
        add(dataset.acceptance, "ACCEPTANCE")
        add(dataset.acceptance_off, "ACCEPTANCE_OFF")
    if dataset.gti is not None:
        hdus.append(dataset.gti.to_table_hdu())
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList(hdus).writeto(tmp)


def _position_independent_map(hdulist: fits.HDUList, hdu: str, counts_geom, path) -> Map:
    """Read a region table without a REGION HDU: one IRF for every position.

    gammapy writes such tables for a ``RegionGeom`` with ``region=None`` (e.g. the PSF and
    energy dispersion of ``fermi-3fhl-gc``). The values go on a one-pixel WCS geometry of
    180 deg at the counts-map centre, so that every sky position reads the same IRF (the
    layout this module also writes for an ``EDispKernel``).
    """
    from astropy.table import Table

    from gammaprob.maps.bands import axes_from_bands_hdu

    header = hdulist[hdu].header
    bands = str(header.get("BANDSHDU", f"{hdu}_BANDS")).strip()
    axes = axes_from_bands_hdu(get_hdu(hdulist, bands, path), path)
    geom = WcsGeom.create(
        skydir=counts_geom.center_skydir,
        npix=1,
        binsz=180.0,
        frame=counts_geom.frame,
        axes=list(axes),
    )
    column = Table.read(hdulist[hdu])["DATA"]
    values = np.asarray(column, dtype=np.float64)
    if values.size != int(np.prod(geom.data_shape)):
        raise FormatError(
            f"DATA has {values.size} values, expected {int(np.prod(geom.data_shape))} for "
            f"axes {axes.names}",
            path=path,
            hdu=hdu,
            column="DATA",
        )
    unit = column.unit if column.unit is not None else u.one
    return Map(geom, data=values.reshape(geom.data_shape), unit=unit)


def _irf_map(irf_map: Map, exposure_map: Map | None) -> IRFMap:
    """Wrap a stored IRF map in the class its axes call for (generic IRFMap otherwise)."""
    from gammaprob.irf.irf_maps import EDispKernelMap, PSFMap

    names = set(irf_map.geom.axes.names)
    if names == {"rad", "energy_true"}:
        return PSFMap(irf_map, exposure_map)
    if names == {"energy", "energy_true"}:
        return EDispKernelMap(irf_map, exposure_map)
    return IRFMap(irf_map, exposure_map)


def _kernel_to_irf_map(kernel, dataset: MapDataset, key: str) -> IRFMap:
    from gammaprob.irf.edisp_kernel import EDispKernel

    if key == "EDISP" and isinstance(kernel, EDispKernel):
        geom = WcsGeom.create(
            skydir=dataset.geom.center_skydir,
            npix=1,
            binsz=180.0,
            frame=dataset.geom.frame,
            axes=[kernel.energy_axis, kernel.energy_axis_true],
        )
        return IRFMap(Map(geom, data=np.array(kernel.pdf_matrix)[:, :, None, None]))
    raise TypeError(
        f"dataset {dataset.name!r}: a {type(kernel).__name__} cannot be written in the DL4 map "
        f"layout; give the dataset an IRFMap {key.lower()} instead"
    )


def _gtpsf_irf_map(path: Path, center) -> IRFMap:
    """Read a Fermi ``gtpsf`` file (PSF and THETA tables) as a one-pixel PSF map."""
    with open_fits(path) as hdulist:
        psf_hdu = get_hdu(hdulist, "PSF", path)
        theta_hdu = get_hdu(hdulist, "THETA", path)
        energy_unit = read_column_unit(psf_hdu, "Energy", default="MeV", path=path)
        energy = np.asarray(psf_hdu.data["Energy"], dtype=float) * energy_unit
        exposure = np.asarray(psf_hdu.data["Exposure"], dtype=float)
        psf = np.asarray(psf_hdu.data["Psf"], dtype=float)
        theta = np.asarray(theta_hdu.data["Theta"], dtype=float) * read_column_unit(
            theta_hdu, "Theta", default="deg", path=path
        )
    energy_axis = MapAxis.from_nodes(energy.to(u.TeV), interp="log", name="energy_true")
    rad_axis = MapAxis.from_nodes(theta.to(u.deg), name="rad")
    geom = WcsGeom.create(
        skydir=center, npix=1, binsz=180.0, frame="icrs", axes=[rad_axis, energy_axis]
    )
    exp_geom = WcsGeom.create(skydir=center, npix=1, binsz=180.0, frame="icrs", axes=[energy_axis])
    return IRFMap(
        Map(geom, data=psf[:, :, None, None], unit="sr-1"),
        Map(exp_geom, data=exposure[:, None, None], unit="cm2 s"),
    )


def _interp_exposure(exposure: Map, energy_axis_true: MapAxis) -> np.ndarray:
    """Exposure at the centres of ``energy_axis_true``, linear in log(E) between the cube's nodes."""
    nodes = exposure.geom.axes["energy_true"].center.to_value(u.TeV)
    centers = energy_axis_true.center.to_value(u.TeV)
    x = np.log(nodes)
    t = np.log(centers)
    idx = np.clip(np.searchsorted(x, t) - 1, 0, x.size - 2)
    w = ((t - x[idx]) / (x[idx + 1] - x[idx]))[:, None, None]
    return exposure.data[idx] * (1 - w) + exposure.data[idx + 1] * w


def map_dataset_from_fermi_cubes(
    counts: str | os.PathLike,
    exposure: str | os.PathLike,
    background: str | os.PathLike | None = None,
    psf: str | os.PathLike | None = None,
    name: str = "fermi-lat",
) -> MapDataset:
    """Assemble a dataset from Fermi-LAT science-tools cubes (e.g. ``$GAMMAPY_DATA/fermi-3fhl-gc``).

    The counts cube (``EBOUNDS``) fixes the geometry; the exposure cube (``ENERGIES`` nodes,
    cm2 s) is interpolated linearly in log(E) to the centres of the counts energy bins, which
    become the true-energy axis (as gammapy's ``interp_to_geom`` does); the energy dispersion is
    diagonal; the PSF comes from a ``gtpsf`` file as a one-pixel :class:`IRFMap`.

    Parameters
    ----------
    counts, exposure : str or path-like
        ``gtbin`` counts cube and ``gtexpcube2`` exposure cube.
    background : str or path-like, optional
        Background (diffuse model) counts cube on the counts geometry.
    psf : str or path-like, optional
        ``gtpsf`` output.
    name : str
        Dataset name.

    Returns
    -------
    MapDataset
        The assembled dataset (``edisp=None``: diagonal).
    """
    from gammaprob.data.gti import GTI

    counts_map = Map.read(counts, unit="")
    exposure_map = Map.read(exposure, unit="cm2 s")
    if exposure_map.geom.to_image() != counts_map.geom.to_image():
        raise FormatError(
            "exposure cube and counts cube have different sky geometries", path=exposure
        )
    axis_true = counts_map.geom.axes["energy"].copy(name="energy_true")
    exposure_true = Map(
        counts_map.geom.to_image().to_cube([axis_true]),
        data=_interp_exposure(exposure_map, axis_true),
        unit="cm2 s",
    )
    background_map = None
    if background is not None:
        background_map = Map.read(background, unit="")
        if background_map.geom != counts_map.geom:
            raise FormatError(
                "background cube geometry differs from the counts cube", path=background
            )
    psf_map = None if psf is None else _gtpsf_irf_map(Path(psf), counts_map.geom.center_skydir)
    with open_fits(counts) as hdulist:
        gti = GTI.from_hdu(hdulist["GTI"], path=counts) if "GTI" in hdulist else None
    return MapDataset(
        name=name,
        counts=counts_map,
        exposure=exposure_true,
        background=background_map,
        psf=psf_map,
        gti=gti,
        meta={
            "source_files": [str(p) for p in (counts, exposure, background, psf) if p is not None]
        },
    )
