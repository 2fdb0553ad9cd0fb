# Jinguo — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock services/*/pyproject.toml gateway/pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
PACKAGES := services/kit services/registry services/projects services/funding services/volunteers gateway
PYTEST_ARGS ?=

.PHONY: help venv run test lint format bench faults lock migrate clean replay-dlq tools

help:
	@echo "make run     start RabbitMQ-backed services and the gateway (SQLite under var/)"
	@echo "make test    unit, integration and end-to-end tests against real RabbitMQ/PostgreSQL"
	@echo "make lint    ruff check + ruff format --check + mypy on the domain modules"
	@echo "make bench   benchmarks under tests/bench (prints figures; not part of make test)"
	@echo "make faults  the fault suite (stops the broker, kills services, restarts PostgreSQL)"
	@echo "make lock    re-resolve requirements.in into requirements.lock"
	@echo "make replay-dlq SERVICE=funding   show and replay a service's dead letters"

$(STAMP): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --config-settings editable_mode=compat $(addprefix -e ,$(PACKAGES))
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

run: venv
	$(BIN)/python deploy/local/run.py

# a living data set (乌兰浩特市妇联) loaded through the API of a running `make run`
.PHONY: demo
demo: venv
	$(BIN)/python deploy/local/demo.py

migrate: venv
	$(BIN)/jinguo-migrate services/registry/config.yaml
	$(BIN)/jinguo-migrate services/projects/config.yaml
	$(BIN)/jinguo-migrate services/funding/config.yaml
	$(BIN)/jinguo-migrate services/volunteers/config.yaml
	$(BIN)/jinguo-migrate gateway/config.yaml

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# faults stop RabbitMQ, kill services and restart PostgreSQL on this machine: run them alone
faults: venv
	JINGUO_FAULTS=1 $(BIN)/python -m pytest tests/faults -s -q $(PYTEST_ARGS)

bench: venv
	JINGUO_BENCH=1 $(BIN)/python -m pytest tests/bench -s -q $(PYTEST_ARGS)

lock: venv
	$(BIN)/pip-compile --quiet --no-header --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.lock requirements.in
	$(BIN)/pip-compile --quiet --no-header --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements-runtime.lock requirements-runtime.in

replay-dlq: venv
	@test -n "$(SERVICE)" || { echo "usage: make replay-dlq SERVICE=funding [QUEUE=...]"; exit 2; }
	$(BIN)/jinguo-dlq services/$(SERVICE)/config.yaml list
	$(BIN)/jinguo-dlq services/$(SERVICE)/config.yaml replay $(if $(QUEUE),--queue $(QUEUE),)

# promtool, for the alert-rule tests: Debian's prometheus package (apt, as root or with sudo)
tools:
	@command -v promtool >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@promtool --version | head -1

clean:
	rm -rf $(VENV) var/*.sqlite3*
