# Efficient DNN KB. `make help` lists the targets; `make site` and `make test` are all a new user needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LITERT := .venv-litert/complete
VENDOR := docs/assets/vendor/mathjax/tex-mml-chtml.js

.DEFAULT_GOAL := help
.PHONY: help venv vendor models site serve test test-fast lint validate bench linkcheck litert-venv lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[all]'
	touch $@

venv: $(STAMP) ## create .venv with the pinned dependencies

models: $(STAMP) ## fetch MediaPipe's shipped .tflite models from PyPI (hash-pinned) into .cache/models/
	$(BIN)/python scripts/fetch_models.py

$(LITERT): $(STAMP) scripts/make_litert_venv.sh constraints-litert.txt
	scripts/make_litert_venv.sh

validate: $(STAMP) ## check every catalog file (writes nothing)
	$(BIN)/kb validate

# The site serves its own MathJax (no CDN: formulas render offline), from the npm registry, pinned by
# scripts/vendor/package-lock.json (integrity hash); the copy under docs/assets/vendor/ is generated, not committed.
$(VENDOR): scripts/vendor/package.json scripts/vendor/package-lock.json
	npm ci --silent --no-audit --no-fund --prefix scripts/vendor
	rm -rf docs/assets/vendor/mathjax && mkdir -p docs/assets/vendor/mathjax/output/chtml/fonts
	cp scripts/vendor/node_modules/mathjax/es5/tex-mml-chtml.js docs/assets/vendor/mathjax/
	cp -r scripts/vendor/node_modules/mathjax/es5/output/chtml/fonts/woff-v2 docs/assets/vendor/mathjax/output/chtml/fonts/

vendor: $(VENDOR) ## copy the pinned MathJax from the npm registry into docs/assets/vendor/

site: $(STAMP) $(VENDOR) ## validate the catalog and build the site into site/
	$(BIN)/kb validate
	$(BIN)/kb build

serve: $(STAMP) $(VENDOR) ## generate the pages and serve the site with live reload on http://127.0.0.1:8000
	$(BIN)/kb generate
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --watch catalog --watch kb

test: $(STAMP) $(LITERT) $(VENDOR) models ## run the whole test suite (slow, export and browser tests included)
	$(BIN)/kb validate
	$(BIN)/pytest

test-fast: $(STAMP) ## run the tests that take no more than a few seconds
	$(BIN)/pytest -m "not slow and not browser"

lint: $(STAMP) ## ruff over the whole project
	$(BIN)/ruff check .
	$(BIN)/ruff format --check kb reference_impls tests

bench: $(STAMP) ## measure everything that results/ holds (slow; run on a quiet machine)
	$(BIN)/kb bench impls
	$(BIN)/kb bench linkcheck
	$(BIN)/kb bench site
	$(BIN)/kb bench search
	$(BIN)/kb bench importer

linkcheck: $(STAMP) ## check every link of the catalog (network; updates results/linkcheck.json)
	$(BIN)/kb linkcheck

litert-venv: $(LITERT) ## build .venv-litert: litert-torch 0.10.0 for .tflite export (it pins an older pydantic)

lock: ## re-pin every transitive dependency into constraints.txt from the current .venv
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt

clean: ## remove the site, generated pages and build outputs (keeps .venv)
	rm -rf site build docs/index.md docs/tags.md docs/link-health.md docs/categories docs/entries docs/impls docs/downloads
