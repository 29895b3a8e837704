"""Named backend profiles, kept in TOML ($XDG_CONFIG_HOME/inspector/backends.toml).

    [profiles.slurm-gpu]
    backend = "slurm"
    partition = "gpu"
    nodes = 1              # SLURM nodes; every one runs nproc processes (default one per GPU)
    gpus = 8               # per node
    cpus_per_task = 64
    mem = "480G"
    time = "24:00:00"

Built-in profiles apply when the file is absent; a file's profiles replace built-ins of the same
name and add new ones. Values end up in a batch script, so they are validated here, early.
"""
from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from core.atomic import write_text_atomic
from core.errors import InspectorError

BACKENDS = ("local", "slurm")
# Matched with fullmatch: `$` would also match before a trailing newline ("debug\n" would pass).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_MEM = re.compile(r"[0-9]+[KMGT]?")
_TIME = re.compile(r"([0-9]+-)?[0-9]+(:[0-9]{1,2}){0,2}")  # minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]


class ProfileError(InspectorError):
    """A backend profile is unknown or has an invalid value."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Profile:
    name: str
    backend: str = "local"
    nodes: int = 1  # slurm: nodes of one job, one torchrun on each (the local backend is this machine)
    gpus: int = 0  # per node; 0 = train on CPU (gloo)
    nproc: int | None = None  # processes per node; default one per GPU, or 1 on CPU
    partition: str | None = None
    account: str | None = None
    cpus_per_task: int | None = None
    mem: str | None = None  # SLURM --mem, e.g. "480G"
    time: str | None = None  # SLURM --time, e.g. "24:00:00"
    python: str | None = None  # interpreter on the node; default: the one running Inspector
    srun: bool = True  # slurm: `srun torchrun ...` (one task) rather than torchrun in the batch shell
    grace_s: float = 30.0  # local: SIGTERM, then SIGKILL after this many seconds

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ProfileError(f"profile name {self.name!r}: letters, digits, '.', '_' and '-' only")
        if self.backend not in BACKENDS:
            raise ProfileError(f"profile {self.name}: backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        _int(self, "nodes", self.nodes, 1)
        if self.nodes > 1 and self.backend != "slurm":
            raise ProfileError(f"profile {self.name}: nodes {self.nodes}: the {self.backend} backend runs on this "
                               "machine only (nodes = 1); use a slurm profile for more")
        if self.nodes > 1 and not self.srun:
            raise ProfileError(f"profile {self.name}: nodes {self.nodes} needs srun = true (without srun torchrun "
                               "runs on the first node only)")
        _int(self, "gpus", self.gpus, 0)
        if self.nproc is not None:
            _int(self, "nproc", self.nproc, 1)
            if self.gpus and self.nproc > self.gpus:
                raise ProfileError(f"profile {self.name}: nproc {self.nproc} > gpus {self.gpus} (one process per GPU)")
        if self.cpus_per_task is not None:
            _int(self, "cpus_per_task", self.cpus_per_task, 1)
        for key in ("partition", "account"):
            value = getattr(self, key)
            if value is not None and not _NAME.fullmatch(str(value)):
                raise ProfileError(f"profile {self.name}: {key} {value!r}: letters, digits, '.', '_' and '-' only")
        if self.mem is not None and not _MEM.fullmatch(str(self.mem)):
            raise ProfileError(f"profile {self.name}: mem {self.mem!r} must look like 16G or 16000M")
        if self.time is not None and not _TIME.fullmatch(str(self.time)):
            raise ProfileError(f"profile {self.name}: time {self.time!r} must look like 90, 4:00:00 or 1-12:00:00")
        if self.python is not None and (not isinstance(self.python, str) or "\n" in self.python or not self.python):
            raise ProfileError(f"profile {self.name}: python must be a path")
        if isinstance(self.grace_s, bool) or not isinstance(self.grace_s, (int, float)) or self.grace_s < 0:
            raise ProfileError(f"profile {self.name}: grace_s must be a number >= 0")

    @property
    def processes(self) -> int:
        return self.nproc or max(self.gpus, 1)

    @property
    def device(self) -> str:
        return "cuda" if self.gpus > 0 else "cpu"

    def with_overrides(self, **changes: Any) -> "Profile":
        """A copy with the non-None values changed (command-line flags over the profile)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and k != "name"}


def _int(p: Profile, key: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProfileError(f"profile {p.name}: {key} must be an integer >= {minimum}, got {value!r}")


BUILTIN: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(name="local-cpu", backend="local", gpus=0, nproc=2),
        Profile(name="local-gpu", backend="local", gpus=1),
        Profile(name="local-8gpu", backend="local", gpus=8),
        Profile(name="slurm-cpu", backend="slurm", gpus=0, nproc=1, cpus_per_task=2, mem="4G", time="1:00:00"),
        Profile(name="slurm-gpu", backend="slurm", partition="gpu", gpus=8, cpus_per_task=64, mem="480G",
                time="24:00:00"),
    )
}
DEFAULT_FOR_BACKEND = {"local": "local-cpu", "slurm": "slurm-gpu"}


def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "inspector" / "backends.toml"


def load_profiles(path: str | os.PathLike | None = None) -> dict[str, Profile]:
    path = Path(path) if path is not None else default_path()
    profiles = dict(BUILTIN)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return profiles
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{path}: not valid TOML ({e})") from None
    table = raw.get("profiles", {})
    if not isinstance(table, dict):
        raise ProfileError(f"{path}: [profiles] must be a table")
    known = {f.name for f in fields(Profile)} - {"name"}
    for name, values in table.items():
        if not isinstance(values, dict):
            raise ProfileError(f"{path}: profiles.{name} must be a table")
        unknown = sorted(set(values) - known)
        if unknown:
            raise ProfileError(f"{path}: profiles.{name}: unknown key {unknown[0]!r}")
        try:
            profiles[name] = Profile(name=name, **values)
        except TypeError as e:
            raise ProfileError(f"{path}: profiles.{name}: {e}") from None
    return profiles


def get_profile(name: str, path: str | os.PathLike | None = None) -> Profile:
    profiles = load_profiles(path)
    if name not in profiles:
        raise ProfileError(f"no backend profile {name!r} (known: {', '.join(sorted(profiles))})")
    return profiles[name]


def dumps(profiles: dict[str, Profile] | list[Profile]) -> str:
    """TOML text for the profiles. Only the value types a Profile holds: str, int, float, bool.
    JSON string escapes are valid TOML basic-string escapes, so json.dumps quotes strings."""
    items = profiles.values() if isinstance(profiles, dict) else profiles
    out = []
    for p in items:
        out.append(f"[profiles.{json.dumps(p.name)}]")
        for key, value in p.to_dict().items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, (int, float)):
                text = repr(value)
            else:
                text = json.dumps(str(value))
            out.append(f"{key} = {text}")
        out.append("")
    return "\n".join(out)


def save_profiles(profiles: dict[str, Profile] | list[Profile], path: str | os.PathLike | None = None) -> Path:
    return write_text_atomic(path if path is not None else default_path(), dumps(profiles))


def local_gpu_count() -> int:
    """NVIDIA GPUs this machine's driver reports, without importing torch (the GUI asks while a
    dialog opens): one folder per GPU under /proc/driver/nvidia/gpus."""
    gpus = Path("/proc/driver/nvidia/gpus")
    try:
        return sum(1 for _ in gpus.iterdir())
    except OSError:
        return 0


def fitting_profile(profiles: dict[str, Profile], gpus_here: int) -> str:
    """The local profile that uses the most GPUs this machine has (local-cpu on a machine without)."""
    local = [p for p in profiles.values() if p.backend == "local" and p.gpus <= gpus_here]
    return max(local, key=lambda p: (p.gpus, p.name == "local-cpu")).name if local else next(iter(profiles))


def cannot_run_here(p: Profile, gpus_here: int) -> str | None:
    """Why a local profile cannot run on this machine (it asks for more GPUs than there are)."""
    if p.backend == "local" and p.gpus > gpus_here:
        return (f"{p.name} asks for {p.gpus} GPU{'s' if p.gpus != 1 else ''}, this machine has "
                f"{gpus_here or 'none'}: choose local-cpu (or set GPUs to 0), or a SLURM profile")
    return None
