#!/usr/bin/env bash
# Stop the cluster started by start_cluster.sh DIR: slurmd, slurmctld, munged, by their pid files
# (never by name: other clusters or daemons on this machine are not ours).
set -uo pipefail

dir=${1:?usage: stop_cluster.sh DIR}

stop() {
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$pidfile"
}

# Jobs first, while slurmctld can still end them properly.
if [ -f "$dir/slurm.conf" ] && command -v scancel >/dev/null; then
    SLURM_CONF="$dir/slurm.conf" scancel --user="$(id -un)" 2>/dev/null || true
fi
stop "$dir/slurmd.pid"
stop "$dir/slurmctld.pid"
stop "$dir/munge/munged.pid"
exit 0
