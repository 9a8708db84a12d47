"""BibTeX for catalog entries; the entry id is the citation key."""

from __future__ import annotations

from kb.catalog.schema import Entry, Kind

# Characters with a meaning in BibTeX/LaTeX that may appear in titles and names.
_LATEX_SPECIAL = str.maketrans({"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}"})


def _value(text: str) -> str:
    # One line whatever the text holds: a line break would end the record inside the page's fenced block.
    return "{" + " ".join(text.split()).translate(_LATEX_SPECIAL) + "}"


def entry_bibtex(entry: Entry, venue_type: str | None = None) -> str:
    """One BibTeX record.

    `@inproceedings` for a paper at a conference or workshop, `@article` for a journal or arXiv paper, `@misc` for
    everything else.

    Args:
        entry: The entry.
        venue_type: The `type` of the entry's venue in the vocabulary (`journal`, `conference`, ...).
    """
    fields: list[tuple[str, str]] = [("title", "{" + _value(entry.title) + "}")]  # double braces keep capitals
    if entry.authors or entry.organizations:
        # An organisation is braced so that BibTeX keeps it whole: {Google AI Edge}, not "Edge, Google AI".
        names = [*entry.authors, *("{" + name.translate(_LATEX_SPECIAL) + "}" for name in entry.organizations)]
        people = " and ".join(n if n.startswith("{") else n.translate(_LATEX_SPECIAL) for n in names)
        fields.append(("author", "{" + " ".join(people.split()) + "}"))
    if entry.year:
        fields.append(("year", str(entry.year)))
    kind = "misc"
    if entry.kind is Kind.paper and entry.venue and venue_type == "journal":
        kind = "article"
        fields.append(("journal", _value(entry.venue)))
    elif entry.kind is Kind.paper and entry.venue and venue_type in ("conference", "workshop"):
        kind = "inproceedings"
        fields.append(("booktitle", _value(entry.venue)))
    elif entry.kind is Kind.paper and entry.arxiv:
        kind = "article"
        fields.append(("journal", _value(f"arXiv preprint arXiv:{entry.arxiv}")))
    if entry.arxiv:
        fields += [("eprint", _value(entry.arxiv)), ("archiveprefix", "{arXiv}")]
    if entry.doi:
        fields.append(("doi", _value(entry.doi)))
    if entry.url:
        fields.append(("url", "{" + entry.url + "}"))
    body = ",\n".join(f"  {name} = {value}" for name, value in fields)
    return f"@{kind}{{{entry.id},\n{body}\n}}\n"
