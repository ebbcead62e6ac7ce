# Two set-up commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_STAMP := $(VENV)/.installed-lint

.PHONY: run test test-all lint bench bench-large screenshots walk clean sshd

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

test: $(STAMP) sshd
	$(BIN)/python -m pytest -n 2 -q

test-all: $(STAMP) sshd
	$(BIN)/python -m pytest -n 2 -q -m ''

# tests/test_ssh_openssh.py runs tui behind the site's own OpenSSH server. On a Debian machine where we are
# root (CI), install it when it is missing; elsewhere say why those tests will not run, and go on.
sshd:
	@if [ -x /usr/sbin/sshd ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing openssh-server for tests/test_ssh_openssh.py"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >/dev/null 2>&1) \
		|| echo "could not install openssh-server: tests/test_ssh_openssh.py will be skipped"; \
	else echo "no /usr/sbin/sshd (install openssh-server): tests/test_ssh_openssh.py will be skipped"; fi

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
