#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster for tests: munged, slurmctld and slurmd, with every
# file (config, key, sockets, state, logs, pid files) under one folder. Installs nothing.
#
#   scripts/slurm/start_cluster.sh DIR      # then: export SLURM_CONF=DIR/slurm.conf
#   scripts/slurm/stop_cluster.sh DIR
#
# Needs root (slurmd starts jobs as their owner) and the Debian packages
# slurmctld slurmd slurm-client munge. Ports: SLURMCTLD_PORT / SLURMD_PORT (default 6817 / 6818).
# The node is this machine as `slurmd -C` describes it: jobs asking for more (GPUs, cores, memory)
# are refused at submission (EnforcePartLimits=ALL) instead of pending forever.
set -euo pipefail

dir=${1:?usage: start_cluster.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
ctld_port=${SLURMCTLD_PORT:-6817}
slurmd_port=${SLURMD_PORT:-6818}

for bin in munged slurmctld slurmd sinfo; do
    command -v "$bin" >/dev/null || { echo "start_cluster: $bin not found (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 3; }
done
[ "$(id -u)" = 0 ] || { echo "start_cluster: must run as root" >&2; exit 3; }

mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
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

host=$(hostname -s)
# Loopback addresses: CI containers often cannot resolve their own host name.
node="$(slurmd -C | head -n 1) NodeAddr=127.0.0.1"
cat > "$dir/slurm.conf" <<CONF
ClusterName=inspector-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
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
ReturnToService=2
MinJobAge=300
KillWait=30
Epilog=$dir/epilog.sh
$node
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

for _ in $(seq 1 100); do
    state=$(sinfo -h -N -o %T 2>/dev/null | head -n 1 || true)
    if [ "$state" = idle ]; then
        echo "SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.2
done
echo "start_cluster: node did not become idle (state: ${state:-none}); see $dir/log" >&2
exit 1
