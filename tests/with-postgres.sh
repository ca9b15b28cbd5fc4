#!/usr/bin/env bash
# Runs a command with a PostgreSQL server of its own: initdb into a temporary directory
# (as Debian's `postgres` user when run as root, since initdb refuses root), on a free
# loopback port, stopped and removed when the command ends, however it ends.
# The command sees the server's admin URL as TEST_POSTGRES_URL.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "no PostgreSQL under /usr/lib/postgresql: run make setup" >&2; exit 1; }
dir=$(mktemp -d -t scanlogin-pg.XXXXXX)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

as_postgres "$bin/initdb" -A trust -U postgres --no-sync -D "$dir/data" >/dev/null
as_postgres "$bin/pg_ctl" -w -D "$dir/data" -l "$dir/log" \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500" \
  start >/dev/null

export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
"$@"
