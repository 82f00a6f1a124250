# `make run` starts the whole system on embedded defaults; `make test` runs every test.
# Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	RECUR_SANDBOX=1 RECUR_ADMIN_TOKEN=$${RECUR_ADMIN_TOKEN:-$$($(BIN)/python -c 'from recur.settings import generate_admin_token as g; print(g())')} \
	  sh -c 'echo "admin token: $$RECUR_ADMIN_TOKEN"; exec $(BIN)/recur up'

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# The dashboard page is tested in a real headless Chromium: Debian's, installed once when we are root.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium is not installed: the browser test will be skipped (apt-get install chromium)"; }

lint: $(STAMP)
	$(BIN)/ruff check recur tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .recur .pytest-data
