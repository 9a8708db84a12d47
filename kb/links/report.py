"""Link check results as text for people: the terminal summary, JSON, Markdown, and the site's link health.

Everything that comes from outside (URLs, server error texts) is escaped before it reaches Markdown or HTML: a URL
may hold `|`, `<`, `*` or `]`, and a page must never run what a stranger's server answered. Text is escaped into
HTML character references, which neither Markdown nor HTML reads as syntax, and only http(s) URLs become links.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Callable, Iterable

from kb.catalog.schema import Entry
from kb.links.results import LinkResult, Status
from kb.site.markdown import escape, table

PROBLEMS = (
    Status.broken,
    Status.redirected,
    Status.blocked,
    Status.rate_limited,
    Status.timeout,
    Status.unsafe,
    Status.error,
)
LABELS = {
    Status.ok: "ok",
    Status.redirected: "moved",
    Status.broken: "broken",
    Status.blocked: "blocked",
    Status.rate_limited: "rate limited",
    Status.timeout: "timed out",
    Status.unsafe: "refused",
    Status.error: "error",
}


def link(url: str, text: str | None = None) -> str:
    """An HTML link to `url` when it is http(s), else the escaped text alone."""
    label = escape(text if text is not None else url)
    if not url.lower().startswith(("http://", "https://")):
        return label
    href = html.escape(url, quote=True).replace("|", "%7C")
    return f'<a href="{href}">{label}</a>'


def day(result: LinkResult) -> str:
    """The date part of the check time."""
    return escape(result.checked_at[:10]) if result.checked_at else "never"


def note(result: LinkResult) -> str:
    """What to know beyond the status: the new address, the code or the reason."""
    if result.moved_to:
        return f"moved to {result.moved_to}"
    return result.error or (f"HTTP {result.http_status}" if result.http_status else "")


def summary_text(results: list[LinkResult], entries_of: dict[str, list[str]], cached: int = 0) -> str:
    """The terminal report: every URL that is not ok, then the counts."""
    lines = []
    for result in sorted(results, key=lambda r: (PROBLEMS.index(r.status) if r.status in PROBLEMS else 99, r.url)):
        if result.status is Status.ok:
            continue
        where = ", ".join(entries_of.get(result.url, []))
        lines.append(f"{result.status.value:12} {result.url}" + (f"  [{where}]" if where else ""))
        lines.append(f"{'':12} {note(result)}")
    counts = Counter(r.status for r in results)
    tally = ", ".join(f"{counts[s]} {s.value}" for s in Status if counts[s])
    lines.append(f"{len(results)} URLs: {tally or 'none'}" + (f" ({cached} from the cache)" if cached else ""))
    return "\n".join(lines)


def results_json(results: list[LinkResult]) -> str:
    """One JSON object per URL (url, status, http_status, final_url, checked_at, attempts, error, moved_to)."""
    return json.dumps([r.to_json() for r in results], indent=1, ensure_ascii=False)


def results_markdown(results: list[LinkResult], entries_of: dict[str, list[str]]) -> str:
    """A Markdown report of the URLs that are not ok (for a pull request's job summary or an issue)."""
    counts = Counter(r.status for r in results)
    lines = ["## Link check", "", " · ".join(f"{counts[s]} {LABELS[s]}" for s in Status if counts[s]) or "no URLs"]
    bad = [r for r in results if r.status is not Status.ok]
    if bad:
        rows = [
            [
                LABELS[r.status],
                link(r.url),
                ", ".join(escape(e) for e in entries_of.get(r.url, [])),
                escape(note(r)),
                day(r),
            ]
            for r in sorted(bad, key=lambda r: (PROBLEMS.index(r.status), r.url))
        ]
        lines += ["", table(["Status", "URL", "Entries", "Note", "Checked"], rows).rstrip("\n")]
    return "\n".join(lines) + "\n"


def link_badge(result: LinkResult | None) -> str:
    """A short HTML snippet for an entry page: the link's last status and check date, or that it was never checked."""
    if result is None:
        return ""  # no badge until a check has a result: an unchecked link claims nothing
    title = escape(note(result)) or LABELS[result.status]
    return (
        f'<span class="kb-link kb-link-{result.status.value}" title="{title}">'
        f"{LABELS[result.status]} · {day(result)}</span>"
    )


def render_link_health(
    results: dict[str, LinkResult], entries: Iterable[Entry], entry_href: Callable[[str], str] | None = None
) -> str:
    """The Markdown of the "Link health" page: per entry, what is broken, moved or failing, with check dates.

    Args:
        results: The cached results by URL (`kb.links.results.load_link_results`).
        entries: The catalog's entries; only their URLs count.
        entry_href: Maps an entry id to the relative address of its page; without it ids are shown unlinked.
    """
    urls_of = {entry.id: (entry.title, entry.urls()) for entry in entries}
    every = {url for _, urls in urls_of.values() for url in urls}
    checked = [results[url] for url in every if url in results]
    counts = Counter(r.status for r in checked)
    intro = (
        "`kb linkcheck` checks every address of the catalog: weekly on the default branch, and on each pull request "
        "for the entries it changes. This page lists the addresses that are not plainly working, per entry."
    )
    if not checked:
        # Say plainly that nothing was checked; never "nothing is broken", which would claim a check.
        waiting = f"{len(every)} addresses in {len(urls_of)} entries wait for the first run of `kb linkcheck`."
        return f"# Link health\n\n{intro}\n\nNo address has been checked yet: {waiting}\n"
    last = max(r.checked_at for r in checked)
    lines = [
        "# Link health",
        "",
        intro,
        "",
        f"{len(checked)} of {len(every)} addresses in {len(urls_of)} entries checked, the latest on {last[:10]}: "
        + ", ".join(f"{counts[s]} {LABELS[s]}" for s in Status if counts[s])
        + ".",
        "",
        f"Not checked yet: {len(every) - len(checked)} of the {len(every)} addresses.",
    ]
    rows = []
    for entry_id in sorted(urls_of):
        title, urls = urls_of[entry_id]
        name = f"[{escape(title)}]({entry_href(entry_id)})" if entry_href else f"{escape(title)} (`{entry_id}`)"
        for url in urls:
            result = results.get(url)
            if result is not None and result.status is not Status.ok:
                rows.append((PROBLEMS.index(result.status), entry_id, name, result))
    for status in PROBLEMS:
        chosen = [row for row in rows if row[3].status is status]
        if not chosen:
            continue
        cells = [
            [name, link(result.url), escape(note(result)), day(result)]
            for _, _, name, result in sorted(chosen, key=lambda row: (row[1], row[3].url))
        ]
        lines += ["", f"## {LABELS[status].capitalize()} ({len(chosen)})", ""]
        lines.append(table(["Entry", "Address", "Note", "Checked"], cells).rstrip("\n"))
    if not rows:
        lines += ["", "Nothing is broken or moved."]
    return "\n".join(lines) + "\n"
