# stock-lakehouse: every install step lives here, so a fresh clone needs only these targets.
#   make demo   set everything up and run the platform
#   make test   set everything up and run lint + the test suite against real services
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The interpreter of an existing .venv; else the newest of Python 3.13, 3.12 and 3.11 that runs
# here (a pyenv shim of a version that is not selected is on PATH but does not run, so each is
# tried). `make PYTHON=/path/to/python3.x` overrides. Decided once (:=), not at every use.
ifndef PYTHON
PYTHON := $(or $(shell test -x .venv/bin/python && .venv/bin/python -c 'import sys; print(sys._base_executable)' 2>/dev/null),$(firstword $(foreach v,3.13 3.12 3.11,$(shell python$(v) -c 'import sys' >/dev/null 2>&1 && echo python$(v)))),python3.11)
endif
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# Caches stay inside the checkout: a second `make setup` is fast and nothing lands in $HOME's pip cache.
export UV_CACHE_DIR := $(CURDIR)/.cache/uv
export UV_LINK_MODE := copy
# Dagster reads dagster.yaml from DAGSTER_HOME; its SQLite storage goes to the state folder.
export DAGSTER_HOME ?= $(CURDIR)
export DAGSTER_STORAGE_DIR ?= $(CURDIR)/.state/dagster
# Airflow has a virtual environment of its own (see airflow/README.md); its SQLite metadata DB,
# airflow.cfg and logs live in the state folder, and it reads the DAGs in airflow/dags.
AIRFLOW_VENV := .venv-airflow
export AIRFLOW_HOME ?= $(CURDIR)/.state/airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/airflow/dags
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False

.PHONY: help setup browser airflow-setup airflow-lock manifest jars env services-up services-down status demo down test test-unit lint format lock bench clean clean-state check-tools

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

check-tools:
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null || { echo "error: $(PYTHON) is not a Python 3.11, 3.12 or 3.13 that runs - install one or run 'make PYTHON=/path/to/python3.x ...'"; exit 1; }
	@test ! -x $(BIN)/python || $(BIN)/python -c 'import sys; v = sys.argv[1].split(); sys.exit(sys.version_info[:2] != (int(v[0]), int(v[1])))' "$$($(PYTHON) -c 'import sys; print(*sys.version_info[:2])')" || { echo "error: $(VENV) was made with another Python than $(PYTHON) - delete $(VENV) and $(AIRFLOW_VENV) (your data in .state stays) and run make again"; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found - install a JDK 17+ (e.g. 'apt-get install openjdk-17-jdk')"; exit 1; }
	@command -v mvn >/dev/null || { echo "error: mvn not found - install Maven 3.8+ (e.g. 'apt-get install maven')"; exit 1; }

setup: check-tools $(VENV)/.installed env manifest ## create .venv with the pinned Python dependencies

# dbt's manifest, which the Dagster definitions read: prepared here, never at import time.
DBT_MANIFEST := dbt_project/target/manifest.json
manifest: $(DBT_MANIFEST)
$(DBT_MANIFEST): $(VENV)/.installed $(shell find dbt_project -name '*.sql' -o -name '*.yml' | grep -v '/target/')
	$(BIN)/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --quiet -c constraints.txt -e '.[dev]'
	@touch $@

# Airflow never goes into .venv (it pins SQLAlchemy, FastAPI and pydantic ranges of its own).
airflow-setup: $(AIRFLOW_VENV)/.installed $(AIRFLOW_HOME)/.migrated ## create .venv-airflow (Airflow 3 + dagster-airlift) and its metadata DB

# Order-only on .venv: its uv does the install, but a change there needs no Airflow reinstall.
# Bytecode compiled at install (+10 s once): with PYTHONDONTWRITEBYTECODE set, every `airflow`
# command otherwise recompiles its imports, 9 s instead of 4 s per start on 2 cores.
$(AIRFLOW_VENV)/.installed: airflow/requirements.txt airflow/constraints.txt | $(VENV)/.installed
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(AIRFLOW_VENV)
	$(BIN)/uv pip install --python $(AIRFLOW_VENV)/bin/python --quiet --compile-bytecode -c airflow/constraints.txt -r airflow/requirements.txt
	@touch $@

# `db migrate` is idempotent; the stamp saves its ~7 s when nothing changed.
$(AIRFLOW_HOME)/.migrated: $(AIRFLOW_VENV)/.installed
	@mkdir -p $(AIRFLOW_HOME)
	$(AIRFLOW_VENV)/bin/airflow db migrate >$(AIRFLOW_HOME)/db-migrate.log 2>&1 || { tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1; }
	@touch $@

# The dashboard's browser test drives Debian's chromium (Playwright never downloads a browser here).
browser: ## install Debian's chromium for the dashboard's browser test (needs root or sudo)
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium (apt-get, about a minute)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; } >/dev/null 2>&1 \
	  || { echo "error: could not install chromium - run 'sudo apt-get install chromium', then retry"; exit 1; }; }

env: .env
.env:
	@cp .env.example .env && echo "created .env from .env.example (local defaults)"

jars: check-tools jars/lib/.fetched ## fetch Spark connector and Kafka jars from Maven Central

jars/lib/.fetched: jars/pom.xml jars/spark/pom.xml jars/kafka/pom.xml
	@rm -rf jars/lib/spark jars/lib/kafka
	mvn -B -q -f jars/pom.xml package
	@touch $@

services-up: setup jars ## start Kafka and the S3 store on 127.0.0.1 (idempotent)
	$(BIN)/stock-lakehouse services up

services-down: ## stop what services-up started (data stays in .state/)
	@if [ -x $(BIN)/stock-lakehouse ]; then $(BIN)/stock-lakehouse services down; fi

status: ## services, the stream (lag, last batch) and partitions per day
	$(BIN)/stock-lakehouse status

demo: setup jars ## set up and run the whole platform (services, simulator, Dagster, stream)
	$(BIN)/stock-lakehouse demo up

down: ## stop everything `make demo` started (data stays in .state/)
	@if [ -x $(BIN)/stock-lakehouse ]; then $(BIN)/stock-lakehouse demo down; fi

test: setup jars airflow-setup browser lint ## lint, then every test against real Kafka, S3 store, Spark, DuckDB, Dagster
	$(BIN)/pytest

# Spread over both cores (pytest-xdist, each idle worker takes the next test): these tests share no
# service or port. The full suite stays in one process, its tests share one set of services.
test-unit: setup ## the tests that need no services and no JVM (pytest -m "not integration", 2 workers)
	STOCK_LAKEHOUSE_UNIT_LANE=1 $(BIN)/pytest -m "not integration" -n 2 --dist worksteal

# Each benchmark starts its own services on the 17xxx ports (.state/bench), measures a reference in
# the same run, and writes bench/results/<name>-<time>.json; bench.summary prints one table of
# ratios from the newest results; docs/benchmarks.md has the figures.
bench: setup jars ## every benchmark beside its reference, then one summary table (~50 min)
	@command -v kcat >/dev/null || (apt-get update -qq && apt-get install -y -qq kcat)
	$(BIN)/python -m bench.bench_producer
	$(BIN)/python -m bench.bench_ingest
	$(BIN)/python -m bench.bench_parse
	$(BIN)/python -m bench.bench_freshness
	$(BIN)/python -m bench.bench_compaction
	$(BIN)/python -m bench.bench_query
	$(BIN)/python -m bench.bench_closed_day
	$(BIN)/python -m bench.summary

lint: setup ## ruff check + format check, sqlfluff on the dbt models (no services needed)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd dbt_project && $(abspath $(BIN))/sqlfluff lint models tests/singular --disable-progress-bar --nocolor

format: setup ## apply ruff fixes and formatting, and sqlfluff's fixes to the dbt models
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	cd dbt_project && $(abspath $(BIN))/sqlfluff fix models tests/singular --disable-progress-bar --nocolor

lock: ## re-resolve constraints.txt after changing pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --no-header --no-annotate -q -o constraints.txt
	@sed -i '1i # Every transitive pin, generated by `make lock` (uv pip compile); `make setup` installs with -c constraints.txt.' constraints.txt

airflow-lock: $(VENV)/.installed ## re-resolve airflow/constraints.txt after changing airflow/requirements.txt
	$(BIN)/uv pip compile airflow/requirements.txt --universal --python-version 3.11 --no-header --no-annotate -q -o airflow/constraints.txt
	@sed -i '1i # Every transitive pin of .venv-airflow, generated by `make airflow-lock` (uv pip compile).' airflow/constraints.txt

clean-state: services-down ## stop services and delete their data
	rm -rf .state

clean: clean-state ## remove everything make created
	rm -rf $(VENV) $(AIRFLOW_VENV) .cache jars/lib
