"""A self-contained HTML or Markdown report of an inference result."""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import os
import re
from pathlib import Path

import numpy as np

from ..inference.diagnostics import check_convergence
from ..utils.io import atomic_path, check_overwrite
from .variables import physical_parameters

__all__ = ["report"]

_MAX_PAIR_VARIABLES = 8
_PROVENANCE_KEYS = (
    "gammaprob_version",
    "created",
    "sampler",
    "sampler_settings",
    "random_seed",
    "datasets",
)
_JSON_TEXT_KEYS = ("sampler_settings", "datasets")  # stored as JSON strings in the attributes
_FIGURE_NAME = re.compile(r"figure_\d+\.png")


class _Required:
    """Marks ``ci_prob`` as required while giving a clear message when it is missing."""

    def __repr__(self) -> str:
        return "<required>"


_REQUIRED = _Required()


def _json_safe(value):
    """Return ``value`` with numpy scalars and arrays turned into Python numbers and lists.

    Attributes read back from netCDF are numpy types (``numpy.int64`` for an integer seed,
    arrays for lists), which :func:`json.dumps` refuses.

    Parameters
    ----------
    value : object
        Attribute value: numpy scalar or array, bytes, str, number, dict, list or tuple.

    Returns
    -------
    object
        The same value made of JSON-serialisable Python types (other objects as ``str``).
    """
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    if isinstance(value, np.ndarray):
        return [_json_safe(v) for v in value.tolist()] if value.ndim else _json_safe(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _provenance(attrs) -> dict:
    out = {}
    for key in _PROVENANCE_KEYS:
        if key not in attrs:
            continue
        value = _json_safe(attrs[key])
        if key in _JSON_TEXT_KEYS and isinstance(value, str):
            with contextlib.suppress(ValueError):  # not JSON: shown as the text it is
                value = json.loads(value)
        out[key] = value
    return out


def _figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def _collection_png(collection) -> bytes:
    fig = collection.viz["chart"].item() if "chart" in collection.viz else None
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.gcf()
    return _figure_png(fig)


def _diagnostic_figures(result, names: list[str]) -> dict[str, bytes]:
    import arviz as az

    figures = {}
    kwargs = {"var_names": names, "backend": "matplotlib"}
    figures["Trace"] = _collection_png(az.plot_trace_dist(result, **kwargs))
    if result["posterior"].sizes.get("chain", 1) > 1:
        figures["Rank (chains should be uniform)"] = _collection_png(az.plot_rank(result, **kwargs))
    if 1 < len(names) <= _MAX_PAIR_VARIABLES:
        figures["Pair plot"] = _collection_png(az.plot_pair(result, **kwargs))
    if "prior" in result.children:
        shared = [n for n in names if n in result["prior"].data_vars]
        if shared:
            figures["Prior vs posterior"] = _collection_png(
                az.plot_prior_posterior(result, var_names=shared, backend="matplotlib")
            )
    return figures


def _cell(value) -> str:
    """Four significant digits for floats (ArviZ's own rounding keeps two)."""
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def _table_rows(summary) -> tuple[list[str], list[list[str]]]:
    header = ["parameter", *[str(c) for c in summary.columns]]
    rows = [
        [str(index), *[_cell(v) for v in row]]
        for index, row in zip(summary.index, summary.values, strict=True)
    ]
    return header, rows


def _pareto_k_section(result, groups) -> tuple[list[str], list[list[str]]] | str:
    """PSIS-LOO per dataset or group with Pareto-k flags, or a line saying why there is none."""
    from ..inference.comparison import loo

    if "log_likelihood" not in result.children:
        return "No log-likelihood group in this result: PSIS-LOO was not computed."
    try:
        out = loo(result, groups=groups, warn=False)
    except ValueError as exc:
        if groups is not None:
            raise
        return f"PSIS-LOO was not computed: {exc}"
    flags = out.pareto_k_flags()
    elpd = {row["dataset"]: row for row in out.table()}
    header = ["group", "elpd_loo", "se", "n_obs", "k_max", "k > 0.5", "k > 0.7", "flag"]
    rows = [
        [
            str(row["group"]),
            f"{elpd[row['group']]['elpd_loo']:.2f}",
            f"{elpd[row['group']]['se']:.2f}",
            str(row["n_obs"]),
            f"{row['k_max']:.2f}",
            str(row["n_k_gt_0.5"]),
            str(row["n_k_gt_0.7"]),
            str(row["flag"]),
        ]
        for row in flags
    ]
    return header, rows


_LOO_NOTE = (
    "Pareto k > 0.7 (flag 'bad'): bins the rest of the data do not predict; the run or "
    "instrument is in tension with the others, or the model is mis-specified there."
)


def _check_ci_prob(ci_prob) -> float:
    if ci_prob is _REQUIRED:
        raise TypeError(
            "report() needs ci_prob=, the credible level of the summary table (e.g. "
            "ci_prob=0.68 or 0.95): gammaprob states every credible level and assumes none"
        )
    if isinstance(ci_prob, bool) or not isinstance(ci_prob, int | float | np.number):
        raise TypeError(f"ci_prob must be a number in (0, 1), got {ci_prob!r}")
    if not 0 < ci_prob < 1:
        raise ValueError(f"ci_prob must be in (0, 1) (e.g. 0.68, not 68), got {ci_prob!r}")
    return float(ci_prob)


def _resolve_names(result, var_names) -> list[str]:
    available = [str(name) for name in result["posterior"].data_vars]
    if var_names is None:
        names = physical_parameters(result)
        if not names:
            raise ValueError(
                "found no model parameter among the posterior variables "
                f"{available}; pass var_names= to choose the variables to report"
            )
        return names
    names = [var_names] if isinstance(var_names, str) else [str(n) for n in var_names]
    missing = [n for n in names if n not in available]
    if missing or not names:
        raise ValueError(
            f"var_names {missing or names} not in the posterior; available: {available}"
        )
    return names


def _figure_files(folder: Path) -> list[Path]:
    """Figure files of an earlier Markdown report in ``folder`` (``figure_NN.png``)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _FIGURE_NAME.fullmatch(p.name))


def _check_outputs(path: Path, overwrite: bool) -> None:
    """Refuse, before any work, to replace the report or the figures of an earlier one."""
    check_overwrite(path, overwrite)
    if path.suffix.lower() == ".md" and not overwrite:
        old = _figure_files(path.with_name(f"{path.stem}_files"))
        if old:
            raise FileExistsError(
                f"{str(old[0])!r} exists (figures of an earlier report); pass overwrite=True "
                "to replace them, or choose another report name."
            )


def report(
    result,
    path: str | os.PathLike,
    *,
    ci_prob: float = _REQUIRED,
    var_names: list[str] | None = None,
    figures: dict | None = None,
    title: str = "gammaprob posterior report",
    overwrite: bool = False,
    loo_groups=None,
) -> Path:
    """Write a self-contained report of an inference result.

    The report states the credible level, the provenance (gammaprob version, sampler,
    settings, seed, datasets), the convergence checks, a summary table (
    equal-tailed intervals at ``ci_prob``), trace and rank plots, a pair plot, prior vs
    posterior (when a ``prior`` group exists) and any extra figures (e.g. the spectrum with
    its posterior band and the posterior-predictive check per dataset). When the result has
    a ``log_likelihood`` group, a "PSIS-LOO" section lists the ELPD and the Pareto-k flags
    per dataset (or per run / instrument with ``loo_groups``; see
    :meth:`gammaprob.inference.LOOResult.pareto_k_flags`).

    Existing outputs are checked before any work: without ``overwrite`` an existing report
    file, or (Markdown) existing ``figure_NN.png`` files in ``<stem>_files/``, raise
    :class:`FileExistsError`. Every file is written atomically.

    Parameters
    ----------
    result : xarray.DataTree
        Inference result (as returned by :func:`gammaprob.inference.sample`, or read back by
        :func:`gammaprob.inference.load_result`).
    path : str or path-like
        Output file: ``.html`` (images embedded) or ``.md`` (images in ``<stem>_files/``).
    ci_prob : float
        Required: credible level in (0, 1) of the equal-tailed intervals of the summary
        table, stated in the report. There is no default.
    var_names : list of str, optional
        Posterior variables to show. Default: the models' free parameters in physical units
        (:func:`gammaprob.visualization.physical_parameters`), without the per-bin
        background nuisances (``"<dataset>::mu_off"``) and the sampler's latent variables
        (``"<param>_scaled"``, ``"<param>_ln"``).
    figures : dict, optional
        Extra matplotlib figures by section title.
    title : str
        Report title.
    overwrite : bool
        Replace an existing report (and, for Markdown, its figure files).
    loo_groups : mapping or callable, optional
        ``{dataset: run or instrument label}`` for the PSIS-LOO section (see
        :func:`gammaprob.inference.loo`); default one row per dataset.

    Returns
    -------
    pathlib.Path
        The report file.

    Raises
    ------
    TypeError
        ``ci_prob`` missing.
    ValueError
        ``ci_prob`` outside (0, 1), a path not ending in ``.html`` or ``.md``, or unknown
        ``var_names``.
    FileExistsError
        An output exists and ``overwrite`` is False.
    """
    import arviz as az

    ci_prob = _check_ci_prob(ci_prob)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".md"):
        raise ValueError(f"report path must end in .html or .md, got {path.name!r}")
    _check_outputs(path, overwrite)
    names = _resolve_names(result, var_names)
    summary = az.summary(result, var_names=names, ci_prob=ci_prob, ci_kind="eti", round_to="none")
    convergence = check_convergence(result, warn=False)
    images = _diagnostic_figures(result, names)
    for name, fig in (figures or {}).items():
        images[name] = _figure_png(fig)
    provenance = _provenance(result.attrs)
    header, rows = _table_rows(summary)
    loo_table = _pareto_k_section(result, loo_groups)
    if suffix == ".html":
        text = _html(title, ci_prob, provenance, convergence, header, rows, images, loo_table)
        with atomic_path(path, overwrite=overwrite) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return path
    _check_outputs(path, overwrite)  # again: an output may have appeared meanwhile
    folder = path.with_name(f"{path.stem}_files")
    stale = set(_figure_files(folder))
    links = {}
    for i, (name, png) in enumerate(images.items()):
        image = folder / f"figure_{i:02d}.png"
        with atomic_path(image, overwrite=overwrite) as tmp:
            tmp.write_bytes(png)
        stale.discard(image)
        links[name] = f"{folder.name}/{image.name}"
    text = _markdown(title, ci_prob, provenance, convergence, header, rows, links, loo_table)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    for old in stale:  # figures of an earlier, longer report that this one replaced
        old.unlink()
    return path


def _html(title, ci_prob, provenance, convergence, header, rows, images, loo_table) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
        "text-align:right}.bad{color:#b00}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>Credible intervals are equal-tailed at <b>{ci_prob:.0%}</b>.</p>",
        "<h2>Provenance</h2><pre>" + esc(json.dumps(provenance, indent=1)) + "</pre>",
        "<h2>Convergence</h2>",
        f"<p class='{'ok' if convergence.ok else 'bad'}'>{esc(str(convergence)).replace(chr(10), '<br>')}</p>",
        "<h2>Summary</h2><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>",
    ]
    parts += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows]
    parts.append("</table>")
    parts.append("<h2>PSIS-LOO and Pareto k</h2>")
    if isinstance(loo_table, str):
        parts.append(f"<p>{esc(loo_table)}</p>")
    else:
        loo_header, loo_rows = loo_table
        parts.append(f"<p>{esc(_LOO_NOTE)}</p><table><tr>")
        parts.append("".join(f"<th>{esc(h)}</th>" for h in loo_header) + "</tr>")
        for row in loo_rows:
            css = " class='bad'" if row[-1] == "bad" else ""
            parts.append(f"<tr{css}>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f"<h2>{esc(name)}</h2><img alt='{esc(name)}' src='data:image/png;base64,{data}'>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown(title, ci_prob, provenance, convergence, header, rows, links, loo_table) -> str:
    lines = [
        f"# {title}",
        "",
        f"Credible intervals are equal-tailed at **{ci_prob:.0%}**.",
        "",
        "## Provenance",
        "",
        "```json",
        json.dumps(provenance, indent=1),
        "```",
        "",
        "## Convergence",
        "",
        "```",
        str(convergence),
        "```",
        "",
        "## Summary",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "## PSIS-LOO and Pareto k", ""]
    if isinstance(loo_table, str):
        lines.append(loo_table)
    else:
        loo_header, loo_rows = loo_table
        lines += [_LOO_NOTE, "", "| " + " | ".join(loo_header) + " |"]
        lines += ["|" + "---|" * len(loo_header)]
        lines += ["| " + " | ".join(row) + " |" for row in loo_rows]
    for name, link in links.items():
        lines += ["", f"## {name}", "", f"![{name}]({link})"]
    return "\n".join(lines) + "\n"
