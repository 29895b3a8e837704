"""SLURM's terse answers in our words, followed by theirs.

A refused submission ("Requested node configuration is not available"), a pending reason
("ReqNodeNotAvail"), a requeue after a node failure: the scheduler's text names the symptom, not
what the user asked for or what to do. Each explanation here says that, and keeps SLURM's own
words at the end so that they can be searched for.
"""
from __future__ import annotations

import re

# sbatch's refusals: (what its message contains, what it means for an Inspector job).
_REFUSALS = (
    ("Requested node configuration is not available",
     "no node{where} has what the job asks for ({asks})"),
    ("Invalid partition name",
     "there is no partition {partition!r} on this cluster; choose one that `sinfo` lists (--partition)"),
    ("Node count specification invalid",
     "there are fewer nodes{where} than the job asks for ({asks})"),
    ("More processors requested than permitted",
     "there are fewer nodes or CPUs{where} than the job asks for ({asks})"),
    ("Memory specification can not be satisfied",
     "no node{where} has the memory the job asks for ({asks})"),
    ("Invalid generic resource (gres) specification",
     "the cluster has no GPUs configured as generic resources (gres/gpu); ask for --gpus 0 or use a GPU cluster"),
    ("Invalid account or account/partition combination",
     "the account {account!r} may not submit{where}; check `sacctmgr show assoc user=$USER`"),
    ("Job violates accounting/QOS policy",
     "the request exceeds a limit of your account or QOS (GPUs, nodes, time); ask for less or another QOS"),
    ("Requested time limit is invalid",
     "the time limit {time!r} exceeds the partition's maximum; ask for less (profile time)"),
    ("Unable to contact slurm controller",
     "slurmctld cannot be reached; the cluster may be down or this machine is not a login node"),
)

# Pending reasons (squeue %r, scontrol Reason=) worth explaining.
_PENDING = {
    "Resources": "waiting for free resources",
    "Priority": "waiting for jobs with a higher priority",
    "BeginTime": "waiting until its earliest start time",
    "ReqNodeNotAvail": "waiting: a node it needs is down, drained or reserved",
    "NodeDown": "waiting: a node it needs is down",
    "PartitionDown": "waiting: its partition is down",
    "PartitionInactive": "waiting: its partition is inactive",
    "launch_failed_requeued_held": "held after its launch failed; `scontrol release {job_id}` lets it run again",
    "JobHeldAdmin": "held by an administrator",
    "JobHeldUser": "held; `scontrol release {job_id}` lets it run",
    "Dependency": "waiting for another job it depends on",
    "QOSMaxGRESPerUser": "waiting: you already use as many GPUs as your QOS allows",
    "AssocGrpGRES": "waiting: your account already uses as many GPUs as it may",
}

# Why SLURM ran a job again, in the words that follow "requeued after" / "restarted after".
NODE_FAILURE, PREEMPTION, TIME_LIMIT = "a node failure", "preemption", "its time limit"
# What slurmstepd writes into the job's log when it kills the job, and what caused it.
_KILLED = (("DUE TO NODE FAILURE", NODE_FAILURE), ("DUE TO PREEMPTION", PREEMPTION),
           ("DUE TO TIME LIMIT", TIME_LIMIT))
# The state accounting (sacct -D) gives an earlier run of a requeued job, and what caused it.
_EARLIER_RUN = {"NODE_FAIL": NODE_FAILURE, "BOOT_FAIL": NODE_FAILURE, "PREEMPTED": PREEMPTION,
                "TIMEOUT": TIME_LIMIT}
# Node states (`scontrol show node` State=, joined with '+') of a node that cannot run jobs.
_NODE_FAILED = {"DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "NOT_RESPONDING"}


def explain_refusal(message: str, profile, nodes: str | None = None) -> str:
    """sbatch refused a job: what it means for this profile, then SLURM's words."""
    where = f" in partition {profile.partition!r}" if profile.partition else ""
    asks = ", ".join(a for a in (
        f"{profile.nodes} nodes" if profile.nodes > 1 else "",
        f"{profile.gpus} GPU(s) per node" if profile.gpus else "no GPU",
        f"{profile.cpus_per_task} CPUs" if profile.cpus_per_task else "",
        f"{profile.mem} memory" if profile.mem else "",
    ) if a)
    for needle, words in _REFUSALS:
        if needle.lower() in message.lower():
            text = words.format(where=where, asks=asks, partition=profile.partition, account=profile.account,
                                time=profile.time)
            if "{asks}" in words:  # the request does not fit the nodes: say what they have, and what to change
                if nodes:
                    text += f"; the nodes{where} have: {nodes}"
                text += ("; ask for fewer GPUs (--gpus) or a partition with GPUs (--partition)" if profile.gpus
                         else "; ask for fewer CPUs or less memory (the profile's cpus_per_task, mem)")
                if profile.nodes > 1:
                    text += " or fewer nodes (the profile's nodes)"
            return f"SLURM refused the job: {text} (SLURM: {message})"
    return f"SLURM refused the job (SLURM: {message})"


def describe_nodes(sinfo_out: str) -> str | None:
    """`sinfo -h -o '%D|%c|%m|%G'` lines -> '1 node with 2 CPUs, 24105 MB memory, no GPUs'."""
    parts = []
    for line in sinfo_out.strip().splitlines():
        fields = line.split("|")
        if len(fields) != 4:
            continue
        count, cpus, mem, gres = (f.strip() for f in fields)
        gpus = _gpus(gres)
        parts.append(f"{count} node{'s' if count != '1' else ''} with {cpus} CPUs, {mem} MB memory, "
                     + (f"{gpus} GPU(s)" if gpus else "no GPUs"))
    return "; ".join(parts) or None


def _gpus(gres: str) -> int:
    total = 0
    for m in re.finditer(r"gpu(?::[^:,()]+)?:(\d+)", gres or ""):
        total += int(m[1])
    return total


def pending_words(reason: str, job_id: str) -> str:
    key = reason.split(",")[0].strip()
    words = _PENDING.get(key)
    return words.format(job_id=job_id) if words else "waiting in the queue"


def kill_cause(log_tail: str) -> str | None:
    """Why slurmstepd killed the job's previous run, from its log: 'a node failure', 'preemption'..."""
    for line in reversed(log_tail.splitlines()):
        for needle, cause in _KILLED:
            if needle in line:
                return cause
    return None


def earlier_run_cause(states: list[str]) -> str | None:
    """Why the last run before this one ended, from accounting's states of every run (oldest first)."""
    earlier = states[-2].split() if len(states) > 1 else []  # "CANCELLED by 0": the state is the first word
    return _EARLIER_RUN.get(earlier[0]) if earlier else None


def node_failed(node_states: list[str]) -> bool:
    """Whether any of these nodes is down, drained or not responding ("DOWN+NOT_RESPONDING", "IDLE+DRAIN")."""
    return any(_NODE_FAILED & set(state.split("+")) for state in node_states)
