"""Job backends: `local` (detached torchrun) and `slurm` (sbatch), behind training.backends.base.Backend."""
from __future__ import annotations

from training.backends.base import (
    CANCELLED,
    FAILED,
    FINAL_STATES,
    QUEUED,
    RUNNING,
    STATES,
    SUCCEEDED,
    Backend,
    BackendError,
    JobSpec,
    JobStatus,
)
from training.profiles import Profile

__all__ = ["CANCELLED", "FAILED", "FINAL_STATES", "QUEUED", "RUNNING", "STATES", "SUCCEEDED", "Backend",
           "BackendError", "JobSpec", "JobStatus", "make_backend"]


def make_backend(profile: Profile) -> Backend:
    if profile.backend == "local":
        from training.backends.local import LocalBackend

        return LocalBackend(profile)
    if profile.backend == "slurm":
        from training.backends.slurm import SlurmBackend

        return SlurmBackend(profile)
    raise BackendError(f"unknown backend {profile.backend!r}")
