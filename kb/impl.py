"""`kb impl ...` and `kb bench impls`: list, count, export, benchmark and profile the reference implementations.

A thin layer over `reference_impls`: the registry says what exists, `measure` counts and times, `export` writes
and checks the mobile formats, `benchmark` builds the results records that `kb bench` writes under `results/`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from kb import paths
from kb.catalog.yamlio import write_atomic


def _list(args: argparse.Namespace) -> int:
    from reference_impls._registry import all_impls

    for spec in all_impls():
        extra = " [experiment]" if spec.experiment else ""
        print(f"{spec.id:24} {spec.task:16} {'x'.join(map(str, spec.input_shape)):16} {spec.module}{extra}")
    return 0


def info(impl_id: str) -> dict[str, Any]:
    """Counts of an implementation's default configuration, with its registry metadata."""
    import torch

    from reference_impls import _measure as measure
    from reference_impls._registry import get

    spec = get(impl_id)
    model = spec.build()
    return {
        "id": spec.id,
        **measure.summary(model, torch.randn(spec.input_shape)),
        "input_shape": list(spec.input_shape),
        "task": spec.task,
        "arxiv": spec.arxiv,
        "catalog_id": spec.catalog_id,
        "module": spec.module,
        "experiment": spec.experiment is not None,
    }


def _info(args: argparse.Namespace) -> int:
    result = info(args.id)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>12}: {f'{value:,}' if isinstance(value, int) and not isinstance(value, bool) else value}")
    return 0


def _export(args: argparse.Namespace) -> int:
    import torch

    from reference_impls._export import FORMATS, export_all, make_input_dependent
    from reference_impls._registry import get

    spec = get(args.id)
    shape = list(spec.input_shape)
    if args.size:  # a smaller square input for quick checks; the model is fully convolutional up to its pool
        shape[-2:] = [args.size, args.size]
    formats = args.formats.split(",") if args.formats else list(FORMATS)
    model = make_input_dependent(spec.build(), shape)
    generator = torch.Generator().manual_seed(1)
    x, *more = [torch.randn(shape, generator=generator) for _ in range(4)]
    records = export_all(model, x, args.out, formats, name=spec.id, tolerance=args.tolerance, more_inputs=more)
    spreads = [r["output_spread"] for r in records if r.get("output_spread") is not None]
    report = {"impl": spec.id, "input_shape": shape, "output_spread": max(spreads, default=None), "exports": records}
    write_atomic(args.out / f"{spec.id}.parity.json", json.dumps(report, indent=1, default=str) + "\n")
    print(f"{'format':8} {'size':>12} {'max |diff|':>11}  ok  note")
    for r in records:
        size = f"{r['size_bytes']:,}" if r["size_bytes"] is not None else "-"
        diff = f"{r['max_abs_diff']:.2e}" if r["max_abs_diff"] is not None else "-"
        print(f"{r['format']:8} {size:>12} {diff:>11}  {'yes' if r['ok'] else 'no ':3} {r['note']}")
    print(f"parity report: {args.out / f'{spec.id}.parity.json'}", file=sys.stderr)
    return 0 if all(r["ok"] or r["note"].startswith("unavailable") for r in records) else 1


def print_record(record: dict[str, Any]) -> None:
    """A results record as text: metrics, then each table."""
    for key, value in record["metrics"].items():
        print(f"{key:>28}: {value:,.4g}" if isinstance(value, float) else f"{key:>28}: {value}")
    for name, rows in record["tables"].items():
        print(f"\n{name}")
        print_table(rows)


def print_table(rows: list[dict[str, Any]]) -> None:
    """Rows of dicts as aligned text columns."""
    if not rows:
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    table = [[cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for r in table:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))


def _bench_one(args: argparse.Namespace) -> int:
    from reference_impls._benchmark import benchmark
    from reference_impls._registry import get

    spec = get(args.id)
    if spec.experiment is not None and args.json:
        print(json.dumps(spec.experiment(quick=args.quick, seed=args.seed), default=str))
        return 0
    record = benchmark(spec, quick=args.quick, seed=args.seed)
    if args.json:
        print(json.dumps(record, default=str))
    else:
        print_record(record)
    return 0


def _profile(args: argparse.Namespace) -> int:
    import torch

    from reference_impls import _measure as measure
    from reference_impls._registry import get

    spec = get(args.id)
    rows = measure.profile(spec.build(), torch.randn(spec.input_shape), runs=args.runs)
    rows = sorted(rows, key=lambda row: -row["time_share"])[: args.top] if args.top else rows
    print_table(
        [
            {
                "layer": r["name"],
                "type": r["type"],
                "time %": 100 * r["time_share"],
                "ms": r["time_ms"],
                "MACs": r["macs"],
                "params": r["params"],
                "output": "x".join(map(str, r["output_shape"])),
            }
            for r in rows
        ]
    )
    return 0


def _bench_all(args: argparse.Namespace) -> int:
    from reference_impls._benchmark import benchmark, comparison, write
    from reference_impls._registry import all_impls, get

    specs = [get(i) for i in args.only] if args.only else all_impls()
    # The command as a user would retype it (records written from tests or other tools get it right too).
    command = shlex.join(
        ["kb", "bench", "impls"]
        + (["--only", *args.only] if args.only else [])
        + (["--quick"] if args.quick else [])
        + (["--seeds", ",".join(map(str, args.seeds))] if args.seeds else [])
        + (["--comparison"] if args.comparison else [])
        + (["--results", str(args.results)] if args.results != paths.RESULTS else [])
    )
    for spec in specs:
        print(f"benchmarking {spec.id} ...", file=sys.stderr)
        seeds = args.seeds or list(spec.seeds)  # each experiment's own default (`@experiment(seeds=...)`)
        path = write(benchmark(spec, quick=args.quick, command=command, seeds=seeds), args.results, args.quick)
        print(f"wrote {path}", file=sys.stderr)
    if not args.only or args.comparison:
        record = comparison(quick=args.quick, command=command)
        print_table(record["tables"]["comparison"])
        print(f"wrote {write(record, args.results, args.quick)}", file=sys.stderr)
    return 0


def _run_image(args: argparse.Namespace) -> int:
    import importlib

    from reference_impls._registry import get

    try:
        spec = get(args.id)
    except KeyError as error:
        print(f"kb impl run: {error.args[0]}", file=sys.stderr)
        return 2
    run_image = getattr(importlib.import_module(spec.module), "run_image", None)
    if run_image is None:
        print(f"kb impl run: {args.id} takes no image (only the ports of shipped models do)", file=sys.stderr)
        return 2
    if not args.image.is_file():
        print(f"kb impl run: no image file {args.image}", file=sys.stderr)
        return 2
    try:
        result = run_image(args.image, runtime=args.runtime)
    except FileNotFoundError as error:  # the shipped model is not fetched: the message names the command
        print(f"kb impl run: {error}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:  # an image the decoder cannot read
        print(f"kb impl run: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=1, default=str))
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `kb impl ...` to the `kb` parser."""
    impl = subparsers.add_parser("impl", help="list, count, export, benchmark and profile reference implementations")
    commands = impl.add_subparsers(dest="impl_command", required=True, metavar="ACTION")
    commands.add_parser("list", help="every registered implementation").set_defaults(handler=_list)

    info_parser = commands.add_parser("info", help="parameters, MACs, fp32 size and metadata of one implementation")
    info_parser.add_argument("id")
    info_parser.add_argument("--json", action="store_true", help="one JSON object")
    info_parser.set_defaults(handler=_info)

    export = commands.add_parser("export", help="export to mobile formats, run each back, write a parity report")
    export.add_argument("id")
    export.add_argument("--out", type=Path, required=True, help="output folder")
    # The help names the formats literally: importing reference_impls._export here would load torch on every `kb`.
    export.add_argument("--formats", help="comma-separated subset of pte,onnx,ort,tflite,coreml (default: all)")
    export.add_argument("--size", type=int, help="square input size instead of the default (for quick checks)")
    export.add_argument("--tolerance", type=float, default=1e-3, help="largest |difference| from eager PyTorch")
    export.set_defaults(handler=_export)

    bench = commands.add_parser("bench", help="size/latency table, or the implementation's experiment")
    bench.add_argument("id")
    bench.add_argument("--json", action="store_true", help="one JSON object (the experiment's dict when it has one)")
    bench.add_argument("--quick", action="store_true", help="fewer runs, fewer formats, shorter experiments")
    bench.add_argument("--seed", type=int, default=0)
    bench.set_defaults(handler=_bench_one)

    run = commands.add_parser("run", help="one image through a shipped-model port (or the original .tflite)")
    run.add_argument("id")
    run.add_argument("image", type=Path, help="an image file (PNG or JPEG)")
    run.add_argument(
        "--runtime", choices=["port", "original"], default="port", help="our port, or LiteRT on the original"
    )
    run.add_argument("--json", action="store_true", help="one JSON object (the default prints it too)")
    run.set_defaults(handler=_run_image)

    profile = commands.add_parser("profile", help="per-layer time share, MACs and parameters")
    profile.add_argument("id")
    profile.add_argument("--top", type=int, default=0, help="only the N slowest layers")
    profile.add_argument("--runs", type=int, default=5)
    profile.set_defaults(handler=_profile)


def seed_list(text: str) -> list[int]:
    """`0,1,2` as [0, 1, 2]; argparse turns the ValueError into a one-line usage error."""
    seeds = [int(part) for part in text.split(",") if part.strip()]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(text)
    return seeds


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kb bench impls`."""
    parser.add_argument("--only", nargs="+", metavar="ID", help="only these implementations")
    parser.add_argument("--quick", action="store_true", help="fewer runs, fewer formats, shorter experiments")
    parser.add_argument("--comparison", action="store_true", help="with --only: also the side-by-side table")
    parser.add_argument(
        "--seeds",
        type=seed_list,
        default=None,
        help="comma-separated seeds; experiments run once per seed and record mean, spread and every run "
        "(default: each experiment's own, 3 or 5 where it compares accuracies)",
    )
    parser.add_argument("--results", type=Path, default=paths.RESULTS, help="results folder")
    parser.set_defaults(handler=_bench_all)
