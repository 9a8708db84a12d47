"""`kb linkcheck --fix`: write the new address of a permanently moved link into its catalog file.

Only the URL changes: the file is edited as text, on the line where the key sits, replacing the exact old string
(quoted or not), and the edit is kept only when the file, read again, equals the old data with that one value
changed. Comments, key order, quoting and line wrapping stay as they were. arXiv and DOI addresses are made from
the entry's identifiers, not written in the file, so they are never rewritten.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kb.catalog.load import Catalog, Record
from kb.catalog.schema import check_url
from kb.catalog.yamlio import Loc, write_atomic
from kb.links.results import LinkResult, Status


@dataclass(frozen=True)
class Fix:
    """One rewritten URL (or one that could not be rewritten, with `problem` saying why)."""

    path: Path
    line: int
    old: str
    new: str
    problem: str = ""


def _quoted(new: str, quote: str) -> str:
    """`new` as it must be written between `quote` characters (or bare)."""
    if quote == "'":
        return new.replace("'", "''")
    if quote == '"':
        return new.replace("\\", "\\\\").replace('"', '\\"')
    return new


def _replace_on_line(line: str, old: str, new: str) -> str | None:
    """`line` with the scalar `old` replaced by `new`, or None when `old` is not there as a whole value."""
    pattern = re.compile(r"(?<=[\s:-])(['\"]?)" + re.escape(old) + r"\1(?=\s*(?:#.*)?$)")
    found = list(pattern.finditer(line.rstrip("\r\n")))
    if len(found) != 1:
        return None
    match, quote = found[0], found[0].group(1)
    return line[: match.start()] + quote + _quoted(new, quote) + quote + line[match.end() :]


def _set(data: Any, loc: Loc, value: str) -> None:
    for part in loc[:-1]:
        data = data[part]
    data[loc[-1]] = value


def fix_record(record: Record, moved: dict[str, str]) -> list[Fix]:
    """Rewrite every moved URL of one entry in its file; returns what was done and what was not."""
    entry = record.entry
    locs: list[tuple[Loc, str]] = [(("url",), entry.url)] if entry.url in moved else []
    locs += [(("code", i, "url"), code.url) for i, code in enumerate(entry.code) if code.url in moved]
    if not locs:
        return []
    text = record.path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    expected = copy.deepcopy(yaml.safe_load(text))
    fixes = []
    for loc, old in locs:
        number = record.source.line_of(loc)
        try:
            check_url(moved[old])
        except ValueError as error:
            fixes.append(Fix(record.path, number, old, moved[old], f"the catalog would refuse the new URL: {error}"))
            continue
        changed = _replace_on_line(lines[number - 1], old, moved[old])
        if changed is None:
            fixes.append(Fix(record.path, number, old, moved[old], "the URL is not written whole on its key's line"))
            continue
        lines[number - 1] = changed
        _set(expected, loc, moved[old])
        fixes.append(Fix(record.path, number, old, moved[old]))
    done = [fix for fix in fixes if not fix.problem]
    if not done:
        return fixes
    new_text = "".join(lines)
    if yaml.safe_load(new_text) != expected:
        why = "the edited file would not read back as the same entry with the new URL; fix it by hand"
        return [Fix(f.path, f.line, f.old, f.new, f.problem or why) for f in fixes]
    write_atomic(record.path, new_text)
    return fixes


def fix_moved(catalog: Catalog, results: dict[str, LinkResult]) -> list[Fix]:
    """Rewrite, across the catalog, every URL whose result is `redirected` to the address it moved to."""
    moved = {url: r.moved_to for url, r in results.items() if r.status is Status.redirected and r.moved_to}
    return [fix for record in catalog.records for fix in fix_record(record, moved)]
