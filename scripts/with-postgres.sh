#!/usr/bin/env bash
# with-postgres.sh — runs a command against a throwaway PostgreSQL 15 server.
#
#   scripts/with-postgres.sh CMD ARGS…
#
# Creates a cluster in a fresh temporary directory (trust auth, user postgres,
# UTF8, listening on 127.0.0.1 only, on a free port), exports
# STAGEBRIDGE_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/postgres, runs CMD,
# then stops the server and removes the directory, whether CMD succeeded, failed
# or was interrupted. Exits with CMD's status. As root the server runs as the
# `postgres` user; otherwise as the current user.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 CMD [ARGS…]" >&2
  exit 2
fi

bindir=""
if command -v pg_config >/dev/null 2>&1; then
  bindir="$(pg_config --bindir)"
fi
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  bindir=/usr/lib/postgresql/15/bin
fi
for tool in initdb pg_ctl pg_isready; do
  if [[ ! -x "$bindir/$tool" ]]; then
    echo "with-postgres: $bindir/$tool not found (install postgresql-15)" >&2
    exit 1
  fi
done

run_as_owner=()
if [[ "$(id -u)" -eq 0 ]]; then
  run_as_owner=(runuser -u postgres --)
fi

workdir="$(mktemp -d "${TMPDIR:-/tmp}/sb-pg-XXXXXX")"
datadir="$workdir/data"
sockdir="$workdir/sock"
logfile="$workdir/server.log"
started=0

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [[ $started -eq 1 ]]; then
    (cd "$workdir" && "${run_as_owner[@]}" "$bindir/pg_ctl" -D "$datadir" -m fast -w -t 30 stop >/dev/null 2>&1) ||
      (cd "$workdir" && "${run_as_owner[@]}" "$bindir/pg_ctl" -D "$datadir" -m immediate -w stop >/dev/null 2>&1) || true
  fi
  rm -rf "$workdir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$sockdir"
if [[ ${#run_as_owner[@]} -gt 0 ]]; then
  chown -R postgres: "$workdir"
fi

if ! (cd "$workdir" && "${run_as_owner[@]}" "$bindir/initdb" -D "$datadir" -A trust -U postgres -E UTF8 --no-locale \
      >"$workdir/initdb.log" 2>&1); then
  echo "with-postgres: initdb failed:" >&2
  cat "$workdir/initdb.log" >&2
  exit 1
fi

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# A free port can be taken between choosing it and the server binding it: retry.
port=""
for attempt in 1 2 3; do
  port="$(free_port)"
  if (cd "$workdir" && "${run_as_owner[@]}" "$bindir/pg_ctl" -D "$datadir" -l "$logfile" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$sockdir' -c fsync=on -c max_connections=200 -c shared_buffers=128MB" \
        start >/dev/null 2>&1); then
    started=1
    break
  fi
  echo "with-postgres: server did not start on port $port (attempt $attempt)" >&2
  (cd "$workdir" && "${run_as_owner[@]}" "$bindir/pg_ctl" -D "$datadir" -m immediate -w stop >/dev/null 2>&1) || true
done
if [[ $started -ne 1 ]]; then
  echo "with-postgres: PostgreSQL did not start; server log:" >&2
  cat "$logfile" >&2 2>/dev/null || true
  exit 1
fi

ready=0
for _ in $(seq 1 60); do
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
    ready=1
    break
  fi
  sleep 0.5
done
if [[ $ready -ne 1 ]]; then
  echo "with-postgres: PostgreSQL is not accepting connections after 30 s; server log:" >&2
  cat "$logfile" >&2 2>/dev/null || true
  exit 1
fi

echo "with-postgres: PostgreSQL 15 on 127.0.0.1:$port" >&2
export STAGEBRIDGE_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"

set +e
"$@"
status=$?
set -e
exit "$status"
