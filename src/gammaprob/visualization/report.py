"""A self-contained HTML or Markdown report of an inference result."""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

import numpy as np

from ..inference.diagnostics import check_convergence
from ..utils.io import atomic_path

__all__ = ["report"]

_MAX_PAIR_VARIABLES = 8


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


def _diagnostic_figures(result, var_names) -> dict[str, bytes]:
    import arviz as az

    figures = {}
    kwargs = {"var_names": var_names, "backend": "matplotlib"}
    figures["Trace"] = _collection_png(az.plot_trace_dist(result, **kwargs))
    if result["posterior"].sizes.get("chain", 1) > 1:
        figures["Rank (chains should be uniform)"] = _collection_png(az.plot_rank(result, **kwargs))
    names = var_names or list(result["posterior"].data_vars)
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


def report(
    result,
    path: str | os.PathLike,
    *,
    ci_prob: float,
    var_names: list[str] | None = None,
    figures: dict | None = None,
    title: str = "gammaprob posterior report",
    overwrite: bool = False,
) -> Path:
    """Write a self-contained report of an inference result.

    The report states the credible level, the provenance (gammaprob version, sampler,
    settings, seed, datasets), the convergence checks, a summary table (
    equal-tailed intervals at ``ci_prob``), trace and rank plots, a pair plot, prior vs
    posterior (when a ``prior`` group exists) and any extra figures (e.g. the spectrum with
    its posterior band and the posterior-predictive check per dataset).

    Parameters
    ----------
    result : xarray.DataTree
        Inference result.
    path : str or path-like
        Output file: ``.html`` (images embedded) or ``.md`` (images in ``<stem>_files/``).
    ci_prob : float
        Credible level for the summary table, stated in the report.
    var_names : list of str, optional
        Variables to show (default: all posterior variables).
    figures : dict, optional
        Extra matplotlib figures by section title.
    title : str
        Report title.
    overwrite : bool
        Replace an existing report.

    Returns
    -------
    pathlib.Path
        The report file.
    """
    import arviz as az

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".md"):
        raise ValueError(f"report path must end in .html or .md, got {path.name!r}")
    summary = az.summary(
        result, var_names=var_names, ci_prob=ci_prob, ci_kind="eti", round_to="none"
    )
    convergence = check_convergence(result, warn=False)
    images = _diagnostic_figures(result, var_names)
    for name, fig in (figures or {}).items():
        images[name] = _figure_png(fig)
    provenance = {
        key: result.attrs[key]
        for key in (
            "gammaprob_version",
            "created",
            "sampler",
            "sampler_settings",
            "random_seed",
            "datasets",
        )
        if key in result.attrs
    }
    header, rows = _table_rows(summary)
    if suffix == ".html":
        text = _html(title, ci_prob, provenance, convergence, header, rows, images)
        with atomic_path(path, overwrite=overwrite) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return path
    folder = path.with_name(f"{path.stem}_files")
    folder.mkdir(parents=True, exist_ok=True)
    links = {}
    for i, (name, png) in enumerate(images.items()):
        image = folder / f"figure_{i:02d}.png"
        image.write_bytes(png)
        links[name] = f"{folder.name}/{image.name}"
    text = _markdown(title, ci_prob, provenance, convergence, header, rows, links)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _html(title, ci_prob, provenance, convergence, header, rows, images) -> str:
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
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f"<h2>{esc(name)}</h2><img alt='{esc(name)}' src='data:image/png;base64,{data}'>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown(title, ci_prob, provenance, convergence, header, rows, links) -> str:
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
    for name, link in links.items():
        lines += ["", f"## {name}", "", f"![{name}]({link})"]
    return "\n".join(lines) + "\n"
