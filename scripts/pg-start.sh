#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for tests and benchmarks and prints its URI.
#
#   uri=$(scripts/pg-start.sh)            # new cluster in a temp folder, free port on 127.0.0.1
#   scripts/pg-start.sh --dir /tmp/mypg   # a chosen (new or existing) folder
#   scripts/pg-stop.sh "$uri"             # or: scripts/pg-stop.sh /tmp/mypg
#
# Options: --dir DIR (cluster folder), --port N (default: a free port), --db NAME (default mloop).
# The cluster runs as the `postgres` user when started by root (root cannot run postgres),
# trusts local connections, listens on 127.0.0.1 only and keeps its socket in DIR.
# It is tuned for tests (fsync off): a crash of the OS may lose data, a crash of postgres does not.
# stdout gets only the URI; DIR/uri, DIR/port and DIR/env hold the same facts for other scripts.
set -euo pipefail

PG_BIN="${PG_BIN:-}"
if [[ -z "$PG_BIN" ]]; then
  for v in 17 16 15 14; do
    if [[ -x "/usr/lib/postgresql/$v/bin/initdb" ]]; then PG_BIN="/usr/lib/postgresql/$v/bin"; break; fi
  done
fi
if [[ -z "$PG_BIN" && -n "$(command -v initdb || true)" ]]; then PG_BIN="$(dirname "$(command -v initdb)")"; fi
[[ -n "$PG_BIN" ]] || { echo "pg-start: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

dir="" port="" db="mloop"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --db) db="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "pg-start: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$db" =~ ^[a-zA-Z_][a-zA-Z0-9_]*$ ]] || { echo "pg-start: --db must be a plain identifier, got '$db'" >&2; exit 2; }

if [[ -z "$dir" ]]; then dir="$(mktemp -d "${TMPDIR:-/tmp}/mloop-pg.XXXXXX")"; else mkdir -p "$dir"; fi
dir="$(cd "$dir" && pwd)"

as_pg=()
user="$(id -un)"
if [[ "$(id -u)" == 0 ]]; then
  id postgres >/dev/null 2>&1 || { echo "pg-start: running as root needs a 'postgres' user" >&2; exit 1; }
  chown postgres: "$dir"
  chmod 700 "$dir"
  as_pg=(runuser -u postgres --)
  user=postgres
fi

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})' 2>/dev/null ||
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}

data="$dir/data"
if [[ ! -f "$data/PG_VERSION" ]]; then
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$data" -U "$user" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    "${as_pg[@]}" "$PG_BIN/initdb" -D "$data" -U "$user" --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    { echo "pg-start: initdb failed, see $dir/initdb.log" >&2; exit 1; }
fi

fixed_port="$port"
for attempt in 1 2 3 4 5; do
  [[ -n "$fixed_port" ]] && port="$fixed_port" || port="$(free_port)"
  opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=128MB"
  if "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -o "$opts" -w -t 60 start >/dev/null 2>&1; then
    break
  fi
  if [[ -n "$fixed_port" || $attempt == 5 ]]; then
    echo "pg-start: postgres did not start, see $dir/postgres.log" >&2
    tail -5 "$dir/postgres.log" >&2 || true
    exit 1
  fi
done

"${as_pg[@]}" "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
  "${as_pg[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U "$user" "$db"

uri="postgresql://$user@127.0.0.1:$port/$db"
echo "$uri" >"$dir/uri"
echo "$port" >"$dir/port"
cat >"$dir/env" <<ENV
PG_BIN=$PG_BIN
PGDATA=$data
PGPORT=$port
PGHOST=127.0.0.1
PGUSER=$user
MLOOP_TEST_POSTGRES_URL=$uri
ENV
echo "$uri"
