"""SLURM backend: `srun torchrun --nproc_per_node=G ...` in an sbatch script, on one node or several.

One node: `srun --ntasks=1 torchrun --standalone`. N nodes: one srun task per node, each a torchrun
agent starting G processes; the agents meet in a c10d rendezvous (torchrun's own TCP store, no
etcd) at the first node of the allocation, its NodeAddr as `scontrol show node` gives it, on a
port derived from the job id (jobs sharing a first node do not collide), named by the job id.

The script is text that other programs parse, so nothing reaches it unchecked: #SBATCH values are
read by sbatch itself (split at whitespace, no shell), so they are validated or reduced to a safe
alphabet; everything in the shell body goes through shlex.quote. Commands run as argument lists,
and the scheduler's own error message (sbatch's stderr) is what the user sees when it refuses.

State: `scontrol show job -o` while SLURM knows the job (pending, running, and MinJobAge seconds
after the end), then sacct when accounting is on, then the job folder's exit_code file (written by
the script), so a job finished long ago is still known. Said as such, not as plain "queued" or
"running": a requeue after a node failure (Restarts > 0; the cause from accounting's earlier run,
else slurmstepd's line in the job's log, else the last run's nodes being down: `scontrol show job`
itself says PENDING, Reason None then BeginTime, after any requeue), a job whose
script has ended while SLURM is still COMPLETING (its exit_code decides), a job stopping after a
cancel (cancel_requested in the folder), NODE_FAIL, PREEMPTED, TIMEOUT. Refusals by sbatch are
explained in our words, then SLURM's (training.backends.slurm_words).
"""
from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from training.backends.base import (
    CANCEL_FILE,
    CANCELLED,
    EXIT_CODE_FILE,
    FAILED,
    LOG_FILE,
    OUT_DIR,
    PREEMPTED_EXIT,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Backend,
    BackendError,
    JobSpec,
    JobStatus,
    read_exit_code,
    read_training_state,
    tail_file,
    torchrun_argv,
)
from training.backends.slurm_words import (
    NODE_FAILURE,
    describe_nodes,
    earlier_run_cause,
    explain_refusal,
    kill_cause,
    node_failed,
    pending_words,
)
from training.profiles import Profile

SCRIPT_FILE = "job.sbatch"
NODES_FILE = "nodes"  # written by the script as it starts: the run's nodes, to explain a requeue later
TERM_BEFORE_END_S = 120  # SIGTERM this long before the time limit: time to finish a step and save

_STATE_MAP = {
    "PENDING": QUEUED, "REQUEUED": QUEUED, "REQUEUE_HOLD": QUEUED, "REQUEUE_FED": QUEUED, "SUSPENDED": QUEUED,
    "RESV_DEL_HOLD": QUEUED, "CONFIGURING": RUNNING, "RUNNING": RUNNING, "COMPLETING": RUNNING,
    "STAGE_OUT": RUNNING, "SIGNALING": RUNNING, "RESIZING": RUNNING, "COMPLETED": SUCCEEDED,
    "CANCELLED": CANCELLED, "FAILED": FAILED, "TIMEOUT": FAILED, "NODE_FAIL": FAILED, "OUT_OF_MEMORY": FAILED,
    "BOOT_FAIL": FAILED, "DEADLINE": FAILED, "PREEMPTED": FAILED, "REVOKED": FAILED, "SPECIAL_EXIT": FAILED,
}
_JOB_ID = re.compile(r"[0-9]+")
_NODE_LIST = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.,\[\]-]*")  # a hostlist as SLURM writes it: n[1-2],gpu07
_FINAL_WORDS = {
    "NODE_FAIL": "the node running it failed", "PREEMPTED": "preempted by a job of higher priority",
    "TIMEOUT": "reached its time limit", "OUT_OF_MEMORY": "ran out of memory (raise the profile's mem)",
    "BOOT_FAIL": "its node failed to boot", "DEADLINE": "missed its deadline", "CANCELLED": "cancelled",
    "FAILED": "failed", "REVOKED": "revoked", "SPECIAL_EXIT": "ended with a special exit",
}
_UNSAFE_IN_DIRECTIVE = re.compile(r"[\s\"'\\%]|[\x00-\x1f\x7f]")
RDZV_PORT_BASE = 29500  # torchrun's default port; + job id % 1000 on the first node of a multi-node job


class ShellWord(str):
    """A word written into the script unquoted: an expansion of the script's own variables
    (never anything from the user, which goes through shlex.quote)."""


# Multi-node: the first node of the allocation and a port of this job's own, resolved when it runs.
_RENDEZVOUS_SETUP = [
    "# torchrun on every node meets the others at the first node of the allocation (c10d rendezvous).",
    'head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
    'head_addr=$(scontrol show node -o "$head_node" | sed -n \'s/.*[[:space:]]NodeAddr=\\([^[:space:]]*\\).*/\\1/p\')',
    'case "$head_addr" in *:*) head_addr="[$head_addr]" ;; esac  # an IPv6 address',
    f'rdzv_endpoint="${{head_addr:-$head_node}}:$(( {RDZV_PORT_BASE} + SLURM_JOB_ID % 1000 ))"',
    'echo "inspector: $SLURM_NNODES nodes ($SLURM_JOB_NODELIST), rendezvous at $rdzv_endpoint" >&2',
]
_RENDEZVOUS_ARGS = ["--nnodes", ShellWord('"$SLURM_NNODES"'), "--rdzv_backend", "c10d",
                    "--rdzv_endpoint", ShellWord('"$rdzv_endpoint"'), "--rdzv_id", ShellWord('"$SLURM_JOB_ID"')]


def safe_job_name(name: str) -> str:
    """SLURM job names are labels: keep letters, digits and . _ -, replace everything else."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64].strip("_") or "inspector-job"
    return cleaned


def directive_path(path: Path) -> str:
    text = str(path)
    if _UNSAFE_IN_DIRECTIVE.search(text):
        raise BackendError(f"job folder {text!r} contains whitespace, quotes, backslashes or '%': "
                           "sbatch cannot take it in an #SBATCH line; move the project to a plainer path")
    return text


class SlurmBackend(Backend):
    name = "slurm"

    def __init__(self, profile: Profile):
        self.profile = profile

    def render(self, spec: JobSpec) -> str:
        p = self.profile
        job_dir = Path(spec.job_dir).resolve()
        lines = ["#!/bin/bash", f"#SBATCH --job-name={safe_job_name(spec.name)}"]
        if p.partition:
            lines.append(f"#SBATCH --partition={p.partition}")  # validated by Profile
        if p.account:
            lines.append(f"#SBATCH --account={p.account}")
        lines += [f"#SBATCH --nodes={int(p.nodes)}", "#SBATCH --ntasks-per-node=1"]
        if p.gpus > 0:
            lines.append(f"#SBATCH --gpus-per-node={int(p.gpus)}")
        if p.cpus_per_task:
            lines.append(f"#SBATCH --cpus-per-task={int(p.cpus_per_task)}")
        if p.mem:
            lines.append(f"#SBATCH --mem={p.mem}")
        if p.time:
            lines.append(f"#SBATCH --time={p.time}")
        lines += [
            f"#SBATCH --output={directive_path(job_dir / LOG_FILE)}",
            "#SBATCH --open-mode=append",
            f"#SBATCH --signal=TERM@{TERM_BEFORE_END_S}",
            "",
            "# Written by Inspector. SIGTERM (scancel, time limit) makes training save its resume state;",
            "# submitting the same job folder again (inspector job resume ID) continues from there.",
            "set -u",
            f"cd {shlex.quote(str(job_dir))} || exit 1",
            f"rm -f {shlex.quote(EXIT_CODE_FILE)}  # a requeued or resumed run: the old status is not ours",
            f'printf \'%s\\n\' "${{SLURM_JOB_NODELIST:-}}" > {shlex.quote(NODES_FILE)}  # explains a requeue later',
            "export PYTHONUNBUFFERED=1",
        ]
        config_path = Path(spec.config_path).resolve()
        if p.nodes > 1:  # Profile: several nodes always go through srun
            lines += _RENDEZVOUS_SETUP
            torchrun = ["srun", ShellWord('--ntasks="$SLURM_NNODES"'), "--ntasks-per-node=1", "--kill-on-bad-exit=1",
                        *torchrun_argv(python=p.python, nproc=p.processes, config_path=config_path,
                                       rendezvous=_RENDEZVOUS_ARGS)]
        else:
            torchrun = torchrun_argv(python=p.python, nproc=p.processes, config_path=config_path)
            if p.srun:
                torchrun = ["srun", "--ntasks=1", "--kill-on-bad-exit=1", *torchrun]
        lines += [
            " ".join(a if isinstance(a, ShellWord) else shlex.quote(a) for a in torchrun),
            "rc=$?",
            f"printf '%s\\n' \"$rc\" > {shlex.quote('.' + EXIT_CODE_FILE + '.tmp')} && "
            f"mv -f {shlex.quote('.' + EXIT_CODE_FILE + '.tmp')} {shlex.quote(EXIT_CODE_FILE)}",
            'exit "$rc"',
            "",
        ]
        return "\n".join(lines)

    def submit(self, spec: JobSpec) -> str:
        job_dir = Path(spec.job_dir)
        job_dir.mkdir(parents=True, exist_ok=True)
        script = job_dir / SCRIPT_FILE
        script.write_text(self.render(spec))
        argv = ["sbatch", "--parsable", str(script)]
        proc = _call(argv, cwd=job_dir)
        if proc.returncode != 0:
            raise BackendError(explain_refusal(_message(proc, argv), self.profile, _nodes(self.profile)))
        job_id = proc.stdout.strip().split(";")[0]
        if not _JOB_ID.fullmatch(job_id):
            raise BackendError(f"sbatch answered {proc.stdout.strip()!r}, expected a job id")
        return job_id

    def status(self, external_id: str, job_dir: Path) -> JobStatus:
        job_id = _check_id(external_id)
        job_dir = Path(job_dir)
        info = _scontrol(job_id) or _sacct(job_id)
        if info is None:
            return _from_folder(job_id, job_dir)
        state, reason = info["JobState"], info.get("Reason", "")
        said = f"SLURM: {state}" + (f", {reason}" if reason and reason not in ("None", "(null)") else "")
        mapped = _STATE_MAP.get(state)
        cancel_requested = (job_dir / CANCEL_FILE).exists()
        if state == "COMPLETING":
            rc = read_exit_code(job_dir)  # the script removes it when it starts, so this one is this run's
            if rc is not None:
                ended = _from_exit_code(rc, job_dir, cancel_requested)
                return JobStatus(ended.state, f"{ended.detail}; SLURM is still completing the job ({said})".lstrip("; "))
            if cancel_requested:
                return JobStatus(RUNNING, f"stopping after cancel: the training saves its resume state first ({said})")
            return JobStatus(RUNNING, f"ending: SLURM is stopping its processes ({said})")
        restarts = int(info["Restarts"]) if _JOB_ID.fullmatch(info.get("Restarts", "")) else 0
        cause = _requeue_cause(job_id, job_dir) if restarts else None
        again = f"after {cause}" if cause else "by SLURM"
        if mapped is None:  # a state this code does not know: never final on a guess
            return JobStatus(RUNNING, f"state not known to Inspector ({said})")
        if mapped == QUEUED:
            words = pending_words(reason, job_id)
            if restarts:
                words = (f"requeued {again} (restart {restarts}); it continues from its last saved state "
                         f"when it runs again; {words}")
            elif cancel_requested:
                words = "cancel sent; " + words
            return JobStatus(QUEUED, f"{words} ({said})")
        if mapped == RUNNING:
            if cancel_requested:
                return JobStatus(RUNNING, f"stopping after cancel ({said})")
            detail = f"restarted {again} (restart {restarts}), from its last saved state" if restarts else ""
            return JobStatus(RUNNING, detail if state == "RUNNING" else f"{detail} ({said})".lstrip())
        if mapped == SUCCEEDED:
            return JobStatus(SUCCEEDED, "")
        detail = f"{_FINAL_WORDS.get(state, state.lower())} ({said})"
        if read_training_state(_out_dir(job_dir)) == "preempted":
            detail += "; resume state saved"
        return JobStatus(mapped, detail)

    def cancel(self, external_id: str, job_dir: Path) -> None:
        _run(["scancel", _check_id(external_id)])
        (Path(job_dir) / CANCEL_FILE).touch()  # SLURM says COMPLETING while the job saves: this says why


def _from_exit_code(rc: int, job_dir: Path, cancel_requested: bool) -> JobStatus:
    if rc == 0:
        return JobStatus(SUCCEEDED, "")
    if rc == PREEMPTED_EXIT or read_training_state(_out_dir(job_dir)) == "preempted":
        return JobStatus(CANCELLED if cancel_requested else FAILED, "stopped; resume state saved")
    if cancel_requested:
        return JobStatus(CANCELLED, f"exit status {rc}")
    return JobStatus(FAILED, f"exit status {rc}")


def _from_folder(job_id: str, job_dir: Path) -> JobStatus:
    """The scheduler has forgotten the job: the folder still knows how it ended."""
    rc = read_exit_code(job_dir)
    if rc is not None:
        ended = _from_exit_code(rc, job_dir, (job_dir / CANCEL_FILE).exists())
        return JobStatus(ended.state, ended.detail or "from exit_code file")
    if read_training_state(_out_dir(job_dir)) == "preempted":
        return JobStatus(CANCELLED, "stopped; resume state saved")
    return JobStatus(FAILED, f"job {job_id} is unknown to the scheduler and left no exit status")


def _requeue_cause(job_id: str, job_dir: Path) -> str | None:
    """Why SLURM ran the job again: accounting's state of the earlier run where there is accounting;
    slurmstepd's line in the log (written as it kills the job, a moment later, and never by a node
    that died); else a node of the last run that is down now (what a node failure leaves)."""
    cause = earlier_run_cause(_sacct_runs(job_id)) or kill_cause(tail_file(job_dir / LOG_FILE, 200))
    if cause:
        return cause
    try:
        nodes = (job_dir / NODES_FILE).read_text().strip()
    except OSError:
        return None
    return NODE_FAILURE if _NODE_LIST.fullmatch(nodes) and node_failed(_node_states(nodes)) else None


def _sacct_runs(job_id: str) -> list[str]:
    """The state of every run of a job, oldest first (sacct -D); [] without accounting."""
    try:
        proc = _call(["sacct", "-n", "-X", "-D", "-P", "-j", job_id, "-o", "State"])
    except BackendError:
        return []
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()] if proc.returncode == 0 else []


def _node_states(nodes: str) -> list[str]:
    """`scontrol show node` State= of each node in a hostlist; [] if it cannot say."""
    try:
        proc = _call(["scontrol", "show", "node", "-o", nodes])
    except BackendError:
        return []
    return re.findall(r"(?:^|\s)State=(\S+)", proc.stdout) if proc.returncode == 0 else []


def _nodes(profile: Profile) -> str | None:
    """What the partition's nodes have, for explaining a refusal; None if sinfo cannot say."""
    argv = ["sinfo", "-h", "-o", "%D|%c|%m|%G"] + (["-p", profile.partition] if profile.partition else [])
    try:
        proc = _call(argv)
    except BackendError:
        return None
    return describe_nodes(proc.stdout) if proc.returncode == 0 else None


def _out_dir(job_dir: Path) -> Path:
    return Path(job_dir) / OUT_DIR


def _check_id(external_id: str) -> str:
    if not _JOB_ID.fullmatch(str(external_id)):
        raise BackendError(f"not a SLURM job id: {external_id!r}")
    return str(external_id)


def _run(argv: list[str], *, cwd: Path | None = None) -> str:
    proc = _call(argv, cwd=cwd)
    if proc.returncode != 0:
        raise BackendError(_message(proc, argv))
    return proc.stdout


def _call(argv: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise BackendError(f"{argv[0]} not found: is this a SLURM login node (slurm-client installed)?") from None
    except subprocess.TimeoutExpired:
        raise BackendError(f"{argv[0]} did not answer within 60 s (slurmctld down?)") from None


def _message(proc: subprocess.CompletedProcess, argv: list[str]) -> str:
    """The tool's own words on one line, without its 'sbatch: error: ' prefixes."""
    prefix = f"{Path(argv[0]).name}: error: "
    lines = [" ".join(line.removeprefix(prefix).split()) for line in (proc.stderr or proc.stdout).splitlines()]
    return "; ".join(line for line in lines if line) or f"{argv[0]} failed with status {proc.returncode}"


def _query(argv: list[str]) -> str | None:
    """stdout; None when the scheduler says it does not know the job (any other failure, such as
    slurmctld being unreachable, raises: a job must not be declared failed during an outage)."""
    proc = _call(argv)
    if proc.returncode == 0:
        return proc.stdout
    if "Invalid job id" in (proc.stderr + proc.stdout):
        return None
    raise BackendError(_message(proc, argv))


def _scontrol(job_id: str) -> dict[str, str] | None:
    out = _query(["scontrol", "show", "job", "-o", job_id]) or ""
    fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
    return fields if "JobState" in fields else None


def _sacct(job_id: str) -> dict[str, str] | None:
    """Optional: without slurmdbd sacct fails ("accounting storage is disabled"); then None."""
    try:
        proc = _call(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State,ExitCode,Restarts"])
    except BackendError:
        return None
    out = proc.stdout.strip() if proc.returncode == 0 else ""
    if not out:
        return None
    state, _, rest = out.splitlines()[0].partition("|")
    exit_code, _, restarts = rest.partition("|")
    if not state.split():
        return None
    return {"JobState": state.split()[0], "Reason": f"exit {exit_code}" if exit_code else "", "Restarts": restarts or "0"}
