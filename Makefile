# RigRank. User-facing targets: run, setup, test, bench, lint, admin (and validate).
# Everything runs inside .venv, created on first use from requirements*.txt.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# A local secret key, made once, so that `make run` works with DEBUG off. Recursively
# expanded: read when a recipe runs, after the .secret_key target has made the file.
SECRET_KEY ?= $(shell cat .secret_key 2>/dev/null)
export SECRET_KEY

.PHONY: run setup test bench lint admin validate calibrate backup restore

run: setup
	HOST=$(HOST) PORT=$(PORT) ./scripts/serve.sh

setup: $(VENV)/.installed .secret_key
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_seed
	$(PY) manage.py load_seed_prices
	$(PY) manage.py collectstatic --no-input --verbosity 0

test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) bench/run.py

validate: $(VENV)/.installed
	$(PY) -m configurator.engine.validate

# Refit the estimator with the admin-approved user measurements; report what moved.
calibrate: setup
	$(PY) manage.py calibrate

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

admin: setup
	$(PY) manage.py ensure_admin

# The whole database (SQLite or PostgreSQL, whichever DATABASE_URL names) to one file
# in backups/, and back: `make restore FILE=backups/rigrank-20260101-120000.sqlite3`.
backup: $(VENV)/.installed .secret_key
	$(PY) manage.py backup

restore: $(VENV)/.installed .secret_key
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/rigrank-....sqlite3 (or .pgdump)" >&2; exit 2; }
	$(PY) manage.py restore "$(FILE)"

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required" or 0)'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

.secret_key: | $(VENV)/bin/python
	@$(PY) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@
	@chmod 600 $@
