"""Where things are: every path `kb` reads or writes by default, relative to the checkout it works on.

The checkout is the nearest folder, from the current directory upwards, that holds `catalog/taxonomy.yaml` and
`mkdocs.yml`; outside any checkout it is the folder this package was installed from. So `kb build` run in a second
clone builds that clone, not the one `kb` happens to be installed from.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_CHECKOUT = Path(__file__).resolve().parent.parent


def find_root(start: Path | None = None) -> Path:
    """The checkout that holds `start` (default: the current directory), or the package's own."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "catalog" / "taxonomy.yaml").is_file() and (folder / "mkdocs.yml").is_file():
            return folder
    return _PACKAGE_CHECKOUT


ROOT = find_root()
CATALOG = ROOT / "catalog"
DOCS = ROOT / "docs"
SITE = ROOT / "site"
MKDOCS_CONFIG = ROOT / "mkdocs.yml"
SECTIONS = CATALOG / "sections.yaml"
EXCLUDED = CATALOG / "excluded.yaml"
RESULTS = ROOT / "results"
REFERENCE_IMPLS = ROOT / "reference_impls"
IMPL_RESULTS = RESULTS / "impl"
BENCH_RESULTS = RESULTS / "bench"
LINK_CACHE = RESULTS / "linkcheck.json"
LINKCHECK_CONFIG = ROOT / "linkcheck.yaml"
LITERT_VENV = ROOT / ".venv-litert"
MODEL_CACHE = ROOT / ".cache" / "models"
# State of the user's own, kept between runs (the time of the last arXiv request).
USER_STATE = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "efficient-dnn-kb"
