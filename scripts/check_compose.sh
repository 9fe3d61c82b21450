#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: compose's own schema and interpolation
# check, every image pinned, every secret required, and the entrypoint scripts the services
# name. Installs Debian's docker-compose when neither `docker compose` nor `docker-compose`
# works (as root or with passwordless sudo). Exit status non-zero on any problem.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() { echo "check_compose: $*" >&2; exit 1; }

find_compose() {
  if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
  elif docker-compose version >/dev/null 2>&1; then
    compose=(docker-compose)
  else
    return 1
  fi
}

if ! find_compose; then
  command -v apt-get >/dev/null || fail "no docker compose and no apt-get to install it"
  sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo -n)
  echo "check_compose: installing docker-compose with apt" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker-compose </dev/null >&2
  find_compose || fail "docker-compose installed but does not run"
fi

# The secrets docker-compose.yml requires (${VAR:?...}); placeholders stand in for them here.
required=(DJANGO_SECRET_KEY POSTGRES_PASSWORD RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS
          MINIO_ROOT_USER MINIO_ROOT_PASSWORD)
placeholders=()
for name in "${required[@]}"; do placeholders+=("$name=compose-check-placeholder"); done

# An empty --env-file: judge the file itself, not a local .env (compose v1 wants a real file).
no_env=$(mktemp)
trap 'rm -f "$no_env"' EXIT
env "${placeholders[@]}" "${compose[@]}" --env-file "$no_env" config -q

# Each secret is required: without it compose refuses, naming it.
for name in "${required[@]}"; do
  others=()
  for other in "${required[@]}"; do
    [ "$other" = "$name" ] || others+=("$other=compose-check-placeholder")
  done
  if out=$(env -u "$name" "${others[@]}" "${compose[@]}" --env-file "$no_env" config -q 2>&1); then
    fail "compose starts without $name: make it \${$name:?...}"
  fi
  grep -q "$name" <<<"$out" || fail "missing $name gives an unclear error: $out"
done

# Every image pinned to a release (at least major.minor, or MinIO's RELEASE.<date> tags); the
# locally built photopipe image excepted.
images=$(env "${placeholders[@]}" "${compose[@]}" --env-file "$no_env" config \
  | awk '$1 == "image:" {print $2}' | sort -u)
while read -r image; do
  [[ $image == photopipe:* ]] && continue
  [[ $image =~ :([0-9]+\.[0-9]+[^:]*|RELEASE\.[^:]+)$ ]] || fail "$image is not pinned to a release"
done <<<"$images"

for script in docker/start-api docker/start-worker docker/start-listener; do
  [ -x "$script" ] || fail "$script missing or not executable"
  sh -n "$script"
done
echo "docker-compose.yml is valid (${compose[*]}): images pinned, secrets required"
