"""Provenance of inference results: what produced them, recorded in the root attributes."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path

__all__ = ["add_provenance", "file_hash"]


def file_hash(path: str | os.PathLike) -> str:
    """Return the SHA-256 hex digest of a file's contents.

    Parameters
    ----------
    path : str or path-like
        File name.

    Returns
    -------
    str
        ``"sha256:<hex>"``.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def add_provenance(
    tree,
    *,
    settings: dict | None = None,
    model_yaml: str | None = None,
    datasets: dict[str, str | None] | None = None,
) -> None:
    """Record who and what produced ``tree`` in its root attributes (in place).

    Parameters
    ----------
    tree : xarray.DataTree
        Inference result.
    settings : dict, optional
        Sampler name and settings, including the seed.
    model_yaml : str, optional
        The model (with priors) as gammaprob YAML; loading a result rebuilds the models from it.
    datasets : dict, optional
        Dataset name to file hash (or None for in-memory datasets).
    """
    import gammaprob

    attrs = tree.attrs
    attrs["gammaprob_version"] = gammaprob.__version__
    attrs["created"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if settings is not None:
        attrs["sampler"] = str(settings.get("sampler"))
        attrs["sampler_settings"] = json.dumps(settings, default=str)
        seed = settings.get("random_seed")
        attrs["random_seed"] = "none" if seed is None else int(seed)
    if model_yaml is not None:
        attrs["model_yaml"] = model_yaml
    if datasets is not None:
        attrs["datasets"] = json.dumps(datasets)
