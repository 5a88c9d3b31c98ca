#!/usr/bin/env bash
# Stops a cluster started by scripts/pg-start.sh and removes its folder.
#   scripts/pg-stop.sh DIR | URI [--keep]
# With a URI, the cluster is found by its port among the folders pg-start made in ${TMPDIR:-/tmp}.
# --keep stops the server but leaves the folder (restart it with pg-start.sh --dir DIR).
set -euo pipefail
target="${1:-}"
keep="${2:-}"
[[ -n "$target" ]] || { echo "usage: scripts/pg-stop.sh DIR|URI [--keep]" >&2; exit 2; }

dir=""
if [[ -d "$target" ]]; then
  dir="$(cd "$target" && pwd)"
else
  port="$(sed -nE 's#^postgres(ql)?://[^/]*:([0-9]+)(/.*)?$#\2#p' <<<"$target")"
  [[ -n "$port" ]] || { echo "pg-stop: '$target' is neither a folder nor a postgresql:// URI with a port" >&2; exit 2; }
  for f in "${TMPDIR:-/tmp}"/mloop-pg.*/port; do
    [[ -f "$f" && "$(cat "$f")" == "$port" ]] && { dir="$(dirname "$f")"; break; }
  done
  [[ -n "$dir" ]] || { echo "pg-stop: no cluster started by pg-start.sh listens on port $port" >&2; exit 1; }
fi
[[ -f "$dir/data/PG_VERSION" ]] || { echo "pg-stop: $dir holds no cluster made by pg-start.sh" >&2; exit 1; }

PG_BIN="$(sed -n 's/^PG_BIN=//p' "$dir/env" 2>/dev/null || true)"
[[ -n "$PG_BIN" ]] || PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
as_pg=()
[[ "$(id -u)" == 0 ]] && as_pg=(runuser -u postgres --)

if [[ -f "$dir/data/postmaster.pid" ]]; then
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
fi
[[ "$keep" == "--keep" ]] || rm -rf "$dir"
