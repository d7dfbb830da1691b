# The two commands: `make run` and `make test`. Everything else is a convenience.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
CONFIG ?= config.example.yaml
RUN_EXTRAS  := ml
TEST_EXTRAS := test,zendesk,salesforce,intercom,postgres,ml,rasa

.PHONY: run test browser lint bench demo clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "handoff-connector needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)

# stamps: reinstall only when pyproject.toml changes
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[$(RUN_EXTRAS)]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[$(TEST_EXTRAS)]'
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run  ## install and start the service (SQLite + local inbox); HANDOFF_PORT honoured
	$(BIN)/handoff serve --config $(CONFIG)

test: $(VENV)/.installed-test browser lint  ## install what the tests need and run them all
	$(BIN)/python -m pytest

# The browser tests drive Debian's chromium (never a downloaded browser). Installed when missing and
# we are root; otherwise they skip locally and fail under CI=true.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) || echo "note: installing chromium failed: browser tests will skip (fail under CI=true)"; \
	  else \
	    echo "note: /usr/bin/chromium is missing and we are not root: browser tests will skip (fail under CI=true)"; \
	  fi; \
	fi

lint: $(VENV)/.installed-test  ## ruff (lint and format), mypy, and the architecture's import contracts (pyproject.toml)
	$(BIN)/ruff check connector channels integrations sidebar_widget tests bench
	$(BIN)/ruff format --check connector channels integrations sidebar_widget tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.installed-test  ## benchmarks print figures (see bench/README.md)
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_signals.py
	$(BIN)/python bench/bench_decisions.py
	$(BIN)/python bench/bench_report.py

demo: $(VENV)/.installed-run  ## post a signed escalation to a running `make run`
	$(BIN)/handoff demo --config $(CONFIG)

clean:
	rm -rf $(VENV) .pytest_cache handoff.db handoff.db-wal handoff.db-shm
