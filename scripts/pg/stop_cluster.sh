#!/usr/bin/env bash
# Stop a cluster started by start_cluster.sh and remove its folder.
set -euo pipefail
dir=${1:?usage: stop_cluster.sh DIR}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
run=()
[ "$(id -u)" != 0 ] || run=(runuser -u postgres --)
if [ -f "$dir/data/postmaster.pid" ]; then
    "${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null || true
fi
rm -rf "$dir"
