#!/usr/bin/env bash
# `make worker`: the stage workers and, beside them, one small worker for webhook deliveries and
# event retries, so that a slow webhook endpoint never holds a thread that should be processing
# images (jobs/queues.py). Stops them all when one stops.
#
# Layout of the stage workers:
# - default: WORKER_PROCESSES x WORKER_THREADS, every stage queue (and `control`) in every
#   process;
# - WORKER_STAGES="resize:2 watermark:1 detect:1x3": one rundramatiq per entry, consuming only
#   that stage's queue, with PROCESSES[xTHREADS] (threads default WORKER_THREADS). Processes,
#   not threads, are the unit: much of a stage's CPU (Python glue, MediaPipe, Pillow's drawing)
#   holds the GIL, so a stage only gets more of the cores from more processes; threads overlap
#   one job's storage, database and broker waits with another's work. `control`, and any stage
#   the layout does not name (with a warning), go to the first entry's processes, so every
#   queue keeps a consumer. docs/PERFORMANCE.md ("Scaling") gives the sizing rule.
# WORKER_DRY_RUN=1 prints the rundramatiq commands instead of running them.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-.venv/bin/python}
WORKER_PROCESSES=${WORKER_PROCESSES:-$(getconf _NPROCESSORS_ONLN)}
WORKER_THREADS=${WORKER_THREADS:-2}
WORKER_STAGES=${WORKER_STAGES:-}
read -r -a stage_queues <<<"$("$PY" manage.py worker_queues stages)"
read -r -a delivery_queues <<<"$("$PY" manage.py worker_queues deliveries)"

# One rundramatiq: PREFETCH PROCESSES THREADS QUEUE...
# Prefetch = threads: every message a worker holds is being processed (settings.py says why).
start() {
  local prefetch=$1 processes=$2 threads=$3
  shift 3
  if [[ -n ${WORKER_DRY_RUN:-} ]]; then
    echo "PHOTOPIPE_PREFETCH=$prefetch $PY manage.py rundramatiq --processes $processes" \
      "--threads $threads --queues $*"
    return
  fi
  PHOTOPIPE_PREFETCH=$prefetch "$PY" manage.py rundramatiq --processes "$processes" \
    --threads "$threads" --queues "$@" &
}

die() {
  echo "run_workers.sh: $*" >&2
  exit 2
}

# Fills group_specs ("PROCESSES THREADS QUEUE...", one per layout entry) from WORKER_STAGES.
parse_layout() {
  local entry stage processes threads queue
  local -A known=() named=()
  for queue in "${stage_queues[@]}"; do known[$queue]=1; done
  for entry in $WORKER_STAGES; do
    [[ $entry =~ ^([A-Za-z0-9_.-]+):([1-9][0-9]*)(x([1-9][0-9]*))?$ ]] \
      || die "WORKER_STAGES entry '$entry' is not STAGE:PROCESSES[xTHREADS]"
    stage=${BASH_REMATCH[1]} processes=${BASH_REMATCH[2]}
    threads=${BASH_REMATCH[4]:-$WORKER_THREADS}
    [[ -n ${known[$stage]:-} && $stage != control ]] \
      || die "WORKER_STAGES names '$stage', not a stage (stages: ${stage_queues[*]})"
    [[ -z ${named[$stage]:-} ]] || die "WORKER_STAGES names '$stage' twice"
    named[$stage]=1
    group_specs+=("$processes $threads $stage")
  done
  [[ ${#group_specs[@]} -gt 0 ]] || die "WORKER_STAGES is set but names no stage"
  for queue in "${stage_queues[@]}"; do
    if [[ -z ${named[$queue]:-} ]]; then
      [[ $queue == control ]] \
        || echo "run_workers.sh: WORKER_STAGES does not name '$queue'; the first entry's" \
          "processes consume it" >&2
      group_specs[0]+=" $queue"
    fi
  done
}

# The layout is checked before anything starts: a typo stops the script with nothing running.
group_specs=("$WORKER_PROCESSES $WORKER_THREADS ${stage_queues[*]}")
if [[ -n $WORKER_STAGES ]]; then
  group_specs=()
  parse_layout
fi
[[ -n ${WORKER_DRY_RUN:-} ]] || trap 'kill $(jobs -p) 2>/dev/null || true' EXIT INT TERM
start 2 1 2 "${delivery_queues[@]}"
for spec in "${group_specs[@]}"; do
  read -r -a group <<<"$spec"
  start "${PHOTOPIPE_PREFETCH:-${group[1]}}" "${group[@]}"
done
[[ -n ${WORKER_DRY_RUN:-} ]] || wait -n  # one of them stopped: stop the others too (the trap)
