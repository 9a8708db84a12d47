"""Benchmark records: what `kb bench` measures for each implementation, and the side-by-side comparison.

A record is one JSON object (documented in `results/README.md`): the implementation, the setup, the environment,
the exact command, the time, and the measured metrics, tables and curves. Implementations with an `@experiment`
(pruning, distillation, BlazeFace's training run, ...) contribute that experiment's dict; the others get the
size/latency measurements of their default configuration, eager and exported.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kb.bench import environment
from reference_impls import _measure as measure
from reference_impls._export import RUNTIME_OF, export_all
from reference_impls._registry import ImplSpec, get

QUICK_FORMATS = ("onnx",)
FULL_FORMATS = ("pte", "onnx", "ort", "tflite", "coreml")


def setup_tag(quick: bool) -> str:
    """The part of a results file name that encodes the setup: CPU model and cores, torch version, quick or full."""
    machine = environment.setup_tag(environment.cpu_info())
    return f"{machine}-torch{torch.__version__.split('+')[0]}" + ("-quick" if quick else "")


def source_hash(module: str) -> str:
    """A digest of the code that produces a record: its module, the harness and what either of them imports.

    The harness is the package's `_*.py` files; an import of another implementation module brings that module's
    code in too (the ports quantize with `quantization`'s code). The site compares it with the code as it is now
    and marks a record whose code has changed since as stale.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in _code_of(package, module.rsplit(".", 1)[-1]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return "sha256:" + digest.hexdigest()[:16]


def _code_of(package: Path, name: str) -> list[Path]:
    """The files of `package` behind module `name`: it, the harness, and what they import from `package`, sorted."""
    seen: set[Path] = set()
    todo = [package / f"{name}.py", *package.glob("_*.py")]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        todo += [package / f"{n}.py" for n in _imports(path, path.stat().st_mtime_ns, package.name)]
    return sorted(seen)


@functools.cache
def _imports(path: Path, mtime_ns: int, package: str) -> tuple[str, ...]:
    """The modules of `package` that the file imports; cached per modification time (a site build asks per record)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == package:
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package + "."):
            names.append(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names += [a.name.split(".")[1] for a in node.names if a.name.startswith(package + ".")]
    return tuple(names)


def envelope(
    impl_id: str,
    setup: dict[str, Any],
    quick: bool,
    command: str | None = None,
    *,
    module: str = "",
    seeds: list[int] | None = None,
) -> dict[str, Any]:
    """The fields every record starts with; `command` defaults to this process's command line."""
    return {
        "impl": impl_id,
        "source_hash": source_hash(module) if module else None,
        "seeds": seeds or [],
        "setup": {**setup, "quick": quick},
        "environment": measure.environment(),
        "command": command or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "measured_at": environment.measured_at(),
        "metrics": {},
        "tables": {},
        "curves": {},
    }


def eager_metrics(build: Any, model: nn.Module, x: torch.Tensor, runs: int) -> dict[str, Any]:
    """Counts, fp32 size, eager latency at 1 and all threads, load time and peak inference memory."""
    # Memory first, on the model's first inference: once a forward pass has grown the heap, later ones reuse it
    # and the RSS no longer rises.
    with torch.inference_mode():
        peak = measure.peak_memory_bytes(lambda: model(x))
    metrics: dict[str, Any] = {**measure.summary(model, x), "eager_peak_rss_bytes": peak}
    for threads, timing in measure.torch_latency(model, x, runs=runs).items():
        metrics[f"eager_{threads}_p50_ms"] = timing["p50_ms"]
        metrics[f"eager_{threads}_p90_ms"] = timing["p90_ms"]
    metrics["eager_load_s"] = measure.load_seconds(measure.eager_load(build, model))
    return metrics


def export_rows(model: nn.Module, x: torch.Tensor, formats: tuple[str, ...], runs: int) -> list[dict[str, Any]]:
    """One row per exported format: size, parity, load time, latency and peak memory (in a temporary directory)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        for record in export_all(model, x, Path(tmp), formats, bench=True, runs=runs):
            row = {
                k: record.get(k)
                for k in ("format", "size_bytes", "max_abs_diff", "eager_max_abs", "ok", "load_s", "note")
            }
            for threads, timing in record.get("latency", {}).items():
                row[f"{threads}_p50_ms"] = timing["p50_ms"]
                row[f"{threads}_p90_ms"] = timing["p90_ms"]
            if record["ok"] and record["format"] in RUNTIME_OF:
                row["peak_rss_bytes"] = measure.file_peak_memory(
                    RUNTIME_OF[record["format"]], Path(record["path"]), x.numpy()
                )
            rows.append(row)
    return rows


def is_number(value: Any) -> bool:
    """A metric that averages: an int or a float, not a flag."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def over_seeds(results: list[dict[str, Any]], seeds: list[int]) -> tuple[dict[str, Any], dict[str, Any], list]:
    """Several runs of one experiment as (metrics, spread, per-seed rows).

    A number becomes its mean over the seeds and its sample standard deviation goes into `spread`; anything else
    (a flag, a name) keeps the first seed's value. The per-seed rows keep every run's accuracies and ratios, so a
    reader sees the spread behind each mean.
    """
    metrics: dict[str, Any] = {}
    spread: dict[str, float] = {}
    for key, first in results[0].items():
        values = [r.get(key) for r in results]
        if all(is_number(v) for v in values):
            metrics[key] = float(np.mean(values))
            spread[key] = float(np.std(values, ddof=1))
        else:
            metrics[key] = first
    shown = [k for k in spread if any(w in k for w in ("accuracy", "ratio", "speedup", "agreement"))]
    rows = [{"seed": seed, **{k: r[k] for k in shown}} for seed, r in zip(seeds, results, strict=True)]
    return metrics, spread, rows


def benchmark(
    spec: ImplSpec, quick: bool = False, seed: int = 0, command: str | None = None, seeds: list[int] | None = None
) -> dict[str, Any]:
    """The results record of one implementation (its experiment when it has one, else size and latency).

    With several `seeds` an experiment runs once per seed: its metrics are the means, `spread` holds their
    standard deviations and the `per_seed` table every run; curves and other tables are those of the first seed.
    """
    model = spec.build()
    x = torch.randn(spec.input_shape)
    runs = 5 if quick else 20
    if spec.experiment is not None:
        seeds = seeds or [seed]
        setup = {"input_shape": list(spec.input_shape), "seed": seeds[0], "kind": "experiment"}
        record = envelope(spec.id, setup, quick, command, module=spec.module, seeds=seeds)
        results = [spec.experiment(quick=quick, seed=s) for s in seeds]
        result = results[0]
        if isinstance(result.get("seeds"), list):  # an experiment over several seeds names them itself
            record["seeds"] = result["seeds"]
        record["curves"] = result.pop("curves", {})
        record["tables"] = result.pop("tables", {})
        for other in results[1:]:
            other.pop("curves", None)
            other.pop("tables", None)
        if len(results) > 1:
            result, record["spread"], record["tables"]["per_seed"] = over_seeds(results, seeds)
        record["metrics"] = {**measure.summary(model, x), **result}
        return record
    formats = QUICK_FORMATS if quick else FULL_FORMATS
    record = envelope(
        spec.id,
        {
            "input_shape": list(spec.input_shape),
            "batch": 1,
            "dtype": "float32",
            "formats": list(formats),
            "runs": runs,
            "kind": "size-latency",
        },
        quick,
        command,
        module=spec.module,
    )
    record["metrics"] = eager_metrics(spec.build, model, x, runs)
    record["tables"]["exports"] = export_rows(model, x, formats, runs)
    profile = measure.profile(model, x, runs=2 if quick else 5)
    record["tables"]["slowest_layers"] = sorted(profile, key=lambda row: -row["time_share"])[:10]
    return record


def comparison_pairs() -> list[tuple[str, str, Any, tuple[int, ...]]]:
    """The pairs of issue 4's side-by-side table: (pair, name, builder, input shape)."""
    from reference_impls.resnet import Bottleneck
    from reference_impls.separable import STAGE, separable_conv

    conv = (1, STAGE["channels"], STAGE["size"], STAGE["size"])
    block = (1, 256, 56, 56)  # the first stage of ResNet-50 / ResNeXt-50
    return [
        ("standard vs separable conv", "standard 3x3 conv", lambda: separable_conv(separable=False), conv),
        ("standard vs separable conv", "depthwise-separable conv", lambda: separable_conv(separable=True), conv),
        ("ResNet vs ResNeXt bottleneck", "ResNet bottleneck (64 wide)", lambda: Bottleneck(256, 64, 256).eval(), block),
        (
            "ResNet vs ResNeXt bottleneck",
            "ResNeXt bottleneck (32x4d)",
            lambda: Bottleneck(256, 128, 256, 1, 32).eval(),
            block,
        ),
        ("MobileNetV1 vs V2", "mobilenet_v1", get("mobilenet_v1").build, get("mobilenet_v1").input_shape),
        ("MobileNetV1 vs V2", "mobilenet_v2", get("mobilenet_v2").build, get("mobilenet_v2").input_shape),
        ("EfficientNet B0 vs B1", "efficientnet_b0", get("efficientnet_b0").build, get("efficientnet_b0").input_shape),
        ("EfficientNet B0 vs B1", "efficientnet_b1", get("efficientnet_b1").build, get("efficientnet_b1").input_shape),
    ]


def comparison(quick: bool = False, command: str | None = None) -> dict[str, Any]:
    """Issue 4's side-by-side table, measured in one run: params, MACs, size, eager and exported latency."""
    runs = 5 if quick else 20
    formats = QUICK_FORMATS if quick else ("pte", "onnx")
    record = envelope(
        "comparison",
        {"batch": 1, "dtype": "float32", "formats": list(formats), "runs": runs, "kind": "comparison"},
        quick,
        command,
    )
    rows = []
    for pair, name, build, shape in comparison_pairs():
        model, x = build(), torch.randn(shape)
        metrics = measure.summary(model, x)
        timing = measure.torch_latency(model, x, runs=runs)
        row = {
            "pair": pair,
            "model": name,
            "input_shape": list(shape),
            **metrics,
            **{f"eager_{t}_p50_ms": v["p50_ms"] for t, v in timing.items()},
        }
        for export_row in export_rows(model, x, formats, runs):
            row[f"{export_row['format']}_size_bytes"] = export_row["size_bytes"]
            row[f"{export_row['format']}_threads_1_p50_ms"] = export_row.get("threads_1_p50_ms")
        rows.append(row)
    record["tables"]["comparison"] = rows
    # MobileNet's Eq. 5 next to what was counted and timed for the first pair (standard, separable).
    from reference_impls.separable import STAGE, cost_ratio

    standard, separable = rows[0], rows[1]
    record["metrics"] = {
        "separable_computed_mac_ratio": cost_ratio(STAGE["channels"], STAGE["kernel"]),
        "separable_counted_mac_ratio": separable["macs"] / standard["macs"],
        "separable_eager_latency_ratio_1_thread": separable["eager_threads_1_p50_ms"]
        / standard["eager_threads_1_p50_ms"],
    }
    return record


def write(record: dict[str, Any], results_dir: Path, quick: bool) -> Path:
    """Write a record atomically to `results_dir/impl/<impl>.<setup>.json`; returns the path."""
    path = results_dir / "impl" / f"{record['impl']}.{setup_tag(quick)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        json.dump(record, tmp, indent=1, default=str)
        tmp.write("\n")
    os.replace(tmp.name, path)
    return path
