#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: compose's own schema and interpolation
# check, plus the entrypoint scripts the services name. Exit status non-zero on any problem.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  echo "check_compose: neither 'docker compose' nor 'docker-compose' is installed" >&2
  exit 2
fi
"${compose[@]}" config -q

for script in docker/start-api docker/start-worker docker/start-listener; do
  [ -x "$script" ] || { echo "check_compose: $script missing or not executable" >&2; exit 1; }
  sh -n "$script"
done
echo "docker-compose.yml is valid"
