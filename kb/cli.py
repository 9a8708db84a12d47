"""The `kb` command: one sub-command per job, each a thin layer over a module of the package.

Command groups that live in their own module register themselves through an `add_commands(subparsers)`
function, listed in `build_parser`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from kb import arxiv, bench, exports, impl, import_cli
from kb.catalog import DEFAULT_ROOT, SCHEMA_FILE, Catalog, load_catalog
from kb.links import cli as linkcheck_cli
from kb.schema import entry_json_schema
from kb.yamlio import write_atomic

PROJECT_ROOT = DEFAULT_ROOT.parent


def _validate(args: argparse.Namespace) -> int:
    from kb import rules

    if args.rules:
        for rule in rules.RULES.values():
            print(f"{rule.name:28} {rule.description}")
        return 0
    root: Path = args.catalog
    vocabulary_root = root if (root / "taxonomy.yaml").exists() else DEFAULT_ROOT
    catalog, problems = load_catalog(root, vocabulary_root)
    problems = sorted(problems + rules.check(catalog))
    for problem in problems:
        print(problem.annotation() if args.format == "github" else problem)
    summary = f"{len(catalog.records)} entries valid, {len(problems)} problem(s)"
    print(summary if problems else f"{summary}: catalog is clean", file=sys.stderr)
    return 1 if problems else 0


def _schema(args: argparse.Namespace) -> int:
    text = json.dumps(entry_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run `kb schema` and commit the result", file=sys.stderr)
            return 1
        return 0
    write_atomic(args.out, text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _load_clean(root: Path) -> Catalog | None:
    """The catalog when it has no problems; otherwise print them and return None."""
    from kb import rules

    vocabulary_root = root if (root / "taxonomy.yaml").exists() else DEFAULT_ROOT
    catalog, problems = load_catalog(root, vocabulary_root)
    problems = sorted(problems + rules.check(catalog))
    for problem in problems:
        print(problem, file=sys.stderr)
    return None if problems else catalog


def _generate(args: argparse.Namespace) -> int:
    from kb import site

    catalog = _load_clean(args.catalog)
    if catalog is None:
        return 1
    site.generate(catalog, args.docs)
    print(f"generated the pages of {len(catalog.entries)} entries into {args.docs}", file=sys.stderr)
    return 0


def _build(args: argparse.Namespace) -> int:
    from kb import site

    catalog = _load_clean(args.catalog)
    if catalog is None:
        return 1
    times = site.build(catalog, args.config, args.site_dir)
    total = times.generate + times.mkdocs
    print(
        f"built {args.site_dir} from {len(catalog.entries)} entries in {total:.1f} s: "
        f"generation {times.generate:.1f} s ({100 * times.generate / total:.0f}%), mkdocs {times.mkdocs:.1f} s",
        file=sys.stderr,
    )
    return 0


def _add_catalog_commands(subparsers: argparse._SubParsersAction) -> None:
    validate = subparsers.add_parser(
        "validate", help="check every catalog file and report all problems (writes nothing)"
    )
    validate.add_argument("catalog", nargs="?", type=Path, default=DEFAULT_ROOT, help="catalog folder")
    validate.add_argument(
        "--format",
        choices=["text", "github"],
        default="text",
        help="github: print problems as GitHub Actions annotations",
    )
    validate.add_argument("--rules", action="store_true", help="list the named rules and exit")
    validate.set_defaults(handler=_validate)

    schema = subparsers.add_parser("schema", help="write the JSON Schema of a catalog file")
    schema.add_argument("--out", type=Path, default=DEFAULT_ROOT / SCHEMA_FILE, help="where to write it")
    schema.add_argument("--check", action="store_true", help="fail when the committed schema is out of date")
    schema.set_defaults(handler=_schema)

    generate = subparsers.add_parser("generate", help="write the generated pages of the site into docs/")
    generate.add_argument("--catalog", type=Path, default=DEFAULT_ROOT, help="catalog folder")
    generate.add_argument("--docs", type=Path, default=PROJECT_ROOT / "docs", help="docs folder")
    generate.set_defaults(handler=_generate)

    build = subparsers.add_parser("build", help="validate, generate the pages and build the site with MkDocs")
    build.add_argument("--catalog", type=Path, default=DEFAULT_ROOT, help="catalog folder")
    build.add_argument("--config", type=Path, default=PROJECT_ROOT / "mkdocs.yml", help="MkDocs configuration")
    build.add_argument("--site-dir", type=Path, default=PROJECT_ROOT / "site", help="output folder")
    build.set_defaults(handler=_build)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `kb` with every sub-command."""
    parser = argparse.ArgumentParser(prog="kb", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Command groups: each module adds its own sub-commands (one line per module).
    _add_catalog_commands(subparsers)
    import_cli.add_commands(subparsers)
    arxiv.add_commands(subparsers)
    exports.add_commands(subparsers)
    linkcheck_cli.add_linkcheck_parser(subparsers)
    impl.add_commands(subparsers)
    bench.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kb` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
