"""Helpers shared by the forward and likelihood tests.

Small spectral components (numpy and pytensor via xp), a sky-model stand-in, the gammapy import
helper and an adapter from gammapy spectrum datasets to ``SpectrumResponse``.

``PowerLaw`` has an analytic ``integrate``; ``LogParabola`` has none, so it exercises the
Gauss-Legendre quadrature path. They follow the component protocol of
``gammaprob.forward._models`` and use gammapy's formulas (natural-log log-parabola).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gammaprob.utils.xp import namespace


class PowerLaw:
    @staticmethod
    def evaluate(energy, index, amplitude, reference):
        xp = namespace(energy, index, amplitude, reference)
        return amplitude * xp.power(energy / reference, -index)

    @staticmethod
    def integrate(energy_min, energy_max, index, amplitude, reference):
        xp = namespace(energy_min, index, amplitude, reference)
        g = 1.0 - index
        lo = xp.power(energy_min / reference, g)
        hi = xp.power(energy_max / reference, g)
        return amplitude * reference * (hi - lo) / g


class LogParabola:
    @staticmethod
    def evaluate(energy, amplitude, reference, alpha, beta):
        xp = namespace(energy, amplitude, reference, alpha, beta)
        x = energy / reference
        return amplitude * xp.power(x, -alpha - beta * xp.log(x))


@dataclass
class Source:
    name: str
    spectral_model: object
    spatial_model: object = None
    datasets_names: list | None = field(default=None)


def import_gammapy():
    """Return the ``gammapy`` module (validation extra)."""
    import gammapy

    return gammapy


def response_from_gammapy(dataset, *, cash=False, name=None):
    """SpectrumResponse from a gammapy SpectrumDatasetOnOff's arrays (test adapter).

    With ``cash=True`` the OFF counts become a known background ``alpha * n_off``, as gammapy's
    ``to_spectrum_dataset`` does.
    """
    from gammaprob.forward import SpectrumResponse

    kw = {
        "counts": dataset.counts.data.ravel(),
        "exposure": dataset.exposure.quantity.to_value("cm2 s").ravel(),
        "edisp": dataset.edisp.get_edisp_kernel().pdf_matrix,
        "energy_true_edges": dataset.exposure.geom.axes["energy_true"].edges.to_value("TeV"),
        "energy_edges": dataset.counts.geom.axes["energy"].edges.to_value("TeV"),
        "mask_safe": dataset.mask_safe.data.ravel(),
    }
    if cash:
        kw["background"] = (dataset.alpha.data * dataset.counts_off.data).ravel()
    else:
        kw.update(counts_off=dataset.counts_off.data.ravel(), alpha=dataset.alpha.data.ravel())
    return SpectrumResponse.from_arrays(name or dataset.name, **kw)


class Point:
    """Point-source spatial stand-in (the forward layer evaluates the PSF at the separation)."""

    frame = "galactic"

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0):
        raise TypeError("a point source has no surface brightness")


class PowerLawNorm:
    @staticmethod
    def evaluate(energy, norm, tilt, reference):
        xp = namespace(energy, norm, tilt)
        return norm * xp.power(energy / reference, -tilt)


@dataclass
class FoVBackground:
    name: str
    datasets_names: list
    spectral: object = field(default_factory=PowerLawNorm)
    tag: str = "FoVBackgroundModel"


def gaussian_psf_table(sigmas_deg, rad_max=3.0, n=3001):
    """Gaussian PSF density (sr-1) normalised on the sphere (small-angle), per true energy."""
    import numpy as np

    rad = np.linspace(0.0, rad_max, n)
    s = np.deg2rad(np.asarray(sigmas_deg))[:, None]
    r = np.deg2rad(rad)[None, :]
    return rad, np.exp(-0.5 * (r / s) ** 2) / (2 * np.pi * s**2)


def grid_arrays(rng, *, n_true, n_reco, n, pix, sigmas, exposure, signal_counts):
    """Arrays of a synthetic ``n x n`` galactic map around (0, 0) with Gaussian PSFs (test data).

    Random energy dispersion and background; ``exposure`` is a callable ``(lon, lat) ->
    (n_true, n, n)`` array in cm2 s; counts are Poisson(background + ``signal_counts``).
    Returns the keyword arguments of ``MapResponse.from_arrays`` but the name (callers may
    edit them first).
    """
    import numpy as np

    edisp = rng.uniform(0.1, 1, (n_true, n_reco))
    edisp /= edisp.sum(axis=1, keepdims=True)
    lat, lon = np.meshgrid(
        (np.arange(n) - n // 2) * pix, (np.arange(n) - n // 2) * pix, indexing="ij"
    )
    rad, psf = gaussian_psf_table(sigmas)
    bkg = rng.uniform(0.5, 1.5, (n_reco, n, n))
    return {
        "counts": rng.poisson(bkg + signal_counts),
        "exposure": exposure(lon, lat),
        "edisp": edisp,
        "energy_true_edges": np.geomspace(0.5, 50, n_true + 1),
        "energy_edges": np.geomspace(1.0, 20, n_reco + 1),
        "lon": lon % 360,
        "lat": lat,
        "solid_angle": np.deg2rad(pix) ** 2 * np.cos(np.deg2rad(lat)),
        "psf_rad": rad,
        "psf_values": psf,
        "frame": "galactic",
        "background": bkg,
    }


def grid_response(rng, *, n_true, n_reco, n, pix, sigmas, exposure, signal_counts, psf_energy):
    """Synthetic ``n x n`` galactic map response around (0, 0): :func:`grid_arrays` as is."""
    from gammaprob.forward import MapResponse

    arrays = grid_arrays(
        rng,
        n_true=n_true,
        n_reco=n_reco,
        n=n,
        pix=pix,
        sigmas=sigmas,
        exposure=exposure,
        signal_counts=signal_counts,
    )
    return MapResponse.from_arrays("syn", **arrays, psf_energy=psf_energy)


def map_response_from_gammapy(dataset, position, name=None, rad_max=3.0):
    """MapResponse from a gammapy MapDataset: PSF and edisp taken at ``position`` (test adapter).

    The PSF is tabulated to ``rad_max`` (deg); None: to the end of the PSF map's rad axis
    (gammapy extrapolates beyond it).
    """
    import astropy.units as u
    import numpy as np

    from gammaprob.forward import MapResponse

    geom = dataset.counts.geom
    image = geom.to_image()
    coords = image.get_coord()
    e_true = dataset.exposure.geom.axes["energy_true"]
    if rad_max is None:
        rad_max = dataset.psf.psf_map.geom.axes["rad"].edges.max().to_value("deg")
    rad = np.linspace(0, rad_max, 3001) * u.deg
    psf_energy = "true" if "energy_true" in dataset.psf.psf_map.geom.axes.names else "reco"
    energy_axis = e_true if psf_energy == "true" else geom.axes["energy"]
    psf = dataset.psf.psf_map.interp_by_coord(
        {"skycoord": position, energy_axis.name: energy_axis.center[:, None], "rad": rad[None, :]}
    )
    return MapResponse.from_arrays(
        name or dataset.name,
        counts=dataset.counts.data,
        exposure=dataset.exposure.quantity.to_value("cm2 s"),
        edisp=dataset.edisp.get_edisp_kernel(position=position).pdf_matrix,
        energy_true_edges=e_true.edges.to_value("TeV"),
        energy_edges=geom.axes["energy"].edges.to_value("TeV"),
        lon=coords.lon.to_value("deg"),
        lat=coords.lat.to_value("deg"),
        solid_angle=image.solid_angle().to_value("sr"),
        psf_rad=rad.to_value("deg"),
        # gammapy extrapolates past the table (negative values) and returns the map's unit
        psf_values=np.clip(np.asarray(psf), 0.0, None) * dataset.psf.psf_map.unit.to("sr-1"),
        frame=image.frame,
        background=dataset.background.data,
        mask_safe=dataset.mask_safe.data,
        psf_energy=psf_energy,
    )


def verify_grad(function, point, *, seed, tol=1e-4, mode="FAST_COMPILE"):
    """``pytensor.gradient.verify_grad`` at ``point`` (floats) with the tests' usual settings."""
    import numpy as np
    import pytensor

    pytensor.gradient.verify_grad(
        function,
        [np.array(value) for value in point],
        rng=np.random.default_rng(seed),
        eps=1e-7,
        abs_tol=tol,
        rel_tol=tol,
        mode=mode,
    )
