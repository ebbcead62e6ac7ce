# Two set-up commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_STAMP := $(VENV)/.installed-lint

.PHONY: run test test-all lint bench bench-large screenshots walk clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,screenshots]'
	touch $(STAMP)

$(LINT_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,screenshots,lint]'
	touch $(LINT_STAMP)

run: $(STAMP)
	$(BIN)/tui

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m ''

# Every check runs, so one pass shows every finding; the target fails if any of them did.
lint: $(LINT_STAMP)
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy || status=1; \
	$(BIN)/lint-imports || status=1; \
	exit $$status

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# The import benchmark at 1,000,000 users (minutes, and a few GB of memory and disk): not part of `make bench`.
bench-large: $(STAMP)
	$(BIN)/python bench/bench_import.py 1000000

screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

# A first-time administrator's walk through the console in tmux: keys per task and whether each got done.
walk: $(STAMP)
	$(BIN)/python scripts/newcomer_walk.py

clean:
	rm -rf $(VENV) build *.egg-info
