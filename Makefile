# trustconsole: `make run` starts the console with demo data; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint lock bench-visitors bench-voicegate bench-outbound bench-faults clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the lock file changes, so re-running is fast.
$(VENV)/.installed-run: requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	touch $@ $(VENV)/.installed-run

## Start web + Celery worker + beat on embedded defaults with demo data.
run: $(VENV)/.installed-run
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo --quiet-login
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py runconsole --host $(HOST) --port $(PORT)

## Run the whole test suite (SQLite and the embedded broker unless
## DATABASE_URL / REDIS_URL say otherwise).
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run

## Re-resolve the pinned dependencies after editing pyproject.toml.
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.lock pyproject.toml

## Call gate vs a naive gate and a bare view (PostgreSQL, Redis and wrk needed).
bench-voicegate: $(VENV)/.installed-dev
	$(BIN)/python bench/voicegate.py --visitors 1000000 --duration 12
## Security → Visitors at 1,000,000 visitors vs an unindexed baseline (PostgreSQL).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tc_visitors_bench
bench-visitors: $(VENV)/.installed-dev
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/visitors_search.py
## Global search (Ctrl-K) at 1,000,000 visitors (PostgreSQL).
SEARCH_BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tc_search_bench
.PHONY: bench-search
bench-search: $(VENV)/.installed-dev
	DATABASE_URL=$(SEARCH_BENCH_DATABASE_URL) $(BIN)/python bench/global_search.py
## Remediation benchmark: 2,000-number submission and a poller tick over 10,000
## requests, each against a naive baseline (DATABASE_URL picks the database).
.PHONY: bench-remediation
bench-remediation: $(VENV)/.installed-run
	$(BIN)/python bench/remediation.py
## Outbound policy check with 10,000,000 Do-Not-Call numbers vs a naive database check.
bench-outbound: $(VENV)/.installed-dev
	$(BIN)/python bench/outbound_check.py
## The US National Do-Not-Call Registry: import rate, lookups, memory of 3 gunicorn
## workers + a Celery worker (NUMBERS=250000000 for the registry's size: minutes).
.PHONY: bench-dnc-registry
bench-dnc-registry: $(VENV)/.installed-dev
	$(BIN)/python bench/dnc_registry.py --numbers $${NUMBERS:-1000000}

## Fault matrix of the call gate: Redis down, PostgreSQL down, worker killed, broker
## restarted (PostgreSQL and redis-server needed).
bench-faults: $(VENV)/.installed-dev
	$(BIN)/python bench/faults.py
## Decision core: per-channel decision latency, deltas vs rebuilds, the chat gate.
.PHONY: bench-decision-core
bench-decision-core: $(VENV)/.installed-dev
	$(BIN)/python bench/decision_core.py --visitors 1000000

clean:
	rm -rf var/test var/broker var/broker-control var/cache
