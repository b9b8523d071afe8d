# medallion — build, test, benchmark, demo. See README.md.
SWIFT   ?= swift
VENV    ?= .venv-readers
PY      := $(VENV)/bin/python
SHARED  ?= ../shared
DEBUG   := .build/debug
RELEASE := .build/release

.PHONY: build release test unit e2e bench demo venv clean

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

# Python readers (deltalake, pyarrow, duckdb, polars) used by the end-to-end tests.
$(PY): $(SHARED)/tools/requirements-readers.txt tests/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -r $(SHARED)/tools/requirements-readers.txt -r tests/requirements.txt
	touch $(PY)

venv: $(PY)

unit: build $(PY)
	MEDALLION_REQUIRE_READERS=1 $(SWIFT) test

e2e: build $(PY)
	MEDALLION_BIN=$(CURDIR)/$(DEBUG) $(PY) -m pytest -q tests/e2e

test: unit e2e

bench: release $(PY)
	bench/envelope.sh 1000000 5000000
	bench/bronze.sh
	bench/eh_source.sh
	bench/silver.sh

demo: release
	bash scripts/demo.sh

clean:
	rm -rf .build out
