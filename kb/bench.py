"""`kb bench TARGET`: the project's benchmarks, each writing a results file with the environment it ran in.

- `impls`: every reference implementation (size, MACs, latency per runtime, experiments) -> `results/impl/`.
- `linkcheck`: the link checker against linkinator on 2,000 local URLs -> `results/bench/linkcheck.*.json`.
- `site`: `kb build` of a synthetic catalog, our generation against MkDocs' own time -> `results/bench/site.*.json`.

Benchmarks measure wall time: run them on a quiet machine. Tests never assert their timings.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from kb import impl
from kb.links import bench as linkbench
from kb.yamlio import write_atomic

RESULTS = Path(__file__).resolve().parent.parent / "results" / "bench"


def site_environment() -> dict[str, Any]:
    """What a site build's time depends on: the CPU, its cores, Python and the documentation tool chain."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    return {
        "cpu": cpu,
        "cores": sum(1 for line in lines if line.startswith("processor")),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in ("mkdocs", "mkdocs-material", "mkdocstrings-python", "pydantic")},
    }


def _site(args: argparse.Namespace) -> int:
    from kb.sitebench import run_site_benchmark

    report = {"command": f"kb bench site --entries {args.entries}", "environment": site_environment()}
    report.update(run_site_benchmark(args.entries))
    cpu = re.sub(r"[^a-z0-9]+", "-", report["environment"]["cpu"].lower()).strip("-")[:24]
    out = args.out or RESULTS / f"site.{args.entries}-entries.{cpu}-{report['environment']['cores']}c.json"
    write_atomic(out, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `kb bench impls|linkcheck|site`."""
    bench = subparsers.add_parser("bench", help="run a benchmark and write its results file")
    targets = bench.add_subparsers(dest="target", required=True, metavar="TARGET")
    impl.add_bench_arguments(targets.add_parser("impls", help="reference implementations -> results/impl/"))
    linkbench.add_bench_arguments(targets.add_parser("linkcheck", help="kb linkcheck vs linkinator on local URLs"))
    site = targets.add_parser("site", help="build time of a synthetic catalog: our part vs MkDocs")
    site.add_argument("--entries", type=int, default=5000, help="synthetic entries (default 5000)")
    site.add_argument("--out", type=Path, help="result file (default results/bench/site.<setup>.json)")
    site.set_defaults(handler=_site)
