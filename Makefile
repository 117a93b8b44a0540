# Every target sets up what it needs by itself: a fresh clone needs only `make run` or `make test`.
# `make help` lists the targets.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Links (emails' manage links; canonical, Open Graph and JSON-LD URLs) point at the address
# `make run` serves, unless LEADFORM_PUBLIC_URL names another (a proxy, a tunnel).
LINK_HOST = $(if $(filter 0.0.0.0,$(HOST)),127.0.0.1,$(HOST))
BASE_URL = $(or $(LEADFORM_PUBLIC_URL),http://$(LINK_HOST):$(PORT))
OUTPUT ?= output

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help venv node html build run serve preview test lint format new-post migrate worker bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

venv: $(PY_STAMP) ## Create or update the local virtual environment (.venv)

node: $(NODE_STAMP) ## Install the offline checkers used by tests (Nu Html Checker, axe-core)

html: $(PY_STAMP) ## Build the site for local use into output/ (refreshes a running make run)
	$(BIN)/pelican content -s pelicanconf.py -o $(OUTPUT) -e 'FEED_DOMAIN="$(BASE_URL)"'
	$(BIN)/python -m pagefind --site $(OUTPUT) --silent

build: $(PY_STAMP) ## Production build into output/ for LEADFORM_PUBLIC_URL (docs/deploy.md)
	@$(BIN)/python publishconf.py
	$(BIN)/pelican content -s publishconf.py -o $(OUTPUT) --delete-output-directory
	$(BIN)/python -m pagefind --site $(OUTPUT) --silent
	$(BIN)/python -m sitebuild.precompress $(OUTPUT)

migrate: $(PY_STAMP) ## Apply database migrations (creates the SQLite file on first use)
	$(BIN)/flask --app leadform db upgrade

run: html migrate ## Build the site and serve it with the booking service on http://$(HOST):$(PORT)
	LEADFORM_PUBLIC_URL='$(BASE_URL)' \
		$(BIN)/flask --app leadform serve --host $(HOST) --port $(PORT) --site-dir $(OUTPUT)

worker: migrate ## Run the outbox worker alone (sends queued emails)
	$(BIN)/flask --app leadform outbox run

# The preview's own default port (sitebuild/preview.py) lets it run beside `make run`;
# PORT given on the command line or in the environment wins. PREVIEW_OUTPUT moves its
# output-preview/ folder (tests run it in a temporary one).
preview: $(PY_STAMP) ## Live-reloading preview for editors (own port, 8001), drafts and future posts included
	$(BIN)/python -m sitebuild.preview --host $(HOST) $(if $(filter file,$(origin PORT)),,--port $(PORT)) \
		$(if $(PREVIEW_OUTPUT),--output $(PREVIEW_OUTPUT))

new-post: $(PY_STAMP) ## Start a new article: make new-post TITLE="My title" [SLUG=my-title]
	$(BIN)/python -m sitebuild.newpost "$(TITLE)" --slug "$(SLUG)"

test: $(PY_STAMP) $(NODE_STAMP) ## Run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(PY_STAMP) ## Check code style (ruff) and the direction of imports (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(PY_STAMP) ## Fix code style where ruff can
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(PY_STAMP) ## Run the benchmarks; figures are printed (see docs/performance.md)
	$(BIN)/python -m bench.site_build

.PHONY: bench-service
bench-service: $(PY_STAMP) ## Load-test the booking service (gunicorn, wrk, 127.0.0.1; ~5 min)
	$(BIN)/python -m bench.service

clean: ## Remove build output and caches (keeps .venv and the database)
	rm -rf $(OUTPUT) cache .pytest_cache .ruff_cache
