"""The `kb` command: one sub-command per job, each a thin layer over a module of the package.

Command groups that live in their own module register themselves through an `add_commands(subparsers)`
function; `COMMANDS` says which module defines each command. Only the module of the command being run is
imported, so `kb validate` never loads httpx, MkDocs or torch.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from kb import paths
from kb.catalog.checked import clean_catalog, load_checked_catalog
from kb.catalog.load import SCHEMA_FILE
from kb.catalog.schema import entry_json_schema
from kb.catalog.yamlio import write_atomic

# Each command and the module whose `add_commands` defines it (this module for the catalog's own commands).
COMMANDS = {
    "validate": __name__,
    "schema": __name__,
    "generate": __name__,
    "build": __name__,
    "import": "kb.importer.cli",
    "add": "kb.lookup.arxiv",
    "enrich": "kb.lookup.enrich",
    "export": "kb.site.exports",
    "linkcheck": "kb.links.cli",
    "impl": "kb.impl",
    "bench": "kb.bench.cli",
}


def _validate(args: argparse.Namespace) -> int:
    if args.rules:
        from kb.catalog import rules

        for rule in rules.RULES.values():
            print(f"{rule.name:28} {rule.description}")
        return 0
    catalog, problems = load_checked_catalog(args.catalog)
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


def _site(args: argparse.Namespace) -> int:
    """`kb generate` writes the generated pages; `kb build` also runs MkDocs."""
    import subprocess

    from kb.site import build as site
    from kb.site.pages import GenerationError

    catalog = clean_catalog(args.catalog)
    if catalog is None:
        return 1
    try:
        if args.command == "generate":
            site.generate(catalog, args.docs)
            print(f"generated the pages of {len(catalog.entries)} entries into {args.docs}", file=sys.stderr)
            return 0
        times = site.build(catalog, args.config, args.site_dir)
    except GenerationError as error:
        print(f"kb {args.command}: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError:
        print("kb build: `mkdocs build --strict` failed; its messages are above", file=sys.stderr)
        return 1
    total = times.generate + times.mkdocs
    print(
        f"built {args.site_dir} from {len(catalog.entries)} entries in {total:.1f} s: "
        f"generation {times.generate:.1f} s ({100 * times.generate / total:.0f}%), mkdocs {times.mkdocs:.1f} s",
        file=sys.stderr,
    )
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `kb validate`, `kb schema`, `kb generate` and `kb build`."""
    validate = subparsers.add_parser(
        "validate", help="check every catalog file and report all problems (writes nothing)"
    )
    validate.add_argument("catalog", nargs="?", type=Path, default=paths.CATALOG, help="catalog folder")
    validate.add_argument(
        "--format",
        choices=["text", "github"],
        default="text",
        help="github: print problems as GitHub Actions annotations",
    )
    validate.add_argument("--rules", action="store_true", help="list the named rules and exit")
    validate.set_defaults(handler=_validate)

    schema = subparsers.add_parser("schema", help="write the JSON Schema of a catalog file")
    schema.add_argument("--out", type=Path, default=paths.CATALOG / SCHEMA_FILE, help="where to write it")
    schema.add_argument("--check", action="store_true", help="fail when the committed schema is out of date")
    schema.set_defaults(handler=_schema)

    generate = subparsers.add_parser("generate", help="write the generated pages of the site into docs/")
    generate.add_argument("--catalog", type=Path, default=paths.CATALOG, help="catalog folder")
    generate.add_argument("--docs", type=Path, default=paths.DOCS, help="docs folder")
    generate.set_defaults(handler=_site)

    build = subparsers.add_parser("build", help="validate, generate the pages and build the site with MkDocs")
    build.add_argument("--catalog", type=Path, default=paths.CATALOG, help="catalog folder")
    build.add_argument("--config", type=Path, default=paths.MKDOCS_CONFIG, help="MkDocs configuration")
    build.add_argument("--site-dir", type=Path, default=paths.SITE, help="output folder")
    build.set_defaults(handler=_site)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of `kb`: every sub-command, or only the modules that define `command`."""
    parser = argparse.ArgumentParser(prog="kb", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        module = sys.modules[__name__] if name == __name__ else importlib.import_module(name)
        module.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kb` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    # Every command's own errors are one-line messages; these are what is left: the user stopping it, and the
    # file system refusing (a read-only folder, a full disk). Neither deserves a traceback.
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print(f"kb {args.command}: interrupted; files are written whole or not at all", file=sys.stderr)
        return 130
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        print(f"kb {args.command}: {error.strerror or error}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
