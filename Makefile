# Opvang: `make run` for the app with demo data, `make test` for the suite.
VENV        := .venv
BIN         := $(VENV)/bin
PYTHON      ?= python3
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
export FLASK_APP := wsgi

.PHONY: run install install-dev translations test test-sqlite test-postgres lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime translations

install-dev: $(VENV)/.dev translations

CATALOGUES := $(wildcard app/translations/*/LC_MESSAGES/messages.po)
translations: $(CATALOGUES:.po=.mo)

%.mo: %.po | $(VENV)/.runtime
	$(BIN)/pybabel compile --statistics -i $< -o $@

## Start the web app (http://127.0.0.1:5000) and the scheduler on SQLite with demo data,
## in the development configuration (cookies also over plain http: app/config.py `Development`).
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo --if-empty
	OPVANG_DEVELOPMENT=1 PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start

## The whole suite on SQLite and on PostgreSQL (PG_TEST_URL), side by side.
test: install-dev
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-sqlite: install-dev
	$(BIN)/pytest

test-postgres: install-dev
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check app scheduler tests bench migrations wsgi.py

bench: install-dev
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/placement.py
	$(BIN)/python bench/hotline.py
	$(BIN)/python bench/hotline_figures.py
	$(BIN)/python bench/waiting_list.py
	$(BIN)/python bench/alerts.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) .pytest_cache
