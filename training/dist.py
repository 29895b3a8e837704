"""Process-group set-up for torchrun (or a plain single process), NCCL on CUDA and gloo on CPU.

The world (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE; MASTER_ADDR/PORT through env://) comes
from torchrun's environment only, the same on one machine as on N SLURM nodes: SLURM_* variables
describe srun's tasks (one torchrun per node), not the training processes."""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True, slots=True)
class DistInfo:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    control_group: object = None  # gloo group for host-side flags when the main backend is NCCL

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1 or dist.is_initialized()


def resolve_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but no CUDA device is available")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def single_process(device_name: str) -> DistInfo:
    """Rank 0 of 1, no process group: a training run inside another program (demo, label scan)."""
    return DistInfo(0, 0, 1, resolve_device(device_name, 0))


def init_distributed(device_name: str) -> DistInfo:
    rank = int(os.environ.get("RANK", 0))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    device = resolve_device(device_name, local_rank)
    if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # Ranks share the cores; oversubscribing them makes every rank slower.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    control = None
    if "RANK" in os.environ:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30),
                                device_id=device if device.type == "cuda" else None)
        if backend == "nccl":
            # A CPU group for the per-step "anyone got SIGTERM?" vote: voting over NCCL would make
            # every step wait for the GPU to drain before the host could read the answer.
            control = dist.new_group(backend="gloo")
    return DistInfo(rank, local_rank, world, device, control)


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank if `flag` is true on any rank (CPU only, no GPU synchronisation)."""
    if not dist.is_initialized():
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=info.control_group)
    return bool(t[0] > 0)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
