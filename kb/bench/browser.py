"""A built site served on 127.0.0.1 and Debian's Chromium driven by Playwright, every other host blocked.

The search benchmark and the browser tests share these: no browser is downloaded (Playwright drives
`/usr/bin/chromium` through `executable_path`), and a page can reach only the local server, so what it loads is
what the site itself serves.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """A static file handler that logs nothing to the terminal and notes each file it sends on its server."""

    def log_message(self, format: str, *args: object) -> None:
        """Say nothing: a test run or a benchmark prints its own report."""

    def copyfile(self, source: Any, outputfile: Any) -> None:
        """Send the file (or a folder listing) and note (path, bytes sent) in the server's `served` list, if any."""
        start = source.tell()
        super().copyfile(source, outputfile)
        served = getattr(self.server, "served", None)
        if served is not None:
            served.append((self.path, source.tell() - start))


@contextmanager
def serve(site_dir: Path, served: list[tuple[str, int]] | None = None) -> Iterator[str]:
    """Serve `site_dir` on a free port of 127.0.0.1; yields the base URL (ending in `/`).

    Each file sent is appended to `served` as (request path, bytes): the server sees what a page's workers fetch
    too, which the browser's page events do not report.
    """
    handler = functools.partial(QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.served = served  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def chromium_path() -> str:
    """Debian's Chromium; raises FileNotFoundError with the install command when it is missing."""
    found = shutil.which("chromium")
    if found is None:
        raise FileNotFoundError("Debian's chromium is not installed: `apt-get install chromium`")
    return found


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's `Browser`), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def local_only(page: Any, base_url: str) -> None:
    """Let `page` reach `base_url` only: everything else (a CDN, a font host) is aborted."""
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base_url) else route.abort())
