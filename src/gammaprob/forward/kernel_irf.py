r"""Per-source IRFs and cutouts of kernel mode, built once from a map dataset (numpy).

Kernel mode reproduces gammapy's discretisation of a map model (see
:mod:`gammaprob.forward.kernel_mode`). What depends on the source position but not on any
parameter value is computed here, at the nominal position of each source, with the rules
gammapy 2.x applies (facts read from its ``MapEvaluator``, ``PSFMap.get_psf_kernel`` and
``WcsGeom.cutout``; the code is ours):

* **PSF kernel** (:meth:`KernelIRFs.psf_kernel`): a square of odd side covering the largest
  99.9% containment radius over the PSF map's energies; per energy of the dataset, the PSF
  (linear interpolation of the PSF map in pixel coordinates of its sky grid, energy (log) and
  ``rad``, with linear extrapolation, clipped at 0) is sampled at the centres of
  ``f x f`` sub-pixels of a square of odd side covering that energy's 99.9% radius
  (``f = min(ceil(12 / (2 r68 / pixel)), 4)``), summed per pixel and normalised to unit sum.
  Containment radii are those of the cumulative ``2 pi r dr`` sum on the ``rad`` edges,
  interpolated on the ``rad`` axis split 20 times, taking the closest sample.
* **Evaluation cutout** (:meth:`KernelIRFs.cutout`): an odd square of
  ``kernel width + 2 (evaluation radius + 0.1 deg)`` around the source, clipped at the map
  edge; gammapy folds each source on that cutout only.
* **Energy dispersion** at the source position (the dataset's nearest IRF pixel).

The source position is taken from the dataset's IRF sky grid as given (gammapy moves a position
outside the IRFs' valid area to the nearest valid pixel; kernel mode does not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np

from gammaprob.forward.sky_projection import SkyProjection

__all__ = [
    "CUTOUT_MARGIN",
    "PSF_CONTAINMENT",
    "PSF_MAX_OVERSAMPLING",
    "KernelIRFs",
    "cutout_slices",
    "round_up_to_odd",
]

#: Containment fraction of the PSF kernels (deg radius from the PSF map).
PSF_CONTAINMENT = 0.999
#: Margin (deg) added around each source's evaluation radius for its cutout.
CUTOUT_MARGIN = 0.1
#: Upper limit of the sub-pixel factor per axis when sampling the PSF kernel.
PSF_MAX_OVERSAMPLING = 4
_PRECISION_FACTOR = 12
_RAD_UPSAMPLING = 20


def round_up_to_odd(value) -> np.ndarray:
    """Smallest odd integer >= ``ceil(value)`` (array)."""
    return (np.ceil(value) // 2 * 2 + 1).astype(int)


def cutout_slices(wcs, shape, position, width: float, *, odd_npix: bool) -> tuple:
    """Rows, columns and WCS of a square cutout of ``width`` deg around ``position`` (trimmed).

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Celestial WCS of the image.
    shape : tuple of int
        ``(n_lat, n_lon)`` of the image.
    position : astropy.coordinates.SkyCoord
        Cutout centre.
    width : float
        Width in deg (converted to pixels with the pixel scales, at least one).
    odd_npix : bool
        Round the pixel count up to an odd number.

    Returns
    -------
    tuple
        ``(rows, cols, wcs)``: slices of the cutout in the image and its WCS.
    """
    from astropy.nddata import Cutout2D
    from astropy.wcs.utils import proj_plane_pixel_scales

    npix = np.clip(width / proj_plane_pixel_scales(wcs), 1, None)
    if odd_npix:
        npix = round_up_to_odd(npix)
    dummy = np.empty(tuple(shape), dtype=bool)
    c2d = Cutout2D(dummy, position=position, size=npix[::-1], wcs=wcs, mode="trim", copy=False)
    rows, cols = c2d.slices_original
    return rows, cols, c2d.wcs


def _linear_weights(pix: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower node and weight of linear interpolation on nodes ``0..n-1`` (extrapolating)."""
    i0 = np.clip(np.floor(pix), 0, max(n - 2, 0)).astype(int)
    return i0, pix - i0


def _node_pix(x: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Fractional index of ``x`` on increasing ``nodes``, piecewise linear and extrapolating."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if nodes.size == 1:
        return np.zeros(x.size)
    i0 = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, nodes.size - 2)
    return i0 + (x - nodes[i0]) / (nodes[i0 + 1] - nodes[i0])


def _interp_axis(values: np.ndarray, pix, axis: int) -> np.ndarray:
    """Linear interpolation (with extrapolation) of ``values`` along ``axis`` at ``pix``."""
    n = values.shape[axis]
    values = np.moveaxis(values, axis, 0)
    if n == 1:
        return np.moveaxis(np.broadcast_to(values[0], (np.size(pix), *values.shape[1:])), 0, axis)
    i0, w = _linear_weights(np.atleast_1d(np.asarray(pix, dtype=np.float64)), n)
    w = w.reshape((-1,) + (1,) * (values.ndim - 1))
    out = values[i0] * (1.0 - w) + values[i0 + 1] * w
    return np.moveaxis(out, 0, axis)


@dataclass(frozen=True, eq=False)
class KernelIRFs:
    """What kernel mode needs from a map dataset beyond :class:`MapResponse`.

    Attributes
    ----------
    wcs : astropy.wcs.WCS
        Celestial WCS of the dataset.
    shape : tuple of int
        ``(n_lat, n_lon)``.
    projection : SkyProjection
        The WCS as a differentiable transform.
    psf_data : numpy.ndarray
        PSF map ``(n_energy, n_rad, n_y, n_x)`` in sr-1.
    psf_wcs : astropy.wcs.WCS
        Celestial WCS of the PSF map's sky grid.
    psf_energy_axis, rad_axis : MapAxis
        Energy (true or reconstructed) and ``rad`` axes of the PSF map.
    kernel_energy : numpy.ndarray
        Energies (TeV) the kernels are sampled at: the dataset's bin centres of the PSF's axis.
    edisp_at : callable
        ``edisp_at(position) -> (n_true, n_reco)`` energy dispersion at a SkyCoord.
    """

    wcs: object
    shape: tuple
    projection: SkyProjection
    psf_data: np.ndarray
    psf_wcs: object
    psf_energy_axis: object
    rad_axis: object
    kernel_energy: np.ndarray
    edisp_at: object = field(repr=False)

    @classmethod
    def from_dataset(cls, dataset) -> KernelIRFs:
        """Collect the IRFs of a gammaprob ``MapDataset`` (WCS geometry, PSF map on a WCS grid).

        Raises
        ------
        ValueError
            Without a WCS geometry, a PSF map on a WCS sky grid, or on an unsupported projection.
        """
        if type(dataset.geom).__name__ != "WcsGeom":
            raise ValueError(
                f"kernel mode needs a WCS map dataset; {dataset.name!r} is on a "
                f"{type(dataset.geom).__name__}"
            )
        psf = dataset.psf
        geom = getattr(getattr(psf, "irf_map", None), "geom", None)
        if geom is None or type(geom).__name__ != "WcsGeom":
            raise ValueError(
                f"kernel mode needs a PSF map on a WCS sky grid; dataset {dataset.name!r} has "
                f"{type(psf).__name__}"
            )
        names = geom.axes.names
        energy_name = "energy_true" if "energy_true" in names else "energy"
        data = np.asarray(psf.irf_map.quantity.to_value("sr-1"), dtype=np.float64)
        if names.index("rad") > names.index(energy_name):  # data order reverses the axes
            data = np.swapaxes(data, 0, 1)
        axis = dataset.energy_axis_true if energy_name == "energy_true" else dataset.energy_axis
        image = dataset.geom.to_image()
        return cls(
            wcs=image.wcs.celestial,
            shape=tuple(image.spatial_shape),
            projection=SkyProjection.from_wcs(image.wcs, tuple(image.spatial_shape)),
            psf_data=data,
            psf_wcs=geom.wcs.celestial,
            psf_energy_axis=geom.axes[energy_name],
            rad_axis=geom.axes["rad"],
            kernel_energy=np.asarray(axis.center.to_value("TeV"), dtype=np.float64),
            edisp_at=dataset.edisp_matrix,
        )

    @property
    def pixel_scale(self) -> float:
        """Largest pixel scale of the map (deg)."""
        from astropy.wcs.utils import proj_plane_pixel_scales

        return float(np.max(proj_plane_pixel_scales(self.wcs)))

    def _spatial_table(self, position) -> np.ndarray:
        """PSF ``(n_energy, n_rad)`` at ``position``: bilinear in IRF pixels, extrapolating."""
        x, y = self.psf_wcs.world_to_pixel(position)
        table = _interp_axis(self.psf_data, float(y), 2)[:, :, 0]
        return _interp_axis(table, float(x), 2)[:, :, 0]

    def _energy_pix(self, energy) -> np.ndarray:
        return np.asarray(self.psf_energy_axis.coord_to_pix(np.asarray(energy) * u.TeV))

    def containment_radius(self, fraction: float, energy, position) -> np.ndarray:
        """PSF containment radius (deg) at energies (TeV) and a position, as gammapy samples it.

        The cumulative ``2 pi r dr`` sum over the ``rad`` bins (on the bin upper edges) is
        interpolated linearly in ``rad`` and in log energy between the PSF map's energy centres
        (extrapolating; zero outside the axes' extent) at the ``rad`` bin centres split 20
        times; the radius is the sample whose containment is closest to ``fraction``.
        """
        table = self._spatial_table(position)
        rad = self.rad_axis
        edges = rad.edges.to_value("deg")
        centre, width = np.deg2rad(rad.center.to_value("deg")), np.deg2rad(np.diff(edges))
        cumsum = np.cumsum(table * width * 2.0 * np.pi * centre, axis=1)
        nodes = edges[1:]
        fine = np.linspace(edges[0], edges[-1], rad.nbin * _RAD_UPSAMPLING + 1)
        fine = 0.5 * (fine[1:] + fine[:-1])
        energy = np.atleast_1d(np.asarray(energy, dtype=np.float64))
        log_centre = np.log(self.psf_energy_axis.center.to_value("TeV"))
        values = _interp_axis(
            _interp_axis(cumsum, _node_pix(np.log(energy), log_centre), 0),
            _node_pix(fine, nodes),
            1,
        )
        values[~self.psf_energy_axis.contains(energy * u.TeV)] = 0.0
        if nodes.size > 1:
            lo = nodes[0] - 0.5 * (nodes[1] - nodes[0])
            hi = nodes[-1] + 0.5 * (nodes[-1] - nodes[-2])
            values[:, (fine < lo) | (fine > hi)] = 0.0
        return fine[np.argmin(np.abs(values - fraction), axis=1)]

    def psf_kernel(self, position) -> np.ndarray:
        """PSF kernels ``(n_kernel_energy, n, n)`` at ``position``, each summing to 1 (or 0).

        Parameters
        ----------
        position : astropy.coordinates.SkyCoord
            Where the PSF map is read (the source's nominal position).

        Returns
        -------
        numpy.ndarray
            Kernel images centred on the middle pixel, on the map's pixel grid.
        """
        from astropy.coordinates import angular_separation

        binsz = self.pixel_scale
        radii = self.containment_radius(
            PSF_CONTAINMENT, self.psf_energy_axis.center.to_value("TeV"), position
        )
        r68 = self.containment_radius(0.68, self.kernel_energy, position)
        factors = np.minimum(
            np.ceil(_PRECISION_FACTOR / (2.0 * r68 / binsz)).astype(int), PSF_MAX_OVERSAMPLING
        )
        n_big = int(round_up_to_odd(2.0 * radii.max() / binsz))
        centre_wcs = self._kernel_wcs(n_big, binsz)
        lon_c, lat_c = (np.deg2rad(v) for v in centre_wcs.wcs.crval)
        table = self._spatial_table(position)
        pix_e = self._energy_pix(self.kernel_energy)
        kernels = np.zeros((self.kernel_energy.size, n_big, n_big))
        rad_pix_axis = self.rad_axis
        # gammapy pairs kernel image i with the radius of the PSF map's energy bin i (the same
        # bins for datasets made by its makers) and leaves images beyond that count empty
        for ind in range(min(self.kernel_energy.size, radii.size)):
            n_cut = int(round_up_to_odd(2.0 * radii[ind] / binsz))
            f = int(factors[ind])
            wcs = self._kernel_wcs(n_cut * f, binsz / f)
            yy, xx = np.mgrid[0 : n_cut * f, 0 : n_cut * f]
            lon, lat = wcs.wcs_pix2world(xx.ravel(), yy.ravel(), 0)
            rad = np.rad2deg(angular_separation(np.deg2rad(lon), np.deg2rad(lat), lon_c, lat_c))
            pix_r = np.asarray(rad_pix_axis.coord_to_pix(rad * u.deg))
            row = _interp_axis(table, pix_e[ind : ind + 1], 0)[0]
            values = np.clip(_interp_axis(row[None, :], pix_r, 1)[0], 0.0, None)
            block = values.reshape(n_cut, f, n_cut, f).sum(axis=(1, 3))
            start = (n_big - n_cut) // 2
            kernels[ind, start : start + n_cut, start : start + n_cut] = block
        total = kernels.sum(axis=(1, 2), keepdims=True)
        return np.where(total > 0, kernels / np.where(total > 0, total, 1.0), 0.0)

    def _kernel_wcs(self, npix: int, binsz: float):
        """WCS of a square kernel image centred on the map centre (same projection and frame)."""
        from astropy.wcs import WCS

        ny, nx = self.shape
        lon, lat = self.wcs.wcs_pix2world([(nx - 1) / 2.0], [(ny - 1) / 2.0], 0)
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = list(self.wcs.wcs.ctype)
        wcs.wcs.crval = (float(lon[0]), float(lat[0]))
        wcs.wcs.cdelt = (-binsz, binsz)
        wcs.wcs.crpix = ((npix + 1) / 2.0, (npix + 1) / 2.0)
        wcs.wcs.set()
        return wcs

    def cutout(self, position, evaluation_radius: float, kernel_size: int) -> tuple:
        """Rows, columns and WCS of where a source is folded (gammapy's local evaluation cutout).

        Parameters
        ----------
        position : astropy.coordinates.SkyCoord
            Source position.
        evaluation_radius : float
            The spatial model's evaluation radius (deg; 0 for a point source).
        kernel_size : int
            Side of the PSF kernel in pixels.
        """
        width = kernel_size * self.pixel_scale + 2.0 * (evaluation_radius + CUTOUT_MARGIN)
        return cutout_slices(self.wcs, self.shape, position, width, odd_npix=True)

    def __repr__(self) -> str:
        return (
            f"KernelIRFs(shape={self.shape}, {self.projection.code}, PSF map "
            f"{self.psf_data.shape}, {self.kernel_energy.size} kernel energies)"
        )
