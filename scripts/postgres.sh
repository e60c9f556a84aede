#!/usr/bin/env bash
# Makes sure a PostgreSQL server is reachable for the tests, and prints where, as one line on stdout:
#
#   export PAYOUT_ENGINE_TEST_POSTGRES_URL=postgres://payout_engine:payout_engine@127.0.0.1:5432/postgres
#
# so that callers can `eval "$(bash scripts/postgres.sh)"`. Progress goes to stderr. Any failure
# ends with a message on stderr and a non-zero exit: the PostgreSQL tests must fail, never be skipped.
#
#   bash scripts/postgres.sh          ensure the server (idempotent: safe to run before every test run)
#   bash scripts/postgres.sh stop     stop the local server this script starts (for developers)
#   bash scripts/postgres.sh drop-test-databases
#                                     drop the pe_test_* databases the tests leave behind (one per
#                                     test) on the server PAYOUT_ENGINE_TEST_POSTGRES_URL names
#
# - PAYOUT_ENGINE_TEST_POSTGRES_URL already set: only checks that it answers (installs nothing,
#   starts nothing), then prints it back.
# - Otherwise: a local server on 127.0.0.1:5432 from Debian's `postgresql` package (installed if
#   missing), its default cluster created if there is none and started, and a login role
#   payout_engine (password payout_engine, CREATEDB: the tests create one database per test).
#   Debian's clusters use pg_createcluster/pg_ctlcluster; without those tools we fall back to
#   initdb + pg_ctl in /var/lib/postgresql/<version>/payout-engine.
#
# Needs root (or sudo) for the local server: it installs packages and runs commands as the
# `postgres` OS user.
set -euo pipefail

log() { printf '[postgres] %s\n' "$*" >&2; }
die() { printf '[postgres] ERROR: %s\n' "$*" >&2; exit 1; }

ROLE=payout_engine
PASSWORD=payout_engine
HOST=127.0.0.1
PORT=5432
LOCAL_URL="postgres://$ROLE:$PASSWORD@$HOST:$PORT/postgres"
READY_TIMEOUT=60   # seconds to wait for a starting server
CLUSTER=main       # Debian's default cluster name
SOCKET_DIR=/var/run/postgresql

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Runs a command as the postgres OS user (runuser as root, sudo otherwise). Starts in / so that
# tools run as postgres do not complain about a working directory they cannot read.
as_postgres() {
  if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && sudo -u postgres -- "$@")
  fi
}

# The newest installed server version (e.g. 15), or nothing (always succeeds, for `set -e`).
server_version() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -n 1) || true
  if [ -n "$bin" ]; then basename "$(dirname "$(dirname "$bin")")"; fi
}

# Whether psql can open $1 and run a query (a bounded attempt, so a black-holed host cannot hang us).
reachable() {
  PGCONNECT_TIMEOUT=5 psql "$1" -X -q -t -A -v ON_ERROR_STOP=1 -c 'SELECT 1' >/dev/null 2>&1
}

# Shows psql's own reason for not connecting (bad password, refused connection, unknown database).
why_unreachable() {
  PGCONNECT_TIMEOUT=5 psql "$1" -X -q -c 'SELECT 1' >/dev/null || true
}

# Without Debian's wrapper tools, the fallback cluster lives here (owned by postgres).
fallback_datadir() { echo "/var/lib/postgresql/$1/payout-engine"; }

# Whether Debian's cluster tools (package postgresql-common) are there.
debian_tools() { command -v pg_ctlcluster >/dev/null && command -v pg_createcluster >/dev/null; }

# The URL to print when all went well (set by ensure_server).
RESULT_URL=""

stop_server() {
  if [ -n "${PAYOUT_ENGINE_TEST_POSTGRES_URL:-}" ]; then
    log "PAYOUT_ENGINE_TEST_POSTGRES_URL is set: that server is not ours to stop; nothing to do"
    return 0
  fi
  local version datadir
  version=$(server_version)
  [ -n "$version" ] || { log "PostgreSQL is not installed; nothing to stop"; return 0; }
  datadir=$(fallback_datadir "$version")
  if debian_tools && [ -d "/etc/postgresql/$version/$CLUSTER" ]; then
    if pg_lsclusters -h "$version" "$CLUSTER" 2>/dev/null | grep -q online; then
      log "stopping cluster $version/$CLUSTER"
      $SUDO pg_ctlcluster "$version" "$CLUSTER" stop
    else
      log "cluster $version/$CLUSTER is not running"
    fi
  elif [ -f "$datadir/postmaster.pid" ]; then
    log "stopping the server in $datadir"
    as_postgres "/usr/lib/postgresql/$version/bin/pg_ctl" -D "$datadir" -m fast -w stop
  else
    log "no local server of ours is running"
  fi
}

ensure_server() {
  # --- an explicit server: check it, touch nothing ---------------------------------------------------
  if [ -n "${PAYOUT_ENGINE_TEST_POSTGRES_URL:-}" ]; then
    command -v psql >/dev/null ||
      die "PAYOUT_ENGINE_TEST_POSTGRES_URL is set but psql is missing to check it (apt-get install postgresql-client)"
    if ! reachable "$PAYOUT_ENGINE_TEST_POSTGRES_URL"; then
      why_unreachable "$PAYOUT_ENGINE_TEST_POSTGRES_URL"
      die "PAYOUT_ENGINE_TEST_POSTGRES_URL is set but that server does not answer 'SELECT 1' (see above); fix or unset it"
    fi
    log "PAYOUT_ENGINE_TEST_POSTGRES_URL answers"
    RESULT_URL=$PAYOUT_ENGINE_TEST_POSTGRES_URL
    return 0
  fi

  # --- 1. the server package ---------------------------------------------------------------------------
  if [ -z "$(server_version)" ]; then
    command -v apt-get >/dev/null ||
      die "PostgreSQL is not installed and there is no apt-get; install a server or set PAYOUT_ENGINE_TEST_POSTGRES_URL"
    log "apt-get install postgresql"
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql; then
      # The package lists may be missing or stale on a fresh machine: refresh them once and retry.
      log "install failed; apt-get update and retry"
      $SUDO apt-get update -qq || die "apt-get update failed"
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql ||
        die "apt-get install postgresql failed"
    fi
  fi
  local version bin
  version=$(server_version)
  [ -n "$version" ] || die "no PostgreSQL server binary under /usr/lib/postgresql/*/bin after installing"
  bin=/usr/lib/postgresql/$version/bin
  id postgres >/dev/null 2>&1 || die "there is no 'postgres' OS user to run the server as"
  local tool
  for tool in psql pg_isready; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install postgresql-client)"
  done

  # --- 2. a cluster, running on 127.0.0.1:5432 -------------------------------------------------------
  # The server needs its socket directory (a tmpfs under /run on many machines: gone after a reboot).
  $SUDO install -d -o postgres -g postgres -m 2775 "$SOCKET_DIR"

  if debian_tools; then
    # Debian's way. The package's post-install normally created the cluster already.
    if [ ! -d "/etc/postgresql/$version/$CLUSTER" ]; then
      log "creating cluster $version/$CLUSTER on port $PORT"
      $SUDO pg_createcluster "$version" "$CLUSTER" --port "$PORT" ||
        die "pg_createcluster $version $CLUSTER failed"
    fi
    local configured_port
    configured_port=$(pg_conftool "$version" "$CLUSTER" show -s port 2>/dev/null || echo "$PORT")
    [ "$configured_port" = "$PORT" ] ||
      die "cluster $version/$CLUSTER is configured for port $configured_port, not $PORT; set PAYOUT_ENGINE_TEST_POSTGRES_URL instead"
    if pg_lsclusters -h "$version" "$CLUSTER" 2>/dev/null | grep -q online; then
      log "cluster $version/$CLUSTER is running"
    else
      log "starting cluster $version/$CLUSTER"
      if ! $SUDO pg_ctlcluster "$version" "$CLUSTER" start; then
        tail -n 20 "/var/log/postgresql/postgresql-$version-$CLUSTER.log" 2>/dev/null || true
        die "pg_ctlcluster $version $CLUSTER start failed (log above)"
      fi
    fi
  else
    # No Debian wrappers: a data directory of our own, initialised and started as postgres.
    local datadir
    datadir=$(fallback_datadir "$version")
    if [ ! -f "$datadir/PG_VERSION" ]; then
      log "initdb $datadir"
      $SUDO install -d -o postgres -g postgres -m 700 "$datadir"
      # scram-sha-256 for TCP connections (password sign-in as payout_engine), peer for the local
      # socket (this script administers the server as the postgres OS user).
      as_postgres "$bin/initdb" -D "$datadir" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 || die "initdb failed"
      # Where it listens, kept in its configuration so that a plain `pg_ctl start` agrees.
      printf "listen_addresses = '%s'\nport = %s\nunix_socket_directories = '%s'\n" \
        "$HOST" "$PORT" "$SOCKET_DIR" | as_postgres tee -a "$datadir/postgresql.conf" >/dev/null
    fi
    if as_postgres "$bin/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
      log "server in $datadir is running"
    else
      log "starting the server in $datadir"
      as_postgres "$bin/pg_ctl" -D "$datadir" -l "$datadir/server.log" start ||
        { tail -n 20 "$datadir/server.log" || true; die "pg_ctl start failed (log above)"; }
    fi
  fi

  # Bounded wait: the server may still be recovering or starting up.
  log "waiting for $HOST:$PORT (up to $READY_TIMEOUT s)"
  local waited=0
  until pg_isready -q -h "$HOST" -p "$PORT"; do
    if [ "$waited" -ge "$READY_TIMEOUT" ]; then
      die "the server does not answer on $HOST:$PORT after $READY_TIMEOUT s (is another program on that port?)"
    fi
    sleep 1
    waited=$((waited + 1))
  done

  # --- 3. the test role ----------------------------------------------------------------------------------
  # Administered over the local socket as the postgres superuser (peer authentication). Created
  # once; on later runs its password and CREATEDB are set again, in case someone changed them. The
  # server hashes the password with its password_encryption (scram-sha-256 by default).
  if [ "$(psql_admin -t -A -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" = 1 ]; then
    log "role $ROLE exists"
    psql_admin -c "ALTER ROLE $ROLE WITH LOGIN CREATEDB PASSWORD '$PASSWORD'" || die "cannot update role $ROLE"
  else
    log "creating role $ROLE (LOGIN CREATEDB)"
    psql_admin -c "CREATE ROLE $ROLE WITH LOGIN CREATEDB PASSWORD '$PASSWORD'" || die "cannot create role $ROLE"
  fi
  # DROP DATABASE ... WITH (FORCE) terminates the sessions still on a test database. An autovacuum
  # worker there runs as no role, and PostgreSQL 15 lets only superusers and pg_signal_backend
  # members end it: without this grant, dropping the test databases fails whenever autovacuum
  # happens to be visiting one (it did, in CI).
  psql_admin -c "GRANT pg_signal_backend TO $ROLE" || die "cannot grant pg_signal_backend to $ROLE"

  # --- 4. password sign-in over TCP works, as the tests will use it ---------------------------------------
  # Debian's pg_hba.conf accepts scram-sha-256 from 127.0.0.1/32; a stricter local configuration
  # fails here rather than in the middle of the tests.
  if ! reachable "$LOCAL_URL"; then
    why_unreachable "$LOCAL_URL"
    die "the server runs but $ROLE cannot sign in with its password over TCP (see above; check that pg_hba.conf has 'host all all $HOST/32 scram-sha-256')"
  fi
  log "ready: $ROLE signs in on $HOST:$PORT"
  RESULT_URL=$LOCAL_URL
}

# Drops every pe_test_* database (the test harness creates one per test and cannot drop it from
# a destructor). Needs PAYOUT_ENGINE_TEST_POSTGRES_URL.
drop_test_databases() {
  local url=${PAYOUT_ENGINE_TEST_POSTGRES_URL:?set PAYOUT_ENGINE_TEST_POSTGRES_URL (eval "$(bash scripts/postgres.sh)")}
  local names count=0
  names=$(psql "$url" -X -q -t -A -v ON_ERROR_STOP=1 \
    -c "SELECT datname FROM pg_database WHERE datname LIKE 'pe\_test\_%'") \
    || die "cannot list the test databases on $(printf '%s' "$url" | sed 's/:[^:@]*@/:***@/')"
  local attempt
  for name in $names; do
    # A server we do not administer may not grant pg_signal_backend: an autovacuum worker on the
    # database then refuses the forced drop until it finishes, so try again for a few seconds.
    attempt=1
    until psql "$url" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)"; do
      [ "$attempt" -lt 10 ] || die "cannot drop the test database $name (10 attempts; errors above)"
      log "dropping $name failed (attempt $attempt of 10); trying again in 1 s"
      sleep 1
      attempt=$((attempt + 1))
    done
    count=$((count + 1))
  done
  log "dropped $count test database(s)"
}

psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -d postgres "$@"; }

case "${1:-start}" in
  # The work runs with stdout sent to stderr: installers and pg_ctl chatter there, and no process
  # we start (the server above all, which outlives this script) holds a copy of our stdout, so a
  # caller's `$(bash scripts/postgres.sh)` ends when this script does.
  start) ensure_server >&2 ;;
  stop) stop_server >&2; exit 0 ;;
  drop-test-databases) drop_test_databases >&2; exit 0 ;;
  *) die "unknown argument '$1' (usage: bash scripts/postgres.sh [stop|drop-test-databases])" ;;
esac
# Only this line reaches stdout (callers eval it).
printf 'export PAYOUT_ENGINE_TEST_POSTGRES_URL=%s\n' "$RESULT_URL"
