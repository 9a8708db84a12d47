"""The usable catalog: every file loaded and validated, then every named rule run over it.

Every command that reads the catalog starts here, so "usable" means one thing everywhere: `kb validate` reports
these problems, and the commands that write from the catalog (`kb build`, `kb export`, `kb import`, `kb add`)
refuse to run until there are none.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kb import paths
from kb.catalog import rules
from kb.catalog.load import Catalog, load_catalog
from kb.catalog.problems import Problem


def load_checked_catalog(root: Path | None = None) -> tuple[Catalog, list[Problem]]:
    """The catalog below `root` (the checkout's `catalog/` by default) and every problem, sorted by file and line.

    A folder without its own `taxonomy.yaml` (a fixture, a single kind) is checked against the checkout's
    vocabularies.
    """
    root = root or paths.CATALOG
    vocabulary_root = root if (root / "taxonomy.yaml").exists() else paths.CATALOG
    catalog, problems = load_catalog(root, vocabulary_root)
    return catalog, sorted(problems + rules.check(catalog))


def clean_catalog(root: Path | None = None, *, waiting: tuple[str, ...] = ()) -> Catalog | None:
    """The checked catalog when it has no problems; otherwise print them with what to do, and return None.

    `waiting` names rules whose problems do not block the command: `kb add` writes entries whose summary waits for
    its contributor, and adding a second paper before writing the first one's summary is fine.
    """
    catalog, problems = load_checked_catalog(root)
    problems = [p for p in problems if p.rule not in waiting]
    if not problems:
        return catalog
    for problem in problems[:20]:
        print(problem, file=sys.stderr)
    more = " (the first 20 above)" if len(problems) > 20 else ""
    print(f"the catalog has {len(problems)} problem(s){more}; run `kb validate` and fix them first", file=sys.stderr)
    return None
