# Glint: the two commands a new machine needs are `make deploy` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/pip install -q -c requirements/constraints.txt

.PHONY: deploy stop test lint test-unit test-service services venv constraints sample-config

## deploy: install and run the embedded service (SQLite, file store, no auth) on 127.0.0.1:9292
deploy: venv
	bash scripts/deploy-embedded.sh

stop:
	bash scripts/deploy-embedded.sh stop

## test: everything CI runs
test: lint test-unit test-service

venv: $(BIN)/.installed
$(BIN)/.installed: requirements/constraints.txt requirements/test.in service/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(PIP_INSTALL) -e ./service -r requirements/test.in
	touch $@

lint: venv
	$(BIN)/ruff check service tests

test-unit: venv
	$(BIN)/python -m pytest -q tests/unit

# The service suites need MariaDB, PostgreSQL, RabbitMQ and a real Keystone.
test-service: venv services
	$(BIN)/python -m pytest -q tests/service

services:
	bash tests/infra/services.sh
	bash tests/infra/keystone.sh start

constraints:
	rm -rf /tmp/glint-constraints && $(PYTHON) -m venv /tmp/glint-constraints
	/tmp/glint-constraints/bin/pip install -q ./service -r requirements/test.in
	/tmp/glint-constraints/bin/pip freeze | grep -v '^glint' > requirements/constraints.txt

## sample-config: regenerate service/etc/glance-api.conf.sample from the code's options
sample-config: venv
	$(BIN)/oslo-config-generator --config-file service/etc/oslo-config-generator/glance-api.conf
