#!/usr/bin/env bash
# Stop the cluster started by start_cluster.sh DIR: every slurmd, slurmctld, munged, by their pid
# files (never by name: other clusters or daemons on this machine are not ours).
set -uo pipefail

dir=${1:?usage: stop_cluster.sh DIR}

# stop PIDFILE...: SIGTERM to all of them at once (a slurmd takes seconds to exit), SIGKILL to any
# still there 5 s later.
stop() {
    local pidfile pid pids=()
    for pidfile in "$@"; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        rm -f "$pidfile"
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    done
    for _ in $(seq 1 50); do
        local left=()
        for pid in ${pids[@]+"${pids[@]}"}; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
        [ ${#left[@]} = 0 ] && return 0
        pids=("${left[@]}")
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null
}

# Jobs first, while slurmctld can still end them properly.
if [ -f "$dir/slurm.conf" ] && command -v scancel >/dev/null; then
    SLURM_CONF="$dir/slurm.conf" scancel --user="$(id -un)" 2>/dev/null || true
fi
# Then every daemon at once: one after the other, each waited for, took 6 s (slurmd, slurmctld and
# munged about 2 s each), all at once 1.5 s; a throw-away cluster keeps no state worth an orderly
# shutdown. slurmd.<node>.pid, one per node (slurmd.pid: a cluster started before nodes had names).
shopt -s nullglob
stop "$dir"/slurmd.*pid "$dir/slurmctld.pid" "$dir/munge/munged.pid"
exit 0
