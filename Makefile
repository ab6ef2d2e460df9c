# One task runner. `make demo` and `make test` each set up .venv from nothing but Python
# and the package registries.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-engines bench lint docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian's Chromium prints the report's PDF (and drives the dashboard's browser tests)
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| echo "chromium could not be installed: no PDF report"

demo: $(STAMP) $(CHROMIUM)
	$(BIN)/cxroi demo --workspace demo-workspace

# Java 17 from Debian runs PySpark (local mode) for the engine parity tests
JAVA := /usr/bin/java
$(JAVA):
	command -v java >/dev/null || (apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless) \
		|| echo "java could not be installed: the PySpark tests cannot run"

# The tests that need a real PostgreSQL server get one from Debian's packages
# (scripts/pg-test-server.sh installs and starts it and prints its URL, or says why not).
# Two pytest-xdist workers, one per core of CI's machine; whole files go to a worker
# (--dist loadfile) so that a module's shared fixture (roi measure's companies, the contract's
# analyses, the demo) is computed once, not once per worker that runs one of its tests.
test: $(STAMP) $(CHROMIUM) $(JAVA)
	CXROI_TEST_PG="$$(sh scripts/pg-test-server.sh)" $(BIN)/python -m pytest -q --durations=30 \
		-n 2 --dist loadfile

# Only the engine parity suite (PostgreSQL and PySpark against DuckDB)
test-engines: $(STAMP) $(JAVA)
	CXROI_TEST_PG="$$(sh scripts/pg-test-server.sh)" $(BIN)/python -m pytest -q -m engines

# Debian packages the benchmarks need (wrk: the load generator of bench_service)
WRK := /usr/bin/wrk
$(WRK):
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)

bench: $(STAMP) $(WRK)
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy src/cxroi

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) demo-workspace site
