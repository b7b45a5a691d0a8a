# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_DIR ?= demo-workspace

.PHONY: install test lint typecheck unit demo docs clean

# The spark extra is installed for the tests: the Spark parity and failure tests run in CI
# (tests/test_spark_parity.py; Java 17 comes from .ci/run).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# PostgreSQL tests run when KRAFT_TEST_POSTGRES_URL is set (.ci/run sets it to a fresh database);
# without it they are skipped with the reason shown.
unit: $(STAMP)
	$(BIN)/pytest

## The test command: lint, types, tests. .ci/run runs exactly this.
test: lint typecheck unit

## The demo: a workspace with a synthetic book, its scores and its reports.
demo: $(STAMP)
	$(BIN)/kraft demo $(DEMO_DIR)
	$(BIN)/kraft --workspace $(DEMO_DIR) status
	$(BIN)/kraft --workspace $(DEMO_DIR) framework render --format md --detailed -o $(DEMO_DIR)/reports/framework.md
	@echo "Open the pages in $(DEMO_DIR)/reports/ in a browser (the framework also as Markdown: $(DEMO_DIR)/reports/framework.md)."
	@echo "kraft is in $(BIN)/, not on your PATH: try $(BIN)/kraft -w $(DEMO_DIR) serve (then http://127.0.0.1:8000) or $(BIN)/kraft -w $(DEMO_DIR) scores; or . $(BIN)/activate first, then just kraft."

## Regenerate the docs that are generated from code.
docs: $(STAMP)
	$(BIN)/python -m kraft.framework.format_doc > docs/framework-format.md
	$(BIN)/python -m kraft.schema.contract_doc > docs/data-contract.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
