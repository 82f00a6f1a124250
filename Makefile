# `make run` starts the whole system on embedded defaults; `make test` runs every test.
# Both create .venv on first use, from requirements-dev.lock (exact versions with hashes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCKED := $(VENV)/.locked
STAMP := $(VENV)/.installed
# Extra flags for `make lock`, e.g. LOCK_FLAGS=--upgrade or LOCK_FLAGS='--upgrade-package gunicorn'.
LOCK_FLAGS ?=
# The lock files are resolved for the image's interpreter and platform (python:3.11-slim, x86_64 Linux),
# whatever machine runs `make lock`; every file of each pinned release has its hash listed.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
  --python-platform x86_64-manylinux_2_28 --custom-compile-command 'make lock' $(LOCK_FLAGS)

FLOORS := .venv-floors

.PHONY: run test lint lock floors bench clean browser

# The virtualenv is made anew whenever the lock changes, so it holds exactly what the lock lists (a package
# dropped from the lock does not linger). pip checks every file against its hash and builds nothing:
# every locked release must have a wheel.
$(LOCKED): requirements-dev.lock
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --only-binary :all: -r requirements-dev.lock
	touch $@

# recur itself, editable, built with the locked setuptools rather than one fetched for an isolated build.
$(STAMP): $(LOCKED) pyproject.toml
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

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

# After editing the dependencies in pyproject.toml. Keeps every pin that still fits (LOCK_FLAGS=--upgrade
# moves everything to the newest allowed). requirements-dev.lock (runtime + embedded + dev, for make and CI)
# is resolved first; requirements.lock (runtime only, for the Dockerfile) takes the same versions from it.
lock: $(STAMP)
	$(UV_COMPILE) --extra embedded --extra dev --group build -o requirements-dev.lock
	$(UV_COMPILE) --group build --constraints requirements-dev.lock -o requirements.lock

# The suite on the oldest release of each direct dependency that pyproject.toml allows (wheels only, as
# installs are), in a venv of its own: a floor that is too low fails here. Not part of `make test`.
floors: $(STAMP) browser
	rm -rf $(FLOORS)
	$(PYTHON) -m venv $(FLOORS)
	$(UV_COMPILE) --resolution lowest-direct --only-binary :all: --extra embedded --extra dev --group build \
	  -o $(FLOORS)/requirements.txt
	$(FLOORS)/bin/pip install --quiet --require-hashes --only-binary :all: -r $(FLOORS)/requirements.txt
	$(FLOORS)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	$(FLOORS)/bin/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) $(FLOORS) .recur .pytest-data
