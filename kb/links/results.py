"""Link check results and the cache that keeps them between runs (`results/linkcheck.json`, read by the site).

The cache holds the last result of every URL with its check time. A run re-checks a URL when its result is older
than the maximum age (7 days unless `--max-age` says otherwise) or when it ended in a state that may pass by
itself (`timeout`, `rate_limited`, `error`): those are worth another try on the next run.

The file is `{"version": 1, "results": [...]}`, one object per URL sorted by URL, with the fields of
`LinkResult`: `url`; `status` (one of `Status`); `http_status` (the last answer's code, or null); `final_url`
(where the redirects ended, null without redirects); `checked_at` (UTC, ISO 8601); `attempts` (requests sent:
retries, GET fallbacks and redirect hops included); `error` (the reason, for anything not ok); `moved_to` (the
new address of a permanent redirect); `policy` (the address policy the check ran under: `public`, or what
`--allow-private` / `--allow-network` let through). `kb linkcheck --format json` prints the same objects.

A cached result stands in for a check only under the policy it was made under: an `ok` for a loopback URL from a
run with `--allow-private` is not an answer for a run without it. Two runs may share a cache: each saves under a
lock and merges what the other wrote, keeping the newer result of every URL.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from kb import paths
from kb.catalog.yamlio import write_atomic

DEFAULT_CACHE = paths.LINK_CACHE
CACHE_VERSION = 1
PUBLIC = "public"  # the address policy of every run without --allow-private or --allow-network


class Status(StrEnum):
    """How a check ended."""

    ok = "ok"
    redirected = "redirected"  # moved for good: `moved_to` holds the new address
    broken = "broken"  # 404, 410, a name that does not resolve, a redirect loop
    blocked = "blocked"  # 401, 403, 999: the site turns robots away
    rate_limited = "rate_limited"  # still 429 after the retries
    timeout = "timeout"
    unsafe = "unsafe"  # refused before connecting: scheme, credentials or address
    error = "error"  # anything else, with the reason


TRANSIENT = frozenset({Status.rate_limited, Status.timeout, Status.error})


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> dt.datetime | None:
    """A `checked_at` string as an aware datetime, or None when it is missing or unreadable."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@dataclass
class LinkResult:
    """The outcome of checking one URL; `attempts` counts every request sent for it (retries and hops included)."""

    url: str
    status: Status
    http_status: int | None = None
    final_url: str | None = None
    checked_at: str = ""
    attempts: int = 0
    error: str | None = None
    moved_to: str | None = None
    policy: str = PUBLIC

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with the status as its string."""
        return {**asdict(self), "status": self.status.value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinkResult:
        """The inverse of `to_json`; unknown keys are ignored so that old caches still load."""
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        return cls(**{**known, "status": Status(data["status"])})

    def is_fresh(self, max_age: dt.timedelta, policy: str = PUBLIC, now: dt.datetime | None = None) -> bool:
        """True when this result may stand in for a new check made under the address policy `policy`."""
        when = parse_time(self.checked_at)
        if when is None or self.status in TRANSIENT or self.policy != policy:
            return False
        return (now or dt.datetime.now(dt.UTC)) - when <= max_age


def load_link_results(path: Path = DEFAULT_CACHE) -> dict[str, LinkResult]:
    """The cached results by URL; an absent file is an empty cache, entries that do not parse are skipped."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    results = {}
    for item in data.get("results", []) if isinstance(data, dict) else []:
        try:
            result = LinkResult.from_json(item)
        except (KeyError, TypeError, ValueError):
            continue
        results[result.url] = result
    return results


def save_link_results(
    path: Path,
    results: dict[str, LinkResult],
    *,
    keep_others: bool = True,
    loaded: dict[str, LinkResult] | None = None,
) -> None:
    """Merge `results` into the cache at `path` under a lock and write it atomically, sorted by URL.

    `loaded` is the cache as this run read it: a URL whose cached result another run changed since then keeps the
    newer of the two; every other URL takes this run's result (all of them when `loaded` is None).
    `keep_others=False` (a full catalog run) drops the URLs this run did not check, so that addresses no entry has
    any more leave the cache.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process is killed
        current = load_link_results(path)
        merged = dict(current) if keep_others else {u: r for u, r in current.items() if u in results}
        for url, result in results.items():
            theirs = current.get(url)
            changed_meanwhile = loaded is not None and theirs is not None and theirs != loaded.get(url)
            if not changed_meanwhile or _when(theirs) <= _when(result):
                merged[url] = result
        items = [merged[url].to_json() for url in sorted(merged)]
        text = json.dumps({"version": CACHE_VERSION, "results": items}, indent=1, ensure_ascii=False)
        write_atomic(path, text + "\n")


def _when(result: LinkResult) -> dt.datetime:
    return parse_time(result.checked_at) or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
