"""The :class:`Models` collection and its YAML format.

Our YAML (``format: gammaprob-models``) follows gammapy's layout (``components:`` list of
``SkyModel`` / ``FoVBackgroundModel`` entries with ``spectral``/``spatial``/``temporal``
components and ``parameters`` lists) and adds a ``prior:`` block to every free parameter::

    format: gammaprob-models
    version: 1
    components:
    - name: crab
      type: SkyModel
      spectral:
        type: LogParabola
        parameters:
        - {name: amplitude, value: 3.5e-11, unit: cm-2 s-1 TeV-1,
           prior: {type: LogUniform, lower: 1.0e-13, upper: 1.0e-9, unit: cm-2 s-1 TeV-1}}
        - {name: reference, value: 1.0, unit: TeV}

A parameter without ``prior`` is fixed. A parameter object shared by several components is
written at each place with the same ``link:`` label and read back as one object.

Files written by gammapy (no ``format`` key) are read with gammapy's conventions: type names
such as ``PowerLawSpectralModel``, ``frozen`` (see
:func:`~gammaprob.modeling.component.parameter_from_dict`); gammapy's fitting keys (``min``,
``max``, ``scale``, ...) are ignored. Free gammapy parameters get priors only from the file
(``prior:`` blocks, ours or gammapy's) or from a named ``prior_policy``
(:mod:`~gammaprob.modeling.prior_policy`); without either, reading fails and lists them.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from gammaprob.utils.io import atomic_path
from gammaprob.utils.paths import resolve_data_path

from .component import READ_POLICY, did_you_mean
from .parameter import Parameter, Parameters
from .prior_policy import PolicyRecord, check_prior_policy
from .skymodel import FoVBackgroundModel, SkyModel

__all__ = ["FORMAT", "Models"]

#: Value of the top-level ``format`` key of our YAML files.
FORMAT = "gammaprob-models"
VERSION = 1
_MODEL_TYPES = {"SkyModel": SkyModel, "FoVBackgroundModel": FoVBackgroundModel}
_GAMMAPY_TOP_KEYS = {"components", "covariance", "metadata"}

Model = SkyModel | FoVBackgroundModel
log = logging.getLogger(__name__)


class Models(Sequence):
    """An ordered collection of sky and background models with unique names.

    Parameters
    ----------
    models : iterable of SkyModel or FoVBackgroundModel
        The models.

    Raises
    ------
    ValueError
        Two models with the same name.
    """

    def __init__(self, models: Any = ()) -> None:
        if isinstance(models, SkyModel | FoVBackgroundModel):
            models = [models]
        models = list(models)
        for m in models:
            if not isinstance(m, SkyModel | FoVBackgroundModel):
                raise TypeError(f"Models holds SkyModel/FoVBackgroundModel, got {m!r}")
        dupes = [n for n, c in Counter(m.name for m in models).items() if c > 1]
        if dupes:
            raise ValueError(f"model names must be unique; duplicated: {dupes}")
        self._models = models
        #: What a prior policy chose when the models were read from a gammapy file:
        #: ``{"prior_policy", "priors": {model: {param: prior}}, "fixed": {model: [param]}}``.
        self.prior_record: dict[str, Any] = {}

    # -- sequence / selection -----------------------------------------------------------------
    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            for m in self._models:
                if m.name == key:
                    return m
            raise KeyError(f"no model named {key!r}; models: {self.names}")
        if isinstance(key, slice):
            return Models(self._models[key])
        return self._models[key]

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[Model]:
        return iter(self._models)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return key in self.names
        return key in self._models

    def __add__(self, other: Any) -> Models:
        return Models([*self._models, *Models(other)])

    @property
    def names(self) -> list[str]:
        """Model names, in order."""
        return [m.name for m in self._models]

    def select(
        self,
        name: str | Sequence[str] | None = None,
        type: str | type | None = None,
        dataset_name: str | None = None,
    ) -> Models:
        """Return the models matching all given criteria.

        Parameters
        ----------
        name : str or list of str, optional
            Model name(s).
        type : str or class, optional
            ``"SkyModel"``, ``"FoVBackgroundModel"`` (or the class), or a component type
            such as ``"PowerLaw"`` / ``"Point"`` (matched against the components).
        dataset_name : str, optional
            Keep models that apply to this dataset (``datasets_names`` None or containing it).
        """
        names = {name} if isinstance(name, str) else (set(name) if name is not None else None)
        out = []
        for m in self._models:
            if names is not None and m.name not in names:
                continue
            if type is not None and not _type_matches(m, type):
                continue
            datasets = m.datasets_names
            if dataset_name is not None and datasets is not None and dataset_name not in datasets:
                continue
            out.append(m)
        return Models(out)

    # -- parameters ---------------------------------------------------------------------------
    @property
    def parameters(self) -> Parameters:
        """All parameters keyed ``"<model>::<parameter>"`` (linked ones under each name)."""
        return Parameters(
            {f"{m.name}::{k}": p for m in self._models for k, p in m.parameters.items()}
        )

    def build(self) -> dict[str, dict[str, Any]]:
        """Build every model's parameters in the current ``pm.Model``.

        Returns
        -------
        dict
            ``{model name: model.build()}``; linked parameters are one variable.
        """
        return {m.name: m.build() for m in self._models}

    # -- YAML ---------------------------------------------------------------------------------
    def _links(self) -> dict[int, str]:
        seen: dict[int, str] = {}
        counts: Counter[int] = Counter()
        for full_name, p in self.parameters.items():
            counts[id(p)] += 1
            seen.setdefault(id(p), full_name)
        return {key: label for key, label in seen.items() if counts[key] > 1}

    def to_dict(self) -> dict[str, Any]:
        """YAML-friendly dict in our format."""
        links = self._links()
        return {
            "format": FORMAT,
            "version": VERSION,
            "components": [m.to_dict(links) for m in self._models],
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        prior_policy: str | None = None,
        k: float | None = None,
    ) -> Models:
        """Create from our YAML dict or a gammapy models dict.

        Parameters
        ----------
        data : mapping
            The parsed YAML.
        prior_policy : {None, "catalog-errors", "broad"}
            Priors for free parameters of a gammapy file that carry no ``prior:`` block
            (:mod:`~gammaprob.modeling.prior_policy`); None (default): such parameters are an
            error. The chosen priors are logged (INFO) and recorded in each
            ``SkyModel.meta`` (``prior_policy``, ``priors``, ``fixed``).
        k : float, optional
            Width factor of ``prior_policy="catalog-errors"`` (default 2).

        Raises
        ------
        ValueError
            Unknown model/component type, unknown parameter name or key, free gammapy
            parameters without a prior and no ``prior_policy``.
        astropy.units.UnitConversionError
            A parameter in a unit not convertible to the canonical one.
        """
        k = check_prior_policy(prior_policy, k)
        if not isinstance(data, Mapping) or "components" not in data:
            raise ValueError("a models file must be a mapping with a 'components' list")
        fmt = data.get("format")
        if fmt is None:
            dialect = "gammapy"
            extra = sorted(set(data) - _GAMMAPY_TOP_KEYS)
        elif fmt == FORMAT:
            dialect = "gammaprob"
            extra = sorted(set(data) - {"format", "version", "components"})
            if data.get("version", VERSION) > VERSION:
                raise ValueError(
                    f"models file version {data['version']} is newer than supported ({VERSION})"
                )
        else:
            raise ValueError(f"unknown models format {fmt!r}; expected {FORMAT!r}")
        if extra:
            hints = "".join(
                did_you_mean(e, _GAMMAPY_TOP_KEYS | {"format", "version"}) for e in extra
            )
            raise ValueError(f"unknown top-level keys in models file: {extra}{hints}")
        links: dict[str, Parameter] = {}
        models = []
        record = PolicyRecord(prior_policy, k)
        token = READ_POLICY.set(record)
        try:
            for i, entry in enumerate(data["components"] or []):
                kind = entry.get("type", "SkyModel")
                if kind not in _MODEL_TYPES:
                    raise ValueError(
                        f"component {i} ({entry.get('name')!r}): unknown model type {kind!r}"
                        f"{did_you_mean(kind, _MODEL_TYPES)}; expected one of "
                        f"{sorted(_MODEL_TYPES)}"
                    )
                record.model = str(entry.get("name") or _background_name(entry))
                try:
                    models.append(_MODEL_TYPES[kind].from_dict(entry, links, dialect))
                except (ValueError, TypeError) as exc:
                    raise type(exc)(f"component {i} ({entry.get('name')!r}): {exc}") from exc
        finally:
            READ_POLICY.reset(token)
        if record.missing:
            raise ValueError(
                f"the gammapy models file gives no prior to {len(record.missing)} free "
                f"parameter(s): {record.missing}. gammaprob does not invent priors: add "
                "'prior:' blocks to the file, or name a policy, e.g. "
                "Models.read(path, prior_policy='broad') or prior_policy='catalog-errors' "
                "(centred on the file's values; see docs/modeling.md)"
            )
        out = cls(models)
        if dialect == "gammapy" and prior_policy is not None:
            _record_policy(out, record)
        return out

    def to_yaml(self) -> str:
        """Our YAML as a string (floats written with full precision)."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False)

    @classmethod
    def from_yaml(
        cls, text: str, prior_policy: str | None = None, k: float | None = None
    ) -> Models:
        """Parse a YAML string (ours or gammapy's); see :meth:`from_dict` for the policy."""
        import yaml

        return cls.from_dict(yaml.safe_load(text), prior_policy=prior_policy, k=k)

    @classmethod
    def read(
        cls, path: str | os.PathLike, prior_policy: str | None = None, k: float | None = None
    ) -> Models:
        """Read a models YAML file (ours or gammapy's; ``$GAMMAPY_DATA``, ``$VARS`` and ``~`` expanded).

        Parameters
        ----------
        path : str or path-like
            File name.
        prior_policy : {None, "catalog-errors", "broad"}
            Priors for free parameters of a gammapy file without ``prior:`` blocks (see
            :meth:`from_dict`); None: such parameters are an error.
        k : float, optional
            Width factor of ``"catalog-errors"``.
        """
        import yaml

        path = resolve_data_path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise FileNotFoundError(f"models file {str(path)!r} does not exist") from None
        try:
            return cls.from_yaml(text, prior_policy=prior_policy, k=k)
        except yaml.YAMLError as exc:
            raise ValueError(f"{str(path)!r} is not valid YAML: {exc}") from exc
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{str(path)!r}: {exc}") from exc

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write our YAML format atomically.

        Parameters
        ----------
        path : str or path-like
            Target file.
        overwrite : bool
            Replace an existing file.
        """
        text = self.to_yaml()
        with atomic_path(path, overwrite=overwrite) as tmp:
            tmp.write_text(text)

    def __repr__(self) -> str:
        lines = [f"Models({len(self)})"]
        for m in self._models:
            n_free = sum(p.is_free for p in m.parameters.values())
            lines.append(f"  {m.name:<24} {m.tag:<18} {n_free} free parameter(s)")
        return "\n".join(lines)


def _background_name(entry: Mapping[str, Any]) -> str:
    names = entry.get("datasets_names") or ["?"]
    return f"{names[0]}-bkg"


def _record_policy(models: Models, record: PolicyRecord) -> None:
    """Record the policy and its priors in each SkyModel's meta; log a summary."""
    for m in models:
        priors = record.priors.get(m.name, {})
        fixed = record.fixed.get(m.name, [])
        if isinstance(m, SkyModel) and (priors or fixed):
            m.meta["prior_policy"] = record.policy
            if record.policy == "catalog-errors":
                m.meta["prior_k"] = record.k
            m.meta["priors"] = dict(priors)
            m.meta["fixed"] = list(fixed)
    n = sum(len(p) for p in record.priors.values())
    log.info("prior_policy=%r: priors chosen for %d free parameter(s)", record.policy, n)
    models.prior_record = {
        "prior_policy": record.policy,
        "priors": {m: dict(p) for m, p in record.priors.items()},
        "fixed": {m: list(f) for m, f in record.fixed.items()},
    }


def _components(model: Model) -> list[Any]:
    """All components of a model, including those nested in compound spectra."""
    stack = list(model.components.values()) if isinstance(model, SkyModel) else [model.spectral]
    out = []
    while stack:
        comp = stack.pop(0)
        out.append(comp)
        stack += [getattr(comp, k) for k in ("model1", "model2", "model") if hasattr(comp, k)]
    return out


def _type_matches(model: Model, kind: str | type) -> bool:
    if isinstance(kind, type):
        return isinstance(model, kind) or any(isinstance(c, kind) for c in _components(model))
    if model.tag == kind:
        return True
    return any(kind == c.tag or kind in c.aliases for c in _components(model))
