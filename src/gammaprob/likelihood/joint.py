"""Joint likelihood over many datasets, and numpy statistics for given parameter values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gammaprob.forward import fold_groups, fold_spectra
from gammaprob.forward.checks import register_regions
from gammaprob.forward.integration import DEFAULT_NODES
from gammaprob.forward.kernel_mode import PSF_MODES, npred_map_kernel
from gammaprob.forward.map import MapFold, npred_map
from gammaprob.forward.map_response import MapResponse
from gammaprob.forward.positions import nominal_positions
from gammaprob.forward.response import SpectrumResponse
from gammaprob.likelihood.groups import register_energy_groups
from gammaprob.likelihood.map_sparse import SparseMapData, sparse_poisson_term
from gammaprob.likelihood.onoff import onoff_term, wstat_term
from gammaprob.likelihood.onoff_marginal import onoff_marginal_term
from gammaprob.likelihood.poisson import poisson_term
from gammaprob.stats import cash, wstat

__all__ = ["ONOFF_MODES", "add_likelihood", "check_onoff", "statistics"]

#: Treatments of on/off data, the values of ``onoff=`` in every layer (the first is the default)
ONOFF_MODES = ("marginal", "latent", "wstat")
#: Former names of these values, refused with a message naming the new one
_RENAMED_ONOFF = {"profile": "wstat", "jeffreys": "marginal", "flat": "marginal"}


def check_onoff(onoff: str, allowed: tuple[str, ...] = ONOFF_MODES) -> str:
    """Return ``onoff`` if it is one of ``allowed``; else raise ValueError naming the choices.

    Parameters
    ----------
    onoff : str
        The requested on/off treatment.
    allowed : tuple of str
        The accepted values (default: :data:`ONOFF_MODES`).

    Returns
    -------
    str
        ``onoff``.
    """
    if onoff in allowed:
        return onoff
    hint = ""
    if onoff in _RENAMED_ONOFF:
        hint = f" ({onoff!r} is a former name: use onoff={_RENAMED_ONOFF[onoff]!r}"
        if onoff != "profile":
            hint += f" with the estimators' background_prior={onoff!r}"
        hint += ")"
    raise ValueError(f"onoff must be one of {allowed}, got {onoff!r}{hint}")


def _check_responses(responses) -> list:
    responses = list(responses)
    if not responses:
        raise ValueError("no datasets given to the likelihood")
    for r in responses:
        if not isinstance(r, SpectrumResponse | MapResponse):
            raise TypeError(
                "expected SpectrumResponse or MapResponse objects (build them with "
                f"SpectrumResponse.from_dataset / MapResponse.from_arrays), got {type(r).__name__}"
            )
    names = [r.name for r in responses]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be unique, got {names}")
    return responses


def _split(responses):
    spectra = [r for r in responses if isinstance(r, SpectrumResponse)]
    maps = [r for r in responses if isinstance(r, MapResponse)]
    return spectra, maps


def add_likelihood(
    responses: Sequence,
    models: Sequence,
    params: Mapping,
    *,
    onoff: str = "marginal",
    background_prior=None,
    n_nodes: int = DEFAULT_NODES,
    positions=None,
    position_margin: float = 0.3,
    psf_mode: str = "exact",
    known_datasets: Sequence[str] = (),
) -> dict:
    """Add the likelihood terms of several datasets to the current PyMC model.

    Must be called inside a ``pm.Model`` context. Parameters are shared between datasets by
    passing the same tensor under the same ``"<source>::<param>"`` key; a model applies to the
    datasets in its ``datasets_names`` (all when None).

    Parameters
    ----------
    responses : sequence of SpectrumResponse or MapResponse
        The datasets' responses.
    models : sequence
        Sky models.
    params : Mapping
        Parameter tensors (or fixed floats): nested ``{source: {kind: {param: value}}}`` as
        returned by :func:`gammaprob.forward.build_params`, or flat ``{"<source>::<param>": value}``.
    onoff : {"marginal", "latent", "wstat"}
        On/off datasets (:data:`ONOFF_MODES`): ``"marginal"`` (default), each bin's OFF rate
        integrated out analytically under the default Gamma prior (one observed term per
        dataset, no sampled nuisance; see
        :func:`gammaprob.likelihood.onoff_marginal.onoff_marginal_term`); ``"latent"``, the
        same model with the OFF rates sampled as latent nuisances and two observed Poisson
        terms (same posterior of the source parameters); or ``"wstat"``, the OFF rates
        profiled (WStat) as a ``pm.Potential`` (warns: no predictive checks). The WStat of
        all on/off datasets folded together is one potential named ``"<a>+<b>+...::wstat"``.
    background_prior : callable, optional
        Prior for the latent OFF expectation, see :func:`gammaprob.likelihood.onoff_term`
        (``"latent"`` only; the marginal uses the default Gamma prior).
    n_nodes : int
        Quadrature nodes per true-energy bin for components without an analytic integral.
    positions : Mapping, optional
        ``{source: (lon, lat)}`` or ``{source: (lon, lat, margin)}`` (deg) around which map
        cutouts are built; default: :func:`gammaprob.forward.nominal_positions` (the centre and
        support of the position priors).
    position_margin : float
        How far (deg) a source may move from that position when no margin is known (see
        :class:`gammaprob.forward.MapFold`).
    psf_mode : {"exact", "kernel"}
        Map datasets: the PSF at the exact pixel-source separation (default, smooth in the
        source position), or gammapy's discretisation (point sources spread over 4 pixels,
        pixelised PSF kernel), which reproduces gammapy's npred per pixel (see
        :mod:`gammaprob.forward.kernel_mode`).
    known_datasets : sequence of str
        Names of the other datasets of the same likelihood that are not among
        ``responses`` (flux points, for instance): a model restricted with
        ``datasets_names`` may name them. A name in neither is an error.

    Returns
    -------
    dict
        ``{dataset name: predicted counts tensor}`` (for map datasets: of the compressed
        likelihood bins, see :class:`gammaprob.forward.MapFold`; for on/off datasets: the
        signal counts). On/off map datasets enter with the bins their sources reach; the bins
        outside carry no information on any source parameter (see
        :mod:`gammaprob.forward.map`), so their terms are left out.
    """
    check_onoff(onoff)
    if onoff != "latent" and background_prior is not None:
        raise ValueError(
            f"background_prior applies to onoff='latent' only, not {onoff!r} (the marginal "
            "integrates the default Gamma prior out analytically)"
        )
    responses = _check_responses(responses)
    spectra, maps = _split(responses)
    names = [r.name for r in responses]
    names += [n for n in known_datasets if n not in names]
    by_name = {r.name: r for r in responses}
    npreds = {}
    if maps:
        positions = nominal_positions(models) if positions is None else dict(positions)
    for r in maps:
        fold = MapFold.build(
            r,
            models,
            positions,
            position_margin=position_margin,
            known_datasets=names,
            psf_mode=psf_mode,
        )
        register_regions(_current_model(), fold.regions)
        if fold.dense_reason is None:
            static = MapFold.build(
                r,
                fold.static_models(),
                positions,
                position_margin=position_margin,
                known_datasets=None,
                psf_mode=psf_mode,
            )
            npreds[r.name] = _following_term(r.name, fold, static, params, n_nodes)
        else:
            npreds[r.name] = fold.npred(params, n_nodes=n_nodes)
        if not r.is_onoff and fold.dense_reason is not None:
            poisson_term(r.name, npreds[r.name], fold.counts)
        elif r.is_onoff:
            _onoff(r.name, npreds[r.name], fold, onoff, background_prior)
        # energy bin of each likelihood bin (cutout bins, then one per aggregated energy)
        energy = fold.inside // max(fold.cutout.size, 1)
        if not r.is_onoff:
            energy = np.concatenate([energy, fold.outside_energy])
        register_energy_groups(r.name, energy)
    groups = (
        fold_groups(spectra, models, params, n_nodes=n_nodes, known_datasets=names)
        if spectra
        else []
    )
    for fold, flux in groups:
        members = [by_name[n] for n in fold.names]
        fused = [r.name for r in members if r.is_onoff] if onoff == "wstat" else []
        if fused:
            _fused_wstat([by_name[n] for n in fused], fold.fold(flux, fused))
        for r in members:
            npreds[r.name] = fold.fold(flux, [r.name])
            if r.name in fused:
                continue
            if r.is_onoff:
                _onoff(r.name, npreds[r.name], r, onoff, background_prior)
            else:
                poisson_term(r.name, npreds[r.name], r.counts)
    return {r.name: npreds[r.name] for r in responses}


def _following_term(name: str, fold: MapFold, static: MapFold, params, n_nodes: int):
    """Add the observed term of a map dataset whose cost follows its sources; return npred."""
    import pytensor.tensor as pt

    parts = fold.following_parts(params, n_nodes=n_nodes)
    data = SparseMapData.build(
        fold, static, [box for box, *_ in parts], [w for _, _, w, _ in parts]
    )
    factor = fold._background_factor(params)
    n_reco = fold.response.edisp.shape[1]
    g = pt.ones(n_reco) if factor is None else pt.as_tensor_variable(factor)
    ingredients = [
        g.astype("float64"),
        static.signal_cutout(params, n_nodes=n_nodes),
        pt.stack([flux for *_, flux in parts]),
        *[outputs for _, outputs, _, _ in parts],
    ]
    npred = data.dense_npred(*ingredients[:3], ingredients[3:])
    sparse_poisson_term(name, npred, ingredients, data)
    return npred


def _current_model():
    import pymc as pm

    return pm.modelcontext(None)


def _onoff(name: str, mu, data, onoff: str, background_prior) -> None:
    """Add one on/off dataset's terms (``data`` has counts, counts_off and alpha)."""
    if onoff == "wstat":
        wstat_term(name, mu, data.counts, data.counts_off, data.alpha)
    elif onoff == "marginal":
        onoff_marginal_term(name, mu, data.counts, data.counts_off, data.alpha)
    else:
        onoff_term(
            name, mu, data.counts, data.counts_off, data.alpha, background_prior=background_prior
        )


def _fused_wstat(members, mu) -> None:
    """One WStat potential for all on/off datasets of a fold group (one fused graph node)."""
    wstat_term(
        "+".join(r.name for r in members),
        mu,
        np.concatenate([r.counts for r in members]),
        np.concatenate([r.counts_off for r in members]),
        np.concatenate([r.alpha for r in members]),
    )


def _npred_map(response, models, values, n_nodes, psf_mode):
    if psf_mode not in PSF_MODES:
        raise ValueError(f"psf_mode must be one of {PSF_MODES}, got {psf_mode!r}")
    if psf_mode == "kernel":
        return npred_map_kernel(response, models, values, n_nodes=n_nodes)
    return npred_map(response, models, values, n_nodes=n_nodes)


def statistics(
    responses: Sequence,
    models: Sequence,
    values: Mapping,
    *,
    n_nodes: int = DEFAULT_NODES,
    psf_mode: str = "exact",
) -> dict:
    """Fit statistics per dataset in gammapy's convention, for given parameter values (numpy).

    Cash (``2 sum(mu - n log mu)``) for datasets with known or no background (map datasets on
    every bin of the mask, without cutout or compression), WStat (profiled background, with
    goodness-of-fit terms) for on/off datasets (spectra and maps).

    Parameters
    ----------
    responses : sequence of SpectrumResponse or MapResponse
        The datasets' responses.
    models : sequence
        Sky models.
    values : Mapping
        Parameter values (floats) keyed ``"<source>::<param>"``.
    n_nodes : int
        Quadrature nodes per bin for components without an analytic integral.
    psf_mode : {"exact", "kernel"}
        Map datasets: see :func:`add_likelihood` (``"kernel"`` needs responses built with
        :meth:`MapResponse.from_dataset`).

    Returns
    -------
    dict
        ``{dataset name: statistic}`` (floats); the total is their sum.
    """
    responses = _check_responses(responses)
    spectra, _ = _split(responses)
    names = [r.name for r in responses]
    npreds = fold_spectra(spectra, models, values, n_nodes=n_nodes, known_datasets=names)
    out = {}
    for r in responses:
        if isinstance(r, MapResponse):
            mu = _npred_map(r, models, values, n_nodes, psf_mode)[r.mask]
            if r.is_onoff:
                m = r.mask
                stat = wstat(n_on=r.counts[m], n_off=r.counts_off[m], alpha=r.alpha[m], mu_sig=mu)
            else:
                stat = cash(n_on=r.counts[r.mask], mu_on=mu)
        elif r.is_onoff:
            mu = np.asarray(npreds[r.name], dtype=np.float64)
            stat = wstat(n_on=r.counts, n_off=r.counts_off, alpha=r.alpha, mu_sig=mu)
        else:
            stat = cash(n_on=r.counts, mu_on=np.asarray(npreds[r.name], dtype=np.float64))
        total = float(np.sum(stat))
        if not np.isfinite(total):
            raise ValueError(f"dataset {r.name!r}: the statistic is not finite for these values")
        out[r.name] = total
    return out
