"""Flux-point likelihoods: Gaussian (chi2), asymmetric Gaussian with upper limits, norm profiles.

The prediction is the sum of the sources' dN/dE at each point's reference energy (as gammapy's
``FluxPointsDataset.flux_pred``). Three statistics, named as in gammapy:

* ``"chi2"`` (default): upper limits are ignored; symmetric errors (``dnde_err``, else the mean
  of ``errn``/``errp``). Added as an observed ``pm.Normal("<name>::dnde")``, so predictive checks
  work; its log-probability is ``-chi2/2`` minus ``sum(log(sigma sqrt(2 pi)))``.
* ``"distrib"``: asymmetric Gaussian (``errp`` above the data, ``errn`` below) for measured
  points and, for upper limits ``u``, gammapy's one-sided term
  ``2 log(erfc((u - mu)/u) / erfc(1))``; ``-stat/2`` enters as ``pm.Potential("<name>::stat")``.
* ``"profile"`` (``likelihood`` SED type with ``norm_scan``/``stat_scan``): each point's
  ``-2 log L`` profile, interpolated at ``norm = mu / ref_dnde`` as gammapy's
  ``stat_type="profile"`` does (:class:`~gammaprob.likelihood.profile.ProfileTable`); points
  whose scans are not finite are left out (gammapy masks them too). Also a potential.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from scipy.special import erfc

from gammaprob.forward._models import component_params, models_for, spectral_component
from gammaprob.likelihood.profile import ProfileTable

__all__ = ["FLUX_POINT_STATS", "FluxPointsData", "flux_points_statistic", "flux_points_term"]

FLUX_POINT_STATS = ("chi2", "distrib", "profile")
_DNDE = "cm-2 s-1 TeV-1"


@dataclass(frozen=True, eq=False)
class FluxPointsData:
    """Flux points as dN/dE arrays in canonical units (cm-2 s-1 TeV-1, TeV), masked points dropped.

    Attributes
    ----------
    name : str
        Dataset name.
    energy_ref : numpy.ndarray
        Reference energies (TeV).
    dnde, errn, errp, dnde_ul : numpy.ndarray
        Values, negative/positive 1-sigma errors and upper limits (NaN where absent).
    is_ul : numpy.ndarray
        Which points are upper limits.
    dnde_ref : numpy.ndarray or None
        ``likelihood`` SEDs: the reference dN/dE of ``norm = 1`` per point.
    profile : ProfileTable or None
        ``likelihood`` SEDs with scans: the norm profiles of the points ``profile_points``.
    profile_points : numpy.ndarray or None
        Indices (into the kept points) of the points with a finite profile.
    """

    name: str
    energy_ref: np.ndarray
    dnde: np.ndarray
    errn: np.ndarray
    errp: np.ndarray
    dnde_ul: np.ndarray
    is_ul: np.ndarray
    dnde_ref: np.ndarray | None = None
    profile: ProfileTable | None = None
    profile_points: np.ndarray | None = None

    @classmethod
    def from_dataset(cls, dataset) -> FluxPointsData:
        """Read a :class:`gammaprob.datasets.FluxPointsDataset` (converted to ``dnde``)."""
        points = dataset.data
        mask = np.asarray(dataset.mask, bool)
        if not mask.any():
            raise ValueError(f"flux-points dataset {dataset.name!r} has no unmasked point")
        profile = {}
        if points.sed_type == "likelihood" and points.norm_scan is not None:
            profile = cls._profile(points, mask)
        if points.sed_type != "dnde":
            points = points.to_sed_type("dnde")
        n = len(points)

        def column(q):
            return np.full(n, np.nan) if q is None else np.asarray(q.to_value(_DNDE), float)

        return cls(
            name=dataset.name,
            energy_ref=np.asarray(points.energy_ref.to_value("TeV"))[mask],
            dnde=column(points.value)[mask],
            errn=column(points.errn)[mask],
            errp=column(points.errp)[mask],
            dnde_ul=column(points.ul)[mask],
            is_ul=np.asarray(points.is_ul, bool)[mask],
            **profile,
        )

    @staticmethod
    def _profile(points, mask) -> dict:
        table = points.table
        norm_scan, stat_scan = points.norm_scan[mask], points.stat_scan[mask]
        stat = np.asarray(table["stat"], float)[mask] if "stat" in table.colnames else None
        ref = np.asarray(u.Quantity(table["ref_dnde"]).to_value(_DNDE), float)[mask]
        finite = np.all(np.isfinite(norm_scan), axis=1) & np.all(np.isfinite(stat_scan), axis=1)
        if stat is not None:
            finite &= np.isfinite(stat)
        if not finite.any():
            return {}
        return {
            "dnde_ref": ref,
            "profile": ProfileTable.from_scans(
                norm_scan[finite], stat_scan[finite], None if stat is None else stat[finite]
            ),
            "profile_points": np.flatnonzero(finite),
        }

    def predict(self, models: Sequence, params: Mapping, known_datasets=()):
        """Return the summed dN/dE of the sources at the reference energies (numpy or tensor)."""
        known = None if known_datasets is None else [self.name, *known_datasets]
        total = 0.0
        for model in models_for(models, self.name, known):
            component = spectral_component(model)
            if component is None or getattr(model, "tag", None) == "FoVBackgroundModel":
                continue
            total = total + component.evaluate(
                self.energy_ref, **component_params(model, "spectral", params)
            )
        return total


def _chi2_parts(data: FluxPointsData):
    valid = ~data.is_ul & np.isfinite(data.dnde)
    sigma = np.where(
        np.isfinite(data.errp) & np.isfinite(data.errn), 0.5 * (data.errn + data.errp), np.nan
    )
    if not valid.any():
        raise ValueError(
            f"flux-points dataset {data.name!r} has no measured (non upper-limit) point"
        )
    if not np.all(sigma[valid] > 0):
        raise ValueError(
            f"flux-points dataset {data.name!r}: errors must be positive for measured points"
        )
    return valid, sigma[valid]


def _distrib_stat(data: FluxPointsData, pred, xp_erfc, where, log):
    measured = ~data.is_ul & np.isfinite(data.dnde)
    ul = data.is_ul & np.isfinite(data.dnde_ul)
    stat = 0.0
    if measured.any():
        mu = pred[measured]
        loc = data.dnde[measured]
        scale = where(mu >= loc, data.errp[measured], data.errn[measured])
        stat = stat + (((mu - loc) / scale) ** 2).sum()
    if ul.any():
        u = data.dnde_ul[ul]
        stat = stat + (2.0 * (log(xp_erfc((u - pred[ul]) / u)) - np.log(erfc(1.0)))).sum()
    return stat


def _profile_stat(data: FluxPointsData, pred):
    if data.profile is None:
        raise ValueError(
            f"flux-points dataset {data.name!r} has no norm profiles (stat='profile' needs a "
            "'likelihood' SED with finite norm_scan and stat_scan)"
        )
    idx = data.profile_points
    return data.profile.evaluate(pred[idx] / data.dnde_ref[idx])


def flux_points_term(name: str, data: FluxPointsData, pred, *, stat: str = "chi2"):
    """Add the likelihood of one flux-points dataset to the current PyMC model.

    Parameters
    ----------
    name : str
        Dataset name.
    data : FluxPointsData
        The points.
    pred : pytensor.tensor.TensorVariable
        Predicted dN/dE at the reference energies (cm-2 s-1 TeV-1), e.g. ``data.predict(...)``.
    stat : {"chi2", "distrib", "profile"}
        See the module docstring.

    Returns
    -------
    pytensor.tensor.TensorVariable
        The observed variable (``chi2``) or the potential (``distrib``).
    """
    import pymc as pm
    import pytensor.tensor as pt

    if stat not in FLUX_POINT_STATS:
        raise ValueError(f"stat must be one of {FLUX_POINT_STATS}, got {stat!r}")
    pred = pt.as_tensor_variable(pred)
    if stat == "chi2":
        valid, sigma = _chi2_parts(data)
        return pm.Normal(f"{name}::dnde", mu=pred[valid], sigma=sigma, observed=data.dnde[valid])
    if stat == "profile":
        return pm.Potential(f"{name}::stat", -0.5 * _profile_stat(data, pred).sum())
    return pm.Potential(
        f"{name}::stat", -0.5 * _distrib_stat(data, pred, pt.erfc, pt.where, pt.log)
    )


def flux_points_statistic(
    data: FluxPointsData, models: Sequence, values: Mapping, *, stat: str = "chi2"
) -> float:
    """gammapy-convention statistic (``chi2``, ``distrib`` or ``profile``) for numeric values."""
    if stat not in FLUX_POINT_STATS:
        raise ValueError(f"stat must be one of {FLUX_POINT_STATS}, got {stat!r}")
    pred = np.asarray(data.predict(models, values, known_datasets=None), float) * np.ones(
        data.dnde.size
    )
    if stat == "chi2":
        valid, sigma = _chi2_parts(data)
        return float((((pred[valid] - data.dnde[valid]) / sigma) ** 2).sum())
    if stat == "profile":
        return float(_profile_stat(data, pred).sum())
    return float(_distrib_stat(data, pred, erfc, np.where, np.log))
