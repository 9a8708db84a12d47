"""The `kb linkcheck` command: pick the URLs, reuse fresh cached results, check the rest, report, and fix moves."""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from kb import paths
from kb.catalog.checked import load_checked_catalog
from kb.catalog.load import Catalog
from kb.links.checker import CheckOptions, check_urls
from kb.links.config import DEFAULT_CONFIG, load_link_config
from kb.links.fix import fix_moved
from kb.links.report import results_json, results_markdown, summary_text
from kb.links.results import DEFAULT_CACHE, PUBLIC, LinkResult, Status, load_link_results, save_link_results

if TYPE_CHECKING:
    from tqdm import tqdm


def changed_files(ref: str, root: Path) -> set[Path]:
    """Files below `root` changed since the merge base of `ref` and HEAD, working tree and untracked files included.

    Raises:
        SystemExit: When git fails (unknown ref, not a repository), with git's message.
    """

    def git(*args: str, cwd: Path) -> list[str]:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"kb linkcheck --changed: git {' '.join(args)} failed: {done.stderr.strip()}")
        return [line for line in done.stdout.splitlines() if line]

    top = Path(git("rev-parse", "--show-toplevel", cwd=root)[0])
    names = git("diff", "--name-only", "--merge-base", ref, "--", str(root.resolve()), cwd=top)
    names += git("ls-files", "--others", "--exclude-standard", "--", str(root.resolve()), cwd=top)
    return {(top / name).resolve() for name in names}


def _catalog_urls(args: argparse.Namespace) -> tuple[dict[str, list[str]], Catalog]:
    """URLs of the catalog (or of its changed entries) with the ids of the entries that hold each."""
    root: Path = args.catalog
    catalog, problems = load_checked_catalog(root)
    if problems:
        print(f"note: {len(problems)} catalog problem(s); `kb validate` lists them", file=sys.stderr)
    wanted = changed_files(args.changed, args.catalog) if args.changed else None
    entries_of: dict[str, list[str]] = {}
    for record in catalog.records:
        if wanted is None or record.path.resolve() in wanted:
            for url in record.entry.urls():
                entries_of.setdefault(url, []).append(record.entry.id)
    return entries_of, catalog


def _progress(total: int) -> tqdm | None:
    """A progress bar on stderr when it is a terminal."""
    if not sys.stderr.isatty() or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="URL", file=sys.stderr, leave=False)


def looks_offline(fresh: list[LinkResult]) -> bool:
    """True when no name resolved at all, over several hosts: the machine has no DNS, the links are not to blame."""
    hosts = {urllib.parse.urlsplit(result.url).hostname for result in fresh}
    return len(hosts) >= 3 and all((result.error or "").startswith("DNS") for result in fresh)


def _fix(catalog: Catalog, results: dict[str, LinkResult]) -> None:
    """Rewrite moved URLs in the catalog, say what changed, and record the new URLs that were reached."""
    for fix in fix_moved(catalog, results):
        outcome = f": NOT FIXED, {fix.problem}" if fix.problem else ""
        print(f"{fix.path}:{fix.line}: {fix.old} -> {fix.new}{outcome}", file=sys.stderr)
        moved = results[fix.old]
        if not fix.problem and moved.final_url == fix.new:
            # Every hop to the new address was permanent and it answered: that is a check of the new URL.
            results[fix.new] = LinkResult(fix.new, Status.ok, moved.http_status, None, moved.checked_at, 1)


def address_policy(allow_private: bool, allow_networks: list[str]) -> str:
    """The name of the address policy a run checks under; cached results carry it."""
    if allow_private:
        return "allow-private"
    return "allow:" + ",".join(sorted(allow_networks)) if allow_networks else PUBLIC


def _run(args: argparse.Namespace) -> int:
    config = load_link_config(args.config)
    catalog: Catalog | None = None
    if args.url_file:
        lines = args.url_file.read_text(encoding="utf-8").splitlines()
        entries_of = {line.strip(): [] for line in lines if line.strip() and not line.lstrip().startswith("#")}
    else:
        entries_of, catalog = _catalog_urls(args)
    excluded = [url for url in entries_of if config.excluded_by(url)]
    urls = [url for url in entries_of if url not in excluded]
    # A run on a URL file checks addresses from outside the catalog: it uses a cache only when given one.
    cache_path = None if args.no_cache else args.cache or (None if args.url_file else DEFAULT_CACHE)
    cache = load_link_results(cache_path) if cache_path else {}
    max_age = dt.timedelta(days=args.max_age)
    policy = address_policy(args.allow_private, args.allow_network)
    reused = {url: cache[url] for url in urls if url in cache and cache[url].is_fresh(max_age, policy)}
    options = CheckOptions(
        timeout=args.timeout,
        concurrency=args.concurrency,
        per_host=args.per_host,
        retries=args.retries,
        allow_private=args.allow_private,
        allow_networks=tuple(args.allow_network),
    )
    bar = _progress(len(urls) - len(reused))
    fresh = check_urls(
        [u for u in urls if u not in reused],
        options,
        config,
        on_result=(lambda _: bar.update()) if bar is not None else None,
    )
    if bar is not None:
        bar.close()
    if looks_offline(fresh):
        print("kb linkcheck: no host name resolved; is this machine offline? Nothing was saved.", file=sys.stderr)
        return 2
    for result in fresh:
        result.policy = policy
    results = {**reused, **{r.url: r for r in fresh}}
    ordered = [results[url] for url in urls]
    if args.fix and catalog is None:
        print("note: --fix rewrites catalog files; with --url-file there are none to rewrite", file=sys.stderr)
    elif args.fix and catalog is not None:
        _fix(catalog, results)
    if cache_path:
        # A full catalog run drops the URLs no entry has now; a partial one keeps the rest of the cache.
        save_link_results(cache_path, results, keep_others=bool(args.url_file or args.changed), loaded=cache)
    if args.format == "json":
        print(results_json(ordered))
    elif args.format == "markdown":
        print(results_markdown(ordered, entries_of), end="")
    else:
        print(summary_text(ordered, entries_of, cached=len(reused)))
        if excluded:
            print(f"{len(excluded)} URL(s) skipped by the exclude patterns of {args.config}")
    failing = {Status(s) for s in args.fail_on.split(",") if s and s != "none"}
    return 1 if any(r.status in failing for r in ordered) else 0


def _statuses(text: str) -> str:
    for part in text.split(","):
        if part not in {s.value for s in Status} | {"none"}:
            raise argparse.ArgumentTypeError(f"unknown status {part!r}; use {', '.join(Status)} or none")
    return text


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `kb linkcheck` and its options."""
    defaults = CheckOptions()
    parser = subparsers.add_parser("linkcheck", help="check every URL of the catalog (or of a file) and report")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--url-file", type=Path, help="check the URLs of this file (one per line) instead")
    source.add_argument("--changed", metavar="REF", help="check only entries changed since the git ref REF")
    parser.add_argument("--catalog", type=Path, default=paths.CATALOG, help="catalog folder")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="per-host settings and exclusions")
    parser.add_argument(
        "--cache", type=Path, help="results cache (JSON; default results/linkcheck.json, none with --url-file)"
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write a cache")
    parser.add_argument(
        "--max-age",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="re-check cached results older than this (default 7; 0 checks everything)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.timeout,
        metavar="SECONDS",
        help=f"per request (default {defaults.timeout:g})",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=defaults.concurrency,
        help=f"requests in flight in all (default {defaults.concurrency})",
    )
    parser.add_argument(
        "--per-host",
        type=int,
        default=defaults.per_host,
        help=f"requests in flight per host (default {defaults.per_host})",
    )
    parser.add_argument("--retries", type=int, default=defaults.retries, help="retries of a failing request")
    parser.add_argument(
        "--allow-private", action="store_true", help="allow loopback and private addresses (local testing only)"
    )
    parser.add_argument(
        "--allow-network",
        action="append",
        default=[],
        metavar="CIDR",
        help="allow this non-public network (repeatable), e.g. an intranet mirror",
    )
    parser.add_argument("--format", choices=["text", "json", "markdown"], default="text", help="report format")
    parser.add_argument(
        "--fail-on",
        type=_statuses,
        default="broken",
        metavar="STATUSES",
        help="exit 1 when a URL ends in one of these (comma-separated; default broken; none)",
    )
    parser.add_argument("--fix", action="store_true", help="rewrite permanently moved URLs in the catalog files")
    parser.set_defaults(handler=_run)
