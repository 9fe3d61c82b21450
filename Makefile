# Photopipe: `make run` (embedded, no services) and `make test` (everything, real services).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
SERVICES_ENV := var/services.env
# Loads the variables `make services` printed (PostgreSQL, RabbitMQ, S3).
WITH_SERVICES := set -a && source $(SERVICES_ENV) && set +a &&

.PHONY: help venv run services services-stop worker serve listen test test-fast lint bench compose-check clean

help:
	@echo "make run       embedded mode on 127.0.0.1:$(PORT): SQLite, local files, in-process workers, DEBUG on"
	@echo "make test      install and start PostgreSQL, RabbitMQ and S3, then run every test"
	@echo "make services  install/start the services and print their variables"
	@echo "make serve     API against the services;  make worker: Dramatiq workers against them"
	@echo "make bench     image-processing benchmarks"
	@echo "make lint      ruff, and makemigrations --check (no model change without a migration)"
	@echo "make compose-check  validate docker-compose.yml (installs Debian's docker-compose if needed)"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

run: venv
	mkdir -p var
	$(PY) manage.py migrate --noinput
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} PORT=$(PORT) $(PY) manage.py run_embedded 127.0.0.1:$(PORT)

services: venv
	mkdir -p var
	VENV=$(VENV) bash scripts/services.sh > $(SERVICES_ENV).tmp && mv $(SERVICES_ENV).tmp $(SERVICES_ENV)
	@cat $(SERVICES_ENV)

services-stop:
	bash scripts/services.sh stop

worker: services
	$(WITH_SERVICES) $(PY) manage.py migrate --noinput && \
	  $(PY) manage.py rundramatiq --processes 1 --threads 2

serve: services
	$(WITH_SERVICES) $(PY) manage.py migrate --noinput && \
	  DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py runserver 127.0.0.1:$(PORT)

listen: services
	$(WITH_SERVICES) $(PY) manage.py listen_processed

test: services
	$(WITH_SERVICES) $(PY) -m pytest

# An in-memory SQLite database: makemigrations needs no services and leaves no file.
lint: venv
	$(VENV)/bin/ruff check .
	DATABASE_URL=sqlite://:memory: $(PY) manage.py makemigrations --check --dry-run

bench: venv
	$(PY) -m benchmarks.run

compose-check:
	bash scripts/check_compose.sh

clean:
	rm -rf var .pytest_cache
