# Photopipe: `make run` (embedded, no services) and `make test` (everything, real services).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
SERVICES_ENV := var/services.env
# Loads the variables `make services` printed (PostgreSQL, RabbitMQ, S3).
WITH_SERVICES := set -a && source $(SERVICES_ENV) && set +a &&
# Sizes for this machine (README, "Sizing serve and worker"); each is overridable from the
# environment, e.g. `WORKER_PROCESSES=4 make worker`.
# getconf, not nproc: nproc obeys OMP_NUM_THREADS (set to 1 by the one-core benchmarks).
CPUS := $(shell getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
WEB_CONCURRENCY ?= $(CPUS)
WEB_THREADS ?= 4
WORKER_PROCESSES ?= $(CPUS)
WORKER_THREADS ?= 2
# The recommended layout: each stage its own processes (scripts/run_workers.sh), in proportion
# to its CPU per image (README, "Sizing"): per core one of resize and half of watermark and of
# detect, plus one for filter steps. On 2 cores it drained a backlog 1.31-1.38x faster than
# every stage in 2 processes (docs/PERFORMANCE.md, "Scaling and sizing"). `WORKER_STAGES=` (empty)
# runs every stage in each of WORKER_PROCESSES processes instead.
HALF_CPUS := $(shell echo $$(( ($(CPUS) + 1) / 2 )))
WORKER_STAGES ?= resize:$(CPUS) watermark:$(HALF_CPUS) detect:$(HALF_CPUS) filters:1
# `make serve` and `make worker` started together must not both migrate at once (two
# migrate runs on a fresh database collide on CREATE TABLE): the first takes this lock.
MIGRATE := mkdir -p var && flock var/migrate.lock $(PY) manage.py migrate --noinput

.PHONY: help venv run services services-stop worker worker-layout serve listen test test-fast lint bench bench-e2e compose-check clean

help:
	@echo "make run       embedded mode on 127.0.0.1:$(PORT): SQLite, local files, in-process workers, DEBUG on"
	@echo "make test      install and start PostgreSQL, RabbitMQ and S3, then run every test"
	@echo "make services  install/start the services and print their variables"
	@echo "make serve     API against the services as in production (gunicorn, $(WEB_CONCURRENCY) processes x $(WEB_THREADS) threads)"
	@echo "make worker    Dramatiq workers against them ($(if $(WORKER_STAGES),per stage: $(WORKER_STAGES),$(WORKER_PROCESSES) processes x $(WORKER_THREADS) threads))"
	@echo "make bench     image-processing benchmarks;  make bench-e2e: the whole platform vs thumbor"
	@echo "make lint      ruff, and makemigrations --check (no model change without a migration)"
	@echo "make compose-check  validate docker-compose.yml (installs Debian's docker-compose if needed)"

venv: $(VENV)/.installed

# Two makes started together (serve and worker) would both install: the second waits for the
# first under a lock, then finds the venv up to date.
ifndef VENV_LOCKED
$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	mkdir -p var
	flock var/venv.lock $(MAKE) --no-print-directory VENV_LOCKED=1 $@
else
$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@
endif

run: venv
	mkdir -p var
	$(PY) manage.py migrate --noinput
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} PORT=$(PORT) $(PY) manage.py run_embedded 127.0.0.1:$(PORT)

# A temporary file per make process, renamed over the old one (rename is atomic): two makes
# started together (serve and worker) each write their own and never see a half-written file.
# scripts/services.sh itself takes a lock, so only one of them starts anything.
services: venv
	mkdir -p var
	tmp=$$(mktemp $(SERVICES_ENV).XXXXXX) && \
	  { VENV=$(VENV) bash scripts/services.sh > "$$tmp" && mv -f "$$tmp" $(SERVICES_ENV); } \
	  || { rm -f "$$tmp"; exit 1; }
	@cat $(SERVICES_ENV)

services-stop:
	bash scripts/services.sh stop

# The stage queues, WORKER_PROCESSES x WORKER_THREADS (prefetch = threads: settings.py says why),
# and beside them one small process for webhook deliveries and event retries (jobs/queues.py),
# so a slow webhook endpoint never holds a thread that should process images.
# The layout `make worker` would start here (the benchmark reads it).
worker-layout:
	@echo "$(WORKER_STAGES)"

worker: services
	$(WITH_SERVICES) $(MIGRATE) && \
	  PY=$(PY) WORKER_PROCESSES=$(WORKER_PROCESSES) WORKER_THREADS=$(WORKER_THREADS) \
	  WORKER_STAGES="$(WORKER_STAGES)" bash scripts/run_workers.sh

# The API as in production: gunicorn, DEBUG off, static files collected for whitenoise. Plain
# HTTP on 127.0.0.1, so cookies are not marked Secure (the browsable API's login works).
serve: services
	$(WITH_SERVICES) $(MIGRATE) && \
	  $(PY) manage.py collectstatic --noinput --verbosity 0 && \
	  DJANGO_DEBUG=$${DJANGO_DEBUG:-0} \
	  DJANGO_SESSION_COOKIE_SECURE=$${DJANGO_SESSION_COOKIE_SECURE:-0} \
	  DJANGO_CSRF_COOKIE_SECURE=$${DJANGO_CSRF_COOKIE_SECURE:-0} \
	  $(VENV)/bin/gunicorn photopipe.wsgi:application --bind 127.0.0.1:$(PORT) \
	    --workers $(WEB_CONCURRENCY) --threads $(WEB_THREADS) --worker-class gthread \
	    --access-logfile - --no-control-socket --config python:photopipe.gunicorn_conf

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

# The whole platform: real stack and embedded mode against thumbor (docs/PERFORMANCE.md). It
# runs `make services`, `make serve` and `make worker` itself, under the shared stack lock.
bench-e2e: venv
	$(PY) -m benchmarks.e2e $(BENCH_ARGS)

compose-check:
	bash scripts/check_compose.sh

clean:
	rm -rf var .pytest_cache
