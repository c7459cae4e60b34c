# datadivr — developer commands. `make run` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
# uv from PATH, else the one `make uv` installs with pip into $(PYTHON).
UV ?= $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
SCHEMA ?= schema
OUT ?= src/datadivr/demo
HOST ?= 127.0.0.1
PORT ?= 8765
DOCS_PORT ?= 8000
PY_DIRS := src codegen tests bench examples docs/_hooks tools
# MkDocs' banner about its successor says nothing about this site.
export NO_MKDOCS_2_WARNING := 1

.PHONY: help uv install redis-server valgrind chromium browser-example node-tools generate generate-check lint format typecheck test test-fast run build clean bench bench-smoke bench-instructions bench-peers bench-cluster docs docs-serve check tox mutants

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

uv: ## Install uv with pip when it is missing
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv || $(PYTHON) -m pip install --quiet --user uv
	@$(UV) --version >/dev/null 2>&1 || { echo "uv could not be installed with $(PYTHON) -m pip"; exit 1; }

install: uv ## Create .venv with every dependency, exactly as locked
	@$(UV) sync --frozen

# The cluster tests and benchmark run a real redis-server: Debian's package, installed when
# missing (as root, or with sudo). DATADIVR_REDIS_SERVER may name another binary instead.
redis-server: ## Install redis-server (Debian's package) when it is missing
	@if [ -z "$$DATADIVR_REDIS_SERVER" ] && ! command -v redis-server >/dev/null 2>&1; then \
		echo "installing redis-server (apt-get) for the cluster tests"; \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null; \
	fi
	@[ -n "$$DATADIVR_REDIS_SERVER" ] || command -v redis-server >/dev/null 2>&1 || { \
		echo "redis-server is missing: install Debian's redis-server package, or set DATADIVR_REDIS_SERVER"; exit 1; }

# The instruction-count gate (bench/instructions.py) counts with valgrind's callgrind: Debian's
# package, installed when missing (as root, or with sudo).
valgrind: ## Install valgrind (Debian's package) when it is missing
	@if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_control >/dev/null 2>&1; then \
		echo "installing valgrind (apt-get) for the instruction-count gate"; \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends valgrind >/dev/null; \
	fi
	@command -v valgrind >/dev/null 2>&1 && command -v callgrind_control >/dev/null 2>&1 || { \
		echo "valgrind is missing: install Debian's valgrind package"; exit 1; }

# The browser tests run Debian's Chromium, driven by Playwright (Playwright's own browser builds
# are never downloaded): installed when missing (as root, or with sudo). DATADIVR_CHROMIUM may
# name another binary instead.
chromium: ## Install chromium (Debian's package) when it is missing
	@if [ -z "$$DATADIVR_CHROMIUM" ] && ! command -v chromium >/dev/null 2>&1; then \
		echo "installing chromium (apt-get) for the browser tests"; \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	fi
	@[ -n "$$DATADIVR_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || { \
		echo "chromium is missing: install Debian's chromium package, or set DATADIVR_CHROMIUM"; exit 1; }

# npm, for the browser example and the tools of other languages: Debian's nodejs and npm,
# installed when missing (as root, or with sudo).
NPM_CI := npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
define need-npm
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "installing npm (apt-get) for the JavaScript tools"; \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	fi
endef

# The browser example validates with Ajv's browser bundle, pinned in its package-lock.json and
# installed with npm into examples/browser/node_modules/ (not kept in git).
BROWSER_EXAMPLE := examples/browser
browser-example: $(BROWSER_EXAMPLE)/node_modules/.package-lock.json ## npm ci the browser example's Ajv bundle

$(BROWSER_EXAMPLE)/node_modules/.package-lock.json: $(BROWSER_EXAMPLE)/package-lock.json $(BROWSER_EXAMPLE)/package.json
	$(need-npm)
	@cd $(BROWSER_EXAMPLE) && $(NPM_CI)
	@touch $@

# The tests hold the exports to tools nobody here wrote: Ajv in strict mode, the official
# AsyncAPI parser and TypeScript's compiler, pinned in tests/node/package-lock.json.
NODE_TOOLS := tests/node
node-tools: $(NODE_TOOLS)/node_modules/.package-lock.json ## npm ci Ajv, the AsyncAPI parser and tsc for the tests

$(NODE_TOOLS)/node_modules/.package-lock.json: $(NODE_TOOLS)/package-lock.json $(NODE_TOOLS)/package.json
	$(need-npm)
	@cd $(NODE_TOOLS) && $(NPM_CI)
	@touch $@

generate: install ## Regenerate the protocol package from schema/ (skipped when up to date)
	@$(UV) run --frozen python -m datadivr_codegen --schema $(SCHEMA) --out $(OUT)

generate-check: install ## Fail when the generated code is stale
	@$(UV) run --frozen datadivr generate --schema $(SCHEMA) --out $(OUT) --check

lint: install ## ruff format --check, ruff check, mypy --strict (changes nothing)
	@$(UV) run --frozen ruff format --check $(PY_DIRS)
	@$(UV) run --frozen ruff check $(PY_DIRS)
	@$(UV) run --frozen mypy
	@$(UV) run --frozen mypy examples
	@$(UV) run --frozen mypy --strict tools

format: install ## Format and fix what ruff can
	@$(UV) run --frozen ruff format $(PY_DIRS)
	@$(UV) run --frozen ruff check --fix $(PY_DIRS)

check: install ## Every pre-commit hook on the whole tree (ruff, mypy, prettier, actionlint …)
	@$(UV) run --frozen pre-commit run --all-files --show-diff-on-failure

test: install redis-server chromium browser-example node-tools ## Run the whole test suite with coverage
	@$(UV) run --frozen pytest --cov --cov-report=term-missing:skip-covered $(PYTEST_ARGS)

# Each mutant breaks one promise of one subsystem in a copy of the tree; its tests must fail.
mutants: install redis-server chromium browser-example node-tools ## The mutation check: fail when the tests miss a broken promise (minutes)
	@$(UV) run --frozen python -m tools.mutants $(MUTANTS)

run: install ## Start the server on $(HOST):$(PORT) with the in-memory default
	@$(UV) run --frozen datadivr serve --host $(HOST) --port $(PORT)

BENCH_PY03 ?= 3.11
BENCH_VENV03 := bench/.venv-0.3

bench-peers: uv ## The benchmark's peers: the bench group, and datadivr 0.3 in bench/.venv-0.3
	@$(UV) sync --frozen --group bench
	@test -x $(BENCH_VENV03)/bin/python || $(UV) venv --quiet $(BENCH_VENV03) --python $(BENCH_PY03)
	@$(UV) pip sync --quiet --python $(BENCH_VENV03)/bin/python bench/datadivr03/requirements.txt

bench: bench-peers bench-cluster bench-instructions ## The full benchmark (minutes): bench/results/ and docs/benchmarks.md
	@$(UV) run --frozen --group bench python -m bench.micro --json bench/results/micro.json
	@$(UV) run --frozen --group bench python -m bench.profile --markdown bench/results/profile.md
	@$(UV) run --frozen --group bench python -m bench.run
	@$(UV) run --frozen --group bench python -m bench.flood --json bench/results/flood.json
	@$(UV) run --frozen --group bench python -m bench.refusals --json bench/results/refusals.json
	@$(UV) run --frozen --group bench python -m bench.startup --json bench/results/startup.json

# The figures `make bench-smoke` holds the server to: re-record after an intended change to its
# hot path or to a package on it, and commit bench/results/instructions.json.
INSTRUCTIONS := bench/results/instructions.json
bench-instructions: uv valgrind ## Record server instructions per message, RAW and DATADIVR (a minute)
	@$(UV) run --frozen --group bench python -m bench.instructions --record $(INSTRUCTIONS)

bench-cluster: install redis-server ## Cross-node over Redis next to one node: bench/results/cluster.{json,md}
	@$(UV) run --frozen python -m bench.cluster

bench-smoke: bench-peers redis-server valgrind ## The benchmark in seconds, every server and workload, and the instruction-count gate (run in CI)
	@$(UV) run --frozen --group bench python -m bench.micro --smoke
	@$(UV) run --frozen --group bench python -m bench.run --smoke
	@$(UV) run --frozen --group bench python -m bench.flood --smoke
	@$(UV) run --frozen --group bench python -m bench.refusals --smoke
	@$(UV) run --frozen --group bench python -m bench.startup --smoke >/dev/null
	@$(UV) run --frozen --group bench python -m bench.profile --servers DATADIVR --workloads reqrep-1 --scale 0.05 >/dev/null
	@$(UV) run --frozen python -m bench.cluster --smoke
	@$(UV) run --frozen --group bench python -m bench.instructions --check $(INSTRUCTIONS)

docs: uv ## Build the documentation site into site/ (mkdocs build --strict: a warning fails)
	@$(UV) run --frozen --group docs mypy docs/_hooks
	@$(UV) run --frozen --group docs mkdocs build --strict

docs-serve: uv ## Serve the documentation on 127.0.0.1:$(DOCS_PORT), rebuilt on every change
	@$(UV) run --frozen --group docs mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

TOX_ARGS ?=
tox: uv ## The test suite on Python 3.10 to 3.13 (tox with tox-uv; TOX_ARGS="-e py312")
	@$(UV) run --frozen --group tox tox $(TOX_ARGS)

build: install ## Build the sdist and wheel into dist/
	@$(UV) build

clean: ## Remove caches and build output
	rm -rf .mypy_cache .ruff_cache .pytest_cache .coverage htmlcov dist build site .tox
	rm -rf $(BROWSER_EXAMPLE)/node_modules $(NODE_TOOLS)/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
