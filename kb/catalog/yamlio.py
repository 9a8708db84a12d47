"""Read YAML safely and remember the line of every key, so that errors can point at it.

PyYAML's safe loader keeps the last of two equal keys without a word; here a duplicate key is an error. The file
is parsed by libyaml (PyYAML's C parser) where it is installed, which is ten times faster than the pure-Python one;
the nodes carry their line either way. A catalog file comes from a pull request, so reading it is bounded: regular
files only (no symbolic links, devices or pipes), at most `MAX_FILE_BYTES`, no aliases of lists or mappings (a few
hundred bytes of nested aliases expand to gigabytes), at most `MAX_NODES` values.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loc = tuple[str | int, ...]

# The C parser when PyYAML was built with libyaml; the same safe constructors either way.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000


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


class _Walk:
    """The state of one file's construction: lines found so far and the node budget."""

    def __init__(self, loader: yaml.SafeLoader, path: Path) -> None:
        self.loader, self.path = loader, path
        self.lines: dict[Loc, int] = {}
        self.seen: set[int] = set()

    def construct(self, node: Node, loc: Loc) -> Any:
        line = node.start_mark.line + 1
        if id(node) in self.seen and not isinstance(node, ScalarNode):
            # An alias is the same node met twice; expanding a list or mapping again and again is how an alias bomb
            # works. An alias of a plain value costs nothing (PyYAML's dumper writes them for a repeated date).
            raise YamlError(self.path, line, "aliases (*) of lists or mappings are not allowed; write the value out")
        self.seen.add(id(node))
        if len(self.seen) > MAX_NODES:
            raise YamlError(self.path, line, f"more than {MAX_NODES:,} values in one file; split it")
        # A mapping value keeps the line of its key (recorded by the caller): that is where an editor should look.
        self.lines.setdefault(loc, line)
        if isinstance(node, MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    raise YamlError(self.path, key_node.start_mark.line + 1, "a key must be a plain value")
                key = self.loader.construct_object(key_node)
                if key in result:
                    first = self.lines[(*loc, key)]
                    raise YamlError(
                        self.path, key_node.start_mark.line + 1, f"duplicate key '{key}' (first set on line {first})"
                    )
                self.lines[(*loc, key)] = key_node.start_mark.line + 1
                result[key] = self.construct(value_node, (*loc, key))
            return result
        if isinstance(node, SequenceNode):
            return [self.construct(item, (*loc, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)


def read_text_bounded(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes.

    Raises:
        YamlError: For a symbolic link, a device, a pipe or a folder; a file over the limit; text that is not UTF-8.
    """
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise YamlError(path, 1, "a symbolic link; catalog files must be regular files inside the catalog")
    if not stat.S_ISREG(info.st_mode):
        raise YamlError(path, 1, "not a regular file; catalog files must be plain YAML files")
    # O_NOFOLLOW: the path cannot be swapped for a link between the check above and the open.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise YamlError(path, 1, f"larger than {limit:,} bytes; a catalog file is a few kilobytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise YamlError(path, 1, f"the file is not UTF-8 ({error.reason} at byte {error.start})") from None


def load_yaml(path: Path) -> Located:
    """Load one YAML document with the safe loader, rejecting duplicate keys, aliases and oversized input.

    Raises:
        FileNotFoundError: When there is no such file.
        YamlError: On a syntax error, a duplicate key, an alias, or a file that `read_text_bounded` refuses.
    """
    text = read_text_bounded(path)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        walk = _Walk(loader, path)
        data = None if node is None else walk.construct(node, ())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlError(path, line, f"invalid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise YamlError(path, 1, f"invalid YAML: {error}") from None
    except RecursionError:
        raise YamlError(path, 1, "nested too deeply; a catalog file is a flat mapping") from None
    finally:
        loader.dispose()
    return Located(path, data, walk.lines)


def stage_text(path: Path, text: str) -> Path:
    """Write `text` to a new temporary file beside `path` (same folder, so a rename is atomic) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp makes the file private (0600); give it the permissions a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: readers never see half a file."""
    tmp = stage_text(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
