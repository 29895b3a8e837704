#!/usr/bin/env bash
# Start a throw-away PostgreSQL cluster for tests and benchmarks: initdb and the server's data,
# socket, log and password file all under one folder, listening on 127.0.0.1 only. Installs nothing.
#
#   scripts/pg/start_cluster.sh DIR PORT       # prints the URL; DIR/pgpass holds the password
#   scripts/pg/stop_cluster.sh DIR
#
# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user the Debian
# package creates (DIR is handed to it). Password authentication (scram-sha-256) even on loopback,
# so the tests go through PGPASSFILE as a team would. DURABLE=0 turns fsync off (tests: nothing to
# keep); benchmarks keep the default, so a commit is on disk when it returns.
set -euo pipefail

dir=${1:?usage: start_cluster.sh DIR PORT}
port=${2:?usage: start_cluster.sh DIR PORT}
durable=${DURABLE:-1}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "start_cluster: PostgreSQL server not found (apt-get install postgresql)" >&2; exit 3; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
run=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "start_cluster: as root it needs the 'postgres' user" >&2; exit 3; }
    chown postgres "$dir"
    chmod 755 "$dir"
    run=(runuser -u postgres --)
fi

password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
umask 077
printf '%s\n' "$password" > "$dir/pw"
printf '127.0.0.1:%s:*:inspector:%s\n' "$port" "$password" > "$dir/pgpass"
[ ${#run[@]} -eq 0 ] || chown postgres "$dir/pw"

"${run[@]}" "$bindir/initdb" -D "$dir/data" -U inspector --auth=scram-sha-256 --pwfile="$dir/pw" \
    -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pw"
mkdir -p "$dir/sock"
[ ${#run[@]} -eq 0 ] || chown postgres "$dir/sock"

opts="-p $port -c listen_addresses=127.0.0.1 -k $dir/sock -c max_connections=100"
[ "$durable" = 1 ] || opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
"${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 60 start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
echo "postgresql+psycopg://inspector@127.0.0.1:$port/postgres"
