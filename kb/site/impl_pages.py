"""The site's pages of the reference implementations, generated from the registry, the catalog and `results/`.

`render_impl_pages()` returns `{relative path: Markdown}`: `impls/index.md` and one `impls/<id>.md` per registered
implementation (the catalog links entries to `../impls/<reference_impl>.md`). Each page holds the module's docstring
and API through mkdocstrings, the paper's claims from its catalog entry next to what our runs measured (every
`results/impl/<id>.*.json`), and a "Run it yourself" block. Several ids can share a module (EfficientNet B0–B3,
ResNet-50 and ResNeXt-50); the mkdocstrings block then sits on the module's first id only, because the same
object documented twice gets two anchors and the cross-references become ambiguous, and the other pages link to it.
The output is written by the site build and never committed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kb import paths
from kb.catalog.checked import load_checked_catalog
from kb.catalog.load import Catalog
from kb.site.markdown import escape
from kb.site.markdown import table as markdown_table
from kb.site.plots import svg_chart


def load_results(results_dir: Path = paths.IMPL_RESULTS) -> dict[str, list[dict[str, Any]]]:
    """Every results record under `results_dir`, grouped by implementation id, newest first."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(results_dir.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["_file"] = path.name
        found.setdefault(record.get("impl", path.stem.split(".")[0]), []).append(record)
    for records in found.values():
        records.sort(key=lambda r: r.get("measured_at", ""), reverse=True)
    return found


def cell(value: Any) -> str:
    """A table cell: thousands separators for counts, four significant digits for floats, pipes escaped."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, list | dict):
        value = json.dumps(value)
    return escape(str(value))


def flat(metrics: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested metrics as rows of (readable name, value): `int8 · onnxruntime · agreement`, one number per row."""
    rows = []
    for key, value in metrics.items():
        name = f"{prefix} · {readable(key)}" if prefix else readable(key)
        rows += flat(value, name) if isinstance(value, dict) else [(name, value)]
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as a Markdown table (columns in order of first appearance)."""
    if not rows:
        return "_(empty)_\n"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return markdown_table([escape(c) for c in columns], [[cell(row.get(c)) for c in columns] for row in rows])


def metric_value(metrics: dict[str, Any], path: str) -> float | None:
    """A number of a record's metrics by dotted path (`latency.executorch.port_fps`), None when absent."""
    value: Any = metrics
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def versus_section(spec: Any, catalog: Catalog, records: list[dict[str, Any]]) -> str:
    """The paper's claims beside our figures for the same quantities, from the newest record, and the verdict."""
    entry = catalog.by_id().get(spec.catalog_id)
    record = records[0] if records else {}
    metrics, spread = record.get("metrics", {}), record.get("spread", {})
    seeds = len(record.get("seeds") or [])
    heading = "## The paper vs ours\n\n"
    if entry is None or not entry.claims:
        return heading + (
            f"The catalog entry `{spec.catalog_id}` records no claims yet, so there is nothing to set beside our "
            "figures: the paper's headline numbers (with the table they stand in) are wanted, see Contributing.\n"
        )
    rows = []
    for claim in entry.claims:
        versus = next((v for v in spec.versus if claim.what.lower().startswith(v.claim.lower())), None)
        row = {
            "claim": f"{claim.what} ({claim.where})",
            "paper": claim.figure,
            "ours": "—",
            "our setting": "not measured by this implementation",
            "effect reproduced": "—",
        }
        if versus is not None:
            row["our setting"] = versus.setting
            value = None
            if callable(versus.ours):
                try:
                    value = versus.ours(metrics)
                except (KeyError, TypeError):
                    value = None
            elif versus.ours:
                value = metric_value(metrics, versus.ours)
            if value is not None:
                ours = f"{value * versus.scale:.4g} {claim.unit}".strip()
                noise = 1e-9 * abs(value)  # float round-off of a figure equal over the seeds
                if isinstance(versus.ours, str) and spread.get(versus.ours, 0) > noise and seeds > 1:
                    ours += f" ± {spread[versus.ours] * versus.scale:.2g} ({seeds} seeds)"
                row["ours"] = ours
            if versus.within is not None and value is not None and claim.value is not None:
                close = abs(value * versus.scale - claim.value) <= versus.within * abs(claim.value)
                effect = versus.effect or f"within {versus.within:.0%} of the paper's figure"
                row["effect reproduced"] = ("yes" if close else "no") + f": {effect}"
            elif versus.holds is not None and metrics:
                try:
                    row["effect reproduced"] = ("yes" if versus.holds(metrics) else "no") + f": {versus.effect}"
                except (KeyError, TypeError):
                    row["effect reproduced"] = f"not in our record: {versus.effect}"
        rows.append(row)
    source = f"`{record['_file']}`" if record else "no results file yet"
    return heading + f"Claims from the catalog entry; our figures from {source}.\n\n" + table(rows)


def visible(spread: float | None, mean: Any) -> float | None:
    """A spread worth showing: none when the figure was equal over the seeds (zero or float round-off)."""
    if not spread or (isinstance(mean, int | float) and spread <= 1e-9 * abs(mean)):
        return None
    return spread


def whole(value: Any) -> Any:
    """A mean that is a whole number (a count equal over the seeds) as an int, so it reads as a count."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def readable(name: str) -> str:
    """A metric's key as words: `reference_max_abs_diff` reads "reference max abs diff"."""
    return name.replace("_", " ")


def setup_line(setup: dict[str, Any]) -> str:
    """A record's setup as a short phrase: `input shape 1×1×28×28, seed 0, quick no`."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "yes" if v else "no"
        return "×".join(map(str, v)) if isinstance(v, list) and all(isinstance(x, int) for x in v) else str(v)

    return ", ".join(f"{readable(k)} {escape(value(v))}" for k, v in setup.items())


def freshness(record: dict[str, Any], current: str | None) -> str:
    """Whether a record was measured with the code as it is now (its `source_hash` against the current one)."""
    recorded = record.get("source_hash")
    if not recorded:
        return "Measured before records named the hash of their code: whether the code changed since is unknown."
    if current and recorded != current:
        return f"**Stale**: the code changed since this was measured ({recorded}, now {current}); run it again."
    return f"Measured with the code as it is now ({recorded})."


def results_section(records: list[dict[str, Any]], impl_id: str, current: str | None = None) -> str:
    """Every results record of one implementation: setup, environment, metrics, tables, curves."""
    if not records:
        return f"No results yet: run `kb bench impls --only {impl_id}` to measure.\n"
    parts = []
    for record in records:
        env = record.get("environment", {})
        versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items() if v)
        parts.append(
            f"### `{record['_file']}`\n\n"
            f"Measured {record.get('measured_at', '?')} with `{record.get('command', '?')}` on {env.get('cpu', '?')} "
            f"({env.get('cores', '?')} cores; {', '.join(env.get('isa', [])) or 'no listed ISA extensions'}); "
            f"{versions}.\n\nSetup: {setup_line(record.get('setup', {}))}.\n\n{freshness(record, current)}\n"
        )
        metrics, spread = record.get("metrics", {}), record.get("spread", {})
        if spread:  # means over seeds: the spread beside each; equal over the seeds means no spread to show
            seeds = record.get("seeds", [])
            column = f"± std over {len(seeds)} seeds ({', '.join(map(str, seeds))})"
            rows = []
            for k, v in metrics.items():
                if k == "seed":  # the seeds are in the column's heading
                    continue
                if isinstance(v, dict):  # nested figures are the first seed's, not means
                    rows += [{"metric": f"{name} (seed {seeds[0]})", "mean": x} for name, x in flat(v, readable(k))]
                else:
                    rows.append({"metric": readable(k), "mean": whole(v), column: visible(spread.get(k), v)})
            parts.append(table(rows))
        else:
            parts.append(table([{"metric": name, "value": v} for name, v in flat(metrics)]))
        for name, rows in record.get("tables", {}).items():
            parts.append(f"\n**{name.replace('_', ' ')}**\n\n" + table(rows))
        for name, points in record.get("curves", {}).items():
            step = max(1, len(points) // 10)  # ten points show the trend; the file holds all of them
            sampled = points[::step] + ([points[-1]] if (len(points) - 1) % step else [])
            chart = svg_chart(points, name)
            parts.append(f"\n**curve: {name}**\n\n" + (f"{chart}\n\n" if chart else ""))
            parts.append(f"{len(points)} points, every {step}th in the table:\n\n" + table(sampled))
    return "\n".join(parts)


def port_section(records: list[dict[str, Any]]) -> str:
    """For the port of a shipped model: the original against our port, from the newest record that has both."""
    record = next((r for r in records if "reference_agreement" in r.get("metrics", {})), None)
    if record is None:
        return ""
    m = record["metrics"]
    rows = [
        ("largest difference of the raw outputs", m.get("reference_max_abs_diff")),
        ("agreement with the original (its detections, mask or landmarks reproduced)", m.get("reference_agreement")),
    ]
    for side in ("original", "port"):
        if isinstance(m.get(side), dict) and "recall" in m[side]:
            figures = f"{m[side]['recall']:.3f} / {m[side]['precision']:.3f}"
            rows.append((f"{side}: recall / precision on the labelled face set (IoU 0.5)", figures))
    for runtime, int8 in m.get("int8", {}).items():
        if isinstance(int8, dict) and "agreement" in int8:
            rows.append(
                (f"int8 in {RUNTIME_NAMES.get(runtime, runtime)}: agreement with the fp32 original", int8["agreement"])
            )
    mixed = m.get("int8_mixed", {})  # one block kept in fp32 in every runtime, chosen before the test images
    block = mixed.get("kept_in_fp32", "?")  # `table` escapes every cell
    for runtime, figures in mixed.items():
        if isinstance(figures, dict) and "agreement" in figures:
            speedup = figures.get("int8_speedup", 0)
            name = RUNTIME_NAMES.get(runtime, runtime)
            rows.append((f"int8 in {name} with {block} kept in fp32: agreement (speed-up {speedup:.2f}×)", figures["agreement"]))
    rewrite = m.get("onnx_rewrite", {})  # measured in the same run: native operators vs written as convolutions
    if "speedup" in rewrite:
        ops = " and ".join(rewrite.get("rewritten_ops", []))  # `table` escapes every cell
        rows.append((f"ONNX Runtime, fp32: speed-up from writing {ops} as 1×1 convolutions", rewrite["speedup"]))
    rows = [{"what": what, "value": value} for what, value in rows]
    return (
        "## The original vs our port\n\n"
        + f"From `{record['_file']}`.\n\n"
        + table(rows)
        + runtimes_table(m.get("latency", {}), m.get("coreml"))
    )


RUNTIME_NAMES = {"onnxruntime": "ONNX Runtime", "executorch": "ExecuTorch (XNNPACK)", "litert": "LiteRT (XNNPACK)"}


def _megabytes(value: Any) -> str:
    return f"{value / 1e6:.2f} MB" if isinstance(value, int | float) else "not measured"


def runtimes_table(latency: dict[str, Any], coreml: dict[str, Any] | None) -> str:
    """The shipped file and our port in each runtime: file sizes, peak memory, latency, int8.

    Latency is the median of call-by-call alternated pairs, ours beside the original in LiteRT at the same thread
    count; peak memory is the rise of resident memory while a fresh process loads the file and runs it.
    """
    if not latency:
        return ""
    threads = latency.get("threads", [1])
    first = next((v for v in latency.values() if isinstance(v, dict) and "original_p50_ms" in v), {})
    rows = [
        {
            "runtime": "original .tflite in LiteRT",
            "file": _megabytes(latency.get("original_bytes")),
            "peak memory": _megabytes(latency.get("original_peak_rss_bytes")),
            "ms, 1 thread": first.get("original_p50_ms"),
            "÷ original, 1 thread": 1.0,
        }
    ]
    for name, figures in latency.items():
        if name not in RUNTIME_NAMES or not isinstance(figures, dict):
            continue
        row = {
            "runtime": f"our port in {RUNTIME_NAMES[name]}",
            "file": _megabytes(figures.get("fp32_bytes")),
            "peak memory": _megabytes(figures.get("fp32_peak_rss_bytes")),
            "ms, 1 thread": figures.get("port_p50_ms"),
            "÷ original, 1 thread": figures.get("latency_ratio_vs_reference"),
        }
        for n in threads[1:]:
            row[f"÷ original, {n} threads"] = figures.get(f"threads_{n}", {}).get("latency_ratio_vs_reference")
        row["int8 file"] = _megabytes(figures["int8_bytes"]) if figures.get("int8_bytes") else "none"
        row["int8 speed-up, 1 thread"] = figures.get("int8_speedup")
        rows.append(row)
    if coreml:
        rows.append(
            {
                "runtime": "our port in Core ML",
                "file": _megabytes(coreml.get("size_bytes")),
                "peak memory": "converted, not run (needs macOS)",
            }
        )
    notes = [
        f"{RUNTIME_NAMES[n]}: {escape(f['int8_note'])}"
        for n, f in latency.items()
        if isinstance(f, dict) and f.get("int8_note")
    ]
    text = (
        "\n**Runtimes**: file sizes, peak memory (a fresh process loading and running the file), and latency "
        "at batch 1 beside the original, timed call by call alternately.\n\n" + table(rows)
    )
    return text + "".join(f"\n{note}\n" for note in notes)


def run_block(spec: Any) -> str:
    """Commands that reproduce the page's numbers, from a fresh clone."""
    bench = f"kb impl bench {spec.id} --json --quick" if spec.experiment else f"kb impl profile {spec.id} --top 10"
    seeds = " --seeds 0,1,2" if spec.experiment else ""
    return (
        "```bash\n"
        "git clone https://github.com/efficient-dnn-kb/efficient-dnn-kb && cd efficient-dnn-kb\n"
        "make venv && . .venv/bin/activate   # pinned dependencies, torch 2.13.0 CPU; `make models` for the ports\n"
        f"python -m {spec.module}            # the module's demonstration\n"
        f"kb impl info {spec.id} --json     # parameters, MACs, fp32 size\n"
        f"kb impl export {spec.id} --out build/{spec.id} --formats pte,onnx,ort,tflite,coreml\n"
        f"{bench}\n"
        f"kb bench impls --only {spec.id}{seeds}   # writes results/impl/{spec.id}.<setup>.json\n"
        "```\n"
    )


def paper_link(spec: Any, catalog: Catalog) -> str:
    """A link to the catalog entry of the implementation's paper (which links on to arXiv or the DOI)."""
    entry = catalog.by_id().get(spec.catalog_id)  # an old id (an alias) finds the entry under its current id
    if entry is None:
        return spec.catalog_id
    return f"[{escape(entry.title)}](../entries/{entry.id}.md)"


def impl_page(spec: Any, catalog: Catalog, records: list[dict[str, Any]], primary: str, picture: str = "") -> str:
    """One implementation's page."""
    from reference_impls._benchmark import source_hash  # the registry is loaded already: no new import cost

    shape = "×".join(map(str, spec.input_shape))
    parts = [
        f"# {spec.id}\n",
        f"Paper: {paper_link(spec, catalog)} · task: {spec.task} · default input {shape} · code: "
        f"[`{spec.module.replace('.', '/')}.py`]({SOURCE_URL}{spec.module.replace('.', '/')}.py)\n",
        port_section(records),  # a port of a shipped model first shows how close it is to the original
        picture,  # and what it finds in real photographs
        versus_section(spec, catalog, records),
        "## What our runs measured\n",
        results_section(records, spec.id, source_hash(spec.module)),  # stale records are marked as such
        "## Run it yourself\n",
        run_block(spec),
        "## How it works\n",
    ]
    if primary == spec.id:  # the module's docstring and API, below the figures
        parts.append(f"::: {spec.module}\n    options:\n      show_root_heading: false\n      show_source: true\n")
    else:
        parts.append(f"The code and its explanation are on the page of [{primary}]({primary}.md) (`{spec.module}`).\n")
    return "\n".join(parts)


SOURCE_URL = "https://github.com/efficient-dnn-kb/efficient-dnn-kb/blob/main/"  # the repository of mkdocs.yml


def render_impl_pages(
    catalog: Catalog | None = None, results_dir: Path = paths.IMPL_RESULTS, pictures: dict[str, str] | None = None
) -> dict[str, str]:
    """`{"impls/index.md": ..., "impls/<id>.md": ...}` for every registered implementation.

    `pictures` (from `kb.site.pictures.render_pictures`, which runs the ports) go on the pages of the ports.
    """
    from reference_impls._registry import all_impls

    if catalog is None:
        catalog, _ = load_checked_catalog()
    specs = all_impls()
    results = load_results(results_dir)
    primary: dict[str, str] = {}
    for spec in specs:
        primary.setdefault(spec.module, spec.id)
    pages = {
        f"impls/{spec.id}.md": impl_page(
            spec, catalog, results.get(spec.id, []), primary[spec.module], (pictures or {}).get(spec.id, "")
        )
        for spec in specs
    }
    rows = [
        {
            "implementation": f"[{spec.id}]({spec.id}.md)",
            "task": spec.task,
            "paper": paper_link(spec, catalog),
            "input": "×".join(map(str, spec.input_shape)),
            "results files": len(results.get(spec.id, [])),
        }
        for spec in specs
    ]
    comparison = results.get("comparison", [])
    index = [
        "# Reference implementations\n",
        "Minimal, runnable PyTorch implementations, one module per technique, each measured by `kb bench`. Numbers "
        "on these pages come from `results/impl/*.json`; none is typed by hand.\n",
        table(rows),
        "## Side by side\n",
        results_section(comparison, "comparison")
        if comparison
        else "No comparison yet: run `kb bench` (it writes `results/impl/comparison.<setup>.json`).\n",
    ]
    pages["impls/index.md"] = "\n".join(index)
    return pages
