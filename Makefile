# duckwatch — the two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DATA   ?= data
PORT   ?= 8501
STAMP  := $(VENV)/.installed
SPARK  := $(VENV)/.installed-spark

.PHONY: run stop demo-reset test lint bench bench-soak install chromium java clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@# An editable install leaves no bytecode (a wheel install compiles it): without it every
	@# duckwatch process compiles its ~90 modules again when PYTHONDONTWRITEBYTECODE is set.
	$(PY) -m compileall -q src >/dev/null
	touch $(STAMP)

install: $(STAMP)

# PySpark (~300 MB) only for the Spark tests (tests/spark) and `duckwatch spark profile`, not for `make run`.
$(SPARK): $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,spark]"
	touch $(SPARK)

## run: install, create the demo data dir if empty, start the job loop and the app (Ctrl-C stops both)
run: install
	@$(PY) -m duckwatch.launcher run --data-dir $(DATA) --port $(PORT)

## stop: stop what `make run` started in the background
stop:
	@$(PY) -m duckwatch.launcher stop --data-dir $(DATA)

## demo-reset: delete the demo data dir and start over
demo-reset: install
	@$(PY) -m duckwatch.launcher stop --data-dir $(DATA) || true
	find $(DATA) -mindepth 1 -not -name .gitkeep -not -name README.md -delete
	@$(PY) -m duckwatch.launcher run --data-dir $(DATA) --port $(PORT)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null || \
	  echo "could not install chromium: browser tests will fail; install it with apt-get install chromium"; }

java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing Debian's Java 17 for the Spark tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless) >/dev/null || \
	  echo "could not install Java: the Spark tests will be skipped; install it with apt-get install openjdk-17-jre-headless"; }

lint: install
	$(PY) -m ruff check src tests app bench
	$(PY) -m mypy

## test: lint, type-check and the whole test suite (unit, property, kill, HTTP, app and browser tests)
test: install $(SPARK) chromium java lint
	$(PY) -m pytest -q -p no:cacheprovider

## bench: run every benchmark and rewrite bench/RESULTS.md
bench: install
	$(PY) -m compileall -q src >/dev/null
	$(PY) bench/run_all.py

## bench-soak: only the soak (100 SIGKILLs of collector and job; also part of `make bench`)
bench-soak: install
	$(PY) bench/bench_soak.py
	$(PY) bench/run_all.py --collect-only >/dev/null

clean:
	rm -rf $(VENV) build dist *.egg-info
