# The two set-up-and-go commands: `make run` and `make test`. Both create the environment
# when it is missing, so a fresh clone needs nothing else (Python 3.11+ and Java 17+).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Yesterday on the platform's clock (assets/core/clock.py: PLATFORM_NOW, else the system clock).
# Recursive (?=): expanded in `run`'s recipe, after `setup` has made the environment.
DATE ?= $(shell $(BIN)/python -m assets.core.clock)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DO_NOT_TRACK := 1
export PYSPARK_PYTHON := $(CURDIR)/$(BIN)/python
export PYSPARK_DRIVER_PYTHON := $(CURDIR)/$(BIN)/python
export SPARK_LOCAL_IP ?= 127.0.0.1
# Run-status sensors (the alerts) are handed 5 finished runs a tick by default: too few on a busy day.
export DAGSTER_RUN_STATUS_SENSOR_PROCESS_LIMIT ?= 50

.PHONY: setup run test test-under-load bench bench-committer bench-ranges lint dev clean reader-role serve bench-api metrics api-key api-key-revoke api-keys

setup: $(VENV)/.installed $(VENV)/spark-classes.jsa dbt/target/manifest.json $(DAGSTER_HOME)/dagster.yaml

$(VENV)/.installed: pyproject.toml uv.lock
	test -x $(BIN)/uv || ($(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet "uv>=0.5")
	# Bytecode compiled once at install: with PYTHONDONTWRITEBYTECODE set (CI, containers) every
	# process would otherwise compile dagster, dbt and pyspark again (about half the load time).
	$(BIN)/uv sync --frozen --compile-bytecode --python $(BIN)/python
	touch $@

# The JVM's class archive for Spark (orchestration/resources/spark_classes.py): every Spark start
# maps the classes instead of loading them. Optional: without it Spark starts a few seconds slower.
$(VENV)/spark-classes.jsa: $(VENV)/.installed orchestration/resources/spark_classes.py
	$(BIN)/python -m orchestration.resources.spark_classes $@ > $(VENV)/spark-classes.log 2>&1 \
		|| echo "warning: no Spark class archive (see $(VENV)/spark-classes.log); Spark starts without it"

dbt/target/manifest.json: $(VENV)/.installed $(shell find dbt -name '*.sql' -o -name '*.yml' 2>/dev/null | grep -v '^dbt/target/')
	cd dbt && DATA_DIR=$${DATA_DIR:-$(CURDIR)/data} ../$(BIN)/dbt parse --quiet --target local
	touch $@

$(DAGSTER_HOME)/dagster.yaml: orchestration/instance/local.yaml
	mkdir -p $(DAGSTER_HOME) && cp $< $@

run: setup  ## materialize one UTC day (DATE=YYYY-MM-DD, default yesterday) on the local profile
	@start=$$(date +%s); \
	$(BIN)/python -m orchestration.dead_runs || exit $$?; \
	spark=$$($(BIN)/python -m orchestration.spark_server start) || exit $$?; \
	if [ "$$spark" = started ]; then trap '$(BIN)/python -m orchestration.spark_server stop > /dev/null' EXIT; fi; \
	DAGSTER_DEPLOYMENT=local $(BIN)/dagster asset materialize -m orchestration.definitions --select '*' --partition $(DATE) || exit $$?; \
	echo "Day $(DATE) materialized in $$(( $$(date +%s) - start )) s."; \
	echo "Marts: schema 'marts' in $${DATA_DIR:-$(CURDIR)/data}/warehouse.duckdb"

# Two workers, one per core; each test module stays on one worker with its module fixtures
# (tests/conftest.py gives every module its xdist group).
PYTEST_WORKERS := -n 2 --dist loadgroup

test: setup  ## the whole test suite
	$(BIN)/pytest $(PYTEST_WORKERS)

test-under-load: setup  ## the whole test suite while a second process keeps one core busy (a busy CI machine)
	$(BIN)/python -c 'while True: pass' & hog=$$!; trap "kill $$hog" EXIT; $(BIN)/pytest $(PYTEST_WORKERS)

bench: setup  ## one whole day at SIZE=S|M|L (default S), DAYS=N days in one run, WARM=1 the day as the schedule launches it under make dev; JSON (BENCH_LOCATIONS, BENCH_INTERVAL_MINUTES, BENCH_USERS)
	SIZE=$(or $(SIZE),S) DAYS=$(or $(DAYS),1) WARM=$(WARM) $(BIN)/python tests/benchmarks/bench_openaq_day.py

bench-committer: setup  ## offset-committer latency under a real daemon (BENCH_RANGES, default 500)
	$(BIN)/python tests/benchmarks/bench_committer.py

bench-ranges: setup  ## one sample day through the sensor path as 50 offset ranges vs 1 (BENCH_RANGES): seconds, runs, Spark steps
	$(BIN)/python tests/benchmarks/bench_ranges.py

lint: setup  ## ruff format (checked, not rewritten) and ruff check: pyflakes, imports, pyupgrade, bugbear
	$(BIN)/ruff format --check orchestration assets spark tests
	$(BIN)/ruff check orchestration assets spark tests

dev: setup  ## the Dagster UI on http://127.0.0.1:3000, with the Spark Connect server every run shares
	@spark=$$($(BIN)/python -m orchestration.spark_server start) || exit $$?; \
	if [ "$$spark" = started ]; then trap '$(BIN)/python -m orchestration.spark_server stop > /dev/null' EXIT; fi; \
	$(BIN)/dagster dev

serve: setup  ## the marts API on http://$${API_HOST:-127.0.0.1}:$${API_PORT:-8000} (REDIS_URL turns the cache on)
	$(BIN)/python -m orchestration.serving.api

# NAME and SCOPES reach the command as environment variables ("$$NAME"), never pasted into the
# shell line, so any value arrives intact and the CLI's own validation answers it.
api-key: $(VENV)/.installed  ## create an API key: NAME=... SCOPES=air-quality,users,... (comma-separated); prints the key once
	@$(BIN)/python -m orchestration.serving.keys create "$$NAME" --scopes "$$SCOPES"

api-key-revoke: $(VENV)/.installed  ## revoke the API key NAME=...: the API refuses it within API_KEYS_CHECK_SECONDS
	@$(BIN)/python -m orchestration.serving.keys revoke "$$NAME"

api-keys: $(VENV)/.installed  ## list the API keys: names, scopes, dates (never a key)
	@$(BIN)/python -m orchestration.serving.keys list

metrics: setup  ## the platform's Prometheus exporter on http://$${METRICS_HOST:-127.0.0.1}:$${METRICS_PORT:-9464}/metrics
	$(BIN)/python -m orchestration.serving.exporter

bench-api: setup  ## API load on loopback per dataset endpoint (wrk): requests/s, p50, p99, cached and uncached (BENCH_SECONDS, BENCH_CONNECTIONS)
	$(BIN)/python tests/benchmarks/bench_api.py

reader-role:  ## create or refresh the warehouse's read-only role (WAREHOUSE_READER_ROLE) on an existing server
	PGHOST=$${WAREHOUSE_HOST:-127.0.0.1} PGPORT=$${WAREHOUSE_PORT:-5432} PGUSER=$${WAREHOUSE_ADMIN_USER:-postgres} \
	WAREHOUSE_DB=$${WAREHOUSE_DB:-warehouse} WAREHOUSE_USER=$${WAREHOUSE_USER:-postgres} \
	WAREHOUSE_READER_ROLE=$${WAREHOUSE_READER_ROLE:-marts_reader} \
	psql -X -v ON_ERROR_STOP=1 -d postgres -f orchestration/instance/warehouse-reader.sql

clean:
	rm -rf data .dagster_home dbt/target dbt/logs
