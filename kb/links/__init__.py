"""The link checker: `kb linkcheck` and `kb bench linkcheck`, one module per concern.

- `checker` — `LinkChecker`: HEAD then GET, retries and backoff, redirects followed by hand, one `Status` per URL.
- `host` — one host as the checker sees it: its limit, its pace (pauses after 429/503, `min_interval`), its pool.
- `pool` — a host's connections: pinned to checked addresses, checked out one request at a time.
- `safety` — which addresses may be reached (no loopback, private, metadata...) and connections pinned to them.
- `config` — per-host settings from `linkcheck.yaml`; `results` — the JSON cache of results and their ages.
- `report` — the human, JSON and Markdown outputs and the site's link badges and "Link health" page.
- `fix` — `--fix`: permanent redirects written back into the catalog's YAML, nothing else touched.
- `cli` — the `kb linkcheck` command; `bench` and `benchserver` — the throughput benchmark against linkinator.
"""
