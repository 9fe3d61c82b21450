#!/usr/bin/env bash
# Local PostgreSQL, RabbitMQ and S3 endpoint on 127.0.0.1 for development and tests.
#
#   eval "$(scripts/services.sh)"            install (apt) if missing, start all, print env
#   scripts/services.sh start|stop|restart [postgres|rabbitmq|s3]...   (default: all three)
#   scripts/services.sh status [service]...  one line per service; exit 1 if any is down
#   scripts/services.sh env                  print the export lines only, start nothing
#   scripts/services.sh s3-down|s3-up        close/reopen the S3 port, keeping the objects
#
# Only the `export NAME=value` lines go to stdout; progress goes to stderr. Works without
# systemd (daemons are started directly), without a TTY, as root or with passwordless sudo.
# Note: the S3 endpoint is moto, in memory: `stop`/`restart s3` empty it (bucket re-created);
# use s3-down/s3-up to simulate an outage.
set -o errexit -o nounset -o pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
ROOT=$(dirname "$(dirname "$SELF")")
cd "$ROOT"
VENV=${VENV:-.venv}
RUN_DIR=$ROOT/var/services
TIMEOUT=${SERVICES_TIMEOUT:-90}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-photopipe}
PG_PASSWORD=${PG_PASSWORD:-photopipe}
PG_DB=${PG_DB:-photopipe}
RABBITMQ_PORT=${RABBITMQ_PORT:-5672}
# 1 = management UI/API on :15672 (bundled plugin, works offline). Off by default: it makes
# every broker restart ~7 s slower and the app reads queue depths over AMQP.
RABBITMQ_MANAGEMENT=${RABBITMQ_MANAGEMENT:-0}
RABBITMQ_MANAGEMENT_PORT=${RABBITMQ_MANAGEMENT_PORT:-15672}
RABBITMQ_PID=/run/rabbitmq/pid
S3_PORT=${S3_PORT:-9000}
S3_BUCKET=${S3_BUCKET:-photopipe}
S3_PID=$RUN_DIR/s3-$S3_PORT.pid   # per port, so a second endpoint can run beside
ALL=(postgres rabbitmq s3)

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
SUDO=(); [ "$(id -u)" = 0 ] || SUDO=(sudo -n)
as_root() { "${SUDO[@]}" "$@"; }
as_user() { # as_user USER CMD...: runuser when root, sudo otherwise; from / so no cwd warnings
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u "$user" -- "$@"); else (cd / && sudo -n -u "$user" -- "$@"); fi
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_closed() { ! port_open "$1"; }
wait_until() { # wait_until DESCRIPTION CMD...: poll CMD every 0.2 s for up to $TIMEOUT s
  local what=$1 deadline=$((SECONDS + TIMEOUT)); shift
  until "$@"; do
    ((SECONDS < deadline)) || die "$what not ready after ${TIMEOUT}s"
    sleep 0.2
  done
}

print_env() {
  # One secret key per machine, shared by the API, the workers and the tests that `make serve`,
  # `make worker` and `make test` start (signed links and tokens must verify across them).
  local key_file=$RUN_DIR/django-secret-key
  if [ ! -s "$key_file" ]; then
    mkdir -p "$RUN_DIR"
    (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$key_file")
  fi
  cat <<EOF
export DJANGO_SECRET_KEY=$(cat "$key_file")
export DATABASE_URL=postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
export RABBITMQ_URL=amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT/%2F
export AWS_S3_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export AWS_STORAGE_BUCKET_NAME=$S3_BUCKET
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_S3_REGION_NAME=us-east-1
EOF
}

ensure_packages() {
  local missing=() pkg
  # curl and jq: the README's examples, which tests/integration/test_readme.py runs as written.
  for pkg in postgresql rabbitmq-server curl jq; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install them by hand"
  log "installing ${missing[*]} with apt (a minute or two)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold "${missing[@]}" </dev/null >&2
}

# --- PostgreSQL: the newest installed major version, cluster "main" ---------------------
pg_version() { # newest major in /usr/lib/postgresql that has a server binary
  local v
  v=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null \
    | awk -F/ '{print $5}' | sort -n | tail -n 1)
  [ -n "$v" ] || die "no PostgreSQL server under /usr/lib/postgresql"
  echo "$v"
}
pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }
pg_online() { pg_lsclusters -h "$1" main 2>/dev/null | awk '{print $4}' | grep -q online; }

start_postgres() {
  local ver port
  ver=$(pg_version)
  # apt normally creates the cluster; create it if this machine was set up without one.
  pg_lsclusters -h "$ver" main >/dev/null 2>&1 || as_root pg_createcluster "$ver" main >&2
  port=$(pg_conftool -s "$ver" main show port 2>/dev/null || echo 5432)
  if [ "$port" != "$PG_PORT" ]; then
    log "postgres: moving cluster $ver/main from port $port to $PG_PORT"
    pg_online "$ver" && as_root pg_ctlcluster "$ver" main stop -m fast >&2
    as_root pg_conftool "$ver" main set port "$PG_PORT"
  fi
  if pg_online "$ver"; then
    log "postgres $ver: already running"
  else
    log "postgres $ver: starting"
    # Retry: right after a kill -9 the old postmaster or its children can still hold the
    # socket lock for a moment ("lock file ... already exists").
    local attempt
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
      as_root pg_ctlcluster "$ver" main start >>"$RUN_DIR/postgres.log" 2>&1 && break
      ((attempt < 10)) || { tail -n 20 "$RUN_DIR/postgres.log" >&2; die "postgres did not start"; }
      sleep 1
    done
  fi
  wait_until "postgres" pg_ready
  # Idempotent: create the role and database only if missing, (re)set the password always.
  # CREATEDB because pytest-django creates test_<name>.
  as_user postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres \
    -v user="$PG_USER" -v password="$PG_PASSWORD" -v db="$PG_DB" >&2 <<'SQL'
SELECT format('CREATE ROLE %I', :'user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'user', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
  log "postgres: ready on 127.0.0.1:$PG_PORT"
}

stop_postgres() {
  local ver
  ver=$(pg_version)
  if pg_online "$ver"; then
    log "postgres: stopping"
    as_root pg_ctlcluster "$ver" main stop -m fast >&2   # fast: roll back sessions, don't wait
  fi
}

# --- RabbitMQ: started directly as the rabbitmq user (no systemd, and `service` drops our
# environment, which carries the port and bind address) ------------------------------------
start_rabbitmq() {
  if port_open "$RABBITMQ_PORT"; then log "rabbitmq: already running"; return; fi
  log "rabbitmq: starting"
  as_root install -d -o rabbitmq -g rabbitmq -m 755 /run/rabbitmq
  as_root rm -f "$RABBITMQ_PID"   # a stale pid file (after kill -9) would fool `rabbitmqctl wait`
  local plugins="" erl_args="-kernel inet_dist_use_interface {127,0,0,1}"
  if [ "$RABBITMQ_MANAGEMENT" = 1 ]; then
    plugins=rabbitmq_management
    erl_args+=" -rabbitmq_management tcp_config [{ip,\"127.0.0.1\"},{port,$RABBITMQ_MANAGEMENT_PORT}]"
  fi
  mkdir -p "$RUN_DIR"
  # HOME must be the rabbitmq user's, where its .erlang.cookie lives (rabbitmqctl uses it too).
  # RABBITMQ_ENABLED_PLUGINS overrides /etc/rabbitmq/enabled_plugins, so nothing in /etc changes.
  # `exec`, not a shell function, in the background: a bash running a function keeps saved
  # copies of our stdout/stderr, which would hold `$(scripts/services.sh)` or a CI pipe open.
  (cd /var/lib/rabbitmq && exec "${SUDO[@]}" setsid runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq \
    RABBITMQ_PID_FILE="$RABBITMQ_PID" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$RABBITMQ_PORT" RABBITMQ_ENABLED_PLUGINS="$plugins" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$erl_args" \
    /usr/lib/rabbitmq/bin/rabbitmq-server) >>"$RUN_DIR/rabbitmq.log" 2>&1 </dev/null &
  # Waits for the pid file, then for the node, then for the rabbit app and plugins.
  as_root rabbitmqctl wait --timeout "$TIMEOUT" "$RABBITMQ_PID" >/dev/null 2>>"$RUN_DIR/rabbitmq.log" \
    || die "rabbitmq did not start; see $RUN_DIR/rabbitmq.log and /var/log/rabbitmq/"
  wait_until "rabbitmq port" port_open "$RABBITMQ_PORT"
  log "rabbitmq: ready on 127.0.0.1:$RABBITMQ_PORT$( [ "$RABBITMQ_MANAGEMENT" = 1 ] && echo " (management on :$RABBITMQ_MANAGEMENT_PORT, guest/guest)")"
}

stop_rabbitmq() {
  if [ -f "$RABBITMQ_PID" ] || port_open "$RABBITMQ_PORT"; then
    log "rabbitmq: stopping"
    # `shutdown` (unlike `stop`) returns only once the Erlang VM has exited.
    if ! as_root rabbitmqctl shutdown >/dev/null 2>>"$RUN_DIR/rabbitmq.log" && [ -f "$RABBITMQ_PID" ]; then
      as_root kill "$(as_root cat "$RABBITMQ_PID")" 2>/dev/null || true   # node not answering
    fi
    wait_until "rabbitmq shutdown" port_closed "$RABBITMQ_PORT"
    as_root rm -f "$RABBITMQ_PID"
  fi
}

# --- S3: moto in the project venv, see scripts/s3_server.py -------------------------------
alive() { # a zombie counts as gone (some sandbox inits reap orphans slowly)
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]
}
s3_pid() { [ -f "$S3_PID" ] && alive "$(cat "$S3_PID")" && cat "$S3_PID"; }
s3_ready() { # the bucket answers HEAD with 200, over plain bash (curl may not be installed)
  local status
  { exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT"; } 2>/dev/null || return 1
  printf 'HEAD /%s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$S3_BUCKET" "$S3_PORT" >&3
  read -r -t 5 _ status _ <&3 || status=
  exec 3<&-
  [ "$status" = 200 ]
}

start_s3() {
  if [ -n "$(s3_pid)" ]; then
    if s3_ready; then log "s3: already running"; return; fi
    kill -USR2 "$(s3_pid)"   # alive but offline after s3-down: reopen
  else
    [ -x "$VENV/bin/moto_server" ] || die "no moto in $VENV (looked for $VENV/bin/moto_server): create the project venv first (make venv)"
    port_open "$S3_PORT" && die "port $S3_PORT is taken by another process"
    log "s3: starting moto on 127.0.0.1:$S3_PORT"
    mkdir -p "$RUN_DIR"
    nohup setsid "$VENV/bin/python" scripts/s3_server.py --host 127.0.0.1 --port "$S3_PORT" \
      --bucket "$S3_BUCKET" >>"$RUN_DIR/s3.log" 2>&1 </dev/null &
    echo $! >"$S3_PID"
  fi
  wait_until "s3 (see $RUN_DIR/s3.log)" s3_ready
  log "s3: ready on http://127.0.0.1:$S3_PORT, bucket $S3_BUCKET"
}

stop_s3() {
  local pid
  pid=$(s3_pid) || { rm -f "$S3_PID"; return 0; }
  log "s3: stopping (its objects are lost)"
  kill "$pid"
  for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$S3_PID"
}

s3_outage() { # s3_outage USR1|USR2
  local pid
  pid=$(s3_pid) || die "s3 is not running"
  kill -"$1" "$pid"
  if [ "$1" = USR1 ]; then
    wait_until "s3 listener close" port_closed "$S3_PORT"
    log "s3: offline (connections refused; objects kept until s3-up)"
  else
    wait_until "s3" s3_ready
    log "s3: back online"
  fi
}

status_one() {
  local up=0 detail=""
  case $1 in
    postgres) pg_ready && up=1; detail="127.0.0.1:$PG_PORT" ;;
    rabbitmq) port_open "$RABBITMQ_PORT" && up=1; detail="127.0.0.1:$RABBITMQ_PORT" ;;
    s3) s3_ready && up=1; detail="http://127.0.0.1:$S3_PORT"
        [ $up = 0 ] && [ -n "$(s3_pid)" ] && detail+=" (process alive, offline: s3-up to reopen)" ;;
  esac
  printf '%-9s %-5s %s\n' "$1" "$([ $up = 1 ] && echo up || echo down)" "$detail"
  [ $up = 1 ]
}

main() {
  local cmd=${1:-start}; shift || true
  # One changer at a time (tests may restart a service while another run starts them all).
  # flock -o: the lock fd is not inherited by the daemons we start, so it dies with us.
  if [ -z "${SERVICES_LOCKED:-}" ] && [[ $cmd =~ ^(start|stop|restart|s3-down|s3-up)$ ]]; then
    mkdir -p "$RUN_DIR"
    SERVICES_LOCKED=1 exec flock -o -w 600 "$RUN_DIR/lock" bash "$SELF" "$cmd" "$@"
  fi
  local services=("$@") svc rc=0
  ((${#services[@]})) || services=("${ALL[@]}")
  for svc in "${services[@]}"; do
    case $svc in postgres|rabbitmq|s3) ;; *) die "unknown service '$svc' (postgres, rabbitmq, s3)" ;; esac
  done
  case $cmd in
    start)
      ensure_packages
      for svc in "${services[@]}"; do "start_$svc"; done
      print_env ;;
    stop) for svc in "${services[@]}"; do "stop_$svc"; done ;;
    restart)
      ensure_packages
      for svc in "${services[@]}"; do "stop_$svc"; "start_$svc"; done ;;
    status) for svc in "${services[@]}"; do status_one "$svc" || rc=1; done; return $rc ;;
    env) print_env ;;
    s3-down) s3_outage USR1 ;;
    s3-up) s3_outage USR2 ;;
    -h|--help|help) sed -n '2,13p' "$SELF" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$cmd' (start, stop, restart, status, env, s3-down, s3-up)" ;;
  esac
}

main "$@"
