# Quick start on a fresh machine with python3 (3.11) and make: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/dagster_home

CHROMIUM := /usr/bin/chromium
# apt-get as root directly (CI, containers); through sudo otherwise
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install demo test dev bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt setup.py $(wildcard p114_assets/core/s0142/_*.[ch])
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "p114 needs Python 3.11; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $@

demo: install  ## synthetic week -> every asset into data/p114.duckdb -> summary + data/report.html
	$(BIN)/p114 demo

test: install $(CHROMIUM)  ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest

# The browser smoke test drives headless Chromium from the Debian package (browser downloads are
# not possible where CI runs).
$(CHROMIUM):
	@echo "The browser smoke test needs Chromium: installing the Debian package 'chromium' with apt-get."
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

dev: install  ## the Dagster UI on http://127.0.0.1:3000
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

bench: install  ## benchmarks; figures go in the README
	$(BIN)/python bench/bench_parse.py
	$(BIN)/python bench/bench_profile.py
	$(BIN)/python bench/bench_partition.py
	$(BIN)/python bench/bench_marts.py
	$(BIN)/python bench/bench_market.py
	$(BIN)/python bench/bench_backfill.py
	$(BIN)/python bench/bench_canonical.py
	$(BIN)/python bench/bench_year.py
	$(BIN)/python bench/bench_write_growth.py
	$(BIN)/python bench/estimate_bigquery_cost.py

clean:
	rm -rf data bench/.cache
	find dagster_home -mindepth 1 ! -name dagster.yaml -exec rm -rf {} +
