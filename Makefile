# `make run` starts the whole system on embedded defaults; `make test` runs every test.
# Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	RECUR_SANDBOX=1 RECUR_ADMIN_TOKEN=$${RECUR_ADMIN_TOKEN:-$$($(BIN)/python -c 'from recur.settings import generate_admin_token as g; print(g())')} \
	  sh -c 'echo "admin token: $$RECUR_ADMIN_TOKEN"; exec $(BIN)/recur up'

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check recur tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .recur .pytest-data
