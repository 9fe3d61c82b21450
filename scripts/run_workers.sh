#!/usr/bin/env bash
# `make worker`: the stage workers (WORKER_PROCESSES x WORKER_THREADS) and, beside them, one
# small worker for webhook deliveries and event retries, so that a slow webhook endpoint never
# holds a thread that should be processing images (jobs/queues.py). Stops both on exit.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-.venv/bin/python}
WORKER_PROCESSES=${WORKER_PROCESSES:-$(getconf _NPROCESSORS_ONLN)}
WORKER_THREADS=${WORKER_THREADS:-2}
read -r -a stage_queues <<<"$("$PY" manage.py worker_queues stages)"
read -r -a delivery_queues <<<"$("$PY" manage.py worker_queues deliveries)"
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT INT TERM
PHOTOPIPE_PREFETCH=2 "$PY" manage.py rundramatiq --processes 1 --threads 2 \
  --queues "${delivery_queues[@]}" &
# Prefetch = threads: every message a worker holds is being processed (settings.py says why).
PHOTOPIPE_PREFETCH=${PHOTOPIPE_PREFETCH:-$WORKER_THREADS} "$PY" manage.py rundramatiq \
  --processes "$WORKER_PROCESSES" --threads "$WORKER_THREADS" --queues "${stage_queues[@]}" &
wait -n  # one of them stopped: stop the other too (the trap)
