"""The Markdown every generated page is written in: escaped text, safe links and tables.

Everything that comes from a catalog file or a results file is hostile until escaped here: a title holding `|`,
`<script>`, backticks, `]` or a snippet marker is shown as text and never becomes markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Characters that Markdown (or the HTML inside it) would read as syntax, written as character references:
# `:` starts emoji shortcodes, `=~^` marks, and quotes would end an HTML attribute the text is placed in.
_MD_SPECIAL = {c: f"&#{ord(c)};" for c in "\\`*_{}[]()<>#+!|~$&:\"'=^"}
_MD_ESCAPE = str.maketrans(_MD_SPECIAL)


def escape(text: str) -> str:
    """Text made safe for inline Markdown, table cells and HTML attribute values; line breaks become spaces."""
    return " ".join(text.split()).translate(_MD_ESCAPE)


def link(text: str, href: str) -> str:
    """A Markdown link with escaped text; `href` is an http(s) URL checked by the schema or a relative page path."""
    safe = href.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20").replace("\n", "").replace("\r", "")
    return f"[{escape(text)}](<{safe}>)"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table. Cells are Markdown already (text passed through `escape`); each is kept on one line."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(" ".join(str(c).split()) for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]) + "\n"
