"""Fetch the shipped LiteRT models and sample photographs into the model cache (see `reference_impls/_shipped.py`).

Usage: `python scripts/fetch_models.py` (the cache is `.cache/models/`, or the folder `KB_MODEL_CACHE` names).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not

from reference_impls import _shipped

if __name__ == "__main__":
    for path in _shipped.fetch():
        print(f"{_shipped.sha256(path)}  {path}")
