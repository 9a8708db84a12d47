#!/usr/bin/env bash
# Build .venv-litert: litert-torch 0.10.0 (the PyTorch -> LiteRT .tflite converter) in its own environment,
# because it pins an older pydantic than the main .venv. The new environment sees the main .venv's packages
# through a .pth file (torch, the CPU build, is not downloaded again); its own site-packages come first on
# sys.path, so the converter's pins win inside it and the main .venv is left untouched.
# The file .venv-litert/complete is written last: reference_impls/export.py uses the environment only then.
# Usage: scripts/make_litert_venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
main_site="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
base_python="$(.venv/bin/python -c 'import sys; print(sys.base_prefix)')/bin/python3"
rm -rf .venv-litert
"$base_python" -m venv .venv-litert
litert_site="$(.venv-litert/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$main_site" > "$litert_site/main-venv.pth"
.venv-litert/bin/python -m pip install --quiet --disable-pip-version-check litert-torch==0.10.0 -c constraints-litert.txt
.venv-litert/bin/python -c 'import litert_torch' && touch .venv-litert/complete
echo ".venv-litert ready"
