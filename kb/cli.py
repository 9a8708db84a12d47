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

from kb.catalog import DEFAULT_ROOT, SCHEMA_FILE, load_catalog
from kb.schema import entry_json_schema
from kb.yamlio import write_atomic


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


def _add_catalog_commands(subparsers: argparse._SubParsersAction) -> None:
    validate = subparsers.add_parser(
        "validate", help="check every catalog file and report all problems (writes nothing)"
    )
    validate.add_argument("catalog", nargs="?", type=Path, default=DEFAULT_ROOT, help="catalog folder")
    validate.add_argument("--format", choices=["text", "github"], default="text",
                          help="github: print problems as GitHub Actions annotations")
    validate.add_argument("--rules", action="store_true", help="list the named rules and exit")
    validate.set_defaults(handler=_validate)

    schema = subparsers.add_parser("schema", help="write the JSON Schema of a catalog file")
    schema.add_argument("--out", type=Path, default=DEFAULT_ROOT / SCHEMA_FILE, help="where to write it")
    schema.add_argument("--check", action="store_true", help="fail when the committed schema is out of date")
    schema.set_defaults(handler=_schema)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `kb` with every sub-command."""
    parser = argparse.ArgumentParser(prog="kb", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Command groups: each module adds its own sub-commands (one line per module).
    _add_catalog_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kb` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
