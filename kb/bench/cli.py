"""`kb bench TARGET`: the project's benchmarks, each writing a results file with the environment it ran in.

- `impls`: every reference implementation (size, MACs, latency per runtime, experiments) -> `results/impl/`.
- `linkcheck`: the link checker against linkinator on 2,000 local URLs -> `results/bench/linkcheck.*.json`.
- `site`: `kb build` of a synthetic catalog, our generation against MkDocs' own time -> `results/bench/site.*.json`.
- `search`: the theme's search against Pagefind on that catalog's site, in Chromium -> `results/bench/search.*.json`.
- `importer`: `kb import awesome` on real lists it was not developed on, against their counted ground truth ->
  `results/bench/importer.unseen-lists.json` (counts, no timings).

Benchmarks measure wall time: run them on a quiet machine. Tests never assert their timings.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kb import impl, paths
from kb.bench.environment import environment, measured_at, setup_tag
from kb.catalog.yamlio import write_atomic

RESULTS = paths.BENCH_RESULTS


def _record(
    kind: str, args: argparse.Namespace, libraries: tuple[str, ...], run: Callable[[int], dict[str, Any]]
) -> dict[str, Any]:
    """Measure `kb bench KIND --entries N` with `run(N)` and write its record, named by the setup, atomically."""
    report = {
        "command": f"kb bench {kind} --entries {args.entries}",
        "measured_at": measured_at(),
        "environment": environment(libraries),
    }
    report.update(run(args.entries))
    out = args.out or RESULTS / f"{kind}.{args.entries}-entries.{setup_tag(report['environment'])}.json"
    write_atomic(out, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return report


def _site(args: argparse.Namespace) -> int:
    from kb.bench.site import run_site_benchmark

    libraries = ("mkdocs", "mkdocs-material", "mkdocstrings-python", "pydantic")
    print(json.dumps(_record("site", args, libraries, run_site_benchmark), indent=2))
    return 0


def _search(args: argparse.Namespace) -> int:
    from kb.bench.search import run_search_benchmark

    _record("search", args, ("mkdocs", "mkdocs-material", "pagefind-bin", "playwright"), run_search_benchmark)
    return 0


def _importer(args: argparse.Namespace) -> int:
    from kb.bench.importer import LISTS, run_importer_benchmark

    try:
        report = {"command": "kb bench importer", **run_importer_benchmark(args.lists or LISTS)}
    except OSError as error:
        print(f"kb bench importer: cannot read {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"kb bench importer: {error}", file=sys.stderr)
        return 2
    write_atomic(args.out, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `kb bench impls|linkcheck|site|search|importer`."""
    bench = subparsers.add_parser("bench", help="run a benchmark and write its results file")
    targets = bench.add_subparsers(dest="target", required=True, metavar="TARGET")
    impl.add_bench_arguments(targets.add_parser("impls", help="reference implementations -> results/impl/"))
    from kb.bench import links  # httpx and the checker load only for this command's parser

    links.add_bench_arguments(targets.add_parser("linkcheck", help="kb linkcheck vs linkinator on local URLs"))
    site = targets.add_parser("site", help="build time of a synthetic catalog: our part vs MkDocs")
    site.add_argument("--entries", type=int, default=5000, help="synthetic entries (default 5000)")
    site.add_argument("--out", type=Path, help="result file (default results/bench/site.<setup>.json)")
    site.set_defaults(handler=_site)
    search = targets.add_parser("search", help="the theme's search vs Pagefind on the synthetic catalog's site")
    search.add_argument("--entries", type=int, default=5000, help="synthetic entries (default 5000)")
    search.add_argument("--out", type=Path, help="result file (default results/bench/search.<setup>.json)")
    search.set_defaults(handler=_search)
    importer = targets.add_parser("importer", help="kb import awesome on unseen real lists vs their ground truth")
    importer.add_argument("--lists", type=Path, help="folder of list excerpts (default tests/fixtures/lists)")
    importer.add_argument(
        "--out", type=Path, default=RESULTS / "importer.unseen-lists.json", help="result file (default %(default)s)"
    )
    importer.set_defaults(handler=_importer)
