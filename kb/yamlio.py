"""Read YAML safely and remember the line of every key, so that errors can point at it.

PyYAML's safe loader keeps the last of two equal keys without a word; here a duplicate key is an error.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loc = tuple[str | int, ...]


class YamlError(Exception):
    """A file that is no valid YAML, or that repeats a key."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Located:
    """Data read from a YAML file, with the 1-based line of every key and list item."""

    path: Path
    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int:
        """The line of `loc`, or of its nearest enclosing node that has one (the top of the file at worst)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1


def _construct(loader: yaml.SafeLoader, node: Node, loc: Loc, lines: dict[Loc, int], path: Path) -> Any:
    # A mapping value keeps the line of its key (recorded by the caller): that is where an editor should look.
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise YamlError(path, key_node.start_mark.line + 1, "a key must be a plain value")
            key = loader.construct_object(key_node)
            if key in result:
                first = lines[(*loc, key)]
                raise YamlError(
                    path, key_node.start_mark.line + 1, f"duplicate key '{key}' (first set on line {first})"
                )
            lines[(*loc, key)] = key_node.start_mark.line + 1
            result[key] = _construct(loader, value_node, (*loc, key), lines, path)
        return result
    if isinstance(node, SequenceNode):
        return [_construct(loader, item, (*loc, i), lines, path) for i, item in enumerate(node.value)]
    return loader.construct_object(node)


def load_yaml(path: Path) -> Located:
    """Load one YAML document with the safe loader, rejecting duplicate keys.

    Raises:
        YamlError: On a syntax error or a duplicate key, with the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise YamlError(path, 1, f"the file is not UTF-8 ({error.reason})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        data = None if node is None else _construct(loader, node, (), lines, path)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlError(path, line, f"invalid YAML: {error.problem or error.context}") from None
    finally:
        loader.dispose()
    return Located(path, data, lines)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp makes the file private (0600); give it the permissions a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
