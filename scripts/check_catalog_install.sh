#!/usr/bin/env bash
# The contributor's install, checked: a fresh venv with only `pip install -e .[catalog]` (pinned) validates the
# catalog without importing any ML library, imports an awesome-list (dry run) and adds a paper with `kb add` from
# a local server that answers like the arXiv API. Prints the install's size and time (CONTRIBUTING.md quotes them).
# Usage: scripts/check_catalog_install.sh   (run by .ci/run after `make test`)
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

start=$(date +%s.%N)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -c constraints.txt -e '.[catalog]' 2>&1 | grep -v '^WARNING: Location' || true
seconds=$(python3 -c "import time; print(round(time.time() - $start))")
echo "kb[catalog] installed in ${seconds} s, $(du -sm "$work/venv" | cut -f1) MB"
kb="$work/venv/bin/kb"

# No ML library on the catalog's path (python -X importtime lists every module imported).
if "$work/venv/bin/python" -X importtime -m kb validate 2>&1 >/dev/null | grep -E '\| +(torch|executorch|coremltools|onnx)(\.|$)'; then
  echo "kb validate imported an ML library" >&2; exit 1
fi
"$kb" validate
"$kb" import awesome tests/fixtures/lists/EMDL__awesome-emdl/README.md --source EMDL/awesome-emdl >/dev/null

# kb add against a local server answering like the arXiv API, into a copy of the catalog.
mkdir -p "$work/api/api" "$work/catalog"
cp tests/fixtures/arxiv/1503.02531.xml "$work/api/api/query"
cp catalog/taxonomy.yaml catalog/venues.yaml "$work/catalog/"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/api" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break; sleep 0.1; done
"$kb" add arxiv:1503.02531 --category knowledge-distillation --catalog "$work/catalog" \
  --api-url "http://127.0.0.1:$port/api/query" --allow-network 127.0.0.0/8
test -f "$work/catalog/paper/hinton2015distilling.yaml"
echo "kb[catalog]: validate, import and add work without torch"
