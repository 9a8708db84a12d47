"""A problem found in a catalog file: where it is, which field, what is wrong and how to fix it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, else as given."""
    try:
        return os.path.relpath(path) if path.is_absolute() and Path.cwd() in path.parents else str(path)
    except ValueError:
        return str(path)


@dataclass(frozen=True, order=True)
class Problem:
    """One error, printed as `catalog/paper/x.yaml:12: venue: unknown venue 'NIPSW'; ...`."""

    path: Path
    line: int
    field: str
    message: str
    rule: str = ""

    def __str__(self) -> str:
        where = f"{display_path(self.path)}:{self.line}:"
        field = f" {self.field}:" if self.field else ""
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{where}{field} {self.message}{rule}"

    def annotation(self) -> str:
        """The problem as a GitHub Actions error annotation, shown on the pull request's diff."""
        title = self.rule or "schema"
        message = f"{self.field}: {self.message}" if self.field else self.message
        # Workflow commands end at a newline and treat % specially; a property value also ends at `,` and `:`,
        # so a file named `a,line=1::` or holding a newline cannot forge a field or a second command.
        file = _escape_property(display_path(self.path))
        return f"::error file={file},line={self.line},title={_escape_property(title)}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
