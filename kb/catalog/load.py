"""Load the catalog: the vocabularies, then every entry file, collecting every problem instead of stopping.

A broken file never hides the problems of the others: each file is read and validated on its own, and the
second layer of named rules (`kb.catalog.rules`) runs over whatever loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from kb import paths
from kb.catalog.problems import Problem
from kb.catalog.schema import Category, Entry, Exclusion, Kind, Venue, suggest
from kb.catalog.vocabulary import Vocabulary
from kb.catalog.yamlio import Loc, Located, YamlError, load_yaml, write_atomic


@dataclass(frozen=True)
class Record:
    """An entry together with the file it came from and the line of each of its keys."""

    entry: Entry
    source: Located

    @property
    def path(self) -> Path:
        """The entry's file."""
        return self.source.path

    def problem(self, loc: Loc, message: str, rule: str = "") -> Problem:
        """A problem located at the key `loc` of this entry's file."""
        return Problem(self.path, self.source.line_of(loc), format_loc(loc), message, rule)


@dataclass
class Catalog:
    """Every entry that loaded, sorted by id, and the vocabularies."""

    root: Path
    vocabulary: Vocabulary
    records: list[Record] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)

    @property
    def entries(self) -> list[Entry]:
        """The entries, sorted by id."""
        return [record.entry for record in self.records]

    def by_id(self) -> dict[str, Entry]:
        """Entries by id and by every alias (an old id keeps naming its entry); the first loaded wins a tie."""
        found: dict[str, Entry] = {}
        for record in self.records:
            found.setdefault(record.entry.id, record.entry)
        for record in self.records:
            for alias in record.entry.aliases:
                found.setdefault(alias, record.entry)
        return found

    def in_category(self, category_id: str) -> list[Entry]:
        """Entries filed under `category_id` or any category below it, newest first."""
        wanted = {category_id} | {c for c in self.vocabulary.categories if category_id in self.vocabulary.ancestors(c)}
        chosen = [e for e in self.entries if wanted.intersection(e.categories)]
        return sorted(chosen, key=lambda e: (-(e.year or 0), e.title.casefold()))


def format_loc(loc: Loc) -> str:
    """`('code', 0, 'url')` as `code[0].url`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: dict[str, Any], model: type[BaseModel]) -> str:
    """Pydantic's message, rewritten where it does not say what is allowed."""
    kind, msg, loc = error["type"], error["msg"], error["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(model, loc[:-1])
        return f"unknown key '{key}'{suggest(key, allowed)} (allowed keys: {', '.join(allowed)})"
    if kind == "missing":
        return "required field is missing; add it"
    msg = msg.removeprefix("Value error, ")
    if kind not in ("value_error", "assertion_error") and "input" in error:
        got = error["input"]
        if isinstance(got, str | int | float | bool) or got is None:
            shown = repr(got)
            msg += f", got {shown[:80]}…" if len(shown) > 80 else f", got {shown}"
    return msg


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names of the (nested) model that `loc` points into."""
    current: type[BaseModel] = model
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = current.model_fields[str(part)].annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
    return list(current.model_fields)


def _validate(model: type[BaseModel], located: Located, context: dict[str, Any] | None) -> tuple[Any, list[Problem]]:
    if not isinstance(located.data, dict):
        return None, [Problem(located.path, 1, "", "the file must hold a mapping of fields (key: value lines)")]
    try:
        return model.model_validate(located.data, context=context), []
    except ValidationError as error:
        return None, [
            Problem(located.path, located.line_of(e["loc"]), format_loc(e["loc"]), _message(e, model))  # type: ignore[arg-type]
            for e in error.errors()
        ]


def _load_list(path: Path, key: str, model: type[BaseModel]) -> tuple[list[Any], list[Problem]]:
    """Load `key:` of a vocabulary file as a list of `model`."""
    try:
        located = load_yaml(path)
    except FileNotFoundError:
        return [], [Problem(path, 1, "", f"missing vocabulary file; create it with a `{key}:` list")]
    except YamlError as error:
        return [], [Problem(path, error.line, "", error.message)]
    items = located.data.get(key) if isinstance(located.data, dict) else None
    if not isinstance(items, list):
        return [], [Problem(path, 1, key, f"the file must hold a `{key}:` list")]
    loaded, problems = [], []
    for i, item in enumerate(items):
        item_located = Located(
            path, item, {loc[2:]: line for loc, line in located.lines.items() if loc[:2] == (key, i)}
        )
        value, found = _validate(model, item_located, None)
        problems += [Problem(p.path, p.line, f"{key}[{i}].{p.field}".rstrip("."), p.message) for p in found]
        if value is not None:
            loaded.append(value)
    return loaded, problems


def load_vocabulary(root: Path) -> tuple[Vocabulary, list[Problem]]:
    """Load `taxonomy.yaml` and `venues.yaml` from `root`, checking ids are unique and parents exist."""
    categories, problems = _load_list(root / "taxonomy.yaml", "categories", Category)
    venues, venue_problems = _load_list(root / "venues.yaml", "venues", Venue)
    problems += venue_problems
    vocabulary = Vocabulary({c.id: c for c in categories}, {v.id: v for v in venues})
    for name, items, count in (
        ("categories", categories, len(vocabulary.categories)),
        ("venues", venues, len(vocabulary.venues)),
    ):
        if count != len(items):
            file = root / ("taxonomy.yaml" if name == "categories" else "venues.yaml")
            problems.append(Problem(file, 1, name, "an id is used twice; give each item its own id"))
    for category in categories:
        if category.parent is not None and category.parent not in vocabulary.categories:
            problems.append(
                Problem(root / "taxonomy.yaml", 1, f"{category.id}.parent", f"unknown parent '{category.parent}'")
            )
    return vocabulary, problems


def entry_files(root: Path) -> Iterator[Path | Problem]:
    """Every entry file below `root`, or a problem for a file or folder where no entry may be."""
    kinds = [k.value for k in Kind]
    for child in sorted(root.iterdir()):
        if child.is_symlink():
            # A link could lead anywhere on the machine: its files are not the pull request's to hand us.
            yield Problem(child, 1, "", "a symbolic link; catalog files and folders must be real, inside the catalog")
        elif child.is_dir() and child.name in kinds:
            for path in sorted(child.iterdir()):
                if path.suffix == ".yaml":
                    yield path
                elif path.suffix == ".yml":
                    yield Problem(path, 1, "", "entry files end in .yaml; rename it")
        elif child.is_dir() and not child.name.startswith((".", "_")):
            hint = suggest(child.name, kinds)
            yield Problem(child, 1, "", f"unknown folder; entries live in {', '.join(kinds)}{hint}")


def load_catalog(root: Path = paths.CATALOG, vocabulary_root: Path | None = None) -> tuple[Catalog, list[Problem]]:
    """Load every entry below `root`.

    Args:
        root: The catalog folder, holding one folder per kind.
        vocabulary_root: Where `taxonomy.yaml` and `venues.yaml` are; `root` by default.

    Returns:
        The catalog of every entry that validated, and the problems of those that did not.
    """
    vocabulary, problems = load_vocabulary(vocabulary_root or root)
    catalog = Catalog(root, vocabulary)
    if (root / EXCLUDED_FILE).exists():
        catalog.excluded, found = _load_list(root / EXCLUDED_FILE, "excluded", Exclusion)
        problems += found
    context = {"vocabulary": vocabulary}
    for item in entry_files(root):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        try:
            located = load_yaml(item)
        except YamlError as error:
            problems.append(Problem(item, error.line, "", error.message))
            continue
        entry, found = _validate(Entry, located, context)
        problems += found
        if entry is not None:
            catalog.records.append(Record(entry, located))
    catalog.records.sort(key=lambda record: (record.entry.id, str(record.path)))
    return catalog, problems


SCHEMA_FILE = "entry.schema.json"
EXCLUDED_FILE = "excluded.yaml"


class _PlainDumper(yaml.SafeDumper):
    """The safe dumper without anchors: a value used twice (one `checked` date) is written out twice."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def entry_yaml(entry: Entry) -> str:
    """The YAML file of an entry: fields in schema order, defaults left out, with the schema modeline on top."""
    data = entry.model_dump(mode="json", exclude_defaults=True)
    data["added"] = entry.added  # a YAML date, not a quoted string
    for claim in data.get("claims", []):
        if claim.get("value") is not None and float(claim["value"]).is_integer():
            claim["value"] = int(claim["value"])
    body = yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=110)
    return f"# yaml-language-server: $schema=../{SCHEMA_FILE}\n{body}"


def write_entry(root: Path, entry: Entry) -> Path:
    """Write `entry` to `root/<kind>/<id>.yaml` atomically and return the path."""
    path = root / entry.kind.value / f"{entry.id}.yaml"
    write_atomic(path, entry_yaml(entry))
    return path
