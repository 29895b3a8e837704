#!/usr/bin/env bash
# Start a throw-away SLURM cluster on this one machine for tests: munged, slurmctld and one slurmd
# per node, with every file (config, key, sockets, state, logs, pid files) under one folder.
# Installs nothing.
#
#   scripts/slurm/start_cluster.sh DIR      # then: export SLURM_CONF=DIR/slurm.conf
#   scripts/slurm/stop_cluster.sh DIR
#
# Needs root (slurmd starts jobs as their owner) and the Debian packages
# slurmctld slurmd slurm-client munge.
#   SLURM_NODES     nodes n1..nK (default 2, what the tests use: multi-node jobs, a node failing
#                   while another stays up), each its own `slurmd -N nK` on this machine; the
#                   machine's CPUs and memory are split between them (at least 1 CPU each)
#   SLURMCTLD_PORT  slurmctld's port (default 6817)
#   SLURMD_PORT     node nK's slurmd listens on SLURMD_PORT + K - 1 (default 6818)
# Every node has NodeAddr 127.0.0.1: CI containers often cannot resolve their own host name.
# Jobs asking for more than a node has (GPUs, cores, memory) are refused at submission
# (EnforcePartLimits=ALL) instead of pending forever.
set -euo pipefail

dir=${1:?usage: start_cluster.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
ctld_port=${SLURMCTLD_PORT:-6817}
slurmd_port=${SLURMD_PORT:-6818}
nodes=${SLURM_NODES:-2}
[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || { echo "start_cluster: SLURM_NODES must be an integer >= 1, not '$nodes'" >&2; exit 2; }

for bin in munged slurmctld slurmd sinfo; do
    command -v "$bin" >/dev/null || { echo "start_cluster: $bin not found (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 3; }
done
[ "$(id -u)" = 0 ] || { echo "start_cluster: must run as root" >&2; exit 3; }

mkdir -p "$dir/munge" "$dir/state" "$dir/log"
for i in $(seq 1 "$nodes"); do mkdir -p "$dir/spool/n$i"; done
chmod 700 "$dir/munge"

# munged: a private key and socket, so this cluster never touches (or depends on) a system munged.
if [ ! -f "$dir/munge/munge.key" ]; then
    head -c 1024 /dev/urandom > "$dir/munge/munge.key"
    chmod 600 "$dir/munge/munge.key"
fi
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"

# Test hook: while $dir/hold-completing exists, a job stays COMPLETING after its script has ended
# (the epilog runs on the node before SLURM lets the job go), as on a node whose cleanup hangs.
cat > "$dir/epilog.sh" <<EPILOG
#!/bin/sh
for _ in \$(seq 1 900); do [ -e "$dir/hold-completing" ] || exit 0; sleep 0.1; done
exit 0
EPILOG
chmod 755 "$dir/epilog.sh"

# This machine as `slurmd -C` describes it, shared out: a node may claim less than the hardware
# (slurmd logs the difference), never more (it would be drained as "Low socket*core*thread count").
hw=$(slurmd -C | head -n 1)
hw_cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
hw_mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
cpus=$(( hw_cpus / nodes > 0 ? hw_cpus / nodes : 1 ))
mem=$(( hw_mem / nodes ))
node_lines=""
for i in $(seq 1 "$nodes"); do
    node_lines+="NodeName=n$i NodeHostname=localhost NodeAddr=127.0.0.1 Port=$(( slurmd_port + i - 1 )) CPUs=$cpus RealMemory=$mem"$'\n'
done

host=$(hostname -s)
cat > "$dir/slurm.conf" <<CONF
ClusterName=inspector-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
# Several slurmd on one machine: %n (the node name) keeps their files apart.
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.%n.log
# No cgroups in containers: track processes through /proc, no task confinement.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default a job reserves all the memory of the node and the next one pends.
DefMemPerCPU=1024
# Refuse impossible requests at submission rather than queueing them forever.
EnforcePartLimits=ALL
GresTypes=gpu
MailProg=/bin/true
MpiDefault=none
# A node set DOWN stays down until "scontrol update state=resume", as a failed node stays down on a
# real cluster (2 would return it the moment its slurmd answers: within 50 ms here).
ReturnToService=1
MinJobAge=300
KillWait=30
Epilog=$dir/epilog.sh
${node_lines}PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
for i in $(seq 1 "$nodes"); do
    slurmd -f "$SLURM_CONF" -N "n$i"
done

for _ in $(seq 1 100); do
    states=$(sinfo -h -N -o %T 2>/dev/null | sort -u | tr '\n' ' ' || true)
    if [ "$states" = "idle " ] && [ "$(sinfo -h -N -o %N 2>/dev/null | wc -l)" = "$nodes" ]; then
        echo "SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.2
done
echo "start_cluster: the nodes did not all become idle (states: ${states:-none}); see $dir/log" >&2
exit 1
